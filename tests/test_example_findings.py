"""The example's own findings fixed in data and spec, and the SUPPQUAL split of long text.

* text over 200 bytes is split at a word boundary (SDTMIG 3.4 section 4.5.3.2): no piece
  starts or ends with a blank, QLABEL is unique per QNAM, and the pieces join back exactly
  with one blank between them (none after a 200-byte piece, a word cut hard) - through XPT;
* a spec that maps AESER without a seriousness criterion is warned at load (SPEC046), and a
  QLABEL shared by two QNAMs (SPEC047);
* the embedded example: an INFORMED CONSENT OBTAINED milestone (PROTMLST C114118) for every
  subject, AESHOSP on its serious AEs; no finding at all (errors, warnings, notices): TS
  parameters outside the shipped CT and TSVCDREF "ISO 8601" are sponsor extensions that its
  define.xml declares (def:ExtendedValue), AEDECOD names CTCAE 4.0 as its dictionary and the
  MedDRA hierarchy is empty throughout (not MedDRA-coded, so not partial: CV0405).
"""

from __future__ import annotations

import itertools
import json
import random
import shutil

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdisc import standards
from cdisc.errors import MappingError, Severity, SpecError
from cdisc.formats.define_xml import read_define
from cdisc.pipeline import map_sources
from cdisc.resources import example_spec_path
from cdisc.sdtm.suppqual import join_pieces, piece_label, piece_qnam, split_words
from cdisc.spec import load_spec
from cdisc.validate import validate_folder

from helpers import MINI_FILES, MINI_SPEC, write_study

# -- the split rule ------------------------------------------------------------------------


def assert_pieces(text: str, pieces: list[str], width: int = 200) -> None:
    """The rule of docs/spec-format.md, "Text over 200 bytes"."""
    assert join_pieces(pieces, width) == text.strip(" ")
    if not text.strip(" "):
        assert pieces == [""]  # blanks only: no text
        return
    assert all(p and not p.startswith(" ") and not p.endswith(" ") for p in pieces)
    assert all(len(p) <= width for p in pieces)
    for before, after in itertools.pairwise(pieces):
        if len(before) < width:  # cut at a blank: the blank is the separator
            assert len(before) <= width - 1
        else:  # cut hard inside a word that did not fit
            assert not before.endswith(" ") and not after.startswith(" ")


def test_a_long_text_is_cut_at_the_last_blank_that_fits():
    text = " ".join(f"word{i:03d}" for i in range(60))  # 60 x 7 + 59 = 479 bytes
    pieces = split_words(text)
    assert [len(p) for p in pieces] == [199, 199, 79]
    assert pieces[1].startswith("word025") and pieces[2].startswith("word050")
    assert_pieces(text, pieces)


def test_runs_of_blanks_stay_inside_the_pieces():
    text = "Lorem  ipsum   dolor sit amet,    consectetur adipiscing elit. " * 8
    pieces = split_words(text)
    assert len(pieces) == 3 and any("   " in p for p in pieces)
    assert_pieces(text, pieces)


def test_a_word_longer_than_200_bytes_is_cut_hard():
    assert [len(p) for p in split_words("x" * 450)] == [200, 200, 50]
    text = "short " + "y" * 300 + " tail"
    pieces = split_words(text)
    assert pieces == ["short", "y" * 200, "y" * 100 + " tail"]  # "short" is kept whole
    assert join_pieces(pieces) == text
    # a word of exactly 200 bytes at the end needs no cut inside it
    assert split_words("ab " + "z" * 200) == ["ab", "z" * 200]


def test_an_earlier_cut_is_taken_when_the_last_blank_leads_nowhere():
    # cutting after "ab" would leave a 200-byte word followed by a blank: no split of that
    # rest exists, so the long word is cut hard with "ab " in the first piece
    text = "ab " + "x" * 200 + " tail"
    pieces = split_words(text)
    assert pieces == ["ab " + "x" * 197, "xxx tail"]
    assert_pieces(text, pieces)


def test_texts_no_split_fits_are_refused():
    assert split_words("x" * 200 + " tail") is None  # the word fills the piece, a blank next
    assert split_words("a  " * 100) is None  # cuts only inside runs of blanks


def test_blanks_around_the_text_are_dropped():
    text = "   " + "alpha beta " * 30 + "  "
    pieces = split_words(text)
    assert join_pieces(pieces) == text.strip(" ") and not pieces[0].startswith(" ")
    assert split_words(" " * 250) == [""]


def test_a_short_text_is_one_piece():
    assert split_words("fits") == ["fits"]
    assert join_pieces(["fits"]) == "fits"


def _any_split(text: str, width: int) -> bool:
    """Brute force: does any sequence of cuts obey the rule? (the oracle for small widths)"""
    if len(text) <= width:
        return True
    for end in range(1, width + 1):
        piece, rest_hard, rest_word = text[:end], text[end:], text[end + 1:]
        if piece.startswith(" ") or piece.endswith(" "):
            continue
        if end == width and not rest_hard.startswith(" ") and _any_split(rest_hard, width):
            return True
        if (end < width and text[end] == " " and rest_word and not rest_word.startswith(" ")
                and _any_split(rest_word, width)):
            return True
    return False


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="ab ", min_size=1, max_size=26))
def test_the_split_exists_exactly_when_some_split_obeys_the_rule(text):
    width = 5
    pieces = split_words(text, width)
    core = text.strip(" ")
    if pieces is None:
        assert not _any_split(core, width)
    else:
        assert_pieces(text, pieces, width)


def test_random_texts_round_trip():
    rng = random.Random(20130131)
    for _ in range(300):
        words = [rng.choice(["a", "bb", "word", "x" * rng.randint(1, 260)]) for _ in
                 range(rng.randint(1, 40))]
        gaps = [rng.choice([" ", " ", " ", "  "]) for _ in words]
        text = "".join(w + g for w, g in zip(words, gaps, strict=True))
        pieces = split_words(text)
        if pieces is not None:
            assert_pieces(text, pieces)


def test_piece_names_and_labels():
    assert [piece_qnam("COMMENT", i) for i in (1, 2, 10)] == ["COMMENT1", "COMMENT2",
                                                               "COMMEN10"]
    assert piece_qnam("AETERMXY", 1) == "AETERMX1" and piece_qnam("AETERMXY", 12) == "AETERM12"
    assert piece_label("Clinical Comment", 1, set()) == "Clinical Comment 1"
    long = "Reported Term for the Adverse Event Long"  # 40 characters
    assert piece_label(long, 2, set()) == "Reported Term for the Adverse Event Lo 2"
    assert len(piece_label(long, 2, set())) <= 40
    assert piece_label("Note", 1, {"Note 1"}) == "Note part 1"


# -- through the engine and XPT ------------------------------------------------------------

COMMENT_SPEC = MINI_SPEC.replace(
    "      consent: {type: date, format: DD-MMM-YYYY}\n",
    "      consent: {type: date, format: DD-MMM-YYYY}\n      comment: {type: string}\n",
).replace(
    "          RFICDTC: {algorithm: assign_datetime, column: consent}\n",
    "          RFICDTC: {algorithm: assign_datetime, column: consent}\n"
    "        supp:\n"
    "          COMMENT: {algorithm: assign, column: comment, label: Comment, origin: CRF,\n"
    "                    split_long_text: true}\n",
).replace(
    "          AETERM: {algorithm: assign, column: term}\n"
    "          AEDECOD: {algorithm: assign, column: term}\n",
    "          AETERM: {algorithm: assign, column: term, split_long_text: true}\n"
    "          AEDECOD: {algorithm: hardcode, value: Fatigue}\n",
)
TEXTS = {
    "1": "Multiple  blanks   inside,   kept as they are. " * 9,
    "2": "   " + "w" * 450 + " then words after a word cut hard   ",
}
LONG_TERM = "Fatigue " + "with a long verbatim description " * 8


def _comment_files(texts: dict[str, str]) -> dict[str, str]:
    files = dict(MINI_FILES)
    rows = [f'{i},{sex},{age},{consent},"{texts.get(i, "")}"' for i, sex, age, consent in
            (("1", "Female", 40, "01-JAN-2012"), ("2", "Male", 50, "05-JAN-2012"))]
    files["pts.csv"] = "id,sex,age,consent,comment\n" + "\n".join(rows) + "\n"
    files["aes.csv"] = MINI_FILES["aes.csv"].replace("1,Rash,", f"1,{LONG_TERM},")
    return files


def _joined(supp: pd.DataFrame, usubjid: str, name: str) -> tuple[str, list[str]]:
    rows = supp[(supp["USUBJID"] == usubjid) & supp["QNAM"].str.match(f"{name}\\d*$")]
    rows = rows.assign(n=rows["QNAM"].str.extract(r"(\d*)$")[0].replace("", "0").astype(int))
    pieces = rows.sort_values("n")["QVAL"].tolist()
    return join_pieces(pieces), pieces


@pytest.mark.e2e
def test_pieces_join_back_exactly_through_xpt(tmp_path):
    from cdisc.pipeline import convert

    spec = write_study(tmp_path, COMMENT_SPEC, _comment_files(TEXTS))
    convert(spec, out_dir=tmp_path / "out", formats=("xpt",))
    read = lambda n: pd.read_sas(tmp_path / "out" / "sdtm" / f"{n}.xpt",  # noqa: E731
                                 format="xport", encoding="ascii")
    suppdm = read("suppdm")
    for pid, text in TEXTS.items():
        joined, pieces = _joined(suppdm, f"MINI-00{pid}", "COMMENT")
        # the source reader strips the blanks around a cell; the rest comes back byte for byte
        assert joined == text.strip(" ")
        assert all(not p.startswith(" ") and not p.endswith(" ") and len(p) <= 200
                   for p in pieces)
    assert [len(p) for p in _joined(suppdm, "MINI-002", "COMMENT")[1]] == [200, 200, 83]
    labels = suppdm.groupby("QNAM")["QLABEL"].unique().map(list)
    assert labels.to_dict() == {"COMMENT": ["Comment"], "COMMENT1": ["Comment 1"],
                                "COMMENT2": ["Comment 2"]}
    # a parent variable: the first piece stays in AETERM, the rest in SUPPAE
    ae, suppae = read("ae"), read("suppae")
    first = ae.loc[ae["AETERM"].str.startswith("Fatigue with"), ["USUBJID", "AESEQ", "AETERM"]]
    (usubjid, seq, head), = first.itertuples(index=False)
    rest = suppae[(suppae["USUBJID"] == usubjid) & (suppae["IDVARVAL"] == str(int(seq)))]
    assert rest["QNAM"].tolist() == ["AETERM1"]
    assert rest["QLABEL"].tolist() == ["Reported Term for the Adverse Event 1"]
    assert join_pieces([head, *rest["QVAL"]]) == LONG_TERM.strip(" ")


def test_a_text_no_split_fits_is_an_error_at_its_row(tmp_path):
    spec = load_spec(write_study(tmp_path, COMMENT_SPEC, _comment_files({"2": "a  " * 90})))
    with pytest.raises(MappingError) as info:
        map_sources(spec)
    found = [(p.code, p.location.file.rsplit("/", 1)[-1], p.location.row, p.location.field)
             for p in info.value.problems]
    assert found == [("MAP015", "pts.csv", 3, "comment")]  # named by its source column


# -- spec checks ---------------------------------------------------------------------------

SERIOUS_SPEC = MINI_SPEC.replace(
    "      onset: {type: date, format: DD-MMM-YYYY}\n",
    "      onset: {type: date, format: DD-MMM-YYYY}\n      serious: {type: string}\n"
    "      hosp: {type: string}\n",
).replace(
    "          AESTDTC: {algorithm: assign_datetime, column: onset}\n",
    "          AESTDTC: {algorithm: assign_datetime, column: onset}\n"
    "          AESER: {algorithm: assign_ct, column: serious, codelist: NY}\n",
)
SERIOUS_FILES = dict(MINI_FILES, **{"aes.csv": """
    id,term,onset,serious,hosp
    1,Fatigue,09-JAN-2012,No,
    2,Fatigue,21-MAR-2012,Yes,Yes
"""})


def _notices(tmp_path, text, files) -> list[tuple[str, str, Severity]]:
    spec = load_spec(write_study(tmp_path, text, files))
    return [(p.code, p.location.json_path, p.severity) for p in spec.notices
            if p.code in ("SPEC046", "SPEC047")]


def test_aeser_without_a_seriousness_criterion_is_warned_at_its_mapping(tmp_path):
    assert _notices(tmp_path, SERIOUS_SPEC, SERIOUS_FILES) == [
        ("SPEC046", "$.domains.AE.records[0].map.AESER", Severity.WARNING)]
    with_criterion = SERIOUS_SPEC.replace(
        "          AESER: {algorithm: assign_ct, column: serious, codelist: NY}\n",
        "          AESER: {algorithm: assign_ct, column: serious, codelist: NY}\n"
        "          AESHOSP: {algorithm: assign_ct, column: hosp, codelist: NY}\n")
    assert _notices(tmp_path, with_criterion, SERIOUS_FILES) == []


def test_a_qlabel_shared_by_two_qnams_is_warned(tmp_path):
    text = COMMENT_SPEC.replace(
        "                    split_long_text: true}\n",
        "                    split_long_text: true}\n"
        "          NOTE: {algorithm: assign, column: sex, label: Comment, origin: CRF}\n")
    assert _notices(tmp_path, text, _comment_files({})) == [
        ("SPEC047", "$.domains.DM.records[0].supp.NOTE", Severity.WARNING)]


# -- the embedded example ------------------------------------------------------------------


def test_the_shipped_ct_has_the_protocol_milestone():
    protmlst = standards.codelist("C114118")
    assert protmlst.short_name == "PROTMLST" and protmlst.extensible
    assert protmlst.terms["INFORMED CONSENT OBTAINED"].code == "C16735"
    assert "PROTOCOL MILESTONE" in standards.codelist("C74558").terms


def test_the_example_spec_maps_a_seriousness_criterion():
    spec = load_spec(example_spec_path())
    assert not [p for p in spec.notices if p.code in ("SPEC046", "SPEC047")]
    ae = spec.domains["AE"].records[0].map
    assert "AESER" in ae and "AESHOSP" in ae


@pytest.mark.e2e
def test_example_findings_are_fixed_in_the_data(example_output):
    sdtm = example_output.result.sdtm.datasets
    dm, ds, ae = sdtm["DM"], sdtm["DS"], sdtm["AE"]
    # every subject has a DS record; the milestone is dated at consent, in SCREENING
    assert set(ds["USUBJID"]) == set(dm["USUBJID"])
    consent = ds[ds["DSDECOD"] == "INFORMED CONSENT OBTAINED"]
    assert set(consent["DSCAT"]) == {"PROTOCOL MILESTONE"} and set(consent["EPOCH"]) == {
        "SCREENING"}
    assert consent.set_index("USUBJID")["DSSTDTC"].to_dict() == dm.set_index("USUBJID")[
        "RFICDTC"].to_dict()
    # each serious AE says why it is serious
    serious = ae[ae["AESER"] == "Y"]
    assert len(serious) == 3 and set(serious["AESHOSP"]) == {"Y"}
    # no SUPPQUAL value starts or ends with a blank; QLABEL unique per QNAM
    for name, supp in sdtm.items():
        if name.startswith("SUPP"):
            qval = supp["QVAL"].astype(str)
            assert not qval.str.match(r"^ |.* $").any(), name
            labels = supp.drop_duplicates("QNAM").set_index("QNAM")["QLABEL"]
            assert labels.is_unique and (supp.groupby("QNAM")["QLABEL"].nunique() == 1).all()


@pytest.mark.e2e
def test_the_example_validates_with_no_finding(example_output):
    report = json.loads((example_output.out / "validation.json").read_text())
    assert report["summary"] == {"error": 0, "warning": 0, "notice": 0}
    assert report["findings"] == []


#: TS values outside the shipped CT subset: their NCI codes could not be verified from a
#: public source, so they are sponsor extensions of the extensible codelists in define.xml
EXTENDED = {
    "TSPARMCD": {"ACTSUB", "DCUTDTC", "SDTIGVER", "SDTMVER"},
    "TSPARM": {"Actual Number of Subjects", "Data Cutoff Date", "SDTM IG Version",
               "SDTM Version"},
    "TSVCDREF": {"ISO 8601"},
}


@pytest.mark.e2e
def test_define_declares_the_sponsor_terms_and_the_ae_dictionary(example_output):
    define = read_define(example_output.out / "sdtm" / "define.xml")
    ts = define.datasets["TS"]
    for name, extended in EXTENDED.items():
        terms = ts.variable(name).codelist.terms
        assert {t.coded_value for t in terms if t.extended} == extended, name
    # the TS terms added to the shipped CT carry their NCI codes, not ExtendedValue
    codes = {t.coded_value: (t.nci_code, t.extended)
             for t in ts.variable("TSPARMCD").codelist.terms}
    assert (codes["INDIC"], codes["REGID"], codes["SEXPOP"]) == (
        ("C112038", False), ("C98714", False), ("C49696", False))
    dictionary = define.datasets["AE"].variable("AEDECOD").codelist
    assert (dictionary.oid, dictionary.external, dictionary.terms) == ("CL.CTCAE", "CTCAE", ())
    raw = (example_output.out / "sdtm" / "define.xml").read_text()
    assert '<ExternalCodeList Dictionary="CTCAE" Version="4.0"/>' in raw


def test_a_dictionary_names_its_version(tmp_path):
    text = example_spec_path().read_text(encoding="utf-8")
    given = 'dictionary: {name: CTCAE, version: "4.0"}'
    assert text.count(given) == 1
    spec = tmp_path / "pecoma.yaml"
    spec.write_text(text.replace(given, "dictionary: {name: CTCAE}"), encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_spec(spec, source_dir=example_spec_path().parent)
    assert [(p.code, p.location.json_path) for p in caught.value.problems] == [
        ("SPEC002", "$.domains.AE.records[0].map.AEDECOD.dictionary")]


@pytest.mark.e2e
def test_without_its_define_xml_the_sponsor_terms_are_notices(example_output, tmp_path):
    # CV0110 accepts a value of an extensible codelist only when the define.xml beside the
    # dataset declares it as a sponsor term; the same datasets alone are notices
    for xpt in (example_output.out / "sdtm").glob("*.xpt"):
        shutil.copy(xpt, tmp_path / xpt.name)
    result = validate_folder(tmp_path)
    found = {(p.location.field, p.location.value) for p in result.findings
             if p.code == "CV0110"}
    assert found == {(name, value) for name, values in EXTENDED.items() for value in values}
    assert {p.code for p in result.findings} == {"CV0110"}  # nothing else without define
    assert result.summary == {"error": 0, "warning": 0, "notice": len(result.findings)}

"""RS BESTRESP from per-visit overall responses: the RECIST 1.1 rules, and agreement with
the ADaM BOR/CBOR (cdisc.adam.recist) on random sequences and on the embedded example."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdisc.adam import recist
from cdisc.errors import CdiscError, ProblemLog
from cdisc.resources import example_spec_path
from cdisc.sdtm.best_response import RESPONSES, best_overall_response, best_response
from cdisc.sdtm.engine import build_sdtm
from cdisc.sdtm.registry import MappingContext
from cdisc.sources import read_sources
from cdisc.spec import load_spec
from cdisc.spec.model import RecistOptions

from helpers import MINI_FILES, MINI_SPEC, write_study

PLAIN = RecistOptions(confirm=False, sd_min_days=42)
CONFIRM = RecistOptions(confirm=True, sd_min_days=42, confirm_min_days=28)


def bor(sequence: list[tuple[int, str]], options: RecistOptions = PLAIN) -> str:
    rows = pd.DataFrame({"SUBJECT": "1", "DAY": [float(d) for d, _ in sequence],
                         "RESPONSE": [r for _, r in sequence], "ORDER": range(len(sequence))})
    return best_overall_response(rows, options)["1"]


@pytest.mark.parametrize(("sequence", "expected"), [
    ([(56, "SD"), (91, "PD")], "SD"),
    ([(30, "SD"), (60, "PD")], "PD"),  # SD before day 42 does not count
    ([(30, "SD")], "NE"),
    ([(56, "PR"), (84, "SD")], "PR"),
    ([(56, "SD"), (84, "PD"), (112, "CR")], "SD"),  # nothing after the first PD
    ([(56, "NON-CR/NON-PD"), (84, "NON-CR/NON-PD")], "NON-CR/NON-PD"),
    ([(20, "PR"), (56, "NON-CR/NON-PD")], "PR"),
    ([(56, "NE"), (84, "NE")], "NE"),
    ([(-7, "CR"), (56, "SD")], "SD"),  # an assessment before the reference is left out
])
def test_best_response_without_confirmation(sequence, expected):
    assert bor(sequence) == expected


@pytest.mark.parametrize(("sequence", "expected"), [
    ([(56, "PR"), (84, "PR")], "PR"),  # 28 days later: confirmed
    ([(56, "PR"), (70, "PR")], "SD"),  # 14 days: not confirmed, counts as SD
    ([(20, "PR"), (30, "PR")], "NE"),  # not confirmed and too early for SD
    ([(56, "CR"), (84, "CR")], "CR"),
    ([(56, "CR"), (70, "NE"), (90, "CR")], "CR"),  # one NE between is tolerated
    ([(56, "CR"), (63, "NE"), (70, "NE"), (90, "CR")], "SD"),  # two are not
    ([(56, "PR"), (70, "CR"), (84, "PR")], "SD"),  # a PR after a CR confirms nothing
    ([(56, "PR"), (70, "SD"), (90, "PR")], "SD"),  # SD between breaks the confirmation
    ([(56, "PR"), (90, "CR")], "PR"),  # a later CR confirms the PR, itself unconfirmed
    ([(14, "PR"), (28, "PR"), (42, "PR")], "PR"),
])
def test_best_response_with_confirmation(sequence, expected):
    assert bor(sequence, CONFIRM) == expected


def _adam_bor(frame: pd.DataFrame, options: RecistOptions) -> dict[str, str]:
    """The ADaM BOR of the same assessments, fed the way ADRS feeds it."""
    frame = frame[frame["DAY"] >= 0].sort_values(["SUBJECT", "DAY"]).copy()
    pd_before = frame["RESPONSE"].eq("PD").groupby(frame["SUBJECT"]).cumsum().groupby(
        frame["SUBJECT"]).shift(fill_value=0)
    frame = frame[pd_before.eq(0)]
    base = pd.Timestamp("2012-01-01")
    qualifies = frame["RESPONSE"].isin(["CR", "PR", "SD"]) & frame["DAY"].ge(options.sd_min_days)
    target = qualifies.groupby(frame["SUBJECT"]).transform("any")
    tp = pd.DataFrame({
        "USUBJID": frame["SUBJECT"], "VISITNUM": frame.groupby("SUBJECT").cumcount() * 1.0,
        "VISIT": "V", "ADT": base + pd.to_timedelta(frame["DAY"], unit="D"),
        "OVRLRESP": frame["RESPONSE"], "TRGRESP": np.where(target, "SD", recist.NA),
        "BASEDT": base})
    out = recist.best_overall_response(tp, replace(options, reference="first_assessment"))
    return dict(zip(out["USUBJID"], out["BOR"], strict=True))


sequences = st.lists(
    st.lists(st.tuples(st.integers(1, 30), st.sampled_from(RESPONSES)), min_size=1,
             max_size=8),
    min_size=1, max_size=6)


@given(sequences, st.booleans(), st.integers(0, 2))
def test_best_response_agrees_with_the_adam_bor(subjects, confirm, max_ne):
    rows = []
    for s, visits in enumerate(subjects):
        day = -10
        for gap, response in visits:  # strictly increasing days, one assessment per day
            day += gap
            rows.append((str(s), float(day), response))
    frame = pd.DataFrame(rows, columns=["SUBJECT", "DAY", "RESPONSE"])
    frame["ORDER"] = range(len(frame))
    options = RecistOptions(confirm=confirm, sd_min_days=42, confirm_min_days=28,
                            confirm_max_ne=max_ne)
    ours = best_overall_response(frame, options).to_dict()
    theirs = _adam_bor(frame, options)
    # a subject with only assessments before the reference has no time point for ADaM
    assert {s: b for s, b in ours.items() if s in theirs} == theirs
    assert all(ours[s] == "NE" for s in ours if s not in theirs)


def test_the_algorithm_on_the_example_agrees_with_the_example_adrs(example_output):
    spec = load_spec(example_spec_path())
    problems = ProblemLog()
    sources = read_sources(spec, problems)
    ctx = MappingContext(spec, sources, problems).at("RS", "RSSTRESC",
                                                     ("domains", "RS", "records", 4))
    patients = sources["patients"].frame
    args = {"source": "responses", "column": "overall_response", "date": "assessment_date",
            "codelist": "RESPONSE",
            "reference": {"source": "dosing", "column": "start_date"}}
    derived = best_response(patients, ctx, **args)
    confirmed = best_response(patients, ctx, **args, confirm=True)
    assert not problems.errors
    adrs = example_output.result.adam["ADRS"].frame
    by_param = {p: adrs[adrs["PARAMCD"].eq(p)].set_index("USUBJID")["AVALC"].to_dict()
                for p in ("BOR", "CBOR")}
    usubjid = "PECOMA-MTOR-" + patients["patient_id"].str.zfill(3)
    assessed = usubjid.isin(set(spec_subjects_with_responses(sources))).to_numpy()
    assert assessed.sum() == 7
    ours = dict(zip(usubjid[assessed], derived[assessed], strict=True))
    assert ours == {u: by_param["BOR"][u] for u in ours}
    ours_confirmed = dict(zip(usubjid[assessed], confirmed[assessed], strict=True))
    assert ours_confirmed == {u: by_param["CBOR"][u] for u in ours_confirmed}
    # and they are what the site recorded as best response
    site = patients["best_response"].map(spec.study_ct["RESPONSE"].map)
    assert list(derived[assessed]) == list(site[assessed])
    assert sorted(set(ours.values())) == ["PD", "PR", "SD"]


def spec_subjects_with_responses(sources) -> list[str]:
    ids = sources["responses"].frame["patient_id"].dropna().unique()
    return ["PECOMA-MTOR-" + str(i).zfill(3) for i in ids]


def test_unknown_responses_and_undated_assessments_are_located(tmp_path):
    spec_text = """
spec_version: 1
study: {studyid: S, sdtmig_version: "3.4", ct_version: "2025-03-28",
        data_cutoff: "2013-01-31", created: "2013-02-01T00:00:00"}
recist: {confirm: false, sd_min_days: 42}
sources:
  pts:
    file: pts.csv
    subject: id
    columns: {id: {type: string, required: true}}
  resp:
    file: resp.csv
    subject: id
    columns:
      id: {type: string, required: true}
      day: {type: date, format: DD/MM/YYYY}
      ovr: {type: string}
domains:
  DM:
    records:
      - source: pts
        map:
          USUBJID: {algorithm: usubjid, column: id}
          RFSTDTC: {algorithm: hardcode, value: "2012-01-01"}
  RS:
    records:
      - source: pts
        map:
          USUBJID: {algorithm: usubjid, column: id}
          RSTESTCD: {algorithm: hardcode, value: BESTRESP}
          RSTEST: {algorithm: hardcode, value: Best Overall Response}
          RSSTRESC: {algorithm: best_response, source: resp, column: ovr, date: day}
"""
    files = {"pts.csv": "id\n1\n2\n3\n",
             "resp.csv": "id,day,ovr\n1,01/01/2012,\n1,01/03/2012,SD\n1,01/04/2012,PR\n"
                         "2,01/01/2012,\n2,15/01/2012,Stable\n2,01/03/2012,SD\n2,,PD\n"}
    spec = load_spec(write_study(tmp_path, spec_text, files))
    problems = ProblemLog()
    result = build_sdtm(spec, read_sources(spec, problems), problems)
    # 1: PR; 2: SD on day 59 after its first assessment; 3: no assessments
    assert result.datasets["RS"]["RSSTRESC"].tolist() == ["PR", "SD", None]
    found = [(p.code, p.location.row, p.location.field, p.location.value) for p in problems]
    assert found == [("MAP026", 6, "ovr", "Stable"), ("MAP026", 8, "day", None)]
    assert all(p.location.file.endswith("resp.csv") for p in problems)
    (resp,) = [r for r in result.reconciliation if r.source == "resp"]
    assert (resp.read, resp.mapped) == (7, 7)  # every row was read by the algorithm


def test_best_response_arguments_are_checked_at_spec_check(tmp_path):
    line = "          AETERM: {algorithm: assign, column: term}\n"
    bad = ("          AEOUT: {algorithm: best_response, source: aes, column: term, "
           "date: onset, reference: {source: doses, column: begin}}\n")
    with pytest.raises(CdiscError) as caught:
        load_spec(write_study(tmp_path, MINI_SPEC.replace(line, line + bad), MINI_FILES))
    assert [(p.code, p.location.json_path) for p in caught.value.problems] == [
        ("SPEC014", "$.domains.AE.records[0].map.AEOUT.reference.column")]

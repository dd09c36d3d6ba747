"""The eCTD module 5 package (cdisc/output/package.py) and its technical rejection checks.

The package of the embedded example is built once per module from the session's
conversion (conftest ``example_output``); tests that change a package copy it first.
Until the example has a TS dataset of its own (trial design, issue 14), the package
is given a minimal one with the study start date, so that every check can pass.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from lxml import etree
from lxml import html as lxml_html

import cli
from cdisc import standards
from cdisc.errors import CdiscError, Location, Problem, Severity
from cdisc.formats.xpt import read_xpt
from cdisc.model import Dataset, resolve_metadata
from cdisc.output.package import (
    build_package,
    check_package_target,
    package_paths,
    split_dataset,
    study_folder,
)
from cdisc.output.writers import write_datasets
from cdisc.spec.submission import SubmissionSpec, build_submission
from cdisc.validate import ValidationResult, get_rule, validate_datasets, validate_package
from cdisc.validate.engine import DatasetInfo

STUDYID = "PECOMA-MTOR"
NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
CREATED = datetime(2013, 2, 1)


def trial_summary(studyid: str, start: str | None = "2007-01-01") -> Dataset:
    """A minimal TS: the study start date (when given) and the title."""
    rows = [("TITLE", "Trial Title", "Sirolimus and temsirolimus in metastatic PEComa, "
             "retrospective case series")]
    if start is not None:
        rows.insert(0, ("SSTDTC", "Study Start Date", start))
    frame = pd.DataFrame({"STUDYID": studyid, "DOMAIN": "TS", "TSSEQ": 1.0,
                          "TSPARMCD": [r[0] for r in rows], "TSPARM": [r[1] for r in rows],
                          "TSVAL": [r[2] for r in rows]})
    return Dataset(resolve_metadata("TS", frame, standards.dataset("TS")), frame)


def with_ts(tables: dict[str, Dataset]) -> dict[str, Dataset]:
    out = dict(tables)
    out.setdefault("TS", trial_summary(STUDYID))
    return out


@pytest.fixture(scope="module")
def example(example_output, tmp_path_factory):
    """(conversion result, package) of the example; the package folder is read only."""
    result = example_output.result
    root = tmp_path_factory.mktemp("package")
    package = build_package(root, studyid=result.spec.study.studyid,
                            sdtm=with_ts(result.sdtm.tables), adam=result.adam,
                            validation=result.validation, spec=result.spec)
    return result, package


def copy_of(package, tmp_path: Path) -> Path:
    target = tmp_path / "pkg"
    shutil.copytree(package.paths.root, target)
    return target


# --- layout -----------------------------------------------------------------------------


def test_study_folder_names():
    assert study_folder("PECOMA-MTOR") == "pecoma-mtor"
    assert study_folder(" ABC 123/x_y ") == "abc-123-x-y"
    assert study_folder("***") == "study"
    paths = package_paths("PECOMA-MTOR")
    assert paths.sdtm.as_posix() == "m5/datasets/pecoma-mtor/tabulations/sdtm"
    assert paths.adam.as_posix() == "m5/datasets/pecoma-mtor/analysis/adam/datasets"
    assert paths.guide("SDTM").as_posix().endswith("tabulations/sdtm/csdrg.md")
    assert paths.guide("ADaM", ".html").as_posix().endswith("adam/datasets/adrg.html")
    assert paths.split("SDTM").name == "split"


def test_example_package_layout(example):
    result, package = example
    paths = package.paths
    sdtm = {p.name for p in paths.sdtm.iterdir()}
    adam = {p.name for p in paths.adam.iterdir()}
    assert {f"{name.lower()}.xpt" for name, t in result.sdtm.tables.items() if len(t)} <= sdtm
    assert {"ts.xpt", "define.xml", "define2-1.xsl", "define.html", "csdrg.md",
            "csdrg.html"} <= sdtm
    assert {"adsl.xpt", "adrs.xpt", "adtte.xpt", "define.xml", "define2-1.xsl",
            "define.html", "adrg.md", "adrg.html"} <= adam
    # nothing else in the tree, and every file is listed for the output marker
    on_disk = {p for p in paths.root.rglob("*") if p.is_file()}
    assert on_disk == set(package.files)
    assert {p.relative_to(paths.root).parts[:3] for p in on_disk} == {
        ("m5", "datasets", "pecoma-mtor")}
    assert not any(paths.split(s).exists() for s in ("SDTM", "ADaM"))


def test_example_package_passes_every_rejection_check(example):
    _, package = example
    assert package.checks is not None
    assert [p for p in package.checks.findings if p.severity is Severity.REJECT] == []
    assert not package.checks.has_errors
    assert {r.id for r in package.checks.rules} >= {f"CV130{i}" for i in range(1, 10)}
    # the whole validation of the package: the datasets as written, and no rejects
    full = validate_package(package.paths.root)
    assert full.summary["reject"] == 0 and full.count(Severity.ERROR) == 0
    assert {d.name for d in full.datasets} >= {"DM", "TS", "ADSL"}
    assert all(d.file.startswith("m5/datasets/pecoma-mtor/") for d in full.datasets)


def test_datasets_outside_a_package_run_no_rejection_checks(example):
    result, _ = example
    assert all(r.severity is not Severity.REJECT for r in result.validation.rules)
    assert "reject" not in result.validation.summary  # validation.json keeps its summary


# --- the reviewer's guides --------------------------------------------------------------


def test_guides_list_datasets_and_findings(example):
    result, package = example
    csdrg = package.paths.guide("SDTM").read_text(encoding="utf-8")
    adrg = package.paths.guide("ADaM").read_text(encoding="utf-8")
    assert "Clinical Study Data Reviewer's Guide" in csdrg and STUDYID in csdrg
    assert "Analysis Data Reviewer's Guide" in adrg
    for text, tables in ((csdrg, with_ts(result.sdtm.tables)), (adrg, result.adam)):
        for name, table in tables.items():
            if len(table):
                assert f"| {name} | {table.label} |" in text.replace("\\", "")
                assert f"| {len(table)} | {name.lower()}.xpt |" in text
    listed = (Severity.ERROR, Severity.WARNING)
    sdtm_ids = {p.code for p in result.validation.findings if p.severity in listed
                and p.location.dataset in result.sdtm.tables}
    adam_ids = {p.code for p in result.validation.findings if p.severity in listed
                and p.location.dataset in result.adam}
    for rid in sdtm_ids:
        assert f"| {rid} |" in csdrg
    for rid in adam_ids:
        assert f"| {rid} |" in adrg
    assert "SDTMIG) | 3.4 |" in csdrg and "ADaMIG) | 1.3 |" in adrg
    # the HTML page holds the same tables and nothing from outside
    page = package.paths.guide("SDTM", ".html").read_text(encoding="utf-8")
    tree = lxml_html.fromstring(page.encode("utf-8"))
    cells = {td.text_content() for td in tree.iter("td")}
    assert {name for name, t in result.sdtm.tables.items() if len(t)} <= cells
    assert "@page" in page and "<script" not in page and "http" not in page


def test_guides_carry_the_explanations_and_escape_text(example, tmp_path):
    result, _ = example
    finding = Problem("CV0002", "dataset name 'A|E' is not valid", Location(dataset="AE"),
                      Severity.ERROR)
    validation = ValidationResult([DatasetInfo("AE", 1, "SDTM")], [finding],
                                  [get_rule("CV0002")])
    spec = replace(result.spec, submission=build_submission(
        {"explanations": {"cv0002": "Kept as <collected> | see *protocol* section 6."}}))
    package = build_package(tmp_path, studyid=STUDYID, sdtm={"AE": result.sdtm.tables["AE"]},
                            validation=validation, spec=spec)
    md = package.paths.guide("SDTM").read_text(encoding="utf-8")
    row = next(line for line in md.splitlines() if line.startswith("| CV0002 |"))
    assert "Kept as \\<collected\\> \\| see \\*protocol\\* section 6." in row
    assert "| Error | 1 |" in row
    page = package.paths.guide("SDTM", ".html").read_text(encoding="utf-8")
    assert "Kept as &lt;collected&gt; | see *protocol* section 6." in page
    # without TS and DM the rejects are listed first, with what must happen
    reject = md.index("| CV1301 |")
    assert reject < md.index("| CV0002 |") and "| Reject |" in md[reject:]
    assert not package.paths.guide("ADaM").exists()  # no ADaM datasets, no ADRG


# --- technical rejection checks ---------------------------------------------------------

REMOVALS = [
    ("m5/datasets/pecoma-mtor/tabulations/sdtm/ts.xpt", "CV1301"),
    ("m5/datasets/pecoma-mtor/tabulations/sdtm/dm.xpt", "CV1303"),
    ("m5/datasets/pecoma-mtor/tabulations/sdtm/define.xml", "CV1304"),
    ("m5/datasets/pecoma-mtor/analysis/adam/datasets/define.xml", "CV1304"),
    ("m5/datasets/pecoma-mtor/analysis/adam/datasets/adsl.xpt", "CV1305"),
]


@pytest.mark.parametrize(("removed", "rule_id"), REMOVALS,
                         ids=[r[0].rsplit("/", 3)[-2] + "/" + r[0].rsplit("/", 1)[-1]
                              for r in REMOVALS])
def test_removing_a_required_file_is_a_reject(example, tmp_path, removed, rule_id):
    _, package = example
    root = copy_of(package, tmp_path)
    (root / removed).unlink()
    result = validate_package(root, only_submission=True)
    rejects = [p for p in result.findings if p.code == rule_id]
    assert rejects and all(p.severity is Severity.REJECT for p in rejects)
    assert result.has_errors and result.summary["reject"] >= 1
    assert get_rule(rule_id).severity is Severity.REJECT
    if removed.endswith(".xpt"):
        # define.xml still describes it: that is a reject too
        assert "CV1306" in {p.code for p in result.findings}


@pytest.mark.parametrize(("start", "why"), [
    (None, "no record with TSPARMCD SSTDTC"),
    ("2007", "not a complete ISO 8601 date"),
    ("2007-02-30", "not a complete ISO 8601 date"),
    ("01JAN2007", "not a complete ISO 8601 date"),
])
def test_ts_without_a_valid_study_start_date_is_a_reject(example, tmp_path, start, why):
    result, _ = example
    sdtm = {"DM": result.sdtm.tables["DM"], "TS": trial_summary(STUDYID, start)}
    package = build_package(tmp_path, studyid=STUDYID, sdtm=sdtm, spec=result.spec)
    (finding,) = [p for p in package.checks.findings if p.code == "CV1302"]
    assert finding.severity is Severity.REJECT and why in finding.message
    assert package.checks.has_errors
    assert [p.code for p in package.checks.findings] == ["CV1302"]


def test_cli_validate_package_exits_1_on_a_reject(example, tmp_path):
    """``cdisc validate --package``: a reject exits 1 like an error (once the CLI has it)."""
    command = cli.main.commands["validate"]
    if not any("--package" in p.opts for p in command.params):
        pytest.skip("cdisc validate --package is not wired yet")
    _, package = example
    root = copy_of(package, tmp_path)
    assert CliRunner().invoke(cli.main, ["validate", "--package", str(root)]).exit_code == 0
    (root / REMOVALS[0][0]).unlink()
    run = CliRunner().invoke(cli.main, ["validate", "--package", str(root)])
    assert run.exit_code == 1 and "CV1301" in run.output and "reject" in run.output


def test_files_and_define_must_agree(example, tmp_path):
    _, package = example
    root = copy_of(package, tmp_path)
    define = root / "m5/datasets/pecoma-mtor/tabulations/sdtm/define.xml"
    tree = etree.parse(str(define))
    (group,) = tree.xpath("//odm:ItemGroupDef[@Name='SUPPDS']", namespaces=NS)
    group.getparent().remove(group)  # suppds.xpt is no longer described
    tree.write(str(define), xml_declaration=True, encoding="UTF-8")
    result = validate_package(root, only_submission=True)
    (extra,) = [p for p in result.findings if p.code == "CV1307"]
    assert extra.severity is Severity.REJECT and extra.location.dataset == "SUPPDS"
    assert extra.location.file == "m5/datasets/pecoma-mtor/tabulations/sdtm/suppds.xpt"


def test_file_name_rules(example, tmp_path):
    _, package = example
    root = copy_of(package, tmp_path)
    sdtm = root / "m5/datasets/pecoma-mtor/tabulations/sdtm"
    (sdtm / "suppds.xpt").rename(sdtm / "SUPPDS.xpt")  # upper case
    (sdtm / "suppex.xpt").rename(sdtm / "suppexpos.xpt")  # 9 characters
    (sdtm / "supptu.xpt").rename(sdtm / "stu.xpt")  # holds SUPPTU
    result = validate_package(root, only_submission=True)
    names = {p.location.value: p for p in result.findings if p.code == "CV1308"}
    assert set(names) == {"SUPPDS.xpt", "suppexpos.xpt", "stu.xpt"}
    assert all(p.severity is Severity.REJECT for p in names.values())
    assert "holds dataset SUPPTU" in names["stu.xpt"].message
    # define.xml points at the old names: those files are missing now
    missing = {p.location.dataset for p in result.findings if p.code == "CV1306"}
    assert {"SUPPEX", "SUPPTU"} <= missing


def test_not_a_package(tmp_path):
    with pytest.raises(CdiscError) as caught:
        validate_package(tmp_path)
    assert caught.value.problems[0].code == "VAL010"


def test_package_target_refuses_the_output_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(CdiscError) as caught:
        check_package_target(out / "package", out_dir=out)
    assert caught.value.problems[0].code == "OUT010"
    with pytest.raises(CdiscError):
        check_package_target(tmp_path, out_dir=out)  # it would contain the output
    assert check_package_target(tmp_path / "pkg", out_dir=out) == (tmp_path / "pkg").resolve()


def test_submission_section_of_the_spec():
    spec = build_submission({"explanations": {"cv0105": "  Not\n collected. "},
                             "max_dataset_bytes": 10, "split_by": {"lb": "lbcat"}})
    assert spec == SubmissionSpec({"CV0105": "Not collected."}, 10, {"LB": "LBCAT"})
    assert build_submission(None) is None


# --- datasets over the size limit (TCG 3.3.2) -------------------------------------------


def read_pieces(files) -> pd.DataFrame:
    frames = [read_xpt(f)[0] for f in files]
    return pd.concat(frames, ignore_index=True)


def test_split_at_a_tiny_limit_reads_back_to_the_whole_dataset(example, tmp_path):
    result, _ = example
    sdtm = {name: result.sdtm.tables[name] for name in ("DM", "TR")}
    sdtm["TS"] = trial_summary(STUDYID)
    limit = 20_000  # tr.xpt is about 48 kB, the others below
    package = build_package(tmp_path, studyid=STUDYID, sdtm=sdtm,
                            adam={"ADSL": result.adam["ADSL"]}, spec=result.spec,
                            max_bytes=limit)
    (split,) = package.splits
    folder = package.paths.split("SDTM")
    assert split.dataset == "TR" and split.whole == package.paths.sdtm / "tr.xpt"
    assert [p.name for p in split.pieces] == [f"tr{i}.xpt" for i in
                                             range(1, len(split.pieces) + 1)]
    assert len(split.pieces) >= 3 and all(p.parent == folder for p in split.pieces)
    assert all(p.stat().st_size <= limit for p in split.pieces)
    assert split.whole.stat().st_size > limit  # kept beside the split folder
    whole, meta = read_xpt(split.whole)
    pd.testing.assert_frame_equal(read_pieces(split.pieces), whole, check_dtype=False)
    for number, piece in enumerate(split.pieces, start=1):
        piece_meta = read_xpt(piece)[1]
        assert piece_meta.name == f"TR{number}" and piece_meta.label == meta.label
    assert sum(split.records) == len(result.sdtm.tables["TR"])
    # the checks accept the split whole file; the validator reads TR once, not its pieces
    assert not package.checks.has_errors, package.checks.findings
    full = validate_package(package.paths.root, max_bytes=limit)
    assert "TR1" not in {d.name for d in full.datasets} and full.summary["reject"] == 0
    csdrg = package.paths.guide("SDTM").read_text(encoding="utf-8")
    assert "tr1.xpt" in csdrg and "3.3.2" in csdrg
    # without its pieces the large file is a reject; a piece over the limit is one too
    shutil.rmtree(folder)
    (over,) = [p for p in validate_package(package.paths.root, max_bytes=limit,
                                           only_submission=True).findings
               if p.code == "CV1309"]
    assert over.severity is Severity.REJECT and over.location.file.endswith("sdtm/tr.xpt")


def test_split_keeps_the_groups_of_split_by_together(example, tmp_path):
    result, _ = example
    tr = result.sdtm.tables["TR"]
    write_datasets([tr], tmp_path, created=CREATED)
    size = (tmp_path / "tr.xpt").stat().st_size
    # each subject's records (105 at most of 231) stay in one piece
    limit = size * 3 // 5
    split = split_dataset(tr, tmp_path, max_bytes=limit, created=CREATED, by="USUBJID")
    assert split.by == "USUBJID" and len(split.pieces) >= 2
    assert all(p.stat().st_size <= limit for p in split.pieces)
    seen: dict[str, int] = {}
    for number, piece in enumerate(split.pieces, start=1):
        for code in set(read_xpt(piece)[0]["USUBJID"]):
            assert code not in seen, f"{code} in pieces {seen.get(code)} and {number}"
            seen[code] = number
    back = read_pieces(split.pieces)
    whole = read_xpt(tmp_path / "tr.xpt")[0]
    # the pieces hold every record once, each group in the dataset's order
    assert len(back) == len(whole)
    key = list(whole.columns)
    pd.testing.assert_frame_equal(back.sort_values(key).reset_index(drop=True),
                                  whole.sort_values(key).reset_index(drop=True),
                                  check_dtype=False)


def test_split_refuses_a_limit_below_one_record(example, tmp_path):
    result, _ = example
    dm = result.sdtm.tables["DM"]
    write_datasets([dm], tmp_path, created=CREATED)
    with pytest.raises(CdiscError) as caught:
        split_dataset(dm, tmp_path, max_bytes=500, created=CREATED)
    assert caught.value.problems[0].code == "OUT030"


def test_reject_counts_as_an_error():
    assert Severity.REJECT.rank < Severity.ERROR.rank < Severity.WARNING.rank
    assert Severity.REJECT.blocking and Severity.ERROR.blocking
    assert not Severity.WARNING.blocking and not Severity.NOTICE.blocking
    result = ValidationResult([], [Problem("CV1301", "x", Location(), Severity.REJECT)],
                              [get_rule("CV1301")])
    assert result.has_errors and result.summary == {
        "reject": 1, "error": 0, "warning": 0, "notice": 0}
    plain = validate_datasets({})
    assert "reject" not in plain.summary and not plain.has_errors

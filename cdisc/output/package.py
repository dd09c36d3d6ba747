"""The eCTD module 5 study data package: datasets, define.xml, reviewer's guide skeletons.

FDA's Study Data Technical Conformance Guide (TCG) places study data in
module 5 of the eCTD, one folder per study::

    m5/datasets/<study>/tabulations/sdtm/           dm.xpt ... define.xml define2-1.xsl
                                                    define.html csdrg.md csdrg.html
    m5/datasets/<study>/analysis/adam/datasets/     adsl.xpt ... define.xml define2-1.xsl
                                                    define.html adrg.md adrg.html
    .../split/                                      lb1.xpt lb2.xpt ... (datasets over the
                                                    size limit, TCG 3.3.2)

:func:`package_paths` is that layout, for one study id; the validator finds the
same folders on its own (:mod:`cdisc.validate.rules.submission`).

The reviewer's guides are skeletons in the section order of the PHUSE cSDRG
and ADRG templates, filled with what the tool knows: the study, the
standards and versions, every dataset with its label, class, structure and
records, the split datasets, the conformance findings left with the
explanations the spec's ``submission: explanations:`` gives (rule id ->
text), and the results of the technical rejection checks. What only the
sponsor knows is marked "[Sponsor to complete]". They are written as Markdown
and as self-contained, print-ready HTML (``@page`` rules, no external files):
the sponsor completes one and renders it to ``csdrg.pdf`` / ``adrg.pdf``, the
names and the format the TCG asks for, before the package is published.

Datasets larger than the agency's limit (FDA: 5 GB per file, TCG 3.3.2;
``max_bytes``) are split, as the TCG describes, into smaller datasets of the
same structure in a ``split/`` sub-folder of the standard's folder, named
after the dataset with a number (``lb1.xpt``, ``lb2.xpt``; the dataset inside
each file is named as the file), each within the limit, on the groups of a
variable the spec names (``submission: split_by: {LB: LBCAT}``) or else by
records in the dataset's order; the whole dataset stays where it was (the
TCG asks for the split datasets in addition to the whole one) and define.xml
describes it; the cSDRG/ADRG list the pieces. Stacking the pieces in order
gives the whole dataset back (split by records, or on a variable whose groups
follow one another, e.g. USUBJID); on another variable, the same records
grouped. Tests read them back.

A package is written into a folder the caller stages (``staged_output``), so it
is all or nothing like every other output.
"""

from __future__ import annotations

import html
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from .. import __version__, standards
from ..errors import OutputError, Problem, Severity
from ..formats.atomic import write_atomic
from ..model import Dataset
from ..spec import Spec
from ..spec.model import StudyInfo
from ..validate import ValidationResult
from ..validate.engine import validate_package
from ..validate.registry import severity_label
from ..validate.rules.submission import (
    ADAM_FOLDER,
    FDA_MAX_BYTES,
    SDTM_FOLDER,
    SPLIT_FOLDER,
)
from .folder import check_output_target, safe_child
from .writers import write_datasets, writer_for

SDTM, ADAM = "SDTM", "ADaM"
CSDRG, ADRG = "csdrg", "adrg"
TODO = "[Sponsor to complete]"
EXPLAIN = "[Sponsor to explain]"
#: severities listed one rule per row in the guides' issues summary (notices are counted)
_LISTED = (Severity.REJECT, Severity.ERROR, Severity.WARNING)


# --- the layout ---------------------------------------------------------------------------


def study_folder(studyid: str) -> str:
    """The study's folder name in ``m5/datasets/``: the study id in lower case, characters
    other than letters, digits and hyphens as hyphens (eCTD folder names), e.g.
    ``PECOMA-MTOR`` -> ``pecoma-mtor``."""
    name = re.sub(r"[^a-z0-9-]+", "-", str(studyid).strip().lower()).strip("-")
    return re.sub(r"-{2,}", "-", name) or "study"


@dataclass(frozen=True)
class PackagePaths:
    """Where everything of one study goes in a package (under ``root``)."""

    root: Path
    study: Path  # m5/datasets/<study>
    sdtm: Path  # .../tabulations/sdtm
    adam: Path  # .../analysis/adam/datasets

    def folder(self, standard: str) -> Path:
        return self.sdtm if standard == SDTM else self.adam

    def split(self, standard: str) -> Path:
        """The sub-folder of split datasets (TCG 3.3.2)."""
        return self.folder(standard) / SPLIT_FOLDER

    def guide(self, standard: str, suffix: str = ".md") -> Path:
        """The reviewer's guide of a standard: ``csdrg.md`` beside the SDTM datasets,
        ``adrg.md`` beside the ADaM datasets (``suffix`` ``.html`` for the HTML one)."""
        return self.folder(standard) / f"{CSDRG if standard == SDTM else ADRG}{suffix}"

    def define(self, standard: str) -> Path:
        return self.folder(standard) / "define.xml"


def package_paths(studyid: str, root: str | Path = ".") -> PackagePaths:
    """The package layout of ``studyid`` below ``root`` (the folder that will hold ``m5/``)."""
    base = Path(root)
    study = base / "m5" / "datasets" / study_folder(studyid)
    return PackagePaths(base, study, study.joinpath(*SDTM_FOLDER), study.joinpath(*ADAM_FOLDER))


def check_package_target(package_dir: str | Path, *, out_dir: str | Path | None = None,
                         protected: Iterable[str | Path] = ()) -> Path:
    """The resolved package folder, if a run may write it there; else OUT010.

    As :func:`cdisc.output.folder.check_output_target` (new, empty or an earlier
    output of ours; never what the run reads), and neither inside nor around
    ``out_dir``: the swap of one would delete the other.
    """
    keep = [*protected, *([out_dir] if out_dir is not None else [])]
    target = check_output_target(package_dir, keep)
    if out_dir is not None and Path(out_dir).resolve() in target.parents:
        raise OutputError.single("OUT010", "refusing to use this package folder: it is inside "
                                 "the output folder, which the run replaces as a whole; "
                                 "nothing was changed. Choose a folder outside it",
                                 file=str(package_dir))
    return target


# --- splitting datasets over the size limit (TCG 3.3.2) --------------------------------


@dataclass(frozen=True)
class Split:
    """A dataset written in pieces: which files, on which variable."""

    dataset: str  # e.g. "LB"
    whole: Path  # the file of the whole dataset
    pieces: tuple[Path, ...]
    records: tuple[int, ...]  # per piece
    by: str | None  # the variable whose groups a piece keeps together; None: by records


def _piece(dataset: Dataset, rows: pd.Index | Sequence[int], number: int) -> Dataset:
    name = f"{dataset.name}{number}"
    if len(name) > 8:
        raise OutputError.single("OUT031", f"{dataset.name} is over the size limit but its "
                                 f"name leaves no room for a piece number ({name} would have "
                                 "more than 8 characters)", dataset=dataset.name)
    frame = dataset.frame.iloc[list(rows)].reset_index(drop=True)
    return Dataset(replace(dataset.meta, name=name), frame, None, dataset.provenance)


def _groups(dataset: Dataset, by: str | None) -> list[list[int]]:
    """Positions of the records, one list per group of ``by`` (first seen first), or one
    list per record without ``by``."""
    if by is None:
        return [[i] for i in range(len(dataset))]
    if by not in dataset.frame.columns:
        raise OutputError.single("OUT032", f"split_by names {by}, which {dataset.name} does not "
                                 "have", dataset=dataset.name, field=by)
    keys = dataset.frame[by].astype(object).where(dataset.frame[by].notna(), None)
    groups: dict[Any, list[int]] = {}
    for position, key in enumerate(keys):
        groups.setdefault(key, []).append(position)
    return list(groups.values())


def _written_size(dataset: Dataset, writer_format: str, created: datetime) -> int:
    """Bytes of ``dataset`` in ``writer_format``, written to a temporary folder."""
    writer = writer_for(writer_format)
    with tempfile.TemporaryDirectory(prefix=".cdisc-size-") as tmp:
        path = Path(tmp) / f"{dataset.name.lower()}{writer.suffix}"
        writer.write(dataset, path, created=created)
        return path.stat().st_size


def split_dataset(dataset: Dataset, folder: Path, *, max_bytes: int, created: datetime,
                  writer_format: str = "xpt", by: str | None = None,
                  whole_size: int | None = None) -> Split:
    """Write ``dataset`` as pieces of at most ``max_bytes`` into ``folder/split/``.

    Pieces are consecutive groups of records in the dataset's order (whole
    groups of ``by`` when given: a reviewer reads one LBCAT in one file; a
    group too large for one piece is itself split by records). The size of a
    piece is estimated from the file of the whole dataset and checked on the
    file written; a piece over the limit is split again, so every piece is
    within it. Raises OutputError (OUT030) when not even one record fits.
    """
    writer = writer_for(writer_format)
    whole = folder / f"{dataset.name.lower()}{writer.suffix}"
    total = whole_size if whole_size is not None else whole.stat().st_size
    empty = _written_size(Dataset(dataset.meta, dataset.frame.iloc[0:0], None, ()),
                          writer_format, created)
    per_record = max(1.0, (total - empty) / max(1, len(dataset)))
    if empty + per_record > max_bytes:
        raise OutputError.single("OUT030", f"{dataset.name} cannot be split into files of at "
                                 f"most {max_bytes} bytes: the file header alone is {empty} "
                                 f"bytes and a record about {per_record:.0f}",
                                 dataset=dataset.name)
    budget = int((max_bytes - empty) // per_record)  # records per piece, as estimated
    queue = _pack(_groups(dataset, by), max(1, budget))
    target = folder / SPLIT_FOLDER
    target.mkdir(exist_ok=True)
    written: list[Path] = []
    records: list[int] = []
    while queue:
        groups = queue.pop(0)
        rows = sorted(i for group in groups for i in group)  # the dataset's order
        piece = _piece(dataset, rows, len(written) + 1)
        path = safe_child(target, f"{piece.name.lower()}{writer.suffix}")
        writer.write(piece, path, created=created)
        if path.stat().st_size <= max_bytes:
            written.append(path)
            records.append(len(rows))
            continue
        path.unlink()  # the estimate was off: halve (between groups if it can) and write again
        if len(rows) == 1:
            raise OutputError.single("OUT030", f"record {rows[0] + 1} of {dataset.name} alone "
                                     f"is over {max_bytes} bytes in a file",
                                     dataset=dataset.name)
        if len(groups) > 1:
            half = len(groups) // 2
            queue[:0] = [groups[:half], groups[half:]]
        else:
            half = len(rows) // 2
            queue[:0] = [[rows[:half]], [rows[half:]]]
    return Split(dataset.name, whole, tuple(written), tuple(records), by)


def _pack(groups: list[list[int]], budget: int) -> list[list[list[int]]]:
    """Consecutive groups into pieces (each a list of groups) of at most ``budget`` records;
    a group larger than that is a run of pieces of its own, cut by records."""
    pieces: list[list[list[int]]] = []
    current: list[list[int]] = []
    size = 0
    for group in groups:
        if len(group) > budget:
            if current:
                pieces.append(current)
                current, size = [], 0
            pieces += [[group[i:i + budget]] for i in range(0, len(group), budget)]
            continue
        if size + len(group) > budget:
            pieces.append(current)
            current, size = [], 0
        current.append(group)
        size += len(group)
    if current:
        pieces.append(current)
    return pieces


# --- writing ------------------------------------------------------------------------------


@dataclass
class Package:
    """What :func:`build_package` wrote."""

    paths: PackagePaths
    files: list[Path] = field(default_factory=list)
    #: the technical rejection checks of the package as written (severity Reject)
    checks: ValidationResult | None = None
    splits: list[Split] = field(default_factory=list)
    suffix: str = ".xpt"  # the file of a dataset that define.xml points at

    def relocated(self, root: str | Path) -> Package:
        """The same package with its paths below ``root`` (where the staged folder went)."""
        old, new = self.paths.root, Path(root)

        def moved(path: Path) -> Path:
            return new / path.relative_to(old)

        return replace(self, paths=replace(self.paths, root=new, study=moved(self.paths.study),
                                           sdtm=moved(self.paths.sdtm),
                                           adam=moved(self.paths.adam)),
                       files=[moved(f) for f in self.files],
                       splits=[replace(s, whole=moved(s.whole),
                                       pieces=tuple(moved(p) for p in s.pieces))
                               for s in self.splits])


def _study(spec: Spec | StudyInfo | None, studyid: str, created: datetime | None) -> StudyInfo:
    if isinstance(spec, Spec):
        return spec.study
    if isinstance(spec, StudyInfo):
        return spec
    return StudyInfo(studyid=studyid, sdtmig_version="3.4",
                     ct_version=standards.ct_versions().get("SDTM CT", ""), data_cutoff="",
                     created=created or datetime(1960, 1, 1))


def _write_standard(tables: Mapping[str, Dataset], folder: Path, standard: str,
                    study: StudyInfo, spec: Spec | None, formats: tuple[str, ...],
                    max_bytes: int, split_by: Mapping[str, str]
                    ) -> tuple[list[Path], list[Split]]:
    """Every dataset with records in every format, its define.xml, and the split pieces."""
    from .define import write_define

    written = [t for t in tables.values() if len(t)]  # a submission leaves out empty datasets
    if not written:
        return [], []
    folder.mkdir(parents=True)
    files = write_datasets(written, folder, created=study.created, formats=formats,
                           metadata_ref="define.xml")
    leaf = ".xpt" if "xpt" in formats else f".{formats[0]}"
    files += write_define(folder, written, standard=standard, study=study, leaf_suffix=leaf,
                          spec=spec)
    splits = []
    for dataset in sorted(written, key=lambda d: d.name):
        for name in formats:
            path = folder / f"{dataset.name.lower()}{writer_for(name).suffix}"
            size = path.stat().st_size
            if size > max_bytes:
                split = split_dataset(dataset, folder, max_bytes=max_bytes,
                                      created=study.created, writer_format=name,
                                      by=split_by.get(dataset.name), whole_size=size)
                splits.append(split)
                files += split.pieces
    return files, splits


def build_package(staging: str | Path, *, studyid: str, sdtm: Mapping[str, Dataset],
                  adam: Mapping[str, Dataset] | None = None,
                  validation: ValidationResult | None = None,
                  spec: Spec | StudyInfo | None = None, formats: Sequence[str] = ("xpt",),
                  max_bytes: int | None = None, created: datetime | None = None) -> Package:
    """Write the eCTD module 5 package of one study into ``staging`` (see the module doc).

    ``sdtm``/``adam``: the datasets by name (:class:`cdisc.model.Dataset`, as
    ``convert`` makes them); ``validation``: the findings of the datasets
    (:func:`cdisc.validate.validate_datasets`), which the reviewer's guides list;
    ``spec``: the mapping spec (its study, define.xml origins and methods,
    ``submission:`` explanations, size limit and split variables) or just the
    study; ``formats``: ``xpt`` and/or ``json``/``ndjson`` (Dataset-JSON beside
    the XPT files when asked); ``max_bytes``: the size limit of a dataset file
    (default the spec's, else FDA's 5 GB). The technical rejection checks run on
    the files written (``Package.checks``) and go into the guides too.
    """
    root = Path(staging)
    paths = package_paths(studyid, root)
    study = _study(spec, studyid, created)
    full_spec = spec if isinstance(spec, Spec) else None
    submission = full_spec.submission if full_spec is not None else None
    limit = max_bytes or (submission.max_dataset_bytes if submission else None) or FDA_MAX_BYTES
    split_by = dict(submission.split_by) if submission else {}
    formats = tuple(formats)
    if paths.study.exists():
        raise OutputError.single("OUT034", f"{root} already holds {paths.study.relative_to(root)}"
                                 "; a package is written into a new (staged) folder",
                                 file=str(root))
    package = Package(paths, suffix=".xpt" if "xpt" in formats else f".{formats[0]}")
    for standard, tables in ((SDTM, sdtm), (ADAM, adam or {})):
        files, splits = _write_standard(tables, paths.folder(standard), standard, study,
                                        full_spec, formats, limit, split_by)
        package.files += files
        package.splits += splits
    if not package.files:
        raise OutputError.single("OUT033", "no dataset has records: there is nothing to "
                                 "package", file=str(root))
    package.checks = validate_package(root, max_bytes=limit, only_submission=True)
    explanations = dict(submission.explanations) if submission else {}
    for standard, tables in ((SDTM, sdtm), (ADAM, adam or {})):
        if not paths.folder(standard).is_dir():
            continue
        guide = _guide(standard, study, tables, paths, package, validation, explanations)
        for suffix, text in ((".md", render_markdown(guide)), (".html", render_html(guide))):
            path = paths.guide(standard, suffix)
            write_atomic(path, text.encode("utf-8"))
            package.files.append(path)
    return package


def write_package(staging: str | Path, *, studyid: str, sdtm: Mapping[str, Dataset],
                  adam: Mapping[str, Dataset] | None = None,
                  validation: ValidationResult | None = None,
                  spec: Spec | StudyInfo | None = None, formats: Sequence[str] = ("xpt",),
                  max_bytes: int | None = None, created: datetime | None = None) -> list[Path]:
    """The files of :func:`build_package` (for the output marker)."""
    return build_package(staging, studyid=studyid, sdtm=sdtm, adam=adam, validation=validation,
                         spec=spec, formats=formats, max_bytes=max_bytes, created=created).files


# --- the reviewer's guides ----------------------------------------------------------------

# A guide is a list of blocks, rendered as Markdown and as HTML:
# ("h1"|"h2"|"h3"|"p"|"todo", text) or ("table", header, rows).
Block = tuple[Any, ...]


def _standard_of(problem: Problem, sdtm_names: set[str], adam_names: set[str]) -> str:
    dataset = (problem.location.dataset or "").upper()
    if dataset in adam_names:
        return ADAM
    if dataset in sdtm_names:
        return SDTM
    file = (problem.location.file or "").replace("\\", "/")
    return ADAM if "/analysis/" in file or file.startswith("adam/") else SDTM


def _issues(standard: str, results: Sequence[ValidationResult], names: dict[str, set[str]],
            explanations: Mapping[str, str]) -> tuple[list[list[str]], Counter[str]]:
    """Rows of the issues summary (one per rule with findings) and the other severities."""
    rules = {r.id: r for result in results for r in result.rules}
    counted: dict[str, list[Problem]] = {}
    others: Counter[str] = Counter()
    for result in results:
        for p in result.findings:
            if _standard_of(p, names[SDTM], names[ADAM]) != standard:
                continue
            if p.severity in _LISTED:
                counted.setdefault(p.code, []).append(p)
            else:
                others[p.severity.value] += 1
    rows = []
    order = sorted(counted, key=lambda rid: (counted[rid][0].severity.rank, rid))
    for rid in order:
        found = counted[rid]
        rule = rules.get(rid)
        datasets = sorted({p.location.dataset for p in found if p.location.dataset})
        message = rule.message if rule is not None else found[0].message
        severity = found[0].severity
        default = ("Must be corrected before submission: the agency does not receive a "
                   "package with this finding." if severity is Severity.REJECT else EXPLAIN)
        rows.append([rid, ", ".join(datasets) or "-", message, severity_label(severity),
                     str(len(found)), explanations.get(rid, default)])
    return rows, others


def _datasets_table(tables: Mapping[str, Dataset], suffix: str,
                    splits: Sequence[Split]) -> list[list[str]]:
    split_of = {s.dataset: s for s in splits}
    rows = []
    for name in sorted(tables):
        table = tables[name]
        if not len(table):
            continue
        meta = table.meta
        file = f"{name.lower()}{suffix}"
        if name in split_of:
            pieces = ", ".join(p.name for p in split_of[name].pieces)
            file += f" (split: {pieces})"
        rows.append([name, table.label, meta.dataset_class or "-", meta.structure or "-",
                     str(len(table)), file])
    return rows


def _inventory(study: StudyInfo, standard: str) -> list[list[str]]:
    ct = ", ".join(f"{package} {version}" for package, version
                   in sorted(standards.ct_versions().items()))
    rows = [["SDTM Implementation Guide (SDTMIG)", study.sdtmig_version]]
    if standard == ADAM:
        rows.append(["ADaM Implementation Guide (ADaMIG)", study.adamig_version])
    rows += [["CDISC Controlled Terminology", ct or study.ct_version],
             ["Define-XML", "2.1"],
             ["Data exchange format", "SAS XPORT version 5 (Dataset-JSON 1.1 where provided)"],
             ["Medical and drug dictionaries (MedDRA, WHODrug, ...)", TODO]]
    return rows


def _conformance(section: int, standard: str, study: StudyInfo,
                 results: Sequence[ValidationResult], names: dict[str, set[str]],
                 explanations: Mapping[str, str]) -> list[Block]:
    rows, others = _issues(standard, results, names, explanations)
    rule_count = len({r.id for result in results for r in result.rules})
    ct = next((r.ct_version for r in results if getattr(r, "ct_version", "")), "") or \
        study.ct_version
    blocks: list[Block] = [
        ("h3", f"{section}.1 Conformance Inputs"),
        ("p", f"Validated with cdisc-convert {__version__}: {rule_count} conformance rules "
              f"(SDTMIG/ADaMIG structure and CDISC CORE / FDA business rules they cite, "
              f"define.xml against the data, and the FDA technical rejection criteria 1734 "
              f"and 1736 on this package), controlled terminology {ct}, the define.xml of "
              "this folder."),
        ("todo", "Other validators run (e.g. Pinnacle 21 Enterprise, CDISC CORE) and their "
                 f"versions: {TODO}"),
        ("h3", f"{section}.2 Issues Summary"),
    ]
    if rows:
        blocks += [("p", "Findings that remain in the submitted data, one row per rule, with "
                         "the sponsor's explanation (the spec's submission: explanations:)."),
                   ("table", ["Rule ID", "Dataset", "Message", "Severity", "Count",
                              "Explanation"], rows)]
    else:
        blocks.append(("p", "No rejects, errors or warnings remain."))
    if others:
        blocks.append(("p", "Not listed: " + ", ".join(
            f"{n} {severity_label(s).lower()}(s)" for s, n in sorted(others.items())) + "."))
    return blocks


def _split_blocks(splits: Sequence[Split], paths: PackagePaths, standard: str) -> list[Block]:
    mine = [s for s in splits if s.whole.parent == paths.folder(standard)]
    if not mine:
        return [("p", "No dataset is over the size limit; none is split.")]
    rows = [[s.dataset, s.whole.name,
             ", ".join(f"{p.name} ({n} records)" for p, n in zip(s.pieces, s.records,
                                                                  strict=True)),
             s.by or "records, in the dataset's order"] for s in mine]
    return [("p", f"Datasets over the size limit are also provided split into smaller "
                  f"datasets of the same structure in the {SPLIT_FOLDER}/ folder (FDA Study "
                  "Data Technical Conformance Guide 3.3.2); stacked in order, the pieces give "
                  "the whole dataset."),
            ("table", ["Dataset", "Whole file", "Split files", "Split by"], rows)]


def _guide(standard: str, study: StudyInfo, tables: Mapping[str, Dataset], paths: PackagePaths,
           package: Package, validation: ValidationResult | None,
           explanations: Mapping[str, str]) -> list[Block]:
    results = [r for r in (validation, package.checks) if r is not None]
    names = {SDTM: {n.upper() for n in (d.name for r in results for d in r.datasets
                                        if d.standard == SDTM)},
             ADAM: {n.upper() for n in (d.name for r in results for d in r.datasets
                                        if d.standard == ADAM)}}
    names[SDTM if standard == SDTM else ADAM] |= {n.upper() for n in tables}
    title = ("Clinical Study Data Reviewer's Guide" if standard == SDTM
             else "Analysis Data Reviewer's Guide")
    header = [("h1", title),
              ("p", f"Study {study.studyid}" + (f": {study.title}" if study.title else "")),
              ("p", f"Sponsor: {study.sponsor or TODO}"),
              ("p", f"Skeleton written by cdisc-convert {__version__} from the data of "
                    f"{study.created.date().isoformat()}; complete the parts marked {TODO}, "
                    f"then provide it as {CSDRG if standard == SDTM else ADRG}.pdf.")]
    datasets = ("table", ["Dataset", "Label", "Class", "Structure", "Records", "File"],
                _datasets_table(tables, package.suffix, package.splits))
    splits = _split_blocks(package.splits, paths, standard)
    if standard == SDTM:
        trial_design = sorted(n for n, t in tables.items() if len(t)
                              and t.meta.dataset_class.upper() == "TRIAL DESIGN")
        return [
            *header,
            ("h2", "1. Introduction"),
            ("h3", "1.1 Purpose"),
            ("p", "This guide describes the SDTM datasets of the study for the reviewer: the "
                  "standards used, the datasets, and the conformance findings that remain."),
            ("h3", "1.2 Study Data Standards and Dictionary Inventory"),
            ("table", ["Standard or Dictionary", "Version"], _inventory(study, SDTM)),
            ("h3", "1.3 Source Data Used for Dataset Creation"),
            ("todo", f"Data collection (CRFs, external data) and how it was mapped: {TODO}"),
            ("h2", "2. Protocol Description"),
            ("h3", "2.1 Protocol Number and Title"),
            ("p", f"{study.studyid}" + (f": {study.title}" if study.title else "")),
            ("h3", "2.2 Protocol Design"),
            ("todo", TODO),
            ("h3", "2.3 Trial Design Datasets"),
            ("p", ("Trial design datasets provided: " + ", ".join(trial_design) + ".")
             if trial_design else "No trial design datasets are provided."),
            ("h2", "3. Subject Data Description"),
            ("h3", "3.1 Overview"),
            ("todo", TODO),
            ("h3", "3.2 Annotated CRFs"),
            ("todo", f"The annotated CRF (acrf.pdf): {TODO}"),
            ("h3", "3.3 SDTM Datasets"),
            datasets,
            ("h3", "3.4 Split Datasets"),
            *splits,
            ("h2", "4. Data Conformance Summary"),
            *_conformance(4, standard, study, results, names, explanations),
            ("h2", "5. Appendix"),
            ("todo", TODO),
        ]
    return [
        *header,
        ("h2", "1. Introduction"),
        ("h3", "1.1 Purpose"),
        ("p", "This guide describes the ADaM datasets of the study for the reviewer: the "
              "standards used, the datasets, and the conformance findings that remain."),
        ("h3", "1.2 Study Data Standards and Dictionary Inventory"),
        ("table", ["Standard or Dictionary", "Version"], _inventory(study, ADAM)),
        ("h3", "1.3 Source Data Used for Analysis Dataset Creation"),
        ("p", "The ADaM datasets are derived from the SDTM datasets of this study "
              "(m5/datasets/" + paths.study.name + "/tabulations/sdtm)."),
        ("h2", "2. Protocol Description"),
        ("h3", "2.1 Protocol Number and Title"),
        ("p", f"{study.studyid}" + (f": {study.title}" if study.title else "")),
        ("h3", "2.2 Protocol Design in Relation to ADaM Concepts"),
        ("todo", TODO),
        ("h2", "3. Analysis Considerations Related to Multiple Analysis Datasets"),
        ("todo", f"Core variables, treatment variables, subject populations: {TODO}"),
        ("h2", "4. Analysis Data Creation and Processing Issues"),
        ("h3", "4.1 Split Datasets"),
        *splits,
        ("h2", "5. Analysis Dataset Descriptions"),
        ("h3", "5.1 Overview"),
        ("todo", TODO),
        ("h3", "5.2 Analysis Datasets"),
        datasets,
        ("h2", "6. Data Conformance Summary"),
        *_conformance(6, standard, study, results, names, explanations),
        ("h2", "7. Submission of Programs"),
        ("todo", TODO),
    ]


# --- rendering ----------------------------------------------------------------------------

#: characters that would start Markdown emphasis, code, links, headings, HTML or a table cell
_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|#"})


def _md(text: Any) -> str:
    return " ".join(str(text).split()).translate(_MD_SPECIAL)


def render_markdown(blocks: Sequence[Block]) -> str:
    """The guide as Markdown (CommonMark with pipe tables)."""
    out: list[str] = []
    for kind, *rest in blocks:
        if kind in ("h1", "h2", "h3"):
            out += ["#" * int(kind[1]) + " " + _md(rest[0]), ""]
        elif kind == "p":
            out += [_md(rest[0]), ""]
        elif kind == "todo":
            out += ["> " + _md(rest[0]), ""]
        elif kind == "table":
            head, rows = rest
            out.append("| " + " | ".join(_md(h) for h in head) + " |")
            out.append("|" + "|".join("---" for _ in head) + "|")
            out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


_CSS = """\
@page { size: letter; margin: 1in 0.8in; }
body { font-family: "Times New Roman", Times, serif; font-size: 11pt; line-height: 1.35;
       color: #000; max-width: 7in; margin: 0 auto; }
h1 { font-size: 18pt; margin: 0 0 0.6em; }
h2 { font-size: 14pt; margin: 1.4em 0 0.4em; page-break-after: avoid; }
h3 { font-size: 12pt; margin: 1em 0 0.3em; page-break-after: avoid; }
table { border-collapse: collapse; width: 100%; margin: 0.4em 0 1em; font-size: 9.5pt; }
th, td { border: 1px solid #444; padding: 3px 5px; text-align: left; vertical-align: top; }
th { background: #e6e6e6; }
thead { display: table-header-group; }
tr { page-break-inside: avoid; }
.todo { border-left: 3px solid #b00; padding-left: 8px; color: #600; font-style: italic; }
@media print { body { max-width: none; } }
"""


def _h(text: Any) -> str:
    return html.escape(" ".join(str(text).split()), quote=True)


def render_html(blocks: Sequence[Block]) -> str:
    """The guide as one self-contained HTML page, ready to print to PDF."""
    title = next((rest[0] for kind, *rest in blocks if kind == "h1"), "Reviewer's Guide")
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>{_h(title)}</title>", f"<style>\n{_CSS}</style>", "</head>", "<body>"]
    for kind, *rest in blocks:
        if kind in ("h1", "h2", "h3"):
            out.append(f"<{kind}>{_h(rest[0])}</{kind}>")
        elif kind == "p":
            out.append(f"<p>{_h(rest[0])}</p>")
        elif kind == "todo":
            out.append(f'<p class="todo">{_h(rest[0])}</p>')
        elif kind == "table":
            head, rows = rest
            out.append("<table>")
            out.append("<thead><tr>" + "".join(f"<th>{_h(h)}</th>" for h in head)
                       + "</tr></thead>")
            out.append("<tbody>")
            out += ["<tr>" + "".join(f"<td>{_h(c)}</td>" for c in row) + "</tr>"
                    for row in rows]
            out.append("</tbody></table>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


__all__ = ["Package", "PackagePaths", "Split", "build_package", "check_package_target",
           "package_paths", "render_html", "render_markdown", "split_dataset", "study_folder",
           "write_package"]

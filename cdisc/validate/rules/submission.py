"""Technical rejection checks of an eCTD module 5 study data package (severity Reject).

FDA's inbound processing validates every eCTD submission against the
*Specifications for eCTD Validation Criteria*; the study data criteria of the
*Technical Rejection Criteria for Study Data* are "high" errors: a submission
that fails one is not received (rejected before anyone reads it, effective
15 September 2021). These rules check a package folder laid out as the FDA
Study Data Technical Conformance Guide (TCG) describes::

    m5/datasets/<study>/tabulations/sdtm/            SDTM datasets, define.xml
    m5/datasets/<study>/analysis/adam/datasets/      ADaM datasets, define.xml
    .../split/                                       pieces of a dataset over the size limit

and run only in :func:`cdisc.validate.engine.validate_package` (``cdisc validate
--package``, ``cdisc convert --package``); a folder of datasets is not a
package, so :func:`~cdisc.validate.engine.validate_datasets` leaves them out.

The criteria implemented (Specifications for eCTD Validation Criteria v3.8+):

* **1734**: a dataset named ``ts.xpt`` with the study start date (TSPARMCD
  SSTDTC, TSVAL a valid ISO 8601 date) must be present for each study
  (CV1301, CV1302);
* **1736**: for SDTM data a DM dataset and define.xml, for ADaM data an ADSL
  dataset and define.xml must be submitted in module 5 (CV1303, CV1304, CV1305);
* **1735** (the correct STF file-tags for the datasets and define.xml) needs the
  study tagging file, which is not part of the data package: not checked.

and, at the same severity because the issue that asked for them treats them as
a package that cannot be received: every dataset define.xml describes exists and
every dataset file is described (CV1306, CV1307; TCG 4.1.4.5), file names are
lower case and at most 8 characters (CV1308; TCG 3.3.1/SAS XPORT v5, and the
dataset inside a transport file is named as the file), and no dataset file is
over the size limit unless split as TCG 3.3.2 describes (CV1309; FDA business
rule FB2401 / CORE-000765). Each package fact the rules need is gathered once
by :func:`scan_study` and put on the study (``study.package``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from ...errors import CdiscError, Location, Problem, Severity
from ...formats import READERS
from ..define_checks import DEFINE_FILE, DefineFile
from ..frames import strings
from ..registry import rule

#: the folders of a package, below ``m5/datasets/<study>/`` (TCG section 7, eCTD module 5)
SDTM_FOLDER = ("tabulations", "sdtm")
ADAM_FOLDER = ("analysis", "adam", "datasets")
M5_DATASETS = ("m5", "datasets")
#: the sub-folder of a standard's folder that holds the pieces of split datasets (TCG 3.3.2)
SPLIT_FOLDER = "split"
#: FDA's limit for one dataset file (TCG 3.3.2: 5 GB); 5 * 10**9 bytes also keeps under 5 GiB
FDA_MAX_BYTES = 5_000_000_000
#: dataset file names: lower case, a letter first, at most 8 characters (TCG; SAS XPORT v5)
FILE_STEM = re.compile(r"[a-z][a-z0-9]{0,7}\Z")
_SPLIT_PIECE = re.compile(r"(?P<whole>[a-z][a-z0-9]*?)(?P<n>[1-9][0-9]*)\Z")

#: how a criterion is cited: "FDA eCTD validation criterion 1734 (Technical Rejection ...)"
TRC = "FDA eCTD validation criterion {} (Technical Rejection Criteria for Study Data)"
TCG = "FDA Study Data Technical Conformance Guide"


@dataclass
class StandardFolder:
    """One standard's folder of a study in the package."""

    standard: str  # "SDTM" / "ADaM"
    path: str  # relative to the package root, '/'-separated
    exists: bool
    #: dataset files at the top of the folder, relative to the package root
    dataset_files: list[str] = field(default_factory=list)
    #: dataset files in its split/ sub-folder, relative to the package root
    split_files: list[str] = field(default_factory=list)
    #: its define.xml as read (None when there is none); set by the engine
    define: DefineFile | None = None


@dataclass
class StudyPackage:
    """What the rejection rules know of one study folder (``m5/datasets/<study>``)."""

    root: Path  # the package root (holds m5/)
    folder: str  # m5/datasets/<study>, relative to the root
    standards: dict[str, StandardFolder]  # "SDTM" / "ADaM" -> its folder
    max_bytes: int = FDA_MAX_BYTES
    #: dataset name -> file read for it, relative to the root; set by the engine
    files: dict[str, str] = field(default_factory=dict)
    #: dataset name -> standard of the folder it came from; set by the engine
    standard_of: dict[str, str] = field(default_factory=dict)

    def size(self, relative: str) -> int:
        return (self.root / relative).stat().st_size


def m5_datasets(path: str | Path) -> Path:
    """The ``m5/datasets`` folder of a package given as its root, ``m5`` or ``m5/datasets``."""
    base = Path(path)
    if not base.is_dir():
        raise CdiscError.single("VAL001", "not a folder", file=str(path))
    for candidate in (base / "m5" / "datasets", base / "datasets", base):
        if (candidate.name == "datasets" and candidate.parent.name == "m5"
                and candidate.is_dir()):
            return candidate
    raise CdiscError.single("VAL010", "not an eCTD study data package: no m5/datasets folder "
                            "(give the folder that holds m5/)", file=str(path))


def find_studies(path: str | Path) -> tuple[Path, list[Path]]:
    """The package root (the folder holding ``m5``) and its study folders, sorted."""
    datasets = m5_datasets(path)
    studies = sorted(p for p in datasets.iterdir()
                     if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))
    if not studies:
        raise CdiscError.single("VAL010", "no study folder in m5/datasets", file=str(datasets))
    return datasets.parent.parent, studies


def _dataset_files(folder: Path, root: Path) -> list[str]:
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        reader = READERS.get(path.suffix.lower())
        if path.is_file() and reader is not None and reader.accepts(path):
            found.append(path.relative_to(root).as_posix())
    return found


def scan_study(root: Path, study: Path, max_bytes: int = FDA_MAX_BYTES) -> StudyPackage:
    """The folders and dataset files of one study folder (nothing is read but names)."""
    folders = {}
    for standard, parts in (("SDTM", SDTM_FOLDER), ("ADaM", ADAM_FOLDER)):
        folder = study.joinpath(*parts)
        folders[standard] = StandardFolder(
            standard, folder.relative_to(root).as_posix(), folder.is_dir(),
            _dataset_files(folder, root), _dataset_files(folder / SPLIT_FOLDER, root))
    return StudyPackage(root, study.relative_to(root).as_posix(), folders, max_bytes)


# --- helpers ------------------------------------------------------------------------


def _package(study: Mapping[str, pd.DataFrame]) -> StudyPackage | None:
    return getattr(study, "package", None)


def _names(package: StudyPackage, standard: str) -> set[str]:
    return {name for name, std in package.standard_of.items() if std == standard}


def _reject(rule_id: str, message: str, **where: object) -> Problem:
    return Problem(rule_id, message, Location(**where), Severity.REJECT)  # type: ignore[arg-type]


def _iso_date(value: str) -> bool:
    """A complete ISO 8601 calendar date (YYYY-MM-DD) that exists."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _split_whole(piece: str) -> str | None:
    """``lb2`` -> ``lb`` (the dataset a split piece belongs to); None for another name."""
    match = _SPLIT_PIECE.match(Path(piece).stem)
    return match.group("whole") if match else None


# --- FDA technical rejection criteria -----------------------------------------------


@rule("CV1301", Severity.REJECT, "Trial Summary dataset ts.xpt is missing",
      f"{TRC.format(1734)}: a dataset named ts.xpt with the study start date must be present "
      f"for each study; {TCG} (Trial Summary dataset and study start date)",
      category="Presence")
def ts_present(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    package = _package(datasets)
    if package is None or "TS" in _names(package, "SDTM"):
        return []
    sdtm = package.standards["SDTM"]
    return [_reject("CV1301", f"no TS dataset (ts.xpt) in {sdtm.path}: FDA rejects a study "
                    "without one (technical rejection criterion 1734)",
                    file=f"{sdtm.path}/ts.xpt", dataset="TS")]


@rule("CV1302", Severity.REJECT, "TS has no study start date (TSPARMCD SSTDTC with an ISO 8601 "
      "date in TSVAL)",
      f"{TRC.format(1734)}: TSPARMCD = SSTDTC, TSVAL a valid ISO 8601 date; SDTMIG 3.4 section "
      "7.6.1 (Trial Summary)", category="Presence")
def study_start_date(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    package = _package(datasets)
    if package is None or "TS" not in _names(package, "SDTM"):
        return []
    ts = datasets["TS"]
    file = package.files.get("TS")
    if "TSPARMCD" not in ts.columns or "TSVAL" not in ts.columns:
        return [_reject("CV1302", "TS has no TSPARMCD/TSVAL variables, so no study start date",
                        file=file, dataset="TS")]
    codes = strings(ts["TSPARMCD"])
    values = strings(ts["TSVAL"])
    rows = [i for i in range(len(ts)) if codes.iat[i] == "SSTDTC"]
    if not rows:
        return [_reject("CV1302", "TS has no record with TSPARMCD SSTDTC (study start date)",
                        file=file, dataset="TS", field="TSPARMCD")]
    if any(values.iat[i] is not None and _iso_date(values.iat[i]) for i in rows):
        return []
    return [_reject("CV1302", "TSVAL of SSTDTC is not a complete ISO 8601 date (YYYY-MM-DD)"
                    if values.iat[i] is not None else "TSVAL of SSTDTC is empty",
                    file=file, dataset="TS", record=i + 1, field="TSVAL", value=values.iat[i])
            for i in rows]


@rule("CV1303", Severity.REJECT, "Demographics dataset dm.xpt is missing",
      f"{TRC.format(1736)}: for SDTM data a DM dataset and define.xml must be submitted in "
      "module 5",
      category="Presence")
def dm_present(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    package = _package(datasets)
    if package is None or "DM" in _names(package, "SDTM"):
        return []
    sdtm = package.standards["SDTM"]
    return [_reject("CV1303", f"no DM dataset (dm.xpt) in {sdtm.path}: FDA rejects SDTM data "
                    "without one (technical rejection criterion 1736)",
                    file=f"{sdtm.path}/dm.xpt", dataset="DM")]


def _has_adam(package: StudyPackage) -> bool:
    adam = package.standards["ADaM"]
    return adam.exists and bool(adam.dataset_files or adam.split_files or adam.define)


@rule("CV1304", Severity.REJECT, "define.xml is missing (or not a readable define.xml) for a "
      "standard's datasets",
      f"{TRC.format(1736)}: define.xml must be submitted with the SDTM and with the ADaM data; "
      f"{TCG} section 4.1.4.5", category="Presence")
def define_present(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    package = _package(datasets)
    if package is None:
        return []
    out = []
    for folder in package.standards.values():
        if folder.standard == "ADaM" and not _has_adam(package):
            continue
        where = f"{folder.path}/{DEFINE_FILE}"
        if folder.define is None:
            out.append(_reject("CV1304", f"no {DEFINE_FILE} for the {folder.standard} datasets "
                               f"in {folder.path} (technical rejection criterion 1736)",
                               file=where))
        elif folder.define.document is None:
            out.append(_reject("CV1304", f"{where} cannot be read as a define.xml: "
                               + "; ".join(p.message for p in folder.define.read_problems[:1]),
                               file=where))
    return out


@rule("CV1305", Severity.REJECT, "ADaM data without the subject-level dataset adsl.xpt",
      f"{TRC.format(1736)}: for ADaM data an ADSL dataset and define.xml must be submitted in "
      "module 5; ADaMIG 1.3 section 3.1", category="Presence")
def adsl_present(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    package = _package(datasets)
    if package is None or not _has_adam(package) or "ADSL" in _names(package, "ADaM"):
        return []
    adam = package.standards["ADaM"]
    return [_reject("CV1305", f"{adam.path} holds ADaM data but no ADSL dataset (adsl.xpt): "
                    "FDA rejects ADaM data without one (technical rejection criterion 1736)",
                    file=f"{adam.path}/adsl.xpt", dataset="ADSL")]


# --- the package agrees with its define.xml -----------------------------------------


@rule("CV1306", Severity.REJECT, "define.xml describes a dataset whose file is not in the "
      "package",
      f"{TCG} section 4.1.4.5 (define.xml describes the datasets submitted); Define-XML 2.1 "
      "def:leaf (def:HasNoData for a dataset without records)", category="Cross-reference")
def described_exist(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    package = _package(datasets)
    if package is None:
        return []
    out = []
    for folder in package.standards.values():
        define = folder.define
        if define is None or define.document is None:
            continue
        here = (package.root / folder.path)
        for name, described in define.document.datasets.items():
            if described.has_no_data:
                continue
            leaf = described.leaf or f"{name.lower()}.xpt"
            if "://" in leaf or not (here / leaf).is_file():
                out.append(_reject("CV1306", f"{name} is described in {folder.path}/"
                                   f"{DEFINE_FILE} but its file {leaf!r} is not in the package",
                                   file=f"{folder.path}/{DEFINE_FILE}", line=described.line,
                                   dataset=name, value=leaf))
    return out


@rule("CV1307", Severity.REJECT, "Dataset file of the package is not described in define.xml",
      f"{TCG} section 4.1.4.5 (every submitted dataset is described in define.xml); "
      "Define-XML 2.1 ItemGroupDef", category="Cross-reference")
def files_described(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    package = _package(datasets)
    if package is None:
        return []
    out = []
    for folder in package.standards.values():
        define = folder.define
        if define is None or define.document is None:
            continue
        described = {d.name.upper() for d in define.document.datasets.values()}
        leaves = {Path(d.leaf).name.lower() for d in define.document.datasets.values()
                  if d.leaf}
        read_as = {f: n for n, f in package.files.items()}
        for file in folder.dataset_files:
            # by its file name (dm.json beside dm.xpt too) or the dataset read from it
            stem = Path(file).stem.upper()
            name = read_as.get(file)
            if stem in described or name in described or Path(file).name.lower() in leaves:
                continue
            out.append(_reject("CV1307", f"{file} is not described in {folder.path}/"
                               f"{DEFINE_FILE}", file=file, dataset=name or stem))
    return out


# --- file names and sizes -----------------------------------------------------------


@rule("CV1308", Severity.REJECT, "Dataset file name is not lower case, 1-8 letters and digits "
      "(or differs from the dataset inside)",
      f"{TCG} section 3.3 (SAS XPORT v5 transport files: dataset names of at most 8 "
      "characters, file names in lower case, the dataset in a file named as the file)",
      category="Format")
def file_names(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    package = _package(datasets)
    if package is None:
        return []
    out = []
    for folder in package.standards.values():
        for file in (*folder.dataset_files, *folder.split_files):
            path = Path(file)
            if not FILE_STEM.match(path.stem) or path.suffix != path.suffix.lower():
                out.append(_reject("CV1308", f"file name {path.name!r} is not lower case letters "
                                   "and digits, starting with a letter, at most 8 characters "
                                   "before the extension", file=file, value=path.name))
    for name, file in sorted(package.files.items()):
        if Path(file).stem.upper() != name:
            out.append(_reject("CV1308", f"{Path(file).name} holds dataset {name}; the file "
                               "and the dataset inside must have the same name",
                               file=file, dataset=name, value=Path(file).name))
    return out


@rule("CV1309", Severity.REJECT, "Dataset file is larger than the size limit and not split",
      f"{TCG} section 3.3.2 (datasets over 5 GB are split into smaller datasets, in a split "
      "sub-folder); FDA business rule FB2401 (FDAB024, CORE-000765)", category="Limit")
def file_sizes(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    package = _package(datasets)
    if package is None:
        return []
    limit = package.max_bytes
    out = []
    for folder in package.standards.values():
        pieces: dict[tuple[str, str], list[str]] = {}
        for file in folder.split_files:
            whole = _split_whole(file)
            if whole is not None:
                pieces.setdefault((whole, Path(file).suffix.lower()), []).append(file)
            size = package.size(file)
            if size > limit:
                out.append(_reject("CV1309", f"split piece {file} is {size} bytes, over the "
                                   f"limit of {limit}", file=file, value=size))
        for file in folder.dataset_files:
            size = package.size(file)
            if size <= limit:
                continue
            if pieces.get((Path(file).stem.lower(), Path(file).suffix.lower())):
                continue  # split as TCG 3.3.2 asks: the pieces are in split/
            out.append(_reject("CV1309", f"{file} is {size} bytes, over the limit of {limit}, "
                               f"and no pieces of it are in {folder.path}/{SPLIT_FOLDER}/",
                               file=file, value=size))
    return out


#: the module's rules run only on a package (see the module docstring)
PACKAGE_FAMILY = __name__.rsplit(".", 1)[-1]

__all__ = ["ADAM_FOLDER", "FDA_MAX_BYTES", "FILE_STEM", "M5_DATASETS", "PACKAGE_FAMILY",
           "SDTM_FOLDER", "SPLIT_FOLDER", "StandardFolder", "StudyPackage", "find_studies",
           "m5_datasets", "scan_study"]

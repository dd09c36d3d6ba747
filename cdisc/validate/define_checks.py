"""define.xml checks: the schema, and define.xml against the datasets beside it.

``cdisc validate`` runs these when the folder holds a ``define.xml`` (at its
top or beside the datasets, e.g. ``sdtm/define.xml``): each define.xml is
checked against the Define-XML 2.1 schema (the official XSD package as the
``defineutils`` dependency ships it) and against the datasets in its own
folder: every dataset and variable of the data is described and every one
described exists; lengths, labels and data types agree; every value used of
a variable with a codelist (or of a value-level item with one) is a term of
it. Each disagreement is one finding at the define.xml line (or the dataset
file) it concerns.

:func:`load_defines` reads the define.xml files of a folder once; the engine
puts them on the :class:`~cdisc.validate.study.Study` (``study.defines``) and
the rules below read them from there, so a run without a define.xml is not
changed. The checks use only the foundation (:mod:`cdisc.formats.define_xml`
reads the XML), never the code that writes define.xml.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import CdiscError, Location, Problem, Severity
from ..formats import define_xml
from ..formats.define_xml import DefineDocument, SchemaError, Variable, WhereClause
from .frames import distinct, is_in, not_null, numbers, strings, text
from .registry import rule

DEFINE_FILE = "define.xml"
TCG = "FDA Study Data Technical Conformance Guide section 4.1.4.5 (Data Definition File)"
#: define.xml data types a character (XPT Char) variable may have
CHAR_TYPES = frozenset({"text", "date", "datetime", "time", "partialDate", "partialTime",
                        "partialDatetime", "incompleteDatetime", "incompleteDate",
                        "incompleteTime", "durationDatetime", "intervalDatetime", "URI",
                        "string"})
NUM_TYPES = frozenset({"integer", "float", "double"})


@dataclass
class DataFile:
    """One dataset beside a define.xml: its frame and what its file says about it."""

    name: str
    file: str  # relative to the validated folder, '/'-separated
    frame: pd.DataFrame
    label: str | None = None  # None: the format keeps no label
    labels: dict[str, str] | None = None  # variable -> label
    lengths: dict[str, int] | None = None  # character variable -> bytes stored


@dataclass
class DefineFile:
    """A define.xml of the validated folder and the datasets it describes."""

    file: str  # relative to the validated folder
    document: DefineDocument | None = None
    #: problems reading it (not XML, not a define.xml)
    read_problems: list[Problem] = field(default_factory=list)
    #: schema violations; None when no schema is installed
    schema: list[SchemaError] | None = None
    datasets: dict[str, DataFile] = field(default_factory=dict)


# --- reading ------------------------------------------------------------------------


def _xpt_header(path: Path) -> tuple[str | None, dict[str, str], dict[str, int]] | None:
    """The dataset label, variable labels and character lengths of an XPT file's header."""
    import pyreadstat

    try:
        _, meta = pyreadstat.read_xport(str(path), metadataonly=True)
    except Exception:  # the folder reader reported an unreadable file already
        return None
    names = list(meta.column_names)
    labels = {c: (lab or "") for c, lab in zip(names, meta.column_labels, strict=True)}
    lengths = {c: int(meta.variable_storage_width[c]) for c in names
               if meta.readstat_variable_types[c] == "string"}
    return meta.file_label or "", labels, lengths


#: file suffix -> reader of the metadata a dataset file keeps beside its values
HEADER_READERS = {".xpt": _xpt_header}


def data_file(name: str, file: str, frame: pd.DataFrame, path: Path | None) -> DataFile:
    """A dataset file with the labels and lengths its format keeps (none for CSV)."""
    header = None
    if path is not None:
        reader = HEADER_READERS.get(path.suffix.lower())
        header = reader(path) if reader else None
    if header is None:
        return DataFile(name, file, frame)
    label, labels, lengths = header
    return DataFile(name, file, frame, label, labels, lengths)


def load_define(file: str, source: Path | bytes, datasets: Mapping[str, DataFile],
                schema_folder: Path | None = None) -> DefineFile:
    """Read and schema-check one define.xml; ``datasets`` are the data files it describes."""
    out = DefineFile(file, datasets=dict(datasets))
    try:
        tree = define_xml.parse(source)
        out.document = define_xml.read_define(tree)
    except CdiscError as exc:
        out.read_problems = [Problem(p.code, p.message, Location(
            file=file, line=p.location.line, column=p.location.column)) for p in exc.problems]
        return out
    if schema_folder is not None or define_xml.schema_available():
        out.schema = define_xml.schema_errors(tree, folder=schema_folder)
    return out


def load_defines(root: str | Path, frames: Mapping[str, pd.DataFrame],
                 files: Mapping[str, str]) -> list[DefineFile]:
    """Every define.xml under ``root`` (hidden folders skipped) with the datasets beside it.

    ``frames`` and ``files`` are what :func:`cdisc.formats.folder.read_dataset_folder`
    read: dataset name -> frame and -> file relative to ``root``.
    """
    base = Path(root)
    found = sorted(p for p in base.rglob(DEFINE_FILE) if p.is_file() and not any(
        part.startswith(".") for part in p.relative_to(base).parts))
    out = []
    for path in found:
        relative = path.relative_to(base)
        folder = relative.parent
        define = load_define(relative.as_posix(), path, {})
        # the datasets beside it, and any its def:leaf elements point at elsewhere
        leaves = set()
        if define.document is not None:
            leaves = {(folder / d.leaf).as_posix() for d in define.document.datasets.values()
                      if d.leaf and "://" not in d.leaf}
        define.datasets = {name: data_file(name, rel, frames[name], base / rel)
                           for name, rel in files.items() if name in frames
                           and (Path(rel).parent == folder or rel in leaves)}
        out.append(define)
    return out


# --- helpers ------------------------------------------------------------------------


def _defines(study: Mapping[str, pd.DataFrame]) -> list[DefineFile]:
    return list(getattr(study, "defines", None) or ())


def _documents(study: Mapping[str, pd.DataFrame]) -> Iterator[tuple[DefineFile, DefineDocument]]:
    for define in _defines(study):
        if define.document is not None:
            yield define, define.document


def _at(define: DefineFile, line: int | None, **where: object) -> Location:
    return Location(file=define.file, line=line, **where)  # type: ignore[arg-type]


def _matched(define: DefineFile, doc: DefineDocument) -> Iterator[tuple[DataFile,
                                                                         define_xml.Dataset]]:
    for name, data in sorted(define.datasets.items()):
        described = doc.datasets.get(name)
        if described is not None:
            yield data, described


def _text(series: pd.Series) -> pd.Series:
    """Values as define.xml writes them: text without trailing blanks, numbers as ``3``/``2.5``."""
    return strings(series)


def _column_text(frame: pd.DataFrame, name: str) -> pd.Series:
    """:func:`_text` of column ``name``: the run's text of it (computed once per run)."""
    return text(frame, name) if frame.columns.is_unique else _text(frame[name])


def _where_mask(frame: pd.DataFrame, where: tuple[WhereClause, ...]) -> pd.Series | None:
    """Records a value-level item applies to (None when a condition names no column here)."""
    mask = pd.Series(True, index=frame.index)
    for clause in where:
        for check in clause.checks:
            if check.variable is None or check.variable not in frame:
                return None
            values = _column_text(frame, check.variable)
            comparator = check.comparator.upper()
            if comparator in ("EQ", "IN"):
                hit = pd.Series(is_in(values, check.values), index=frame.index)
            elif comparator in ("NE", "NOTIN"):
                hit = pd.Series(not_null(values) & ~is_in(values, check.values),
                                index=frame.index)
            else:
                num = numbers(frame[check.variable])
                try:
                    ref = float(check.values[0]) if check.values else np.nan
                except ValueError:
                    return None
                ops = {"LT": num < ref, "LE": num <= ref, "GT": num > ref, "GE": num >= ref}
                if comparator not in ops:
                    return None
                hit = ops[comparator]
            mask &= hit.fillna(False).astype(bool)
    return mask


# --- the rules ----------------------------------------------------------------------


@rule("CV1200", Severity.NOTICE, "define.xml was not checked against the Define-XML 2.1 "
      "schema: the schema package is not installed",
      "Define-XML 2.1 XSD package (installed with the defineutils dependency)", category="Metadata")
def schema_missing(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    return [Problem("CV1200", "the Define-XML 2.1 schema is not installed (pip install "
                    "defineutils); the schema check did not run", Location(file=d.file),
                    Severity.NOTICE)
            for d in _defines(datasets) if d.document is not None and d.schema is None]


@rule("CV1201", Severity.ERROR, "define.xml is not valid against the Define-XML 2.1 schema",
      f"Define-XML 2.1 (CDISC XSD package, ODM 1.3.2 with the def: extensions); {TCG}",
      category="Metadata")
def schema_valid(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out = []
    for define in _defines(datasets):
        out += [Problem("CV1201", p.message, p.location) for p in define.read_problems]
        for error in define.schema or ():
            out.append(Problem("CV1201", error.message,
                               Location(file=define.file, line=error.line, column=error.column)))
    return out


@rule("CV1202", Severity.ERROR, "Dataset is not described in define.xml",
      f"Define-XML 2.1 ItemGroupDef: one per dataset of the submission; {TCG}", category="Metadata")
def dataset_described(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out = []
    for define, doc in _documents(datasets):
        for name, data in sorted(define.datasets.items()):
            if name not in doc.datasets:
                out.append(Problem("CV1202", f"dataset {name} is not in {define.file}",
                                   Location(file=data.file, dataset=name)))
    return out


@rule("CV1203", Severity.ERROR, "define.xml describes a dataset that is not in the folder",
      f"Define-XML 2.1 ItemGroupDef / def:leaf (def:HasNoData for a dataset without data); "
      f"{TCG}", category="Metadata")
def dataset_present(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out = []
    for define, doc in _documents(datasets):
        for name, described in doc.datasets.items():
            if name not in define.datasets and not described.has_no_data:
                out.append(Problem("CV1203", f"{described.name} is described but no dataset "
                                   f"file of it is beside {define.file}"
                                   + (f" (def:leaf {described.leaf})" if described.leaf else ""),
                                   _at(define, described.line, dataset=described.name)))
    return out


@rule("CV1204", Severity.ERROR, "Variable is not described in define.xml",
      f"Define-XML 2.1 ItemRef/ItemDef: one per variable of the dataset; {TCG}",
      category="Metadata")
def variable_described(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out = []
    for define, doc in _documents(datasets):
        for data, described in _matched(define, doc):
            known = set(described.names)
            for column in data.frame.columns:
                if column not in known:
                    out.append(Problem("CV1204", f"{data.name}.{column} is not among the "
                                       f"variables define.xml gives {described.name}",
                                       _at(define, described.line, dataset=data.name,
                                           field=str(column))))
    return out


@rule("CV1205", Severity.ERROR, "define.xml describes a variable the dataset does not have",
      f"Define-XML 2.1 ItemRef/ItemDef; {TCG}", category="Metadata")
def variable_present(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out = []
    for define, doc in _documents(datasets):
        for data, described in _matched(define, doc):
            for variable in described.variables:
                if variable.name not in data.frame.columns:
                    out.append(Problem("CV1205", f"{described.name}.{variable.name} is described "
                                       "but not in the dataset",
                                       _at(define, variable.line, dataset=described.name,
                                           field=variable.name)))
    return out


@rule("CV1206", Severity.ERROR, "Length in define.xml differs from the dataset's variable length",
      f"Define-XML 2.1 ItemDef Length (required for text); {TCG}", category="Metadata")
def lengths_agree(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out = []
    for define, doc in _documents(datasets):
        for data, described in _matched(define, doc):
            if data.lengths is None:
                continue
            for variable in described.variables:
                stored = data.lengths.get(variable.name)
                if stored is None or variable.datatype != "text":
                    continue
                if variable.length is None:
                    message = (f"{variable.name} is text but define.xml gives no Length "
                               f"(the dataset stores {stored})")
                elif variable.length != stored:
                    message = (f"{variable.name}: define.xml Length {variable.length}, the "
                               f"dataset stores {stored}")
                else:
                    continue
                out.append(Problem("CV1206", message, _at(
                    define, variable.line, dataset=described.name, field=variable.name,
                    value=variable.length)))
    return out


@rule("CV1207", Severity.ERROR, "Label in define.xml differs from the dataset's label",
      f"Define-XML 2.1 ItemGroupDef/ItemDef Description; SAS XPORT v5 labels; {TCG}",
      category="Metadata")
def labels_agree(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out = []
    for define, doc in _documents(datasets):
        for data, described in _matched(define, doc):
            if data.label is not None and data.label.rstrip() != described.label.strip():
                out.append(Problem("CV1207", f"dataset label: define.xml "
                                   f"{described.label!r}, the dataset file {data.label!r}",
                                   _at(define, described.line, dataset=described.name,
                                       value=described.label)))
            for variable in described.variables:
                label = (data.labels or {}).get(variable.name)
                if label is None or label.rstrip() == variable.label.strip():
                    continue
                out.append(Problem("CV1207", f"{variable.name}: define.xml {variable.label!r}, "
                                   f"the dataset {label!r}",
                                   _at(define, variable.line, dataset=described.name,
                                       field=variable.name, value=variable.label)))
    return out


def _type_problem(variable: Variable, series: pd.Series) -> str | None:
    numeric = (pd.api.types.is_numeric_dtype(series.dtype)
               and not pd.api.types.is_bool_dtype(series.dtype))
    if variable.datatype in NUM_TYPES:
        if not numeric:
            present = strings(series).dropna()
            if present.empty:
                return None  # an empty character column says nothing about the type
            return (f"{variable.name} is {variable.datatype} in define.xml but character in "
                    "the dataset")
        if variable.datatype == "integer":
            values = numbers(series).dropna()
            fractional = values[np.floor(values) != values]
            if len(fractional):
                return (f"{variable.name} is integer in define.xml but holds "
                        f"{fractional.iloc[0]!r}")
        return None
    if variable.datatype in CHAR_TYPES and numeric and numbers(series).notna().any():
        return f"{variable.name} is {variable.datatype} in define.xml but numeric in the dataset"
    return None


@rule("CV1208", Severity.ERROR, "DataType in define.xml does not fit the dataset's variable",
      f"Define-XML 2.1 ItemDef DataType; {TCG}", category="Metadata")
def types_agree(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out = []
    for define, doc in _documents(datasets):
        for data, described in _matched(define, doc):
            for variable in described.variables:
                if variable.name not in data.frame.columns:
                    continue
                message = _type_problem(variable, data.frame[variable.name])
                if message:
                    out.append(Problem("CV1208", message, _at(
                        define, variable.line, dataset=described.name, field=variable.name,
                        value=variable.datatype)))
    return out


def _term_findings(define: DefineFile, data: DataFile, described: define_xml.Dataset,
                   variable: Variable, mask: pd.Series | None, where: str = "") -> list[Problem]:
    codelist = variable.codelist
    if codelist is None or codelist.external or variable.name not in data.frame.columns:
        return []
    if mask is None:  # the run's cached text of the column (missing is None there)
        values = text(data.frame, variable.name)
    else:
        values = _column_text(data.frame, variable.name)[mask]
    found = distinct(values)
    if found is None:  # unreachable: text gives str or None
        return []
    # each distinct value looked up once, then its first record and count from the codes
    known = set(codelist.values)
    unknown = np.array([code for code, value in enumerate(found.values) if value not in known],
                       dtype=np.int64)
    if not len(unknown):
        return []
    positions = np.flatnonzero(np.isin(found.codes, unknown))
    codes, first, counts = np.unique(found.codes[positions], return_index=True,
                                     return_counts=True)
    out = []
    for code, at, count in sorted(zip(codes, first, counts, strict=True),
                                  key=lambda c: found.values[c[0]]):
        value = found.values[code]
        record = int(values.index[positions[at]]) + 1
        out.append(Problem("CV1209", f"{value!r} of {variable.name}{where} is not a term of "
                           f"codelist {codelist.oid} ({codelist.name}; define.xml line "
                           f"{codelist.line}); {int(count)} record(s)",
                           Location(file=data.file, dataset=data.name, field=variable.name,
                                    value=value, record=record)))
    return out


@rule("CV1209", Severity.ERROR, "Value is not a term of the variable's codelist in define.xml",
      f"Define-XML 2.1 CodeList / CodeListRef (the terms used in the data); {TCG}",
      category="Metadata")
def terms_in_codelist(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out = []
    for define, doc in _documents(datasets):
        for data, described in _matched(define, doc):
            for variable in described.variables:
                out += _term_findings(define, data, described, variable, None)
                for item in variable.value_list:
                    if item.variable.codelist is None:
                        continue
                    mask = _where_mask(data.frame, item.where)
                    if mask is None:
                        continue
                    where = " where " + " and ".join(
                        f"{c.variable} {c.comparator} {', '.join(c.values)}"
                        for clause in item.where for c in clause.checks)
                    out += _term_findings(define, data, described, item.variable, mask, where)
    return out


@rule("CV1210", Severity.WARNING, "def:leaf of a dataset names another file than the dataset's",
      f"Define-XML 2.1 def:leaf xlink:href (relative to define.xml); {TCG}", category="Metadata")
def leaf_names_file(datasets: Mapping[str, pd.DataFrame]) -> list[Problem]:
    out = []
    for define, doc in _documents(datasets):
        for data, described in _matched(define, doc):
            if not described.leaf:
                continue
            expected = Path(data.file).name
            if Path(described.leaf).name.lower() != expected.lower():
                out.append(Problem("CV1210", f"def:leaf of {described.name} is "
                                   f"{described.leaf!r}; the dataset file is {expected!r}",
                                   _at(define, described.line, dataset=described.name,
                                       value=described.leaf)))
    return out


__all__ = ["DEFINE_FILE", "DataFile", "DefineFile", "data_file", "load_define", "load_defines"]

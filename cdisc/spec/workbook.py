"""Excel specification workbooks: a mapping spec as a workbook, and a workbook as a spec.

``cdisc spec export SPEC.yaml --out spec.xlsx`` writes the layout study teams
already keep for define.xml (the Pinnacle 21 specification: Define, Datasets,
Variables, ValueLevel, Codelists, Methods) and, beside it, the sheets that hold
the mapping rules themselves, so that ``cdisc spec import spec.xlsx --out
SPEC.yaml`` gives back a spec that converts to byte-identical output:

=============  ==========================================================  =========
sheet          what                                                        read back
=============  ==========================================================  =========
About          what each sheet is, which sheets are read back              no
Define         P21: study name, description, standard and version          no
Study          ``spec_version`` and ``study:``, one row per value (Path)   yes
Datasets       P21: each domain (and SUPP--): label, class, keys           no
Variables      P21: every variable the spec writes: label, type, Core,     no
               origin, codelist, method, how it is mapped
ValueLevel     P21: QVAL per QNAM, results per hard-coded --TESTCD         no
Codelists      P21 + ``Collected Value``: the ``study_ct:`` maps            yes
Methods        P21: one method per derived variable                        no
Sources        one row per source column (file, sheet, subject, type ...)  yes
Blocks         one row per record block (source, join, where, ...)         yes
Mappings       one row per variable per block, and per derivation          yes
Visits         visit name -> VISITNUM                                      yes
Rules          every other value of the spec, one row per value (Path)     yes
=============  ==========================================================  =========

The rule sheets have a column for what a reviewer reads most (a mapping's
algorithm, column, codelist, value, label, origin); the rest of an algorithm's
arguments, and a block's join, where, first_per and aggregate, are JSON in one
cell. Whatever the tables have no column for (the ``adam:``, ``trial_design:``,
``trial_summary:``, ``recist:`` and ``submission:`` sections, a YAML date, a
number written as ``8.0``, a key added to the spec format later) is a row of
``Rules``: its path (``adam.adsl.flags.SAFFL.dataset``, ``visits."WEEK 8"``),
its type and its value. Export checks its own work: the workbook is read back
and must give exactly the spec document it was written from, or nothing is
written.

Every text goes into a cell as text, never as a formula
(:func:`cdisc.text_safety.append_row`). A workbook read back is refused with
every problem found at once (:class:`WorkbookError`), each with its sheet, row
and column: a formula or error cell, JSON that does not parse, a path that
does not, a missing sheet (the sheets there are are listed) or column.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from .. import standards
from ..errors import CdiscError, Location, Problem, SpecError, StandardsError
from ..limits import DEFAULT_LIMITS, Limits
from ..text_safety import ZIP_TIME, append_row, sheet_text
from ..text_safety import workbook_bytes as xlsx_bytes
from .model import Spec

# --- errors ---------------------------------------------------------------------------


class WorkbookError(SpecError):
    """A workbook that cannot be read as a spec (or a spec that cannot be written as one).

    Carries every problem found, each located at its workbook file, sheet, row
    and column (``Location.field`` is the column's header).
    """


#: the workbook cannot be opened (not an XLSX file, too large, unreadable)
CANNOT_READ = "XLS001"
#: a sheet the spec needs is not in the workbook
MISSING_SHEET = "XLS002"
#: a column a sheet needs is not in its header
MISSING_COLUMN = "XLS003"
#: a cell that cannot be read as what its column holds (a formula, bad JSON, a bad path)
BAD_CELL = "XLS004"
#: rows that contradict each other (a source's file given twice differently, a block twice)
CONFLICT = "XLS005"
#: the spec has something a workbook cannot hold; nothing was written
CANNOT_WRITE = "XLS006"

# --- the layout -------------------------------------------------------------------------

ABOUT, DEFINE, STUDY, DATASETS, VARIABLES = "About", "Define", "Study", "Datasets", "Variables"
VALUE_LEVEL, CODELISTS, METHODS, SOURCES = "ValueLevel", "Codelists", "Methods", "Sources"
BLOCKS, MAPPINGS, VISITS, RULES = "Blocks", "Mappings", "Visits", "Rules"

#: sheets an import reads, in the order the spec document is rebuilt
READ_SHEETS = (STUDY, SOURCES, CODELISTS, VISITS, BLOCKS, MAPPINGS, RULES)
#: sheets an import cannot do without (the others may be left out of a hand-made workbook)
REQUIRED_SHEETS = (STUDY, SOURCES, BLOCKS, MAPPINGS)

# Pinnacle 21 specification columns, as P21 Community writes them and as metacore's
# spec_to_metacore and xportr's var_spec read them (xportr ships the Variables layout as
# its example var_spec: Order, Dataset, Variable, Label, Data Type, Length, ...).
P21_DEFINE = ["Attribute", "Value"]
P21_DATASETS = ["Dataset", "Label", "Class", "SubClass", "Structure", "Key Variables",
                "Standard", "Has No Data", "Repeating", "Reference Data", "Comment",
                "Developer Notes"]
P21_VARIABLES = ["Order", "Dataset", "Variable", "Label", "Data Type", "Length",
                 "Significant Digits", "Format", "Mandatory", "Assigned Value", "Codelist",
                 "Common", "Origin", "Source", "Pages", "Method", "Predecessor", "Role",
                 "Comment", "Developer Notes"]
P21_VALUE_LEVEL = ["Order", "Dataset", "Variable", "Where Clause", "Label", "Data Type",
                   "Length", "Significant Digits", "Format", "Mandatory", "Assigned Value",
                   "Codelist", "Origin", "Source", "Pages", "Method", "Predecessor", "Comment",
                   "Developer Notes"]
P21_CODELISTS = ["ID", "Name", "NCI Codelist Code", "Data Type", "Terminology", "Comment",
                 "Order", "Term", "NCI Term Code", "Decoded Value", "Developer Notes"]
P21_METHODS = ["ID", "Name", "Type", "Description", "Expression Context", "Expression Code",
               "Document", "Pages"]
#: our column of the Codelists sheet: the value as collected that the row's Term stands for
COLLECTED_VALUE = "Collected Value"

PATH_COLUMNS = ["Path", "Type", "Value"]
VISIT_COLUMNS = ["Visit", "VISITNUM"]


@dataclass(frozen=True)
class Column:
    """A column of a rule sheet: its header, the spec key it holds and how it is written."""

    header: str
    key: str
    codec: str  # text, list, text_or_list, yesno, json


# A source's own values are repeated on each of its rows; each column's on its row.
SOURCE_LEVEL = (
    Column("File", "file", "text"),
    Column("Sheet", "sheet", "text"),
    Column("Delimiter", "delimiter", "text"),
    Column("Encoding", "encoding", "text"),
    Column("Decimal", "decimal", "text"),
    Column("Thousands", "thousands", "text"),
    Column("Subject", "subject", "text"),
    Column("Key", "key", "list"),
)
COLUMN_LEVEL = (
    Column("Header", "header", "text"),
    Column("Type", "type", "text"),
    Column("Format", "format", "text_or_list"),
    Column("Required", "required", "yesno"),
    Column("Label", "label", "text"),
)
SOURCE_HEADER = ["Source", *(c.header for c in SOURCE_LEVEL), "Column",
                 *(c.header for c in COLUMN_LEVEL)]

BLOCK_LEVEL = (
    Column("Source", "source", "text"),
    Column("Join", "join", "json"),
    Column("Where", "where", "json"),
    Column("First Per", "first_per", "json"),
    Column("Aggregate", "aggregate", "json"),
)
BLOCK_HEADER = ["Dataset", "Block", *(c.header for c in BLOCK_LEVEL)]

#: sections of a domain that hold mappings: a block's map and supp, the domain's derive
SECTIONS = ("map", "supp", "derive")
MAPPING_LEVEL = (
    Column("Column", "column", "text"),
    Column("Value", "value", "text"),
    Column("Codelist", "codelist", "text"),
    Column("Label", "label", "text"),
    Column("Origin", "origin", "text"),
)
ARGUMENTS = "Arguments"
#: keys of a mapping that describe it rather than compute it (written last in YAML)
_DESCRIPTIVE = ("label", "origin")
MAPPING_HEADER = ["Dataset", "Block", "Section", "Variable", "Algorithm",
                  *(c.header for c in MAPPING_LEVEL), ARGUMENTS]


# --- cells --------------------------------------------------------------------------------

#: an encoder's answer for a value its column cannot hold (it goes to the Rules sheet)
NOT_WRITTEN = object()
#: integers a cell holds exactly (Excel keeps numbers as doubles)
_EXACT_INTEGERS = 2**53
_LIST_ITEM = re.compile(r"[^\s,\[\]\"]+(?: [^\s,\[\]\"]+)*")


def _json_text(value: Any) -> str | None:
    """Compact JSON of plain data, or None when JSON cannot hold it exactly."""
    def plain(v: Any) -> bool:
        if v is None or isinstance(v, (bool, str)):
            return True
        if isinstance(v, int):
            return True
        if isinstance(v, float):
            return math.isfinite(v)
        if isinstance(v, dict):
            return all(isinstance(k, str) and plain(x) for k, x in v.items())
        if isinstance(v, list):
            return all(plain(x) for x in v)
        return False  # a date, a datetime

    if not plain(value):
        return None
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if text == sheet_text(text) else None


def encode(codec: str, value: Any) -> Any:
    """What a rule-sheet cell holds for ``value``, or :data:`NOT_WRITTEN`."""
    if codec == "text":
        return value if isinstance(value, str) and value and value == sheet_text(value) \
            else NOT_WRITTEN
    if codec == "yesno":
        return ("Yes" if value else "No") if isinstance(value, bool) else NOT_WRITTEN
    if codec == "list":
        if (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
            if all(_LIST_ITEM.fullmatch(v) for v in value):
                return ", ".join(value)
            return _json_text(value) or NOT_WRITTEN
        return NOT_WRITTEN
    if codec == "text_or_list":
        if isinstance(value, str):
            return NOT_WRITTEN if value.startswith("[") else encode("text", value)
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return _json_text(value) or NOT_WRITTEN
        return NOT_WRITTEN
    if codec == "json":
        text = None if value is None else _json_text(value)
        return NOT_WRITTEN if text is None else text
    raise ValueError(f"unknown codec {codec!r}")


class CellError(Exception):
    """A cell that cannot be read as what its column holds."""


def decode(codec: str, value: Any) -> Any:
    """The spec value of a rule-sheet cell (never None: blank cells are not decoded)."""
    if codec == "text":
        return _as_text(value)
    if codec == "yesno":
        if isinstance(value, bool):
            return value
        word = _as_text(value).strip().lower()
        if word in ("yes", "y", "true"):
            return True
        if word in ("no", "n", "false"):
            return False
        raise CellError(f"{value!r} is not Yes or No")
    if codec == "list":
        text = _as_text(value)
        if text.lstrip().startswith("["):
            return _json_list(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    if codec == "text_or_list":
        text = _as_text(value)
        return _json_list(text) if text.lstrip().startswith("[") else text
    if codec == "json":
        return _json_value(_as_text(value))
    raise ValueError(f"unknown codec {codec!r}")


def _as_text(value: Any) -> str:
    """A cell as text: a number typed into a text column is its shortest form (``7``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return (value.date().isoformat() if value.time() == datetime.min.time()
                else value.isoformat())
    if isinstance(value, date):
        return value.isoformat()
    raise CellError(f"{value!r} is not text")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise CellError(f"the key {key!r} appears twice")
        out[key] = value
    return out


def _json_value(text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates,
                          parse_constant=_refuse_constant)
    except CellError:
        raise
    except ValueError as exc:
        raise CellError(f"not JSON: {exc}") from None


def _refuse_constant(name: str) -> Any:
    raise CellError(f"{name} is not a value a spec can hold")


def _json_list(text: str) -> list[str]:
    value = _json_value(text)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CellError("a JSON list of texts was expected, e.g. [\"a\", \"b\"]")
    return value


def cell_as_written(value: Any) -> Any:
    """What openpyxl gives back for a value this module writes (the export's own model).

    Numbers are written as ``%.16g`` and read back as int when they have no
    point or exponent; a float that ``%.16g`` does not keep, and an integer a
    double does not, are written as text; text is escaped like every sheet cell
    (:func:`cdisc.text_safety.sheet_text`) and an empty text is a blank cell.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > _EXACT_INTEGERS:
            return str(value)
        return value
    if isinstance(value, float):
        written = f"{value:.16g}"
        if not math.isfinite(value) or float(written) != value:
            return repr(value)
        return float(written) if any(c in written for c in ".eE") else int(written)
    text = sheet_text(value)
    return text or None


def _writable(value: Any) -> Any:
    """The value to hand to :func:`append_row`, as :func:`cell_as_written` models it."""
    read = cell_as_written(value)
    return read if isinstance(read, str) and not isinstance(value, str) else value


# --- paths ----------------------------------------------------------------------------------

PathParts = tuple[str | int, ...]
_BARE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def format_path(parts: PathParts) -> str:
    """``("visits", "WEEK 8")`` -> ``visits."WEEK 8"``; list items as ``[0]``."""
    out = ""
    for i, part in enumerate(parts):
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        key = part if _BARE_KEY.fullmatch(part) else json.dumps(part, ensure_ascii=False)
        out += key if i == 0 else "." + key
    return out


def parse_path(text: str) -> PathParts:
    """The inverse of :func:`format_path`; raises :class:`CellError` with where it fails."""
    parts: list[str | int] = []
    pos = 0
    decoder = json.JSONDecoder()
    while pos < len(text):
        char = text[pos]
        if char == "[":
            end = text.find("]", pos)
            index = text[pos + 1:end] if end > 0 else ""
            if not index.isdigit() or not parts:
                raise CellError(f"{text!r}: a list item is written [0], [1], ... after a key "
                                f"(at character {pos + 1})")
            parts.append(int(index))
            pos = end + 1
            continue
        if parts:
            if char != ".":
                raise CellError(f"{text!r}: '.' or '[' expected at character {pos + 1}")
            pos += 1
        if text.startswith('"', pos):
            try:
                key, pos = decoder.raw_decode(text, pos)
            except ValueError:
                raise CellError(f"{text!r}: a quoted key does not end (character {pos + 1})"
                                ) from None
            parts.append(str(key))
            continue
        match = _BARE_KEY.match(text, pos)
        if match is None:
            raise CellError(f"{text!r}: a key is a name (letters, digits, _) or text in "
                            f"double quotes (at character {pos + 1})")
        parts.append(match.group())
        pos = match.end()
    if not parts or not isinstance(parts[0], str):
        raise CellError("the path is empty")
    return tuple(parts)


#: value types of the Study and Rules sheets
TYPES = ("text", "integer", "number", "boolean", "null", "date", "datetime", "map", "list")


def value_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    raise TypeError(f"a spec holds no {type(value).__name__}")


def typed_cell(value: Any) -> Any:
    """The Value cell of a path row (containers are always empty ones here)."""
    kind = value_type(value)
    if kind in ("null", "map", "list"):
        return None
    if kind in ("date", "datetime"):
        return value.isoformat()
    if kind == "number" and float(f"{value:.16g}") != value:
        return repr(value)
    if kind == "integer" and abs(value) > _EXACT_INTEGERS:
        return str(value)
    return value


def typed_value(kind: str, cell: Any) -> Any:
    """The spec value of a path row's Type and Value cells."""
    if kind not in TYPES:
        raise CellError(f"type {kind!r} is not one of {', '.join(TYPES)}")
    if kind == "null":
        return None
    if kind == "map":
        return {}
    if kind == "list":
        return []
    if cell is None:
        if kind == "text":
            return ""
        raise CellError(f"a {kind} needs a value")
    try:
        if kind == "text":
            return _as_text(cell)
        if kind == "boolean":
            return decode("yesno", cell)
        if kind == "integer":
            if isinstance(cell, float) and cell.is_integer():
                return int(cell)
            if isinstance(cell, bool) or not isinstance(cell, (int, str)):
                raise ValueError
            return int(cell)
        if kind == "number":
            if isinstance(cell, bool):
                raise ValueError
            number = float(cell)
            if not math.isfinite(number):
                raise ValueError
            return number
        if kind == "date":
            if isinstance(cell, datetime):
                return cell.date()
            return date.fromisoformat(_as_text(cell))
        if isinstance(cell, datetime):
            return cell
        return datetime.fromisoformat(_as_text(cell))
    except (ValueError, TypeError, OverflowError):
        raise CellError(f"{cell!r} is not a{'n' if kind[0] in 'aeiou' else ''} {kind}"
                        ) from None


def leaves(value: Any, path: PathParts) -> Iterator[tuple[PathParts, Any]]:
    """Every scalar and every empty container below ``path``, in document order."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            yield from leaves(item, (*path, i))
    else:
        yield path, value


def set_path(root: dict[str, Any], parts: PathParts, value: Any) -> None:
    """Put ``value`` at ``parts``, creating maps and lists on the way (list items in order)."""
    node: Any = root
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        child: Any = value if last else ({} if isinstance(parts[i + 1], str) else [])
        if isinstance(part, int):
            if not isinstance(node, list):
                raise CellError(f"{format_path(parts[:i])} is not a list")
            if part > len(node):
                raise CellError(f"{format_path(parts[:i + 1])}: the list has {len(node)} "
                                f"item(s); items are added in order")
            if part == len(node):
                node.append(child)
            elif last:
                node[part] = value
            node = node[part]
        else:
            if not isinstance(node, dict):
                raise CellError(f"{format_path(parts[:i]) or 'the spec'} is not a map")
            if last or part not in node or not isinstance(node[part], (dict, list)):
                node[part] = child
            node = node[part]


def same(a: Any, b: Any) -> bool:
    """Equal values of the same type (1, 1.0 and True differ; key order does not matter)."""
    if value_type(a) != value_type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def differences(wanted: Any, built: Any, path: PathParts = ()) -> Iterator[tuple[PathParts, Any]]:
    """Path rows that turn ``built`` into ``wanted`` when applied after it (see set_path).

    ``built`` holds nothing that ``wanted`` does not: it is rebuilt from the
    tables, which only write what the spec has.
    """
    if isinstance(wanted, dict) and isinstance(built, dict) and wanted:
        for key, item in wanted.items():
            if key in built:
                yield from differences(item, built[key], (*path, key))
            else:
                yield from leaves(item, (*path, key))
        return
    if same(wanted, built):
        return
    if isinstance(wanted, (dict, list)) and wanted:
        yield path, type(wanted)()  # start over: the tables built something else here
    yield from leaves(wanted, path)


# --- sheets in memory --------------------------------------------------------------------------


@dataclass
class Sheet:
    """One sheet: its header and rows as the cells hold them; row numbers from 2."""

    name: str
    header: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    widths: dict[str, int] = field(default_factory=dict)

    def add(self, values: dict[str, Any]) -> None:
        unknown = set(values) - set(self.header)
        if unknown:
            raise ValueError(f"{self.name}: no column {sorted(unknown)}")
        self.rows.append([values.get(h) for h in self.header])


@dataclass
class Row:
    """A row read back: its sheet, number, and cells by (case-folded) header."""

    sheet: str
    number: int
    cells: dict[str, Any]

    def get(self, header: str) -> Any:
        return self.cells.get(header.casefold())


@dataclass
class Table:
    """A sheet read back."""

    name: str
    headers: list[str]
    rows: list[Row]

    def has(self, header: str) -> bool:
        return header.casefold() in (h.casefold() for h in self.headers)


class Problems:
    """The problems of one import, located in the workbook."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[Problem] = []

    def add(self, code: str, message: str, *, sheet: str | None = None,
            row: int | None = None, column: str | None = None, value: Any = None) -> None:
        self.items.append(Problem(code, message, Location(
            file=self.file, sheet=sheet, row=row, field=column, value=value)))

    def at(self, row: Row, column: str, exc: CellError) -> None:
        self.add(BAD_CELL, str(exc), sheet=row.sheet, row=row.number, column=column,
                 value=row.get(column))

    def raise_if_any(self) -> None:
        if self.items:
            raise WorkbookError(self.items)


def _in_memory(sheet: Sheet) -> Table:
    """A sheet as an import would read it back (the export's model of the round trip)."""
    rows = [Row(sheet.name, n, {h.casefold(): cell_as_written(v)
                                for h, v in zip(sheet.header, values, strict=True)})
            for n, values in enumerate(sheet.rows, start=2)]
    return Table(sheet.name, list(sheet.header), rows)


# --- the rule sheets: spec -> rows ------------------------------------------------------------


def _path_sheet(name: str, document: dict[str, Any], keys: Iterable[str]) -> Sheet:
    sheet = Sheet(name, PATH_COLUMNS, widths={"Path": 48, "Type": 10, "Value": 60})
    for key in keys:
        if key in document:
            for parts, value in leaves(document[key], (key,)):
                sheet.add({"Path": format_path(parts), "Type": value_type(value),
                           "Value": typed_cell(value)})
    return sheet


def _fill(row: dict[str, Any], columns: Iterable[Column], values: dict[str, Any]) -> None:
    for column in columns:
        if column.key in values:
            cell = encode(column.codec, values[column.key])
            if cell is not NOT_WRITTEN:
                row[column.header] = cell


def _sources_sheet(document: dict[str, Any]) -> Sheet:
    sheet = Sheet(SOURCES, SOURCE_HEADER, widths={"File": 30, "Column": 24, "Header": 24,
                                                   "Format": 16, "Label": 30})
    for name, source in _items(document.get("sources")):
        if not _BARE_KEY.fullmatch(name) or not isinstance(source, dict):
            continue
        columns = source.get("columns")
        for column, declared in _items(columns):
            row: dict[str, Any] = {"Source": name, "Column": column}
            _fill(row, SOURCE_LEVEL, source)
            if isinstance(declared, dict):
                _fill(row, COLUMN_LEVEL, declared)
            sheet.add(row)
    return sheet


def _codelists_sheet(document: dict[str, Any]) -> Sheet:
    sheet = Sheet(CODELISTS, [*P21_CODELISTS, COLLECTED_VALUE],
                  widths={"ID": 16, "Name": 30, "Term": 26, "Decoded Value": 26,
                          COLLECTED_VALUE: 30})
    for name, entry in _items(document.get("study_ct")):
        if not isinstance(entry, dict):
            continue
        code = entry.get("codelist")
        ct = _codelist(code) if isinstance(code, str) else None
        head = {"ID": name, "Name": ct.name if ct else None,
                "NCI Codelist Code": encode("text", code) if isinstance(code, str) else None,
                "Data Type": "text", "Terminology": "CDISC/NCI" if ct else None}
        head = {k: v for k, v in head.items() if v is not NOT_WRITTEN}
        pairs = [(k, v) for k, v in _items(entry.get("map"))
                 if encode("text", k) is not NOT_WRITTEN and encode("text", v) is not NOT_WRITTEN]
        if not pairs:
            sheet.add(head)
        for order, (collected, term) in enumerate(pairs, start=1):
            known = ct.terms.get(term) if ct else None
            sheet.add({**head, "Order": order, "Term": term,
                       "NCI Term Code": known.code if known else None,
                       "Decoded Value": known.preferred_term if known else None,
                       COLLECTED_VALUE: collected})
    return sheet


def _visits_sheet(document: dict[str, Any]) -> Sheet:
    sheet = Sheet(VISITS, VISIT_COLUMNS, widths={"Visit": 24})
    for name, number in _items(document.get("visits")):
        if encode("text", name) is not NOT_WRITTEN and isinstance(number, int) \
                and not isinstance(number, bool):
            sheet.add({"Visit": name, "VISITNUM": number})
    return sheet


def _blocks_and_mappings(document: dict[str, Any]) -> tuple[Sheet, Sheet]:
    blocks = Sheet(BLOCKS, BLOCK_HEADER, widths={"Join": 40, "Where": 60, "First Per": 40,
                                                  "Aggregate": 50})
    mappings = Sheet(MAPPINGS, MAPPING_HEADER, widths={"Column": 24, "Value": 24, "Label": 30,
                                                        ARGUMENTS: 80})
    for domain, spec in _items(document.get("domains")):
        if not isinstance(spec, dict) or not isinstance(spec.get("records"), list) \
                or not spec["records"]:
            continue
        for number, block in enumerate(spec["records"], start=1):
            if not isinstance(block, dict):
                continue
            row: dict[str, Any] = {"Dataset": domain, "Block": number}
            _fill(row, BLOCK_LEVEL, block)
            blocks.add(row)
            for section in ("map", "supp"):
                for variable, mapping in _items(block.get(section)):
                    _mapping_row(mappings, domain, number, section, variable, mapping)
        for variable, mapping in _items(spec.get("derive")):
            _mapping_row(mappings, domain, None, "derive", variable, mapping)
    return blocks, mappings


def _mapping_row(sheet: Sheet, domain: str, block: int | None, section: str, variable: str,
                 mapping: Any) -> None:
    if not isinstance(mapping, dict) or not isinstance(mapping.get("algorithm"), str):
        return
    row: dict[str, Any] = {"Dataset": domain, "Block": block, "Section": section,
                           "Variable": variable, "Algorithm": mapping["algorithm"]}
    _fill(row, MAPPING_LEVEL, mapping)
    written = {c.key for c in MAPPING_LEVEL if c.header in row}
    rest = {k: v for k, v in mapping.items() if k != "algorithm" and k not in written}
    if rest:
        text = _json_text(rest)
        if text is None:
            return  # a date among the arguments: the whole mapping goes to Rules
        row[ARGUMENTS] = text
    sheet.add(row)


def _items(value: Any) -> list[tuple[str, Any]]:
    return list(value.items()) if isinstance(value, dict) else []


# --- the rule sheets: rows -> spec ---------------------------------------------------------------


def _cell(problems: Problems, row: Row, column: Column | str, codec: str | None = None) -> Any:
    """A decoded cell, None when blank or wrong (then a located problem is added)."""
    header = column.header if isinstance(column, Column) else column
    raw = row.get(header)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        return decode(codec or (column.codec if isinstance(column, Column) else "text"), raw)
    except CellError as exc:
        problems.at(row, header, exc)
        return None


def _read_sources(table: Table, problems: Problems) -> dict[str, Any]:
    sources: dict[str, Any] = {}
    for row in table.rows:
        name = _cell(problems, row, "Source")
        column = _cell(problems, row, "Column")
        if name is None or column is None:
            if any(v is not None for v in row.cells.values()):
                problems.add(BAD_CELL, "a row of Sources needs its Source and its Column",
                             sheet=row.sheet, row=row.number,
                             column="Source" if name is None else "Column")
            continue
        source = sources.setdefault(name, {})
        for spec_column in SOURCE_LEVEL:
            value = _cell(problems, row, spec_column) if table.has(spec_column.header) else None
            if value is None:
                continue
            if spec_column.key in source and not same(source[spec_column.key], value):
                problems.add(CONFLICT, f"source {name!r} has {spec_column.header} "
                             f"{source[spec_column.key]!r} on an earlier row; a source's own "
                             "values must agree on all its rows (or be left blank)",
                             sheet=row.sheet, row=row.number, column=spec_column.header,
                             value=value)
                continue
            source[spec_column.key] = value
        columns = source.setdefault("columns", {})
        if column in columns:
            problems.add(CONFLICT, f"source {name!r} declares column {column!r} twice",
                         sheet=row.sheet, row=row.number, column="Column", value=column)
            continue
        declared: dict[str, Any] = {}
        for spec_column in COLUMN_LEVEL:
            value = _cell(problems, row, spec_column) if table.has(spec_column.header) else None
            if value is not None:
                declared[spec_column.key] = value
        columns[column] = declared
    # the key order a spec author expects: file, sheet, ..., columns last
    order = [c.key for c in SOURCE_LEVEL] + ["columns"]
    return {name: {k: s[k] for k in order if k in s} for name, s in sources.items()}


def _read_codelists(table: Table, problems: Problems) -> dict[str, Any]:
    if not table.has(COLLECTED_VALUE):
        return {}  # a P21 Codelists sheet of another tool: the study CT maps are ours only
    study_ct: dict[str, Any] = {}
    for row in table.rows:
        name = _cell(problems, row, "ID")
        if name is None:
            continue
        entry = study_ct.setdefault(name, {})
        code = _cell(problems, row, "NCI Codelist Code")
        if code is not None:
            if "codelist" in entry and entry["codelist"] != code:
                problems.add(CONFLICT, f"codelist {name!r} has NCI Codelist Code "
                             f"{entry['codelist']!r} on an earlier row", sheet=row.sheet,
                             row=row.number, column="NCI Codelist Code", value=code)
            entry.setdefault("codelist", code)
        collected = _cell(problems, row, COLLECTED_VALUE)
        term = _cell(problems, row, "Term")
        if collected is None and term is None:
            continue
        if collected is None or term is None:
            missing = COLLECTED_VALUE if collected is None else "Term"
            problems.add(BAD_CELL, f"{missing} is empty: a row of {name!r} maps a collected "
                         "value to a Term (the CDISC submission value)", sheet=row.sheet,
                         row=row.number, column=missing)
            continue
        mapped = entry.setdefault("map", {})
        if collected in mapped:
            problems.add(CONFLICT, f"codelist {name!r} maps {collected!r} twice",
                         sheet=row.sheet, row=row.number, column=COLLECTED_VALUE,
                         value=collected)
            continue
        mapped[collected] = term
    return {name: {k: e[k] for k in ("codelist", "map") if k in e}
            for name, e in study_ct.items()}


def _read_visits(table: Table, problems: Problems) -> dict[str, Any]:
    visits: dict[str, Any] = {}
    for row in table.rows:
        name = _cell(problems, row, "Visit")
        number = row.get("VISITNUM")
        if name is None and number is None:
            continue
        if name is None:
            problems.add(BAD_CELL, "the visit name is empty", sheet=row.sheet,
                         row=row.number, column="Visit")
            continue
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            problems.add(BAD_CELL, "VISITNUM must be a number", sheet=row.sheet,
                         row=row.number, column="VISITNUM", value=number)
            continue
        if name in visits:
            problems.add(CONFLICT, f"visit {name!r} appears twice", sheet=row.sheet,
                         row=row.number, column="Visit", value=name)
            continue
        visits[name] = number
    return visits


def _block_number(problems: Problems, row: Row) -> int | None:
    value = row.get("Block")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        problems.add(BAD_CELL, "Block is the number of the record block in its dataset "
                     "(1, 2, ...)", sheet=row.sheet, row=row.number, column="Block", value=value)
        return None
    return value


def _read_domains(blocks: Table, mappings: Table, problems: Problems) -> dict[str, Any]:
    domains: dict[str, Any] = {}
    for row in blocks.rows:
        domain = _cell(problems, row, "Dataset")
        if domain is None:
            continue
        number = _block_number(problems, row)
        if number is None:
            continue
        records = domains.setdefault(domain, {"records": []})["records"]
        if number != len(records) + 1:
            problems.add(CONFLICT, f"{domain} block {number} follows block {len(records)}: "
                         "the blocks of a dataset are numbered 1, 2, ... in order",
                         sheet=row.sheet, row=row.number, column="Block", value=number)
            continue
        block: dict[str, Any] = {}
        for column in BLOCK_LEVEL:
            value = _cell(problems, row, column) if blocks.has(column.header) else None
            if value is not None:
                block[column.key] = value
        records.append(block)
    for row in mappings.rows:
        _read_mapping(row, mappings, domains, problems)
    for spec in domains.values():  # the key order of a spec: source, join, where, ..., map
        spec["records"] = [_block_order(b) for b in spec["records"]]
    return domains


def _block_order(block: dict[str, Any]) -> dict[str, Any]:
    order = ["source", "where", "join", "first_per", "aggregate", "map", "supp"]
    return {**{k: block[k] for k in order if k in block},
            **{k: v for k, v in block.items() if k not in order}}


def _read_mapping(row: Row, table: Table, domains: dict[str, Any], problems: Problems) -> None:
    domain = _cell(problems, row, "Dataset")
    section = _cell(problems, row, "Section")
    variable = _cell(problems, row, "Variable")
    algorithm = _cell(problems, row, "Algorithm")
    if domain is None and variable is None and algorithm is None:
        return
    for header, value in (("Dataset", domain), ("Section", section), ("Variable", variable),
                          ("Algorithm", algorithm)):
        if value is None:
            problems.add(BAD_CELL, f"{header} is empty", sheet=row.sheet, row=row.number,
                         column=header)
            return
    if section not in SECTIONS:
        problems.add(BAD_CELL, f"Section is one of {', '.join(SECTIONS)}", sheet=row.sheet,
                     row=row.number, column="Section", value=section)
        return
    spec = domains.get(domain)
    if spec is None:
        problems.add(CONFLICT, f"dataset {domain!r} has no row in {BLOCKS}", sheet=row.sheet,
                     row=row.number, column="Dataset", value=domain)
        return
    if section == "derive":
        target = spec.setdefault("derive", {})
    else:
        number = _block_number(problems, row)
        if number is None:
            return
        if number > len(spec["records"]):
            problems.add(CONFLICT, f"{domain} has no block {number} in {BLOCKS}",
                         sheet=row.sheet, row=row.number, column="Block", value=number)
            return
        target = spec["records"][number - 1].setdefault(section, {})
    given: dict[str, Any] = {}
    for column in MAPPING_LEVEL:
        value = _cell(problems, row, column) if table.has(column.header) else None
        if value is not None:
            given[column.key] = value
    # the order a spec author writes: what it reads, its other arguments, label and origin
    mapping: dict[str, Any] = {"algorithm": algorithm, **{
        k: v for k, v in given.items() if k not in _DESCRIPTIVE}}
    arguments = _cell(problems, row, ARGUMENTS, "json") if table.has(ARGUMENTS) else None
    if arguments is not None:
        if not isinstance(arguments, dict):
            problems.add(BAD_CELL, "Arguments is a JSON object, e.g. {\"zfill\": 3}",
                         sheet=row.sheet, row=row.number, column=ARGUMENTS)
            return
        twice = sorted(set(arguments) & (set(mapping) | set(given)))
        if twice:
            problems.add(CONFLICT, f"{', '.join(twice)} given both in its own column and in "
                         "Arguments", sheet=row.sheet, row=row.number, column=ARGUMENTS)
            return
        mapping.update(arguments)
    mapping.update({k: v for k, v in given.items() if k in _DESCRIPTIVE})
    if variable in target:
        problems.add(CONFLICT, f"{domain} {section} maps {variable} twice", sheet=row.sheet,
                     row=row.number, column="Variable", value=variable)
        return
    target[variable] = mapping


def _read_paths(table: Table, document: dict[str, Any], problems: Problems) -> None:
    for row in table.rows:
        raw_path = row.get("Path")
        if raw_path is None and row.get("Type") is None and row.get("Value") is None:
            continue
        try:
            parts = parse_path(_as_text(raw_path) if raw_path is not None else "")
        except CellError as exc:
            problems.at(row, "Path", exc)
            continue
        try:
            kind = _as_text(row.get("Type") or "").strip().lower()
            value = typed_value(kind, row.get("Value"))
        except CellError as exc:
            problems.at(row, "Value" if row.get("Type") else "Type", exc)
            continue
        try:
            set_path(document, parts, value)
        except CellError as exc:
            problems.at(row, "Path", exc)


def rebuild(tables: dict[str, Table], problems: Problems) -> dict[str, Any]:
    """The spec document the rule sheets hold (the define-level sheets are not read)."""
    document: dict[str, Any] = {}
    if STUDY in tables:
        _read_paths(tables[STUDY], document, problems)
    parts = {
        "sources": _read_sources(tables[SOURCES], problems) if SOURCES in tables else {},
        "study_ct": _read_codelists(tables[CODELISTS], problems) if CODELISTS in tables else {},
        "visits": _read_visits(tables[VISITS], problems) if VISITS in tables else {},
        "domains": (_read_domains(tables[BLOCKS], tables[MAPPINGS], problems)
                    if BLOCKS in tables and MAPPINGS in tables else {}),
    }
    for key, value in parts.items():
        if value:
            document[key] = value
    if RULES in tables:
        _read_paths(tables[RULES], document, problems)
    return document


# --- the define-level sheets (written for reviewers, not read back) ----------------------------

_COLLECTED = {"assign", "assign_ct", "assign_datetime", "lookup"}
_ASSIGNED = {"hardcode", "hardcode_ct", "visitnum"}
_INTEGER_DERIVATIONS = {"seq", "study_day"}


def _origin(algorithm: str) -> str:
    """The define.xml origin a mapping suggests (define.xml itself takes it from provenance)."""
    if algorithm in _COLLECTED:
        return "Collected"
    if algorithm in _ASSIGNED:
        return "Assigned"
    return "Derived"


def describe(mapping: dict[str, Any]) -> str:
    """``assign_ct column=sex codelist=SEX``: a mapping in one line for a reviewer."""
    words = [str(mapping.get("algorithm", "?"))]
    for key, value in mapping.items():
        if key in ("algorithm", "label", "origin"):
            continue
        text = value if isinstance(value, str) else (_json_text(value) or str(value))
        words.append(f"{key}={text}")
    return " ".join(words)


@dataclass
class _Use:
    """How one variable of one dataset is made: each mapping with where it is."""

    where: list[str] = field(default_factory=list)
    mappings: list[dict[str, Any]] = field(default_factory=list)


def _uses(spec: Spec) -> dict[str, dict[str, _Use]]:
    out: dict[str, dict[str, _Use]] = {}
    for name, domain in spec.domains.items():
        uses = out.setdefault(name, {})
        for block in domain.records:
            for variable, mapping in block.map.items():
                use = uses.setdefault(variable, _Use())
                use.where.append(f"block {block.index + 1} ({block.source})")
                use.mappings.append(mapping)
        for variable, mapping in domain.derive.items():
            use = uses.setdefault(variable, _Use())
            use.where.append("derive")
            use.mappings.append(mapping)
    return out


def _define_sheet(spec: Spec) -> Sheet:
    sheet = Sheet(DEFINE, P21_DEFINE, widths={"Attribute": 20, "Value": 70})
    study = spec.study
    for attribute, value in (("StudyName", study.studyid),
                             ("StudyDescription", study.title or study.studyid),
                             ("ProtocolName", study.studyid), ("StandardName", "SDTM-IG"),
                             ("StandardVersion", study.sdtmig_version), ("Language", "en")):
        sheet.add({"Attribute": attribute, "Value": value})
    return sheet


def _datasets_sheet(spec: Spec) -> Sheet:
    sheet = Sheet(DATASETS, P21_DATASETS, widths={"Label": 30, "Class": 20, "Structure": 40,
                                                   "Key Variables": 40})
    for name, domain in spec.domains.items():
        names = [name] + ([f"SUPP{name}"] if any(b.supp for b in domain.records) else [])
        for dataset_name in names:
            ig = standards.dataset(dataset_name)
            sheet.add({"Dataset": dataset_name,
                       "Label": domain.label if domain.label and dataset_name == name
                       else ig.label,
                       "Class": ig.define_class or ig.dataset_class, "SubClass": ig.subclass,
                       "Structure": ig.structure, "Key Variables": ", ".join(ig.keys),
                       "Standard": f"SDTMIG {spec.study.sdtmig_version}",
                       "Repeating": "No" if ig.dataset_class == "SPECIAL PURPOSE"
                       and name == "DM" else "Yes",
                       "Reference Data": "No"})
    return sheet


def _datatype(variable: standards.Variable, use: _Use | None) -> str:
    if variable.is_numeric:
        if use and all(m.get("algorithm") in _INTEGER_DERIVATIONS for m in use.mappings):
            return "integer"
        return "float"
    if variable.iso8601 == "duration":
        return "durationDatetime"
    return "datetime" if variable.iso8601 else "text"


def _variables_and_methods(spec: Spec) -> tuple[Sheet, Sheet]:
    variables = Sheet(VARIABLES, P21_VARIABLES, widths={"Label": 30, "Codelist": 14,
                                                         "Developer Notes": 70})
    methods = Sheet(METHODS, P21_METHODS, widths={"ID": 20, "Name": 36, "Description": 80})
    uses = _uses(spec)
    for name in spec.domains:
        ig = standards.dataset(name)
        domain_uses = uses.get(name, {})
        automatic = {"STUDYID", "DOMAIN"}
        for order, variable in enumerate(
                (v for v in ig.variables if v.name in domain_uses or v.name in automatic
                 or v.core in ("Req", "Exp")), start=1):
            use = domain_uses.get(variable.name)
            algorithms = [str(m.get("algorithm")) for m in use.mappings] if use else []
            origins = sorted({_origin(a) for a in algorithms})
            if not use:
                origins = ["Protocol" if variable.name == "STUDYID" else "Assigned"] \
                    if variable.name in automatic else ["Not Available"]
            codelists = sorted({str(m["codelist"]) for m in (use.mappings if use else ())
                                if isinstance(m.get("codelist"), str)})
            assigned = {str(m.get("value")) for m in (use.mappings if use else ())
                        if m.get("algorithm") in ("hardcode", "hardcode_ct")}
            method = None
            if "Derived" in origins and use:
                method = f"MT.{name}.{variable.name}"
                methods.add({"ID": method, "Name": f"Algorithm to derive {name}.{variable.name}",
                             "Type": "Computation",
                             "Description": "; ".join(f"{w}: {describe(m)}" for w, m in
                                                      zip(use.where, use.mappings,
                                                          strict=True))})
            variables.add({
                "Order": order, "Dataset": name, "Variable": variable.name,
                "Label": variable.label, "Data Type": _datatype(variable, use),
                "Format": variable.display_format,
                "Mandatory": "Yes" if variable.core == "Req" else "No",
                "Assigned Value": assigned.pop() if len(assigned) == 1 and len(algorithms) == 1
                else None,
                "Codelist": ", ".join(codelists) or variable.codelist,
                "Origin": ", ".join(origins),
                "Source": ("Investigator" if origins == ["Collected"] else "Sponsor")
                if origins != ["Not Available"] else None,
                "Method": method, "Role": variable.role,
                "Developer Notes": "; ".join(f"{w}: {describe(m)}" for w, m in
                                             zip(use.where, use.mappings, strict=True))
                if use else ("filled automatically" if variable.name in automatic
                             else f"not mapped ({variable.core}): written empty"),
            })
    return variables, methods


def _value_level_sheet(spec: Spec) -> Sheet:
    sheet = Sheet(VALUE_LEVEL, P21_VALUE_LEVEL, widths={"Where Clause": 36, "Label": 30,
                                                         "Developer Notes": 60})
    order = 0
    for name, domain in spec.domains.items():
        testcd = f"{name}TESTCD"
        for block in domain.records:
            test = block.map.get(testcd, {})
            if test.get("algorithm") == "hardcode_ct" and isinstance(test.get("value"), str):
                for result in ("ORRES", "STRESC", "STRESN"):
                    mapping = block.map.get(f"{name}{result}")
                    if mapping is None:
                        continue
                    order += 1
                    sheet.add({"Order": order, "Dataset": name, "Variable": f"{name}{result}",
                               "Where Clause": f"{testcd} EQ {test['value']}",
                               "Data Type": "float" if result == "STRESN" else "text",
                               "Origin": _origin(str(mapping.get("algorithm"))),
                               "Developer Notes": f"block {block.index + 1} ({block.source}): "
                               f"{describe(mapping)}"})
            for qnam, mapping in block.supp.items():
                order += 1
                sheet.add({"Order": order, "Dataset": f"SUPP{name}", "Variable": "QVAL",
                           "Where Clause": f"QNAM EQ {qnam}",
                           "Label": mapping.get("label"), "Data Type": "text",
                           "Origin": mapping.get("origin"),
                           "Developer Notes": f"block {block.index + 1} ({block.source}): "
                           f"{describe(mapping)}"})
    return sheet


def _about_sheet() -> Sheet:
    sheet = Sheet(ABOUT, ["Sheet", "Read back", "What"], widths={"Sheet": 14, "Read back": 10,
                                                                  "What": 100})
    for name, read, what in (
        (DEFINE, "no", "Pinnacle 21 layout: study name, standard and version"),
        (STUDY, "yes", "spec_version and study: one row per value (Path, Type, Value)"),
        (DATASETS, "no", "Pinnacle 21 layout: each dataset the spec makes"),
        (VARIABLES, "no", "Pinnacle 21 layout: each variable written, with how it is mapped "
         "(Developer Notes); lengths and integer/float come from the data at convert"),
        (VALUE_LEVEL, "no", "Pinnacle 21 layout: QVAL per QNAM, results per --TESTCD"),
        (CODELISTS, "yes", "the study_ct maps: each Collected Value becomes its Term "
         "(the CDISC submission value); the other columns are for reviewers"),
        (METHODS, "no", "Pinnacle 21 layout: one method per derived variable"),
        (SOURCES, "yes", "one row per source column; a source's own values (File, Sheet, "
         "Subject, Key, ...) on each of its rows"),
        (BLOCKS, "yes", "one row per record block; Join, Where, First Per and Aggregate are "
         "JSON as in the YAML spec"),
        (MAPPINGS, "yes", "one row per variable per block (Section map or supp) and per "
         "derivation (Section derive); the other arguments are JSON in Arguments"),
        (VISITS, "yes", "visit name -> VISITNUM"),
        (RULES, "yes", "every other value of the spec (adam, trial design, ...), one row per "
         "value: Path, Type, Value"),
    ):
        sheet.add({"Sheet": name, "Read back": read, "What": what})
    return sheet


# --- export ---------------------------------------------------------------------------------------

#: top-level keys the Study sheet holds; every other top-level key not in a table is in Rules
STUDY_KEYS = ("spec_version", "study")


def rule_sheets(document: dict[str, Any]) -> list[Sheet]:
    """The sheets that hold a spec document: Study, Codelists, Sources, Blocks, Mappings,
    Visits and Rules (everything the others have no column for)."""
    study = _path_sheet(STUDY, document, STUDY_KEYS)
    sources = _sources_sheet(document)
    codelists = _codelists_sheet(document)
    visits = _visits_sheet(document)
    blocks, mappings = _blocks_and_mappings(document)
    rule_tables = {sheet.name: _in_memory(sheet)
                   for sheet in (study, sources, codelists, visits, blocks, mappings)}
    problems = Problems("(the workbook being written)")
    built = rebuild(rule_tables, problems)
    if problems.items:  # the tables wrote what they cannot read: a bug of this module
        raise AssertionError(f"the workbook's own rows do not read back: {problems.items[0]}")
    rules = Sheet(RULES, PATH_COLUMNS, widths={"Path": 60, "Type": 10, "Value": 60})
    for parts, value in differences(document, built):
        rules.add({"Path": format_path(parts), "Type": value_type(value),
                   "Value": typed_cell(value)})
    return [study, codelists, sources, blocks, mappings, visits, rules]


def workbook_sheets(document: dict[str, Any], spec: Spec | None) -> list[Sheet]:
    """Every sheet of the workbook for a spec's YAML document, in order.

    The define-level sheets need the loaded spec; without one (a starter spec
    whose TODOs are not filled in yet) they have their header only.
    """
    study, codelists, sources, blocks, mappings, visits, rules = rule_sheets(document)
    if spec is None:
        define, datasets, value_level = (Sheet(DEFINE, P21_DEFINE), Sheet(DATASETS, P21_DATASETS),
                                         Sheet(VALUE_LEVEL, P21_VALUE_LEVEL))
        variables, methods = Sheet(VARIABLES, P21_VARIABLES), Sheet(METHODS, P21_METHODS)
    else:
        define, datasets, value_level = (_define_sheet(spec), _datasets_sheet(spec),
                                         _value_level_sheet(spec))
        variables, methods = _variables_and_methods(spec)
    return [_about_sheet(), define, study, datasets, variables, value_level, codelists, methods,
            sources, blocks, mappings, visits, rules]


def workbook_bytes(sheets: list[Sheet], created: datetime) -> bytes:
    """The XLSX file of ``sheets``; text cells are text, never formulas; fixed timestamps."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    from .. import __version__

    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    for sheet in sheets:
        ws = book.create_sheet(sheet.name)
        append_row(ws, sheet.header)
        for cell in ws[1]:
            cell.font = bold
        for values in sheet.rows:
            append_row(ws, [_writable(v) for v in values])
        ws.freeze_panes = "A2"
        last = get_column_letter(len(sheet.header))
        ws.auto_filter.ref = f"A1:{last}{len(sheet.rows) + 1}"
        for i, header in enumerate(sheet.header, start=1):
            ws.column_dimensions[get_column_letter(i)].width = sheet.widths.get(
                header, max(10, len(header) + 2))
    props = book.properties
    props.creator = props.lastModifiedBy = f"cdisc-convert {__version__}"
    props.title = "Mapping specification"
    props.created = props.modified = created
    return xlsx_bytes(book)


def export_workbook(spec_path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """The workbook of a spec file, checked to read back as exactly that spec.

    The spec is loaded and checked first (:func:`cdisc.spec.load_spec`: a spec
    with errors raises its :class:`SpecError`), except that a starter spec with
    TODOs left is exported too, to be finished in the workbook (its define-level
    sheets stay empty). Raises :class:`WorkbookError` (XLS006) if the workbook
    would not give the same spec document back.
    """
    from .loader import _read_spec, _yaml_text_to_document, load_spec
    from .placeholders import STILL_TO_FILL

    path = Path(spec_path).resolve()
    spec: Spec | None
    try:
        spec = load_spec(path, limits=limits)
    except SpecError as exc:
        if not exc.problems or any(p.code != STILL_TO_FILL for p in exc.problems):
            raise
        spec = None
    # the document as written (anchors expanded), which the Spec model no longer is
    document, _ = _yaml_text_to_document(_read_spec(path, limits), str(path), limits)
    created = spec.study.created if spec is not None else datetime(*ZIP_TIME)
    data = workbook_bytes(workbook_sheets(document, spec), created)
    back = read_workbook_bytes(data, str(spec_path), limits=limits)
    if not same(document, back):
        where = next((format_path(p) for p, _ in differences(document, back)), "?")
        raise WorkbookError(Problem(CANNOT_WRITE, f"the workbook would not give this spec back "
                                    f"(first difference at {where}); nothing was written",
                                    Location(file=str(spec_path))))
    return data


# --- import -------------------------------------------------------------------------------------


def _open(data: bytes | Path, file: str, limits: Limits) -> Any:
    """An openpyxl workbook, after checking the archive unpacks within ``spec_bytes`` x 20."""
    from openpyxl import load_workbook

    budget = limits.spec_bytes * 20  # a spec's workbook unpacks to a few times its YAML
    stream: Any = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        with zipfile.ZipFile(stream) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except FileNotFoundError:
        raise WorkbookError(Problem(CANNOT_READ, "the workbook does not exist",
                                    Location(file=file))) from None
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise WorkbookError(Problem(CANNOT_READ, f"not an XLSX workbook: {exc}",
                                    Location(file=file))) from None
    if unpacked > budget:
        raise WorkbookError(Problem(CANNOT_READ, f"the workbook unpacks to {unpacked:,} bytes, "
                                    f"more than a spec's workbook can (limit spec_bytes x 20 = "
                                    f"{budget:,})", Location(file=file)))
    if isinstance(stream, io.BytesIO):
        stream.seek(0)
    try:
        return load_workbook(stream, read_only=True, data_only=False, keep_links=False)
    except Exception as exc:  # a damaged package fails in many ways inside openpyxl
        raise WorkbookError(Problem(CANNOT_READ, f"cannot read the workbook: "
                                    f"{type(exc).__name__}: {exc}", Location(file=file))
                            ) from None


_REQUIRED_COLUMNS = {
    STUDY: PATH_COLUMNS, RULES: PATH_COLUMNS, SOURCES: ["Source", "Column"],
    CODELISTS: ["ID"], VISITS: VISIT_COLUMNS, BLOCKS: ["Dataset", "Block"],
    MAPPINGS: ["Dataset", "Section", "Variable", "Algorithm"],
}


def _read_tables(book: Any, file: str, problems: Problems, limits: Limits) -> dict[str, Table]:
    present = {ws.title.casefold(): ws for ws in book.worksheets}
    missing = [name for name in REQUIRED_SHEETS if name.casefold() not in present]
    for name in missing:
        shown = ", ".join(repr(ws.title) for ws in book.worksheets) or "none"
        problems.add(MISSING_SHEET, f"the workbook has no sheet {name!r} (a spec workbook has "
                     f"{', '.join(REQUIRED_SHEETS)}, as `cdisc spec export` writes them); "
                     f"its sheets are {shown}", sheet=name)
    tables: dict[str, Table] = {}
    for name in READ_SHEETS:
        ws = present.get(name.casefold())
        if ws is None:
            continue
        table = _read_sheet(ws, problems, limits)
        for column in _REQUIRED_COLUMNS[name]:
            if not table.has(column):
                problems.add(MISSING_COLUMN, f"the sheet has no column {column!r}; its header "
                             f"is {', '.join(repr(h) for h in table.headers) or 'empty'}",
                             sheet=ws.title, row=1, column=column)
        tables[name] = table
    return tables


def _read_sheet(ws: Any, problems: Problems, limits: Limits) -> Table:
    ws.reset_dimensions()  # a dimension another program wrote may be wrong
    rows = ws.iter_rows()
    header_cells = next(rows, ())
    headers = [(_as_text(c.value).strip() if c.value is not None else "") for c in header_cells]
    table = Table(ws.title, [h for h in headers if h], [])
    for number, cells in enumerate(rows, start=2):
        if number - 1 > limits.rows:
            problems.add(CANNOT_READ, f"more than {limits.rows:,} rows (limit rows)",
                         sheet=ws.title, row=number)
            break
        values: dict[str, Any] = {}
        for header, cell in zip(headers, cells, strict=False):
            if not header or cell.value is None:
                continue
            if cell.data_type == "f":
                problems.add(BAD_CELL, "the cell holds a formula; a spec cell must hold its "
                             "value (formulas are never computed)", sheet=ws.title, row=number,
                             column=header, value=str(cell.value))
                continue
            if cell.data_type == "e":
                problems.add(BAD_CELL, f"the cell holds the Excel error {cell.value}",
                             sheet=ws.title, row=number, column=header)
                continue
            values.setdefault(header.casefold(), cell.value)
        if values:
            table.rows.append(Row(ws.title, number, values))
    return table


def read_workbook_bytes(data: bytes | Path, file: str, *,
                        limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The spec document of a workbook; :class:`WorkbookError` with every problem found."""
    problems = Problems(file)
    book = _open(data, file, limits)
    try:
        tables = _read_tables(book, file, problems, limits)
    finally:
        book.close()
    document = rebuild(tables, problems)  # every problem of the sheets there are, in one run
    problems.raise_if_any()
    return document


def import_workbook(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The spec document a workbook holds (not yet checked as a spec)."""
    path = Path(path)
    if path.is_dir():
        raise WorkbookError(Problem(CANNOT_READ, "a folder, not a workbook",
                                    Location(file=str(path))))
    return read_workbook_bytes(path, str(path), limits=limits)


# --- YAML -----------------------------------------------------------------------------

_FLOW_WIDTH = 96


def _flow_friendly(value: Any) -> bool:
    """Small maps and lists of scalars read best on one line, as the shipped spec writes them."""
    if isinstance(value, dict):
        items = list(value.values())
    elif isinstance(value, list):
        items = value
    else:
        return False
    if any(isinstance(v, (dict, list)) for v in items):
        return False
    text = _json_text(value)
    return text is not None and len(text) <= _FLOW_WIDTH - 16


# YAML 1.2 (ruamel, our loader) reads these as text, YAML 1.1 tools as booleans or null:
# quoted, as the shipped spec writes "Y", so that any reader sees text
_YAML11_WORDS = re.compile(r"(?i:y|n|yes|no|on|off|true|false|null|~)")


def _commented(value: Any) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    def scalar(v: Any) -> Any:
        return DoubleQuotedScalarString(v) if isinstance(v, str) and _YAML11_WORDS.fullmatch(
            v) else v

    if isinstance(value, dict):
        node = CommentedMap((scalar(k), _commented(v)) for k, v in value.items())
    elif isinstance(value, list):
        node = CommentedSeq(_commented(v) for v in value)
    else:
        return scalar(value)
    if value and _flow_friendly(value):
        node.fa.set_flow_style()
    return node


def document_yaml(document: dict[str, Any], header: str = "") -> str:
    """YAML text of a spec document: block style, small maps on one line."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.width = _FLOW_WIDTH
    yaml.allow_unicode = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    stream = io.StringIO()
    yaml.dump(_commented(document), stream)
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    return ("\n".join(lines) + "\n" if lines else "") + stream.getvalue()


def workbook_to_yaml(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> str:
    """The YAML spec a workbook holds, headed by a comment naming the workbook."""
    document = import_workbook(path, limits=limits)
    return document_yaml(document, header=(
        f"Mapping specification imported from {Path(path).name} by `cdisc spec import`.\n"
        "Format reference: docs/spec-format.md."))


def _codelist(code: str) -> standards.Codelist | None:
    try:
        return standards.codelist(code)
    except (StandardsError, CdiscError):
        return None


__all__ = ["CANNOT_READ", "CANNOT_WRITE", "WorkbookError", "document_yaml", "export_workbook",
           "format_path", "import_workbook", "parse_path", "read_workbook_bytes",
           "workbook_to_yaml"]

"""``cdisc inspect``: what a dataset file (or a folder of them) holds, for people and scripts.

:func:`inspect_path` reads an XPT v5, Dataset-JSON (``.json``/``.ndjson``) or
CSV dataset, or every dataset file of a folder (the files ``cdisc validate``
reads, plus CSV), and returns a JSON-ready document with stable keys:

- a file: ``{"kind": "dataset", "path", "file_format", "name", "label",
  "records", "variables": [{"name", "label", "type", "length", "format"}],
  "rows": [{variable: value}, ...]}`` (the first ``rows`` records);
- a folder: ``{"kind": "folder", "path", "datasets": [{"name", "label",
  "records", "variables", "file", "also"}], "skipped": [...], "problems": [...]}``.

:func:`render` turns that document into plain aligned text for a terminal:
every value is clipped and has its control characters escaped
(:func:`cdisc.text_safety.console_text`), so a value holding ESC cannot move the
cursor or recolour the terminal.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import CdiscError, Location, Problem
from ..formats import ALL_READERS
from ..text_safety import clip, console_text, json_value, plain

#: characters of one value shown in the terminal table (and kept in ``--json``)
CELL_CHARS = 24
JSON_VALUE_CHARS = 200
DEFAULT_ROWS = 5


def _unreadable(path: Path, message: str, code: str = "INS001") -> CdiscError:
    return CdiscError.single(code, message, file=str(path))


def _xpt(path: Path) -> tuple[pd.DataFrame, str, str, list[dict[str, Any]]]:
    import pyreadstat

    from ..formats.xpt import read_xpt

    frame, meta = read_xpt(path)
    try:  # numeric storage widths (3-8 bytes); read_xpt gives the character ones
        _, raw = pyreadstat.read_xport(str(path), metadataonly=True)
        widths = {c: int(w) for c, w in raw.variable_storage_width.items()}
    except Exception:  # noqa: BLE001 - read_xpt has read the file; 8 is the v5 default
        widths = {}
    variables = [{
        "name": name,
        "label": meta.column_labels.get(name, ""),
        "type": "Char" if name in meta.char_lengths else "Num",
        "length": meta.char_lengths.get(name, widths.get(name, 8)),
        "format": meta.display_formats.get(name, ""),
    } for name in frame.columns]
    return frame, meta.name, meta.label, variables


def _dataset_json(path: Path) -> tuple[pd.DataFrame, str, str, list[dict[str, Any]]]:
    from ..formats.dataset_json import read_dataset_json

    frame, meta = read_dataset_json(path)
    variables = [{
        "name": column.name,
        "label": column.label,
        "type": "Num" if column.is_numeric else "Char",
        "length": column.length,
        "format": column.display_format or "",
    } for column in meta.columns]
    return frame, meta.name, meta.label, variables


def _csv(path: Path) -> tuple[pd.DataFrame, str, str, list[dict[str, Any]]]:
    frame, name, label = ALL_READERS[".csv"](path)
    variables = []
    for column in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[column])
        text = frame[column].dropna().astype(str)
        variables.append({
            "name": str(column), "label": "", "type": "Num" if numeric else "Char",
            "length": 8 if numeric else int(text.str.len().max()) if len(text) else 1,
            "format": ""})
    return frame, name, label, variables


def _read(path: Path) -> tuple[pd.DataFrame, str, str, list[dict[str, Any]]]:
    suffix = path.suffix.lower()
    if suffix not in ALL_READERS:
        raise _unreadable(path, "not a dataset file (" + ", ".join(
            f"*{s}" for s in ALL_READERS) + ")", "INS002")
    if not path.is_file():
        raise _unreadable(path, "no such file", "INS003")
    if suffix == ".xpt":
        return _xpt(path)
    if suffix == ".csv":
        return _csv(path)
    if not ALL_READERS[suffix].accepts(path):
        raise _unreadable(path, "not a Dataset-JSON file (no top-level datasetJSONVersion)",
                          "INS002")
    return _dataset_json(path)


def _value(value: Any) -> Any:
    value = plain(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return json_value(value, JSON_VALUE_CHARS)


def inspect_file(path: str | Path, rows: int = DEFAULT_ROWS) -> dict[str, Any]:
    """The document of one dataset file; :class:`CdiscError` when it cannot be read."""
    path = Path(path)
    frame, name, label, variables = _read(path)
    head = frame.head(max(rows, 0))
    return {
        "kind": "dataset",
        "path": str(path),
        "file_format": path.suffix.lower().lstrip("."),
        "name": (name or path.stem).strip().upper(),
        "label": label or "",
        "records": len(frame),
        "variables": variables,
        "rows": [{str(c): _value(v) for c, v in zip(head.columns, record, strict=True)}
                 for record in head.itertuples(index=False, name=None)],
    }


def inspect_folder(path: str | Path) -> dict[str, Any]:
    """One summary per dataset of a folder (hidden folders and report JSON files skipped).

    A dataset in files of several formats (``dm.xpt`` and ``dm.json``) is listed
    once, from the preferred format (:attr:`cdisc.formats.Reader.rank`), its
    other files under ``also``. Unreadable files are listed under ``problems``.
    """
    root = Path(path)
    if not root.is_dir():
        raise _unreadable(root, "not a folder", "INS003")
    found: dict[str, dict[str, Any]] = {}
    ranks: dict[str, int] = {}
    skipped: list[str] = []
    problems: list[dict[str, str]] = []
    candidates = sorted(
        p for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in ALL_READERS
        and not any(part.startswith(".") for part in p.relative_to(root).parts))
    for file in candidates:
        relative = file.relative_to(root).as_posix()
        reader = ALL_READERS[file.suffix.lower()]
        if not reader.accepts(file):
            skipped.append(relative)
            continue
        try:
            document = inspect_file(file, rows=0)
        except CdiscError as exc:
            problems += [{"file": relative, "code": p.code, "message": p.message}
                         for p in exc.problems]
            continue
        summary = {"name": document["name"], "label": document["label"],
                   "records": document["records"], "variables": len(document["variables"]),
                   "file": relative, "also": []}
        # the same dataset in another folder (sdtm/ and a copy elsewhere) is another entry
        key = f"{Path(relative).parent.as_posix()}/{document['name']}"
        kept = found.get(key)
        if kept is None:
            found[key], ranks[key] = summary, reader.rank
        elif reader.rank < ranks[key]:
            summary["also"] = [*kept["also"], kept["file"]]
            found[key], ranks[key] = summary, reader.rank
        else:
            kept["also"].append(relative)
    if not found and not problems:
        raise _unreadable(root, "no dataset files (" + ", ".join(
            f"*{s}" for s in ALL_READERS) + ")", "INS004")
    return {"kind": "folder", "path": str(root),
            "datasets": sorted(found.values(), key=lambda d: (d["file"], d["name"])),
            "skipped": skipped, "problems": problems}


def inspect_path(path: str | Path, rows: int = DEFAULT_ROWS) -> dict[str, Any]:
    """:func:`inspect_folder` for a folder, else :func:`inspect_file`."""
    return inspect_folder(path) if Path(path).is_dir() else inspect_file(path, rows)


# --- the terminal ------------------------------------------------------------------------


def _cell(value: Any, width: int = CELL_CHARS) -> str:
    """A value as one table cell: whole numbers without ".0", escaped, clipped to ``width``."""
    if value is None:
        return ""
    if isinstance(value, float):
        text = str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    else:
        text = str(value)
    text = console_text(text)
    return text if len(text) <= width else text[:width - 1] + "…"


def _table(header: list[str], body: list[list[str]], right: set[int] = frozenset()) -> list[str]:
    widths = [max([len(header[i]), *(len(r[i]) for r in body)]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in body)]


def render(document: dict[str, Any], width: int = CELL_CHARS) -> list[str]:
    """The lines ``cdisc inspect`` prints for a document of :func:`inspect_path`.

    Every untrusted text (names, labels, values, file names) is escaped here.
    """
    if document["kind"] == "folder":
        body = [[_cell(d["name"], 8), _cell(d["label"], 40), str(d["records"]),
                 str(d["variables"]),
                 console_text(d["file"]) + (f" (+{len(d['also'])} other format"
                                            f"{'s' if len(d['also']) > 1 else ''})"
                                            if d["also"] else "")]
                for d in document["datasets"]]
        lines = [f"folder     {console_text(document['path'])}",
                 f"datasets   {len(document['datasets'])}", ""]
        lines += _table(["dataset", "label", "records", "variables", "file"], body, {2, 3})
        for problem in document["problems"]:
            lines.append(f"error      {console_text(problem['file'])}: {problem['code']} "
                         f"{console_text(clip(problem['message'], 200))}")
        return lines
    variables = document["variables"]
    lines = [f"dataset    {console_text(document['name'])}  {console_text(document['label'])}",
             f"file       {console_text(document['path'])} ({document['file_format']})",
             f"records    {document['records']}",
             f"variables  {len(variables)}", ""]
    lines += _table(["#", "variable", "label", "type", "length", "format"],
                    [[str(i), _cell(v["name"], 8), _cell(v["label"], 40), v["type"],
                      "" if v["length"] is None else str(v["length"]), _cell(v["format"], 12)]
                     for i, v in enumerate(variables, 1)], {0, 4})
    rows = document["rows"]
    if rows:
        names = [v["name"] for v in variables]
        lines += ["", f"first {len(rows)} of {document['records']} records", ""]
        numeric = {i for i, v in enumerate(variables) if v["type"] == "Num"}
        lines += _table([_cell(n, width) for n in names],
                        [[_cell(r.get(n), width) for n in names] for r in rows], numeric)
    return lines


def problem_line(exc: CdiscError) -> str:
    """The one line an unreadable input gets: ``file: code message``, escaped."""
    first: Problem = exc.problems[0] if exc.problems else Problem("INS001", "unreadable",
                                                                   Location())
    more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
    where = first.location.describe(200)
    return console_text(f"error: {where + ': ' if where else ''}{first.code} "
                        f"{clip(first.message, 300)}{more}")

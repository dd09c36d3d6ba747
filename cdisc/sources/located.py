"""Row problems of a run, each named by the source cell it is about, once.

The mapping stage reports a problem at the record's source file and row, but
names what it checked: sometimes the source column (a date that does not
parse), sometimes the SDTM variable (non-ASCII text in AETERM). A user fixes a
cell of the file, so :func:`locate_at_source` names the cell as the user sees
it -- file, sheet, row, the source column's header -- and then:

* one defect is one problem: a cell mapped into two variables (AETERM and
  AEDECOD from one ``term`` column) that is wrong for the same reason is one
  problem naming both variables, not two;
* a cell the reader already reported (SRC005 "ten" in a number column, SRC008
  a missing subject) is not reported again by the mapping stage, which saw it
  as missing or duplicated.

A variable is named by its source column when the spec maps it from exactly
one column of the record's source (``column:`` of its mapping); otherwise the
variable stays, with the file, sheet and row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from ..errors import Location, Problem, ProblemLog
from ..spec.model import SourceSpec, Spec
from .reader import SourceTable


def _sources_by_file(spec: Spec) -> dict[str, list[SourceSpec]]:
    by_file: dict[str, list[SourceSpec]] = {}
    for source in spec.sources.values():
        by_file.setdefault(str(source.file), []).append(source)
    return by_file


def _source_of(where: Location, by_file: Mapping[str, list[SourceSpec]],
               spec: Spec) -> SourceSpec | None:
    """The source a record's problem comes from (sheets of one workbook: by the domain)."""
    candidates = by_file.get(where.file or "", [])
    if len(candidates) > 1 and where.dataset in spec.domains:
        feeding = {block.source for block in spec.domains[where.dataset].records}
        candidates = [s for s in candidates if s.name in feeding]
    return candidates[0] if len(candidates) == 1 else None


def _source_column(field: str | None, dataset: str | None, source: SourceSpec,
                   spec: Spec) -> str | None:
    """The header of the source column ``field`` names or is mapped from, else ``field``."""
    if field is None or field in source.columns:
        return source.header_of(field) if field is not None else None
    domain = spec.domains.get(dataset or "")
    if domain is None:
        return field
    columns = set()
    for block in domain.records:
        if block.source != source.name:
            continue
        mapping = block.map.get(field) or block.supp.get(field)
        # a mapping that names a source (lookup) reads its column from that other source
        own = isinstance(mapping, dict) and "source" not in mapping
        column = mapping.get("column") if own else None
        columns.add(column if isinstance(column, str) and column in source.columns else None)
    return source.header_of(columns.pop()) if len(columns) == 1 and None not in columns else field


def _cell(where: Location) -> tuple:
    return (where.file, where.sheet, where.row, where.field)


def _joined(first: str, other: str) -> str:
    """``AE.AETERM: x`` and ``AE.AEDECOD: x`` -> ``AE.AETERM, AE.AEDECOD: x``."""
    head, sep, rest = first.partition(": ")
    other_head, other_sep, other_rest = other.partition(": ")
    if not sep or not other_sep or rest != other_rest or other_head in head.split(", "):
        return first
    return f"{head}, {other_head}: {rest}"


def locate_at_source(problems: Iterable[Problem], spec: Spec,
                     tables: Mapping[str, SourceTable]) -> ProblemLog:
    """``problems`` with each mapping-stage row problem at its source cell, once (module doc)."""
    by_file = _sources_by_file(spec)
    columns: dict[tuple, str | None] = {}  # (field, dataset, source) -> its source column
    kept: list[Problem] = []
    read_errors: set[tuple] = set()  # cells the reader reported as errors
    first: dict[tuple, int] = {}  # defect -> index in kept
    for problem in problems:
        where = problem.location
        if problem.code.startswith("SRC"):
            if problem.severity.blocking and where.row is not None:
                read_errors.add(_cell(where))
            kept.append(problem)
            continue
        if where.row is None or where.dataset is None:
            kept.append(problem)
            continue
        source = _source_of(where, by_file, spec)
        if source is not None:
            table = tables.get(source.name)
            key = (where.field, where.dataset, source.name)
            if key not in columns:
                columns[key] = _source_column(where.field, where.dataset, source, spec)
            where = replace(where, sheet=where.sheet or (table.sheet if table else source.sheet),
                            field=columns[key])
            problem = replace(problem, location=where)
        if _cell(where) in read_errors:
            continue  # the reader reported this cell; what mapping saw of it follows from that
        defect = (problem.code, problem.severity, *_cell(where), str(where.value))
        if defect in first:
            index = first[defect]
            kept[index] = replace(kept[index], message=_joined(kept[index].message,
                                                               problem.message))
            continue
        first[defect] = len(kept)
        kept.append(problem)
    log = ProblemLog()
    log.extend(kept)
    return log

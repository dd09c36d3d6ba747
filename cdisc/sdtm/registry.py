"""The registry of mapping algorithms, and the context they run in.

An algorithm is one small pure function on DataFrames, registered by the
name a spec uses (``algorithm: assign_ct``). Each belongs to a phase, because
some values need other values first:

``record``
    ``f(src, ctx, **args) -> Series`` aligned with ``src``, the rows of a
    record block's source (joined columns included, as ``source.column``).
``subject``
    ``f(tgt, ctx, **args) -> Series`` aligned with ``tgt``, the domain after
    the record phase of *every* domain, so DM can take RFSTDTC from EX.
``domain``
    ``f(tgt, ctx, **args) -> Series`` after the subject phase, so --DY can use
    DM.RFSTDTC and --SEQ numbers the final, sorted records.

Each algorithm declares, in its decorator, the arguments a spec gives it
(:class:`cdisc.spec.algorithms.Arg`), its phase and the variables it reads from
other domains. ``tools/build_spec_schema.py`` writes these declarations into
``schemas/mapping-spec.schema.json``, which the spec checker reads; the function's
signature must match its declaration (checked when it registers).

Algorithms never raise on bad data: they report each bad record through
:meth:`MappingContext.report` (which names file, row, column and value) and
return a missing value for it, so a run lists every problem at once.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import Location, ProblemLog, Severity
from ..model.text import CodesMemo
from ..sources.reader import ROW, SOURCE, SourceTable
from ..spec.algorithms import Arg, Declaration, Phase, signature_problems
from ..spec.model import JsonPath, Spec

__all__ = ["ALGORITHMS", "Algorithm", "Arg", "MappingContext", "Phase", "algorithm",
           "get_algorithm", "known_algorithms"]


@dataclass(frozen=True)
class Algorithm:
    """A registered algorithm: its declaration (what a spec may say) and its function."""

    declaration: Declaration
    func: Callable[..., pd.Series]

    @property
    def name(self) -> str:
        return self.declaration.name

    @property
    def phase(self) -> Phase:
        return self.declaration.phase

    @property
    def column_args(self) -> tuple[str, ...]:
        """Arguments whose value names a column of the block's source (or of a joined one)."""
        return self.declaration.column_args


ALGORITHMS: dict[str, Algorithm] = {}


def algorithm(name: str, phase: Phase, *, args: Mapping[str, Arg] | None = None,
              needs: tuple[str, ...] = (), copies: str | None = None) -> Callable:
    """Register ``func`` under ``name`` (the spec's ``algorithm:`` value), with its declaration.

    ``args``: each argument a spec may give, in the order the docs list them;
    ``needs``: variables of other domains it reads (``"DM.RFSTDTC"``);
    ``copies``: the column argument whose value is the result unchanged. The
    schema's description of the algorithm is the first paragraph of its docstring.
    """

    def register(func: Callable[..., pd.Series]) -> Callable[..., pd.Series]:
        if name in ALGORITHMS:
            raise ValueError(f"algorithm {name!r} registered twice")
        summary = (inspect.getdoc(func) or "").split("\n\n")[0]
        declaration = Declaration(name, phase, dict(args or {}), tuple(needs), copies,
                                  " ".join(summary.replace("``", "`").split()))
        wrong = signature_problems(declaration, func)
        if wrong:
            raise TypeError(f"algorithm {name!r} ({func.__module__}.{func.__qualname__}): "
                            + "; ".join(wrong))
        ALGORITHMS[name] = Algorithm(declaration, func)
        return func

    return register


def get_algorithm(name: str) -> Algorithm:
    _load_builtin()
    return ALGORITHMS[name]


def known_algorithms() -> dict[str, Algorithm]:
    _load_builtin()
    return dict(ALGORITHMS)


def _load_builtin() -> None:
    # Importing the modules registers their algorithms.
    from . import (  # noqa: F401
        best_response,
        date_arithmetic,
        derivations,
        primitives,
        recode,
        text_format,
        timing,
        units,
    )


@dataclass
class MappingContext:
    """What an algorithm may read besides its input frame, and where it reports."""

    spec: Spec
    sources: dict[str, SourceTable]
    problems: ProblemLog = field(default_factory=ProblemLog)
    domains: dict[str, pd.DataFrame] = field(default_factory=dict)
    domain: str = ""
    variable: str = ""
    json_path: JsonPath = ()
    #: rows of each source used by lookups (the block's own rows are tracked by the engine)
    used_rows: dict[str, set[int]] = field(default_factory=dict)
    #: the codes of the sorted domain's text columns, in the domain phase (else None)
    codes: CodesMemo | None = None

    def at(self, domain: str, variable: str, json_path: JsonPath,
           codes: CodesMemo | None = None) -> MappingContext:
        """The same context, positioned on one target variable."""
        return MappingContext(
            self.spec, self.sources, self.problems, self.domains, domain, variable,
            json_path, self.used_rows, codes,
        )

    def column_spec(self, column: str):  # -> ColumnSpec | None
        """Declared type/format of ``column`` or of a joined ``source.column``."""
        if "." in column:
            source, _, name = column.partition(".")
            src = self.spec.sources.get(source)
            return src.columns.get(name) if src else None
        block_source = self.block_source
        return self.spec.sources[block_source].columns.get(column) if block_source else None

    @property
    def block_source(self) -> str | None:
        path = self.json_path
        if len(path) >= 4 and path[0] == "domains" and path[2] == "records":
            block = self.spec.domains[self.domain].records[int(path[3])]
            return block.source
        return None

    def _sheet(self, source_name: str | None) -> str | None:
        """The worksheet a record of an XLSX source was read from (None for other files)."""
        source = self.spec.sources.get(source_name) if source_name else None
        if source is None:
            return None
        # the reader knows the sheet it read when the spec names none (the first one)
        return getattr(self.sources.get(source_name), "sheet", None) or source.sheet

    def report(
        self,
        code: str,
        message: str,
        frame: pd.DataFrame,
        mask: pd.Series,
        column: str | None = None,
        values: pd.Series | None = None,
        severity: Severity = Severity.ERROR,
    ) -> None:
        """One problem per masked record, located at its source file and row."""
        if not mask.any():
            return
        where = mask[mask].index
        shown = values if values is not None else frame.get(column)
        for idx in where:
            source_name = frame.at[idx, SOURCE] if SOURCE in frame else None
            row = frame.at[idx, ROW] if ROW in frame else None
            source = self.spec.sources.get(source_name) if source_name else None
            file = str(source.file) if source else None
            value: Any = shown.at[idx] if shown is not None else None
            self.problems.add(
                code,
                f"{self.domain}.{self.variable}: {message}",
                Location(
                    file=file,
                    sheet=self._sheet(source_name),
                    row=int(row) if row is not None and pd.notna(row) else None,
                    field=column,
                    value=None if value is None or (not isinstance(value, str) and pd.isna(value))
                    else value,
                    dataset=self.domain,
                    json_path=None,
                ),
                severity,
            )

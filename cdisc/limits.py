"""Bounds on what one run reads, so a hostile or broken input stops with a located error.

The defaults are far above any real study (a case series has tens of rows, a
whole trial a few hundred thousand records per domain); they exist so that a
row bomb, a million-column CSV, a 100 MB spec or ``/dev/zero`` given as a file
ends in seconds with a message, not after minutes and gigabytes. Every limit
can be raised on the command line (``--limit rows=5000000``) or through
:func:`cdisc.pipeline.convert`'s ``limits`` argument.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Limits:
    #: records in one source table (sheet or CSV file)
    rows: int = 5_000_000
    #: columns in one source table's header
    columns: int = 5_000
    #: characters in one source cell (Excel's own cell limit is 32,767)
    cell_chars: int = 100_000
    #: bytes of one source file
    file_bytes: int = 4 * 1024**3
    #: bytes of the mapping spec file
    spec_bytes: int = 10 * 1024**2
    #: nesting depth of the mapping spec (maps and lists inside each other)
    spec_depth: int = 64
    #: digits of a number written in the spec
    spec_number_digits: int = 40
    #: problems of one code kept in errors.json / reports (the rest are counted)
    problems_per_code: int = 1_000
    #: characters of a value quoted in a message
    message_value_chars: int = 200

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def with_overrides(self, overrides: dict[str, int]) -> Limits:
        """A copy with some limits changed; unknown names and non-positive values are refused."""
        unknown = sorted(set(overrides) - set(self.names()))
        if unknown:
            raise ValueError(f"unknown limit {', '.join(unknown)}; "
                             f"the limits are {', '.join(self.names())}")
        bad = sorted(name for name, value in overrides.items() if value < 1)
        if bad:
            raise ValueError(f"limit {', '.join(bad)} must be a positive whole number")
        return replace(self, **overrides)


DEFAULT_LIMITS = Limits()

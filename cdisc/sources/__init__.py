"""Read source records (CSV/XLSX) as declared by the spec, keeping row numbers."""

from .reader import ROW, SOURCE, SourceTable, read_sources

__all__ = ["ROW", "SOURCE", "SourceTable", "read_sources"]

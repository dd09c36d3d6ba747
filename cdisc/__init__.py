"""cdisc: case-series records to CDISC SDTM and ADaM, driven by a mapping spec."""

__version__ = "0.1.0"

"""Command line entry for a source checkout: ``python cli.py convert ...``.

The commands live in :mod:`cdisc.cli` so that the installed ``cdisc`` command
(and ``python -m cdisc``) need no top-level module of a generic name.
"""

from cdisc.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    from cdisc.__main__ import main as command

    command()

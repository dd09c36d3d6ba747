"""ADRS from SDTM RS and ADSL (cdisc.adam.adrs): one test per rule on tiny inline tables.

Every subject starts treatment on 2020-01-01 (TRTSDT); an assessment is given by
its day offset from that date, so "d42" is 2020-02-12 and meets the default
42-day minimum for SD; confirmation needs a second response 28 days later.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from cdisc import standards
from cdisc.adam import recist
from cdisc.adam.adrs import PARAMCDS, derive_adrs
from cdisc.errors import DerivationError
from cdisc.model import Dataset, resolve_metadata
from cdisc.output.writers import write_datasets
from cdisc.pipeline import build
from cdisc.spec.model import RecistOptions

START = date(2020, 1, 1)
SAS0 = date(1960, 1, 1)
OPTIONS = RecistOptions(confirm=True)


def sas(day: int) -> float:
    """The SAS date number of START + day."""
    return float((START + timedelta(days=day) - SAS0).days)


def rs(*subjects: tuple[str, list[tuple[int | str, str]]], evaluator: str = "INVESTIGATOR"
       ) -> pd.DataFrame:
    """RS OVRLRESP records: (USUBJID, [(day offset or RSDTC text, response), ...])."""
    rows = []
    for usubjid, assessments in subjects:
        for n, (when, resp) in enumerate(assessments, start=1):
            dtc = when if isinstance(when, str) else (START + timedelta(days=when)).isoformat()
            rows.append({"STUDYID": "S", "DOMAIN": "RS", "USUBJID": usubjid, "RSSEQ": float(n),
                         "RSTESTCD": "OVRLRESP", "RSTEST": "Overall Response",
                         "RSSTRESC": resp, "RSEVAL": evaluator, "VISITNUM": float(n + 1),
                         "VISIT": f"VISIT {n + 1}", "RSDTC": dtc})
    return pd.DataFrame(rows)


def adsl(*usubjids: str, dthdt: dict[str, date] | None = None, **dates: object) -> pd.DataFrame:
    frame = pd.DataFrame({"STUDYID": "S", "USUBJID": list(usubjids),
                          "TRTSDT": pd.to_datetime([START] * len(usubjids))})
    for name, value in dates.items():
        frame[name] = value
    if dthdt is not None:
        frame["DTHDT"] = pd.to_datetime([dthdt.get(u) for u in usubjids])
    return frame


def derive(rs_frame: pd.DataFrame, adsl_frame: pd.DataFrame | None = None,
           options: RecistOptions = OPTIONS, **kwargs) -> pd.DataFrame:
    if adsl_frame is None:
        adsl_frame = adsl(*sorted(set(rs_frame["USUBJID"])))
    return derive_adrs({"RS": rs_frame}, adsl_frame, options, **kwargs).frame


def param(frame: pd.DataFrame, paramcd: str, usubjid: str = "S-1") -> dict:
    rows = frame[(frame["PARAMCD"] == paramcd) & (frame["USUBJID"] == usubjid)]
    assert len(rows) == 1, (paramcd, usubjid, len(rows))
    return rows.iloc[0].to_dict()


def value(frame: pd.DataFrame, paramcd: str, usubjid: str = "S-1") -> tuple:
    """(AVALC, AVAL, ADT) of a one-per-subject parameter; a missing ADT is None."""
    row = param(frame, paramcd, usubjid)
    adt = None if pd.isna(row["ADT"]) else row["ADT"]
    aval = None if pd.isna(row["AVAL"]) else row["AVAL"]
    return row["AVALC"], aval, adt


# --- confirmation (RECIST 1.1 s4.6.1, Table 3) --------------------------------------


def test_cr_confirmed_after_28_days() -> None:
    f = derive(rs(("S-1", [(42, "CR"), (70, "CR")])))
    assert value(f, "CBOR") == ("CR", 1.0, sas(42))
    assert value(f, "BOR") == ("CR", 1.0, sas(42))
    assert value(f, "CRSP") == ("Y", 1.0, sas(42))
    assert value(f, "RSP") == ("Y", 1.0, sas(42))


def test_cr_not_confirmed_within_28_days_counts_as_sd() -> None:
    f = derive(rs(("S-1", [(42, "CR"), (63, "CR")])))
    assert value(f, "BOR") == ("CR", 1.0, sas(42))  # confirmation not required
    assert value(f, "CBOR") == ("SD", 3.0, sas(42))  # Table 3: unconfirmed, SD duration met
    assert value(f, "CRSP") == ("N", 0.0, None)


def test_pr_then_sd_is_sd_when_confirmed_and_pr_otherwise() -> None:
    f = derive(rs(("S-1", [(42, "PR"), (84, "SD")])))
    assert value(f, "BOR") == ("PR", 2.0, sas(42))
    assert value(f, "CBOR") == ("SD", 3.0, sas(42))
    assert value(f, "RSP")[0] == "Y" and value(f, "CRSP")[0] == "N"


def test_pr_confirmed_by_a_later_cr() -> None:
    f = derive(rs(("S-1", [(42, "PR"), (84, "CR")])))
    assert value(f, "CBOR") == ("PR", 2.0, sas(42))  # CR unconfirmed, PR confirmed by it
    assert value(f, "CRSP") == ("Y", 1.0, sas(42))


def test_one_ne_in_between_is_tolerated_two_are_not() -> None:
    one = derive(rs(("S-1", [(42, "PR"), (70, "NE"), (98, "PR")])))
    assert value(one, "CBOR") == ("PR", 2.0, sas(42))
    two = derive(rs(("S-1", [(42, "PR"), (63, "NE"), (84, "NE"), (105, "PR")])))
    assert value(two, "CBOR") == ("SD", 3.0, sas(42))
    assert value(two, "CRSP")[0] == "N"
    relaxed = derive(rs(("S-1", [(42, "PR"), (63, "NE"), (84, "NE"), (105, "PR")])),
                     options=RecistOptions(confirm_max_ne=2))
    assert value(relaxed, "CBOR")[0] == "PR"


def test_confirmation_interval_comes_from_the_options() -> None:
    table = rs(("S-1", [(42, "PR"), (70, "PR")]))
    assert value(derive(table), "CBOR")[0] == "PR"
    strict = derive(table, options=RecistOptions(confirm_min_days=35))
    assert value(strict, "CBOR") == ("SD", 3.0, sas(42))
    assert value(strict, "CRSP")[0] == "N"


def test_crsp_takes_the_earliest_confirmed_response() -> None:
    # PR at d42 is confirmed (PR d70); the CR at d98 is confirmed too, later.
    f = derive(rs(("S-1", [(42, "PR"), (70, "PR"), (98, "CR"), (126, "CR")])))
    assert value(f, "CBOR") == ("CR", 1.0, sas(98))  # CR beats PR
    assert value(f, "CRSP") == ("Y", 1.0, sas(42))  # first confirmed response


def test_first_confirmed_response_helper() -> None:
    o = RecistOptions()
    assert recist.first_confirmed_response(["PR", "CR"], [42, 84], o) == (0, 1)
    assert recist.first_confirmed_response(["CR", "PR"], [42, 84], o) == (None, None)
    assert recist.first_confirmed_response(["PR", "PR"], [42, np.nan], o) == (None, None)
    assert recist.first_confirmed_response([], [], o) == (None, None)


# --- SD minimum duration, NE, PD ---------------------------------------------------------


def test_early_sd_then_pd_is_pd() -> None:
    f = derive(rs(("S-1", [(21, "SD"), (42, "PD")])))
    assert value(f, "BOR") == ("PD", 5.0, sas(42))
    assert value(f, "CBOR") == ("PD", 5.0, sas(42))
    assert value(f, "PD") == ("Y", 1.0, sas(42))


def test_early_sd_alone_is_ne_dated_at_the_first_assessment() -> None:
    f = derive(rs(("S-1", [(21, "SD"), (35, "NE")])))
    assert value(f, "BOR") == ("NE", 6.0, sas(21))
    assert value(f, "CBOR") == ("NE", 6.0, sas(21))


def test_sd_minimum_duration_comes_from_the_options() -> None:
    table = rs(("S-1", [(42, "SD")]))
    assert value(derive(table), "BOR") == ("SD", 3.0, sas(42))
    longer = derive(table, options=RecistOptions(sd_min_days=56))
    assert value(longer, "BOR") == ("NE", 6.0, sas(42))


def test_non_target_disease_only() -> None:
    f = derive(rs(("S-1", [(21, "NON-CR/NON-PD"), (42, "NON-CR/NON-PD")])))
    assert value(f, "BOR") == ("NON-CR/NON-PD", 4.0, sas(42))
    assert value(f, "CBOR") == ("NON-CR/NON-PD", 4.0, sas(42))


def test_records_after_the_first_pd_do_not_count_but_are_the_last_assessment() -> None:
    f = derive(rs(("S-1", [(42, "PD"), (84, "PR"), (126, "PR")])))
    assert value(f, "BOR")[0] == "PD" and value(f, "RSP")[0] == "N"
    ovr = f[f["PARAMCD"] == "OVR"].sort_values("ADT")
    assert ovr["ANL02FL"].tolist() == ["Y", None, None]
    assert ovr["ANL01FL"].tolist() == ["Y", "Y", "Y"]
    assert value(f, "LSTA") == ("PR", 2.0, sas(126))


# --- subjects, dates, flags ----------------------------------------------------------------


def test_subject_without_assessment() -> None:
    table = rs(("S-1", [(42, "PR")]))
    f = derive(table, adsl("S-1", "S-2", dthdt={"S-2": date(2020, 3, 1)}))
    assert value(f, "BOR", "S-2") == ("NE", 6.0, None)
    assert value(f, "CBOR", "S-2") == ("NE", 6.0, None)
    assert value(f, "LSTA", "S-2") == (None, None, None)
    assert value(f, "PD", "S-2") == ("N", 0.0, None)
    assert value(f, "RSP", "S-2") == ("N", 0.0, None)
    assert value(f, "DEATH", "S-2") == ("Y", 1.0, float((date(2020, 3, 1) - SAS0).days))
    assert value(f, "DEATH", "S-1") == ("N", 0.0, None)
    assert not (f["USUBJID"].eq("S-2") & f["PARAMCD"].eq("OVR")).any()
    admiral = derive(table, adsl("S-1", "S-2"), no_assessment="MISSING")
    assert value(admiral, "BOR", "S-2") == ("MISSING", 7.0, None)
    assert "DEATH" not in set(admiral["PARAMCD"])  # ADSL without DTHDT: nothing known


def test_partial_date_is_imputed_to_the_last_day_of_the_month() -> None:
    f = derive(rs(("S-1", [("2020-02", "SD"), ("2020", "PR"), ("2020-04-01T10:30", "PR")])))
    ovr = f[f["PARAMCD"] == "OVR"].set_index("SRCSEQ")
    assert ovr.loc[1.0, "ADT"] == float((date(2020, 2, 29) - SAS0).days)
    assert ovr.loc[1.0, "ADTF"] == "D" and ovr.loc[1.0, "ANL01FL"] == "Y"
    assert np.isnan(ovr.loc[2.0, "ADT"]) and ovr.loc[2.0, "ANL01FL"] is None  # year only
    assert ovr.loc[3.0, "ADTF"] is None
    assert value(f, "BOR") == ("PR", 2.0, float((date(2020, 4, 1) - SAS0).days))
    assert param(f, "CBOR")["ADTF"] == "D"  # SD from the imputed date (day 59 >= 42)


def test_anl01fl_one_record_per_date_the_worst() -> None:
    table = rs(("S-1", [(42, "SD"), (42, "PD"), (84, "NE"), (84, "PR"), (-3, "SD")]))
    f = derive(table)
    ovr = f[f["PARAMCD"] == "OVR"].set_index("SRCSEQ")
    assert ovr["ANL01FL"].to_dict() == {5.0: None, 1.0: None, 2.0: "Y", 3.0: None, 4.0: "Y"}
    assert value(f, "PD") == ("Y", 1.0, sas(42))


def test_reference_is_randdt_when_adsl_has_one() -> None:
    table = rs(("S-1", [(-5, "SD"), (40, "SD")]))
    randomised = adsl("S-1", RANDDT=pd.to_datetime([START - timedelta(days=10)]))
    f = derive(table, randomised)
    assert f[f["PARAMCD"] == "OVR"]["ANL01FL"].tolist() == ["Y", "Y"]
    assert value(f, "BOR") == ("SD", 3.0, sas(40))  # day 50 after randomisation
    assert param(f, "BOR")["RANDDT"] == sas(-10)
    plain = derive(table)
    assert plain[plain["PARAMCD"] == "OVR"]["ANL01FL"].tolist() == [None, "Y"]
    assert value(plain, "BOR")[0] == "NE"


@pytest.mark.parametrize("form", ["datetime", "sas", "iso", "iso-datetime"])
def test_adsl_dates_in_any_form(form: str) -> None:
    table = rs(("S-1", [(42, "PR"), (84, "PR")]))
    base = derive(table)
    frame = adsl("S-1")
    frame["TRTSDT"] = {
        "datetime": frame["TRTSDT"],
        "sas": pd.Series([sas(0)]),
        "iso": pd.Series([START.isoformat()]),
        "iso-datetime": pd.Series([f"{START.isoformat()}T08:15:00"]),
    }[form]
    pd.testing.assert_frame_equal(derive(table, frame), base)


def test_evaluator_selection_and_wording() -> None:
    table = pd.concat([rs(("S-1", [(42, "PR"), (84, "PR")])),
                       rs(("S-1", [(21, "SD"), (84, "PD")]), evaluator="INDEPENDENT ASSESSOR")])
    inv = derive(table)
    assert value(inv, "BOR")[0] == "PR"
    assert param(inv, "BOR")["PARAM"] == (
        "Best Overall Response by Investigator (confirmation not required)")
    assert param(inv, "CBOR")["PARCAT2"] == "Investigator"
    ind = derive(table, options=RecistOptions(evaluator="INDEPENDENT ASSESSOR"))
    assert value(ind, "BOR")[0] == "PD"
    assert param(ind, "PD")["PARAM"] == "Disease Progression by Independent Assessor"


# --- errors --------------------------------------------------------------------------------


def test_rs_subject_missing_from_adsl_is_an_error() -> None:
    with pytest.raises(DerivationError) as err:
        derive(rs(("S-1", [(42, "PR")]), ("S-9", [(42, "SD")])), adsl("S-1"))
    (problem,) = err.value.problems
    assert problem.code == "ADRS004"
    assert (problem.location.dataset, problem.location.usubjid,
            problem.location.record) == ("RS", "S-9", 2)


def test_every_input_problem_is_reported_at_once() -> None:
    frame = pd.concat([adsl("S-1", "S-2"), adsl("S-2")], ignore_index=True)
    frame["TRTSDT"] = ["2020-01-01", "01JAN2020", "2020-01-01"]
    table = rs(("S-1", [("2020-13-45", "PR")]))
    with pytest.raises(DerivationError) as err:
        derive(table, frame)
    got = sorted((p.code, p.location.dataset, p.location.record) for p in err.value.problems)
    assert got == [("ADRS003", "ADSL", 3), ("ADRS005", "RS", 1), ("ADRS006", "ADSL", 2)]


@pytest.mark.parametrize(("drop", "dataset", "code"), [
    ("RSDTC", "RS", "ADRS001"), ("TRTSDT", "ADSL", "ADRS002"), ("STUDYID", "ADSL", "ADRS002")])
def test_missing_variables(drop: str, dataset: str, code: str) -> None:
    table, frame = rs(("S-1", [(42, "PR")])), adsl("S-1")
    if dataset == "RS":
        table = table.drop(columns=drop)
    else:
        frame = frame.drop(columns=drop)
    with pytest.raises(DerivationError) as err:
        derive(table, frame)
    assert err.value.problems[0].code == code


def test_evaluator_without_records_is_an_error() -> None:
    with pytest.raises(DerivationError) as err:
        derive(rs(("S-1", [(42, "PR")])), options=RecistOptions(evaluator="INVESTIGATR"))
    (problem,) = err.value.problems
    assert problem.code == "ADRS008" and "RSEVAL INVESTIGATOR" in problem.message
    empty = derive(rs(("S-1", [(42, "PR")])).iloc[0:0], adsl("S-1"))  # nothing assessed yet
    assert value(empty, "BOR") == ("NE", 6.0, None)


def test_model_datasets_are_accepted() -> None:
    table, frame = rs(("S-1", [(42, "PR")])), adsl("S-1")
    base = derive(table, frame)
    model = {name: Dataset(resolve_metadata(name, f, None), f)
             for name, f in (("rs", table), ("ADSL", frame))}
    as_model = derive_adrs({"rs": model["rs"]}, model["ADSL"], OPTIONS)
    pd.testing.assert_frame_equal(as_model.frame, base)


def test_no_rs_and_bad_option() -> None:
    with pytest.raises(DerivationError) as err:
        derive_adrs({}, adsl("S-1"), OPTIONS)
    assert err.value.problems[0].code == "ADRS001"
    with pytest.raises(DerivationError) as err:
        derive(rs(("S-1", [(42, "PR")])), no_assessment="UNKNOWN")
    assert err.value.problems[0].code == "ADRS007"


# --- the dataset model ---------------------------------------------------------------------


def test_dataset_metadata_and_provenance() -> None:
    ds = derive_adrs({"RS": rs(("S-1", [(42, "PR"), (84, "PR")]))},
                     adsl("S-1", dthdt={}), RecistOptions(confirm_min_days=30))
    meta = ds.meta
    ig = standards.dataset("ADRS")
    assert (meta.name, meta.dataset_class, meta.standard) == ("ADRS", ig.dataset_class, "ADaMIG")
    assert list(ds.frame.columns) == [n for n in ig.names if n in ds.frame.columns]
    assert meta.variable("ADT").display_format == "DATE9." and meta.variable("ADT").is_numeric
    assert meta.variable("AVALC").label == "Analysis Value (C)"
    assert set(ds.frame["PARAMCD"]) == set(PARAMCDS)
    assert ds.frame.groupby("USUBJID")["ASEQ"].apply(list).tolist() == [
        [float(i) for i in range(1, len(ds.frame) + 1)]]
    by_param = {p.where["PARAMCD"]: p for p in ds.provenance if p.variable == "AVALC"}
    assert set(by_param) == set(PARAMCDS)
    assert all(p.phase == "derived" for p in ds.provenance)
    assert by_param["CBOR"].arguments["confirm_min_days"] == 30
    assert by_param["CBOR"].arguments["sd_min_days"] == 42
    assert by_param["BOR"].arguments["confirm"] is False
    assert by_param["DEATH"].source == "ADSL"


# --- the example: Table II ------------------------------------------------------------------


@pytest.fixture(scope="module")
def example() -> tuple[dict[str, pd.DataFrame], RecistOptions]:
    spec, result = build()
    return result.datasets, RecistOptions(**spec.recist)


def example_adsl(sdtm: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """A minimal ADSL from DM and EX (TRTSDT = first EXSTDTC; DTHDT = DM.DTHDTC)."""
    dm, ex = sdtm["DM"], sdtm["EX"]
    first = ex.groupby("USUBJID")["EXSTDTC"].min()
    return pd.DataFrame({"STUDYID": dm["STUDYID"], "USUBJID": dm["USUBJID"],
                         "TRTSDT": pd.to_datetime(dm["USUBJID"].map(first)),
                         "DTHDT": pd.to_datetime(dm["DTHDTC"])})


def test_example_gives_table_ii(example, tmp_path) -> None:
    sdtm, options = example
    ds = derive_adrs(sdtm, example_adsl(sdtm), options)
    write_datasets([ds], tmp_path, created=datetime(2013, 2, 1))
    back = pd.read_sas(tmp_path / "adrs.xpt", format="xport", encoding="ascii")
    for paramcd in ("BOR", "CBOR"):  # confirmation (28 days) changes nothing here
        best = back[back["PARAMCD"] == paramcd]
        assert best["AVALC"].value_counts().to_dict() == {"PR": 5, "NE": 3, "SD": 1, "PD": 1}
        assert len(best) == 10
    # The derived BOR equals the investigator's collected BESTRESP wherever there is one.
    rs_best = sdtm["RS"][sdtm["RS"]["RSTESTCD"] == "BESTRESP"].set_index("USUBJID")["RSSTRESC"]
    bor = back[back["PARAMCD"] == "BOR"].set_index("USUBJID")["AVALC"]
    assert len(rs_best) == 7 and (bor[rs_best.index] == rs_best).all()
    assert set(bor[bor == "NE"].index) == {"PECOMA-MTOR-004", "PECOMA-MTOR-006",
                                          "PECOMA-MTOR-008"}


def test_example_confirmation_window_matters_only_for_patient_10(example) -> None:
    sdtm, options = example
    strict = RecistOptions(**{**vars(options), "confirm_min_days": 35})
    f = derive_adrs(sdtm, example_adsl(sdtm), strict).frame
    cbor = f[f["PARAMCD"] == "CBOR"].set_index("USUBJID")["AVALC"]
    assert cbor["PECOMA-MTOR-010"] == "SD"  # PR 21-DEC-2012 and 24-JAN-2013: 34 days apart
    assert cbor.value_counts().to_dict() == {"PR": 4, "NE": 3, "SD": 2, "PD": 1}

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdisc.sdtm.dates import check_format, study_day, to_iso8601


def convert(values, formats=("DD-MMM-YYYY",)):
    return to_iso8601(pd.Series(values, dtype=object), list(formats))


def test_complete_partial_and_missing_dates():
    iso, problems = convert(["12-MAR-2011", "UN-JUL-2012", "UN-UNK-2010", "", None])
    assert iso.tolist() == ["2011-03-12", "2012-07", "2010", None, None]
    assert problems.empty


def test_impossible_and_unparseable_dates_are_errors_with_reason():
    iso, problems = convert(["30-FEB-2012", "29-FEB-2012", "12/03/2011", "12-XYZ-2011"])
    assert iso.tolist() == [None, "2012-02-29", None, None]
    assert problems["reason"].tolist() == [
        "is not a real calendar date",
        "does not match the declared format(s) DD-MMM-YYYY",
        "month is not 1-12 or a month name",
    ]
    assert problems.index.tolist() == [0, 2, 3]


def test_several_formats_and_times():
    iso, problems = convert(
        ["2012-07-15", "15/07/2012", "2012-07-15T10:30", "15/07/2012 25:00"],
        ["YYYY-MM-DD", "DD/MM/YYYY", "YYYY-MM-DDThh:mm", "DD/MM/YYYY hh:mm"],
    )
    assert iso.tolist() == ["2012-07-15", "2012-07-15", "2012-07-15T10:30", None]
    assert problems["reason"].tolist() == ["hour is not 0-23"]


def test_unknown_part_truncates_on_the_right():
    # SDTMIG 4.4.2: a known day after an unknown month cannot be represented.
    iso, _ = convert(["15-UNK-2012"])
    assert iso.tolist() == ["2012"]


@pytest.mark.parametrize("fmt, ok", [("DD-MMM-YYYY", True), ("YYYY", True), ("foo", False),
                                     ("DD-DD-YYYY", False)])
def test_check_format(fmt, ok):
    assert (check_format(fmt) is None) is ok


def test_study_day_has_no_day_zero():
    ref = pd.Series(["2012-01-10"] * 5)
    dates = pd.Series(["2012-01-10", "2012-01-11", "2012-01-09", "2012-01", None])
    assert study_day(dates, ref).tolist() == [1, 2, -1, pd.NA, pd.NA]


@given(st.dates(min_value=pd.Timestamp("1900-01-01").date(),
                max_value=pd.Timestamp("2100-12-31").date()),
       st.sampled_from(["day", "month", "year"]))
def test_any_valid_partial_date_round_trips(day, precision):
    month = day.strftime("%b").upper()
    text = {"day": f"{day.day:02d}-{month}-{day.year}",
            "month": f"UN-{month}-{day.year}",
            "year": f"UN-UNK-{day.year}"}[precision]
    iso, problems = convert([text])
    expected = {"day": day.isoformat(), "month": day.isoformat()[:7],
                "year": day.isoformat()[:4]}[precision]
    assert problems.empty
    assert iso.tolist() == [expected]


@given(st.integers(1900, 2100), st.integers(1, 12), st.integers(29, 31))
def test_any_impossible_date_is_rejected(year, month, day):
    valid = True
    try:
        pd.Timestamp(year=year, month=month, day=day)
    except ValueError:
        valid = False
    iso, problems = convert([f"{year}-{month:02d}-{day:02d}"], ["YYYY-MM-DD"])
    assert (iso.tolist() == [None]) is (not valid)
    assert (len(problems) == 1) is (not valid)

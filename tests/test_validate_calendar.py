"""The validator's own calendar (issue 9: rules recompute what they check; issue 8: dates
outside pandas' 1677-2262 range are real dates)."""

from __future__ import annotations

import datetime
import doctest

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import cli
from cdisc.validate import calendar
from cdisc.validate.calendar import day_numbers, study_days

from helpers import MINI_FILES, MINI_SPEC, write_study


def test_doctests():
    assert doctest.testmod(calendar).failed == 0


def test_day_numbers_agree_with_the_standard_library_over_years_1_to_9999():
    rng = np.random.default_rng(7)
    first, last = datetime.date(1, 1, 1).toordinal(), datetime.date(9999, 12, 31).toordinal()
    ordinals = rng.integers(first, last, 20_000)
    iso = pd.Series([datetime.date.fromordinal(int(o)).isoformat() for o in ordinals])
    expected = ordinals - datetime.date(1970, 1, 1).toordinal()
    assert (day_numbers(iso) == expected).all()


def test_dates_that_do_not_exist_and_partial_dates_have_no_day_number():
    values = pd.Series(["2023-02-29", "1900-02-29", "2000-02-29", "0000-01-01", "2012-13-01",
                        "2012-07", "", None])
    assert np.isnan(day_numbers(values)).tolist() == [True, True, False, True, True, True,
                                                       True, True]


def test_study_days_have_no_day_zero():
    dates = pd.Series(["2012-01-09", "2012-01-10", "2012-01-11", "2012-01"])
    reference = pd.Series(["2012-01-10"] * 4)
    assert study_days(dates, reference)[:3].tolist() == [-1.0, 1.0, 2.0]
    assert np.isnan(study_days(dates, reference)[3])


@pytest.mark.e2e
def test_a_date_outside_pandas_range_converts_and_validates_without_errors(tmp_path):
    files = dict(MINI_FILES)
    files["aes.csv"] = MINI_FILES["aes.csv"].replace("09-JAN-2012", "10-OCT-1582")
    spec = write_study(tmp_path, MINI_SPEC, files)
    result = CliRunner().invoke(cli.main, ["convert", "--spec", str(spec),
                                           "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    ae = pd.read_sas(tmp_path / "out" / "sdtm" / "ae.xpt", format="xport", encoding="ascii")
    row = ae[ae["AESTDTC"] == "1582-10-10"]
    assert len(row) == 1
    expected = (datetime.date(1582, 10, 10) - datetime.date(2012, 1, 10)).days
    assert row["AESTDY"].iloc[0] == expected

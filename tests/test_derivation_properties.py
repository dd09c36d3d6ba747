"""Property-based tests of the --SEQ and --DY derivations, and of source-order independence.

SDTMIG 3.4: --SEQ numbers a subject's records 1..n in the domain's sort order
(section 4.1.5); --DY is day 1 on the reference date DM.RFSTDTC, -1 the day
before, and never 0 (section 4.4.4).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdisc import standards
from cdisc.errors import ProblemLog, Severity
from cdisc.model.text import CodesMemo
from cdisc.sdtm.dates import study_day as day_of
from cdisc.sdtm.derivations import seq, study_day
from cdisc.sdtm.engine import build_sdtm, sort_domain
from cdisc.sources.reader import ROW, SOURCE, read_sources
from cdisc.spec import load_spec

from helpers import MINI_SPEC, write_study

FAST = settings(max_examples=100, deadline=None)
SLOW = settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])

dates = st.dates(min_value=dt.date(1995, 1, 1), max_value=dt.date(2030, 12, 31))
subjects = st.integers(min_value=1, max_value=6)
terms = st.sampled_from(["Anemia", "Fatigue", "Rash", "Cough"])


def iso(day: dt.date, precision: str = "day", time: bool = False) -> str:
    text = day.isoformat()[: {"year": 4, "month": 7, "day": 10}[precision]]
    return text + ("T10:30" if time and precision == "day" else "")


# -- --SEQ --------------------------------------------------------------------------
ae_records = st.lists(
    st.tuples(subjects, terms, dates, st.sampled_from(["day", "day", "month", "year"])),
    min_size=1, max_size=40)


def ae_frame(records) -> pd.DataFrame:
    return pd.DataFrame({
        "STUDYID": "S",
        "DOMAIN": "AE",
        "USUBJID": [f"S-{s:03d}" for s, *_ in records],
        "AEDECOD": [t for _, t, *_ in records],
        "AESTDTC": [iso(d, p) for *_, d, p in records],
        SOURCE: "aes",
        ROW: range(2, 2 + len(records)),
    })


def with_seq(frame: pd.DataFrame) -> pd.DataFrame:
    ordered = sort_domain(frame, standards.dataset("AE"))
    return ordered.assign(AESEQ=seq(ordered, None))


@FAST
@given(ae_records, st.randoms(use_true_random=False))
def test_seq_is_1_to_n_per_subject_in_sorted_order_whatever_the_row_order(records, rnd):
    done = with_seq(ae_frame(records))
    for _, group in done.groupby("USUBJID", sort=False):
        assert group["AESEQ"].tolist() == list(range(1, len(group) + 1))
        keys = list(zip(group["AEDECOD"], group["AESTDTC"], strict=True))
        assert keys == sorted(keys)  # numbered in the domain's key order
    assert done["USUBJID"].is_monotonic_increasing
    assert len(done) == len(records) and set(done[ROW]) == set(range(2, 2 + len(records)))

    shuffled = list(records)
    rnd.shuffle(shuffled)
    again = with_seq(ae_frame(shuffled))
    visible = [c for c in done.columns if c not in (SOURCE, ROW)]
    pd.testing.assert_frame_equal(again[visible], done[visible])


@FAST
@given(ae_records)
def test_a_sort_that_hands_on_its_codes_gives_the_same_frame(records):
    frame = ae_frame(records)
    frame.loc[frame.index[::3], "AEDECOD"] = np.nan  # missing as NaN in the collected frame
    memo = CodesMemo()
    coded = sort_domain(frame, standards.dataset("AE"), memo)
    plain = sort_domain(frame, standards.dataset("AE"))
    assert list(coded.columns) == list(plain.columns)
    for column in coded.columns:
        assert coded[column].isna().tolist() == plain[column].isna().tolist()
        assert coded[column].dropna().tolist() == plain[column].dropna().tolist(), column
    # a text column comes with its codes, missing as None: later steps do not code it again
    decod = coded["AEDECOD"].to_numpy()
    assert memo.knows(decod) and not decod.flags.writeable
    held = memo.codes(decod)
    assert held.holds and (held.distinct[held.codes[held.codes >= 0]] ==
                           decod[held.codes >= 0]).all()
    assert all(v is None for v in decod[held.codes < 0])
    assert not memo.knows(coded[ROW].to_numpy())  # lineage is taken as it is


# -- --DY ---------------------------------------------------------------------------
@FAST
@given(st.lists(st.tuples(dates, st.booleans()), min_size=1, max_size=30), dates)
def test_study_day_has_no_day_0_and_counts_days_from_the_reference(collected, reference):
    values = pd.Series([iso(d, time=t) for d, t in collected])
    days = day_of(values, pd.Series([reference.isoformat()] * len(values)))
    for (when, _), day in zip(collected, days, strict=True):
        delta = (when - reference).days
        assert day != 0
        assert (day > 0) == (when >= reference)
        assert day == (delta + 1 if delta >= 0 else delta)
    # two dates on the same side of the reference: DY differences are day differences
    for (d1, _), y1 in zip(collected, days, strict=True):
        for (d2, _), y2 in zip(collected, days, strict=True):
            if (y1 > 0) == (y2 > 0):
                assert y1 - y2 == (d1 - d2).days
            else:  # across the reference one day (day 0) is skipped
                assert y1 - y2 == (d1 - d2).days + (1 if y1 > 0 else -1)


@FAST
@given(st.lists(st.tuples(subjects, dates, st.sampled_from(["day", "month", "year"])),
                min_size=1, max_size=30),
       st.dictionaries(subjects, st.one_of(dates, st.none()), min_size=1))
def test_study_day_uses_each_subjects_own_rfstdtc(records, references):
    usubjid = lambda s: f"S-{s:03d}"  # noqa: E731
    dm = pd.DataFrame({"USUBJID": [usubjid(s) for s in references],
                       "RFSTDTC": [d.isoformat() if d else None for d in references.values()]})
    tgt = pd.DataFrame({"USUBJID": [usubjid(s) for s, *_ in records],
                        "AESTDTC": [iso(d, p) for _, d, p in records]})
    days = study_day(tgt, SimpleNamespace(domains={"DM": dm}, codes=None), dtc="AESTDTC")
    for (subject, when, precision), day in zip(records, days, strict=True):
        reference = references.get(subject)
        if reference is None or precision != "day":  # no RFSTDTC, or a partial date
            assert pd.isna(day)
            continue
        delta = (when - reference).days
        assert day == (delta + 1 if delta >= 0 else delta) and day != 0


# -- the engine: same records in any order, same datasets --------------------------
@pytest.fixture(scope="module")
def two_folders():
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        yield Path(a), Path(b)


subject_data = st.lists(
    st.tuples(
        st.sampled_from(["Female", "Male"]),
        st.integers(min_value=18, max_value=90),
        st.lists(st.tuples(dates, st.integers(min_value=1, max_value=40),
                           st.sampled_from([3, 4, 5])), max_size=3),
        st.lists(st.tuples(terms, dates, st.sampled_from(["day", "month"])), max_size=4),
    ),
    min_size=1, max_size=5)


def study_files(data, order) -> dict[str, str]:
    pts, doses, aes = ["id,sex,age,consent"], ["id,dose,start,stop"], ["id,term,onset"]
    for i, (sex, age, dosing, events) in enumerate(data, 1):
        pts.append(f"{i},{sex},{age},01-JAN-1995")
        for start, length, dose in dosing:
            stop = start + dt.timedelta(days=length)
            doses.append(f"{i},{dose},{start:%d-%b-%Y},{stop:%d-%b-%Y}".upper())
        for term, onset, precision in events:
            day = f"{onset:%d-%b-%Y}".upper() if precision == "day" else f"UN-{onset:%b-%Y}".upper()
            aes.append(f"{i},{term},{day}")

    def arrange(lines):
        header, rows = lines[0], lines[1:]
        return "\n".join([header, *(rows[k] for k in order(len(rows)))]) + "\n"

    return {"pts.csv": arrange(pts), "doses.csv": arrange(doses), "aes.csv": arrange(aes)}


def build_in(folder: Path, files: dict[str, str]):
    spec = load_spec(write_study(folder, MINI_SPEC, files))
    problems = ProblemLog()
    tables = read_sources(spec, problems)
    result = build_sdtm(spec, tables, problems)
    assert [p for p in problems if p.severity is Severity.ERROR] == []
    return result


@SLOW
@given(subject_data, st.randoms(use_true_random=False))
def test_engine_output_does_not_depend_on_source_row_order(two_folders, data, rnd):
    def permuted(n):
        order = list(range(n))
        rnd.shuffle(order)
        return order

    first = build_in(two_folders[0], study_files(data, lambda n: range(n)))
    second = build_in(two_folders[1], study_files(data, permuted))
    assert sorted(first.datasets) == sorted(second.datasets)
    for name, frame in first.datasets.items():
        pd.testing.assert_frame_equal(second.datasets[name], frame, obj=name)
    for name, var in (("EX", "EXSEQ"), ("AE", "AESEQ")):
        frame = first.datasets[name]
        for _, numbers in frame.groupby("USUBJID")[var]:
            assert numbers.tolist() == list(range(1, len(numbers) + 1))
    for name, var in (("EX", "EXSTDY"), ("AE", "AESTDY")):
        assert (first.datasets[name][var].dropna() != 0).all()
    assert [(r.read, r.mapped + r.excluded) for r in first.reconciliation] == [
        (r.read, r.read) for r in first.reconciliation]

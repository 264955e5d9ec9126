import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.domain import workdays
from services.runtime.clock import SHANGHAI


def at(y, m, d, h=10):
    return dt.datetime(y, m, d, h, tzinfo=SHANGHAI)


def test_national_day_holiday_and_swapped_working_day_2026():
    # 2026: 1-7 October off; Sunday 20 September 2026 ... is a normal weekend day
    assert not workdays.is_working_day(dt.date(2026, 10, 1))
    assert not workdays.is_working_day(dt.date(2026, 10, 7))
    assert workdays.is_working_day(dt.date(2026, 10, 9))


def test_deadline_skips_the_national_day_week():
    # accepted Wednesday 30 September 2026; one working day later is after the holiday
    deadline = workdays.add_working_days(at(2026, 9, 30), 1)
    assert deadline.date() > dt.date(2026, 10, 7)
    assert workdays.is_working_day(deadline.date())


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        workdays.add_working_days(dt.datetime(2026, 1, 5), 1)


def test_utc_evening_is_already_the_next_day_in_shanghai():
    # 2026-11-25 20:00 UTC is Thursday 26 November 04:00 in Shanghai
    start = dt.datetime(2026, 11, 25, 20, tzinfo=dt.UTC)
    assert workdays.add_working_days(start, 0).date() == dt.date(2026, 11, 26)


@given(st.dates(dt.date(2015, 1, 1), dt.date(2026, 12, 31)), st.integers(0, 60))
def test_deadline_is_a_working_day_exactly_n_working_days_later(day, n):
    start = dt.datetime.combine(day, dt.time(9), tzinfo=SHANGHAI)
    deadline = workdays.add_working_days(start, n)
    assert workdays.is_working_day(deadline.date())
    first = day
    while not workdays.is_working_day(first):
        first += dt.timedelta(days=1)
    assert workdays.working_days_between(first, deadline.date()) == n
    assert deadline.tzinfo is not None


@given(st.dates(dt.date(2015, 1, 1), dt.date(2026, 12, 31)), st.integers(0, 30), st.integers(0, 30))
def test_deadlines_are_monotonic(day, a, b):
    start = dt.datetime.combine(day, dt.time(9), tzinfo=SHANGHAI)
    lo, hi = sorted((a, b))
    assert workdays.add_working_days(start, lo) <= workdays.add_working_days(start, hi)

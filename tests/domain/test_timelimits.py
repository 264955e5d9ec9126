"""Time limits counted as the law counts them: table tests across the Spring Festival and National
Day of 2024-2026 with their make-up days (the State Council's notices), and properties."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.domain.calendar import CalendarYearUnknown, official
from services.domain.timelimits import Pause, Unit, counted_days, due, elapsed
from services.runtime.clock import SHANGHAI

D = dt.date


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=SHANGHAI)


# (accepted, working days, due): each from the year's notice of public holidays and make-up days.
NOTICES = [
    # 2024 Spring Festival: 10-17 February off; Sunday 4 and Sunday 18 February working days.
    (D(2024, 2, 8), 1, D(2024, 2, 9)),
    (D(2024, 2, 9), 1, D(2024, 2, 18)),    # the make-up Sunday is day 1
    (D(2024, 2, 9), 2, D(2024, 2, 19)),
    (D(2024, 2, 3), 1, D(2024, 2, 4)),     # Saturday acceptance; the make-up Sunday counts
    # 2024 National Day: 1-7 October off; Sunday 29 September and Saturday 12 October working days.
    (D(2024, 9, 28), 1, D(2024, 9, 29)),
    (D(2024, 9, 30), 1, D(2024, 10, 8)),
    (D(2024, 9, 30), 5, D(2024, 10, 12)),  # the make-up Saturday counts
    (D(2024, 9, 30), 10, D(2024, 10, 18)),
    # 2025 Spring Festival: 28 January - 4 February off; Sunday 26 January, Saturday 8 February.
    (D(2025, 1, 24), 1, D(2025, 1, 26)),
    (D(2025, 1, 27), 1, D(2025, 2, 5)),
    (D(2025, 2, 5), 3, D(2025, 2, 8)),
    # 2025 National Day and Mid-autumn: 1-8 October off; Sunday 28 September, Saturday 11 October.
    (D(2025, 9, 26), 1, D(2025, 9, 28)),
    (D(2025, 9, 30), 1, D(2025, 10, 9)),
    (D(2025, 9, 30), 3, D(2025, 10, 11)),
    # 2026 Spring Festival: 15-23 February off; Saturday 14 and Saturday 28 February working days.
    (D(2026, 2, 13), 1, D(2026, 2, 14)),
    (D(2026, 2, 14), 1, D(2026, 2, 24)),   # accepted on the make-up Saturday: not counted
    (D(2026, 2, 24), 4, D(2026, 2, 28)),
    # 2026 National Day: 1-7 October off; Sunday 20 September and Saturday 10 October working days.
    (D(2026, 9, 19), 1, D(2026, 9, 20)),
    (D(2026, 9, 30), 1, D(2026, 10, 8)),
    (D(2026, 9, 30), 3, D(2026, 10, 10)),
    (D(2026, 10, 1), 1, D(2026, 10, 8)),   # accepted on a holiday: the next working day is day 1
    # An ordinary weekend: a Saturday acceptance makes Monday day 1 (the old count made it day 0).
    (D(2026, 11, 28), 1, D(2026, 11, 30)),
    (D(2026, 11, 27), 1, D(2026, 11, 30)),
]


@pytest.mark.parametrize("accepted, days, expected", NOTICES)
def test_working_days_across_the_holidays_of_the_notices(accepted, days, expected):
    deadline = due(at(accepted), days)
    assert deadline.day == expected, deadline.explanation()
    assert deadline.at == dt.datetime.combine(expected, dt.time(23, 59, 59, 999999), tzinfo=SHANGHAI)
    assert not deadline.provisional


def test_the_explanation_names_the_holiday_the_make_up_day_and_the_pause():
    text = due(at(D(2024, 9, 30)), 10, pauses=[Pause(D(2024, 10, 14), D(2024, 10, 15), "专家评审")]).explanation()
    assert "受理日 2024-09-30（星期一）不计入" in text and "国庆节放假 2024-10-01 至 2024-10-07 不计" in text
    assert "2024-10-12（星期六）调休上班，计入" in text and "专家评审暂停 2 个工作日" in text
    assert text.endswith("到期 2024-10-22（星期二）。")


def test_natural_days_end_on_the_next_working_day_when_the_last_is_not_one():
    assert due(at(D(2026, 9, 25)), 5, Unit.NATURAL_DAY).day == D(2026, 9, 30)
    assert due(at(D(2026, 9, 26)), 5, Unit.NATURAL_DAY).day == D(2026, 10, 8)   # 1 October is a holiday
    assert due(at(D(2026, 11, 23)), 5, Unit.NATURAL_DAY).day == D(2026, 11, 30)  # Saturday 28th -> Monday
    assert "顺延" in due(at(D(2026, 9, 26)), 5, Unit.NATURAL_DAY).explanation()


def test_hours_count_from_the_moment_of_acceptance():
    assert due(at(D(2026, 12, 1), 10), 2, Unit.HOUR).at == at(D(2026, 12, 1), 12)
    assert due(at(D(2026, 12, 1), 22), 4, Unit.HOUR).at == at(D(2026, 12, 2), 2)
    paused = due(at(D(2026, 12, 1), 22), 4, Unit.HOUR, pauses=[Pause(D(2026, 12, 2), D(2026, 12, 2))])
    assert paused.at == at(D(2026, 12, 3), 2)


def test_an_immediate_matter_is_due_the_day_it_is_accepted():
    assert due(at(D(2026, 11, 28)), 0).day == D(2026, 11, 28)


def test_a_deadline_in_an_unpublished_year_is_refused_or_marked_provisional():
    with pytest.raises(CalendarYearUnknown) as err:
        due(at(D(2026, 12, 20)), 20)
    assert err.value.year == 2027
    provisional = due(at(D(2026, 12, 20)), 20, provisional=True)
    assert provisional.provisional and provisional.unknown_years == (2027,)
    assert provisional.day == D(2027, 1, 15) and "2027年节假日安排尚未公布" in provisional.explanation()


def test_naive_times_and_negative_limits_are_refused():
    with pytest.raises(ValueError):
        due(dt.datetime(2026, 1, 5), 1)
    with pytest.raises(ValueError):
        due(at(D(2026, 1, 5)), -1)


def test_the_utc_evening_is_already_the_next_day_in_shanghai():
    # 2026-11-25 20:00 UTC is Thursday 26 November 04:00 in Shanghai: day 1 is Friday 27th.
    assert due(dt.datetime(2026, 11, 25, 20, tzinfo=dt.UTC), 1).day == D(2026, 11, 27)


KNOWN = st.dates(D(2005, 1, 1), D(2026, 9, 30))
PAUSES = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 10)), max_size=3)


def _pauses(start, spans):
    return [Pause(start + dt.timedelta(days=a), start + dt.timedelta(days=a + b)) for a, b in spans]


@given(KNOWN, st.integers(1, 40))
def test_a_working_day_deadline_is_a_working_day_n_working_days_after_acceptance(day, n):
    deadline = due(at(day), n).day
    calendar = official()
    assert calendar.is_working_day(deadline)
    counted = sum(calendar.is_working_day(day + dt.timedelta(days=i)) for i in range(1, (deadline - day).days + 1))
    assert counted == n


@given(KNOWN, st.integers(0, 30), st.integers(0, 30))
def test_deadlines_are_monotone_in_n(day, a, b):
    lo, hi = sorted((a, b))
    assert due(at(day), lo).at <= due(at(day), hi).at


@given(KNOWN, st.integers(1, 30), PAUSES)
def test_pausing_never_loses_budget(day, n, spans):
    """A paused deadline is never earlier, and the working days between acceptance and it, less
    the paused ones, are exactly the budget."""
    pauses = _pauses(day, spans)
    plain, paused = due(at(day), n), due(at(day), n, pauses=pauses)
    assert paused.at >= plain.at
    calendar = official()
    span = [day + dt.timedelta(days=i) for i in range(1, (paused.day - day).days + 1)]
    assert sum(calendar.is_working_day(d) and not any(p.covers(d) for p in pauses) for d in span) == n


@given(KNOWN, st.integers(1, 30), st.integers(0, 60))
def test_a_pause_over_no_working_day_changes_nothing(day, n, offset):
    calendar = official()
    first = day + dt.timedelta(days=offset)
    last = first
    while not calendar.is_working_day(last + dt.timedelta(days=1)):
        last += dt.timedelta(days=1)
    if calendar.is_working_day(first):
        return  # only spans of non-working days
    assert due(at(day), n, pauses=[Pause(first, last)]).at == due(at(day), n).at


@given(KNOWN, st.integers(0, 30), PAUSES, st.sampled_from([Unit.WORKING_DAY, Unit.NATURAL_DAY]))
def test_by_its_due_day_a_limit_has_spent_exactly_its_budget(day, n, spans, unit):
    """`elapsed` (the ledger's count) and `due` agree: the units spent by the end of the due day
    are the budget, and one day earlier fewer (a natural-day period moved off a holiday onto the
    next working day spends the days it was moved by too)."""
    pauses = _pauses(day, spans)
    deadline = due(at(day), n, unit, pauses=pauses)
    spent = elapsed(at(day), deadline.at, unit, pauses=pauses)
    assert spent >= n
    if unit is Unit.WORKING_DAY:
        assert spent == n
    if n and spent == n:
        assert elapsed(at(day), deadline.at - dt.timedelta(days=1), unit, pauses=pauses) < n


def test_counted_days_takes_out_what_a_pause_over_national_day_covers():
    # 30 September to 8 October 2024: the 30th and the 8th are working days, 1-7 October are not.
    assert counted_days(D(2024, 9, 30), D(2024, 10, 8), Unit.WORKING_DAY) == 2
    assert counted_days(D(2024, 9, 30), D(2024, 10, 8), Unit.NATURAL_DAY) == 9
    assert counted_days(D(2024, 10, 12), D(2024, 10, 13), Unit.WORKING_DAY) == 1  # the make-up Saturday
    assert counted_days(D(2024, 10, 14), D(2024, 10, 14), Unit.HOUR) == 24

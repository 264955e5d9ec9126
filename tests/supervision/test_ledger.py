"""The deadline ledger: a budget with running and paused stretches, counted on the official
calendar (National Day 2024: 1–7 October off, Sunday 29 September and Saturday 12 October worked)."""

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from services.domain import timelimits
from services.domain.timelimits import Unit
from services.runtime.clock import SHANGHAI
from services.supervision.ledger import Clock, Limit, Procedure, read


def at(*args):
    return dt.datetime(*args).replace(tzinfo=SHANGHAI)


ACCEPTED = at(2024, 9, 30, 10)
REVIEW = Procedure("专家评审", "重大项目设计方案", at(2024, 10, 14, 9), at(2024, 10, 15, 17))


def test_a_planning_permit_with_an_expert_review_over_national_day():
    ledger = read(Clock(ACCEPTED, Limit(15), Limit(20), procedures=(REVIEW,)), at(2024, 10, 21, 10))
    # Without the review: 25 October; the review's two working days push it to the 29th.
    assert ledger.promised.day == dt.date(2024, 10, 29)
    assert ledger.statutory.day == dt.date(2024, 11, 5)
    kinds = [(i.paused, i.units) for i in ledger.intervals]
    # 8–11 and 12 (make-up Saturday) October: 5 working days; the review: 2; then 16–18 spent (today, the 21st, is not).
    assert kinds == [(False, 5), (True, 2), (False, 3)]
    assert ledger.used == 8 and ledger.remaining == 7  # today, the 21st, not spent yet
    assert not ledger.paused_now and not ledger.promised_passed


def test_a_running_procedure_pauses_the_clock_up_to_today():
    running = Procedure("听证", "利害关系人申请", at(2024, 10, 14, 9))
    ledger = read(Clock(ACCEPTED, Limit(15), Limit(20), procedures=(running,)), at(2024, 10, 16, 11))
    assert ledger.paused_now
    assert ledger.intervals[-1].paused and ledger.intervals[-1].end is None
    assert ledger.intervals[-1].units == 3  # 14, 15 and 16 October so far
    assert ledger.promised.day == dt.date(2024, 10, 30)


def test_a_procedure_whose_time_counts_pauses_nothing():
    counted = Procedure("现场勘验", "", at(2024, 10, 14, 9), at(2024, 10, 15, 17), counts=True)
    with_it = read(Clock(ACCEPTED, Limit(15), Limit(20), procedures=(counted,)), at(2024, 10, 21))
    without = read(Clock(ACCEPTED, Limit(15), Limit(20)), at(2024, 10, 21))
    assert with_it.promised.at == without.promised.at == at(2024, 10, 25).replace(hour=23, minute=59, second=59,
                                                                                   microsecond=999999)


def test_a_stopped_clock_is_read_as_of_its_end_and_an_extension_moves_the_statutory_limit():
    ledger = read(Clock(ACCEPTED, Limit(15), Limit(20), extension=10, ended=at(2024, 10, 30, 15)), at(2025, 1, 1))
    assert ledger.stopped and ledger.at == at(2024, 10, 30, 15)
    assert ledger.promised_passed and not ledger.statutory_passed
    assert ledger.statutory.day == dt.date(2024, 11, 15)  # 20 + 10 working days, no pause


def test_a_retry_is_no_fact_of_the_ledger():
    """The clock is its start, budget and procedures: a step sent again keeps its first start
    (the router's started_at), so nothing about a retry can give it its time again."""
    first = read(Clock(ACCEPTED, Limit(1), Limit(4)), at(2024, 10, 9, 9))
    assert first.promised.day == dt.date(2024, 10, 8) and first.promised_passed


WEEKDAY_2025 = st.dates(dt.date(2025, 1, 2), dt.date(2025, 11, 20))


@settings(max_examples=60, deadline=None)
@given(start=WEEKDAY_2025, budget=st.integers(1, 25), pause_at=st.integers(0, 20), pause_len=st.integers(0, 6),
       days_on=st.integers(0, 40))
def test_pausing_never_loses_budget(start, budget, pause_at, pause_len, days_on):
    """Used plus remaining is the budget until it runs out, pauses or not, and a pause never
    brings the due date forward."""
    accepted = at(start.year, start.month, start.day, 10)
    first = accepted + dt.timedelta(days=pause_at)
    pause = Procedure("专家评审", "", first, first + dt.timedelta(days=pause_len, hours=2))
    now = accepted + dt.timedelta(days=days_on)
    paused, plain = (read(Clock(accepted, Limit(budget), Limit(budget + 5), procedures=p), now)
                     for p in ((pause,), ()))
    assert paused.promised.at >= plain.promised.at
    assert paused.used <= plain.used
    if not paused.promised_passed:
        assert paused.used + paused.remaining == budget
    assert sum(i.units for i in paused.intervals if not i.paused) == paused.used


@settings(max_examples=40, deadline=None)
@given(start=WEEKDAY_2025, budget=st.integers(1, 25))
def test_a_pause_over_no_working_day_changes_nothing(start, budget):
    accepted = at(start.year, start.month, start.day, 10)
    saturday = start + dt.timedelta(days=(5 - start.weekday()) % 7 or 7)
    cal = timelimits.official()
    if not (cal.knows(saturday) and not cal.is_working_day(saturday)
            and not cal.is_working_day(saturday + dt.timedelta(days=1))):
        return
    weekend = Procedure("听证", "", at(saturday.year, saturday.month, saturday.day, 9),
                        at(saturday.year, saturday.month, saturday.day, 9) + dt.timedelta(days=1, hours=5))
    now = accepted + dt.timedelta(days=60)
    assert (read(Clock(accepted, Limit(budget), Limit(40), procedures=(weekend,)), now).promised.at
            == read(Clock(accepted, Limit(budget), Limit(40)), now).promised.at)


def test_hours_and_natural_days_keep_their_units():
    ledger = read(Clock(at(2026, 12, 1, 22), Limit(4, Unit.HOUR), Limit(30, Unit.NATURAL_DAY)), at(2026, 12, 2, 1, 30))
    assert ledger.used == 3 and ledger.remaining == 1
    assert ledger.promised.at == at(2026, 12, 2, 2)
    assert ledger.statutory.day == dt.date(2026, 12, 31)

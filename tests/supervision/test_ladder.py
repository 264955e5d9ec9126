"""The warning ladder: each trigger, the pre-warning setting, and the explanations."""

import datetime as dt

import pytest

from services.domain.timelimits import Unit
from services.runtime.clock import SHANGHAI
from services.runtime.config import ConfigError
from services.supervision.ladder import Level, Prewarning, Trigger, earned
from services.supervision.ledger import Clock, Limit, Procedure, read


def at(*args):
    return dt.datetime(*args).replace(tzinfo=SHANGHAI)


CLOCK = Clock(at(2024, 9, 30, 10), Limit(15), Limit(20),
              procedures=(Procedure("专家评审", "", at(2024, 10, 14, 9), at(2024, 10, 15, 17)),))


def levels(now, clock=CLOCK, rule=Prewarning(), **kw):
    return [(r.level, r.trigger) for r in earned(read(clock, now), rule, step=False, **kw)]


def test_nothing_while_the_budget_lasts():
    assert levels(at(2024, 10, 28, 17)) == []


def test_pre_warning_on_the_last_working_day():
    (r,) = earned(read(CLOCK, at(2024, 10, 29, 9)), Prewarning(), step=False)
    assert (r.level, r.trigger) == (Level.PRE_WARNING, Trigger.BUDGET_LOW)
    assert r.explanation == "承诺时限 10月29日到期，剩余1个工作日；因国庆节顺延5个工作日；专家评审暂停2个工作日。"


def test_pre_warning_as_a_share_of_the_budget():
    # 20 % of 15 working days: 3 left, so from the start of 25 October (due the 29th).
    assert levels(at(2024, 10, 24, 17), rule=Prewarning.parse("20%")) == []
    assert levels(at(2024, 10, 25, 9), rule=Prewarning.parse("20%")) == [(Level.PRE_WARNING, Trigger.BUDGET_LOW)]


def test_yellow_when_the_promised_limit_passed_with_the_reasons():
    (r,) = earned(read(CLOCK, at(2024, 10, 30, 9)), Prewarning(), step=False)
    assert (r.level, r.trigger) == (Level.YELLOW, Trigger.PROMISED_PASSED)
    assert r.explanation == "承诺时限 10月29日已过；因国庆节顺延5个工作日；专家评审暂停2个工作日。"


def test_a_step_over_its_own_limit_is_yellow():
    (r,) = earned(read(Clock(at(2024, 9, 30, 10), Limit(1), Limit(4)), at(2024, 10, 9, 9)), Prewarning(), step=True)
    assert r.level is Level.YELLOW and r.explanation.startswith("本环节时限 10月8日已过")


def test_red_when_the_statutory_limit_passed():
    assert levels(at(2024, 11, 6, 9)) == [(Level.YELLOW, Trigger.PROMISED_PASSED), (Level.RED, Trigger.STATUTORY_PASSED)]


def test_red_for_an_extension_asked_after_expiry():
    (_, red) = earned(read(CLOCK, at(2024, 11, 6, 9)), Prewarning(), step=False, late_extension=True)
    assert (red.level, red.trigger) == (Level.RED, Trigger.EXTENSION_AFTER_EXPIRY)
    assert "届满后才申请延长，视为超时" in red.explanation


def test_red_for_a_refusal_without_a_stated_reason():
    ended = Clock(at(2024, 9, 30, 10), Limit(15), Limit(20), ended=at(2024, 10, 9, 10))
    assert levels(at(2024, 10, 9, 11), ended, refused_without_reason=True) == [
        (Level.RED, Trigger.REFUSAL_WITHOUT_REASON)]


def test_a_case_completed_late_is_yellow_and_a_finished_one_never_warned():
    late = Clock(at(2024, 9, 30, 10), Limit(1), Limit(20), ended=at(2024, 10, 9, 10))
    (r,) = earned(read(late, at(2024, 12, 1)), Prewarning(), step=False)
    assert r.level is Level.YELLOW and "（已办结）" in r.explanation
    on_time = Clock(at(2024, 9, 30, 10), Limit(2), Limit(20), ended=at(2024, 10, 9, 10))
    assert levels(at(2024, 10, 9, 11), on_time) == []


def test_no_pre_warning_while_paused_or_for_an_immediate_matter():
    paused = Clock(at(2024, 9, 30, 10), Limit(15), Limit(20), procedures=(Procedure("听证", "", at(2024, 10, 25, 9)),))
    assert levels(at(2024, 10, 25, 10), paused) == []  # its last day, but in a hearing
    immediate = Clock(at(2024, 10, 8, 10), Limit(0), Limit(4))
    assert levels(at(2024, 10, 8, 16), immediate) == []
    assert levels(at(2024, 10, 9, 9), immediate) == [(Level.YELLOW, Trigger.PROMISED_PASSED)]


def test_hours():
    hours = Clock(at(2026, 12, 1, 9), Limit(10, Unit.HOUR), Limit(24, Unit.HOUR))
    assert levels(at(2026, 12, 1, 17, 30), hours) == [(Level.PRE_WARNING, Trigger.BUDGET_LOW)]  # 20 %: 2 h left
    assert levels(at(2026, 12, 1, 19, 1), hours) == [(Level.YELLOW, Trigger.PROMISED_PASSED)]


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "100%", "0%", ""])
def test_a_bad_pre_warning_setting_stops_the_service(raw):
    with pytest.raises(ConfigError):
        Prewarning.parse(raw)


def test_pre_warning_settings():
    assert Prewarning.parse("2") == Prewarning(days=2)
    assert Prewarning.parse(" 20 % ") == Prewarning(days=None, share=0.2)

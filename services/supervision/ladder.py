"""The warning ladder: which cards a clock has earned, and why, in Chinese.

Per case and per step, each level at most once (the card's id says so, services/supervision/
cards.py):

- pre-warning (预警): little of the promised budget is left (SUPERVISION_PREWARNING: a number of
  working days, e.g. `1`, or a share of the budget, e.g. `20%`), while the limit has not passed;
- yellow card (黄牌): the promised limit passed (a step: its own limit, BundleStep.limit);
- red card (红牌): the statutory limit passed, an extension asked after it ran out, or a refusal
  without a stated reason.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
from dataclasses import dataclass

from services.domain import timelimits
from services.domain.timelimits import Due, Unit
from services.runtime.config import ConfigError
from services.supervision.ledger import Ledger, counted_due


class Level(enum.Enum):
    PRE_WARNING = "pre_warning"
    YELLOW = "yellow"
    RED = "red"


class Trigger(enum.Enum):
    BUDGET_LOW = "budget_low"
    PROMISED_PASSED = "promised_passed"
    STATUTORY_PASSED = "statutory_passed"
    EXTENSION_AFTER_EXPIRY = "extension_after_expiry"
    REFUSAL_WITHOUT_REASON = "refusal_without_reason"


LEVEL_WORDS = {Level.PRE_WARNING: "预警", Level.YELLOW: "黄牌", Level.RED: "红牌"}


@dataclass(frozen=True)
class Prewarning:
    """When the pre-warning comes: with `days` working days (of a limit in days) left, or with
    `share` of the budget left (rounded up to whole units)."""

    days: int | None = 1
    share: float | None = None

    @classmethod
    def parse(cls, raw: str) -> Prewarning:
        text = raw.strip()
        if m := re.fullmatch(r"(\d{1,3}(?:\.\d+)?)\s*%", text):
            share = float(m.group(1)) / 100
            if not 0 < share < 1:
                raise ConfigError(f"SUPERVISION_PREWARNING={raw!r}: a share between 0 % and 100 %")
            return cls(days=None, share=share)
        if text.isdigit() and int(text) >= 1:
            return cls(days=int(text))
        raise ConfigError(f"SUPERVISION_PREWARNING={raw!r}: working days left (e.g. 1) or a share (e.g. 20%)")

    def units_left(self, budget: int, unit: Unit) -> int:
        """How many units of a `budget` are left when the pre-warning comes (at least one)."""
        if self.share is not None or unit is Unit.HOUR:
            share = self.share if self.share is not None else 0.2
            return max(1, min(budget, math.ceil(budget * share)))
        assert self.days is not None
        return max(1, min(budget, self.days))


@dataclass(frozen=True)
class Raise:
    level: Level
    trigger: Trigger
    explanation: str


_UNIT_WORDS = {Unit.WORKING_DAY: "个工作日", Unit.NATURAL_DAY: "天", Unit.HOUR: "小时"}


def _day(d: dt.date) -> str:
    return f"{d.month}月{d.day}日"


def _when(due: Due) -> str:
    local = due.at.astimezone(timelimits.SHANGHAI)
    return f"{_day(local.date())} {local:%H:%M}" if due.unit is Unit.HOUR else _day(due.day)


def why(due: Due) -> str:
    """What moved a deadline: holidays (their working weekdays), pauses, a provisional year."""
    parts = []
    if due.unit is Unit.WORKING_DAY:
        for name, first, last in due.holidays:
            weekdays = sum(1 for i in range((last - first).days + 1) if (first + dt.timedelta(days=i)).weekday() < 5)
            if weekdays:
                parts.append(f"因{name}顺延{weekdays}个工作日")
    elif due.unit is Unit.NATURAL_DAY and due.holidays_at_end:
        parts.append("期限末日为节假日，顺延至其后第一个工作日")
    for pause, units in due.paused:
        if units:
            parts.append(f"{pause.reason}暂停{units}{_UNIT_WORDS[due.unit]}")
    if due.provisional:
        parts.append("、".join(str(y) for y in due.unknown_years) + "年节假日安排未公布，暂按周一至周五计算")
    return "；".join(parts)


def _sentence(head: str, due: Due) -> str:
    reasons = why(due)
    return f"{head}；{reasons}" if reasons else head


def prewarning_moment(ledger: Ledger, rule: Prewarning) -> dt.datetime | None:
    """When the pre-warning is due: once only the last units of the promised budget are left."""
    limit = ledger.clock.promised
    if limit.amount <= 0:
        return None  # an immediate matter: its whole budget is the day of acceptance
    left = rule.units_left(limit.amount, limit.unit)
    pauses = [p for p, _ in ledger.promised.paused]
    return counted_due(ledger.clock.started, limit.amount - left, limit.unit, pauses).at


def earned(ledger: Ledger, rule: Prewarning, *, step: bool, late_extension: bool = False,
           refused_without_reason: bool = False) -> list[Raise]:
    """Every card `ledger` has earned by its reading moment (a card already raised is left out
    by the caller, not here)."""
    label = "本环节时限" if step else "承诺时限"
    done = "（已办结）" if ledger.stopped else ""
    out: list[Raise] = []
    if not ledger.stopped and not ledger.promised_passed and not ledger.paused_now:
        moment = prewarning_moment(ledger, rule)
        if moment is not None and ledger.at > moment:
            unit = _UNIT_WORDS[ledger.clock.promised.unit]
            out.append(Raise(Level.PRE_WARNING, Trigger.BUDGET_LOW, _sentence(
                f"{label} {_when(ledger.promised)}到期，剩余{ledger.remaining}{unit}", ledger.promised) + "。"))
    if ledger.promised_passed:
        out.append(Raise(Level.YELLOW, Trigger.PROMISED_PASSED,
                         _sentence(f"{label} {_when(ledger.promised)}已过{done}", ledger.promised) + "。"))
    if refused_without_reason:
        out.append(Raise(Level.RED, Trigger.REFUSAL_WITHOUT_REASON, "不予许可未说明理由（行政许可法第三十八条）。"))
    elif late_extension:
        out.append(Raise(Level.RED, Trigger.EXTENSION_AFTER_EXPIRY, _sentence(
            f"法定时限 {_when(ledger.statutory)}届满后才申请延长，视为超时", ledger.statutory) + "。"))
    elif ledger.statutory_passed:
        out.append(Raise(Level.RED, Trigger.STATUTORY_PASSED,
                         _sentence(f"法定时限 {_when(ledger.statutory)}已过{done}", ledger.statutory) + "。"))
    return out

"""The birth policy as dated data: which rule applies on a given day (newest first wins).

Add a line when the law changes; never edit a past line (cases are judged by the rule of their day).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class BirthPolicy:
    effective_from: dt.date
    children_registered_on_the_spot: int
    basis: str


POLICIES = (
    BirthPolicy(dt.date(2002, 9, 1), 1, "《人口与计划生育法》（2001年）"),
    BirthPolicy(dt.date(2016, 1, 1), 2, "《人口与计划生育法》（2015年修正）全面两孩"),
    BirthPolicy(dt.date(2021, 8, 20), 3, "《人口与计划生育法》（2021年修正）三孩生育政策"),
)


def policy_on(day: dt.date) -> BirthPolicy:
    applicable = [p for p in POLICIES if p.effective_from <= day]
    if not applicable:
        raise LookupError(f"no birth policy in force on {day}")
    return max(applicable, key=lambda p: p.effective_from)

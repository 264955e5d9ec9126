"""Personal data as the national exchange tables and the inspectors' screens show it.

A person's ID number keeps its first six characters (the region of issue) and its last four, as
the national platform's tables print it (150602********0015); a person's name keeps its first
character (张*, 欧阳**). An organisation's name and unified social credit code are public
(they are on its licence) and are shown in full.
"""

from __future__ import annotations

from hall.v1 import common_pb2

PERSON = common_pb2.Applicant.KIND_PERSON


def id_number(kind: int, number: str) -> str:
    if kind != PERSON:
        return number
    if len(number) <= 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def name(kind: int, value: str) -> str:
    if kind != PERSON or len(value) <= 1:
        return value
    return value[0] + "*" * (len(value) - 1)


__all__ = ["id_number", "name"]

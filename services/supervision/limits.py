"""Which limits a case and a step run under: the catalogue version the case was accepted under,
and the law's defaults and extensions (行政许可法 第二十六条、第四十二条)."""

from __future__ import annotations

from dataclasses import dataclass

from hall.v1 import catalogue_pb2, common_pb2
from services.catalogue import Catalogue, limit_unit
from services.supervision.ledger import Limit

# 第四十二条: 20 working days, extendable by 10 with the head's approval; 第二十六条: a matter
# handled jointly by several departments, 45, extendable by 15.
SINGLE_STATUTORY = Limit(20)
JOINT_STATUTORY = Limit(45)
SINGLE_EXTENSION = 10
JOINT_EXTENSION = 15


def _limit(proto: common_pb2.TimeLimit) -> Limit:
    return Limit(proto.amount, limit_unit(proto))


def _given(proto: common_pb2.TimeLimit) -> bool:
    return proto.unit != common_pb2.TimeLimit.UNIT_UNSPECIFIED


@dataclass(frozen=True)
class Limits:
    promised: Limit
    statutory: Limit
    extension: int  # what an approved extension adds, in working days


def of_case(catalogue: Catalogue, *, matter_code: str, bundle_code: str) -> Limits:
    if bundle_code:
        bundle = catalogue.bundles[bundle_code]
        joint = len({catalogue.matters[s.matter].department for s in bundle.steps}) > 1
        statutory = _limit(bundle.statutory_limit) if _given(bundle.statutory_limit) else (
            JOINT_STATUTORY if joint else SINGLE_STATUTORY)
        return Limits(_limit(bundle.promised_limit), statutory, JOINT_EXTENSION if joint else SINGLE_EXTENSION)
    matter = catalogue.matters[matter_code]
    statutory = _limit(matter.statutory_limit) if _given(matter.statutory_limit) else SINGLE_STATUTORY
    return Limits(_limit(matter.promised_limit), statutory, SINGLE_EXTENSION)


def of_step(catalogue: Catalogue, *, bundle_code: str, step_id: str, matter_code: str) -> Limits:
    """A step's own limit (BundleStep.limit, else its matter's promised limit), and its matter's
    statutory limit."""
    matter = catalogue.matters[matter_code]
    promised = _limit(matter.promised_limit)
    if bundle_code:
        step = next((s for s in catalogue.bundles[bundle_code].steps if s.id == step_id), None)
        if step is not None and _given(step.limit):
            promised = _limit(step.limit)
    statutory = _limit(matter.statutory_limit) if _given(matter.statutory_limit) else SINGLE_STATUTORY
    return Limits(promised, statutory, SINGLE_EXTENSION)


def procedure(catalogue: Catalogue, matter_code: str, kind: str) -> catalogue_pb2.SpecialProcedure | None:
    """The catalogue's entry for a special procedure of a matter (None: the matter lists none of
    that kind, so its time counts)."""
    matter = catalogue.matters.get(matter_code)
    if matter is None:
        return None
    return next((p for p in matter.special_procedures if p.kind == kind.strip()), None)

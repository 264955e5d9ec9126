"""The fee table: what an application costs, line by line, from the catalogue's fee rules (fees
bills and receipts it; the router holds a case that must be paid first).

Every amount is integer fen. A percentage is `rate` basis points of a base amount, rounded half
up to the fen (四舍五入到分): (base × rate + 5000) // 10000; then held within its floor and cap. A
reduction takes off its share of the line, rounded the same way, so an exemption (10000 basis
points) leaves exactly 0 and no reduction ever makes a line negative. A line that comes to
nothing before any reduction (no copies asked for) is left out; one exempted stays on the quote
with its legal basis.
"""

from __future__ import annotations

from collections.abc import Mapping

from hall.v1 import catalogue_pb2, common_pb2, fees_pb2
from services.catalogue import Catalogue
from services.domain import money
from services.runtime.errors import InvalidArgument, NotFound

K = catalogue_pb2.FeeItem
BASIS_POINTS = 10_000


def share(amount: int, basis_points: int) -> int:
    """`basis_points` of `amount` fen, rounded half up to the fen (both non-negative)."""
    if amount < 0 or not 0 <= basis_points <= BASIS_POINTS * 100:
        raise ValueError("share of a negative amount, or a rate out of range")
    return (amount * basis_points + BASIS_POINTS // 2) // BASIS_POINTS


def _whole(fields: Mapping[str, str], name: str) -> int:
    raw = fields.get(name, "").strip()
    return int(raw) if raw.isdigit() else 0  # intake has checked the field's rule already


def price_item(item: catalogue_pb2.FeeItem, fields: Mapping[str, str]) -> tuple[int, int, int, int]:
    """(quantity, standard or base, gross, reduction) of one item for an application's fields."""
    if item.kind == K.KIND_PERCENTAGE:
        base = _whole(fields, item.base_field)
        gross = share(base, item.rate_basis_points)
        if item.HasField("floor"):
            gross = max(gross, item.floor.fen)
        if item.HasField("cap"):
            gross = min(gross, item.cap.fen)
        quantity, standard = 1, base
    else:
        quantity = _whole(fields, item.unit_field) if item.kind == K.KIND_PER_UNIT else 1
        standard = item.standard.fen
        gross = quantity * standard
    reduction = next((share(gross, r.off_basis_points) for r in item.reductions if applies(r, fields)), 0)
    return quantity, standard, gross, min(reduction, gross)


def applies(r: catalogue_pb2.FeeReduction, fields: Mapping[str, str]) -> bool:
    return fields.get(r.when_field, "").strip().lower() == r.when_value.lower()


def quote(catalogue: Catalogue, *, matter_code: str, bundle_code: str,
          fields: Mapping[str, str] | None = None) -> fees_pb2.QuoteResponse:
    """The priced lines of an application under `catalogue` (the version it was accepted under)."""
    if bool(matter_code) == bool(bundle_code):
        raise InvalidArgument("必须且只能填写事项编码或一件事编码之一", violations=[("matter_code", "二选一")])
    if bundle_code and catalogue.bundle(bundle_code) is None:
        raise NotFound(f"一件事 {bundle_code} 不在目录中", resource_type="hall.v1.Bundle", resource_name=bundle_code)
    if matter_code and catalogue.matter(matter_code) is None:
        raise NotFound(f"事项 {matter_code} 不在目录中", resource_type="hall.v1.Matter", resource_name=matter_code)
    fields = fields or {}
    lines = []
    for code in catalogue.matter_codes(matter_code=matter_code, bundle_code=bundle_code):
        matter = catalogue.matters[code]
        for item in matter.fees.items:
            quantity, standard, gross, reduction = price_item(item, fields)
            if gross == 0:
                continue
            applied = next((r for r in item.reductions if applies(r, fields)), None) if reduction else None
            lines.append(fees_pb2.FeeLine(
                department=matter.department, matter_code=code, item_code=item.code, item_name=item.name,
                amount=common_pb2.Money(fen=gross - reduction), basis=item.basis, kind=item.kind or K.KIND_FIXED,
                quantity=quantity, unit_name=item.unit_name, standard=common_pb2.Money(fen=standard),
                rate_basis_points=item.rate_basis_points, gross=common_pb2.Money(fen=gross),
                reduction=common_pb2.Money(fen=reduction), reduction_name=applied.name if applied else "",
                reduction_basis=applied.legal_basis if applied else ""))
    total = money.total(line.amount.fen for line in lines)
    response = fees_pb2.QuoteResponse(lines=lines, total=common_pb2.Money(fen=total), catalogue_version=catalogue.version,
                                      subtotals=subtotals(lines))
    if total == 0:
        response.free_note = "不收费"
    return response


def payment_stage(catalogue: Catalogue, *, matter_code: str, bundle_code: str) -> int:
    """When an application pays (hall.v1.PaymentStage): the earliest stage any of its charged
    matters asks for (before acceptance wins); unspecified when none charges."""
    stages = [catalogue.matters[c].payment_stage for c in catalogue.matter_codes(matter_code=matter_code, bundle_code=bundle_code)
              if catalogue.matters[c].fees.charged]
    return min(stages) if stages else catalogue_pb2.PAYMENT_STAGE_UNSPECIFIED


def subtotals(lines: list[fees_pb2.FeeLine]) -> list[fees_pb2.DepartmentSubtotal]:
    """Each department's share, in the order its first line appears."""
    by: dict[str, int] = {}
    for line in lines:
        by[line.department] = by.get(line.department, 0) + line.amount.fen
    return [fees_pb2.DepartmentSubtotal(department=d, amount=common_pb2.Money(fen=fen)) for d, fen in by.items()]

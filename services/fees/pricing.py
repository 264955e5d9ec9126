"""The fee table: what an application costs, line by line, from the catalogue's fee items."""

from __future__ import annotations

from hall.v1 import common_pb2, fees_pb2
from services.catalogue import Catalogue
from services.domain import money
from services.runtime.errors import InvalidArgument, NotFound


def quote(catalogue: Catalogue, *, matter_code: str, bundle_code: str) -> fees_pb2.QuoteResponse:
    if bool(matter_code) == bool(bundle_code):
        raise InvalidArgument("exactly one of matter_code and bundle_code", violations=[("matter_code", "二选一")])
    if bundle_code and catalogue.bundle(bundle_code) is None:
        raise NotFound(f"bundle {bundle_code} not found", resource_type="hall.v1.Bundle", resource_name=bundle_code)
    if matter_code and catalogue.matter(matter_code) is None:
        raise NotFound(f"matter {matter_code} not found", resource_type="hall.v1.Matter", resource_name=matter_code)
    lines = []
    for code in catalogue.matter_codes(matter_code=matter_code, bundle_code=bundle_code):
        matter = catalogue.matters[code]
        for item in matter.fees.items:
            lines.append(fees_pb2.FeeLine(
                department=matter.department, matter_code=code, item_code=item.code, item_name=item.name,
                amount=common_pb2.Money(fen=item.standard.fen), basis=item.basis))
    total = money.total(line.amount.fen for line in lines)
    return fees_pb2.QuoteResponse(lines=lines, total=common_pb2.Money(fen=total), catalogue_version=catalogue.version)

"""Unified receipts: one per application, gapless numbers, verifiable by a third party.

The verification code is an HMAC-SHA256 of the receipt's content under FEES_RECEIPT_KEY; anyone
holding the key (the fiscal bureau) can recompute it with `verification_code()`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog
from google.protobuf import json_format
from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hall.v1 import common_pb2, fees_pb2
from services.catalogue import Catalogue
from services.fees.models import ReceiptCounter, ReceiptRow
from services.fees.pricing import quote
from services.runtime import clock, context, db
from services.runtime.errors import InvalidArgument, NotFound

log = structlog.get_logger(__name__)


def verification_code(key: bytes, *, receipt_number: str, application_id: str, total_fen: int, issued_at: datetime) -> str:
    content = f"{receipt_number}|{application_id}|{total_fen}|{clock.local(issued_at).isoformat()}"
    return hmac.new(key, content.encode(), hashlib.sha256).hexdigest()


_COUNTERS: Table = ReceiptCounter.__table__  # type: ignore[assignment]
_NEXT_NUMBER = db.next_number(_COUNTERS, "year", "last")  # per year, gapless
_RECEIPTS: Table = ReceiptRow.__table__  # type: ignore[assignment]
_INSERT_RECEIPT = insert(_RECEIPTS)
_ISSUED = select(_RECEIPTS.c.application_id).where(_RECEIPTS.c.application_id.in_(bindparam("ids", expanding=True)))


def _require_ids(req: fees_pb2.IssueReceiptRequest) -> None:
    violations = [(f, "必填") for f in ("application_id", "case_id") if not getattr(req, f)]
    if violations:
        raise InvalidArgument("application_id and case_id are required", violations=violations)


def _year(at: datetime) -> int:
    """Receipt numbers run per calendar year in Shanghai."""
    return clock.local(at).year


class Receipts:
    def __init__(self, sessions: sessionmaker[Session], catalogue: Catalogue, key: bytes) -> None:
        self._sessions = sessions
        self._catalogue = catalogue
        self._key = key
        self._next_number = _NEXT_NUMBER[sessions.kw["bind"].dialect.name]

    def issue(self, req: fees_pb2.IssueReceiptRequest) -> tuple[fees_pb2.Receipt, bool]:
        """The receipt of one application, issued now or, if it was issued before, that one
        (duplicate=True)."""
        _require_ids(req)
        context.bind(case_id=req.case_id)
        now = clock.now()
        # Insert first: a second request for the same application (a redelivered event, a retried
        # call) is refused by the primary key, its transaction and number roll back, and the
        # receipt already issued is answered.
        try:
            with self._sessions() as session, session.begin():
                conn = session.connection()  # Core statements: no ORM execution layer
                last = conn.execute(self._next_number, {"key": _year(now)}).scalar_one()
                values = self._values(req, last, now)
                conn.execute(_INSERT_RECEIPT, values)
        except IntegrityError:
            existing = self._get(req.application_id)
            if existing is None:
                raise
            return self.view(existing), True
        log.info("receipt issued", receipt_number=values["receipt_number"], total_fen=values["total_fen"])
        return self.view(ReceiptRow(**values)), False

    def issue_all(self, reqs: Sequence[fees_pb2.IssueReceiptRequest]) -> int:
        """Receipts of applications completed together, in one transaction (the fees consumer's
        path): applications with a receipt are skipped, the others numbered in order from one
        block of the counter. Returns how many were issued. If another replica or call issues one
        of them meanwhile, the primary key refuses the batch, which rolls back whole (its numbers
        with it), and each is then issued on its own."""
        for req in reqs:
            _require_ids(req)
        todo = {req.application_id: req for req in reqs}  # a redelivery within the batch counts once
        if not todo:
            return 0
        now = clock.now()
        try:
            with self._sessions() as session, session.begin():
                conn = session.connection()
                issued = set(conn.execute(_ISSUED, {"ids": list(todo)}).scalars())
                new = [req for application_id, req in todo.items() if application_id not in issued]
                if not new:
                    return 0
                last = conn.execute(self._next_number, {"key": _year(now), "count": len(new)}).scalar_one()
                rows = [self._values(req, number, now) for number, req in enumerate(new, start=last - len(new) + 1)]
                conn.execute(_INSERT_RECEIPT, rows)
        except IntegrityError:
            return sum(not duplicate for _, duplicate in (self.issue(req) for req in todo.values()))
        for row in rows:
            log.info("receipt issued", case_id=row["case_id"], receipt_number=row["receipt_number"],
                     total_fen=row["total_fen"])
        return len(rows)

    def _values(self, req: fees_pb2.IssueReceiptRequest, number: int, now: datetime) -> dict[str, Any]:
        """The receipt row of `req` under the year's `number`, priced and signed."""
        priced = quote(self._catalogue, matter_code=req.matter_code, bundle_code=req.bundle_code)
        receipt_number = f"{self._catalogue.proto.division_code}-{_year(now)}-{number:08d}"
        return dict(
            application_id=req.application_id, receipt_number=receipt_number, case_id=req.case_id,
            matter_code=req.matter_code, bundle_code=req.bundle_code, payer_name=req.payer_name,
            lines=[json_format.MessageToDict(line, preserving_proto_field_name=True) for line in priced.lines],
            total_fen=priced.total.fen, issued_at=now,
            verification_code=verification_code(self._key, receipt_number=receipt_number,
                                                application_id=req.application_id,
                                                total_fen=priced.total.fen, issued_at=now),
        )

    def get(self, application_id: str) -> fees_pb2.Receipt:
        if not application_id:
            raise InvalidArgument("application_id is required", violations=[("application_id", "必填")])
        row = self._get(application_id)
        if row is None:
            raise NotFound(f"no receipt for application {application_id}", resource_type="hall.v1.Receipt",
                           resource_name=application_id)
        context.bind(case_id=row.case_id)
        return self.view(row)

    def _get(self, application_id: str) -> ReceiptRow | None:
        with self._sessions() as session:
            return session.scalar(select(ReceiptRow).where(ReceiptRow.application_id == application_id))

    def view(self, row: ReceiptRow) -> fees_pb2.Receipt:
        return fees_pb2.Receipt(
            receipt_number=row.receipt_number, application_id=row.application_id, case_id=row.case_id,
            lines=[json_format.ParseDict(line, fees_pb2.FeeLine()) for line in row.lines],
            total=common_pb2.Money(fen=row.total_fen), issued_at=clock.to_timestamp(row.issued_at),
            payer_name=row.payer_name, verification_code=row.verification_code)

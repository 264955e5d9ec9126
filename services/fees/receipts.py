"""Unified receipts: one per application, gapless numbers, verifiable by a third party.

The verification code is an HMAC-SHA256 of the receipt's content under FEES_RECEIPT_KEY; anyone
holding the key (the fiscal bureau) can recompute it with `verification_code()`.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

import structlog
from google.protobuf import json_format
from sqlalchemy import Table, insert, select
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
    content = f"{receipt_number}|{application_id}|{total_fen}|{issued_at.astimezone(clock.SHANGHAI).isoformat()}"
    return hmac.new(key, content.encode(), hashlib.sha256).hexdigest()


_COUNTERS: Table = ReceiptCounter.__table__  # type: ignore[assignment]
_NEXT_NUMBER = db.next_number(_COUNTERS, "year", "last")  # per year, gapless
_RECEIPTS: Table = ReceiptRow.__table__  # type: ignore[assignment]
_INSERT_RECEIPT = insert(_RECEIPTS)


class Receipts:
    def __init__(self, sessions: sessionmaker[Session], catalogue: Catalogue, key: bytes) -> None:
        self._sessions = sessions
        self._catalogue = catalogue
        self._key = key
        self._next_number = _NEXT_NUMBER[sessions.kw["bind"].dialect.name]

    def issue(self, req: fees_pb2.IssueReceiptRequest) -> tuple[fees_pb2.Receipt, bool]:
        violations = [(f, "必填") for f in ("application_id", "case_id") if not getattr(req, f)]
        if violations:
            raise InvalidArgument("application_id and case_id are required", violations=violations)
        context.bind(case_id=req.case_id)
        priced = quote(self._catalogue, matter_code=req.matter_code, bundle_code=req.bundle_code)
        now = clock.now()
        year = now.astimezone(clock.SHANGHAI).year
        # Insert first: a second request for the same application (a redelivered event, a retried
        # call) is refused by the primary key, its transaction and number roll back, and the
        # receipt already issued is answered.
        try:
            with self._sessions() as session, session.begin():
                conn = session.connection()  # Core statements: no ORM execution layer
                last = conn.execute(self._next_number, {"key": year}).scalar_one()
                number = f"{self._catalogue.proto.division_code}-{year}-{last:08d}"
                values = dict(
                    application_id=req.application_id, receipt_number=number, case_id=req.case_id,
                    matter_code=req.matter_code, bundle_code=req.bundle_code, payer_name=req.payer_name,
                    lines=[json_format.MessageToDict(line, preserving_proto_field_name=True) for line in priced.lines],
                    total_fen=priced.total.fen, issued_at=now,
                    verification_code=verification_code(self._key, receipt_number=number,
                                                        application_id=req.application_id,
                                                        total_fen=priced.total.fen, issued_at=now),
                )
                conn.execute(_INSERT_RECEIPT, values)
                row = ReceiptRow(**values)
        except IntegrityError:
            existing = self._get(req.application_id)
            if existing is None:
                raise
            return self.view(existing), True
        log.info("receipt issued", receipt_number=number, total_fen=row.total_fen)
        return self.view(row), False

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

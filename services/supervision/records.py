"""Supervision's entries in the case's audit timeline (cards, appeals, extensions, notices),
written to its outbox in the transaction that makes them true."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from hall.v1 import audit_pb2
from services.runtime import clock, context, topology
from services.runtime.outbox import Outbox

SERVICE = "supervision"
_NAMESPACE = uuid.UUID("6f7c4f8e-2b7a-4d8e-9a57-5c1e0e1a7b10")


def record(session: Session, outbox: Outbox, key: str, operation: str, *, case_id: str, actor_id: str = "",
           outcome: str = "", detail: str = "", step_id: str = "", department: str = "") -> None:
    """`key` names what happened (a card and its action): the record's id is derived from it, so
    the same fact is recorded once whichever replica writes it."""
    record_id = uuid.uuid5(_NAMESPACE, key).hex
    rec = audit_pb2.CallRecord(record_id=record_id, service=SERVICE, kind=audit_pb2.CallRecord.KIND_EVENT,
                               operation=operation, case_id=case_id, actor_id=actor_id, outcome=outcome,
                               detail=detail[:500], step_id=step_id, department=department)
    rec.started_at.CopyFrom(clock.to_timestamp(clock.now()))
    outbox.add(session, topology.rk_audit(SERVICE), rec, message_id=record_id,
               headers={context.CASE_HEADER: case_id})

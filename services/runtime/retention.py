"""Rows that only serve delivery are deleted once they cannot matter any more: the router's record
of message ids handled more than RETENTION_DAYS ago. (Outbox rows need no pruning: the relay
deletes each one once the broker has confirmed it, services/runtime/outbox.py.)

That is no record of the case (those — applications and their events, cases and steps, the
departments' registers and answers, receipts, the audit trail — are kept). A processed message id
is needed while a copy of that message can still arrive (a redelivery, a relay publishing again
after a crash: seconds to hours, the days of a broker outage at most). Rows go in short
transactions of `batch` rows, so pruning never holds many locks or a long transaction; several
replicas may prune at once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import Column, Table, bindparam, delete, select
from sqlalchemy.orm import Session, sessionmaker

from services.runtime import clock

log = structlog.get_logger(__name__)


class Pruner:
    """Deletes the rows of `table` whose `column` is older than `keep` (a NULL is never old)."""

    def __init__(self, sessions: sessionmaker[Session], table: Table, column: Column[Any], keep: timedelta,
                 *, batch: int = 5000) -> None:
        self._sessions = sessions
        self._table = table
        self._keep = keep
        self._batch = batch
        (key,) = table.primary_key.columns  # one-column keys: message ids
        # Old rows in key order (message ids are read until `batch` old ones are found).
        old = select(key).where(column < bindparam("before")).order_by(key).limit(batch)
        self._delete = delete(table).where(key.in_(old.scalar_subquery()))

    def prune(self) -> int:
        """Delete every row old enough, `batch` at a time; returns how many."""
        before = clock.now() - self._keep
        total = 0
        while True:
            with self._sessions() as session, session.begin():
                deleted = session.connection().execute(self._delete, {"before": before}).rowcount
            total += deleted
            if deleted < self._batch:
                break
        if total:
            log.info("pruned rows past their retention", table=self._table.name, rows=total,
                     kept_days=self._keep.days)
        return total

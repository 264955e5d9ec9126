"""Transactional outbox: a state change and the messages it causes commit together.

A service adds rows with `enqueue()` inside its own transaction; the `OutboxRelay` thread
publishes unsent rows with publisher confirms and marks them sent. A crash between publishing and
marking re-publishes the row under the same message id, which every consumer de-duplicates.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import structlog
from google.protobuf.message import Message
from sqlalchemy import JSON, BigInteger, Integer, LargeBinary, String, bindparam, event, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from services.runtime import clock, context, topology, wire
from services.runtime.amqp import PUBLISH_ERRORS, Outgoing, Publisher
from services.runtime.db import UTCDateTime, is_postgres

log = structlog.get_logger(__name__)


class OutboxMixin:
    """Columns of an outbox table; each service declares its own table with this mixin."""

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    exchange: Mapped[str] = mapped_column(String(100), default=topology.EXCHANGE)
    routing_key: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(200))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


def create_outbox_table(name: str) -> None:
    """Migration step that creates a service's outbox table (call from an Alembic revision)."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        name,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(64), nullable=False, unique=True),
        sa.Column("exchange", sa.String(100), nullable=False),
        sa.Column("routing_key", sa.String(200), nullable=False),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("sent_at", UTCDateTime, nullable=True),
    )
    op.create_index(f"ix_{name}_unsent", name, ["id"], postgresql_where=sa.text("sent_at IS NULL"))


def enqueue(
    session: Session,
    model: type[OutboxMixin],
    routing_key: str,
    message: Message,
    *,
    message_id: str | None = None,
    headers: dict[str, Any] | None = None,
    exchange: str = topology.EXCHANGE,
) -> str:
    """Add a message to the outbox in the caller's transaction; returns its message id.

    The rows are written together, in one multi-row INSERT, just before the transaction commits
    (no ORM objects: on a hot path they cost more than the statement)."""
    message_id = message_id or wire.new_message_id()
    merged = context.to_headers()
    merged.update(headers or {})
    table = model.__table__  # type: ignore[attr-defined]
    session.info.setdefault(_PENDING, {}).setdefault(table, []).append({
        "message_id": message_id, "exchange": exchange, "routing_key": routing_key, "type": wire.type_name(message),
        "body": wire.encode(message), "headers": merged, "created_at": clock.now(), "sent_at": None,
    })
    return message_id


_PENDING = "outbox.pending"


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    for table, rows in (pending or {}).items():
        session.execute(insert(table), rows)


@event.listens_for(Session, "after_soft_rollback")
def _forget_pending(session: Session, _previous: Any) -> None:
    session.info.pop(_PENDING, None)


class OutboxRelay(threading.Thread):
    """Publishes unsent outbox rows in id order; several replicas may run (rows are locked)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        model: type[OutboxMixin],
        url: str,
        *,
        name: str,
        batch: int = 200,
        poll_s: float = 0.5,
    ) -> None:
        super().__init__(name=f"outbox-{name}", daemon=True)
        self._sessions = sessions
        self._model = model
        self._publisher = Publisher(url, name=f"{name}-outbox")
        self._batch = batch
        self._poll_s = poll_s
        self._wake = threading.Event()
        self._stopping = threading.Event()
        table = model.__table__  # type: ignore[attr-defined]
        batch_ids = select(table.c.id).where(table.c.sent_at.is_(None)).order_by(table.c.id).limit(batch)
        if is_postgres(sessions.kw["bind"]):
            batch_ids = batch_ids.with_for_update(skip_locked=True)
        self._claim = (update(table).where(table.c.id.in_(batch_ids.scalar_subquery()))
                       .values(sent_at=bindparam("now"))
                       .returning(table.c.id, table.c.message_id, table.c.exchange, table.c.routing_key,
                                  table.c.type, table.c.body, table.c.headers))

    def wake(self) -> None:
        self._wake.set()

    def run(self) -> None:
        backoff = 0.2
        while not self._stopping.is_set():
            try:
                sent = self.relay_once()
                backoff = 0.2
            except PUBLISH_ERRORS as exc:
                log.warning("outbox publish failed; will retry", error=repr(exc), wait_s=backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            except Exception:  # noqa: BLE001 - database trouble: keep the relay alive
                log.exception("outbox relay error; will retry", wait_s=backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if sent < self._batch:
                self._wake.wait(self._poll_s)
                self._wake.clear()
        self._publisher.close()

    def relay_once(self) -> int:
        """Publish one batch; returns how many rows were sent.

        One statement claims the batch (marks it sent, skipping rows another relay holds) and
        returns it; the batch is published with confirms awaited together; the commit follows.
        A failed publish rolls the claim back, so the rows are sent again later.
        """
        with self._sessions() as session, session.begin():
            rows = sorted(session.execute(self._claim, {"now": clock.now()}).all(), key=lambda r: r.id)
            self._publisher.publish_many([
                Outgoing(r.routing_key, r.body, r.type, r.message_id, r.headers or {}, r.exchange) for r in rows
            ])
            return len(rows)

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        self.join(timeout)

"""Transactional outbox: a state change and the messages it causes commit together.

A service adds rows with `Outbox.add()` inside its own transaction; the `OutboxRelay` thread
publishes them with publisher confirms and deletes them once the broker has confirmed them: the
table holds only what the broker does not have yet. A crash between publishing and deleting
re-publishes the row under the same message id, which every consumer de-duplicates.

(Deleting rather than marking a row sent: an UPDATE of `sent_at` copied each row, body and all,
and added an entry to each of its indexes, since the index of unsent rows names that column; a
DELETE writes a few bytes, and the write-ahead log per case is smaller. The `sent_at`
column stays in existing schemas, NULL in every row this version writes.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from google.protobuf.message import Message
from sqlalchemy import JSON, BigInteger, Integer, LargeBinary, String, bindparam, delete, event, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from services.runtime import clock, context, topology, wire
from services.runtime.amqp import PUBLISH_ERRORS, Outgoing, Publisher, Unroutable
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
    # Set by versions that kept sent rows; rows are now deleted once sent, so it is NULL in every row.
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
    create_unsent_index(name)


def create_unsent_index(name: str) -> None:
    """Migration step: the index of unsent rows that outbox tables were first created with (when
    sent rows were kept). Since the relay deletes what it sent, the primary key serves the sweep
    and a revision may drop it (`drop_unsent_index`): one index entry less per message."""
    import sqlalchemy as sa
    from alembic import op

    op.create_index(f"ix_{name}_unsent", name, ["id"], postgresql_where=sa.text("sent_at IS NULL"))


def drop_unsent_index(name: str) -> None:
    from alembic import op

    op.drop_index(f"ix_{name}_unsent", name)


class Outbox:
    """A service's outbox table. `add` puts a message into the caller's transaction: its row waits
    on the session until the transaction commits, is written with the others in one multi-row
    INSERT just before the COMMIT (no ORM objects: on a hot path they cost more than the
    statement), and is handed to `relay`, the relay running in this process, right after it."""

    def __init__(self, model: type[OutboxMixin]) -> None:
        self.model = model
        self.table = model.__table__  # type: ignore[attr-defined]
        # It returns nothing, not even the new id (`inline`): the relay knows its rows by message
        # id, so the statement can travel in a pipeline with the rest of the commit.
        self.insert = insert(self.table).inline()
        self.relay: OutboxRelay | None = None  # set while a relay of this outbox runs

    def add(self, session: Session, routing_key: str, message: Message, *, message_id: str | None = None,
            headers: dict[str, Any] | None = None, exchange: str = topology.EXCHANGE) -> str:
        """Add a message to the outbox in `session`'s transaction; returns its message id."""
        message_id = message_id or wire.new_message_id()
        merged = context.to_headers()
        merged.update(headers or {})
        # The case a message is about travels with it even when the call that made it named none
        # (a payment): its publishing and its consumption join the case's timeline.
        case_id = getattr(message, "case_id", None)
        if context.CASE_HEADER not in merged and isinstance(case_id, str) and case_id:
            merged[context.CASE_HEADER] = case_id
        _pending(session).setdefault(self, []).append({
            "message_id": message_id, "exchange": exchange, "routing_key": routing_key,
            "type": wire.type_name(message), "body": wire.encode(message), "headers": merged,
            "created_at": clock.now(), "sent_at": None,
        })
        return message_id


# What a session's transaction has added to outboxes, until it commits or rolls back. (The
# session carries it: a transaction is its session's, and SQLAlchemy's commit events find it
# there.)
_PENDING = "outbox.pending"
_COMMITTED = "outbox.committed"


def _pending(session: Session) -> dict[Outbox, list[dict[str, Any]]]:
    pending: dict[Outbox, list[dict[str, Any]]] = session.info.setdefault(_PENDING, {})
    return pending


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    for box, rows in session.info.pop(_PENDING, {}).items():
        session.connection().execute(box.insert, rows)
        if box.relay is not None:
            handed = [Claimed(r["message_id"], r["exchange"], r["routing_key"], r["type"], r["body"], r["headers"])
                      for r in rows]
            session.info.setdefault(_COMMITTED, []).append((box.relay, handed))


@event.listens_for(Session, "after_commit")
def _hand_over(session: Session) -> None:
    for relay, rows in session.info.pop(_COMMITTED, ()):
        relay.hand_over(rows)


@event.listens_for(Session, "after_soft_rollback")
def _forget_pending(session: Session, _previous: Any) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_COMMITTED, None)


@dataclass(frozen=True)
class Claimed:
    """An outbox row on its way to the broker (known by its message id, unique in the table)."""

    message_id: str
    exchange: str
    routing_key: str
    type: str
    body: bytes
    headers: dict[str, Any]


class OutboxRelay(threading.Thread):
    """Publishes outbox rows and deletes them once the broker has confirmed them; several
    replicas may run.

    Fast path: rows committed in this process are handed to the relay right after the commit; it
    publishes them at once (confirms awaited together) and deletes them afterwards: what was
    published within `delete_linger_s` is deleted in one statement (without waiting for the
    disk). The message leaves without waiting for another transaction; a delete lost in a crash
    only sends the row again.
    Sweep: every `poll_s` the relay locks rows left unsent for `stale_s` (a publish that failed,
    a process killed between commit and publish, another replica's leftovers), skipping rows
    another relay holds, publishes them and deletes what the broker took, in one transaction. A
    row may so go out twice; consumers de-duplicate by message id.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        outbox: Outbox,
        url: str,
        *,
        name: str,
        batch: int = 200,
        poll_s: float = 1.0,
        stale_s: float = 5.0,
        delete_linger_s: float = 0.25,
        on_published: Callable[[Sequence[Any], float, float], None] | None = None,
    ) -> None:
        super().__init__(name=f"outbox-{name}", daemon=True)
        self._on_published = on_published  # (rows, started wall time, seconds): the audit record
        self._sessions = sessions
        self._publisher = Publisher(url, name=f"{name}-outbox")
        self._batch = batch
        self._poll_s = poll_s
        self._stale_s = stale_s
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._handed: list[Claimed] = []
        self._handed_lock = threading.Lock()
        self._delete_linger_s = delete_linger_s
        self._published: list[str] = []  # message ids published by the fast path, not yet deleted
        self._delete_at = 0.0
        self._outbox = outbox
        table = outbox.table
        # (`sent_at IS NULL`: rows an earlier version marked sent and kept are not sent again.)
        claim = (select(table.c.message_id, table.c.exchange, table.c.routing_key, table.c.type,
                        table.c.body, table.c.headers)
                 .where(table.c.sent_at.is_(None), table.c.created_at <= bindparam("before"))
                 .order_by(table.c.id).limit(batch))
        self._postgres = is_postgres(sessions.kw["bind"])
        self._claim = claim.with_for_update(skip_locked=True) if self._postgres else claim
        self._delete_sent_rows = delete(table).where(table.c.message_id.in_(bindparam("ids", expanding=True)))

    def hand_over(self, rows: list[Claimed]) -> None:
        """Rows just committed by this process: publish them now."""
        with self._handed_lock:
            self._handed.extend(rows)
        self._wake.set()

    def start(self) -> None:
        self._outbox.relay = self  # from now on, commits hand their rows to this relay
        super().start()

    def run(self) -> None:
        backoff = 0.2
        next_sweep = 0.0
        try:
            while not self._stopping.is_set():
                try:
                    sent = self.relay_handed()
                    if time.monotonic() >= next_sweep or sent >= self._batch:
                        sent += self.relay_once(min_age_s=self._stale_s)
                        next_sweep = time.monotonic() + self._poll_s
                    self.delete_sent(force=False)
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
                with self._handed_lock:
                    idle = not self._handed
                if idle and sent < self._batch:
                    wake_at = min(next_sweep, self._delete_at) if self._published else next_sweep
                    self._wake.wait(max(0.0, wake_at - time.monotonic()))
                    self._wake.clear()
        finally:
            if self._outbox.relay is self:
                self._outbox.relay = None
            try:  # stopping: send what was handed over (else the sweep of a later run sends it)
                while self.relay_handed():
                    pass
                self.delete_sent(force=True)
            except Exception as exc:  # noqa: BLE001 - the rows stay unsent in the table
                log.warning("outbox not flushed at stop; rows stay for the next sweep", error=repr(exc))
            self._publisher.close()

    def relay_handed(self) -> int:
        """Publish what this process committed since the last pass; `delete_sent` deletes it. If
        the publish fails, the rows stay in the table and the sweep sends them later."""
        with self._handed_lock:
            rows, self._handed = self._handed[: self._batch * 5], self._handed[self._batch * 5:]
        if not rows:
            return 0
        refused = self._publish(rows)
        sent = [r.message_id for r in rows if r.message_id not in refused]
        if sent and not self._published:
            self._delete_at = time.monotonic() + self._delete_linger_s
        self._published.extend(sent)
        return len(sent)

    def delete_sent(self, *, force: bool) -> int:
        """Delete the rows the fast path published, once `delete_linger_s` has passed since the
        first of them (or many are waiting, or `force`); one statement for all of them."""
        if not self._published or not (force or len(self._published) >= self._batch * 5
                                        or time.monotonic() >= self._delete_at):
            return 0
        ids = self._published
        with self._sessions() as session, session.begin():
            if self._postgres:
                # Losing this delete in a database crash only re-publishes the rows (consumers
                # de-duplicate), so it need not wait for the disk.
                session.connection().exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            session.connection().execute(self._delete_sent_rows, {"ids": ids})
        self._published = []
        return len(ids)

    def _publish(self, rows: Sequence[Any]) -> set[str]:
        """Publish rows; returns the message ids the broker could not route (logged; they stay
        unsent and are tried again by the sweep, without holding back the others)."""
        wall, start = time.time(), time.monotonic()
        try:
            self._publisher.publish_many([
                Outgoing(r.routing_key, r.body, r.type, r.message_id, r.headers or {}, r.exchange) for r in rows
            ])
        except Unroutable as exc:
            log.error("outbox messages unroutable; kept for a later attempt", error=str(exc))
            refused = set(exc.message_ids)
            self._record([r for r in rows if r.message_id not in refused], wall, start)
            return refused
        self._record(rows, wall, start)
        return set()

    def _record(self, rows: Sequence[Any], wall: float, start: float) -> None:
        if self._on_published is not None and rows:
            self._on_published(rows, wall, time.monotonic() - start)

    def relay_once(self, min_age_s: float = 0.0) -> int:
        """Claim rows at least `min_age_s` old and publish them; returns how many were sent.

        One statement claims the batch (locks it, skipping rows another relay holds) and returns
        it; the batch is published with confirms awaited together; what the broker took is
        deleted and the commit follows. A failed publish rolls back, so the rows are sent again
        later; a row the broker could not route stays.
        """
        now = clock.now()
        with self._sessions() as session, session.begin():
            rows = session.connection().execute(self._claim, {"before": now - timedelta(seconds=min_age_s)}).all()
            refused = self._publish(rows)
            sent = [r.message_id for r in rows if r.message_id not in refused]
            if sent:
                session.connection().execute(self._delete_sent_rows, {"ids": sent})
            return len(sent)

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        self.join(timeout)

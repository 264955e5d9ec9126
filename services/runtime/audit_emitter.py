"""Sends a CallRecord for every gRPC call served and every message consumed to the audit service.

Records are queued in memory and published by a background thread with publisher confirms, so
the call being recorded never waits on the broker. The thread gathers what arrives within
AUDIT_LINGER_MS (default 50) into one CallRecordBatch. Each record is also written to the
process's spool on local disk (`audit_spool.py`, AUDIT_SPOOL_DIR) until the broker confirms it,
so a process killed with -9 loses none: the next process of the service sends them.

Nothing is dropped. The records waiting in memory are bounded (`capacity`); beyond it the caller
waits for room (push-back: a call or message that would be recorded is held until the broker has
taken records again), logged every 30 s while it lasts. `stalled_for()` says how long delivery
has been failing with records waiting: intake refuses new applications beyond a threshold (fail
closed, services/intake/servicer.py) and takes them again by itself once delivery is back.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import structlog

from hall.v1 import audit_pb2
from services.runtime import context, topology
from services.runtime.amqp import PUBLISH_ERRORS, Publisher
from services.runtime.audit_spool import AuditSpool
from services.runtime.logging import mask_text

log = structlog.get_logger(__name__)


class Queued(NamedTuple):
    """A call record waiting to be sent, and the spool segment that holds it (0: none)."""

    record: audit_pb2.CallRecord
    segment: int = 0


def gather(
    first: Queued, get_nowait: Callable[[], Queued | None], empty: type[Exception],
    linger_s: float, max_batch: int, sleep: Callable[[float], object] = time.sleep,
) -> tuple[audit_pb2.CallRecordBatch, int, bool]:
    """`first` and what has queued up after `linger_s`, up to `max_batch` records, so that the
    records of one step travel together: fewer, larger messages, and less work beside the case's
    own path. The sender sleeps through the linger instead of waking for every record. Returns the
    batch, the spool segment of its last record, and whether the stop sentinel (None) was met."""
    if linger_s > 0:
        sleep(linger_s)
    batch = audit_pb2.CallRecordBatch(records=[first.record])
    segment = first.segment
    while len(batch.records) < max_batch:
        try:
            more = get_nowait()
        except empty:
            break
        if more is None:
            return batch, segment, True
        batch.records.append(more.record)
        segment = more.segment
    return batch, segment, False


def queue_record(spool: AuditSpool | None, record: audit_pb2.CallRecord, put: Callable[[Queued], object]) -> None:
    """`put` the record on a sender's queue, written to `spool` first when there is one (then
    `put` runs under the spool's lock: the queue keeps the files' order)."""
    if spool is None:
        put(Queued(record))
    else:
        spool.append(record, lambda segment: put(Queued(record, segment)))


class AuditEmitter:
    def __init__(self, url: str, service: str, *, capacity: int = 50_000, max_batch: int = 500,
                 linger_s: float = 0.05, spool: AuditSpool | None = None) -> None:
        self._max_batch = max_batch
        self._linger_s = linger_s
        self.service = service
        # Unbounded itself: the room is counted by `_room`, taken before a record is spooled and
        # queued (never while holding the spool's lock, which the sender needs to mark records sent).
        self._queue: queue.Queue[Queued | None] = queue.Queue()
        self._room = threading.Semaphore(capacity)
        self._publisher = Publisher(url, name=f"{service}-audit")
        self._thread = threading.Thread(target=self._run, name="audit-emitter", daemon=True)
        self._waits = 0
        self._failing_since: float | None = None  # monotonic time of the first failure in a row
        self._spool = spool
        self._thread.start()  # before adopting: adopted records may be more than the room
        if spool is not None:
            for rec in spool.adopt():  # left by a process of this service that was killed
                self._put(rec)

    def record(
        self,
        *,
        kind: int,
        operation: str,
        started_wall: float,
        duration_s: float,
        outcome: str,
        detail: str | bytes = "",
        case_id: str | None = None,
        actor_id: str | None = None,
        step_id: str = "",
        department: str = "",
    ) -> None:
        if isinstance(detail, bytes):  # grpc gives a refused call's details as bytes
            detail = detail.decode("utf-8", "replace")
        rec = audit_pb2.CallRecord(
            record_id=uuid.uuid4().hex,
            service=self.service,
            kind=kind,  # type: ignore[arg-type]
            operation=operation,
            case_id=case_id if case_id is not None else context.case_id(),
            actor_id=actor_id if actor_id is not None else context.actor_id(),
            duration_us=int(duration_s * 1_000_000),
            outcome=outcome,
            # Inspectors read the trail, and it is kept for years: ID numbers and phones a refusal's
            # text may quote are masked, as in the logs.
            detail=mask_text(detail)[:500],
            step_id=step_id,
            department=department,
        )
        rec.started_at.FromNanoseconds(int(started_wall * 1e9))
        self._put(rec)

    def published(self, messages: Sequence[Any], started_wall: float, duration_s: float, *,
                  department: str = "") -> None:
        """Each message the broker has just confirmed (anything with routing_key, type,
        message_id and headers: `amqp.Outgoing`, an outbox row), as a record of its publishing,
        in the case's timeline: every message is on the trail where it left and where it arrived."""
        for m in messages:
            headers = m.headers or {}
            self.record(kind=audit_pb2.CallRecord.KIND_MESSAGE, operation=m.type or m.routing_key,
                        started_wall=started_wall, duration_s=duration_s, outcome="published",
                        detail=f"{m.routing_key} {m.message_id}", case_id=str(headers.get(context.CASE_HEADER, "")),
                        actor_id=str(headers.get(context.ACTOR_HEADER, "")),
                        step_id=str(headers.get(context.STEP_HEADER, "")), department=department)

    def _put(self, rec: audit_pb2.CallRecord) -> None:
        waited = 0.0
        while not self._room.acquire(timeout=30.0 if waited else 0.5):
            waited += 30.0 if waited else 0.5
            self._waits += 1
            log.error("audit buffer full; callers wait for the broker to take call records", waited_s=round(waited),
                      waits=self._waits)
        queue_record(self._spool, rec, self._queue.put_nowait)

    def stalled_for(self) -> float:
        """Seconds that delivery has been failing while records wait (0: delivering)."""
        since = self._failing_since
        return 0.0 if since is None else time.monotonic() - since

    def _taken(self, item: Queued | None) -> Queued | None:
        if item is not None:
            self._room.release()
        return item

    def _run(self) -> None:
        """Send what has queued up as one CallRecordBatch (one broker message, one confirm)."""
        routing_key = topology.rk_audit(self.service)
        pending: audit_pb2.CallRecordBatch | None = None
        segment = 0
        backoff = 0.2
        closing = False
        while True:
            if pending is None:
                if closing and self._queue.empty():
                    break
                first = self._taken(self._queue.get())
                if first is None:
                    closing = True
                    continue
                pending, segment, closing = gather(first, lambda: self._taken(self._queue.get_nowait()), queue.Empty,
                                                   self._linger_s, self._max_batch)
            try:
                self._publisher.publish(routing_key, pending, message_id=f"batch-{pending.records[0].record_id}")
                if self._spool is not None and segment:
                    self._spool.sent(segment)
                pending = None
                backoff = 0.2
                if self._failing_since is not None:
                    log.info("audit delivery back", stalled_s=round(self.stalled_for(), 1))
                self._failing_since = None
            except PUBLISH_ERRORS as exc:
                if self._failing_since is None:
                    self._failing_since = time.monotonic()
                log.warning("audit publish failed; retrying", error=repr(exc), wait_s=backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
        self._publisher.close()

    def close(self, timeout: float = 5.0) -> None:
        """Flush what is queued (up to `timeout`), then stop."""
        with contextlib.suppress(queue.Full):
            self._queue.put(None)
        self._thread.join(timeout)
        if self._spool is not None:  # all sent: the spool goes; else it stays for the next process
            self._spool.close(all_sent=not self._thread.is_alive())


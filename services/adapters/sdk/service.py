"""The nameko side of an adapter: consume the department's queue, run the core, answer, audit.

Imported only in adapter processes (it brings eventlet through nameko).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from functools import partial
from typing import Any

import structlog
from amqp.exceptions import ConnectionError as AmqpConnectionError
from amqp.exceptions import RecoverableConnectionError
from kombu import Exchange, Queue
from nameko.amqp.publish import Publisher as KombuPublisher
from nameko.exceptions import ContainerBeingKilled
from nameko.extensions import DependencyProvider
from nameko.messaging import Consumer

from hall.v1 import approval_pb2, audit_pb2
from services.adapters.sdk.answers import Answer, AnswerPublisher
from services.adapters.sdk.core import AdapterCore
from services.runtime import context, metrics, topology, wire
from services.runtime.audit_emitter import gather, queue_record
from services.runtime.audit_spool import AuditSpool, open_spool
from services.runtime.wire import Envelope, UndecodableMessage

log = structlog.get_logger(__name__)
CONNECTION_ERRORS = (AmqpConnectionError, RecoverableConnectionError)
HALL_EXCHANGE = Exchange(topology.EXCHANGE, type="topic", durable=True)


class ProtoConsumer(Consumer):  # type: ignore[misc]
    """nameko's consumer, handing the worker a decoded Envelope (type, message id, headers).

    An undecodable message is rejected without requeue, so the queue dead-letters it to
    hall.parked; a worker error requeues it until the queue's delivery limit parks it.
    """

    def handle_message(self, body: Any, message: Any) -> None:
        props = message.properties
        headers = dict(message.headers or {})
        try:
            decoded = wire.decode(props.get("type"), body if isinstance(body, bytes) else message.body)
            if not props.get("message_id"):
                raise UndecodableMessage("message has no message_id")
        except UndecodableMessage as exc:
            log.error("parking undecodable message", error=str(exc))
            message.reject(requeue=False)
            return
        envelope = Envelope(
            message=decoded, message_id=props["message_id"], type=props["type"],
            routing_key=message.delivery_info.get("routing_key", ""), headers=headers,
            redelivered=bool(message.delivery_info.get("redelivered")),
            delivery_count=int(headers.get("x-delivery-count", 0) or 0),
        )
        try:
            self.container.spawn_worker(self, (envelope,), {}, context_data={},
                                        handle_result=partial(self.handle_result, message))
        except ContainerBeingKilled:
            self._settle(self.queue_consumer.requeue_message, message)

    def handle_message_processed(self, message: Any, result: Any = None, exc_info: Any = None) -> None:
        # nameko acks (or requeues) here; if the broker connection dropped meanwhile, that fails and
        # would kill the container. The broker redelivers an unacked message, and the stored answer
        # is replayed then, so losing the ack is safe: log it and carry on.
        if exc_info is not None and self.requeue_on_error:
            self._settle(self.queue_consumer.requeue_message, message)
        else:
            self._settle(self.queue_consumer.ack_message, message)

    @staticmethod
    def _settle(action: Any, message: Any) -> None:
        try:
            action(message)
        except (OSError, *CONNECTION_ERRORS) as exc:
            log.warning("ack lost with the broker connection; the message will be redelivered", error=repr(exc))


proto_consume = ProtoConsumer.decorator


class AuditBatcher:
    """The adapter's call records, sent as CallRecordBatch messages by one green thread: what
    arrives within `linger_s` travels together (the answer never waits for its audit record).
    With a spool, each record is on local disk until the broker confirms it, and records left by
    a killed process of this adapter are sent first (`services/runtime/audit_spool.py`)."""

    def __init__(self, publisher: KombuPublisher, service: str, *, linger_s: float, max_batch: int = 500,
                 spool: AuditSpool | None = None, capacity: int = 50_000) -> None:
        import eventlet
        from eventlet.queue import Empty, LightQueue

        self._publisher = publisher
        self._routing_key = topology.rk_audit(service)
        self._linger_s = linger_s
        self._max_batch = max_batch
        self._queue: Any = LightQueue(capacity + 1)  # + 1: room for the stop sentinel
        self._capacity = capacity
        self._empty = Empty
        self._dropped = 0
        self._sleep = eventlet.sleep
        self._spool = spool
        if spool is not None:
            for record in spool.adopt():
                self.add(record)
        self._thread = eventlet.spawn(self._run)

    def add(self, record: audit_pb2.CallRecord) -> None:
        """Queue (and spool) a record; beyond `capacity` waiting (a long broker outage) it is
        dropped and the drop logged, as in every service's emitter."""
        if self._queue.qsize() >= self._capacity:
            self._dropped += 1
            if self._dropped % 1000 == 1:
                log.error("audit buffer full; dropping records", dropped=self._dropped)
            return
        queue_record(self._spool, record, self._queue.put_nowait)

    def _take(self) -> tuple[audit_pb2.CallRecordBatch, int] | None:
        first = self._queue.get()
        if first is None:
            return None
        batch, segment, closing = gather(first, self._queue.get_nowait, self._empty, self._linger_s,
                                         self._max_batch, self._sleep)
        if closing:
            self._queue.put(None)  # stop after sending this batch
        return batch, segment

    def _run(self) -> None:
        backoff = 0.2
        while (taken := self._take()) is not None:
            batch, segment = taken
            while True:
                try:
                    self._publisher.publish(
                        wire.encode(batch), exchange=HALL_EXCHANGE, routing_key=self._routing_key,
                        message_id=f"batch-{batch.records[0].record_id}", type=wire.type_name(batch),
                        content_type=wire.CONTENT_TYPE)
                    if self._spool is not None and segment:
                        self._spool.sent(segment)
                    backoff = 0.2
                    break
                except Exception as exc:  # noqa: BLE001 - broker away: keep the records, retry
                    log.warning("audit publish failed; retrying", error=repr(exc), wait_s=backoff)
                    self._sleep(backoff)
                    backoff = min(backoff * 2, 5.0)

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued (up to `timeout`), then stop; what is not sent stays in the spool."""
        import eventlet

        self._queue.put(None)
        with eventlet.Timeout(timeout, False), contextlib.suppress(Exception):
            self._thread.wait()
        if self._spool is not None:
            self._spool.close(all_sent=self._thread.dead)


class GroupCommit:
    """Requests that nameko's workers hold side by side are decided together: each worker queues
    its request and waits; one green thread takes everything queued, decides it in one
    transaction (`AdapterCore.handle_requests`), publishes the answers with their confirms
    awaited together, then wakes each worker with its own result, and nameko acks. An answer
    still follows its commit, and an ack its answer. A request alone waits for nothing; under
    load one transaction and one confirm wait carry many."""

    def __init__(self, core: AdapterCore, amqp_url: str, *, threads: int = 1, max_batch: int = 64) -> None:
        import eventlet
        from eventlet.event import Event
        from eventlet.queue import Empty, LightQueue

        self._core = core
        self._amqp_url = amqp_url
        self._max_batch = max_batch
        self._queue: Any = LightQueue()
        self._empty = Empty
        self._event = Event
        self._threads = [eventlet.spawn(self._run) for _ in range(threads)]

    def decide(self, envelope: Envelope) -> Any:
        done = self._event()
        self._queue.put((envelope, done))
        return done.wait()  # the result, or the batch's exception raised here

    def _run(self) -> None:
        answers = AnswerPublisher(self._amqp_url)  # one connection per thread
        try:
            self._serve(answers)
        finally:
            answers.close()

    def _serve(self, answers: AnswerPublisher) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                self._queue.put(None)  # the other threads stop too
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except self._empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(item)
            try:
                results = self._core.handle_requests([envelope for envelope, _ in batch])
                answers.publish([
                    Answer(out.routing_key, out.message, out.message_id, _trace_headers(envelope))
                    for (envelope, _), result in zip(batch, results, strict=True) if not isinstance(result, Exception)
                    for out in result.outgoing])
            except Exception as exc:  # noqa: BLE001 - each worker raises it: nameko requeues its message
                # (decided and committed: the redelivery gets the stored answer)
                for _, done in batch:
                    done.send_exception(exc)
                continue
            metrics.batch(f"adapter-{self._core.code}", len(batch))
            for (_, done), result in zip(batch, results, strict=True):
                if isinstance(result, Exception):
                    done.send_exception(result)
                else:
                    done.send(result)

    def close(self, timeout: float = 5.0) -> None:
        import eventlet

        self._queue.put(None)
        with eventlet.Timeout(timeout, False), contextlib.suppress(Exception):
            for thread in self._threads:
                thread.wait()


class Answering:
    """Runs the core for one message, publishes its answers (with confirms) and audits it."""

    def __init__(self, core: AdapterCore, publisher: KombuPublisher, service: str, audit: AuditBatcher,
                 group: GroupCommit) -> None:
        self.core = core
        self._publisher = publisher
        self._service = service
        self.audit = audit
        self.group = group

    def process(self, envelope: Envelope) -> None:
        started_wall, started = time.time(), time.monotonic()
        msg = envelope.message
        case_id = getattr(msg, "case_id", "") or envelope.case_id  # the message is authoritative; the header traces
        with context.scope(case_id=case_id, actor_id=envelope.actor_id, step_id=getattr(msg, "step_id", "")):
            if isinstance(msg, approval_pb2.SubApprovalRequest):
                self.core.check_request(envelope)
                result = self.group.decide(envelope)  # decided, committed and answered
            else:
                result = self.core.handle(envelope)  # a cancel: alone, under its step's lock
                for out in result.outgoing:
                    self._publish(out.routing_key, out.message, out.message_id, envelope)
            record = audit_pb2.CallRecord(
                record_id=uuid.uuid4().hex, service=self._service, kind=audit_pb2.CallRecord.KIND_MESSAGE,
                operation=envelope.type, case_id=case_id, actor_id=envelope.actor_id,
                duration_us=int((time.monotonic() - started) * 1e6), outcome=result.outcome,
                step_id=getattr(msg, "step_id", ""), department=self.core.code)
            record.started_at.FromNanoseconds(int(started_wall * 1e9))
            metrics.message(self._service, topology.department_queue(self.core.code), result.outcome,
                            time.monotonic() - started)
            self.audit.add(record)

    def _publish(self, routing_key: str, message: Any, message_id: str, envelope: Envelope) -> None:
        self._publisher.publish(
            wire.encode(message), exchange=HALL_EXCHANGE, routing_key=routing_key, message_id=message_id,
            type=wire.type_name(message), content_type=wire.CONTENT_TYPE, headers=_trace_headers(envelope))


def _trace_headers(envelope: Envelope) -> dict[str, str]:
    """The case and actor an answer travels with (the message's case id is authoritative)."""
    return {context.CASE_HEADER: getattr(envelope.message, "case_id", "") or envelope.case_id,
            context.ACTOR_HEADER: envelope.actor_id}


class CoreProvider(DependencyProvider):  # type: ignore[misc]
    """Gives each worker the shared Answering object (thin service, logic in the provider)."""

    def __init__(self, core: AdapterCore) -> None:
        self._core = core
        self._answering: Answering | None = None

    def setup(self) -> None:
        publisher = KombuPublisher(
            self.container.config["AMQP_URI"], use_confirms=True, mandatory=True, serializer="protobuf",
            delivery_mode=2)
        service = f"adapter-{self._core.code}"
        linger_ms = int(self.container.config.get("AUDIT_LINGER_MS", 50))
        self._answering = Answering(self._core, publisher, service,
                                    AuditBatcher(publisher, service, linger_s=linger_ms / 1000,
                                                 spool=open_spool(self.container.config.get("AUDIT_SPOOL_DIR", ""),
                                                                  service)),
                                    GroupCommit(self._core, self.container.config["AMQP_URI"],
                                                threads=int(self.container.config.get("ADAPTER_COMMITTERS", 2))))

    def stop(self) -> None:
        if self._answering is not None:
            self._answering.group.close()
            self._answering.audit.close()

    def get_dependency(self, worker_ctx: Any) -> Answering:
        assert self._answering is not None
        return self._answering


def department_queue(code: str, *, declare: bool = True) -> Queue:
    """The department's queue. With declare=False (least privilege: the broker user may not
    configure anything) the adapter only consumes what the platform declared."""
    exchange = HALL_EXCHANGE if declare else Exchange(topology.EXCHANGE, type="topic", durable=True, no_declare=True)
    return Queue(topology.department_queue(code), exchange=exchange, routing_key=f"step.{code}.*",
                 durable=True, queue_arguments=topology.queue_arguments(), no_declare=not declare)


def declare_department_queue(amqp_url: str, code: str) -> bool:
    """Declare the department's queue (exchange, queue, binding) before nameko consumes it.
    False when the broker holds the queue with an earlier version's arguments (parking at most
    once): it is then consumed as it is, with a warning, since nameko's own declaration would
    fail on every start. A broker not reachable yet leaves the declaration to nameko."""
    from kombu import Connection

    try:
        with Connection(amqp_url, connect_timeout=5) as conn:
            department_queue(code)(conn.channel()).declare()
    except Exception as exc:
        if topology.refused_arguments(exc):
            topology.warn_legacy(topology.department_queue(code))
            return False
        if isinstance(exc, (OSError, *CONNECTION_ERRORS)):
            log.warning("broker not reachable to declare the queue; nameko will", error=repr(exc))
            return True
        raise
    return True


def build_service(core: AdapterCore, *, declare: bool = True) -> type:
    """A nameko service class for one department: one consumer, one dependency, no logic."""
    queue = department_queue(core.code, declare=declare)

    class AdapterService:
        name = f"{core.code}_adapter"
        answering = CoreProvider(core)

        @proto_consume(queue, requeue_on_error=True)
        def handle(self, envelope: Envelope) -> None:
            self.answering.process(envelope)

    AdapterService.__name__ = f"{core.code.title().replace('_', '')}Adapter"
    return AdapterService

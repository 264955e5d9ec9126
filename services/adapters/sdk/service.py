"""The nameko side of an adapter: consume the department's queue, run the core, answer, audit.

Imported only in adapter processes (it brings eventlet through nameko).
"""

from __future__ import annotations

import contextlib
import threading
import time
from functools import partial
from typing import Any

import structlog
from amqp.exceptions import ConnectionError as AmqpConnectionError
from amqp.exceptions import RecoverableConnectionError
from kombu import Exchange, Queue
from nameko.exceptions import ContainerBeingKilled
from nameko.extensions import DependencyProvider
from nameko.messaging import Consumer

from hall.v1 import approval_pb2, audit_pb2
from services.adapters.sdk.core import AdapterCore
from services.adapters.sdk.core import Outgoing as CoreOutgoing
from services.runtime import context, metrics, topology, wire
from services.runtime.amqp import Outgoing, Publisher
from services.runtime.audit_emitter import AuditEmitter
from services.runtime.audit_spool import open_spool
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


class GroupCommit:
    """Requests that nameko's workers hold side by side are decided together: each worker queues
    its request and waits; one green thread takes everything queued, decides it in one
    transaction (`AdapterCore.handle_requests`), publishes the answers with their confirms
    awaited together, then wakes each worker with its own result, and nameko acks. An answer
    still follows its commit, and an ack its answer. A request alone waits for nothing; under
    load one transaction and one confirm wait carry many."""

    def __init__(self, core: AdapterCore, amqp_url: str, *, threads: int = 1, max_batch: int = 64,
                 audit: AuditEmitter | None = None) -> None:
        # The broker connection of each thread is the platform's publisher (services/runtime/amqp.py):
        # under eventlet its socket waits are green.
        import eventlet
        from eventlet.event import Event
        from eventlet.queue import Empty, LightQueue

        self._core = core
        self._amqp_url = amqp_url
        self._max_batch = max_batch
        self._audit = audit  # each answer's publishing on the trail, once confirmed
        self._queue: Any = LightQueue()
        self._empty = Empty
        self._event = Event
        self._threads = [eventlet.spawn(self._run) for _ in range(threads)]

    def decide(self, envelope: Envelope) -> Any:
        done = self._event()
        self._queue.put((envelope, done))
        return done.wait()  # the result, or the batch's exception raised here

    def _run(self) -> None:
        answers = Publisher(self._amqp_url, name=f"adapter-{self._core.code}-answers")  # one connection per thread
        try:
            self._serve(answers)
        finally:
            answers.close()

    def _serve(self, answers: Publisher) -> None:
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
                outgoing = [_outgoing(out, envelope)
                            for (envelope, _), result in zip(batch, results, strict=True)
                            if not isinstance(result, Exception) for out in result.outgoing]
                wall, start = time.time(), time.monotonic()
                answers.publish_reconnecting(outgoing)
                if self._audit is not None:
                    self._audit.published(outgoing, wall, time.monotonic() - start, department=self._core.code)
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

    def __init__(self, core: AdapterCore, publisher: Publisher, service: str, audit: AuditEmitter,
                 group: GroupCommit) -> None:
        self.core = core
        self._publisher = publisher  # for cancels' answers; workers take turns (one connection)
        self._publish_lock = threading.Lock()
        self._service = service
        self.audit = audit
        self.group = group

    def close(self) -> None:
        with self._publish_lock:
            self._publisher.close()

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
                if result.outgoing:
                    with self._publish_lock:
                        self._publisher.publish_reconnecting([_outgoing(out, envelope) for out in result.outgoing])
            duration_s = time.monotonic() - started
            self.audit.record(kind=audit_pb2.CallRecord.KIND_MESSAGE, operation=envelope.type, started_wall=started_wall,
                              duration_s=duration_s, outcome=result.outcome, case_id=case_id,
                              actor_id=envelope.actor_id, step_id=getattr(msg, "step_id", ""),
                              department=self.core.code)
            metrics.message(self._service, topology.department_queue(self.core.code), result.outcome, duration_s)


def _outgoing(out: CoreOutgoing, envelope: Envelope) -> Outgoing:
    return Outgoing(out.routing_key, wire.encode(out.message), wire.type_name(out.message), out.message_id,
                    _trace_headers(envelope))


def _trace_headers(envelope: Envelope) -> dict[str, str]:
    """The case and actor an answer travels with (the message's case id is authoritative)."""
    return {context.CASE_HEADER: getattr(envelope.message, "case_id", "") or envelope.case_id,
            context.ACTOR_HEADER: envelope.actor_id, context.STEP_HEADER: getattr(envelope.message, "step_id", "")}


class CoreProvider(DependencyProvider):  # type: ignore[misc]
    """Gives each worker the shared Answering object (thin service, logic in the provider)."""

    def __init__(self, core: AdapterCore) -> None:
        self._core = core
        self._answering: Answering | None = None

    def setup(self) -> None:
        url = self.container.config["AMQP_URI"]
        service = f"adapter-{self._core.code}"
        linger_ms = int(self.container.config.get("AUDIT_LINGER_MS", 50))
        # The call records go out as every service's do (services/runtime/audit_emitter.py).
        audit = AuditEmitter(url, service, linger_s=linger_ms / 1000,
                             spool=open_spool(self.container.config.get("AUDIT_SPOOL_DIR", ""), service))
        self._answering = Answering(self._core, Publisher(url, name=f"{service}-cancels"), service, audit,
                                    GroupCommit(self._core, url,
                                                threads=int(self.container.config.get("ADAPTER_COMMITTERS", 2)),
                                                audit=audit))

    def stop(self) -> None:
        if self._answering is not None:
            self._answering.group.close()
            self._answering.audit.close()
            self._answering.close()

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

"""AMQP with pika: a confirming, mandatory publisher and a consumer that acks only after commit.

pika connections are not thread-safe: each thread owns its own Publisher or Consumer.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pika
import pika.exceptions
import structlog
from google.protobuf.message import Message

from services.runtime import context, metrics, topology, wire
from services.runtime.wire import Envelope, UndecodableMessage

log = structlog.get_logger(__name__)

AMQP_ERRORS = (pika.exceptions.AMQPError, OSError)


def connection_parameters(url: str, *, name: str) -> pika.URLParameters:
    params = pika.URLParameters(url)
    params.client_properties = {"connection_name": name}
    params.heartbeat = 30
    params.blocked_connection_timeout = 30
    params.connection_attempts = 1
    return params


class Unroutable(RuntimeError):
    """The broker could not route a mandatory message: no queue is bound for its key.
    `message_ids` are the returned messages; the others of the batch were confirmed."""

    def __init__(self, detail: str, message_ids: list[str] | None = None) -> None:
        super().__init__(detail)
        self.message_ids = message_ids or []


# What a publish can fail with: the broker refused to route it, or the connection broke.
PUBLISH_ERRORS = (Unroutable, pika.exceptions.AMQPError, OSError)


@dataclass(frozen=True)
class Outgoing:
    """One message to publish, already encoded."""

    routing_key: str
    body: bytes
    type: str
    message_id: str
    headers: dict[str, Any] = field(default_factory=dict)
    exchange: str = topology.EXCHANGE


class Publisher:
    """Publishes persistent protobuf messages with publisher confirms and mandatory routing.

    A batch is written to the socket at once and its confirms are awaited together (one round
    trip to the broker's disk for the whole batch, not one per message). `publish_many` returns
    only when the broker has confirmed every message of the batch; it raises `Unroutable` if one
    was returned, `pika.exceptions.NackError` if one was refused, or an AMQP/OS error if the
    connection broke (the caller then publishes the batch again; consumers de-duplicate by id).
    """

    def __init__(self, url: str, *, name: str, confirm_timeout_s: float = 30.0) -> None:
        self._url = url
        self._name = name
        self._confirm_timeout_s = confirm_timeout_s
        self._conn: pika.BlockingConnection | None = None
        self._channel: Any = None
        self._next_tag = 1
        self._unconfirmed: dict[int, str] = {}
        self._nacked: list[str] = []
        self._returned: list[tuple[str, str]] = []

    def _ensure(self) -> Any:
        if self._conn is None or self._conn.is_closed or self._channel is None or self._channel.is_closed:
            self.close()
            self._conn = pika.BlockingConnection(connection_parameters(self._url, name=self._name))
            self._channel = self._conn.channel()
            # Confirm mode on the channel underneath pika's BlockingChannel, whose own
            # confirm_delivery() waits for each message in turn.
            impl = self._channel._impl
            selected: list[bool] = []
            impl.confirm_delivery(ack_nack_callback=self._on_confirm, callback=lambda _frame: selected.append(True))
            impl.add_on_return_callback(self._on_return)
            self._await(lambda: bool(selected))
            self._next_tag, self._unconfirmed = 1, {}
        return self._channel

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tags = [t for t in self._unconfirmed if t <= method.delivery_tag] if method.multiple else [method.delivery_tag]
        for tag in tags:
            message_id = self._unconfirmed.pop(tag, None)
            if message_id is not None and isinstance(method, pika.spec.Basic.Nack):
                self._nacked.append(message_id)

    def _on_return(self, _channel: Any, method: Any, props: Any, _body: bytes) -> None:
        self._returned.append((f"{method.exchange}/{method.routing_key}", props.message_id or ""))

    def _await(self, done: Callable[[], bool]) -> None:
        """Run the connection's I/O until `done()` (or the confirm timeout). Uses pika's own
        BlockingChannel wait loop (what its basic_publish waits with), which returns as soon as the
        condition holds; process_data_events() would sit out its whole time limit."""
        assert self._conn is not None and self._channel is not None
        expired: list[bool] = []
        timer = self._conn.call_later(self._confirm_timeout_s, lambda: expired.append(True))
        try:
            self._channel._flush_output(lambda: done() or bool(expired))
        finally:
            if not expired and self._conn.is_open:
                self._conn.remove_timeout(timer)
        if expired and not done():
            raise pika.exceptions.AMQPConnectionError(f"no publisher confirm within {self._confirm_timeout_s}s")

    def publish_many(self, messages: list[Outgoing]) -> None:
        """Publish a batch and wait until the broker has confirmed all of it."""
        if not messages:
            return
        try:
            channel = self._ensure()
            impl = channel._impl
            self._nacked, self._returned = [], []
            now = int(time.time())
            for m in messages:
                props = pika.BasicProperties(
                    content_type=wire.CONTENT_TYPE, delivery_mode=pika.DeliveryMode.Persistent, type=m.type,
                    message_id=m.message_id, timestamp=now, headers=m.headers or {},
                )
                impl.basic_publish(m.exchange, m.routing_key, m.body, props, mandatory=True)
                self._unconfirmed[self._next_tag] = m.message_id
                self._next_tag += 1
            self._await(lambda: not self._unconfirmed)
        except AMQP_ERRORS:
            self.close()
            raise
        if self._returned:
            raise Unroutable("no queue bound for " + ", ".join(f"{key} ({mid})" for key, mid in self._returned),
                             [mid for _, mid in self._returned])
        if self._nacked:
            raise pika.exceptions.NackError([])

    def publish_reconnecting(self, messages: list[Outgoing]) -> None:
        """`publish_many`, once more on a fresh connection if the connection was lost: one that
        waited idle between bursts may have been closed by the broker meanwhile (its heartbeats
        are only answered while a blocking connection is in use). Consumers de-duplicate a
        message the lost connection had delivered."""
        try:
            self.publish_many(messages)
        except (pika.exceptions.AMQPConnectionError, OSError) as exc:
            log.info("broker connection lost; publishing again on a new one", publisher=self._name, error=repr(exc))
            self.publish_many(messages)

    def publish_raw(
        self,
        routing_key: str,
        body: bytes,
        *,
        type_: str,
        message_id: str,
        headers: dict[str, Any] | None = None,
        exchange: str = topology.EXCHANGE,
    ) -> None:
        self.publish_many([Outgoing(routing_key, body, type_, message_id, headers or {}, exchange)])

    def publish(
        self,
        routing_key: str,
        message: Message,
        *,
        message_id: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> str:
        message_id = message_id or wire.new_message_id()
        merged = context.to_headers()
        merged.update(headers or {})
        self.publish_raw(
            routing_key, wire.encode(message), type_=wire.type_name(message), message_id=message_id, headers=merged
        )
        return message_id

    def declare(self, fn: Callable[[Any], None]) -> None:
        fn(self._ensure())

    def close(self) -> None:
        conn, self._conn, self._channel = self._conn, None, None
        self._unconfirmed = {}
        if conn is not None and conn.is_open:
            with contextlib.suppress(*AMQP_ERRORS):
                conn.close()


Handler = Callable[[Envelope], None]
BatchHandler = Callable[[list[Envelope]], None]
AuditHook = Callable[[Envelope, str, float, str], None]


def _wake() -> None:
    """A no-op callback: running it ends the consumer thread's current wait for the broker."""


class Consumer(threading.Thread):
    """Consumes one queue in its own thread.

    The handler runs the message's whole unit of work and commits before returning; only then is
    the message acknowledged. An undecodable message is rejected without requeue (dead-lettered to
    hall.parked); a handler error requeues it after a short backoff, and the quorum queue's
    delivery limit parks it when it keeps failing.
    """

    def __init__(
        self,
        url: str,
        queue: str,
        handler: Handler,
        *,
        name: str,
        prefetch: int = 50,
        declare: Callable[[Any], None] | None = None,
        on_record: AuditHook | None = None,
        batch_handler: BatchHandler | None = None,
        max_batch: int = 200,
        max_backoff_s: float = 2.0,
        service: str = "",
        linger_s: float = 0.0,
    ) -> None:
        super().__init__(name=f"consumer-{queue}", daemon=True)
        self._url = url
        self._queue = queue
        self._handler = handler
        self._conn_name = name
        self._prefetch = prefetch
        self._declare = declare
        self._on_record = on_record
        self._stopping = threading.Event()
        self._conn: pika.BlockingConnection | None = None
        self._channel: Any = None
        self.ready = threading.Event()
        self._batch_handler = batch_handler
        self._max_batch = max_batch
        self._max_backoff_s = max_backoff_s
        self._service = service or name
        self._pending: list[tuple[Any, Envelope, float]] = []
        self._linger_s = linger_s
        self._flush_at = 0.0

    def run(self) -> None:
        backoff = 0.2
        while not self._stopping.is_set():
            try:
                self._conn = pika.BlockingConnection(connection_parameters(self._url, name=self._conn_name))
                self._channel = self._conn.channel()
                if self._declare:
                    self._declare(self._channel)
                self._channel.basic_qos(prefetch_count=self._prefetch)
                self.ready.set()
                backoff = 0.2
                log.info("consuming", queue=self._queue, batched=self._batch_handler is not None)
                if self._batch_handler is None:
                    self._channel.basic_consume(self._queue, self._on_message)
                    self._channel.start_consuming()
                else:
                    self._consume_batches()
            except AMQP_ERRORS as exc:
                if self._stopping.is_set():
                    break
                log.warning("amqp connection lost; reconnecting", queue=self._queue, error=repr(exc), wait_s=backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                self._close()

    def _consume_batches(self) -> None:
        """Collect what has arrived, handle it in one call (one transaction), then ack it all.

        A burst becomes one batch; a lone message is handled at once, or, with `linger_s`, after
        waiting that long for company (for consumers off every case's path, such as audit: fewer,
        larger transactions). A batch is also handled once it holds `max_batch` or `prefetch`
        messages. If a batch fails, its messages are handled one by one, so one bad message
        cannot hold back the others.
        """
        assert self._conn is not None and self._channel is not None
        self._pending = []
        self._channel.basic_consume(self._queue, self._collect)
        full = min(self._max_batch, self._prefetch)
        while not self._stopping.is_set():
            before = len(self._pending)
            if not self._pending:
                wait = 0.5
            elif self._linger_s:
                wait = max(0.0, self._flush_at - time.monotonic())
            else:
                wait = 0
            self._conn.process_data_events(time_limit=wait)
            if not self._pending:
                continue
            # With a linger, the batch is due when its time is up; without, when nothing more came.
            due = time.monotonic() >= self._flush_at if self._linger_s else len(self._pending) == before
            if due or len(self._pending) >= full:
                self._flush()
        if self._pending:  # stopping: handle what is in hand rather than leave it to a redelivery
            self._flush()

    def _collect(self, channel: Any, method: Any, props: Any, body: bytes) -> None:
        started = time.monotonic()
        envelope = self._decode_or_park(channel, method, props, body, started)
        if envelope is not None:
            if not self._pending:
                self._flush_at = started + self._linger_s
            self._pending.append((method, envelope, started))

    def _flush(self) -> None:
        assert self._batch_handler is not None and self._channel is not None
        batch_handler = self._batch_handler
        batch, self._pending = self._pending, []
        try:
            batch_handler([env for _, env, _ in batch])
        except Exception:  # noqa: BLE001 - fall back to one by one
            log.exception("batch failed; handling its messages one by one", queue=self._queue, size=len(batch))
            for method, env, started in batch:
                self._handle_one(self._channel, method, env, started, lambda e: batch_handler([e]))
            return
        # Recorded (spooled) before the ack: a kill in between costs a second record, never none.
        for _, env, started in batch:
            self._record(env, "ack", started, "")
        self._channel.basic_ack(batch[-1][0].delivery_tag, multiple=True)

    def _backoff(self, envelope: Envelope) -> float:
        return float(min(0.1 * 2 ** min(envelope.delivery_count, 10), self._max_backoff_s))

    def _decode_or_park(self, channel: Any, method: Any, props: Any, body: bytes, started: float) -> Envelope | None:
        """The message as an Envelope; an undecodable one is rejected (dead-lettered to hall.parked)."""
        headers = dict(props.headers or {})
        envelope = Envelope(
            message=None,
            message_id=props.message_id or "",
            type=props.type or "",
            routing_key=method.routing_key,
            headers=headers,
            redelivered=bool(method.redelivered),
            delivery_count=int(headers.get("x-delivery-count", 0) or 0),
        )
        try:
            envelope.message = wire.decode(props.type, body)
            if not envelope.message_id:
                raise UndecodableMessage("message has no message_id")
        except UndecodableMessage as exc:
            log.error("parking undecodable message", queue=self._queue, error=str(exc), case_id=envelope.case_id)
            channel.basic_reject(method.delivery_tag, requeue=False)
            self._record(envelope, "parked", started, str(exc))
            return None
        return envelope

    def _handle_one(self, channel: Any, method: Any, envelope: Envelope, started: float, handler: Handler) -> None:
        """Run the handler; ack after it returns, or requeue after a backoff if it fails."""
        with context.scope(case_id=envelope.case_id, actor_id=envelope.actor_id):
            try:
                handler(envelope)
            except Exception as exc:  # noqa: BLE001 - any handler failure is retried, then parked
                log.exception("handler failed; requeueing", queue=self._queue, attempt=envelope.delivery_count + 1)
                self._stopping.wait(self._backoff(envelope))
                self._record(envelope, "requeued", started, repr(exc))
                channel.basic_nack(method.delivery_tag, requeue=True)
                return
            self._record(envelope, "ack", started, "")  # before the ack, as in _flush
            channel.basic_ack(method.delivery_tag)

    def _on_message(self, channel: Any, method: Any, props: Any, body: bytes) -> None:
        started = time.monotonic()
        envelope = self._decode_or_park(channel, method, props, body, started)
        if envelope is not None:
            self._handle_one(channel, method, envelope, started, self._handler)

    def _record(self, envelope: Envelope, outcome: str, started: float, detail: str) -> None:
        metrics.message(self._service, self._queue, outcome, time.monotonic() - started)
        if self._on_record is not None:
            self._on_record(envelope, outcome, started, detail)

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the message in hand, then stop (unacked prefetched messages go back to the queue)."""
        self._stopping.set()
        conn, channel = self._conn, self._channel
        if conn is not None and channel is not None:
            with contextlib.suppress(*AMQP_ERRORS):
                # A batch consumer may be waiting out a linger: wake it to see the stop.
                conn.add_callback_threadsafe(channel.stop_consuming if self._batch_handler is None else _wake)
        self.join(timeout)

    def _close(self) -> None:
        conn, self._conn, self._channel = self._conn, None, None
        if conn is not None and conn.is_open:
            with contextlib.suppress(*AMQP_ERRORS):
                conn.close()


# Reply codes that no retry mends: 403 ACCESS_REFUSED, 406 PRECONDITION_FAILED (a queue declared
# with other arguments), 530 NOT_ALLOWED (e.g. no such vhost).
MISCONFIGURATION_CODES = {403, 406, 530}


def is_misconfiguration(exc: BaseException) -> bool:
    """The broker refused this process's configuration (credentials, vhost, queue arguments)."""
    if isinstance(exc, pika.exceptions.ProbableAuthenticationError | pika.exceptions.ProbableAccessDeniedError
                  | pika.exceptions.AuthenticationError):
        return True
    if isinstance(exc, pika.exceptions.ChannelClosedByBroker | pika.exceptions.ConnectionClosedByBroker):
        return exc.reply_code in MISCONFIGURATION_CODES
    return False


def mask_url(url: str) -> str:
    params = pika.URLParameters(url)
    return f"amqp://{params.host}:{params.port}/{params.virtual_host}"

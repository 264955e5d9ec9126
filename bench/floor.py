"""The broker floor: the company-registration DAG's messages sent and answered by bare pika
clients with no business logic, on the same durability settings as the suite (quorum queues,
persistent messages, publisher confirms, manual acks). What the suite cannot beat on this machine.

Two ways to answer: one message at a time, each answer waiting for its own confirm and each
delivery acked alone (`Floor(url)`, the floor of every round so far); or as the suite's consumers
do (`Floor(url, batched=True)`): what has arrived is answered together, the answers' confirms
awaited together, the deliveries acked in one. The first is bound by confirm round trips in its
router's thread, not by the CPU (it keeps about 1.3 of the 2 cores busy); the second shows what
the broker carries when the clients batch as the suite does.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pika

from services.runtime.amqp import Outgoing, Publisher, connection_parameters

EX = "floor"
DEPTS = ("business", "quality", "national_tax", "local_tax")
AFTER = {"business": [], "quality": ["business"], "national_tax": ["quality"], "local_tax": ["quality"]}


def _declare(ch: Any) -> None:
    ch.exchange_declare(EX, exchange_type="topic", durable=True)
    for q, key in [("floor.router", "router.#"), ("floor.done", "done")] + [(f"floor.{d}", f"dept.{d}") for d in DEPTS]:
        ch.queue_declare(q, durable=True, arguments={"x-queue-type": "quorum"})
        ch.queue_bind(q, EX, key)


def _props() -> pika.BasicProperties:
    return pika.BasicProperties(delivery_mode=2, message_id=uuid.uuid4().hex)


class Node(threading.Thread):
    """One consumer thread: `on(channel, properties, body)` for each message (published answers
    wait for their confirm), acked after it."""

    def __init__(self, url: str, queue: str, on: Callable[[Any, Any, bytes], None]) -> None:
        super().__init__(daemon=True)
        self.url, self.queue, self.on = url, queue, on
        self.ready = threading.Event()
        self.conn: pika.BlockingConnection | None = None

    def run(self) -> None:
        self.conn = pika.BlockingConnection(connection_parameters(self.url, name=f"floor-{self.queue}"))
        ch = self.conn.channel()
        ch.confirm_delivery()
        ch.basic_qos(prefetch_count=50)

        def cb(ch: Any, method: Any, props: Any, body: bytes) -> None:
            self.on(ch, props, body)
            ch.basic_ack(method.delivery_tag)

        ch.basic_consume(self.queue, cb)
        self.ready.set()
        # Stopped by closing the connection; anything else (a bug in a callback) ends the thread
        # with its traceback instead of a silent timeout.
        with contextlib.suppress(pika.exceptions.AMQPError):
            ch.start_consuming()

    def stop(self) -> None:
        if self.conn is not None:
            self.conn.add_callback_threadsafe(self.conn.close)


Step = Callable[[bytes], list[tuple[str, bytes]]]  # a message's body -> (routing key, body) to publish


class BatchedNode(threading.Thread):
    """One consumer thread that works as the suite's consumers do: the messages that have arrived
    are answered together, the answers published with their confirms awaited together (the
    suite's `Publisher`, on a connection of its own), then acked with one multiple ack."""

    def __init__(self, url: str, queue: str, step: Step, *, prefetch: int = 50) -> None:
        super().__init__(daemon=True)
        self.url, self.queue, self.step, self.prefetch = url, queue, step, prefetch
        self.ready = threading.Event()
        self.conn: pika.BlockingConnection | None = None

    def run(self) -> None:
        self.conn = conn = pika.BlockingConnection(connection_parameters(self.url, name=f"floor-{self.queue}"))
        ch = conn.channel()
        ch.basic_qos(prefetch_count=self.prefetch)
        publisher = Publisher(self.url, name=f"floor-{self.queue}-out")
        pending: list[tuple[int, bytes]] = []
        ch.basic_consume(self.queue, lambda _ch, method, _props, body: pending.append((method.delivery_tag, body)))
        self.ready.set()
        try:
            with contextlib.suppress(pika.exceptions.AMQPError):  # stopped by closing the connection
                while conn.is_open:
                    before = len(pending)
                    conn.process_data_events(time_limit=0 if pending else 0.5)
                    if pending and (len(pending) == before or len(pending) >= self.prefetch):
                        batch, pending[:] = pending[:], []
                        publisher.publish_many([Outgoing(key, out, "floor", uuid.uuid4().hex, {}, EX)
                                                for _, body in batch for key, out in self.step(body)])
                        ch.basic_ack(batch[-1][0], multiple=True)
        finally:
            publisher.close()

    def stop(self) -> None:
        if self.conn is not None:
            self.conn.add_callback_threadsafe(self.conn.close)


def _one_by_one(step: Step) -> Callable[[Any, Any, bytes], None]:
    """A `Node` callback: each answer published alone, waiting for its confirm."""
    def on(ch: Any, _properties: Any, body: bytes) -> None:
        for key, out in step(body):
            ch.basic_publish(EX, key, out, _props(), mandatory=True)
    return on


class Floor:
    """Router and four departments; a case is `<case>` and steps answer `<case>|<dept>`."""

    def __init__(self, url: str, *, batched: bool = False) -> None:
        self.url = url
        conn = pika.BlockingConnection(connection_parameters(url, name="floor-setup"))
        _declare(conn.channel())
        conn.close()
        self.state: dict[str, set[str]] = {}
        steps: list[tuple[str, Step]] = [("floor.router", self._route)] + [
            (f"floor.{d}", self._answer(d)) for d in DEPTS]
        self.nodes: list[Node | BatchedNode] = [
            BatchedNode(url, queue, step) if batched else Node(url, queue, _one_by_one(step)) for queue, step in steps]

    def _route(self, body: bytes) -> list[tuple[str, bytes]]:
        text = body.decode()
        case, _, dept = text.partition("|")
        done = self.state.setdefault(case, set())
        if dept:
            done.add(dept)
        if len(done) == len(DEPTS):
            del self.state[case]
            return [("done", case.encode())]
        return [(f"dept.{d}", case.encode()) for d in DEPTS
                if d not in done and all(a in done for a in AFTER[d]) and (not dept or dept in AFTER[d])]

    @staticmethod
    def _answer(dept: str) -> Step:
        return lambda body: [("router.decision", body + f"|{dept}".encode())]

    def start(self) -> None:
        for node in self.nodes:
            node.start()
            node.ready.wait(10)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def submitter(url: str) -> tuple[Callable[[str], None], Callable[[], None]]:
    """A thread-safe 'submit a case' for the floor (one connection per calling thread)."""
    local = threading.local()
    conns: list[pika.BlockingConnection] = []
    lock = threading.Lock()

    def submit(case: str) -> None:
        ch = getattr(local, "ch", None)
        if ch is None:
            conn = pika.BlockingConnection(connection_parameters(url, name="floor-client"))
            with lock:
                conns.append(conn)
            ch = local.ch = conn.channel()
            ch.confirm_delivery()
        ch.basic_publish(EX, "router.submitted", case.encode(), _props(), mandatory=True)

    def close() -> None:
        for c in conns:
            with contextlib.suppress(Exception):  # stopped by closing the connection
                c.close()

    return submit, close


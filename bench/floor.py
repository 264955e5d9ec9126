"""The broker floor: the company-registration DAG's messages sent and answered by bare pika
clients with no business logic, on the same durability settings as the suite (quorum queues,
persistent messages, publisher confirms, manual acks). What the suite cannot beat on this machine."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pika

from services.runtime.amqp import connection_parameters

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


class Floor:
    """Router and four departments; a case is `<case>` and steps answer `<case>|<dept>`."""

    def __init__(self, url: str) -> None:
        self.url = url
        conn = pika.BlockingConnection(connection_parameters(url, name="floor-setup"))
        _declare(conn.channel())
        conn.close()
        self.state: dict[str, set[str]] = {}
        self.nodes = [Node(url, "floor.router", self._route)] + [
            Node(url, f"floor.{d}", self._answer(d)) for d in DEPTS]

    def _route(self, ch: Any, _properties: Any, body: bytes) -> None:
        text = body.decode()
        case, _, dept = text.partition("|")
        done = self.state.setdefault(case, set())
        if dept:
            done.add(dept)
        if len(done) == len(DEPTS):
            del self.state[case]
            ch.basic_publish(EX, "done", case.encode(), _props(), mandatory=True)
            return
        for d in DEPTS:
            if d not in done and all(a in done for a in AFTER[d]) and (not dept or dept in AFTER[d]):
                ch.basic_publish(EX, f"dept.{d}", case.encode(), _props(), mandatory=True)

    @staticmethod
    def _answer(dept: str) -> Callable[[Any, Any, bytes], None]:
        def on(ch: Any, _properties: Any, body: bytes) -> None:
            ch.basic_publish(EX, "router.decision", body + f"|{dept}".encode(), _props(), mandatory=True)
        return on

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


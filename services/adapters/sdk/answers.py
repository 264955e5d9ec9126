"""Publishes a batch of answers with their confirms awaited together (one wait for the batch, not
one per message), persistent and mandatory, on a py-amqp channel in confirm mode.

Used by the adapter's group commit: the answers of one transaction leave together. It needs no
eventlet (in an adapter process its socket is green), so it is tested in a plain process.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import amqp
from google.protobuf.message import Message
from kombu import Connection

from services.runtime import topology, wire


class AnswersNotConfirmed(RuntimeError):
    """The broker refused or returned an answer, or the connection broke: publish the batch again
    (consumers de-duplicate by message id)."""


@dataclass
class Answer:
    routing_key: str
    message: Message
    message_id: str
    headers: dict[str, str] = field(default_factory=dict)


class AnswerPublisher:
    def __init__(self, url: str, *, confirm_timeout_s: float = 30.0) -> None:
        self._url = url
        self._timeout_s = confirm_timeout_s
        self._conn: Any = None
        self._channel: Any = None
        self._next_tag = 1
        self._unconfirmed: set[int] = set()
        self._refused: list[str] = []

    def _ensure(self) -> Any:
        if self._channel is None:
            conn = Connection(self._url, heartbeat=0)
            conn.connect()
            channel = conn.channel()
            # Confirms (and returns) can arrive while later messages are still being written, and
            # py-amqp hands them to these handlers whoever reads them.
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            channel.events["basic_return"].add(self._on_return)
            channel.confirm_select()
            self._conn, self._channel, self._next_tag = conn, channel, 1
        return self._channel

    def _confirmed(self, delivery_tag: int, multiple: bool) -> set[int]:
        done = {t for t in self._unconfirmed if t <= delivery_tag} if multiple else {delivery_tag}
        self._unconfirmed -= done
        return done

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._confirmed(delivery_tag, multiple)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._refused.extend(f"nacked #{t}" for t in self._confirmed(delivery_tag, multiple))

    def _on_return(self, exc: Exception, exchange: str, routing_key: str, message: Any) -> None:
        self._refused.append(f"returned {exchange}/{routing_key}: {exc}")

    def publish(self, answers: list[Answer]) -> None:
        """Returns once the broker has confirmed every answer; raises AnswersNotConfirmed if not."""
        if not answers:
            return
        try:
            channel = self._ensure()
            self._refused = []
            for a in answers:
                self._unconfirmed.add(self._next_tag)
                self._next_tag += 1
                channel.basic_publish(
                    amqp.Message(wire.encode(a.message), content_type=wire.CONTENT_TYPE, content_encoding="binary",
                                 message_id=a.message_id, type=wire.type_name(a.message), delivery_mode=2,
                                 application_headers=a.headers),
                    exchange=topology.EXCHANGE, routing_key=a.routing_key, mandatory=True)
            while self._unconfirmed:
                self._conn.drain_events(timeout=self._timeout_s)
            if self._refused:
                raise AnswersNotConfirmed("; ".join(self._refused))
        except Exception as exc:
            self.close()  # a fresh channel next time: its delivery tags start again at 1
            if isinstance(exc, AnswersNotConfirmed):
                raise
            raise AnswersNotConfirmed(repr(exc)) from exc

    def close(self) -> None:
        conn, self._conn, self._channel = self._conn, None, None
        self._unconfirmed = set()
        if conn is not None:
            with contextlib.suppress(Exception):  # closing a broken connection
                conn.close()

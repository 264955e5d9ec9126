"""How protobuf messages travel over AMQP: body, content type, type name, message id, headers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message

# Import every contract so that the default descriptor pool knows each message type.
from hall.v1 import approval_pb2, audit_pb2, fees_pb2, intake_pb2, router_pb2  # noqa: F401
from services.runtime import context

CONTENT_TYPE = "application/x-protobuf"


class UndecodableMessage(ValueError):
    """The body cannot be turned into a known message: park it, never retry it."""


def new_message_id() -> str:
    return uuid.uuid4().hex


def type_name(message: Message) -> str:
    return str(message.DESCRIPTOR.full_name)


def encode(message: Message) -> bytes:
    return bytes(message.SerializeToString(deterministic=True))


def decode(type_: str | None, body: bytes) -> Message:
    if not type_:
        raise UndecodableMessage("message has no type property")
    try:
        descriptor = descriptor_pool.Default().FindMessageTypeByName(type_)
    except KeyError:
        raise UndecodableMessage(f"unknown message type {type_!r}") from None
    cls = message_factory.GetMessageClass(descriptor)
    msg = cls()
    try:
        msg.ParseFromString(body)
    except DecodeError as exc:
        raise UndecodableMessage(f"body is not a valid {type_}: {exc}") from None
    return msg


@dataclass
class Envelope:
    """A decoded message with what the plumbing knows about it."""

    message: Any
    message_id: str
    type: str
    routing_key: str
    headers: dict[str, Any] = field(default_factory=dict)
    redelivered: bool = False
    delivery_count: int = 0

    @property
    def case_id(self) -> str:
        return str(self.headers.get(context.CASE_HEADER, ""))

    @property
    def actor_id(self) -> str:
        return str(self.headers.get(context.ACTOR_HEADER, ""))

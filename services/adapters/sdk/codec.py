"""kombu serializer for protobuf bodies: bytes in, bytes out (the type travels in properties)."""

from __future__ import annotations

from services.runtime.wire import CONTENT_TYPE


def identity(body: bytes) -> bytes:
    return body


SERIALIZERS = {
    "protobuf": {
        "encoder": "services.adapters.sdk.codec.identity",
        "decoder": "services.adapters.sdk.codec.identity",
        "content_type": CONTENT_TYPE,
        "content_encoding": "binary",
    }
}

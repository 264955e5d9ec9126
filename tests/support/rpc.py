"""Reading a refused call's google.rpc details in tests."""

from __future__ import annotations

from typing import Any, TypeVar

import grpc
from grpc_status import rpc_status

_M = TypeVar("_M")


def details(err: grpc.RpcError, kind: type[_M]) -> list[_M]:
    """Every detail of type `kind` in the status of the refused call `err`."""
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    found: list[Any] = []
    for d in status.details if status is not None else ():
        message = kind()
        if d.Unpack(message):  # type: ignore[attr-defined]
            found.append(message)
    return found

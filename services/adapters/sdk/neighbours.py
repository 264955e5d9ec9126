"""Calling another department over its published gRPC contract (信息共享: look a licence up in
the business register instead of trusting the request).

A department's desk serves what it shares; the suite tells every adapter where each desk answers
(DESK_<CODE>_ADDR, from services/adapters/departments.toml). An adapter process is an eventlet
process that hosts no gRPC server; as a client it may call one, through `Neighbour.call`.
"""

from __future__ import annotations

from typing import Any


class NeighbourUnavailable(RuntimeError):
    """The other department did not answer in time: a technical failure, retried by the router."""


class Neighbour:
    """A lazily connected channel to one department's desk. Calls wait for the channel to be
    ready, up to their deadline, instead of failing at once while it reconnects: right after the
    desk comes back the channel may still be in its reconnect backoff (up to 2 s), and a step an
    operator retries then would fail again for nothing (found by tests/e2e/test_incidents.py on a
    slow host). While the desk is down a call fails after its deadline."""

    def __init__(self, address: str, timeout_s: float) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self._channel: Any = None
        self._stubs: dict[Any, Any] = {}
        self._green_lock: Any = None

    def stub(self, stub_class: Any) -> Any:
        """A stub of `stub_class` on this desk's channel."""
        # grpcio is loaded on first use only, and in the calling greenlet, never inside a pool
        # thread: importing registers loggers under the logging module's lock, which eventlet has
        # made green.
        # The channel presents this adapter's service token (or its client certificate).
        from services.runtime.grpc_client import channel

        if stub_class not in self._stubs:
            if self._channel is None:
                self._channel = channel(self.address)
            self._stubs[stub_class] = stub_class(self._channel)
        return self._stubs[stub_class]

    def call(self, call: Any, *args: Any) -> Any:
        """`call(*args)`. In an eventlet process it runs in eventlet's pool of real threads (tpool)
        so it never blocks the hub, one call at a time: grpcio's Python layer uses `threading`
        primitives, which eventlet has turned green, and two real threads contending for one of
        them would have to switch greenlets across threads (greenlet.error: Cannot switch to a
        different thread)."""
        try:
            from eventlet import patcher, semaphore, tpool
        except ImportError:
            return call(*args)
        if not patcher.is_monkey_patched("thread"):
            return call(*args)
        if self._green_lock is None:
            self._green_lock = semaphore.Semaphore(1)
        with self._green_lock:
            return tpool.execute(call, *args)

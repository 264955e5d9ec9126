"""A WatchApplication call read by a thread of its own, for tests."""

from __future__ import annotations

import threading

import grpc

from hall.v1 import intake_pb2, intake_pb2_grpc


class Watch:
    """A WatchApplication call read by a thread of its own; `events` grows as they come."""

    def __init__(self, stub: intake_pb2_grpc.IntakeServiceStub, application_id: str) -> None:
        self.call = stub.WatchApplication(intake_pb2.WatchApplicationRequest(application_id=application_id), timeout=120)
        self.events: list[intake_pb2.WatchApplicationResponse] = []
        self.error: grpc.RpcError | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for event in self.call:
                self.events.append(event)
        except grpc.RpcError as err:
            self.error = err

    def finished(self) -> bool:
        return not self._thread.is_alive()

    def cancel(self) -> None:
        self.call.cancel()
        self._thread.join(30)


def to_the_end(counter, application_id: str, timeout: float = 60) -> list[intake_pb2.WatchApplicationResponse]:
    """Every status change of an application until it ends, the fees paid at the window when the
    case waits for them (as the clerk does)."""
    events: list[intake_pb2.WatchApplicationResponse] = []
    for event in counter.watch(application_id, timeout=timeout):
        events.append(event)
        if event.status == intake_pb2.APPLICATION_STATUS_AWAITING_PAYMENT:
            counter.pay(application_id, client_key=f"pay-{application_id}")
    return events

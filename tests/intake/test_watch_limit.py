"""Open watches never starve intake: each WatchApplication holds a server thread for as long as it
lasts (an application that waits for an officer: hours), so intake admits INTAKE_MAX_WATCHES of
them, refuses the next with RESOURCE_EXHAUSTED and a retry delay, and keeps GRPC_WORKERS threads
for submissions and health checks. (Before, the 33rd watch took the last of 32 threads and intake
stopped answering anything.) The counter client waits out a refusal and watches once a place is
free. A real intake process; with no router, its applications stay open."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from hall.v1 import intake_pb2, intake_pb2_grpc
from services.counter.client import Counter, Endpoints
from services.runtime.grpc_client import channel
from tests.support import tokens
from tests.support.processes import lone_intake
from tests.support.samples import company_registration
from tests.support.waiting import wait_until
from tests.support.watch import Watch

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture
def intake(fresh_amqp_url, pg_url, tmp_path) -> Iterator[tuple[intake_pb2_grpc.IntakeServiceStub, grpc.Channel, str]]:
    with lone_intake(fresh_amqp_url, pg_url, tmp_path / "logs", INTAKE_MAX_WATCHES="2", GRPC_WORKERS="2") as suite:
        suite.wait_ready(timeout=90)
        target = f"127.0.0.1:{suite.children[0].port}"
        ch = channel(target, token=tokens.clerk())
        yield intake_pb2_grpc.IntakeServiceStub(ch), ch, target
        ch.close()


@pytest.fixture
def intake_address(intake, tmp_path) -> tuple[str, Path]:
    """The address of the `intake` fixture's process, and its log."""
    return intake[2], tmp_path / "logs" / "intake.log"


def test_the_counter_client_waits_for_a_place_and_then_watches(intake, intake_address):
    stub, _, _ = intake
    target, log = intake_address
    apps = [stub.SubmitApplication(company_registration(), timeout=30).application for _ in range(3)]
    watches = [Watch(stub, app.application_id) for app in apps[:2]]
    assert wait_until(lambda: all(w.events for w in watches))  # intake is full
    counter = Counter(Endpoints(intake=target), token=tokens.clerk())
    seen: list[intake_pb2.WatchApplicationResponse] = []

    def counter_watch() -> None:
        try:
            for event in counter.watch(apps[2].application_id, timeout=120):
                seen.append(event)
        except grpc.RpcError:
            pass  # the channel closed at the end of the test

    threading.Thread(target=counter_watch, daemon=True).start()
    assert wait_until(lambda: "RESOURCE_EXHAUSTED" in log.read_text(), timeout=30)  # refused once
    watches[0].cancel()  # a place comes free; the client's retry takes it
    assert wait_until(lambda: seen, timeout=60)
    assert seen[0].sequence == 0 and seen[0].application.application_id == apps[2].application_id
    watches[1].cancel()
    counter.close()


def test_watches_beyond_the_limit_are_refused_and_submissions_still_answered(intake):
    stub, channel, _ = intake
    apps = [stub.SubmitApplication(company_registration(), timeout=30).application for _ in range(3)]
    watches = [Watch(stub, app.application_id) for app in apps[:2]]
    assert wait_until(lambda: all(w.events for w in watches))  # both open, each holding a thread

    refused = Watch(stub, apps[2].application_id)
    assert wait_until(refused.finished)
    assert refused.error is not None and refused.error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    status = rpc_status.from_call(refused.call)
    assert status is not None
    retry = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(retry) and retry.retry_delay.seconds > 0

    # Short calls and health checks find threads of their own, however many watches are open.
    for _ in range(4):
        assert stub.SubmitApplication(company_registration(), timeout=30).application.application_id
        assert stub.GetApplication(intake_pb2.GetApplicationRequest(application_id=apps[2].application_id),
                                   timeout=30).application.application_id == apps[2].application_id
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=30)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert all(not w.finished() for w in watches)  # the open watches are untouched

    # A closed watch gives its place back.
    watches[0].cancel()

    def admitted() -> bool:
        again = Watch(stub, apps[2].application_id)
        if wait_until(lambda: again.events or again.finished()) and again.events:
            watches.append(again)
            return True
        return False

    assert wait_until(admitted, timeout=30, every=0.5)
    for w in watches[1:]:
        w.cancel()

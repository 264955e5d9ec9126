"""Fail closed: with audit's delivery cut (intake's broker user may no longer publish audit.*,
everything else still flows), intake refuses new applications with UNAVAILABLE and a sentence a
clerk reads once the threshold has passed; when delivery is back it takes them again by itself,
and every call record made meanwhile, the refused submissions' too, reaches the audit queue."""

from __future__ import annotations

import time
import uuid
from urllib.parse import quote, unquote, urlparse

import grpc
import pika
import pytest
from google.rpc import error_details_pb2

from hall.v1 import audit_pb2
from services.counter.client import Counter, Endpoints
from services.runtime import topology
from tests.support import servers, tokens
from tests.support.processes import lone_intake
from tests.support.rpc import details
from tests.support.samples import company_registration
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
SUBMIT = "/hall.v1.IntakeService/SubmitApplication"


class BrokerUser:
    """A broker user of its own for intake, whose right to publish audit records can be cut."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        self.vhost = unquote(parsed.path.lstrip("/")) or "/"
        self.name, password = f"t-intake-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
        servers.ctl("add_user", self.name, password)
        servers.ctl("set_permissions", "-p", self.vhost, self.name, ".*", ".*", ".*")
        self.url = parsed._replace(netloc=f"{self.name}:{password}@{parsed.hostname}:{parsed.port or 5672}",
                                   path="/" + quote(self.vhost, safe="")).geturl()

    def cut_audit(self) -> None:
        """Publishing audit.* refused; the user's connections closed, so that the channels it
        opens again are checked against the new rights (a channel caches what it was allowed)."""
        servers.ctl("set_topic_permissions", "-p", self.vhost, self.name, topology.EXCHANGE, r"^(?!audit\.).*", ".*")
        servers.ctl("close_all_user_connections", self.name, "audit delivery cut by the test")

    def restore(self) -> None:
        servers.ctl("clear_topic_permissions", "-p", self.vhost, self.name)

    def delete(self) -> None:
        servers.ctl("delete_user", self.name)


@pytest.fixture
def user(fresh_amqp_url):
    if not servers.rabbitmqctl_available(fresh_amqp_url):
        pytest.fail("needs rabbitmqctl on the broker's host to cut one user's publishing (make test installs it)")
    made = BrokerUser(fresh_amqp_url)
    yield made
    made.delete()


def submit(counter: Counter) -> grpc.StatusCode:
    try:
        counter.submit(company_registration(), timeout=10)
        return grpc.StatusCode.OK
    except grpc.RpcError as err:
        submit.last = err  # type: ignore[attr-defined]
        return err.code()


def submissions_recorded(url: str, expected: int, until: float) -> list[str]:
    """The outcomes of SubmitApplication's call records on the audit queue, once `expected` of
    them have arrived (or at `until`)."""
    found: list[str] = []
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ch = conn.channel()
        while time.monotonic() < until:
            method, _, body = ch.basic_get(topology.AUDIT_QUEUE, auto_ack=True)
            if method is None:
                time.sleep(0.2)
                continue
            batch = audit_pb2.CallRecordBatch.FromString(body)
            found += [r.outcome for r in batch.records if r.operation == SUBMIT]
            if len(found) >= expected:
                break
    finally:
        conn.close()
    return found


def test_intake_refuses_new_applications_while_records_cannot_be_delivered_and_resumes(user, fresh_amqp_url,
                                                                                         pg_url, tmp_path):
    with lone_intake(user.url, pg_url, tmp_path / "logs", INTAKE_AUDIT_FAIL_CLOSED_SECONDS="2",
                     AUDIT_LINGER_MS="10") as suite:
        suite.wait_ready(timeout=90)
        counter = Counter(Endpoints(intake=f"127.0.0.1:{suite.children[0].port}"), token=tokens.clerk())
        try:
            outcomes = [submit(counter)]
            assert outcomes == [grpc.StatusCode.OK]
            user.cut_audit()

            def refused() -> bool:
                outcomes.append(submit(counter))
                return outcomes[-1] == grpc.StatusCode.UNAVAILABLE

            assert wait_until(refused, timeout=60, every=0.5), outcomes
            err = submit.last  # type: ignore[attr-defined]
            (said,) = details(err, error_details_pb2.LocalizedMessage)
            assert said.locale == "zh-CN" and "暂停受理新申请" in said.message and "自动继续" in said.message
            assert details(err, error_details_pb2.ErrorInfo)[0].reason == "AUDIT_UNDELIVERED"
            assert details(err, error_details_pb2.RetryInfo)

            user.restore()

            def resumed() -> bool:
                outcomes.append(submit(counter))
                return outcomes[-1] == grpc.StatusCode.OK

            assert wait_until(resumed, timeout=60, every=0.5), outcomes
        finally:
            counter.close()
        # Every submission's record arrived, those refused while delivery was cut included.
        recorded = submissions_recorded(fresh_amqp_url, len(outcomes), time.monotonic() + 60)
        assert sorted(recorded) == sorted(code.name for code in outcomes)
        assert recorded.count("UNAVAILABLE") >= 1

"""Issue 3 point 4, end to end: a department's technical failure (the business register's desk is
down, so the tax offices cannot check the licence) is retried with backoff, then becomes an
incident that an operator sees over gRPC, in the audit trail and with the counter CLI; once the
desk is back, `retry-incident` dispatches the steps again and the case completes."""

from __future__ import annotations

import signal

import pytest

from hall.v1 import approval_pb2, common_pb2
from services.counter.__main__ import main as counter_cli
from tests.support import tokens
from tests.support.processes import counter_of, whole_suite
from tests.support.samples import company_registration
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
TAX_STEPS = {"national_tax", "local_tax"}


@pytest.fixture(scope="module")
def suite(broker_url, pg_url, tmp_path_factory):
    # Two attempts (the first retry after 1 s), so the incident comes within seconds.
    with whole_suite(broker_url, pg_url, tmp_path_factory.mktemp("logs"), ROUTER_MAX_ATTEMPTS="2") as running:
        yield running


@pytest.fixture
def cli(suite, monkeypatch, capsys):
    """The counter CLI against this suite, as operator `ops-0007`: (exit code, stdout, stderr)."""
    _, env = suite
    for name in ("intake", "router", "fees", "audit"):
        monkeypatch.setenv(f"HALL_{name.upper()}_PORT", env[f"HALL_{name.upper()}_PORT"])
    monkeypatch.setenv("HALL_HOST", "127.0.0.1")
    monkeypatch.setenv("HALL_TOKEN", tokens.operator("ops-0007"))

    def run(*argv: str) -> tuple[int, str, str]:
        code = counter_cli(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_a_step_that_keeps_failing_becomes_an_incident_and_completes_once_retried(suite, cli):
    running, env = suite
    counter = counter_of(env)
    ops = counter.signed_in(tokens.operator("ops-0007"))  # the platform operator's view
    desk = next(c for c in running.children if c.name == "desk-business")
    try:
        assert desk.proc is not None
        desk.proc.send_signal(signal.SIGTERM)
        assert desk.proc.wait(20) == 0

        case_id = counter.submit(company_registration()).application.case_id

        def open_incidents() -> dict[str, object]:
            return {i.step_id: i for i in ops.incidents() if i.case_id == case_id}

        assert wait_until(lambda: set(open_incidents()) == TAX_STEPS, timeout=60, every=0.2), ops.case(case_id)
        for step_id, incident in open_incidents().items():
            assert incident.department == step_id  # type: ignore[attr-defined]
            assert incident.attempts == 2  # type: ignore[attr-defined]
            assert "business register" in incident.last_error  # type: ignore[attr-defined]
        case = ops.case(case_id)
        assert case.status == approval_pb2.CASE_STATUS_IN_PROGRESS  # the case waits, it does not end
        assert {s.step_id: s.status for s in case.steps} == {
            "licence": common_pb2.STEP_STATUS_APPROVED, "org_code": common_pb2.STEP_STATUS_APPROVED,
            "national_tax": common_pb2.STEP_STATUS_INCIDENT, "local_tax": common_pb2.STEP_STATUS_INCIDENT}

        # The audit trail holds each failed attempt and the incident, step by step.
        def trail() -> list[tuple[str, str, str]]:
            return [(e.record.service, e.record.step_id, e.record.outcome) for e in ops.timeline(case_id)]

        def recorded() -> bool:
            records = trail()
            return all(("router", s, "incident") in records
                       and sum(1 for r in records if r == (f"adapter-{s}", s, "failed")) == 2 for s in TAX_STEPS)

        assert wait_until(recorded, timeout=20, every=0.2), trail()

        code, out, _ = cli("incidents")
        assert code == 0
        assert sum(1 for line in out.splitlines() if case_id in line) == 2
        assert "national_tax" in out and "local_tax" in out and "已尝试 2 次" in out

        # Retrying a step that is not an incident is refused with a typed status, and changes nothing.
        code, _, err = cli("retry-incident", case_id, "licence")
        assert code == 2 and "FAILED_PRECONDITION" in err and "NOT_AN_INCIDENT" in err
        code, _, err = cli("retry-incident", case_id, "no_such_step")
        assert code == 2 and "NOT_FOUND" in err

        # The cause mended: the desk is back, the operator retries both steps.
        running.start_child(desk)
        running.wait_ready(timeout=60)
        for step in sorted(TAX_STEPS):
            code, out, _ = cli("retry-incident", case_id, step)
            assert code == 0 and step in out and "第 3 次" in out

        assert wait_until(lambda: ops.case(case_id).status == approval_pb2.CASE_STATUS_AWAITING_PAYMENT,
                          timeout=60, every=0.2), ops.case(case_id)
        counter.pay(ops.case(case_id).application_id)  # approved: the certificates wait for the fees
        assert wait_until(lambda: ops.case(case_id).status == approval_pb2.CASE_STATUS_COMPLETED,
                          timeout=60, every=0.2), ops.case(case_id)
        assert open_incidents() == {}
        code, out, _ = cli("case", case_id)
        assert code == 0 and "COMPLETED" in out
        # Who retried is in the case's timeline.
        assert wait_until(lambda: sum(1 for e in ops.timeline(case_id)
                                      if e.record.operation.endswith("/RetryIncident") and e.record.outcome == "OK"
                                      and e.record.actor_id == "ops-0007") == 2, timeout=20, every=0.2)
    finally:
        if desk.proc is None or desk.proc.poll() is not None:
            running.start_child(desk)  # the suite's teardown stops it cleanly
        counter.close()

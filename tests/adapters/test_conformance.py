"""The promises every department adapter keeps, one test each, for every department in the
registry (services/adapters/departments.toml), or for one: `pytest --adapter=<code>`.

Each department's adapter runs as a real process (`python -m services.adapters <code>`) on a
real broker (a vhost of its own) and database (a schema of its own), with fake desks for the
neighbours its samples name. The department's samples.py gives a request its rules approve
(`approvable()`) and one they refuse (`refusable()`). The contract is the queue and the
protobuf messages: an adapter written in another language keeps the same promises.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hall.v1 import approval_pb2
from services.adapters.sdk.pytest_plugin import adapter_codes
from services.adapters.sdk.testing import AdapterHarness, fake_neighbours, samples
from tests.support import servers
from tests.support.db import schema

CJK = re.compile(r"[\u4e00-\u9fff]")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "code" in metafunc.fixturenames:
        metafunc.parametrize("code", adapter_codes(metafunc.config), scope="module")


def fresh(code: str, request: approval_pb2.SubApprovalRequest | None = None) -> approval_pb2.SubApprovalRequest:
    """`request` (default: the approvable sample) on a case of its own, addressed to `code`."""
    req = approval_pb2.SubApprovalRequest()
    req.CopyFrom(request if request is not None else samples(code).approvable())
    req.case_id = f"CONF{uuid.uuid4().hex[:16].upper()}"
    req.department = code
    req.step_id = req.step_id or "main"
    req.attempt = req.attempt or 1
    return req


@contextmanager
def start(code: str, amqp_url: str, pg_url: str, schema_name: str, log: Path) -> Iterator[AdapterHarness]:
    with fake_neighbours(code) as desks, AdapterHarness(code, amqp_url, pg_url, schema_name, log_path=log,
                                                        extra_env=desks) as harness:
        yield harness


@pytest.fixture(scope="module")
def adapter(code: str, broker_url: str, pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdapterHarness]:
    """Department `code`'s adapter, shared by the module's tests of that department."""
    log = tmp_path_factory.mktemp(code) / "adapter.log"
    with (servers.vhost(broker_url) as amqp_url, schema(pg_url) as schema_name,
          start(code, amqp_url, pg_url, schema_name, log) as harness):
        yield harness


def refused(adapter: AdapterHarness, request: approval_pb2.SubApprovalRequest) -> approval_pb2.SubApprovalDecision:
    adapter.send(request)
    _, decision = adapter.decision(case_id=request.case_id)
    assert decision.outcome == approval_pb2.OUTCOME_REFUSED, approval_pb2.Outcome.Name(decision.outcome)
    assert decision.reasons, "a refusal states its reasons"
    for reason in decision.reasons:
        assert reason.code and CJK.search(reason.message), f"a reason without a code or a Chinese message: {reason}"
    return decision


def test_approves_an_approvable_request_once_with_results(code, adapter):
    request = fresh(code)
    message_id = adapter.send(request)
    answer_id, decision = adapter.decision(case_id=request.case_id)
    assert decision.outcome == approval_pb2.OUTCOME_APPROVED, f"not approved: {list(decision.reasons)}"
    assert answer_id == f"dec-{message_id}"
    assert (decision.step_id, decision.request_message_id, decision.department) == (request.step_id, message_id, code)
    assert decision.results, "an approval hands on results (a certificate number…)"


def test_records_an_audit_record_of_each_message_with_its_case(code, adapter):
    request = fresh(code)
    adapter.send(request)
    record = adapter.audited(request.case_id)
    assert record.department == code and record.service == f"adapter-{code}" and record.operation


def test_answers_a_redelivery_with_the_same_decision(code, adapter):
    request = fresh(code)
    message_id = adapter.send(request)
    first = adapter.decision(case_id=request.case_id)
    adapter.send(request, message_id=message_id)
    assert adapter.decision(case_id=request.case_id) == first, "a redelivery was decided again"


def test_refuses_with_reason_codes_and_chinese_messages(code, adapter):
    refused(adapter, fresh(code, samples(code).refusable()))


def test_refuses_an_empty_request_never_approves_it(code, adapter):
    approvable = samples(code).approvable()
    refused(adapter, fresh(code, approval_pb2.SubApprovalRequest(matter_code=approvable.matter_code,
                                                                applicant=approvable.applicant)))


def test_answers_a_cancelled_step_cancelled(code, adapter):
    request = fresh(code)
    adapter.send(approval_pb2.CancelStep(case_id=request.case_id, step_id=request.step_id, department=code,
                                         reason="联办终止"))
    # The adapter's workers run side by side: the request goes once the cancel is handled (sent
    # together, the request may be decided first: approved, then marked by the cancel).
    adapter.audited(request.case_id)
    adapter.send(request)
    _, decision = adapter.decision(case_id=request.case_id)
    assert decision.outcome == approval_pb2.OUTCOME_CANCELLED, approval_pb2.Outcome.Name(decision.outcome)


def test_parks_malformed_messages_and_keeps_working(code, adapter):
    before = adapter.parked()
    adapter.send_raw(b"\x08\xff\xff\xff", "hall.v1.SubApprovalRequest")
    adapter.send_raw(b"", "hall.v1.NoSuchMessage")
    request = fresh(code)
    adapter.send(request)
    adapter.decision(case_id=request.case_id)  # answered (a register may refuse a sample it holds already)
    assert adapter.parked() == before + 2, "malformed messages are parked"


def test_stops_on_sigterm_with_exit_code_0(code, fresh_amqp_url, pg_url, pg_schema, tmp_path):
    with start(code, fresh_amqp_url, pg_url, pg_schema, tmp_path / "adapter.log") as harness:
        request = fresh(code)
        harness.send(request)
        harness.decision(case_id=request.case_id)  # up and consuming
        assert harness.terminate() == 0

"""The conformance suite every adapter must pass, against a real broker and database.

    python -m services.adapters.sdk.conformance <department> [--amqp URL] [--database URL]

Needs the department's `samples.py`:
    approvable() -> SubApprovalRequest    a request the rules approve
    refusable()  -> SubApprovalRequest    a request the rules refuse (optional)
    COMPANIES: list[hall.v1.Company]      what the business register must know (optional)

Checks: an approvable request is answered APPROVED, once, under message id dec-<request id>, with
an audit record; a redelivery gets the identical answer; a request the rules cannot accept is
REFUSED with reason codes and messages in Chinese (never approved, never a crash); a cancelled
step is answered CANCELLED; a malformed message is parked and the adapter keeps working; SIGTERM
stops it with exit code 0.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from hall.v1 import approval_pb2
from services.adapters.sdk.registry import department_module
from services.adapters.sdk.testing import AdapterHarness, FakeBusinessRegister

CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Check:
    name: str
    passed: bool
    detail: str = ""


def _fresh(request: approval_pb2.SubApprovalRequest) -> approval_pb2.SubApprovalRequest:
    req = approval_pb2.SubApprovalRequest()
    req.CopyFrom(request)
    req.case_id = f"CONF{uuid.uuid4().hex[:16].upper()}"
    req.step_id = req.step_id or "main"
    req.attempt = req.attempt or 1
    return req


def samples(code: str) -> ModuleType:
    return importlib.import_module(f"{department_module(code)}.samples")


def run(code: str, amqp_url: str, database_url: str, schema: str | None = None,
        log_path: Path | None = None) -> list[Check]:
    sample = samples(code)
    register = FakeBusinessRegister(list(getattr(sample, "COMPANIES", [])))
    results: list[Check] = []

    def check(name: str, fn: Callable[[], str | None]) -> None:
        try:
            results.append(Check(name, True, fn() or ""))
        except Exception as exc:  # noqa: BLE001 - a failed check is reported, the others still run
            results.append(Check(name, False, f"{type(exc).__name__}: {exc}"))

    harness = AdapterHarness(code, amqp_url, database_url, schema, log_path=log_path,
                             extra_env={"BUSINESS_REGISTER_ADDR": register.address})
    try:
        approvable = _fresh(sample.approvable())
        approvable.department = code
        state: dict[str, Any] = {}

        def approve() -> str:
            mid = harness.send(approvable)
            answer_id, decision = harness.decision()
            assert decision.outcome == approval_pb2.OUTCOME_APPROVED, f"not approved: {list(decision.reasons)}"
            assert answer_id == f"dec-{mid}", answer_id
            assert (decision.case_id, decision.step_id, decision.request_message_id) == (
                approvable.case_id, approvable.step_id, mid)
            assert decision.results, "an approval hands on results (certificate number…)"
            state.update(mid=mid, answer_id=answer_id, decision=decision)
            return f"results: {dict(decision.results)}"

        def audit() -> None:
            [record] = harness.audit_records()
            assert record.case_id == approvable.case_id and record.department == code, str(record)

        def replay() -> None:
            harness.send(approvable, message_id=state["mid"])
            answer_id, decision = harness.decision()
            assert answer_id == state["answer_id"] and decision == state["decision"], "redelivery decided again"

        def refuse(request: approval_pb2.SubApprovalRequest) -> str:
            req = _fresh(request)
            req.department = code
            harness.send(req)
            _, decision = harness.decision()
            assert decision.outcome == approval_pb2.OUTCOME_REFUSED, approval_pb2.Outcome.Name(decision.outcome)
            assert decision.reasons, "a refusal states its reasons"
            for r in decision.reasons:
                assert r.code and CJK.search(r.message), f"reason without code or Chinese message: {r}"
            return ", ".join(r.code for r in decision.reasons)

        def cancel() -> None:
            req = _fresh(sample.approvable())
            req.department = code
            harness.send(approval_pb2.CancelStep(case_id=req.case_id, step_id=req.step_id, department=code,
                                                 reason="联办终止"))
            # The adapter's workers run side by side: the request goes once the cancel is handled
            # (sent together, the request may be decided first: approved, then marked by the cancel).
            harness.audited(req.case_id)
            harness.send(req)
            _, decision = harness.decision()
            assert decision.outcome == approval_pb2.OUTCOME_CANCELLED, approval_pb2.Outcome.Name(decision.outcome)

        def malformed() -> None:
            before = harness.parked()
            harness.send_raw(b"\x08\xff\xff\xff", "hall.v1.SubApprovalRequest")
            harness.send_raw(b"", "hall.v1.NoSuchMessage")
            req = _fresh(sample.approvable())
            req.department = code
            harness.send(approval_pb2.CancelStep(case_id=req.case_id, step_id=req.step_id, department=code))
            harness.send(req)
            harness.decision()
            assert harness.parked() == before + 2, "malformed messages are parked"

        def empty() -> str:
            return refuse(approval_pb2.SubApprovalRequest(matter_code=approvable.matter_code,
                                                          applicant=approvable.applicant))

        check("approves an approvable request, once, with results", approve)
        check("emits an audit record", audit)
        check("answers a redelivery with the same decision", replay)
        refusable = getattr(sample, "refusable", None)
        if refusable is not None:
            check("refuses with reason codes and Chinese messages", lambda: refuse(refusable()))
        check("refuses an empty request (never approves, never crashes)", empty)
        check("answers a cancelled step CANCELLED", cancel)
        check("parks malformed messages and keeps working", malformed)
        def stops() -> None:
            code_ = harness.terminate()
            assert code_ == 0, f"exit code {code_}"

        check("stops on SIGTERM with exit code 0", stops)
    finally:
        harness.stop()
        register.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.adapters.sdk.conformance", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("department")
    parser.add_argument("--amqp", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    parser.add_argument("--database", default="sqlite:///var/conformance.db")
    parser.add_argument("--schema", default=None)
    args = parser.parse_args(argv)
    results = run(args.department, args.amqp, args.database, args.schema)
    for r in results:
        print(f"{'PASS' if r.passed else 'FAIL'}  {r.name}" + (f"  ({r.detail})" if r.detail else ""))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

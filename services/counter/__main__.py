"""Counter CLI: python -m services.counter {demo,matters,timeline,verify-audit,case,incidents,retry-incident}
(see --help). The servers: HALL_HOST and HALL_<SERVICE>_PORT; the caller: --actor or HALL_ACTOR_ID."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterable
from typing import cast

import grpc
from google.protobuf import any_pb2, text_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from hall.v1 import approval_pb2, audit_pb2, intake_pb2, router_pb2
from services.counter.client import Counter, Endpoints, company_registration
from services.domain.identifiers import validate_credit_code
from services.domain.money import format_yuan
from services.runtime import clock

STATUS = intake_pb2.ApplicationStatus


def endpoints() -> Endpoints:
    host = os.environ.get("HALL_HOST", "127.0.0.1")
    return Endpoints(
        intake=f"{host}:{os.environ.get('HALL_INTAKE_PORT', '50051')}",
        router=f"{host}:{os.environ.get('HALL_ROUTER_PORT', '50052')}",
        fees=f"{host}:{os.environ.get('HALL_FEES_PORT', '50053')}",
        audit=f"{host}:{os.environ.get('HALL_AUDIT_PORT', '50054')}",
    )


def demo(counter: Counter) -> int:
    request = company_registration()
    print(f"申请：企业开办一件事 — {request.fields['company_name']}（受理人 {request.clerk_id}）")
    response = counter.submit(request)
    app = response.application
    promised = clock.from_timestamp(app.promised_by).astimezone(clock.SHANGHAI)
    print(f"已受理：申请 {app.application_id}，案件 {app.case_id}，承诺办结时间 {promised:%Y-%m-%d %H:%M}")
    final = app
    for event in counter.watch(app.application_id):
        step = f" [{event.step_id} → {event.step_status}]" if event.step_id else ""
        print(f"  #{event.sequence:<2} {STATUS.Name(event.status).removeprefix('APPLICATION_STATUS_'):<12}{step} {event.note}")
        final = event.application
    if final.status != STATUS.APPLICATION_STATUS_COMPLETED:
        print(f"未办结：{STATUS.Name(final.status)}；" + "；".join(r.message for r in final.reasons))
        return 1
    print("办结。证照与代码：")
    for key, value in sorted(final.results.items()):
        print(f"  {key:<28} {value}")
    credit = final.results.get("credit_code", "")
    validate_credit_code(credit)
    print(f"  统一社会信用代码校验位正确：{credit[-1]}")
    receipt = counter.wait_receipt(app.application_id)
    print(f"统一收费票据 {receipt.receipt_number}（缴款人 {receipt.payer_name}）")
    for line in receipt.lines:
        print(f"  {line.department:<14} {line.item_name:<20} {format_yuan(line.amount.fen):>10}")
    print(f"  {'合计':<35} {format_yuan(receipt.total.fen):>10}")
    print(f"  校验码 {receipt.verification_code[:16]}…")
    # Call records reach the audit service in batches, a moment after the calls: wait until the
    # timeline stops growing (at most a few seconds) before showing it.
    timeline, deadline = counter.timeline(app.case_id), time.monotonic() + 5
    while time.monotonic() < deadline:
        time.sleep(0.3)
        newer = counter.timeline(app.case_id)
        if len(newer) == len(timeline):
            break
        timeline = newer
    print(f"电子监察时间线：{len(timeline)} 条记录（{len({e.record.service for e in timeline})} 个服务）")
    return print_chain_check(counter.verify_audit_chain())


def print_chain_check(check: audit_pb2.VerifyChainResponse) -> int:
    """One line on the audit trail's hash chain; 0 when intact, 1 when not."""
    if check.intact:
        print(f"监察记录哈希链完整：已核验 {check.records_checked} 条（链头 {check.head_hash[:16]}…）")
        return 0
    where = f"，第 {check.first_broken_sequence} 条起" if check.first_broken_sequence else ""
    print(f"监察记录哈希链不完整{where}：{check.problem}（已核验 {check.records_checked} 条，链头记 {check.head_count} 条）")
    return 1


def print_case(case: router_pb2.GetCaseResponse) -> int:
    print(f"案件 {case.case_id}：{approval_pb2.CaseStatus.Name(case.status).removeprefix('CASE_STATUS_')}"
          f"（目录版本 {case.catalogue_version}）")
    for step in case.steps:
        reasons = "；".join(r.message for r in step.reasons)
        print(f"  {step.step_id:<16} {step.department:<16} {step.status:<11} {reasons}")
    return 0


def print_incidents(incidents: list[router_pb2.Incident]) -> int:
    if not incidents:
        print("没有待处理的故障环节")
        return 0
    print(f"待处理的故障环节：{len(incidents)} 个（排除原因后用 retry-incident 重新派发）")
    for i in incidents:
        opened = clock.from_timestamp(i.opened_at).astimezone(clock.SHANGHAI)
        print(f"  {i.case_id}  {i.step_id:<16} {i.department:<16} 已尝试 {i.attempts} 次  "
              f"{opened:%Y-%m-%d %H:%M:%S}  {i.last_error}")
    return 0


_DETAILS = (error_details_pb2.BadRequest, error_details_pb2.PreconditionFailure, error_details_pb2.ResourceInfo,
            error_details_pb2.ErrorInfo, error_details_pb2.RetryInfo)


def describe_details(details: Iterable[any_pb2.Any]) -> list[str]:
    """A status's details as one line each (field violations, failed preconditions, the resource)."""
    lines = []
    for detail in details:
        for kind in _DETAILS:
            if detail.Is(kind.DESCRIPTOR):
                message = kind()
                detail.Unpack(message)
                lines.append(f"{kind.__name__}: {text_format.MessageToString(message, as_one_line=True, as_utf8=True)}")
                break
        else:
            lines.append(detail.type_url)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.counter", description=__doc__)
    parser.add_argument("--actor", default=os.environ.get("HALL_ACTOR_ID", "clerk-0001"),
                        help="who is calling (recorded in the audit trail; default $HALL_ACTOR_ID or clerk-0001)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="register a company end to end and print each step and the receipt")
    sub.add_parser("matters", help="list the catalogue")
    p = sub.add_parser("timeline", help="print a case's audit timeline")
    p.add_argument("case_id")
    v = sub.add_parser("verify-audit", help="check the audit trail's hash chain (exit 1 if it is not intact)")
    v.add_argument("--timeout", type=float, default=120.0, help="seconds to allow (it reads every record)")
    case = sub.add_parser("case", help="the router's view of a case: its status and each step's")
    case.add_argument("case_id")
    sub.add_parser("incidents", help="steps whose technical failures outlasted the router's retries")
    retry = sub.add_parser("retry-incident", help="dispatch an incident's step again, once its cause is mended")
    retry.add_argument("case_id")
    retry.add_argument("step_id")
    args = parser.parse_args(argv)
    counter = Counter(endpoints(), clerk_id=args.actor)
    try:
        if args.command == "demo":
            return demo(counter)
        if args.command == "matters":
            for m in counter.intake.ListMatters(intake_pb2.ListMattersRequest(), timeout=5).matters:
                fee = "不收费" if not m.fees.charged else ", ".join(f"{i.name} {format_yuan(i.standard.fen)}" for i in m.fees.items)
                print(f"{m.code}  {m.name}  [{m.department}]  承诺{m.promised_limit.amount}日  {fee}")
            return 0
        if args.command == "verify-audit":
            return print_chain_check(counter.verify_audit_chain(args.timeout))
        if args.command == "case":
            return print_case(counter.case(args.case_id))
        if args.command == "incidents":
            return print_incidents(counter.incidents())
        if args.command == "retry-incident":
            step = counter.retry_incident(args.case_id, args.step_id)
            print(f"已重新派发：{step.case_id} {step.step_id}（{step.department}，第 {step.attempts} 次）")
            return 0
        if args.command == "timeline":
            for e in counter.timeline(args.case_id):
                r = e.record
                at = clock.from_timestamp(r.started_at).astimezone(clock.SHANGHAI)
                print(f"{at:%H:%M:%S.%f} {r.service:<24} {r.operation:<48} {r.outcome:<10} {r.step_id}")
            return 0
    except grpc.RpcError as err:
        status = rpc_status.from_call(cast(grpc.Call, err))
        print(f"error: {err.code().name}: {err.details()}", file=sys.stderr)
        if status is not None:
            for line in describe_details(status.details):
                print(f"  {line}", file=sys.stderr)
        return 2
    finally:
        counter.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

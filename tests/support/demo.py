"""`make demo`: registers a company end to end through gRPC only, against `make run`, and prints
each step, the credit code, the receipt, the size of the audit timeline, the case's time limits
as supervision kept them, and whether the audit trail's hash chain is intact. A sample
application (tests/support/samples.py) driven through the counter client."""

from __future__ import annotations

import sys
import time

import grpc

from hall.v1 import intake_pb2, supervision_pb2
from services.counter.__main__ import print_chain_check, step_status_name
from services.counter.client import Counter, Endpoints
from services.domain.identifiers import validate_credit_code
from services.domain.money import format_yuan
from services.runtime import clock
from tests.support.samples import company_registration

STATUS = intake_pb2.ApplicationStatus


def demo(counter: Counter) -> int:
    request = company_registration()
    print(f"申请：企业开办一件事 — {request.fields['company_name']}（受理人 {request.clerk_id}）")
    response = counter.submit(request)
    app = response.application
    promised = clock.local(clock.from_timestamp(app.promised_by))
    print(f"已受理：申请 {app.application_id}，案件 {app.case_id}，承诺办结时间 {promised:%Y-%m-%d %H:%M}")
    final = app
    for event in counter.watch(app.application_id):
        step = f" [{event.step_id} → {step_status_name(event.step_status)}]" if event.step_id else ""
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
    print_time_limits(counter, app.case_id)
    return print_chain_check(counter.verify_audit_chain())


def print_time_limits(counter: Counter, case_id: str) -> None:
    """The case's clock as supervision kept it (it learns the end from the same events a moment
    after intake): limits, time used, cards."""
    request = supervision_pb2.GetCaseDeadlinesRequest(case_id=case_id)
    got = counter.supervision.GetCaseDeadlines(request, timeout=5)
    for _ in range(50):
        if got.case_deadline.state == supervision_pb2.CLOCK_STATE_STOPPED:
            break
        time.sleep(0.1)
        got = counter.supervision.GetCaseDeadlines(request, timeout=5)
    d = got.case_deadline
    statutory = clock.local(clock.from_timestamp(d.statutory_due))
    cards = "，".join(c.explanation for c in got.cards) or "无警示"
    print(f"时限监察：承诺 {d.promised_amount} 个工作日、法定 {d.statutory_amount} 个工作日（至 {statutory:%Y-%m-%d}），"
          f"用时 {d.used} 个工作日；{cards}")


def main() -> int:
    counter = Counter(Endpoints.from_environment())
    try:
        return demo(counter)
    except grpc.RpcError as err:
        print(f"error: {err.code().name}: {err.details()} (is `make run` running?)", file=sys.stderr)
        return 2
    finally:
        counter.close()


if __name__ == "__main__":
    sys.exit(main())

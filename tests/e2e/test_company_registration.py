"""End to end, through gRPC only, with every service a separate process."""

import time
import uuid

import grpc
import pytest
from google.rpc import error_details_pb2

from hall.v1 import common_pb2, fees_pb2, intake_pb2
from services.catalogue import load
from services.catalogue.pricing import quote
from services.domain import identifiers
from services.domain.identifiers import validate_credit_code
from services.fees import signing
from services.runtime import clock
from services.runtime.grpc_client import channel
from tests.support import tokens
from tests.support.rpc import details
from tests.support.samples import company_registration
from tests.support.watch import to_the_end

pytestmark = pytest.mark.e2e
S = intake_pb2.ApplicationStatus


def run_to_end(counter, request):
    app = counter.submit(request).application
    return app, to_the_end(counter, app.application_id)




# Every message is on the trail where it left as well as where it arrived.
PUBLISHED = {("intake", "hall.v1.CaseSubmitted"), ("router", "hall.v1.SubApprovalRequest"),
             ("fees", "hall.v1.PaymentReceived"), ("router", "hall.v1.CaseStatusChanged"),
             *((f"adapter-{d}", "hall.v1.SubApprovalDecision") for d in ("business", "quality", "national_tax",
                                                                          "local_tax"))}


def test_company_registration_completes_with_codes_receipt_and_timeline(counter, inspector):
    app, events = run_to_end(counter, company_registration())
    final = events[-1].application
    assert final.status == S.APPLICATION_STATUS_COMPLETED
    assert events[0].status == S.APPLICATION_STATUS_ACCEPTED
    approved = {s.step_id for s in final.steps if s.status == common_pb2.STEP_STATUS_APPROVED}
    assert approved == {"licence", "org_code", "national_tax", "local_tax"}
    credit = final.results["credit_code"]
    assert validate_credit_code(credit) == credit and credit[8:17] == final.results["org_code"]

    # Approved, it waited for the fees (paid before handover); one payment at the window, one
    # receipt whose departments' shares add up (the registration itself is free: three
    # departments charge), verified with the public key alone.
    assert S.APPLICATION_STATUS_AWAITING_PAYMENT in [e.status for e in events]
    expected = quote(load(), matter_code="", bundle_code=app.bundle_code)
    receipt = counter.receipt(application_id=app.application_id)
    assert receipt.total.fen == expected.total.fen == sum(s.amount.fen for s in receipt.subtotals) == 3500
    assert {s.department for s in receipt.subtotals} == {"quality", "national_tax", "local_tax"}
    key = counter.fees.GetVerificationKey(fees_pb2.GetVerificationKeyRequest(), timeout=5)
    assert signing.verify(receipt, key.public_key_pem) == "" and receipt.key_id == key.key_id
    checked = counter.fees.VerifyReceipt(fees_pb2.VerifyReceiptRequest(
        receipt_number=receipt.receipt_number, check_code=receipt.check_code), timeout=5)
    assert checked.valid
    with pytest.raises(grpc.RpcError) as twice:  # paying again with a new key
        counter.pay(app.application_id)
    assert twice.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # A refund reverses it, and the day's reconciliation still balances.
    reversal = counter.fees.Refund(fees_pb2.RefundRequest(receipt_number=receipt.receipt_number, client_key=uuid.uuid4().hex,
                                                          reason="测试冲销", clerk_id="clerk-0001"), timeout=5).receipt
    assert reversal.total.fen == -3500 and reversal.reverses == receipt.receipt_number
    day = inspector.fees.ExportReconciliation(fees_pb2.ExportReconciliationRequest(
        day=clock.local(clock.from_timestamp(receipt.issued_at)).date().isoformat()), timeout=10)
    assert day.net.fen == day.paid.fen + day.reversed.fen == sum(d.net.fen for d in day.departments)
    assert day.paid.fen >= 3500 and day.reversed.fen <= -3500

    # every hop: the submit call, each step's request consumed by its adapter, each decision consumed
    # by the router, each status change, the tax departments' lookups in the business register
    # (served by its desk) and the receipt's completion event consumed by fees
    complete = None
    for _ in range(100):
        timeline = inspector.timeline(app.case_id)
        services = {e.record.service for e in timeline}
        published = {(e.record.service, e.record.operation) for e in timeline if e.record.outcome == "published"}
        if {"intake", "router", "fees", "adapter-business", "adapter-quality", "adapter-national_tax",
                "adapter-local_tax", "desk-business"} <= services and published >= PUBLISHED:
            complete = timeline
            break
        time.sleep(0.1)
    assert complete is not None, f"timeline incomplete: {services}"
    ops = [(e.record.service, e.record.operation) for e in complete]
    assert ("intake", "/hall.v1.IntakeService/SubmitApplication") in ops
    for dept in ("business", "quality", "national_tax", "local_tax"):
        assert (f"adapter-{dept}", "hall.v1.SubApprovalRequest") in ops
    assert ops.count(("router", "hall.v1.SubApprovalDecision")) == 4
    # the tax departments' lookups, asked for their batches, are in this case's timeline one by one
    assert ops.count(("desk-business", "/hall.v1.BusinessRegisterService/GetCompanies")) == 2
    assert {e.record.actor_id for e in complete if e.record.service == "desk-business"} == {counter.clerk_id}
    assert ("router", "case.status.completed") in ops
    assert all(e.record.case_id == app.case_id for e in complete)
    stamps = [e.record.started_at.ToNanoseconds() for e in complete]
    assert stamps == sorted(stamps)
    # the whole trail, this case's records among it, recomputes over gRPC
    check = inspector.verify_audit_chain()
    assert check.intact and check.problem == "" and check.records_checked == check.head_count >= len(complete)


def test_wrong_id_check_digit_is_invalid_argument_naming_the_field(counter):
    req = company_registration()
    last = req.applicant.id_number[-1]
    req.applicant.id_number = req.applicant.id_number[:-1] + ("0" if last != "0" else "1")
    with pytest.raises(grpc.RpcError) as err:
        counter.submit(req)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields = [v.field for br in details(err.value, error_details_pb2.BadRequest) for v in br.field_violations]
    assert "applicant.id_number" in fields


def test_missing_materials_are_all_listed_at_once(counter):
    req = company_registration()
    del req.materials[:]
    with pytest.raises(grpc.RpcError) as err:
        counter.submit(req)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    subjects = {v.subject for pf in details(err.value, error_details_pb2.PreconditionFailure) for v in pf.violations}
    assert subjects == {m.code for m in load().required_materials(bundle_code=req.bundle_code)}


def test_unknown_matter_is_not_found(counter):
    req = company_registration()
    req.bundle_code = ""
    req.matter_code = "150602-NO-9999"
    with pytest.raises(grpc.RpcError) as err:
        counter.submit(req)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_same_request_id_twice_is_the_same_application(counter):
    req = company_registration(request_id=uuid.uuid4().hex)
    first = counter.submit(req)
    second = counter.submit(req)
    assert not first.duplicate and second.duplicate
    assert first.application.application_id == second.application.application_id
    assert first.application.case_id == second.application.case_id
    changed = company_registration(request_id=req.request_id)
    with pytest.raises(grpc.RpcError) as err:
        counter.submit(changed)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS


def test_refusal_reaches_the_applicant_with_its_reason(counter):
    name = f"东胜区重名{uuid.uuid4().hex[:6]}有限公司"
    _, events = run_to_end(counter, company_registration(name))
    assert events[-1].application.status == S.APPLICATION_STATUS_COMPLETED
    _, events = run_to_end(counter, company_registration(name))
    final = events[-1].application
    assert final.status == S.APPLICATION_STATUS_REFUSED
    assert [r.code for r in final.reasons] == ["NAME_TAKEN"]
    assert {s.step_id: s.status for s in final.steps}["org_code"] == common_pb2.STEP_STATUS_CANCELLED


def test_bad_requests_change_nothing(counter):
    with pytest.raises(grpc.RpcError) as err:
        counter.intake.GetApplication(intake_pb2.GetApplicationRequest(application_id="missing"), timeout=5)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as err:
        counter.intake.GetApplication(intake_pb2.GetApplicationRequest(), timeout=5)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_router_shows_the_case_and_no_incidents_and_every_server_reflects_its_services(counter, operator, suite):
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    from hall.v1 import approval_pb2, router_pb2

    app, events = run_to_end(counter, company_registration())
    case = counter.router.GetCase(router_pb2.GetCaseRequest(case_id=app.case_id), timeout=5)
    assert case.status == approval_pb2.CASE_STATUS_COMPLETED and len(case.steps) == 4
    assert list(operator.router.ListIncidents(router_pb2.ListIncidentsRequest(), timeout=5).incidents) == []
    _, env = suite
    for name, service in (("INTAKE", "hall.v1.IntakeService"), ("ROUTER", "hall.v1.RouterService"),
                          ("FEES", "hall.v1.FeesService"), ("AUDIT", "hall.v1.AuditService"),
                          ("DESK_BUSINESS", "hall.v1.BusinessRegisterService")):
        with grpc.insecure_channel(f"127.0.0.1:{env[f'HALL_{name}_PORT']}") as ch:
            listed = next(iter(reflection_pb2_grpc.ServerReflectionStub(ch).ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)))
            assert service in {s.name for s in listed.list_services_response.service}
            status = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert status.status == health_pb2.HealthCheckResponse.SERVING


def test_the_business_register_answers_other_departments_lookups(counter, suite):
    from hall.v1 import department_pb2, department_pb2_grpc

    _, events = run_to_end(counter, company_registration())
    credit = events[-1].application.results["credit_code"]
    _, env = suite
    # Read as another department's officer does (信息共享).
    with channel(f"127.0.0.1:{env['HALL_DESK_BUSINESS_PORT']}", token=tokens.officer("national_tax")) as ch:
        register = department_pb2_grpc.BusinessRegisterServiceStub(ch)
        company = register.GetCompany(department_pb2.GetCompanyRequest(credit_code=credit), timeout=5).company
        assert company.credit_code == credit and company.status == "active"
        assert company.org_code == credit[8:17] and company.registered_at.seconds > 0
        body = "MA999999"
        unknown = identifiers.build_credit_code("9", "1", credit[2:8], body + identifiers.org_code_check_char(body))
        with pytest.raises(grpc.RpcError) as missing:
            register.GetCompany(department_pb2.GetCompanyRequest(credit_code=unknown), timeout=5)
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.RpcError) as bad:
            register.GetCompany(department_pb2.GetCompanyRequest(credit_code="not-a-code"), timeout=5)
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        violations = details(bad.value, error_details_pb2.BadRequest)[0].field_violations
        assert [v.field for v in violations] == ["credit_code"]

        # several licences in one call: those the register holds, by code; a bad code names its query
        query = department_pb2.CompanyQuery
        found = register.GetCompanies(department_pb2.GetCompaniesRequest(queries=[
            query(credit_code=credit.lower()), query(credit_code=unknown)]), timeout=5).companies
        assert list(found) == [credit] and found[credit] == company
        with pytest.raises(grpc.RpcError) as bad:
            register.GetCompanies(department_pb2.GetCompaniesRequest(queries=[
                query(credit_code=credit), query(credit_code="not-a-code")]), timeout=5)
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        violations = details(bad.value, error_details_pb2.BadRequest)[0].field_violations
        assert [v.field for v in violations] == ["queries[1].credit_code"]


def test_make_demo_runs_a_visit_end_to_end(suite, counter, capsys, monkeypatch, tmp_path):
    from tests.support.demo import demo

    _, env = suite
    for key, value in env.items():
        if key.startswith("HALL_") and key.endswith("_PORT"):
            monkeypatch.setenv(key, value)  # the demo's `hall` commands reach this suite
    assert demo(counter, workdir=tmp_path) == 0
    out = capsys.readouterr().out
    assert "$ hall ticket take" in out and "首问负责人 clerk-0101" in out and "结果：已办结" in out
    assert "统一收费票据" in out and "已记录评价" in out
    assert "时限监察：承诺 1 个工作日、法定 45 个工作日" in out and "用时 0 个工作日；无警示" in out
    assert "监察记录哈希链完整" in out and f"127.0.0.1:{env['HALL_WEB_PORT']}/board" in out


def test_bad_payments_and_refunds_are_typed_through_grpc_and_change_nothing(counter):
    app, _ = run_to_end(counter, company_registration())
    receipt = counter.receipt(application_id=app.application_id)

    def refused(call, code):
        with pytest.raises(grpc.RpcError) as err:
            call()
        assert err.value.code() == code, err.value.details()
        return err.value

    fresh = counter.submit(company_registration()).application
    counter.bill(fresh.application_id)
    for fen in (0, -1, 10**15, fresh.fees_due.fen - 1):
        bad = refused(lambda fen=fen: counter.pay(fresh.application_id, amount_fen=fen), grpc.StatusCode.INVALID_ARGUMENT)
        assert [v.field for b in details(bad, error_details_pb2.BadRequest) for v in b.field_violations] == ["amount.fen"]
    refused(lambda: counter.pay("no-such-application", amount_fen=100), grpc.StatusCode.NOT_FOUND)
    assert not counter.bill(fresh.application_id).paid_receipt_number  # nothing changed
    over = fees_pb2.RefundRequest(receipt_number=receipt.receipt_number, client_key=uuid.uuid4().hex, reason="多退",
                                  clerk_id="clerk-0001", lines=[fees_pb2.RefundLine(
                                      matter_code="150602-GS-0101", item_code="F-GSW-CERT",
                                      amount=common_pb2.Money(fen=1001))])
    bad = refused(lambda: counter.fees.Refund(over, timeout=5), grpc.StatusCode.FAILED_PRECONDITION)
    assert details(bad, error_details_pb2.PreconditionFailure)[0].violations[0].type == "REFUND_EXCEEDS_PAID"
    # A withdrawn case takes no payment.
    counter.intake.WithdrawApplication(intake_pb2.WithdrawApplicationRequest(application_id=fresh.application_id),
                                       timeout=5)

    from tests.support.waiting import wait_until

    assert wait_until(lambda: counter.bill(fresh.application_id).state == fees_pb2.BILL_STATE_WITHDRAWN, timeout=30)
    bad = refused(lambda: counter.pay(fresh.application_id, amount_fen=fresh.fees_due.fen),
                  grpc.StatusCode.FAILED_PRECONDITION)
    assert details(bad, error_details_pb2.PreconditionFailure)[0].violations[0].type == "CASE_WITHDRAWN"

"""Single-department matters end to end: an immediate one (birth registration), and a planning
permit that waits for an officer who runs an expert review at the department's desk."""

import time
import uuid

import grpc
import pytest

from hall.v1 import common_pb2, department_pb2, department_pb2_grpc, intake_pb2
from services.runtime.grpc_client import channel
from tests.support import tokens
from tests.support.samples import sample_resident_id

pytestmark = pytest.mark.e2e
S = intake_pb2.ApplicationStatus


def wait_pending(desk, case_id, present=True):
    """The officer's waiting items of a case, once they are there (or gone, with present=False)."""
    for _ in range(100):
        items = [i for i in desk.ListPending(department_pb2.ListPendingRequest(), timeout=5).items
                 if i.request.case_id == case_id]
        if bool(items) == present:
            return items
        time.sleep(0.1)
    raise AssertionError(f"pending items of {case_id} still {'absent' if present else 'present'}")


@pytest.fixture
def planning_desk(suite):
    _, env = suite
    return department_pb2_grpc.DepartmentDeskServiceStub(
        channel(f"127.0.0.1:{env['HALL_DESK_PLANNING_PORT']}", token=tokens.officer("planning", "gh-007")))


def large_project(name, plot_ratio_x100, height_cm):
    """A planning permit application big enough to wait for the officer."""
    return application("150602-GH-0001", ["M-GH-APPLY", "M-GH-LAND", "M-GH-DESIGN", "M-ID-LEGALREP"], {
        "project_name": name, "builder_name": "东胜区某置业有限公司", "parcel_id": "DS-2026-002",
        "land_use": "B1", "plot_ratio_x100": plot_ratio_x100, "height_cm": height_cm})


def application(matter, materials, fields, birth="19880505"):
    return intake_pb2.SubmitApplicationRequest(
        request_id=uuid.uuid4().hex, matter_code=matter, materials=materials, fields=fields,
        applicant=common_pb2.Applicant(kind=common_pb2.Applicant.KIND_PERSON, name="张伟",
                                       id_number=sample_resident_id(birth=birth, serial=f"{uuid.uuid4().int % 900 + 100}")))


def test_birth_registration_is_done_on_the_spot(counter):
    req = application("150602-JS-0001", ["M-ID-COUPLE", "M-JS-MARRIAGE"], {
        "spouse_name": "李梅", "spouse_id": sample_resident_id(birth="19900303", serial="022"), "child_order": "1",
        "marriage_date": "2019-10-01"})
    app = counter.submit(req).application
    final = list(counter.watch(app.application_id, timeout=60))[-1].application
    assert final.status == S.APPLICATION_STATUS_COMPLETED
    assert final.results["registration_number"].startswith("生登")
    bill = counter.bill(app.application_id)  # a free matter: nothing to pay, and no receipt
    assert bill.total.fen == 0 and not bill.lines and bill.free_note == "不收费"
    with pytest.raises(grpc.RpcError) as nothing:
        counter.pay(app.application_id, amount_fen=1)
    assert nothing.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_planning_permit_waits_for_the_officer_and_the_procedure_is_on_the_record(counter, inspector, planning_desk):
    desk = planning_desk
    app = counter.submit(large_project("铁西商业综合体", "380", "9000")).application
    mid = wait_pending(desk, app.case_id)[0].request_message_id
    desk.StartSpecialProcedure(department_pb2.StartSpecialProcedureRequest(
        request_message_id=mid, kind="专家评审", reason="高度超过24米", officer_id="gh-007"), timeout=5)
    desk.EndSpecialProcedure(department_pb2.EndSpecialProcedureRequest(
        request_message_id=mid, result="通过", officer_id="gh-007"), timeout=5)
    desk.Decide(department_pb2.DecideRequest(request_message_id=mid, approve=True, officer_id="gh-007",
                                             results={"permit_number": "建字第150602202600099号"}), timeout=5)
    final = list(counter.watch(app.application_id, timeout=60))[-1].application
    assert final.status == S.APPLICATION_STATUS_COMPLETED
    assert final.results["permit_number"] == "建字第150602202600099号"
    for _ in range(100):
        ops = [e.record.operation for e in inspector.timeline(app.case_id)]
        if "special_procedure.end" in ops:
            break
        time.sleep(0.1)
    assert ops.index("special_procedure.start") < ops.index("special_procedure.end")


def test_withdrawal_cancels_the_waiting_step_at_the_department_and_asking_twice_is_harmless(counter, planning_desk):
    desk = planning_desk
    app = counter.submit(large_project("铁西写字楼", "350", "8000")).application
    wait_pending(desk, app.case_id)
    withdraw = intake_pb2.WithdrawApplicationRequest(application_id=app.application_id, reason="申请人撤回")
    first = counter.intake.WithdrawApplication(withdraw, timeout=5).application
    again = counter.intake.WithdrawApplication(withdraw, timeout=5).application  # while in flight
    assert first.withdrawal_requested and again.withdrawal_requested
    assert again.status in (S.APPLICATION_STATUS_ACCEPTED, S.APPLICATION_STATUS_IN_PROGRESS, S.APPLICATION_STATUS_WITHDRAWN)
    final = list(counter.watch(app.application_id, timeout=60))[-1].application
    assert final.status == S.APPLICATION_STATUS_WITHDRAWN
    wait_pending(desk, app.case_id, present=False)  # the cancelled step left the officer's list
    # once withdrawn, asking again answers the same
    assert counter.intake.WithdrawApplication(withdraw, timeout=5).application.status == S.APPLICATION_STATUS_WITHDRAWN
    done = counter.submit(application("150602-JS-0001", ["M-ID-COUPLE", "M-JS-MARRIAGE"], {
        "spouse_name": "李梅", "spouse_id": sample_resident_id(birth="19900303", serial="023"), "child_order": "1",
        "marriage_date": "2019-10-01"})).application
    assert list(counter.watch(done.application_id, timeout=60))[-1].application.status == S.APPLICATION_STATUS_COMPLETED
    with pytest.raises(grpc.RpcError) as err:  # an ended case cannot be withdrawn
        counter.intake.WithdrawApplication(intake_pb2.WithdrawApplicationRequest(
            application_id=done.application_id), timeout=5)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION

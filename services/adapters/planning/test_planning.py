# mypy: allow-untyped-defs
"""The planning department's rules: the parcel's planning conditions, and the officer's desk for the permits that need an expert review."""

import pytest

from hall.v1 import approval_pb2, department_pb2
from services.adapters.sdk.desk import Desk
from services.adapters.sdk.testing import envelope, request
from services.adapters.sdk.testing import only_decision as decision
from services.runtime.errors import FailedPrecondition, InvalidArgument

APPROVED, REFUSED = approval_pb2.OUTCOME_APPROVED, approval_pb2.OUTCOME_REFUSED
SMALL = {"project_name": "天骄花园3号楼", "builder_name": "东胜区某置业有限公司", "parcel_id": "DS-2026-001",
         "land_use": "R2", "plot_ratio_x100": "180", "height_cm": "2100"}


def test_ordinary_project_within_conditions_is_permitted_on_the_spot(make_core):
    d = decision(make_core("planning").handle(envelope(request("planning", "main", fields=SMALL))))
    assert d.outcome == APPROVED and d.results["permit_number"].startswith("建字第")


def test_every_breach_of_the_planning_conditions_is_stated(make_core):
    fields = {**SMALL, "land_use": "B1", "plot_ratio_x100": "300", "height_cm": "6000"}
    d = decision(make_core("planning").handle(envelope(request("planning", "main", fields=fields))))
    assert d.outcome == REFUSED
    assert {r.code for r in d.reasons} == {"LAND_USE_MISMATCH", "PLOT_RATIO_EXCEEDED", "HEIGHT_EXCEEDED"}
    assert all(r.message for r in d.reasons)


def test_large_project_waits_for_the_officer_who_runs_an_expert_review(make_core):
    core = make_core("planning")
    big = {**SMALL, "parcel_id": "DS-2026-002", "land_use": "B1", "plot_ratio_x100": "380", "height_cm": "9000"}
    env = envelope(request("planning", "main", fields=big))
    result = core.handle(env)
    assert result.outgoing == [] and result.outcome == "pending"
    assert core.handle(env).outgoing == []  # redelivered while pending: still no answer, no second decision
    desk = Desk(core.department, core._sessions)
    [item] = desk.pending()
    assert item.request_message_id == env.message_id and "专家评审" in item.waiting_for
    desk.start_procedure(department_pb2.StartSpecialProcedureRequest(
        request_message_id=env.message_id, kind="专家评审", reason="高层商业综合体", officer_id="gh-007"))
    with pytest.raises(FailedPrecondition):  # no decision while the procedure runs
        desk.decide(department_pb2.DecideRequest(request_message_id=env.message_id, approve=True, officer_id="gh-007"))
    desk.end_procedure(department_pb2.EndSpecialProcedureRequest(
        request_message_id=env.message_id, result="专家评审通过", officer_id="gh-007"))
    with pytest.raises(InvalidArgument):  # refusing without a reason is not allowed
        desk.decide(department_pb2.DecideRequest(request_message_id=env.message_id, approve=False, officer_id="gh-007"))
    d = desk.decide(department_pb2.DecideRequest(request_message_id=env.message_id, approve=True,
                                                 officer_id="gh-007", results={"permit_number": "建字第X号"}))
    assert d.outcome == APPROVED and d.officer_id == "gh-007"
    assert decision(core.handle(env)) == d  # a later redelivery replays the officer's answer
    assert desk.pending() == []

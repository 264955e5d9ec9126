"""The inspectors' side against PostgreSQL and SQLite: the feed (in order, filtered, resumed from a
cursor), evaluations with their rectification, complaints with their card, the id chain, a report
against hand-computed figures, and the exchange export against its column schema."""

import datetime as dt
from typing import Any

import jsonschema
import pytest

from hall.v1 import common_pb2
from hall.v1 import inspection_pb2 as ipb
from services.runtime import clock
from services.runtime.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from services.supervision import exchange
from services.supervision.inspection import InspectionServicer
from services.supervision.models import CardRow
from services.supervision.settings import SupervisionSettings
from tests.supervision.test_supervisor import (  # noqa: F401
    CS,
    CTX,
    at,
    envelope,
    now,
    reviewed_case,
    snapshot,
    store,
    sup,
)


@pytest.fixture
def inspection(sup, store):  # noqa: F811
    return InspectionServicer(sup, store, SupervisionSettings.from_environment())


def entries(inspection, **kw):
    return [r.entry for r in inspection.WatchFeed(ipb.WatchFeedRequest(**kw), CTX)]


def completed(seq, case_id="C1", ended=at(2024, 10, 21, 15)):
    msg = snapshot(seq, case_id=case_id, status=CS.CASE_STATUS_COMPLETED, step_status=common_pb2.STEP_STATUS_APPROVED,
                   ended=ended)
    msg.steps[0].results["permit_number"] = "建字第150602202400001号"
    msg.steps[0].officer_id = "gh-007"
    msg.applicant_kind = common_pb2.Applicant.KIND_PERSON
    msg.applicant_name = "张伟"
    msg.applicant_id_masked = "150602********0015"
    msg.clerk_id = "clerk-0002"
    return msg


def test_the_feed_is_in_order_filtered_and_resumed_from_a_cursor(sup, inspection, now):  # noqa: F811
    reviewed_case(sup)
    now.set(2024, 10, 21, 15)
    sup.handle_batch([envelope(completed(2))])
    got = entries(inspection)
    assert [e.kind for e in got] == [ipb.FEED_KIND_ACCEPTED, ipb.FEED_KIND_STEP_STARTED,
                                     ipb.FEED_KIND_PROCEDURE_STARTED, ipb.FEED_KIND_PROCEDURE_ENDED,
                                     ipb.FEED_KIND_STEP_ENDED, ipb.FEED_KIND_COMPLETED]
    assert [e.cursor for e in got] == list(range(1, 7))
    assert got[2].text.endswith("启动专家评审（不计入办理时限）：重大项目设计方案须专家评审")
    assert got[-1].text == "办结：准予办理"
    # a screen that showed up to cursor 3 reconnects: the rest, once each
    assert [e.cursor for e in entries(inspection, after=3)] == [4, 5, 6]
    assert len(entries(inspection, department="planning")) == 6  # the case's own entries count for it
    assert entries(inspection, department="quality") == []
    now.set(2024, 11, 6, 9)
    reviewed_case(sup, case_id="C2")
    sup.sweep()
    cards = entries(inspection, min_level=2)  # yellow and red
    assert cards and all(e.kind == ipb.FEED_KIND_CARD and e.level >= 2 for e in cards)


def test_a_bad_evaluation_is_rectified_after_its_call_back_and_the_evaluator_stays_hidden(  # noqa: F811
        sup, inspection, store, now):  # noqa: F811
    sup.handle_batch([envelope(snapshot(1))])
    now.set(2024, 10, 8, 10)
    bad = ipb.EvaluateRequest(case_id="C1", level=ipb.SATISFACTION_DISSATISFIED,
                              channel=ipb.EVALUATION_CHANNEL_LINK, comment="等待时间太长", evaluator="139****0000")
    first = inspection.Evaluate(bad, CTX)
    assert not first.replayed and first.evaluation.state == ipb.EVALUATION_STATE_RECTIFYING
    assert first.evaluation.department == "planning" and first.evaluation.evaluator == ""
    due = clock.local(clock.from_timestamp(first.evaluation.rectification.due_at)).date()
    assert due == dt.date(2024, 10, 28)  # 15 working days from 8 October (Saturday the 12th worked)
    again = inspection.Evaluate(ipb.EvaluateRequest(case_id="C1", level=ipb.SATISFACTION_VERY_SATISFIED,
                                                    channel=ipb.EVALUATION_CHANNEL_WINDOW), CTX)
    assert again.replayed and again.evaluation.evaluation_id == first.evaluation.evaluation_id
    eid = first.evaluation.evaluation_id
    with pytest.raises(FailedPrecondition):  # not before the call-back
        inspection.CompleteRectification(ipb.CompleteRectificationRequest(
            evaluation_id=eid, department="planning", officer_id="gh-007", note="已整改"), CTX)
    inspection.RecordCallback(ipb.RecordCallbackRequest(evaluation_id=eid, officer_id="hall-01", note="已致电说明"), CTX)
    with pytest.raises(PermissionDenied):
        inspection.CompleteRectification(ipb.CompleteRectificationRequest(
            evaluation_id=eid, department="quality", officer_id="zj-1", note="x"), CTX)
    done = inspection.CompleteRectification(ipb.CompleteRectificationRequest(
        evaluation_id=eid, department="planning", officer_id="gh-007", note="增设导办员"), CTX).evaluation
    assert done.state == ipb.EVALUATION_STATE_RECTIFIED and done.rectification.done_note == "增设导办员"
    listed = inspection.ListEvaluations(ipb.ListEvaluationsRequest(department="planning"), CTX).evaluations
    assert [e.evaluator for e in listed] == [""]
    seen = inspection.ListEvaluations(ipb.ListEvaluationsRequest(viewer_id="inspector-0001"), CTX).evaluations
    assert [e.evaluator for e in seen] == ["139****0000"]
    with pytest.raises(InvalidArgument):
        inspection.Evaluate(ipb.EvaluateRequest(case_id="C1"), CTX)


def test_a_malicious_review_is_appealed_and_annulled_by_a_supervisor(sup, inspection, now):  # noqa: F811
    sup.handle_batch([envelope(snapshot(1))])
    eid = inspection.Evaluate(ipb.EvaluateRequest(case_id="C1", level=ipb.SATISFACTION_VERY_DISSATISFIED,
                                                  channel=ipb.EVALUATION_CHANNEL_WINDOW), CTX).evaluation.evaluation_id
    with pytest.raises(InvalidArgument):
        inspection.AppealEvaluation(ipb.AppealEvaluationRequest(evaluation_id=eid, department="planning",
                                                                officer_id="gh-007", reason="恶意差评"), CTX)
    inspection.AppealEvaluation(ipb.AppealEvaluationRequest(evaluation_id=eid, department="planning", officer_id="gh-007",
                                                            reason="恶意差评", evidence=["窗口录像 10:02"]), CTX)
    with pytest.raises(PermissionDenied):
        inspection.DecideEvaluationAppeal(ipb.DecideEvaluationAppealRequest(
            evaluation_id=eid, supervisor_id="gh-007", annul=True, note="x"), CTX)
    decided = inspection.DecideEvaluationAppeal(ipb.DecideEvaluationAppealRequest(
        evaluation_id=eid, supervisor_id="inspector-0001", annul=True, note="录像显示服务规范"), CTX).evaluation
    assert decided.state == ipb.EVALUATION_STATE_ANNULLED


def test_a_complaint_is_routed_answered_and_carded_when_overdue(sup, inspection, store, now):  # noqa: F811
    sup.handle_batch([envelope(snapshot(1))])
    now.set(2024, 10, 8, 10)
    req = ipb.FileComplaintRequest(request_id="r-1", target=ipb.COMPLAINT_TARGET_CASE, case_id="C1",
                                   text="承办人员态度差", complainant="139****0000", ticket_id="A001-20241008")
    filed = inspection.FileComplaint(req, CTX).complaint
    assert inspection.FileComplaint(req, CTX).complaint.complaint_id == filed.complaint_id  # idempotent
    assert filed.department == "planning" and filed.state == ipb.COMPLAINT_STATE_OPEN
    assert clock.local(clock.from_timestamp(filed.due_at)).date() == dt.date(2024, 10, 21)
    with pytest.raises(InvalidArgument):
        inspection.FileComplaint(ipb.FileComplaintRequest(request_id="r-2", target=ipb.COMPLAINT_TARGET_DEPARTMENT,
                                                          department="nowhere", text="x"), CTX)
    now.set(2024, 10, 23, 9)
    sup.sweep()
    with store() as s:
        card = s.get(CardRow, f"complaint:{filed.complaint_id}/yellow")
        assert card is not None and card.department == "planning"
        assert card.explanation == "投诉答复期限 10月21日已过（收到投诉后10个工作日内答复）。"
    with pytest.raises(PermissionDenied):
        inspection.AnswerComplaint(ipb.AnswerComplaintRequest(complaint_id=filed.complaint_id, department="quality",
                                                              officer_id="zj-1", text="x"), CTX)
    inspection.AnswerComplaint(ipb.AnswerComplaintRequest(complaint_id=filed.complaint_id, department="planning",
                                                          officer_id="gh-007", text="已批评教育"), CTX)
    closed = inspection.RecordComplainantReply(ipb.RecordComplainantReplyRequest(
        complaint_id=filed.complaint_id, satisfied=True, text="接受", recorded_by="hall-01"), CTX).complaint
    assert closed.state == ipb.COMPLAINT_STATE_CLOSED and closed.complainant_satisfied
    eid = inspection.Evaluate(ipb.EvaluateRequest(case_id="C1", level=ipb.SATISFACTION_SATISFIED,
                                                  channel=ipb.EVALUATION_CHANNEL_LINK), CTX).evaluation.evaluation_id
    chain = inspection.GetChain(ipb.GetChainRequest(ticket_id="A001-20241008"), CTX)
    assert (list(chain.case_ids), list(chain.complaint_ids), list(chain.evaluation_ids)) == (
        ["C1"], [filed.complaint_id], [eid])
    back = inspection.GetChain(ipb.GetChainRequest(evaluation_id=eid), CTX)
    assert list(back.ticket_ids) == ["A001-20241008"]


def test_the_report_matches_the_figures_computed_by_hand(sup, inspection, now):  # noqa: F811
    """Three cases accepted on 30 September 2024, completed in the period 30 September to 30
    November: C1 (planning permit, expert review 14-15 October, promised 29 October, completed 21
    October: on time), C2 (planning permit, promised 25 October, completed 4 November: late), C3
    (birth registration, an immediate matter, completed the same day: on the spot)."""
    reviewed_case(sup)
    sup.handle_batch([envelope(snapshot(1, case_id="C2"))])
    birth = snapshot(1, case_id="C3")
    birth.matter_code = "150602-JS-0001"
    birth.steps[0].matter_code = "150602-JS-0001"
    birth.steps[0].department = "family_planning"
    sup.handle_batch([envelope(birth)])
    done = completed(2, case_id="C3", ended=at(2024, 9, 30, 11))
    done.matter_code = "150602-JS-0001"
    done.steps[0].matter_code, done.steps[0].department = "150602-JS-0001", "family_planning"
    sup.handle_batch([envelope(done)])
    sup.handle_batch([envelope(completed(2, "C1", at(2024, 10, 21, 15))),
                      envelope(completed(2, "C2", at(2024, 11, 4, 15)))])
    inspection.Evaluate(ipb.EvaluateRequest(case_id="C1", level=ipb.SATISFACTION_SATISFIED,
                                            channel=ipb.EVALUATION_CHANNEL_WINDOW), CTX)
    inspection.Evaluate(ipb.EvaluateRequest(case_id="C2", level=ipb.SATISFACTION_DISSATISFIED,
                                            channel=ipb.EVALUATION_CHANNEL_WINDOW), CTX)
    now.set(2024, 12, 2, 9)
    period: dict[str, Any] = {"from_date": "2024-09-30", "to_date": "2024-11-30"}
    got = inspection.GetReport(ipb.GetReportRequest(**period), CTX).hall
    assert (got.accepted, got.completed) == (3, 3)
    assert (got.on_site.numerator, got.on_site.denominator, got.on_site.basis_points) == (1, 1, 10000)
    assert (got.on_time.numerator, got.on_time.denominator, got.on_time.basis_points) == (2, 3, 6667)
    assert not got.on_time.meets_target and got.on_time.target_basis_points == 9900
    # working days after acceptance (the review's included: what the applicant waited): C1 8-12 and
    # 14-18 and 21 October = 11, C2 the same and 22-25, 28-31 October, 1 and 4 November = 21, C3 0:
    # mean 32 / 3 = 10.67, p90 (nearest rank) 21
    assert (got.average_working_days_x100, got.p90_working_days) == (1067, 21)
    assert (got.evaluations, got.satisfaction.basis_points) == (2, 5000)
    by_dept = inspection.GetReport(ipb.GetReportRequest(**period, grouping=ipb.REPORT_GROUPING_DEPARTMENT),
                                   CTX).rows
    assert [(r.key, r.accepted, r.completed, r.on_time.numerator) for r in by_dept] == [
        ("family_planning", 1, 1, 1), ("planning", 2, 2, 1)]
    # reproducible: the same period asked later gives the same figures
    now.set(2025, 3, 1, 9)
    assert inspection.GetReport(ipb.GetReportRequest(**period), CTX).hall == got
    # only the first day: all three accepted, only the birth registration completed (both rated that day)
    day = inspection.GetReport(ipb.GetReportRequest(from_date="2024-09-30", to_date="2024-09-30"), CTX).hall
    assert (day.accepted, day.completed, day.on_site.numerator, day.evaluations) == (3, 1, 1, 2)


def test_the_export_follows_its_column_schema(sup, inspection, now):  # noqa: F811
    reviewed_case(sup)
    now.set(2024, 10, 21, 15)
    sup.handle_batch([envelope(completed(2))])
    inspection.Evaluate(ipb.EvaluateRequest(case_id="C1", level=ipb.SATISFACTION_VERY_SATISFIED,
                                            channel=ipb.EVALUATION_CHANNEL_WINDOW), CTX)
    out = inspection.ExportExchange(ipb.ExportExchangeRequest(from_date="2024-09-01", to_date="2024-09-30"), CTX)
    tables = {t.name: [dict(zip(t.columns, r.values, strict=True)) for r in t.rows] for t in out.tables}
    schema = exchange.schema()
    for name, rows in tables.items():
        assert list(schema["tables"][name]["properties"]) == [t.columns for t in out.tables if t.name == name][0]
        for row in rows:
            jsonschema.validate(row, schema["tables"][name], format_checker=jsonschema.FormatChecker())
    (acc,) = tables["acceptance"]
    assert acc["applicant_id"] == "" or "*" in acc["applicant_id"]
    assert acc["promised_at"].startswith("2024-10-29T23:59:59")
    (proc,) = tables["special_procedure"]
    assert (proc["kind"], proc["counts_toward_limit"]) == ("专家评审", "否")
    (result,) = tables["result"]
    assert (result["certificate_name"], result["certificate_number"], result["satisfaction"]) == (
        "建设工程规划许可证", "建字第150602202400001号", "非常满意")
    (step,) = tables["process"]
    assert (step["action"], step["officer_id"]) == ("准予", "gh-007")
    with pytest.raises(InvalidArgument):
        inspection.ExportExchange(ipb.ExportExchangeRequest(from_date="2024-09-30", to_date="2024-09-01"), CTX)

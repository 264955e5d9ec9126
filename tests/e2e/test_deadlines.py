"""Deadlines end to end, under an injected clock (HALL_CLOCK_FILE; nothing sleeps through days):
a planning permit accepted on Monday 30 September 2024, the day before National Day, waits at the
planning desk; the officer's expert review from 14 to 15 October pauses its clocks; on 30 October
supervision's sweep shows yellow cards (promised limit 29 October), on 6 November red ones
(statutory limit 5 November); an extension asked then is recorded as late; a card is appealed and
withdrawn. Everything goes through gRPC, between the suite's own processes."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from google.rpc import error_details_pb2

from hall.v1 import department_pb2
from hall.v1 import supervision_pb2 as pb
from services.runtime import clock
from services.runtime.clock import SHANGHAI
from tests.e2e.test_single_matters import large_project, planning_desk, wait_pending  # noqa: F401
from tests.support import tokens
from tests.support.fake_clock import FakeClock
from tests.support.processes import counter_of, whole_suite
from tests.support.rpc import details
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e


def at(*args):
    return dt.datetime(*args).replace(tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def fake_clock(tmp_path_factory):
    return FakeClock(tmp_path_factory.mktemp("clock") / "now", at(2024, 9, 30, 10))


@pytest.fixture(scope="module")
def suite(broker_url, pg_url, tmp_path_factory, fake_clock):
    with whole_suite(broker_url, pg_url, tmp_path_factory.mktemp("logs"), HALL_CLOCK_FILE=str(fake_clock.path),
                     SUPERVISION_SWEEP_SECONDS="1", SUPERVISION_LINGER_MS="100") as running:
        yield running


@pytest.fixture(scope="module")
def counter(suite):
    _, env = suite
    c = counter_of(env)
    yield c
    c.close()


def cards_of(counter, case_id):
    inspector = counter.signed_in(tokens.supervisor())  # a clerk lists no cards
    return {(c.step_id, c.level): c for c in inspector.supervision.ListCards(
        pb.ListCardsRequest(case_id=case_id), timeout=5).cards}


def wait_cards(counter, case_id, expected):
    found: dict = {}

    def arrived():
        found.update(cards_of(counter, case_id))
        return expected <= set(found)

    assert wait_until(arrived, timeout=30), f"cards of {case_id}: {sorted(found)}, expected {sorted(expected)}"
    return found




def local_day(ts):
    return clock.local(clock.from_timestamp(ts)).date()


def test_an_expert_review_pauses_the_clock_and_the_case_goes_yellow_then_red(counter, planning_desk, fake_clock):  # noqa: F811
    sup = counter.supervision
    planner = counter.signed_in(tokens.officer("planning", "gh-007")).supervision
    quality = counter.signed_in(tokens.officer("quality", "zj-001")).supervision
    inspector = counter.signed_in(tokens.supervisor())
    head = counter.signed_in(tokens.head()).supervision
    app = counter.submit(large_project("东胜区文化中心", "380", "9000")).application
    mid = wait_pending(planning_desk, app.case_id)[0].request_message_id

    fake_clock.set(at(2024, 10, 14, 9))
    planning_desk.StartSpecialProcedure(department_pb2.StartSpecialProcedureRequest(
        request_message_id=mid, kind="专家评审", reason="高度超过24米", officer_id="gh-007"), timeout=5)

    def paused():
        if not _known(counter, app.case_id):
            return None
        got = sup.GetCaseDeadlines(pb.GetCaseDeadlinesRequest(case_id=app.case_id), timeout=5)
        return got if got.case_deadline.state == pb.CLOCK_STATE_PAUSED else None

    assert wait_until(paused, timeout=30)
    fake_clock.set(at(2024, 10, 15, 17))
    planning_desk.EndSpecialProcedure(department_pb2.EndSpecialProcedureRequest(
        request_message_id=mid, result="通过", officer_id="gh-007"), timeout=5)

    fake_clock.set(at(2024, 10, 30, 9))
    found = wait_cards(counter, app.case_id, {("", pb.CARD_LEVEL_YELLOW), ("main", pb.CARD_LEVEL_YELLOW)})
    yellow = found[("", pb.CARD_LEVEL_YELLOW)]
    assert yellow.trigger == pb.CARD_TRIGGER_PROMISED_PASSED and yellow.state == pb.CARD_STATE_OPEN
    assert yellow.explanation == "承诺时限 10月29日已过；因国庆节顺延5个工作日；专家评审暂停2个工作日。"
    assert found[("main", pb.CARD_LEVEL_YELLOW)].department == "planning"

    got = sup.GetCaseDeadlines(pb.GetCaseDeadlinesRequest(case_id=app.case_id), timeout=5)
    case = got.case_deadline
    assert local_day(got.accepted_at) == dt.date(2024, 9, 30)
    assert (local_day(case.promised_due), local_day(case.statutory_due)) == (dt.date(2024, 10, 29),
                                                                             dt.date(2024, 11, 5))
    assert [(i.kind, i.units) for i in case.ledger][:2] == [(pb.INTERVAL_KIND_RUNNING, 5), (pb.INTERVAL_KIND_PAUSED, 2)]
    assert case.ledger[1].procedure == "专家评审" and case.ledger[1].reason == "高度超过24米"
    assert "专家评审暂停 2 个工作日（2024-10-14 至 2024-10-15）" in case.promised_explanation
    (step,) = got.steps
    assert step.step_id == "main" and step.department == "planning" and local_day(step.promised_due) == dt.date(2024, 10, 29)
    (notice,) = got.notices
    assert notice.kind == pb.NOTICE_KIND_SPECIAL_PROCEDURE
    assert "专家评审所需时间不计入办理时限" in notice.text and "预计不超过10个工作日" in notice.text

    fake_clock.set(at(2024, 11, 6, 9))
    found = wait_cards(counter, app.case_id, {("", pb.CARD_LEVEL_RED), ("main", pb.CARD_LEVEL_RED)})
    red = found[("", pb.CARD_LEVEL_RED)]
    assert red.trigger == pb.CARD_TRIGGER_STATUTORY_PASSED
    assert red.explanation == "法定时限 11月5日已过；因国庆节顺延5个工作日；专家评审暂停2个工作日。"
    assert sup.GetCaseDeadlines(pb.GetCaseDeadlinesRequest(case_id=app.case_id), timeout=5).case_deadline.overdue

    # Too late to extend: recorded, never granted, the case counts as overdue.
    ext = planner.RequestExtension(pb.RequestExtensionRequest(
        case_id=app.case_id, department="planning", officer_id="gh-007", reason="补充日照分析"), timeout=5).extension
    assert ext.state == pb.EXTENSION_STATE_LATE
    with pytest.raises(grpc.RpcError) as refused:
        head.DecideExtension(pb.DecideExtensionRequest(extension_id=ext.extension_id, head_id="head-0001",
                                                      approve=True), timeout=5)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    # A yellow card is appealed by its department with evidence and withdrawn by a supervisor.
    card_id = found[("main", pb.CARD_LEVEL_YELLOW)].card_id
    with pytest.raises(grpc.RpcError) as bad:
        planner.AppealCard(pb.AppealCardRequest(card_id=card_id, department="planning", officer_id="gh-007",
                                                reason="受理日期录入有误"), timeout=5)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    (violations,) = details(bad.value, error_details_pb2.BadRequest)
    assert [(v.field, v.description) for v in violations.field_violations] == [("evidence", "申诉必须附证据材料")]
    with pytest.raises(grpc.RpcError) as other:
        quality.AppealCard(pb.AppealCardRequest(card_id=card_id, department="quality", officer_id="zj-001",
                                            reason="误报", evidence=["x"]), timeout=5)
    assert other.value.code() == grpc.StatusCode.PERMISSION_DENIED
    appealed = planner.AppealCard(pb.AppealCardRequest(card_id=card_id, department="planning", officer_id="gh-007",
                                                   reason="受理日期录入有误", evidence=["受理回执 2024-001"]),
                              timeout=5).card
    assert appealed.state == pb.CARD_STATE_APPEALED
    with pytest.raises(grpc.RpcError) as not_a_supervisor:
        planner.DecideAppeal(pb.DecideAppealRequest(card_id=card_id, supervisor_id="gh-007", withdraw=True,
                                                note="撤销"), timeout=5)
    assert not_a_supervisor.value.code() == grpc.StatusCode.PERMISSION_DENIED
    decided = inspector.supervision.DecideAppeal(pb.DecideAppealRequest(card_id=card_id, supervisor_id="inspector-0001",
                                                      withdraw=True, note="核实属录入错误"), timeout=5).card
    assert decided.state == pb.CARD_STATE_WITHDRAWN
    assert [e.action for e in decided.history] == [pb.CARD_ACTION_RAISED, pb.CARD_ACTION_APPEALED,
                                                   pb.CARD_ACTION_WITHDRAWN]

    # Everything supervision did is on the case's audit timeline.
    wanted = {"card.raised", "card.appealed", "card.withdrawn", "extension.late", "notice.issued"}

    def on_the_timeline():
        return wanted <= {e.record.operation for e in inspector.timeline(app.case_id)}

    assert wait_until(on_the_timeline, timeout=30)


def test_the_counter_client_shows_the_ledger_lists_cards_and_carries_an_extension(suite, counter, planning_desk,  # noqa: F811
                                                                                 fake_clock, monkeypatch, capsys):
    from services.counter.__main__ import main

    _, env = suite
    for name, value in env.items():
        if name.startswith("HALL_") and name.endswith("_PORT"):
            monkeypatch.setenv(name, value)
    fake_clock.set(at(2024, 11, 6, 10))  # a Wednesday: day 1 is the 7th, day 15 the 27th
    app = counter.submit(large_project("东胜区体育馆", "360", "8500")).application
    wait_pending(planning_desk, app.case_id)
    assert wait_until(lambda: _known(counter, app.case_id), timeout=30)

    monkeypatch.setenv("HALL_TOKEN", tokens.officer("planning", "gh-007"))
    ext_args = ["extension", app.case_id, "--department", "planning", "--reason", "补充日照分析"]
    assert main(ext_args) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("延期申请 ") and "待批（延长 10 个工作日）" in line
    ext_id = line.split()[1].rstrip("：").split("：")[0]
    monkeypatch.setenv("HALL_TOKEN", tokens.clerk())
    assert main(["decide-extension", ext_id, "--approve"]) == 2
    assert "PERMISSION_DENIED" in capsys.readouterr().err
    monkeypatch.setenv("HALL_TOKEN", tokens.supervisor())  # a supervisor, but not the hall's head
    assert main(["decide-extension", ext_id, "--approve"]) == 2
    assert "中心负责人" in capsys.readouterr().err
    monkeypatch.setenv("HALL_TOKEN", tokens.head())
    assert main(["decide-extension", ext_id, "--refuse"]) == 2
    assert "不予批准必须说明理由" in capsys.readouterr().err
    assert main(["decide-extension", ext_id, "--approve"]) == 0
    assert "已批准" in capsys.readouterr().out

    fake_clock.set(at(2024, 11, 28, 9))
    wait_cards(counter, app.case_id, {("", pb.CARD_LEVEL_YELLOW)})
    monkeypatch.setenv("HALL_TOKEN", tokens.supervisor())
    assert main(["cards", "--case", app.case_id, "--level", "yellow"]) == 0
    out = capsys.readouterr().out
    assert f"黄牌  {app.case_id}/case/yellow" in out and "承诺时限 11月27日已过" in out

    assert main(["case", app.case_id]) == 0
    out = capsys.readouterr().out
    assert "案件：计时中，承诺 15个工作日 至 2024-11-27，法定 20个工作日（延长 10） 至 2024-12-18" in out
    assert "    计时  2024-11-06 至 至今  15个工作日" in out
    assert "告知" in out and "延长10个工作日" in out


def _known(counter, case_id):
    try:
        counter.supervision.GetCaseDeadlines(pb.GetCaseDeadlinesRequest(case_id=case_id), timeout=5)
        return True
    except grpc.RpcError as err:
        if err.code() == grpc.StatusCode.NOT_FOUND:
            return False
        raise

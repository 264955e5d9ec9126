"""Supervision against a real PostgreSQL (and the local run's SQLite): it learns a case from the
router's snapshots and the desks' special procedures, keeps its clocks, raises each card once, and
records appeals and extensions. Time is injected (clock.now is patched); nothing sleeps.

The case: a planning permit (promised 15, statutory 20 working days) accepted on Monday
30 September 2024, before National Day; an expert review from 14 to 15 October pauses it, so the
promised limit falls on 29 October and the statutory one on 5 November."""

import datetime as dt
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from hall.v1 import approval_pb2, audit_pb2, common_pb2
from hall.v1 import supervision_pb2 as pb
from services.catalogue import load, load_versions
from services.runtime import clock, wire
from services.runtime.clock import SHANGHAI
from services.runtime.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from services.runtime.outbox import Outbox
from services.runtime.wire import Envelope
from services.supervision import cards, extensions
from services.supervision.feed import Feed
from services.supervision.ladder import Prewarning
from services.supervision.models import CardEventRow, CardRow, CaseRow, NoticeRow, SupervisionOutbox
from services.supervision.servicer import SupervisionServicer
from services.supervision.settings import SupervisionSettings
from services.supervision.supervisor import Supervisor
from tests.support.db import migrated

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "supervision" / "migrations"
VERSION_TABLE = "alembic_version_supervision"
PLANNING = "150602-GH-0001"
CS = approval_pb2
CTX: Any = None  # the servicer does not use its context


def at(*args):
    return dt.datetime(*args).replace(tzinfo=SHANGHAI)


ACCEPTED = at(2024, 9, 30, 10)


@pytest.fixture(params=["postgresql", "sqlite"])
def store(request, tmp_path):
    if request.param == "sqlite":
        url, schema_name = f"sqlite:///{tmp_path / 'supervision.db'}", None
    else:
        url, schema_name = request.getfixturevalue("pg_url"), request.getfixturevalue("pg_schema")
    engine, sessions = migrated(url, schema_name, MIGRATIONS, VERSION_TABLE)
    yield sessions
    engine.dispose()


def supervisor(sessions, prewarning=Prewarning()):
    catalogue = load()
    return Supervisor(sessions, load_versions(catalogue), catalogue, Outbox(SupervisionOutbox), prewarning)


@pytest.fixture
def sup(store):
    return supervisor(store)


class Now:
    """The injected clock: every `clock.now()` of the code under test reads `moment`."""

    def __init__(self, monkeypatch):
        self.moment = ACCEPTED
        monkeypatch.setattr(clock, "now", lambda: self.moment)

    def set(self, *args):
        self.moment = at(*args)


@pytest.fixture
def now(monkeypatch):
    return Now(monkeypatch)


def envelope(msg):
    return Envelope(message=msg, message_id=uuid.uuid4().hex, type=wire.type_name(msg), routing_key="")


def snapshot(seq, *, case_id="C1", status=CS.CASE_STATUS_IN_PROGRESS, step_status=common_pb2.STEP_STATUS_DISPATCHED,
             ended=None, reasons=()):
    step = common_pb2.Step(step_id="planning", department="planning", matter_code=PLANNING, status=step_status,
                           reasons=list(reasons))
    step.started_at.CopyFrom(clock.to_timestamp(ACCEPTED))
    if ended is not None:
        step.ended_at.CopyFrom(clock.to_timestamp(ended))
    msg = approval_pb2.CaseStatusChanged(case_id=case_id, application_id="A-" + case_id, status=status,
                                         matter_code=PLANNING, catalogue_version=load().version, sequence=seq,
                                         steps=[step], at=clock.to_timestamp(ended or ACCEPTED))
    msg.accepted_at.CopyFrom(clock.to_timestamp(ACCEPTED))
    return msg


def procedure(phase, moment, *, case_id="C1", kind="专家评审", detail="重大项目设计方案须专家评审"):
    return approval_pb2.SpecialProcedureChanged(
        case_id=case_id, step_id="planning", department="planning", matter_code=PLANNING,
        procedure_id=f"{PLANNING}-{case_id}-1", phase=phase, kind=kind, detail=detail, officer_id="gh-0001",
        at=clock.to_timestamp(moment))


def reviewed_case(sup, case_id="C1"):
    sup.handle_batch([envelope(snapshot(1, case_id=case_id))])
    sup.handle_batch([envelope(procedure(CS.PROCEDURE_PHASE_STARTED, at(2024, 10, 14, 9), case_id=case_id))])
    sup.handle_batch([envelope(procedure(CS.PROCEDURE_PHASE_ENDED, at(2024, 10, 15, 17), case_id=case_id))])


def all_cards(sessions, case_id="C1"):
    with sessions() as s:
        return {(c.step_id, c.level, c.trigger): c.state
                for c in s.scalars(select(CardRow).where(CardRow.case_id == case_id))}


def audit_operations(sessions):
    with sessions() as s:
        records = [wire.decode(r.type, r.body) for r in s.scalars(select(SupervisionOutbox)
                                                                 .order_by(SupervisionOutbox.id))]
    return [r.operation for r in records if isinstance(r, audit_pb2.CallRecord)]


def test_a_case_is_learned_from_its_snapshots_and_an_older_one_changes_nothing(sup, store, now):
    sup.handle_batch([envelope(snapshot(2, status=CS.CASE_STATUS_COMPLETED, step_status=common_pb2.STEP_STATUS_APPROVED,
                                        ended=at(2024, 10, 8, 11)))])
    sup.handle_batch([envelope(snapshot(1)), envelope(snapshot(2))])  # late and repeated
    with store() as s:
        case = s.get(CaseRow, "C1")
        assert (case.status, case.last_seq) == (CS.CASE_STATUS_COMPLETED, 2)
        assert case.accepted_at == ACCEPTED and case.ended_at == at(2024, 10, 8, 11)


def test_an_expert_review_pauses_both_clocks_and_the_applicant_is_told(sup, store, now):
    reviewed_case(sup)
    now.set(2024, 10, 21, 10)
    with store() as s:
        c = sup.clocks(s, s.get(CaseRow, "C1"), clock.now())
        (notice,) = s.scalars(select(NoticeRow)).all()
    for ledger in (c.ledger, c.step_ledgers["planning"]):
        assert ledger.promised.day == dt.date(2024, 10, 29) and ledger.statutory.day == dt.date(2024, 11, 5)
        assert [(i.paused, i.units) for i in ledger.intervals] == [(False, 5), (True, 2), (False, 3)]
    assert notice.kind == "special_procedure"
    assert notice.text == ("您申请的“建设工程规划许可证核发”需进行专家评审（重大项目设计方案组织专家评审），自2024-10-14起，专家评审所需时间不计入办理时限（《中华人民共和国行政许可法》第四十五条），"
                           "预计不超过10个工作日。原因：重大项目设计方案须专家评审。")
    # The desk's events may be delivered again: one procedure, one notice.
    sup.handle_batch([envelope(procedure(CS.PROCEDURE_PHASE_STARTED, at(2024, 10, 14, 9)))])
    with store() as s:
        assert s.scalar(select(func.count()).select_from(NoticeRow)) == 1


def test_the_end_of_a_procedure_before_its_start_is_left_for_a_retry(sup, now):
    sup.handle_batch([envelope(snapshot(1))])
    with pytest.raises(LookupError):
        sup.handle_batch([envelope(procedure(CS.PROCEDURE_PHASE_ENDED, at(2024, 10, 15, 17)))])


def test_the_ladder_raises_each_card_once_from_the_sweep(sup, store, now):
    reviewed_case(sup)
    now.set(2024, 10, 28, 17)
    assert sup.sweep() == 0
    now.set(2024, 10, 29, 9)
    assert sup.sweep() == 2  # the last working day: a pre-warning for the case and for the step
    now.set(2024, 10, 30, 9)
    assert sup.sweep() == 2 and sup.sweep() == 0
    now.set(2024, 11, 6, 9)
    assert sup.sweep() == 2 and sup.sweep() == 0
    assert all_cards(store) == {(step, level, trigger): "open" for step in ("", "planning") for level, trigger in
                                (("pre_warning", "budget_low"), ("yellow", "promised_passed"),
                                 ("red", "statutory_passed"))}
    with store() as s:
        red = s.get(CardRow, "C1/case/red")
        assert red.explanation == "法定时限 11月5日已过；因国庆节顺延5个工作日；专家评审暂停2个工作日。"
        assert s.get(CardRow, "C1/planning/yellow").department == "planning"
    assert audit_operations(store).count("card.raised") == 6
    from services.runtime import metrics

    assert metrics.OPEN_CARDS.labels("red")._value.get() == 2


@pytest.mark.parametrize("replicas", [2])
def test_replicas_sweeping_at_once_raise_each_card_exactly_once(pg_url, pg_schema, now, replicas):
    engines = [migrated(pg_url, pg_schema, MIGRATIONS, VERSION_TABLE) for _ in range(replicas)]
    try:
        first = supervisor(engines[0][1])
        for n in range(20):
            reviewed_case(first, case_id=f"C{n:02d}")
        now.set(2024, 11, 6, 9)
        raised, barrier = [], threading.Barrier(replicas)

        def sweep(sessions):
            barrier.wait()
            raised.append(supervisor(sessions).sweep())

        threads = [threading.Thread(target=sweep, args=(s,)) for _, s in engines]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(raised) == 20 * 4  # yellow and red, for the case and its step
        sessions = engines[0][1]
        with sessions() as s:
            assert s.scalar(select(func.count()).select_from(CardRow)) == 80
            assert s.scalar(select(func.count()).select_from(CardEventRow)) == 80
        assert audit_operations(sessions).count("card.raised") == 80
    finally:
        for engine, _ in engines:
            engine.dispose()


def test_a_refusal_without_a_stated_reason_is_a_red_card(sup, store, now):
    sup.handle_batch([envelope(snapshot(1))])
    now.set(2024, 10, 9, 10)
    sup.handle_batch([envelope(snapshot(2, status=CS.CASE_STATUS_REFUSED, step_status=common_pb2.STEP_STATUS_REFUSED,
                                        ended=at(2024, 10, 9, 10), reasons=[common_pb2.Reason(code="X")]))])
    assert all_cards(store) == {("planning", "red", "refusal_without_reason"): "open"}


def test_a_refusal_with_its_reasons_raises_nothing(sup, store, now):
    sup.handle_batch([envelope(snapshot(1))])
    now.set(2024, 10, 9, 10)
    reason = common_pb2.Reason(code="GH-01", message="不符合控制性详细规划")
    sup.handle_batch([envelope(snapshot(2, status=CS.CASE_STATUS_REFUSED, step_status=common_pb2.STEP_STATUS_REFUSED,
                                        ended=at(2024, 10, 9, 10), reasons=[reason]))])
    assert all_cards(store) == {}


def test_a_card_is_appealed_with_evidence_and_withdrawn_with_its_history_kept(sup, store, now):
    reviewed_case(sup)
    now.set(2024, 10, 30, 9)
    sup.sweep()
    with store() as s, s.begin():
        with pytest.raises(InvalidArgument) as missing:
            cards.appeal(s, sup.outbox, Feed(s), "C1/planning/yellow", department="planning", officer_id="gh-0001",
                         reason="", evidence=[])
        assert {v[0] for v in missing.value.violations} == {"reason", "evidence"}
        with pytest.raises(PermissionDenied):
            cards.appeal(s, sup.outbox, Feed(s), "C1/planning/yellow", department="quality", officer_id="zj-0001",
                         reason="误报", evidence=["x.pdf"])
        card = cards.appeal(s, sup.outbox, Feed(s), "C1/planning/yellow", department="planning", officer_id="gh-0001",
                            reason="受理日期录入错误，实为10月8日", evidence=["受理回执扫描件.pdf"])
        assert card.state == "appealed"
    now.set(2024, 10, 31, 9)
    with store() as s, s.begin():
        with pytest.raises(InvalidArgument):
            cards.decide_appeal(s, sup.outbox, Feed(s), "C1/planning/yellow", supervisor_id="inspector-0001", withdraw=True,
                                note=" ")
        cards.decide_appeal(s, sup.outbox, Feed(s), "C1/planning/yellow", supervisor_id="inspector-0001", withdraw=True,
                            note="核实回执，属录入错误，撤销")
        with pytest.raises(FailedPrecondition):  # nothing left to decide
            cards.decide_appeal(s, sup.outbox, Feed(s), "C1/planning/yellow", supervisor_id="inspector-0001",
                                withdraw=False, note="维持")
    with store() as s:
        events = cards.history(s, ["C1/planning/yellow"])["C1/planning/yellow"]
        assert [(e.action, e.actor_id) for e in events] == [
            ("raised", "supervision"), ("appealed", "gh-0001"), ("withdrawn", "inspector-0001")]
        assert events[1].evidence == ["受理回执扫描件.pdf"]
        assert s.get(CardRow, "C1/planning/yellow").state == "withdrawn"
    # A withdrawn card is never raised again by a later sweep.
    assert sup.sweep() == 0
    assert {"card.appealed", "card.withdrawn"} <= set(audit_operations(store))


def test_an_extension_in_time_approved_by_the_head_moves_the_statutory_limit(sup, store, now):
    reviewed_case(sup)
    now.set(2024, 10, 30, 9)
    with store() as s, s.begin():
        with pytest.raises(PermissionDenied):
            extensions.request(s, sup, Feed(s), case_id="C1", step_id="", department="quality", officer_id="zj-0001",
                               reason="x")
        ext = extensions.request(s, sup, Feed(s), case_id="C1", step_id="", department="planning", officer_id="gh-0001",
                                 reason="须补充日照分析")
        ext_id = ext.extension_id
        assert (ext.state, ext.step_id, ext.amount) == ("requested", "planning", 10)
        with pytest.raises(FailedPrecondition):  # one extension per case
            extensions.request(s, sup, Feed(s), case_id="C1", step_id="planning", department="planning",
                               officer_id="gh-0001", reason="again")
    with store() as s, s.begin():
        extensions.decide(s, sup, Feed(s), extension_id=ext_id, head_id="head-0001", approve=True, note="")
    now.set(2024, 11, 6, 9)
    assert sup.sweep() == 2  # yellow, the promised limit passed; the statutory one is now 19 November
    assert {level for _, level, _ in all_cards(store)} == {"yellow"}
    with store() as s:
        c = sup.clocks(s, s.get(CaseRow, "C1"), clock.now())
        assert c.ledger.statutory.day == dt.date(2024, 11, 19)
        assert c.step_ledgers["planning"].statutory.day == dt.date(2024, 11, 19)
        texts = [n.text for n in s.scalars(select(NoticeRow).where(NoticeRow.kind == "extension"))]
    assert texts == ["经本中心负责人批准，您申请事项的办理期限延长10个工作日（《中华人民共和国行政许可法》第四十二条），"
                     "法定期限延至2024-11-19。延期理由：须补充日照分析。"]
    assert "extension.approved" in audit_operations(store)


def test_a_refused_extension_states_its_grounds(sup, store, now):
    reviewed_case(sup)
    now.set(2024, 10, 30, 9)
    with store() as s, s.begin():
        ext_id = extensions.request(s, sup, Feed(s), case_id="C1", step_id="planning", department="planning",
                                    officer_id="gh-0001", reason="须补充日照分析").extension_id
    with store() as s, s.begin(), pytest.raises(InvalidArgument):
        extensions.decide(s, sup, Feed(s), extension_id=ext_id, head_id="head-0001", approve=False, note="")
    with store() as s, s.begin():
        assert extensions.decide(s, sup, Feed(s), extension_id=ext_id, head_id="head-0001", approve=False,
                                 note="理由不充分").state == "refused"


def test_an_extension_asked_after_the_limit_ran_out_counts_as_overdue(sup, store, now):
    reviewed_case(sup)
    now.set(2024, 11, 6, 9)
    with store() as s, s.begin():
        ext = extensions.request(s, sup, Feed(s), case_id="C1", step_id="planning", department="planning",
                                 officer_id="gh-0001", reason="补正材料")
        assert ext.state == "late"
    cards_now = all_cards(store)
    assert cards_now[("", "red", "extension_after_expiry")] == "open"
    assert cards_now[("planning", "red", "extension_after_expiry")] == "open"
    assert "extension.late" in audit_operations(store)


def test_the_servicer_lets_only_the_head_decide_extensions_and_only_supervisors_decide_appeals(sup, store, now):
    reviewed_case(sup)
    servicer = SupervisionServicer(sup, store, SupervisionSettings.from_environment())
    with pytest.raises(PermissionDenied):
        servicer.DecideExtension(pb.DecideExtensionRequest(extension_id="x", head_id="clerk-0001", approve=True), CTX)
    with pytest.raises(InvalidArgument):
        servicer.DecideAppeal(pb.DecideAppealRequest(card_id="C1/case/yellow", withdraw=True, note="x"), CTX)
    with pytest.raises(PermissionDenied):
        servicer.DecideAppeal(pb.DecideAppealRequest(card_id="C1/case/yellow", supervisor_id="gh-0001",
                                                     withdraw=True, note="x"), CTX)
    now.set(2024, 10, 30, 9)
    sup.sweep()
    resp = servicer.GetCaseDeadlines(pb.GetCaseDeadlinesRequest(case_id="C1"), CTX)
    due = clock.local(clock.from_timestamp(resp.case_deadline.promised_due)).date()
    assert (due, resp.case_deadline.used, resp.case_deadline.remaining) == (dt.date(2024, 10, 29), 15, 0)
    assert [(i.kind, i.units) for i in resp.case_deadline.ledger][:2] == [(pb.INTERVAL_KIND_RUNNING, 5),
                                                                          (pb.INTERVAL_KIND_PAUSED, 2)]
    assert resp.case_deadline.promised_explanation == (
        "受理日 2024-09-30（星期一）不计入，自次日起算 15 个工作日；国庆节放假 2024-10-01 至 2024-10-07 不计；"
        "2024-10-12（星期六）调休上班，计入；周末 5 天不计；专家评审暂停 2 个工作日（2024-10-14 至 2024-10-15）；"
        "到期 2024-10-29（星期二）。")
    assert [c.explanation for c in resp.cards if c.step_id == ""] == [
        "承诺时限 10月29日已过；因国庆节顺延5个工作日；专家评审暂停2个工作日。"]
    assert [s.step_id for s in resp.steps] == ["planning"] and len(resp.notices) == 1
    listed = servicer.ListCards(pb.ListCardsRequest(department="planning", level=pb.CARD_LEVEL_YELLOW), CTX)
    assert [c.card_id for c in listed.cards] == ["C1/planning/yellow"]



def bundle_snapshot(seq, case_id="B1"):
    """A company registration (four departments): only its first step dispatched so far."""
    catalogue = load()
    bundle = catalogue.bundles["150602-YJS-0001"]
    steps = []
    for i, s in enumerate(bundle.steps):
        step = common_pb2.Step(step_id=s.id, department=catalogue.matters[s.matter].department, matter_code=s.matter,
                               status=common_pb2.STEP_STATUS_DISPATCHED if i == 0 else common_pb2.STEP_STATUS_PENDING)
        if i == 0:
            step.started_at.CopyFrom(clock.to_timestamp(ACCEPTED))
        steps.append(step)
    msg = approval_pb2.CaseStatusChanged(case_id=case_id, application_id="A-" + case_id,
                                         status=CS.CASE_STATUS_IN_PROGRESS, bundle_code=bundle.code,
                                         catalogue_version=catalogue.version, sequence=seq, steps=steps,
                                         at=clock.to_timestamp(ACCEPTED))
    msg.accepted_at.CopyFrom(clock.to_timestamp(ACCEPTED))
    return msg


def test_a_case_of_several_departments_runs_under_the_joint_limits(sup, store, now):
    sup.handle_batch([envelope(bundle_snapshot(1))])
    now.set(2024, 10, 8, 9)
    with store() as s:
        c = sup.clocks(s, s.get(CaseRow, "B1"), clock.now())
        # the bundle's own promise (1 working day) and 45 working days (第二十六条) by law
        assert (c.ledger.clock.promised.amount, c.ledger.clock.statutory.amount) == (1, 45)
        assert c.ledger.promised.day == dt.date(2024, 10, 8)
        assert list(c.step_ledgers) == ["licence"]  # the steps not yet dispatched have no clock
    with store() as s, s.begin():
        ext = extensions.request(s, sup, Feed(s), case_id="B1", step_id="", department="business", officer_id="gs-0001",
                                 reason="名称争议待核")
        assert (ext.step_id, ext.amount) == ("licence", 15)

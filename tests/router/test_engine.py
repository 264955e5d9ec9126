"""The router's state machine against a real PostgreSQL: plans, hand-offs, refusals, duplicates,
retries and incidents. Outgoing messages are read from the outbox (the relay is not running)."""

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from hall.v1 import approval_pb2, common_pb2
from services.catalogue import load
from services.router.engine import Engine
from services.router.models import RouterOutbox, StepRow
from services.runtime import clock, wire
from services.runtime.errors import FailedPrecondition
from services.runtime.wire import Envelope
from tests.support.db import migrated
from tests.support.samples import company_registration

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "router" / "migrations"


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request, tmp_path):
    """The engine on PostgreSQL (its transactions in psycopg's pipeline mode) and on SQLite (the
    local run's database: plain statements)."""
    if request.param == "sqlite":
        url, schema_name = f"sqlite:///{tmp_path / 'router.db'}", None
    else:
        url, schema_name = request.getfixturevalue("pg_url"), request.getfixturevalue("pg_schema")
    db_engine, sessions = migrated(url, schema_name, MIGRATIONS, "alembic_version_router")
    yield Engine(sessions, load(), max_attempts=3), sessions
    db_engine.dispose()


def envelope(msg, message_id=None):
    return Envelope(message=msg, message_id=message_id or uuid.uuid4().hex, type=wire.type_name(msg), routing_key="")


def submitted(case_id="C1"):
    req = company_registration()
    return approval_pb2.CaseSubmitted(case_id=case_id, application_id="A-" + case_id, bundle_code=req.bundle_code,
                                      catalogue_version=load().version, applicant=req.applicant,
                                      materials=list(req.materials), fields=dict(req.fields), clerk_id="clerk-1",
                                      accepted_at=clock.to_timestamp(clock.now()))


def outbox(sessions, prefix=""):
    with sessions() as s:
        rows = s.scalars(select(RouterOutbox).order_by(RouterOutbox.id)).all()
        return [(r.routing_key, wire.decode(r.type, r.body), r.exchange) for r in rows if r.routing_key.startswith(prefix)]


def requests(sessions):
    return [m for _, m, _ in outbox(sessions, "step.") if isinstance(m, approval_pb2.SubApprovalRequest)]


def decide(eng, req, outcome=approval_pb2.OUTCOME_APPROVED, message_id=None, **results):
    reasons = [common_pb2.Reason(code="X", message="不符合条件")] if outcome == approval_pb2.OUTCOME_REFUSED else []
    eng.handle(envelope(approval_pb2.SubApprovalDecision(
        case_id=req.case_id, step_id=req.step_id, department=req.department, outcome=outcome, results=results,
        reasons=reasons, request_message_id=f"req-{req.case_id}-{req.step_id}-{req.attempt}", attempt=req.attempt),
        message_id))


def statuses(sessions):
    return [m for _, m, _ in outbox(sessions, "case.status.")]


def paid(eng, case_id="C1", receipt="150602-2026-00000001"):
    eng.handle(envelope(approval_pb2.PaymentReceived(case_id=case_id, application_id=f"A-{case_id}",
                                                     receipt_number=receipt)))


def test_company_bundle_runs_in_dag_order_and_hands_results_down(engine):
    eng, sessions = engine
    eng.handle(envelope(submitted()))
    first = requests(sessions)
    assert [r.step_id for r in first] == ["licence"]
    decide(eng, first[0], credit_code="91150602MA0000015E", licence_number="150602000000014", company_name="X公司")
    second = requests(sessions)[1:]
    assert [r.step_id for r in second] == ["org_code"]
    assert second[0].upstream["credit_code"] == "91150602MA0000015E"
    decide(eng, second[0], org_code="MA0000015")
    third = requests(sessions)[2:]
    assert {r.step_id for r in third} == {"national_tax", "local_tax"}  # in parallel
    assert all(r.upstream["org_code"] == "MA0000015" for r in third)
    for r in third:
        decide(eng, r, **{f"{r.step_id}_registration": "150602MA0000015"})
    # Approved everywhere: the certificates wait for the fees (paid before handover).
    waiting = statuses(sessions)[-1]
    assert waiting.status == approval_pb2.CASE_STATUS_AWAITING_PAYMENT
    assert all(st.status == common_pb2.STEP_STATUS_APPROVED for st in waiting.steps)
    paid(eng)
    paid(eng, receipt="another")  # a second notice changes nothing
    last = statuses(sessions)[-1]
    assert last.status == approval_pb2.CASE_STATUS_COMPLETED
    assert last.results["credit_code"] == "91150602MA0000015E"
    assert sum(1 for s in statuses(sessions) if s.status == approval_pb2.CASE_STATUS_COMPLETED) == 1
    assert [s.sequence for s in statuses(sessions)] == list(range(1, len(statuses(sessions)) + 1))


def test_a_payment_before_the_end_lets_the_case_complete_at_once(engine):
    eng, sessions = engine
    eng.handle(envelope(submitted()))
    paid(eng)  # paid at the window while the departments work
    lic = requests(sessions)[0]
    decide(eng, lic, credit_code="c", licence_number="l", company_name="n")
    decide(eng, requests(sessions)[1], org_code="o")
    for r in requests(sessions)[2:]:
        decide(eng, r, done="1")
    assert approval_pb2.CASE_STATUS_AWAITING_PAYMENT not in {s.status for s in statuses(sessions)}
    assert statuses(sessions)[-1].status == approval_pb2.CASE_STATUS_COMPLETED


def test_a_case_paid_before_acceptance_starts_the_departments_only_once_paid(engine):
    from hall.v1 import catalogue_pb2
    from services.catalogue import Catalogue

    _, sessions = engine
    proto = catalogue_pb2.Catalogue()
    proto.CopyFrom(load().proto)
    for m in proto.matters:
        if m.fees.charged:
            m.payment_stage = catalogue_pb2.PAYMENT_STAGE_BEFORE_ACCEPTANCE
    eng = Engine(sessions, Catalogue(proto), max_attempts=3)
    eng.handle(envelope(submitted()))
    assert statuses(sessions)[-1].status == approval_pb2.CASE_STATUS_AWAITING_PAYMENT and not requests(sessions)
    paid(eng)
    assert [r.step_id for r in requests(sessions)] == ["licence"]
    assert statuses(sessions)[-1].status == approval_pb2.CASE_STATUS_IN_PROGRESS


def test_a_case_waiting_for_payment_can_be_withdrawn(engine):
    eng, sessions = engine
    eng.handle(envelope(submitted()))
    decide(eng, requests(sessions)[0], credit_code="c", licence_number="l", company_name="n")
    decide(eng, requests(sessions)[1], org_code="o")
    for r in requests(sessions)[2:]:
        decide(eng, r, done="1")
    eng.handle(envelope(approval_pb2.CaseWithdrawn(case_id="C1", reason="不办了")))
    assert statuses(sessions)[-1].status == approval_pb2.CASE_STATUS_WITHDRAWN


def test_duplicate_messages_change_nothing(engine):
    eng, sessions = engine
    msg = submitted()
    eng.handle(envelope(msg, "same"))
    eng.handle(envelope(msg, "same"))
    eng.handle(envelope(msg, "other-id-same-case"))  # a resubmission maps to its first case
    assert len(requests(sessions)) == 1
    req = requests(sessions)[0]
    decide(eng, req, message_id="d1", credit_code="c", licence_number="l", company_name="n")
    before = len(outbox(sessions))
    decide(eng, req, message_id="d1", credit_code="c", licence_number="l", company_name="n")
    decide(eng, req, message_id="d2", credit_code="c", licence_number="l", company_name="n")  # late duplicate
    assert len(outbox(sessions)) == before


def test_refusal_cancels_running_siblings_and_ends_with_every_reason(engine):
    eng, sessions = engine
    eng.handle(envelope(submitted()))
    decide(eng, requests(sessions)[0], credit_code="c", licence_number="l", company_name="n")
    decide(eng, requests(sessions)[1], org_code="o")
    national, local = sorted(requests(sessions)[2:], key=lambda r: r.step_id)[::-1]
    decide(eng, national, approval_pb2.OUTCOME_REFUSED)
    cancels = [m for _, m, _ in outbox(sessions, "step.") if isinstance(m, approval_pb2.CancelStep)]
    assert [c.step_id for c in cancels] == [local.step_id]
    final = statuses(sessions)[-1]
    assert final.status == approval_pb2.CASE_STATUS_REFUSED
    assert [r.code for r in final.reasons] == ["X"]
    decide(eng, local)  # the sibling's late approval changes nothing
    assert statuses(sessions)[-1].status == approval_pb2.CASE_STATUS_REFUSED


def test_withdrawal_cancels_and_ends_the_case(engine):
    eng, sessions = engine
    eng.handle(envelope(submitted()))
    eng.handle(envelope(approval_pb2.CaseWithdrawn(case_id="C1", reason="不办了")))
    assert statuses(sessions)[-1].status == approval_pb2.CASE_STATUS_WITHDRAWN
    assert any(isinstance(m, approval_pb2.CancelStep) for _, m, _ in outbox(sessions, "step."))


def test_technical_failures_back_off_then_become_an_incident_that_can_be_retried_with_fresh_attempts(engine):
    eng, sessions = engine
    eng.handle(envelope(submitted()))
    for attempt in (1, 2, 3):
        req = requests(sessions)[-1]
        assert req.attempt == attempt
        decide(eng, req, approval_pb2.OUTCOME_FAILED)
    exchanges = [ex for rk, m, ex in outbox(sessions, "step.")]
    assert exchanges == ["hall", "hall.retry.1s", "hall.retry.4s"]
    incidents = eng.incidents()
    assert [(i.step_id, i.attempt) for i in incidents] == [("licence", 3)]
    eng.retry_incident("C1", "licence")
    assert requests(sessions)[-1].attempt == 4
    with pytest.raises(FailedPrecondition):
        eng.retry_incident("C1", "licence")
    # The retried step has a fresh set of attempts, backing off from the first delay again.
    for attempt in (4, 5, 6):
        req = requests(sessions)[-1]
        assert req.attempt == attempt
        assert eng.incidents() == []
        decide(eng, req, approval_pb2.OUTCOME_FAILED)
    exchanges = [ex for rk, m, ex in outbox(sessions, "step.")]
    assert exchanges[3:] == ["hall", "hall.retry.1s", "hall.retry.4s"]
    assert [(i.step_id, i.attempt) for i in eng.incidents()] == [("licence", 6)]


def test_the_periodic_count_publishes_the_open_incidents_for_alerting(engine):
    from services.runtime import metrics

    eng, sessions = engine
    eng.count_open_incidents()
    assert metrics.OPEN_INCIDENTS._value.get() == 0
    eng.handle(envelope(submitted()))
    for _ in range(3):
        decide(eng, requests(sessions)[-1], approval_pb2.OUTCOME_FAILED)
    assert eng.count_incidents() == 1
    eng.count_open_incidents()
    assert metrics.OPEN_INCIDENTS._value.get() == 1
    eng.retry_incident("C1", "licence")
    eng.count_open_incidents()
    assert metrics.OPEN_INCIDENTS._value.get() == 0


def test_single_department_matter_is_one_step(engine):
    eng, sessions = engine
    msg = submitted("C9")
    msg.bundle_code, msg.matter_code = "", "150602-JS-0001"
    eng.handle(envelope(msg))
    assert [(r.department, r.step_id) for r in requests(sessions)] == [("family_planning", "main")]
    with sessions() as s:
        assert s.scalar(select(StepRow.status).where(StepRow.case_id == "C9")) == "dispatched"


def test_a_retried_step_keeps_the_start_and_deadline_of_its_first_dispatch(engine):
    """A technical failure sends the step again; its time limit is not restarted: the events
    supervision keeps the ledger from carry the first dispatch as the step's start."""
    eng, sessions = engine
    eng.handle(envelope(submitted()))

    def started():
        with sessions() as s:
            row = s.scalars(select(StepRow).where(StepRow.case_id == "C1", StepRow.step_id == "licence")).one()
            return row.started_at, row.due_at

    first = started()
    assert first[0] is not None
    decide(eng, requests(sessions)[-1], approval_pb2.OUTCOME_FAILED)
    assert requests(sessions)[-1].attempt == 2 and started() == first
    assert clock.from_timestamp(requests(sessions)[-1].due_at) == first[1]
    events = [m for _, m, _ in outbox(sessions, "case.status.")]
    licence = [next(st for st in e.steps if st.step_id == "licence") for e in events]
    assert {clock.from_timestamp(st.started_at) for st in licence if st.HasField("started_at")} == {first[0]}
    assert all(e.HasField("accepted_at") for e in events)


def test_case_keeps_the_plan_it_was_accepted_under(engine):
    eng, sessions = engine
    eng.handle(envelope(submitted()))
    with sessions() as s:
        steps = {st.step_id: st.after for st in s.scalars(select(StepRow).where(StepRow.case_id == "C1"))}
    assert steps == {"licence": [], "org_code": ["licence"], "national_tax": ["org_code"], "local_tax": ["org_code"]}


def test_unknown_catalogue_version_is_not_guessed(engine):
    eng, sessions = engine
    msg = submitted()
    msg.catalogue_version = "1999.1"
    with pytest.raises(LookupError):
        eng.handle(envelope(msg))


def test_two_replicas_racing_on_one_case_neither_double_dispatch_nor_lose_an_update(pg_url, pg_schema):
    import threading

    engines = []
    for _ in range(2):
        db_engine, sessions = migrated(pg_url, pg_schema, MIGRATIONS, "alembic_version_router")
        engines.append((Engine(sessions, load()), sessions, db_engine))
    (a, sessions, _), (b, _, _) = engines[0], engines[1]
    for i in range(20):
        case = f"R{i}"
        a.handle(envelope(submitted(case)))
        lic = [r for r in requests(sessions) if r.case_id == case][0]
        decide(a, lic, credit_code="c", licence_number="l", company_name="n")
        org = [r for r in requests(sessions) if r.case_id == case and r.step_id == "org_code"][0]
        # the same decision delivered to both replicas at once, under different message ids
        barrier = threading.Barrier(2)

        def deliver(eng, req=org, barrier=barrier):
            barrier.wait()
            decide(eng, req, org_code="o")

        threads = [threading.Thread(target=deliver, args=(e,)) for e in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        taxes = [r for r in requests(sessions) if r.case_id == case and r.step_id.endswith("_tax")]
        assert sorted(r.step_id for r in taxes) == ["local_tax", "national_tax"]  # dispatched once each
        # the two parallel tax decisions land on different replicas at the same moment
        barrier = threading.Barrier(2)

        def finish(eng, req, barrier=barrier):
            barrier.wait()
            decide(eng, req, done="1")

        threads = [threading.Thread(target=finish, args=(e, r)) for e, r in zip((a, b), taxes, strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        paid(a, case)
        completed = [s for s in statuses(sessions) if s.case_id == case and s.status == approval_pb2.CASE_STATUS_COMPLETED]
        assert len(completed) == 1
    for _, _, db_engine in engines:
        db_engine.dispose()


def test_one_message_delivered_to_two_replicas_at_once_is_handled_once_without_error(pg_url, pg_schema):
    import threading

    engines = []
    for _ in range(2):
        db_engine, sessions = migrated(pg_url, pg_schema, MIGRATIONS, "alembic_version_router")
        engines.append((Engine(sessions, load()), db_engine))
    for i in range(10):
        msg = envelope(submitted(f"D{i}"), message_id=f"same-{i}")  # a redelivery racing the first delivery
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def deliver(eng, msg=msg, barrier=barrier, errors=errors):
            barrier.wait()
            try:
                eng.handle(msg)
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

        threads = [threading.Thread(target=deliver, args=(e,)) for e, _ in engines]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []  # the second waits for the first and skips it: no retry needed
        assert len([r for r in requests(sessions) if r.case_id == f"D{i}"]) == 1
    for _, db_engine in engines:
        db_engine.dispose()

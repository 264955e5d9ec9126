"""Applications against a real PostgreSQL: idempotent acceptance and the router's status events
(in order, out of order, duplicated) applied once each."""

from pathlib import Path

import pytest

from hall.v1 import approval_pb2, common_pb2, intake_pb2
from services.catalogue import load
from services.intake.applications import Applications, RequestIdReused
from services.intake.changes import channel
from services.runtime import clock, db
from tests.support.db import migrated
from tests.support.samples import company_registration

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "intake" / "migrations"
S = intake_pb2.ApplicationStatus


@pytest.fixture
def apps(pg_url, pg_schema):
    engine, sessions = migrated(pg_url, pg_schema, MIGRATIONS, "alembic_version_intake")
    yield Applications(sessions, load())
    engine.dispose()


def status(app, seq, case_status=approval_pb2.CASE_STATUS_IN_PROGRESS, step_id="licence", step_status=common_pb2.STEP_STATUS_APPROVED):
    return approval_pb2.CaseStatusChanged(case_id=app.case_id, application_id=app.application_id,
                                          status=case_status, step_id=step_id, step_status=step_status,
                                          sequence=seq, at=clock.to_timestamp(clock.now()))


def test_a_resubmitted_request_maps_to_its_first_application(apps):
    req = company_registration()
    first, replayed = apps.submit(req)
    again, replayed_again = apps.submit(req)
    assert (replayed, replayed_again) == (False, True)
    assert again.application_id == first.application_id and again.case_id == first.case_id
    changed = company_registration(request_id=req.request_id)
    with pytest.raises(RequestIdReused):
        apps.submit(changed)


def test_status_events_apply_once_and_the_newest_wins(apps):
    app, _ = apps.submit(company_registration())
    done = status(app, 3, approval_pb2.CASE_STATUS_COMPLETED, "local_tax")
    apps.apply_statuses([status(app, 2, step_id="org_code"), done, status(app, 1)])
    apps.apply_statuses([status(app, 2, step_id="org_code"), status(app, 1)])  # redelivered: nothing changes
    row = apps.get(app.application_id)
    assert row.status == S.APPLICATION_STATUS_COMPLETED and row.last_sequence == 3
    assert [e.sequence for e in apps.events_after(app.application_id, -1)] == [0, 1, 2, 3]
    apps.apply_statuses([status(app, 2, step_id="late")])  # stale: already recorded, status unchanged
    assert apps.get(app.application_id).status == S.APPLICATION_STATUS_COMPLETED


def test_status_of_an_unknown_case_is_refused_for_a_retry(apps):
    app, _ = apps.submit(company_registration())
    ghost = approval_pb2.CaseStatusChanged(case_id="NO-SUCH-CASE", status=approval_pb2.CASE_STATUS_IN_PROGRESS,
                                           sequence=1)
    with pytest.raises(LookupError):
        apps.apply_statuses([status(app, 1), ghost])
    assert apps.get(app.application_id).last_sequence == 0  # the batch changed nothing


def test_a_database_restart_under_a_status_batch_fails_it_once_then_it_applies_once(throwaway_pg):
    """The batch's writes, NOTIFY and COMMIT travel in one pipeline: a restart under it fails the
    batch whole (the consumer requeues it), and the redelivery is applied once on a new connection."""
    engine = db.make_engine(throwaway_pg.url, "intake_restart", pool_size=2)
    try:
        db.migrate(engine, MIGRATIONS, "alembic_version_intake")
        apps = Applications(db.session_factory(engine), load(), notify_channel=channel("intake_restart"))
        app, _ = apps.submit(company_registration())
        throwaway_pg.restart()  # the pooled connection was in use a moment ago: not pinged
        with pytest.raises(Exception):  # noqa: B017 - whichever driver error: the consumer requeues
            apps.apply_statuses([status(app, 1)])
        apps.apply_statuses([status(app, 1), status(app, 2, step_id="org_code")])
        apps.apply_statuses([status(app, 1)])  # redelivered once more: nothing changes
        assert [e.sequence for e in apps.events_after(app.application_id, -1)] == [0, 1, 2]
        assert apps.get(app.application_id).last_sequence == 2
    finally:
        engine.dispose()


def _accepted_at(apps, monkeypatch, when):
    import datetime as dt

    monkeypatch.setattr(clock, "now", lambda: when.astimezone(dt.UTC))
    app, _ = apps.submit(company_registration())
    return app


def test_the_promised_date_is_counted_from_the_first_working_day_after_acceptance(apps, monkeypatch):
    """The company bundle promises 1 working day: accepted on Saturday 28 November 2026, it is due
    on Monday 30 November (day 1), not on the Monday of acceptance's count as day 0."""
    import datetime as dt

    app = _accepted_at(apps, monkeypatch, dt.datetime(2026, 11, 28, 10, tzinfo=clock.SHANGHAI))
    assert clock.local(clock.from_timestamp(app.promised_by)).date() == dt.date(2026, 11, 30)
    assert not app.promised_by_provisional
    friday = _accepted_at(apps, monkeypatch, dt.datetime(2026, 9, 30, 16, tzinfo=clock.SHANGHAI))
    assert clock.local(clock.from_timestamp(friday.promised_by)).date() == dt.date(2026, 10, 8)  # after National Day


def test_a_promised_date_in_an_unpublished_year_is_accepted_and_marked_provisional(apps, monkeypatch):
    import datetime as dt

    app = _accepted_at(apps, monkeypatch, dt.datetime(2026, 12, 31, 10, tzinfo=clock.SHANGHAI))
    assert app.status == S.APPLICATION_STATUS_ACCEPTED and app.promised_by_provisional
    assert clock.local(clock.from_timestamp(app.promised_by)).date() == dt.date(2027, 1, 1)  # Mon-Fri counted


def test_a_provisional_promise_is_counted_again_once_its_year_is_published(apps, monkeypatch, tmp_path):
    import datetime as dt

    from services.domain.calendar import build

    app = _accepted_at(apps, monkeypatch, dt.datetime(2026, 12, 31, 10, tzinfo=clock.SHANGHAI))
    assert app.promised_by_provisional
    assert apps.recompute_provisional() == []  # 2027 is still unknown: nothing to do
    notice = tmp_path / "calendar.toml"
    notice.write_text('[2027]\nholidays = [{ name = "元旦", days = "2027-01-01..2027-01-03" }]\n', encoding="utf-8")
    apps.calendar = build(notice)
    [(row, before, counted)] = apps.recompute_provisional()
    assert row.case_id == app.case_id and clock.local(before).date() == dt.date(2027, 1, 1)
    assert counted.day == dt.date(2027, 1, 4) and "元旦放假" in counted.explanation()
    again = apps.view(apps.get(app.application_id))
    assert not again.promised_by_provisional
    assert clock.local(clock.from_timestamp(again.promised_by)).date() == dt.date(2027, 1, 4)
    assert apps.recompute_provisional() == []  # counted once


def test_a_withdrawal_is_sent_once_however_often_it_is_asked(apps):
    from sqlalchemy import func, select

    from services.intake.models import IntakeOutbox

    app, _ = apps.submit(company_registration())
    first = apps.withdraw(app.application_id, "申请人撤回")
    again = apps.withdraw(app.application_id, "申请人撤回")  # before the router answered
    assert first.withdrawal_requested and again.withdrawal_requested
    assert again.status == S.APPLICATION_STATUS_ACCEPTED
    with apps._sessions() as s:
        sent = s.scalar(select(func.count()).select_from(IntakeOutbox).where(IntakeOutbox.routing_key == "case.withdrawn"))
    assert sent == 1
    apps.apply_statuses([status(app, 1, approval_pb2.CASE_STATUS_WITHDRAWN)])
    assert apps.withdraw(app.application_id, "").status == S.APPLICATION_STATUS_WITHDRAWN


def test_an_ended_case_cannot_be_withdrawn(apps):
    from services.runtime.errors import FailedPrecondition

    app, _ = apps.submit(company_registration())
    apps.apply_statuses([status(app, 1, approval_pb2.CASE_STATUS_COMPLETED, "local_tax")])
    with pytest.raises(FailedPrecondition):
        apps.withdraw(app.application_id, "")

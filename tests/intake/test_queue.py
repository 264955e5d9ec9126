"""Queue ticketing against a real PostgreSQL: numbering per group and day, the calling order,
recall, no-show, transfer, the estimated wait, the board, and the first-inquiry owner carried
into the case."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hall.v1 import queue_pb2
from services.catalogue import load
from services.intake.applications import Applications
from services.intake.queue import estimate
from services.runtime import clock
from services.runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from tests.support.db import migrated
from tests.support.samples import COMPANY_BUNDLE, company_registration

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "intake" / "migrations"
T = queue_pb2.TicketStatus
PLANNING = "150602-GH-0001"


@pytest.fixture
def now(monkeypatch):
    """A movable clock: a working morning in Shanghai."""
    moment = [datetime.fromisoformat("2026-12-07T09:00:00+08:00")]
    monkeypatch.setattr(clock, "now", lambda: moment[0])
    return moment


@pytest.fixture
def apps(pg_url, pg_schema, now):
    engine, sessions = migrated(pg_url, pg_schema, MIGRATIONS, "alembic_version_intake")
    yield Applications(sessions, load())
    engine.dispose()


def take(apps, *, bundle=COMPANY_BUNDLE, matter=""):
    return apps.queue.take(queue_pb2.TakeTicketRequest(request_id=uuid.uuid4().hex, bundle_code="" if matter else bundle,
                                                       matter_code=matter))


def test_tickets_are_numbered_per_group_and_day(apps, now):
    assert [take(apps).number for _ in range(3)] == ["A001", "A002", "A003"]
    assert take(apps, matter=PLANNING).number == "B001"
    now[0] += timedelta(days=1)
    assert take(apps).number == "A001"


def test_the_same_press_is_the_same_ticket(apps):
    req = queue_pb2.TakeTicketRequest(request_id="kiosk-1", bundle_code=COMPANY_BUNDLE)
    assert apps.queue.take(req).ticket_id == apps.queue.take(req).ticket_id


def test_windows_call_in_order_and_calling_next_finishes_the_last(apps, now):
    a1, a2 = take(apps), take(apps)
    first = apps.queue.call_next("A01", "clerk-1")
    assert first.called.number == a1.number and first.called.status == T.TICKET_STATUS_CALLED
    assert first.called.first_inquiry_clerk_id == "clerk-1" and not first.HasField("finished")
    now[0] += timedelta(minutes=10)
    second = apps.queue.call_next("A01", "clerk-1")
    assert second.called.number == a2.number
    assert second.finished.number == a1.number and second.finished.status == T.TICKET_STATUS_SERVED
    nobody = apps.queue.call_next("A01", "clerk-1")
    assert not nobody.HasField("called") and nobody.finished.number == a2.number


def test_a_window_calls_only_its_own_group(apps):
    take(apps, matter=PLANNING)
    assert not apps.queue.call_next("A01", "clerk-1").HasField("called")
    assert apps.queue.call_next("B01", "clerk-2").called.number == "B001"


def test_a_transferred_ticket_keeps_its_number_and_owner_and_goes_first(apps):
    moved, waiting_b = take(apps), take(apps, matter=PLANNING)
    called = apps.queue.call_next("A01", "clerk-1").called
    assert called.ticket_id == moved.ticket_id
    transferred = apps.queue.transfer(moved.ticket_id, "B")
    assert (transferred.number, transferred.group, transferred.status) == ("A001", "B", T.TICKET_STATUS_WAITING)
    assert transferred.ahead == 0 and transferred.transfers == 1
    at_b = apps.queue.call_next("B01", "clerk-2").called
    assert at_b.ticket_id == moved.ticket_id and at_b.first_inquiry_clerk_id == "clerk-1"  # 首问负责 stays
    assert apps.queue.call_next("B01", "clerk-2").called.ticket_id == waiting_b.ticket_id


def test_recall_and_no_show_only_at_the_window_holding_the_ticket(apps):
    t = take(apps)
    apps.queue.call_next("A01", "clerk-1")
    assert apps.queue.recall(t.ticket_id, "A01").calls == 2
    with pytest.raises(FailedPrecondition):
        apps.queue.recall(t.ticket_id, "A02")
    assert apps.queue.no_show(t.ticket_id, "A01").status == T.TICKET_STATUS_NO_SHOW
    with pytest.raises(FailedPrecondition):
        apps.queue.transfer(t.ticket_id, "B")


def test_bad_queue_input_is_refused_with_fields(apps):
    with pytest.raises(InvalidArgument) as err:
        apps.queue.call_next("Z99", "")
    assert {f for f, _ in err.value.violations} == {"window_id", "clerk_id"}
    with pytest.raises(InvalidArgument):
        apps.queue.take(queue_pb2.TakeTicketRequest(request_id="x", matter_code=PLANNING, bundle_code=COMPANY_BUNDLE))
    with pytest.raises(NotFound):
        apps.queue.take(queue_pb2.TakeTicketRequest(request_id="y", matter_code="NOPE"))
    with pytest.raises(InvalidArgument):
        apps.queue.transfer(take(apps).ticket_id, "Q")


def test_the_estimated_wait_follows_the_open_windows_and_todays_service_time(apps, now):
    typical = load().window_groups["A"].typical_service_minutes
    tickets = [take(apps) for _ in range(7)]
    assert tickets[-1].ahead == 6 and tickets[-1].estimated_wait_minutes == 6 * typical  # one window assumed
    for window in ("A01", "A02"):  # two windows at work: half the rounds
        apps.queue.call_next(window, f"clerk-{window}")
    assert apps.queue.get(tickets[-1].ticket_id).estimated_wait_minutes == estimate(4, 2, typical)
    for _ in range(3):  # three visits of 5 minutes each at A01: today's figure replaces the typical one
        now[0] += timedelta(minutes=5)
        apps.queue.call_next("A01", "clerk-A01")
    wait = next(w for w in apps.queue.waits() if w.group == "A")
    assert wait.service_minutes == 5 and wait.open_windows == 2 and wait.waiting == 2


def test_two_windows_calling_at_once_never_get_the_same_ticket(apps):
    for _ in range(20):
        take(apps)
    got: list[str] = []
    lock = threading.Lock()

    def window(name):
        for _ in range(10):
            called = apps.queue.call_next(name, f"clerk-{name}").called
            with lock:
                got.append(called.number)

    threads = [threading.Thread(target=window, args=(w,)) for w in ("A01", "A02")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == [f"A{i:03d}" for i in range(1, 21)]


def test_the_board_shows_each_window_and_todays_figures(apps, now):
    take(apps), take(apps), take(apps, matter=PLANNING)
    apps.queue.call_next("A01", "clerk-1")
    now[0] += timedelta(minutes=3)
    apps.queue.call_next("A02", "clerk-2")
    board = apps.queue.board()
    windows = {w.window_id: w.ticket_number for w in board.windows}
    assert windows["A01"] == "A001" and windows["A02"] == "A002" and windows["B01"] == ""
    assert [c.ticket_number for c in board.recent_calls] == ["A002", "A001"]
    assert (board.today.taken, board.today.waiting, board.today.served) == (3, 1, 0)
    assert board.today.average_wait_minutes == 2  # 0 and 3 minutes


def test_the_case_carries_its_ticket_and_first_inquiry_owner(apps):
    ticket = take(apps)
    apps.queue.call_next("A01", "clerk-first")
    req = company_registration(clerk_id="clerk-accepts")
    req.ticket_id = ticket.ticket_id
    app, _ = apps.submit(req)
    assert (app.ticket_number, app.first_inquiry_clerk_id, app.clerk_id) == ("A001", "clerk-first", "clerk-accepts")
    assert apps.queue.get(ticket.ticket_id).case_id == app.case_id
    assert apps.submit(req)[1] is True  # the same request again: the same case, the ticket moved on or not


def test_a_ticket_must_have_been_called_and_be_in_the_matters_group(apps):
    waiting = take(apps)
    req = company_registration()
    req.ticket_id = waiting.ticket_id
    with pytest.raises(FailedPrecondition, match="尚未叫号"):
        apps.submit(req)
    planning = take(apps, matter=PLANNING)
    apps.queue.call_next("B01", "clerk-2")
    req.ticket_id = planning.ticket_id
    with pytest.raises(FailedPrecondition) as err:
        apps.submit(req)
    assert err.value.violations[0][0] == "TICKET_WRONG_GROUP"


def test_without_a_ticket_the_accepting_clerk_owns_the_case(apps):
    app, _ = apps.submit(company_registration(clerk_id="clerk-9"))
    assert app.first_inquiry_clerk_id == "clerk-9" and app.ticket_number == ""

# ruff: noqa: F811 - the fixtures imported from test_deadlines are requested by name
"""The inspectors' side end to end, under an injected clock, through gRPC and the counter client:
a planning permit is accepted, its expert review runs, it goes yellow, is decided and completes;
the applicant's bad evaluation is called back and rectified; a complaint is filed and answered.
Then the feed (read, then resumed from a cursor as a reconnecting screen would), a report, the
export against its column schema, and the dashboard in a real headless Chromium."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import urllib.request
import uuid
from pathlib import Path

import jsonschema
import pytest

from hall.v1 import department_pb2
from hall.v1 import inspection_pb2 as ipb
from hall.v1 import supervision_pb2 as pb
from services.supervision import exchange

# The suite under an injected clock: the same fixtures as the deadlines' test (a suite per module).
from tests.e2e.test_deadlines import _known, at, counter, fake_clock, suite, wait_cards  # noqa: F401
from tests.e2e.test_single_matters import large_project, planning_desk, wait_pending  # noqa: F401
from tests.support import tokens
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"


def feed(counter, **kw):
    inspector = counter.signed_in(tokens.supervisor())  # the feed is the inspectors'
    return [r.entry for r in inspector.inspection.WatchFeed(ipb.WatchFeedRequest(**kw), timeout=10)]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("headless Chromium is not installed: `make test` installs it (apt-get install chromium "
                    "fonts-noto-cjk, as root); install it by hand where make cannot")
    return found


def browse(url: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--window-size=1400,900", *flags, url], capture_output=True, text=True, timeout=90)


def screenshot(url: str, name: str) -> Path:
    """The page at `url` as Chromium renders it, saved in var/test-artifacts/ (kept after the run)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / name
    shot.unlink(missing_ok=True)
    taken = browse(url, "--timeout=10000", f"--screenshot={shot}")
    assert taken.returncode == 0 and shot.stat().st_size > 10_000, taken.stderr[-2000:]
    return shot


def test_a_case_through_cards_evaluation_and_complaint_as_the_inspectors_see_it(suite, counter, planning_desk,  # noqa: F811
                                                                                fake_clock, monkeypatch, capsys,
                                                                                tmp_path):
    _, env = suite
    inspection = counter.inspection  # the clerk's window: evaluations and complaints
    inspector = counter.signed_in(tokens.supervisor()).inspection
    planner = counter.signed_in(tokens.officer("planning", "gh-lead")).inspection
    app = counter.submit(large_project("东胜区图书馆", "380", "9000")).application
    mid = wait_pending(planning_desk, app.case_id)[0].request_message_id
    assert wait_until(lambda: _known(counter, app.case_id), timeout=30)
    fake_clock.set(at(2024, 10, 14, 9))
    planning_desk.StartSpecialProcedure(department_pb2.StartSpecialProcedureRequest(
        request_message_id=mid, kind="专家评审", reason="高度超过24米", officer_id="gh-007"), timeout=5)
    # Days pass only once supervision has heard of the procedure (in a hall, a moment after).
    assert wait_until(lambda: _clock_state(counter, app.case_id) == pb.CLOCK_STATE_PAUSED, timeout=30)
    fake_clock.set(at(2024, 10, 15, 17))
    planning_desk.EndSpecialProcedure(department_pb2.EndSpecialProcedureRequest(
        request_message_id=mid, result="通过", officer_id="gh-007"), timeout=5)
    assert wait_until(lambda: _clock_state(counter, app.case_id) == pb.CLOCK_STATE_RUNNING, timeout=30)
    fake_clock.set(at(2024, 10, 30, 9))
    wait_cards(counter, app.case_id, {("", pb.CARD_LEVEL_YELLOW)})
    planning_desk.Decide(department_pb2.DecideRequest(request_message_id=mid, approve=True, officer_id="gh-007",
                                                      results={"permit_number": "建字第150602202400188号"}), timeout=5)
    final = list(counter.watch(app.application_id, timeout=60))[-1].application
    assert final.results["permit_number"] == "建字第150602202400188号"

    # The feed: everything, in order; then a screen that saw up to the procedure reconnects.
    def kinds_so_far():
        return [e.kind for e in feed(counter) if e.case_id == app.case_id]

    assert wait_until(lambda: ipb.FEED_KIND_COMPLETED in kinds_so_far(), timeout=30)
    entries = [e for e in feed(counter) if e.case_id == app.case_id]
    kinds = [e.kind for e in entries]
    assert kinds[:4] == [ipb.FEED_KIND_ACCEPTED, ipb.FEED_KIND_STEP_STARTED, ipb.FEED_KIND_PROCEDURE_STARTED,
                         ipb.FEED_KIND_PROCEDURE_ENDED]
    assert ipb.FEED_KIND_CARD in kinds and kinds[-2:] == [ipb.FEED_KIND_STEP_ENDED, ipb.FEED_KIND_COMPLETED]
    cursor = entries[3].cursor
    resumed = [e for e in feed(counter, after=cursor) if e.case_id == app.case_id]
    assert [e.cursor for e in resumed] == [e.cursor for e in entries[4:]]
    assert all(e.case_id != app.case_id for e in feed(counter, department="quality", after=cursor))

    # A bad evaluation: call-back, rectification; a complaint: routed, answered, replied to.
    fake_clock.set(at(2024, 10, 30, 10))
    ev = inspection.Evaluate(ipb.EvaluateRequest(case_id=app.case_id, level=ipb.SATISFACTION_DISSATISFIED,
                                                 channel=ipb.EVALUATION_CHANNEL_WINDOW, comment="办理超时",
                                                 evaluator="138****1234"), timeout=5).evaluation
    assert ev.state == ipb.EVALUATION_STATE_RECTIFYING and ev.department == "planning" and not ev.evaluator
    inspector.RecordCallback(ipb.RecordCallbackRequest(evaluation_id=ev.evaluation_id, officer_id="inspector-0001",
                                                        note="已电话回访，说明专家评审情况"), timeout=5)
    done = planner.CompleteRectification(ipb.CompleteRectificationRequest(
        evaluation_id=ev.evaluation_id, department="planning", officer_id="gh-lead", note="评审前主动告知时限"),
        timeout=5).evaluation
    assert done.state == ipb.EVALUATION_STATE_RECTIFIED
    complaint = inspection.FileComplaint(ipb.FileComplaintRequest(
        request_id=uuid.uuid4().hex, target=ipb.COMPLAINT_TARGET_CASE, case_id=app.case_id, text="超过承诺时限",
        evaluation_id=ev.evaluation_id), timeout=5).complaint
    assert complaint.department == "planning"
    planner.AnswerComplaint(ipb.AnswerComplaintRequest(complaint_id=complaint.complaint_id, department="planning",
                                                          officer_id="gh-lead", text="已约谈承办人"), timeout=5)
    inspector.RecordComplainantReply(ipb.RecordComplainantReplyRequest(
        complaint_id=complaint.complaint_id, satisfied=True), timeout=5)
    chain = inspector.GetChain(ipb.GetChainRequest(case_id=app.case_id), timeout=5)
    assert (list(chain.evaluation_ids), list(chain.complaint_ids)) == ([ev.evaluation_id], [complaint.complaint_id])
    evaluation_kinds = [e.kind for e in feed(counter, after=entries[-1].cursor) if e.case_id == app.case_id]
    assert evaluation_kinds.count(ipb.FEED_KIND_EVALUATION) == 3 and evaluation_kinds.count(ipb.FEED_KIND_COMPLAINT) == 3

    # The report and the export, through the counter client.
    from services.counter.__main__ import main

    for name, value in env.items():
        if name.startswith("HALL_") and name.endswith("_PORT"):
            monkeypatch.setenv(name, value)
    capsys.readouterr()
    monkeypatch.setenv("HALL_TOKEN", counter.token)  # the clerk at the window
    assert main(["complain", "--department", "quality", "--text", "咨询电话无人接听"]) == 0
    assert "已登记投诉" in capsys.readouterr().out
    assert main(["evaluate", app.case_id, "--level", "满意"]) == 0
    assert "已评价过（一次一评）" in capsys.readouterr().out
    monkeypatch.setenv("HALL_TOKEN", tokens.supervisor())
    assert main(["report", "--from", "2024-09-30", "--to", "2024-10-31", "--by", "department"]) == 0
    report = capsys.readouterr().out
    assert "规划" in report and "效能报表 2024-09-30 至 2024-10-31" in report
    got = inspector.GetReport(ipb.GetReportRequest(from_date="2024-09-30", to_date="2024-10-31"), timeout=10).hall
    assert got.accepted >= 1 and got.completed >= 1 and got.on_time.denominator >= 1
    assert main(["export", "--from", "2024-09-30", "--to", "2024-09-30", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "exchange.json").read_text(encoding="utf-8"))
    schema = exchange.schema()
    for table, rows in data["tables"].items():
        with (tmp_path / f"{table}.csv").open(encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            assert next(reader) == list(schema["tables"][table]["properties"])
            assert sum(1 for _ in reader) == len(rows)
        for row in rows:
            jsonschema.validate(row, schema["tables"][table], format_checker=jsonschema.FormatChecker())
    ours = [r for r in data["tables"]["result"] if r["case_number"] == app.case_id]
    assert [(r["certificate_number"], r["satisfaction"]) for r in ours] == [("建字第150602202400188号", "不满意")]
    (acc,) = [r for r in data["tables"]["acceptance"] if r["case_number"] == app.case_id]
    assert acc["applicant_id"][6:-4] == "********" and acc["applicant_name"] == "张*"

    # The dashboard in headless Chromium: a card raised a moment ago is on the page.
    fake_clock.set(at(2024, 11, 1, 9))
    other = counter.submit(large_project("东胜区档案馆", "380", "9000")).application
    wait_pending(planning_desk, other.case_id)
    fake_clock.set(at(2024, 11, 23, 9))  # promised: 15 working days after 1 November, the 22nd
    (yellow,) = [c for (step, level), c in wait_cards(counter, other.case_id, {("", pb.CARD_LEVEL_YELLOW)}).items()
                 if (step, level) == ("", pb.CARD_LEVEL_YELLOW)]
    url = f"http://127.0.0.1:{env['HALL_WEB_PORT']}/supervision"
    assert wait_until(lambda: _answers(url), timeout=30), f"{url} does not answer"
    dom = browse(url, "--timeout=10000", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert yellow.explanation in dom.stdout and other.case_id in dom.stdout
    assert "按时办结率" in dom.stdout and "实时动态" in dom.stdout
    screenshot(url, "supervision-dashboard.png")

    # The page's live stream: server-sent events from a cursor, and from Last-Event-ID on a reconnect.
    last = feed(counter, last=2)
    events = f"{url}/events"
    assert _first_event(f"{events}?after={last[0].cursor - 1}") == (last[0].cursor, last[0].text)
    assert _first_event(events, {"Last-Event-ID": str(last[0].cursor)}) == (last[1].cursor, last[1].text)


def _clock_state(counter, case_id: str) -> int:
    got = counter.supervision.GetCaseDeadlines(pb.GetCaseDeadlinesRequest(case_id=case_id), timeout=5)
    return got.case_deadline.state


def _first_event(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as stream:
        event_id = None
        for raw in stream:
            line = raw.decode("utf-8").rstrip("\n")
            if line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("data: ") and event_id is not None:
                return event_id, json.loads(line[6:])["text"]
    raise AssertionError("the stream ended without an event")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url.replace("/supervision", "/healthz"), timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


# ruff: noqa: F811 - the fixtures imported from test_single_matters are requested by name
"""A visit to the hall, scripted through the counter client's commands against the running suite:
a ticket is taken at the kiosk and called at a window; the application, written in human units,
goes in with one deliberate error of each kind and comes back as one notice listing them all; the
corrected one is accepted with the ticket (its caller the first-inquiry owner), watched to
completion, paid once with its receipt printed and verified, and the visit evaluated. A second case is withdrawn twice while
in flight. The LED board shows the called ticket in a real headless Chromium."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from hall.v1 import inspection_pb2 as ipb
from hall.v1 import intake_pb2, queue_pb2
from services.counter.__main__ import main as hall_main
from tests.e2e.test_inspection import browse, screenshot
from tests.e2e.test_single_matters import large_project, planning_desk, wait_pending  # noqa: F401
from tests.support import tokens
from tests.support.processes import counter_of
from tests.support.samples import COMPANY_BUNDLE, sample_resident_id
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
S = intake_pb2.ApplicationStatus


@pytest.fixture
def hall(suite, monkeypatch, capsys):
    """Run `hall ARGS...` in this process against the suite; (exit code, stdout, stderr)."""
    _, env = suite
    for key, value in env.items():
        if key.startswith("HALL_") and key.endswith("_PORT"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("HALL_HOST", "127.0.0.1")
    monkeypatch.setenv("HALL_TOKEN", tokens.clerk("clerk-0101", "A01"))  # signed in at window A01

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = hall_main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def application_file(path: Path, **changes: object) -> Path:
    """The company registration as a clerk writes it: yuan, labels, a resident id with spaces."""
    rep = sample_resident_id()
    data: dict[str, object] = {
        "bundle": COMPANY_BUNDLE,
        "applicant": {"kind": "个人", "name": "王建军", "id_number": rep, "phone": "139 0477 0123"},
        "materials": ["M-GS-APPLY", "M-GS-ARTICLES", "M-ID-SHAREHOLDERS", "M-ID-LEGALREP", "M-GS-ADDRESS",
                      "M-ZJ-APPLY", "M-TAX-FORM"],
        "fields": {"company_name": f"东胜区鑫达{path.stem[-6:].upper()}商贸有限公司", "registered_capital": "50万",
                   "business_scope": "日用百货、五金交电销售", "法定代表人姓名": "王建军",
                   "legal_rep_id": " ".join([rep[:6], rep[6:14], rep[14:]]), "address": "鄂尔多斯市东胜区天骄北路1号"},
    }
    for key, value in changes.items():
        section, _, name = key.partition("__")
        if name:
            data[section][name] = value  # type: ignore[index]
        else:
            data[section] = value
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_a_visit_from_ticket_to_evaluation_through_the_counter_client(suite, hall, planning_desk, tmp_path,  # noqa: F811
                                                                     monkeypatch):
    _, env = suite
    # The kiosk: the guide search, the disclosure, the blank notice, a ticket.
    code, out, _ = hall("search", "开办企业")
    assert code == 0 and COMPANY_BUNDLE in out
    code, out, _ = hall("matter", "150602-GS-0001")
    assert code == 0 and "设定依据" in out and "申请材料" in out and "M-GS-APPLY" in out
    code, out, _ = hall("notice", COMPANY_BUNDLE)
    assert code == 0 and "一次性告知书" in out and "需提交的材料" in out and "办理时限" in out
    code, out, _ = hall("ticket", "take", COMPANY_BUNDLE)
    assert code == 0, out
    number, ticket_id = re.search(r"取号：(A\d{3}).*\[票号编号 (\w+)\]", out).groups()  # type: ignore[union-attr]

    # The window calls it: the clerk who calls is the first-inquiry owner.
    code, out, _ = hall("ticket", "call", "--window", "A01")
    assert code == 0 and f"请 {number} 号到 A01 窗口" in out

    # One error of each kind, and one notice listing them all.
    rep = sample_resident_id()
    wrong = application_file(
        tmp_path / "wrong.yaml",
        fields__registered_capital="0",                          # an amount below the rule's minimum
        fields__legal_rep_id=rep[:-1] + ("1" if rep[-1] != "1" else "2"),  # an ID number in the form
        fields__business_scope="售" * 1001,                      # a string beyond its length
        fields__法定代表人姓名="王建军2",                        # a name that is not one
        applicant__phone="12",                                  # the applicant's phone
        materials=["M-GS-APPLY", "M-GS-ARTICLES", "M-ID-SHAREHOLDERS", "M-ID-LEGALREP", "M-ZJ-APPLY", "M-TAX-FORM"])
    code, out, _ = hall("submit", str(wrong), "--ticket", ticket_id)
    assert code == 1, out
    assert out.count("一次性告知书") >= 2 and "未受理" in out
    for expected in ("注册资本应在", "法定代表人公民身份号码", "经营范围不得超过1000个字符", "法定代表人姓名应为汉字姓名",
                     "联系电话", "缺少：住所使用证明", "【未提交】"):
        assert expected in out, expected
    notice_id = re.search(r"hall notice --id (\w+)", out).group(1)  # type: ignore[union-attr]
    printed = tmp_path / "notice.txt"
    code, out, _ = hall("notice", "--id", notice_id, "--out", str(printed))
    assert code == 0 and "缺少：住所使用证明" in printed.read_text(encoding="utf-8")

    # Corrected, accepted with the ticket by the window's next clerk, watched to completion.
    monkeypatch.setenv("HALL_TOKEN", tokens.clerk("clerk-0102", "A01"))
    code, out, err = hall("submit", str(application_file(tmp_path / "right-a1b2c3.yaml")),
                          "--ticket", ticket_id)
    assert code == 0, out + err
    application_id, case_id = re.search(r"申请 (\w+)，案件 (\w+)", out).groups()  # type: ignore[union-attr]
    assert "首问负责人 clerk-0101" in out and f"票号 {number}" in out
    code, out, _ = hall("watch", application_id, "--timeout", "120")
    assert code == 0 and "结果：待缴费" in out and "credit_code" in out, out  # approved: the fees first

    # Paid once at the window, the receipt printed and checked by its number and check code.
    code, out, err = hall("quote", application_id)
    assert code == 0 and "应缴合计 ¥35.00（叁拾伍元整）" in out, out + err
    code, out, err = hall("pay", application_id, "--method", "card")
    assert code == 0 and "已收款：¥35.00，银行卡" in out and "统一收费票据" in out and "叁拾伍元整" in out, out + err
    receipt_out = out
    code, out, _ = hall("watch", application_id, "--timeout", "60")
    assert code == 0 and "结果：已办结" in out, out
    out = receipt_out
    receipt_number, check = re.search(r"hall verify-receipt (\S+) (\S+)）", out).groups()  # type: ignore[union-attr]
    code, out, _ = hall("verify-receipt", receipt_number, check)
    assert code == 0 and "真实有效" in out
    code, out, _ = hall("verify-receipt", receipt_number, "A" * 16)
    assert code == 1 and "验证未通过" in out
    pdf = tmp_path / "receipt.pdf"
    code, out, _ = hall("receipt", "--number", receipt_number, "--pdf", str(pdf))
    assert code == 0 and receipt_number in out and "小计" in out and pdf.read_bytes().startswith(b"%PDF")
    code, out, err = hall("evaluate", "--visit", ticket_id, "--level", "满意")
    assert code == 0 and "已记录评价" in out, out + err
    # The inspectors' id chain runs from the ticket to the case and the evaluation; the feed names
    # the first-inquiry owner.
    counter = counter_of(env, tokens.supervisor())
    try:
        def chain():
            return counter.inspection.GetChain(ipb.GetChainRequest(ticket_id=ticket_id), timeout=5)

        assert wait_until(lambda: case_id in chain().case_ids and len(chain().evaluation_ids) == 1, timeout=30)
        accepted = [r.entry.text for r in counter.inspection.WatchFeed(ipb.WatchFeedRequest(last=200), timeout=10)
                    if r.entry.case_id == case_id and r.entry.kind == ipb.FEED_KIND_ACCEPTED]
        assert accepted and f"{number} 号，首问负责 clerk-0101" in accepted[0]
    finally:
        counter.close()

    # A second case, withdrawn twice while the withdrawal is in flight: the same answer, never an error.
    second = _submit_planning(suite)
    wait_pending(planning_desk, second.case_id)
    first_try = hall("withdraw", second.application_id)
    second_try = hall("withdraw", second.application_id)
    assert first_try[0] == 0 and second_try[0] == 0, (first_try, second_try)
    assert "撤回" in first_try[1] and "撤回" in second_try[1]
    code, out, _ = hall("watch", second.application_id, "--timeout", "60")
    assert code == 0 and "结果：已撤回" in out, out

    # The LED board shows the called ticket at its window.
    url = f"http://127.0.0.1:{env['HALL_WEB_PORT']}/board"
    assert wait_until(lambda: _answers(url), timeout=30), f"{url} does not answer"
    dom = browse(url, "--timeout=10000", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    window = re.search(r'data-window="A01"[^>]*>(.*?)</div>', dom.stdout, re.S)
    assert window and number in window.group(1), dom.stdout[:3000]
    assert "平均等候" in dom.stdout and "今日受理" in dom.stdout
    screenshot(url, "hall-board.png")


def test_the_board_streams_a_call_as_it_happens(suite):
    _, env = suite
    counter = counter_of(env, tokens.clerk("clerk-0301", "C01"))
    try:
        counter.queue.TakeTicket(queue_pb2.TakeTicketRequest(request_id="board-stream", matter_code="150602-JS-0001"),
                                 timeout=5)
        events = f"http://127.0.0.1:{env['HALL_WEB_PORT']}/board/events"
        with urllib.request.urlopen(events, timeout=10) as stream:
            first = _next_board(stream)
            called = counter.queue.CallNext(queue_pb2.CallNextRequest(window_id="C01", clerk_id="clerk-0301"),
                                            timeout=5).called
            assert called.number not in _window(first, "C01")
            for _ in range(20):
                if called.number in _window(_next_board(stream), "C01"):
                    break
            else:
                raise AssertionError("the board never streamed the call")
    finally:
        counter.close()


def test_the_console_script_says_to_start_the_suite_when_nothing_answers(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HALL_HOST": "127.0.0.1", "HALL_INTAKE_PORT": "9"}  # nothing listens on 9
    done = subprocess.run([str(Path(sys.executable).with_name("hall")), "search", "开办企业"], capture_output=True,
                          text=True, env=env, timeout=30)
    assert done.returncode == 2 and "make run" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def _next_board(stream) -> str:
    data = []
    for raw in stream:
        line = raw.decode("utf-8").rstrip("\n")
        if line.startswith("data: "):
            data.append(line[6:])
        elif not line and data:
            return "".join(data)
    raise AssertionError("the stream ended")


def _window(board_json: str, window: str) -> str:
    import json

    return next(w["ticket"] for w in json.loads(board_json)["windows"] if w["window"] == window)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url.replace("/board", "/healthz"), timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def _submit_planning(suite) -> intake_pb2.Application:
    counter = counter_of(suite[1])
    try:
        return counter.submit(large_project("东胜区体育馆", "380", "9000")).application
    finally:
        counter.close()


def test_inspectors_query_the_trail_by_actor_and_department_a_page_at_a_time(suite, hall, monkeypatch):
    _, env = suite
    counter = counter_of(env, tokens.clerk("clerk-audited", "A01"))
    monkeypatch.setenv("HALL_TOKEN", tokens.supervisor())  # the inspector queries
    try:
        counter.submit(large_project("东胜区科技馆", "380", "9000"))
        counter.intake.ListBundles(intake_pb2.ListBundlesRequest(), timeout=5, metadata=counter.metadata())

        def mine():
            return hall("audit", "--actor", "clerk-audited", "--limit", "1")

        assert wait_until(lambda: "下一页" in mine()[1], timeout=30)  # records reach audit a moment later
        code, out, _ = mine()
        cursor = re.search(r"--after (\d+)", out).group(1)  # type: ignore[union-attr]
        code, page2, _ = hall("audit", "--actor", "clerk-audited", "--after", cursor, "--limit", "1000")
        assert code == 0 and "clerk-audited" in page2 and "共" in page2
        code, out, _ = hall("audit", "--department", "planning", "--from", "2000-01-01", "--limit", "5")
        assert code == 0 and "planning" in out
        code, _, err = hall("audit", "--from", "yesterday")
        assert code == 2 and "时间应写作" in err
    finally:
        counter.close()

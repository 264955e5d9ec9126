"""`make demo`: a visit to the hall driven through the counter client, `hall`, against `make run`:
the kiosk's search, a queue ticket, the call at window A01, the application (a YAML file in
human units under var/demo/) accepted with the ticket, watched department by department to
completion, paid once at the window (its receipt printed and verified), the applicant's evaluation of the visit, the case's time limits as
supervision kept them and the audit trail's hash chain; then where the hall board and the
supervision dashboard are. The sample applicant comes from tests/support/samples.py (valid
identity numbers)."""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hall.v1 import supervision_pb2
from services.counter.__main__ import main as hall_main
from services.counter.client import Counter, Endpoints, saved_token
from services.runtime import clock
from services.suite import ROOT, web_port
from tests.support.samples import COMPANY_BUNDLE, sample_resident_id

Hall = Callable[..., tuple[int, str]]
# Trade names (字号) as Ordos companies choose them: a run picks three characters.
_TRADE = "鑫达恒泰蒙源瑞丰金鼎宏远伊泰东升华通锦程汇丰嘉和盛世永安"


def run_hall(*argv: str) -> tuple[int, str]:
    """`hall ARGV...` in this process, its output shown as it would be in a terminal, and kept."""
    print(f"\n$ hall {' '.join(argv)}", flush=True)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = hall_main(list(argv))
    print(buffer.getvalue(), end="", flush=True)
    return code, buffer.getvalue()


def application_file(path: Path) -> Path:
    rep = sample_resident_id()
    trade = "".join(random.sample(_TRADE, 3))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({
        "bundle": COMPANY_BUNDLE,
        "applicant": {"kind": "个人", "name": "王建军", "id_number": rep, "phone": "13904770123"},
        "materials": ["M-GS-APPLY", "M-GS-ARTICLES", "M-ID-SHAREHOLDERS", "M-ID-LEGALREP", "M-GS-ADDRESS",
                      "M-ZJ-APPLY", "M-TAX-FORM"],
        "fields": {"company_name": f"鄂尔多斯市东胜区{trade}商贸有限公司", "registered_capital": "50万",
                   "business_scope": "日用百货、五金交电、建材销售", "legal_rep_name": "王建军", "legal_rep_id": rep,
                   "address": "鄂尔多斯市东胜区天骄北路1号"},
    }, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# The development staff directory's password (services/intake/data/staff.dev.toml).
DEV_PASSWORD = "hall"


def sign_in(hall: Hall, staff_id: str) -> int:
    """`hall login STAFF_ID`, the password typed as the development directory has it."""
    stdin, sys.stdin = sys.stdin, io.StringIO(DEV_PASSWORD + "\n")
    try:
        return hall("login", staff_id, "--password-stdin")[0]
    finally:
        sys.stdin = stdin


def demo(counter: Counter, hall: Hall = run_hall, *, workdir: Path = ROOT / "var" / "demo") -> int:
    """The visit, signed in as the clerk at window A01 and then as the inspector; the token is
    kept under `workdir` (HALL_TOKEN_FILE), not in the user's own ~/.config/hall."""
    saved = os.environ.get("HALL_TOKEN_FILE")
    os.environ["HALL_TOKEN_FILE"] = str(workdir / "token")
    try:
        return _visit(counter, hall, workdir)
    finally:
        if saved is None:
            os.environ.pop("HALL_TOKEN_FILE", None)
        else:
            os.environ["HALL_TOKEN_FILE"] = saved


def _visit(counter: Counter, hall: Hall, workdir: Path) -> int:
    workdir.mkdir(parents=True, exist_ok=True)
    if sign_in(hall, "clerk-0101"):
        return 1
    code, _ = hall("search", "开办企业")
    code, out = hall("ticket", "take", COMPANY_BUNDLE)
    found = re.search(r"\[票号编号 (\w+)\]", out)
    if code or found is None:
        return 1
    ticket = found.group(1)
    code, out = hall("ticket", "call", "--window", "A01")
    if code:
        return code
    form = application_file(workdir / "application.yaml")
    print(f"\n申请文件 {form}（金额以元填写，接口以分传送）：\n" + form.read_text(encoding="utf-8"), end="")
    code, out = hall("submit", str(form), "--ticket", ticket)
    found = re.search(r"申请 (\w+)，案件 (\w+)", out)
    if code or found is None:
        return 1
    application_id, case_id = found.groups()
    code, out = hall("watch", application_id)
    if code or "结果：待缴费" not in out:  # approved by every department: the fees, then the certificates
        return 1
    code, _ = hall("quote", application_id)
    code, out = hall("pay", application_id, "--method", "card")
    found = re.search(r"hall verify-receipt (\S+) (\S+)）", out)
    if code or found is None:
        return 1
    code, out = hall("watch", application_id)
    if code or "结果：已办结" not in out:
        return 1
    code, _ = hall("verify-receipt", *found.groups())
    if code:
        return code
    code, _ = hall("evaluate", "--visit", ticket, "--level", "非常满意",
                   "--comment", "一个窗口一次办完")
    if code:
        return code
    # The inspector's side: the case's trail, its clock, the chain.
    if sign_in(hall, "inspector-0001"):
        return 1
    inspector = counter.signed_in(saved_token())
    try:
        timeline_size(inspector, case_id)
        print_time_limits(inspector, case_id)
    finally:
        inspector.close()
    code, _ = hall("verify-audit")
    print(f"\n叫号屏 (the hall board):                 http://127.0.0.1:{web_port()}/board")
    print(f"电子监察大屏 (the supervision dashboard): http://127.0.0.1:{web_port()}/supervision")
    return code


def timeline_size(counter: Counter, case_id: str) -> None:
    # Call records reach the audit service in batches, a moment after the calls: wait until the
    # timeline stops growing (at most a few seconds) before counting it.
    timeline, deadline = counter.timeline(case_id), time.monotonic() + 5
    while time.monotonic() < deadline:
        time.sleep(0.3)
        newer = counter.timeline(case_id)
        if len(newer) == len(timeline):
            break
        timeline = newer
    print(f"\n电子监察时间线：{len(timeline)} 条记录（{len({e.record.service for e in timeline})} 个服务）")


def print_time_limits(counter: Counter, case_id: str) -> None:
    """The case's clock as supervision kept it (it learns the end from the same events a moment
    after intake): limits, time used, cards."""
    request = supervision_pb2.GetCaseDeadlinesRequest(case_id=case_id)
    got = counter.supervision.GetCaseDeadlines(request, timeout=5)
    for _ in range(50):
        if got.case_deadline.state == supervision_pb2.CLOCK_STATE_STOPPED:
            break
        time.sleep(0.1)
        got = counter.supervision.GetCaseDeadlines(request, timeout=5)
    d = got.case_deadline
    statutory = clock.local(clock.from_timestamp(d.statutory_due))
    cards = "，".join(c.explanation for c in got.cards) or "无警示"
    print(f"时限监察：承诺 {d.promised_amount} 个工作日、法定 {d.statutory_amount} 个工作日（至 {statutory:%Y-%m-%d}），"
          f"用时 {d.used} 个工作日；{cards}")


def main() -> int:
    counter = Counter(Endpoints.from_environment(), token="")
    try:
        health_pb2_grpc.HealthStub(counter.channel_of("intake")).Check(health_pb2.HealthCheckRequest(), timeout=5)
    except Exception:  # noqa: BLE001 - the one thing to say: start the suite
        print("连接不上大厅的服务：请先在另一个终端运行 make run（等它打印 suite is up）", file=sys.stderr)
        counter.close()
        return 2
    try:
        return demo(counter)
    finally:
        counter.close()


if __name__ == "__main__":
    sys.exit(main())

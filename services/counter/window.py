"""The counter client's window commands: what a clerk does all day.

search (the kiosk's guide search), matter (a matter's full disclosure), notice (the 一次性告知书),
ticket take/call/recall/no-show/transfer/show and waits (排队叫号), submit (an application file in
human units), status, watch (live, per department), withdraw, receipt. The rules are the
services'; this asks, converts what people write, and prints.
"""

from __future__ import annotations

import argparse
import functools
import sys
import uuid
from pathlib import Path
from typing import Any, cast

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from rich.console import Console
from rich.live import Live
from rich.table import Table

from hall.v1 import catalogue_pb2, common_pb2, fees_pb2, intake_pb2, queue_pb2
from services.counter import forms
from services.counter.client import Counter
from services.domain.money import capitals, format_yuan, parse_yuan
from services.runtime import clock

S = intake_pb2.ApplicationStatus
T = queue_pb2.TicketStatus
STATUS_WORDS = {S.APPLICATION_STATUS_ACCEPTED: "已受理", S.APPLICATION_STATUS_IN_PROGRESS: "办理中",
                S.APPLICATION_STATUS_AWAITING_PAYMENT: "待缴费",
                S.APPLICATION_STATUS_COMPLETED: "已办结", S.APPLICATION_STATUS_REFUSED: "不予许可",
                S.APPLICATION_STATUS_WITHDRAWN: "已撤回"}
STEP_WORDS = {common_pb2.STEP_STATUS_PENDING: "等待前置环节", common_pb2.STEP_STATUS_DISPATCHED: "部门办理中",
              common_pb2.STEP_STATUS_APPROVED: "已办结", common_pb2.STEP_STATUS_REFUSED: "不予许可",
              common_pb2.STEP_STATUS_CANCELLED: "已撤销", common_pb2.STEP_STATUS_INCIDENT: "技术故障"}
STEP_STYLES = {common_pb2.STEP_STATUS_APPROVED: "green", common_pb2.STEP_STATUS_REFUSED: "red",
               common_pb2.STEP_STATUS_INCIDENT: "red", common_pb2.STEP_STATUS_DISPATCHED: "yellow"}
TICKET_WORDS = {T.TICKET_STATUS_WAITING: "等候中", T.TICKET_STATUS_CALLED: "已叫号", T.TICKET_STATUS_SERVED: "已办理",
                T.TICKET_STATUS_NO_SHOW: "过号"}
FORM_WORDS = {catalogue_pb2.Material.FORM_PAPER: "纸质", catalogue_pb2.Material.FORM_ELECTRONIC: "电子",
              catalogue_pb2.Material.FORM_PAPER_OR_ELECTRONIC: "纸质或电子"}
KIND_WORDS = {catalogue_pb2.Matter.KIND_IMMEDIATE: "即办件", catalogue_pb2.Matter.KIND_PROMISED: "承诺件"}
UNIT_WORDS = {1: "个工作日", 2: "日", 3: "小时"}  # hall.v1.TimeLimit.Unit
TERMINAL = {S.APPLICATION_STATUS_COMPLETED, S.APPLICATION_STATUS_REFUSED, S.APPLICATION_STATUS_WITHDRAWN}
COMMANDS = {"search", "matter", "notice", "ticket", "waits", "submit", "status", "watch", "withdraw", "quote", "pay",
            "receipt", "verify-receipt", "refund", "reconcile"}
METHODS = {"cash": fees_pb2.PAYMENT_METHOD_CASH, "card": fees_pb2.PAYMENT_METHOD_BANK_CARD,
           "transfer": fees_pb2.PAYMENT_METHOD_BANK_TRANSFER, "notice": fees_pb2.PAYMENT_METHOD_NON_TAX_NOTICE}
METHOD_WORDS = {fees_pb2.PAYMENT_METHOD_CASH: "现金", fees_pb2.PAYMENT_METHOD_BANK_CARD: "银行卡",
                fees_pb2.PAYMENT_METHOD_BANK_TRANSFER: "银行转账", fees_pb2.PAYMENT_METHOD_NON_TAX_NOTICE: "非税缴款通知书"}


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    s = sub.add_parser("search", help="find matters by Chinese text or pinyin initials (the kiosk's guide search)")
    s.add_argument("query", help="e.g. 开办企业, 营业执照, qykb")
    s.add_argument("--limit", type=int, default=10, help="at most this many (default 10)")
    m = sub.add_parser("matter", help="a matter's or bundle's full public disclosure (办事指南)")
    m.add_argument("code", help="a matter code (150602-GS-0001) or a bundle code (150602-YJS-0001)")
    n = sub.add_parser("notice", help="print a one-time notice (一次性告知书): a matter's blank one, or a refused application's")
    n.add_argument("code", nargs="?", default="", help="a matter or bundle code: the notice published for it")
    n.add_argument("--id", default="", help="a stored notice's id (given when an application was refused)")
    n.add_argument("--out", default="", help="also write it to this file (UTF-8 text, for printing)")
    t = sub.add_parser("ticket", help="queue tickets (排队叫号): take, call, recall, no-show, transfer, show")
    ts = t.add_subparsers(dest="ticket_command", required=True)
    take = ts.add_parser("take", help="take a ticket for a matter or bundle (the kiosk's button)")
    take.add_argument("code", help="the matter or bundle code")
    take.add_argument("--request-id", default="", help="to press again safely (default: a new one)")
    call = ts.add_parser("call", help="call the next ticket at a window (finishes the window's current one)")
    call.add_argument("--window", required=True, help="the window, e.g. A01 (signed in: the clerk)")
    for name, text in (("recall", "call the window's ticket again"), ("no-show", "the called applicant did not come")):
        p = ts.add_parser(name, help=text)
        p.add_argument("ticket_id")
        p.add_argument("--window", required=True, help="the window holding the ticket")
    tr = ts.add_parser("transfer", help="send a ticket to another window group (keeps its number and first-inquiry owner)")
    tr.add_argument("ticket_id")
    tr.add_argument("--to", required=True, dest="group", help="the window group's letter, e.g. B")
    tr.add_argument("--reason", default="", help="why")
    show = ts.add_parser("show", help="a ticket's state, place in the queue and estimated wait")
    show.add_argument("ticket_id")
    sub.add_parser("waits", help="every window group's queue: waiting tickets and the estimated wait")
    su = sub.add_parser("submit", help="submit an application from a YAML or JSON file written in human units")
    su.add_argument("file", help="the application file (see services/counter/forms.py, or docs/counter.md)")
    su.add_argument("--ticket", default="", help="the queue ticket the applicant was called with (首问负责)")
    su.add_argument("--request-id", default="", help="to resubmit safely (default: the file's, else a new one)")
    st = sub.add_parser("status", help="an application's status, steps and results")
    st.add_argument("application_id")
    w = sub.add_parser("watch", help="follow an application live, department by department, until it ends")
    w.add_argument("application_id")
    w.add_argument("--timeout", type=float, default=600, help="stop watching after this many seconds (default 600)")
    wd = sub.add_parser("withdraw", help="withdraw an application (asking again is harmless)")
    wd.add_argument("application_id")
    wd.add_argument("--reason", default="申请人撤回", help="the applicant's reason")
    q = sub.add_parser("quote", help="what an application owes, line by line, with reductions and each department's share")
    q.add_argument("application_id")
    p = sub.add_parser("pay", help="take the payment of an application's whole bill and print its receipt (一个窗口收费)")
    p.add_argument("application_id")
    p.add_argument("--method", choices=sorted(METHODS), default="cash",
                   help="cash (default), card, transfer (a bank reference), notice (a 非税 payment notice number)")
    p.add_argument("--reference", default="", help="the bank reference or the 20-digit payment notice number")
    p.add_argument("--amount", default="", help="what was taken, in yuan (default: the bill's total)")
    p.add_argument("--key", default="", help="to retry a payment safely: the same key answers the same receipt")
    r = sub.add_parser("receipt", help="print a receipt (统一收费票据): an application's, or by its number")
    r.add_argument("application_id", nargs="?", default="", help="the application (or --number)")
    r.add_argument("--number", default="", help="the receipt number")
    r.add_argument("--pdf", default="", help="also write the printable receipt (PDF) to this file")
    vr = sub.add_parser("verify-receipt", help="check a receipt with its number and check code (anyone may)")
    vr.add_argument("receipt_number")
    vr.add_argument("check_code")
    rf = sub.add_parser("refund", help="refund lines of a receipt, or void it whole: a reversing receipt")
    rf.add_argument("receipt_number")
    rf.add_argument("--line", action="append", default=[], metavar="MATTER/ITEM=YUAN",
                    help="a line and the yuan refunded (repeatable); none: void everything still unrefunded")
    rf.add_argument("--reason", required=True, help="why")
    rf.add_argument("--key", default="", help="to retry safely (default: a new one)")
    rc = sub.add_parser("reconcile", help="a day's takings per department, written as one CSV per department")
    rc.add_argument("--day", default="", help="YYYY-MM-DD (default today)")
    rc.add_argument("--out", default="var/reconciliation", help="directory to write into (default var/reconciliation)")


def run(counter: Counter, args: argparse.Namespace, console: Console) -> int:
    command = args.command
    if command == "search":
        return search(counter, args.query, args.limit, console)
    if command == "matter":
        return disclosure(counter, args.code, console)
    if command == "notice":
        req = intake_pb2.GetNoticeRequest(notice_id=args.id)
        if args.code:
            setattr(req, code_field(counter, args.code), args.code)
        notice = counter.intake.GetNotice(req, timeout=10, metadata=counter.metadata()).notice
        print(notice.text)
        if args.out:
            Path(args.out).write_text(notice.text + "\n", encoding="utf-8")
            print(f"（已写入 {args.out}）")
        return 0
    if command == "ticket":
        return ticket(counter, args)
    if command == "waits":
        for g in counter.queue.GetWaits(queue_pb2.GetWaitsRequest(), timeout=10, metadata=counter.metadata()).groups:
            print(f"{g.group} 区 {g.name}：等候 {g.waiting} 人，开放窗口 {g.open_windows} 个，"
                  f"每件约 {g.service_minutes} 分钟，新取号预计等候 {g.estimated_wait_minutes} 分钟")
        return 0
    if command == "submit":
        return submit(counter, args, console)
    if command == "status":
        app = counter.intake.GetApplication(intake_pb2.GetApplicationRequest(application_id=args.application_id),
                                            timeout=10, metadata=counter.metadata()).application
        console.print(progress(app))
        print_results(app)
        return 0
    if command == "watch":
        return watch(counter, args.application_id, args.timeout, console)
    if command == "withdraw":
        app = counter.intake.WithdrawApplication(
            intake_pb2.WithdrawApplicationRequest(application_id=args.application_id, reason=args.reason),
            timeout=10, metadata=counter.metadata()).application
        if app.status == S.APPLICATION_STATUS_WITHDRAWN:
            print(f"申请 {app.application_id} 已撤回（案件 {app.case_id}）")
        else:
            print(f"已申请撤回 {app.application_id}：各部门撤销中（当前 {STATUS_WORDS.get(app.status, '')}；"
                  "再次撤回不会重复发送，用 hall watch 查看）")
        return 0
    if command in ("quote", "pay", "receipt", "verify-receipt", "refund", "reconcile"):
        return fees_command(counter, args)
    raise AssertionError(command)


def code_field(counter: Counter, code: str) -> str:
    """Whether `code` is a bundle's (bundle_code) or, else, a matter's (matter_code)."""
    bundles = counter.intake.ListBundles(intake_pb2.ListBundlesRequest(), timeout=10, metadata=counter.metadata()).bundles
    return "bundle_code" if any(b.code == code for b in bundles) else "matter_code"


def fees_command(counter: Counter, args: argparse.Namespace) -> int:
    command, md = args.command, counter.metadata()
    if command == "quote":
        print_quote(counter.bill(args.application_id))
        return 0
    if command == "pay":
        amount = parse_yuan(args.amount) if args.amount else None
        got = counter.pay(args.application_id, method=METHODS[args.method], reference=args.reference,
                          amount_fen=amount, client_key=args.key)
        print(f"已收款{'（此前已收，同一笔）' if got.duplicate else ''}：{format_yuan(got.receipt.total.fen)}，"
              f"{METHOD_WORDS.get(got.receipt.method, '')}")
        print_receipt(got.receipt)
        return 0
    if command == "receipt":
        receipt = counter.receipt(application_id=args.application_id, receipt_number=args.number)
        print_receipt(receipt)
        if args.pdf:
            pdf = counter.fees.PrintReceipt(fees_pb2.PrintReceiptRequest(receipt_number=receipt.receipt_number),
                                            timeout=30, metadata=md).pdf
            Path(args.pdf).write_bytes(pdf)
            print(f"（已写入 {args.pdf}，{len(pdf) // 1024 + 1} KB，可直接打印）")
        return 0
    if command == "verify-receipt":
        checked = counter.fees.VerifyReceipt(fees_pb2.VerifyReceiptRequest(receipt_number=args.receipt_number,
                                                                           check_code=args.check_code), timeout=10, metadata=md)
        if checked.valid:
            print(f"票据 {args.receipt_number} 真实有效：{format_yuan(checked.receipt.total.fen)}，"
                  f"缴款人 {checked.receipt.payer_name}，签名密钥 {checked.receipt.key_id}")
            return 0
        print(f"票据 {args.receipt_number} 验证未通过：{checked.problem}")
        return 1
    if command == "refund":
        lines = []
        for raw in args.line:
            where, _, yuan = raw.partition("=")
            matter, _, item = where.rpartition("/")
            if not matter or not item or not yuan:
                raise forms.FormError(f"--line 应写作 事项编码/收费项目编码=元，如 150602-ZJ-0001/F-ZJ-COPY=5，不是 {raw}")
            lines.append(fees_pb2.RefundLine(matter_code=matter, item_code=item,
                                             amount=common_pb2.Money(fen=parse_yuan(yuan))))
        reversal = counter.fees.Refund(fees_pb2.RefundRequest(receipt_number=args.receipt_number,
                                                         client_key=args.key or uuid.uuid4().hex, reason=args.reason,
                                                         lines=lines, clerk_id=counter.clerk_id), timeout=10, metadata=md)
        print(f"已开具冲销票据{'（此前已开，同一笔）' if reversal.duplicate else ''}：")
        print_receipt(reversal.receipt)
        return 0
    day = args.day or clock.today().isoformat()
    rec = counter.fees.ExportReconciliation(fees_pb2.ExportReconciliationRequest(day=day), timeout=30, metadata=md)
    out = Path(args.out) / rec.day
    out.mkdir(parents=True, exist_ok=True)
    print(f"{rec.day} 对账：票据 {rec.receipts} 张，收款 {format_yuan(rec.paid.fen)}，冲销 {format_yuan(rec.reversed.fen)}，"
          f"净额 {format_yuan(rec.net.fen)}")
    for d in rec.departments:
        path = out / f"{d.department}.csv"
        path.write_text(d.csv, encoding="utf-8-sig")  # spreadsheets read the Chinese with the mark
        print(f"  {department(d.department):<10} 收款 {d.payments} 笔 {format_yuan(d.paid.fen):>12}  冲销 {d.reversals} 笔 "
              f"{format_yuan(d.reversed.fen):>12}  净额 {format_yuan(d.net.fen):>12}  {path}")
    return 0


def print_quote(q: fees_pb2.QuoteResponse) -> None:
    if q.free_note:
        print(f"应缴：{q.free_note}")
        return
    for line in q.lines:
        count = f" ×{line.quantity}{line.unit_name}" if line.quantity != 1 else ""
        off = f"（{line.reduction_name} -{format_yuan(line.reduction.fen)}，{line.reduction_basis}）" if line.reduction.fen else ""
        print(f"  {department(line.department):<10} {line.item_name}{count} {format_yuan(line.amount.fen):>12}{off}")
    print(f"应缴合计 {format_yuan(q.total.fen)}（{capitals(q.total.fen)}）" +
          (f"；已缴，票据 {q.paid_receipt_number}" if q.paid_receipt_number else ""))


# ---- the catalogue ---------------------------------------------------------------------------

def search(counter: Counter, query: str, limit: int, console: Console) -> int:
    got = counter.intake.SearchCatalogue(intake_pb2.SearchCatalogueRequest(query=query, limit=limit), timeout=10,
                                         metadata=counter.metadata())
    if not got.hits:
        print(f"没有找到与“{query}”有关的事项：换个说法试试，如“开办企业”“营业执照”")
        return 1
    table = Table("编码", "事项", "部门", "窗口", "匹配", title=f"“{query}”的办事指南（目录 {got.catalogue_version}）")
    for h in got.hits:
        table.add_row(h.bundle_code or h.matter_code, h.name, h.department, f"{h.window_group} 区", h.matched[:30])
    console.print(table)
    return 0


def _limit(limit: common_pb2.TimeLimit) -> str:
    return f"{limit.amount}{UNIT_WORDS.get(limit.unit, '个工作日')}"


def disclosure(counter: Counter, code: str, console: Console) -> int:
    """Every element the catalogue discloses for a matter (a bundle: its steps, then each matter's)."""
    bundles = {b.code: b for b in counter.intake.ListBundles(intake_pb2.ListBundlesRequest(), timeout=10,
                                                             metadata=counter.metadata()).bundles}
    if code in bundles:
        b = bundles[code]
        print(f"{b.name}（{b.code}，第{b.version}版）  承诺{_limit(b.promised_limit)}，法定{_limit(b.statutory_limit)}")
        for s in b.steps:
            after = f"，在 {'、'.join(s.after)} 之后" if s.after else "，最先办理"
            print(f"  环节 {s.id}：事项 {s.matter}{after}；限时{_limit(s.limit)}" +
                  (f"；免交 {'、'.join(s.waived_materials)}（信息共享）" if s.waived_materials else ""))
        codes = list(dict.fromkeys(s.matter for s in b.steps))
    else:
        codes = [code]
    for c in codes:
        m = counter.intake.GetMatter(intake_pb2.GetMatterRequest(code=c), timeout=10, metadata=counter.metadata()).matter
        print_matter(m)
    return 0


def print_matter(m: catalogue_pb2.Matter) -> None:
    print(f"\n{m.name}  （实施编码 {m.code}，基本编码 {m.basic_code}，第{m.version}版，{m.type}，{KIND_WORDS.get(m.kind, '')}）")
    rows = [("实施主体", f"{department(m.department)}（{m.source_of_power}，{m.level}）"), ("设定依据", "；".join(m.legal_basis)),
            ("受理条件", "；".join(m.acceptance_conditions)), ("申请对象", "；".join(m.eligible_applicants)),
            ("法定时限", _limit(m.statutory_limit) + (f"（{m.statutory_limit.note}）" if m.statutory_limit.note else "")),
            ("承诺时限", _limit(m.promised_limit)), ("到现场次数", f"{m.visits_required} 次"),
            ("收费", m.fees.free_note if not m.fees.charged else "；".join(
                f"{i.name} {format_yuan(i.standard.fen)}（{i.basis}）" for i in m.fees.items)),
            ("办理地点", m.place), ("办理时间", m.hours), ("咨询", m.consultation_channel), ("监督投诉", m.supervision_channel),
            ("审批结果", f"{m.result.certificate_name}（{m.result.certificate_type}）"),
            ("特别程序", "；".join(f"{p.kind}：{p.description}" + ("" if p.counts_toward_limit else "（不计入时限）")
                               for p in m.special_procedures) or "无"),
            ("中介服务", "；".join(m.intermediary_services) or "无"), ("窗口", f"{m.window_group} 区")]
    for label, value in rows:
        print(f"  {label}：{value}")
    print("  办理流程：" + " → ".join(p.name for p in m.procedure))
    print("  申请材料：")
    for x in m.materials:
        need = "必交" if x.required else "选交"
        print(f"    {x.code:<18} {x.name}（{need}，{x.copies or 1}份，{FORM_WORDS.get(x.form, '')}，来源：{x.source}）")
    if m.form_fields:
        print("  填写内容：")
        for f in m.form_fields:
            print(f"    {f.name:<24} {f.label}{'（必填）' if f.required else ''} {f.description}")


# ---- the queue -------------------------------------------------------------------------------

def print_ticket(t: queue_pb2.Ticket, prefix: str = "") -> None:
    where = f"，{t.window_id} 窗口" if t.window_id else ""
    line = f"{prefix}{t.number}（{t.group} 区 {t.group_name}）{TICKET_WORDS.get(t.status, '')}{where}"
    if t.status == T.TICKET_STATUS_WAITING:
        line += f"：前面 {t.ahead} 人，预计等候 {t.estimated_wait_minutes} 分钟"
    if t.first_inquiry_clerk_id:
        line += f"；首问负责人 {t.first_inquiry_clerk_id}"
    print(line + f"  [票号编号 {t.ticket_id}]")


def ticket(counter: Counter, args: argparse.Namespace) -> int:
    q, md, sub = counter.queue, counter.metadata(), args.ticket_command
    if sub == "take":
        req = queue_pb2.TakeTicketRequest(request_id=args.request_id or uuid.uuid4().hex)
        setattr(req, code_field(counter, args.code), args.code)
        print_ticket(q.TakeTicket(req, timeout=10, metadata=md).ticket, "取号：")
    elif sub == "call":
        got = q.CallNext(queue_pb2.CallNextRequest(window_id=args.window, clerk_id=counter.clerk_id), timeout=10, metadata=md)
        if got.HasField("finished"):
            print(f"办毕：{got.finished.number}")
        if got.HasField("called"):
            print_ticket(got.called, f"请 {got.called.number} 号到 {args.window} 窗口：")
        else:
            print(f"{args.window} 窗口：没有等候的号")
    elif sub == "recall":
        print_ticket(q.Recall(queue_pb2.RecallRequest(ticket_id=args.ticket_id, window_id=args.window), timeout=10,
                              metadata=md).ticket, "再次叫号：")
    elif sub == "no-show":
        print_ticket(q.MarkNoShow(queue_pb2.MarkNoShowRequest(ticket_id=args.ticket_id, window_id=args.window),
                                  timeout=10, metadata=md).ticket, "过号：")
    elif sub == "transfer":
        print_ticket(q.Transfer(queue_pb2.TransferRequest(ticket_id=args.ticket_id, group=args.group, reason=args.reason),
                                timeout=10, metadata=md).ticket, "转窗：")
    else:
        print_ticket(q.GetTicket(queue_pb2.GetTicketRequest(ticket_id=args.ticket_id), timeout=10, metadata=md).ticket)
    return 0


# ---- the case --------------------------------------------------------------------------------

def declared_fields(counter: Counter, data: dict[str, Any]) -> list[catalogue_pb2.FormField]:
    md = counter.metadata()
    codes = [str(data["matter"])] if data.get("matter") else []
    if data.get("bundle"):
        bundles = counter.intake.ListBundles(intake_pb2.ListBundlesRequest(), timeout=10, metadata=md).bundles
        bundle = next((b for b in bundles if b.code == data["bundle"]), None)
        codes = list(dict.fromkeys(s.matter for s in bundle.steps)) if bundle else []
    out: list[catalogue_pb2.FormField] = []
    for code in codes:
        try:
            out += counter.intake.GetMatter(intake_pb2.GetMatterRequest(code=code), timeout=10, metadata=md).matter.form_fields
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.NOT_FOUND:
                raise  # an unknown code is intake's to answer, with the submission
    return out


def submit(counter: Counter, args: argparse.Namespace, console: Console) -> int:
    data = forms.read(Path(args.file))
    request = forms.request_of(data, declared_fields(counter, data), clerk_id=counter.clerk_id,
                               request_id=args.request_id, ticket_id=args.ticket)
    try:
        got = counter.submit(request)
    except grpc.RpcError as err:
        notice_id = notice_of(err)
        if not notice_id:
            raise
        notice = counter.intake.GetNotice(intake_pb2.GetNoticeRequest(notice_id=notice_id), timeout=10,
                                          metadata=counter.metadata()).notice
        print(f"未受理：{err.details()}（一次性告知书 {notice_id}，可用 hall notice --id {notice_id} --out 文件 打印）\n")
        print(notice.text)
        return 1
    app = got.application
    promised = clock.local(clock.from_timestamp(app.promised_by))
    again = "（此前已受理，同一申请）" if got.duplicate else ""
    print(f"已受理{again}：申请 {app.application_id}，案件 {app.case_id}")
    print(f"  承诺办结 {promised:%Y-%m-%d %H:%M}{'（节假日安排未公布，暂按周一至周五计）' if app.promised_by_provisional else ''}；"
          f"首问负责人 {app.first_inquiry_clerk_id}" + (f"；票号 {app.ticket_number}" if app.ticket_number else ""))
    return 0


def notice_of(err: grpc.RpcError) -> str:
    status = rpc_status.from_call(cast(grpc.Call, err))
    for detail in status.details if status is not None else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info) and info.reason == "INCOMPLETE_APPLICATION":
            return info.metadata.get("notice_id", "")
    return ""


def progress(app: intake_pb2.Application) -> Table:
    """Per department: the step's state and what it said."""
    table = Table("环节", "部门", "状态", "说明",
                  title=f"{app.case_id}  {STATUS_WORDS.get(app.status, '')}" +
                        ("（撤回中）" if app.withdrawal_requested and app.status not in TERMINAL else ""))
    for step in app.steps:
        note = "；".join(r.message for r in step.reasons)
        table.add_row(step.step_id, department(step.department), f"[{STEP_STYLES.get(step.status, '')}]"
                      f"{STEP_WORDS.get(step.status, '')}[/]" if step.status in STEP_STYLES else STEP_WORDS.get(step.status, ""),
                      note)
    if not app.steps:
        table.add_row("—", "—", STATUS_WORDS.get(app.status, ""), "等待分送各部门")
    return table


def print_results(app: intake_pb2.Application) -> None:
    if app.results:
        print("证照与代码：")
        for key, value in sorted(app.results.items()):
            print(f"  {key:<28} {value}")
    for r in app.reasons:
        print(f"  {r.code}：{r.message}")


def watch(counter: Counter, application_id: str, timeout: float, console: Console) -> int:
    app = counter.intake.GetApplication(intake_pb2.GetApplicationRequest(application_id=application_id), timeout=10,
                                        metadata=counter.metadata()).application
    live = console.is_terminal
    with Live(progress(app), console=console, refresh_per_second=8, transient=False) if live else _Quiet() as view:
        for event in counter.watch(application_id, timeout=timeout):
            app = event.application
            # The applicant's turn, unless the window has just taken the payment (the router is
            # a moment behind fees): then the case moves on and the watch goes on with it.
            waiting = (app.status == S.APPLICATION_STATUS_AWAITING_PAYMENT
                       and not counter.bill(application_id).paid_receipt_number)
            if live:
                view.update(progress(app))
            else:  # a log or a pipe: one line per change
                at = clock.local(clock.from_timestamp(event.at))
                step = f" [{event.step_id}]" if event.step_id else ""
                print(f"{at:%H:%M:%S} {STATUS_WORDS.get(event.status, ''):<4}{step} {event.note}", flush=True)
            if waiting:
                break  # the applicant's turn: nothing moves until the window takes the payment
    if not live:
        console.print(progress(app))
    print_results(app)
    if app.status == S.APPLICATION_STATUS_AWAITING_PAYMENT:
        print(f"结果：待缴费（hall quote {application_id} 查看应缴，hall pay {application_id} 收款后再跟踪）")
        return 0
    print(f"结果：{STATUS_WORDS.get(app.status, '未结束（仍在办理）')}")
    return 0 if app.status in TERMINAL else 3


class _Quiet:
    def __enter__(self) -> _Quiet:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, *_: object) -> None:
        return None


def print_receipt(receipt: fees_pb2.Receipt) -> None:
    issued = clock.local(clock.from_timestamp(receipt.issued_at)) if receipt.HasField("issued_at") else None
    kind = "冲销票据" if receipt.kind == fees_pb2.RECEIPT_KIND_REVERSAL else "统一收费票据"
    print(f"{kind} {receipt.receipt_number}  缴款人 {receipt.payer_name}" +
          (f"  {issued:%Y-%m-%d %H:%M}" if issued else "") + (f"  冲销 {receipt.reverses}（{receipt.reason}）"
                                                              if receipt.reverses else ""))
    for line in receipt.lines:
        count = f" ×{line.quantity}{line.unit_name}" if line.quantity > 1 else ""
        print(f"  {department(line.department):<10} {line.item_name + count:<18} {format_yuan(line.amount.fen):>12}")
    for sub in receipt.subtotals:
        print(f"  小计 {department(sub.department):<26} {format_yuan(sub.amount.fen):>12}")
    print(f"  {'合计':<32} {format_yuan(receipt.total.fen):>12}  {receipt.total_in_capitals}")
    if receipt.check_code:
        print(f"  校验码 {receipt.check_code}（hall verify-receipt {receipt.receipt_number} {receipt.check_code}）")


def console() -> Console:
    # Into a pipe or a log, tables are as wide as they need (never cut at 80 columns).
    return Console(file=sys.stdout, highlight=False, soft_wrap=True,
                   width=None if sys.stdout.isatty() else 160)


@functools.cache
def department_names() -> dict[str, str]:
    """Department code -> name, from the catalogue shipped with the client (a code the client's
    catalogue does not know is shown as it is)."""
    from services.catalogue import load

    return {code: d.name for code, d in load().departments.items()}


def department(code: str) -> str:
    return department_names().get(code, code)

"""The counter client's supervision commands: a case's deadlines and ledger (in `hall case`), the
cards (`hall cards`), appeals and extensions. The rules are the supervision service's; this only
asks and prints."""

from __future__ import annotations

import argparse
import csv
import json
import uuid
from pathlib import Path

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from hall.v1 import inspection_pb2 as ipb
from hall.v1 import supervision_pb2 as pb
from services.counter.client import Counter
from services.runtime import clock

LEVELS = {"pre_warning": pb.CARD_LEVEL_PRE_WARNING, "yellow": pb.CARD_LEVEL_YELLOW, "red": pb.CARD_LEVEL_RED}
STATES = {"open": pb.CARD_STATE_OPEN, "appealed": pb.CARD_STATE_APPEALED, "withdrawn": pb.CARD_STATE_WITHDRAWN}
LEVEL_WORDS = {pb.CARD_LEVEL_PRE_WARNING: "预警", pb.CARD_LEVEL_YELLOW: "黄牌", pb.CARD_LEVEL_RED: "红牌"}
STATE_WORDS = {pb.CARD_STATE_OPEN: "有效", pb.CARD_STATE_APPEALED: "申诉中", pb.CARD_STATE_WITHDRAWN: "已撤销"}
CLOCK_WORDS = {pb.CLOCK_STATE_RUNNING: "计时中", pb.CLOCK_STATE_PAUSED: "暂停计时", pb.CLOCK_STATE_STOPPED: "已停止"}
EXTENSION_WORDS = {pb.EXTENSION_STATE_REQUESTED: "待批", pb.EXTENSION_STATE_APPROVED: "已批准",
                   pb.EXTENSION_STATE_REFUSED: "不予批准", pb.EXTENSION_STATE_LATE: "逾期申请（视为超时）"}
ACTION_WORDS = {pb.CARD_ACTION_RAISED: "发出", pb.CARD_ACTION_APPEALED: "申诉", pb.CARD_ACTION_WITHDRAWN: "撤销",
                pb.CARD_ACTION_UPHELD: "维持"}
UNIT_WORDS = {1: "个工作日", 2: "日", 3: "小时"}  # hall.v1.TimeLimit.Unit


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    c = sub.add_parser("cards", help="warning cards (预警、黄牌、红牌), newest first")
    c.add_argument("--department", default="", help="only this department's (a department code, e.g. planning)")
    c.add_argument("--level", choices=sorted(LEVELS), help="only this level")
    c.add_argument("--state", choices=sorted(STATES), help="only cards in this state")
    c.add_argument("--case", default="", help="only this case's")
    c.add_argument("--limit", type=int, default=100, help="at most this many (default 100, at most 1000)")
    a = sub.add_parser("appeal", help="a department appeals a wrong card, with its evidence (signed in as the officer)")
    a.add_argument("card_id")
    a.add_argument("--department", required=True, help="the card's department")
    a.add_argument("--reason", required=True, help="why the card is wrong")
    a.add_argument("--evidence", action="append", default=[], required=True,
                   help="a document number or file name backing the appeal (repeatable)")
    d = sub.add_parser("decide-appeal", help="a supervisor withdraws or upholds an appealed card (signed in as the supervisor)")
    d.add_argument("card_id")
    how = d.add_mutually_exclusive_group(required=True)
    how.add_argument("--withdraw", action="store_true", help="the card was wrong: withdraw it")
    how.add_argument("--uphold", action="store_true", help="the card stands")
    d.add_argument("--note", required=True, help="the grounds of the decision")
    e = sub.add_parser("extension", help="a department asks to extend a case's statutory limit (signed in as the officer)")
    e.add_argument("case_id")
    e.add_argument("--department", required=True, help="the asking department")
    e.add_argument("--step", default="", help="the department's step (may be left out for a single-step case)")
    e.add_argument("--reason", required=True, help="why more time is needed")
    x = sub.add_parser("decide-extension", help="the hall's head approves or refuses an extension (signed in as the head)")
    x.add_argument("extension_id")
    ok = x.add_mutually_exclusive_group(required=True)
    ok.add_argument("--approve", action="store_true", help="grant the law's extension")
    ok.add_argument("--refuse", action="store_true", help="refuse it (a --note is then required)")
    x.add_argument("--note", default="", help="the grounds (required for a refusal)")
    r = sub.add_parser("report", help="efficiency figures for a period, against the hall's targets")
    r.add_argument("--from", dest="from_date", required=True, help="first acceptance date, YYYY-MM-DD")
    r.add_argument("--to", dest="to_date", required=True, help="last date, YYYY-MM-DD (inclusive)")
    r.add_argument("--by", choices=sorted(GROUPINGS), default="department", help="one line per department (default), clerk or matter")
    ex = sub.add_parser("export", help="write the national exchange tables of a period (CSV per table and one JSON)")
    ex.add_argument("--from", dest="from_date", required=True, help="first acceptance date, YYYY-MM-DD")
    ex.add_argument("--to", dest="to_date", required=True, help="last acceptance date, YYYY-MM-DD (inclusive)")
    ex.add_argument("--out", default="var/export", help="directory to write into (default var/export)")
    f = sub.add_parser("feed", help="the hall's live feed, oldest first (Ctrl-C stops --follow)")
    f.add_argument("--after", type=int, default=0, help="start after this cursor (a reconnect: the last one shown)")
    f.add_argument("--last", type=int, default=0, help="start with the last this many entries")
    f.add_argument("--department", default="", help="only this department's entries")
    f.add_argument("--follow", action="store_true", help="keep printing new entries as they come")
    ev = sub.add_parser("evaluate", help="record the applicant's evaluation (好差评) of a case or a window visit")
    ev.add_argument("case_id", nargs="?", default="", help="the case rated (or --visit)")
    ev.add_argument("--visit", default="", help="the window visit rated (its queue ticket)")
    ev.add_argument("--level", required=True, choices=list(SATISFACTION), help="one of the five levels")
    ev.add_argument("--channel", choices=sorted(CHANNELS), default="window", help="the window's evaluator (default) or the applicant's link")
    ev.add_argument("--comment", default="", help="what the applicant said")
    ev.add_argument("--contact", default="", help="the applicant's contact for the call-back (never shown to the department)")
    co = sub.add_parser("complain", help="register a complaint against a case, a department or a clerk")
    against = co.add_mutually_exclusive_group(required=True)
    against.add_argument("--case", default="", help="the case complained of")
    against.add_argument("--department", default="", help="the department complained of")
    against.add_argument("--clerk", default="", help="the clerk complained of (their id)")
    co.add_argument("--text", required=True, help="what happened")
    co.add_argument("--contact", default="", help="the complainant's contact (never shown to the department)")
    co.add_argument("--request-id", default="", help="to resubmit safely (default: a new one)")


SATISFACTION = {"非常满意": ipb.SATISFACTION_VERY_SATISFIED, "满意": ipb.SATISFACTION_SATISFIED,
                "基本满意": ipb.SATISFACTION_BASICALLY_SATISFIED, "不满意": ipb.SATISFACTION_DISSATISFIED,
                "非常不满意": ipb.SATISFACTION_VERY_DISSATISFIED}
CHANNELS = {"window": ipb.EVALUATION_CHANNEL_WINDOW, "link": ipb.EVALUATION_CHANNEL_LINK}
GROUPINGS = {"department": ipb.REPORT_GROUPING_DEPARTMENT, "clerk": ipb.REPORT_GROUPING_CLERK,
             "matter": ipb.REPORT_GROUPING_MATTER}


def _pct(rate: ipb.Rate) -> str:
    if not rate.defined:
        return "—"
    mark = "" if rate.meets_target else "（未达标）"
    return f"{rate.basis_points / 100:.1f}%{mark}"


def print_report(got: ipb.GetReportResponse) -> int:
    print(f"效能报表 {got.from_date} 至 {got.to_date}（按时办结率目标 {got.hall.on_time.target_basis_points / 100:.0f}%，"
          f"现场办结率目标 {got.hall.on_site.target_basis_points / 100:.0f}%，满意率目标 "
          f"{got.hall.satisfaction.target_basis_points / 100:.0f}%）")
    print(f"  {'名称':<18} 受理  办结  按时办结率      现场办结率      平均/P90工作日  黄牌 红牌 延期 评价 满意率  投诉")
    for row in [*got.rows, got.hall]:
        print(f"  {(row.name or row.key)[:18]:<18} {row.accepted:>4} {row.completed:>5}  {_pct(row.on_time):<14} "
              f"{_pct(row.on_site):<14} {row.average_working_days_x100 / 100:>5.1f}/{row.p90_working_days:<4}     "
              f"{row.open_yellow_cards:>4} {row.open_red_cards:>4} {row.extensions:>4} {row.evaluations:>4} "
              f"{_pct(row.satisfaction):<7} {row.complaints:>3}")
    return 0


def write_export(got: ipb.ExportExchangeResponse, out: Path) -> list[Path]:
    """One CSV per table (the schema's columns, UTF-8 with a byte-order mark: spreadsheets read
    the Chinese) and exchange.json with every table."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    everything: dict[str, object] = {"schema_version": got.schema_version, "tables": {}}
    for table in got.tables:
        path = out / f"{table.name}.csv"
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(table.columns)
            w.writerows(list(r.values) for r in table.rows)
        written.append(path)
        everything["tables"][table.name] = [dict(zip(table.columns, r.values, strict=True))  # type: ignore[index]
                                            for r in table.rows]
    path = out / "exchange.json"
    path.write_text(json.dumps(everything, ensure_ascii=False, indent=1), encoding="utf-8")
    written.append(path)
    return written


def run(counter: Counter, args: argparse.Namespace) -> int | None:
    """Run a supervision command; None when `args` is not one."""
    sup, actor = counter.supervision, counter.clerk_id
    inspection = counter.inspection
    if args.command == "report":
        return print_report(inspection.GetReport(ipb.GetReportRequest(from_date=args.from_date, to_date=args.to_date,
                                                                      grouping=GROUPINGS[args.by]), timeout=30))
    if args.command == "export":
        got = inspection.ExportExchange(ipb.ExportExchangeRequest(from_date=args.from_date, to_date=args.to_date),
                                        timeout=60)
        for path in write_export(got, Path(args.out)):
            print(path)
        print(f"交换数据 {args.from_date} 至 {args.to_date}：" + "，".join(f"{t.name} {len(t.rows)} 条" for t in got.tables))
        return 0
    if args.command == "feed":
        try:
            for r in inspection.WatchFeed(ipb.WatchFeedRequest(after=args.after, last=args.last,
                                                               department=args.department, follow=args.follow)):
                e = r.entry
                print(f"{e.cursor:>6} {clock.local(clock.from_timestamp(e.at)):%m-%d %H:%M} {e.case_id:<28} {e.text}",
                      flush=True)
        except KeyboardInterrupt:
            pass
        return 0
    if args.command == "evaluate":
        rated = inspection.Evaluate(ipb.EvaluateRequest(case_id=args.case_id, visit_id=args.visit,
                                                      level=SATISFACTION[args.level], channel=CHANNELS[args.channel],
                                                      comment=args.comment, evaluator=args.contact,
                                                      clerk_id=counter.clerk_id), timeout=10)
        evaluation = rated.evaluation
        if rated.replayed:
            print(f"已评价过（一次一评）：评价 {evaluation.evaluation_id}")
        elif evaluation.state == ipb.EVALUATION_STATE_RECTIFYING:
            due = clock.local(clock.from_timestamp(evaluation.rectification.due_at))
            print(f"已记录差评 {evaluation.evaluation_id}：须回访申请人，{due:%Y-%m-%d} 前整改完毕")
        else:
            print(f"已记录评价 {evaluation.evaluation_id}：{args.level}")
        return 0
    if args.command == "complain":
        target = (ipb.COMPLAINT_TARGET_CASE if args.case else ipb.COMPLAINT_TARGET_DEPARTMENT if args.department
                  else ipb.COMPLAINT_TARGET_CLERK)
        complaint = inspection.FileComplaint(ipb.FileComplaintRequest(
            request_id=args.request_id or uuid.uuid4().hex, target=target, case_id=args.case,
            department=args.department, clerk_id=args.clerk, text=args.text, complainant=args.contact),
            timeout=10).complaint
        answer_by = clock.local(clock.from_timestamp(complaint.due_at))
        print(f"已登记投诉 {complaint.complaint_id}：转{complaint.department or '中心'}办理，{answer_by:%Y-%m-%d} 前答复")
        return 0
    if args.command == "cards":
        found = sup.ListCards(pb.ListCardsRequest(department=args.department, level=LEVELS[args.level] if args.level else pb.CARD_LEVEL_UNSPECIFIED,
                                                  state=STATES[args.state] if args.state else pb.CARD_STATE_UNSPECIFIED,
                                                  case_id=args.case,
                                                  limit=args.limit), timeout=10).cards
        return print_cards(list(found))
    if args.command == "appeal":
        card = sup.AppealCard(pb.AppealCardRequest(card_id=args.card_id, department=args.department,
                                                   officer_id=actor, reason=args.reason, evidence=args.evidence),
                              timeout=10).card
        print(f"已提出申诉：{card.card_id}（{STATE_WORDS[card.state]}），等待监察员处理")
        return 0
    if args.command == "decide-appeal":
        card = sup.DecideAppeal(pb.DecideAppealRequest(card_id=args.card_id, supervisor_id=actor,
                                                       withdraw=args.withdraw, note=args.note), timeout=10).card
        print(f"申诉已处理：{card.card_id} {STATE_WORDS[card.state]}")
        return 0
    if args.command == "extension":
        ext = sup.RequestExtension(pb.RequestExtensionRequest(case_id=args.case_id, step_id=args.step,
                                                              department=args.department, officer_id=actor,
                                                              reason=args.reason), timeout=10).extension
        print(f"延期申请 {ext.extension_id}：{EXTENSION_WORDS[ext.state]}（延长 {ext.amount} 个工作日）")
        return 0
    if args.command == "decide-extension":
        ext = sup.DecideExtension(pb.DecideExtensionRequest(extension_id=args.extension_id, head_id=actor,
                                                            approve=args.approve, note=args.note), timeout=10).extension
        print(f"延期申请 {ext.extension_id}：{EXTENSION_WORDS[ext.state]}")
        return 0
    return None


def _day(ts: Timestamp) -> str:
    return f"{clock.local(clock.from_timestamp(ts)):%Y-%m-%d}"


def print_cards(found: list[pb.Card]) -> int:
    if not found:
        print("没有符合条件的警示卡")
        return 0
    for c in found:
        raised = clock.local(clock.from_timestamp(c.raised_at))
        print(f"{LEVEL_WORDS[c.level]}  {c.card_id:<40} {c.department or '中心':<16} {STATE_WORDS[c.state]:<4} "
              f"{raised:%Y-%m-%d %H:%M}  {c.explanation}")
    return 0


def print_deadlines(got: pb.GetCaseDeadlinesResponse) -> None:
    """The case's and each step's limits, their ledger of running and paused stretches, the
    cards, extensions and notices."""
    for d in [got.case_deadline, *got.steps]:
        who = f"环节 {d.step_id}（{d.department}）" if d.step_id else "案件"
        unit = UNIT_WORDS.get(d.unit, "")
        flags = "；逾期（视为超时）" if d.overdue else ""
        flags += "；日历未公布，暂按周一至周五计" if d.provisional else ""
        print(f"{who}：{CLOCK_WORDS.get(d.state, '')}，承诺 {d.promised_amount}{unit} 至 {_day(d.promised_due)}，"
              f"法定 {d.statutory_amount}{unit}"
              + (f"（延长 {d.extension_amount}）" if d.extension_amount else "")
              + f" 至 {_day(d.statutory_due)}；已用 {d.used}，剩余 {d.remaining}{flags}")
        for i in d.ledger:
            end = _day(i.end) if i.HasField("end") else "至今"
            if i.kind == pb.INTERVAL_KIND_PAUSED:
                print(f"    暂停  {_day(i.start)} 至 {end}  {i.units}{unit}  {i.procedure}：{i.reason}")
            else:
                print(f"    计时  {_day(i.start)} 至 {end}  {i.units}{unit}")
        print(f"    {d.promised_explanation}")
    for c in got.cards:
        print(f"  {LEVEL_WORDS[c.level]}（{STATE_WORDS[c.state]}）{c.step_id or '案件'}：{c.explanation}")
        for e in c.history[1:]:
            print(f"      {ACTION_WORDS.get(e.action, '')} {e.actor_id}：{e.text}")
    for x in got.extensions:
        print(f"  延期 {x.extension_id}：{EXTENSION_WORDS[x.state]}，{x.reason}")
    for n in got.notices:
        print(f"  告知 {_day(n.at)}：{n.text}")


def deadlines_or_note(counter: Counter, case_id: str) -> None:
    """`hall case` prints the deadlines when supervision knows the case, else says why not."""
    try:
        print_deadlines(counter.supervision.GetCaseDeadlines(pb.GetCaseDeadlinesRequest(case_id=case_id), timeout=10))
    except grpc.RpcError as err:
        if err.code() == grpc.StatusCode.NOT_FOUND:  # type: ignore[attr-defined]
            print("时限监察：尚未收到该案件（事件送达后即可查询）")
        elif err.code() == grpc.StatusCode.UNAVAILABLE:  # type: ignore[attr-defined]
            print("时限监察：监察服务暂不可用")
        else:
            raise

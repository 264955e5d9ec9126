"""The counter client, `hall` (also `python -m services.counter`).

At the window: search, matter, notice, ticket (take, call, recall, no-show, transfer, show), waits,
submit, status, watch, withdraw, receipt. Supervision: case, cards, appeal, decide-appeal, extension,
decide-extension, report, export, feed, evaluate, complain, audit. Operations: matters, timeline,
verify-audit, incidents, retry-incident; deadline (offline). `hall COMMAND --help` for each.
Sign in first: `hall login <staff id>` (the token is kept in ~/.config/hall/token, or
HALL_TOKEN_FILE; HALL_TOKEN overrides it); `hall whoami`, `hall logout`. The servers: HALL_HOST and
HALL_<SERVICE>_PORT (default the ports `make run` uses)."""

from __future__ import annotations

import argparse
import datetime
import getpass
import os
import sys
from collections.abc import Iterable
from typing import cast

import grpc
from google.protobuf import any_pb2, text_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from hall.v1 import access_pb2, approval_pb2, audit_pb2, auth_pb2, common_pb2, intake_pb2, router_pb2
from services.counter import deadline, forms, supervision, window
from services.counter.client import Counter, Endpoints, token_file
from services.domain.money import format_yuan
from services.runtime import clock

STATUS = intake_pb2.ApplicationStatus


def print_chain_check(check: audit_pb2.VerifyChainResponse) -> int:
    """One line on the audit trail's hash chain; 0 when intact, 1 when not."""
    if check.intact:
        print(f"监察记录哈希链完整：已核验 {check.records_checked} 条（链头 {check.head_hash[:16]}…）")
        return 0
    where = f"，第 {check.first_broken_sequence} 条起" if check.first_broken_sequence else ""
    print(f"监察记录哈希链不完整{where}：{check.problem}（已核验 {check.records_checked} 条，链头记 {check.head_count} 条）")
    return 1


def step_status_name(status: int) -> str:
    return common_pb2.StepStatus.Name(status).removeprefix("STEP_STATUS_").lower()  # type: ignore[arg-type]


def print_case(case: router_pb2.GetCaseResponse) -> int:
    print(f"案件 {case.case_id}：{approval_pb2.CaseStatus.Name(case.status).removeprefix('CASE_STATUS_')}"
          f"（目录版本 {case.catalogue_version}）")
    for step in case.steps:
        reasons = "；".join(r.message for r in step.reasons)
        print(f"  {step.step_id:<16} {step.department:<16} {step_status_name(step.status):<11} {reasons}")
    return 0


def print_incidents(incidents: list[router_pb2.Incident]) -> int:
    if not incidents:
        print("没有待处理的故障环节")
        return 0
    print(f"待处理的故障环节：{len(incidents)} 个（排除原因后用 retry-incident 重新派发）")
    for i in incidents:
        opened = clock.local(clock.from_timestamp(i.opened_at))
        print(f"  {i.case_id}  {i.step_id:<16} {i.department:<16} 已尝试 {i.attempts} 次  "
              f"{opened:%Y-%m-%d %H:%M:%S}  {i.last_error}")
    return 0


_DETAILS = (error_details_pb2.BadRequest, error_details_pb2.PreconditionFailure, error_details_pb2.ResourceInfo,
            error_details_pb2.ErrorInfo, error_details_pb2.RetryInfo)


def describe_details(details: Iterable[any_pb2.Any]) -> list[str]:
    """A status's details as one line each (field violations, failed preconditions, the resource)."""
    lines = []
    for detail in details:
        for kind in _DETAILS:
            if detail.Is(kind.DESCRIPTOR):
                message = kind()
                detail.Unpack(message)
                lines.append(f"{kind.__name__}: {text_format.MessageToString(message, as_one_line=True, as_utf8=True)}")
                break
        else:
            lines.append(detail.type_url)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hall", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    lg = sub.add_parser("login", help="sign in (asks for the password; every later command calls as you)")
    lg.add_argument("staff_id")
    lg.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    sub.add_parser("whoami", help="who the saved token says you are")
    sub.add_parser("logout", help="forget the saved token")
    window.add_parsers(sub)
    deadline.add_parser(sub)
    sub.add_parser("matters", help="list the catalogue")
    p = sub.add_parser("timeline", help="print a case's audit timeline")
    p.add_argument("case_id")
    au = sub.add_parser("audit", help="the inspectors' query of the audit trail: records by actor, department, time")
    au.add_argument("--actor", dest="who", default="", help="only this actor's records (a clerk's or officer's id)")
    au.add_argument("--department", default="", help="only this department's records (its code, e.g. planning)")
    au.add_argument("--from", dest="from_time", default="", help="from this time on (YYYY-MM-DD or YYYY-MM-DDTHH:MM, Shanghai)")
    au.add_argument("--to", dest="to_time", default="", help="before this time (same forms)")
    au.add_argument("--after", type=int, default=0, help="the cursor a previous page ended with")
    au.add_argument("--limit", type=int, default=100, help="records per page (default 100, at most 1000)")
    v = sub.add_parser("verify-audit", help="check the audit trail's hash chain (exit 1 if it is not intact)")
    v.add_argument("--timeout", type=float, default=120.0, help="seconds to allow (it reads every record)")
    case = sub.add_parser("case", help="a case's status and each step's, with its deadlines, ledger and cards")
    case.add_argument("case_id")
    sub.add_parser("incidents", help="steps whose technical failures outlasted the router's retries")
    retry = sub.add_parser("retry-incident", help="dispatch an incident's step again, once its cause is mended")
    retry.add_argument("case_id")
    retry.add_argument("step_id")
    supervision.add_parsers(sub)
    args = parser.parse_args(argv)
    if args.command == "deadline":  # offline: no suite to connect to
        return deadline.run(args)
    if args.command == "logout":
        token_file().unlink(missing_ok=True)
        print("已退出登录")
        return 0
    counter = Counter(Endpoints.from_environment())
    try:
        if args.command == "login":
            return login(counter, args)
        if args.command == "whoami":
            print(describe(counter.auth.WhoAmI(auth_pb2.WhoAmIRequest(), timeout=5).principal))
            return 0
        if args.command in window.COMMANDS:
            return window.run(counter, args, window.console())
        if args.command == "matters":
            for m in counter.intake.ListMatters(intake_pb2.ListMattersRequest(), timeout=5).matters:
                fee = "不收费" if not m.fees.charged else ", ".join(f"{i.name} {format_yuan(i.standard.fen)}" for i in m.fees.items)
                print(f"{m.code}  {m.name}  [{m.department}]  承诺{m.promised_limit.amount}日  {fee}")
            return 0
        if args.command == "audit":
            return print_audit(counter, args)
        if args.command == "verify-audit":
            return print_chain_check(counter.verify_audit_chain(args.timeout))
        if args.command == "case":
            print_case(counter.case(args.case_id))
            supervision.deadlines_or_note(counter, args.case_id)
            return 0
        if args.command == "incidents":
            return print_incidents(counter.incidents())
        if args.command == "retry-incident":
            step = counter.retry_incident(args.case_id, args.step_id)
            print(f"已重新派发：{step.case_id} {step.step_id}（{step.department}，第 {step.attempts} 次）")
            return 0
        if args.command == "timeline":
            for e in counter.timeline(args.case_id):
                r = e.record
                at = clock.local(clock.from_timestamp(r.started_at))
                print(f"{at:%H:%M:%S.%f} {r.service:<24} {r.operation:<48} {r.outcome:<10} {r.step_id}")
            return 0
        done = supervision.run(counter, args)
        if done is not None:
            return done
    except grpc.RpcError as err:
        return print_error(err, counter)
    except forms.FormError as err:
        print(f"未办成（输入有误）：{err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        counter.close()
    return 0


ROLE_WORDS = {access_pb2.ROLE_CLERK: "窗口工作人员", access_pb2.ROLE_OFFICER: "部门审批人员",
              access_pb2.ROLE_SUPERVISOR: "监察员", access_pb2.ROLE_OPERATOR: "平台运维人员",
              access_pb2.ROLE_SERVICE: "系统服务"}


def describe(p: auth_pb2.Principal) -> str:
    where = f"，{p.window_id} 窗口" if p.window_id else (f"，{p.department}" if p.department else "")
    return f"{p.name or p.subject}（{p.subject}，{ROLE_WORDS.get(p.role, '未知角色')}{where}）"


def login(counter: Counter, args: argparse.Namespace) -> int:
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("密码：")
    got = counter.login(args.staff_id, password)
    path = token_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Only its owner reads the token: it is the person's signature until it expires.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(got.token + "\n")
    until = clock.local(clock.from_timestamp(got.expires_at))
    print(f"已登录：{describe(got.principal)}，有效至 {until:%Y-%m-%d %H:%M}")
    return 0


def _moment(text: str) -> datetime.datetime | None:
    """A time as an inspector writes it, in Shanghai."""
    if not text:
        return None
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise forms.FormError(f"时间应写作 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM，不是 {text}") from None
    return moment.replace(tzinfo=clock.SHANGHAI) if moment.tzinfo is None else moment


def print_audit(counter: Counter, args: argparse.Namespace) -> int:
    req = audit_pb2.SearchRecordsRequest(actor_id=args.who, department=args.department, after=args.after,
                                         limit=args.limit)
    start, end = _moment(args.from_time), _moment(args.to_time)
    if start is not None:
        getattr(req, "from").CopyFrom(clock.to_timestamp(start))
    if end is not None:
        req.to.CopyFrom(clock.to_timestamp(end))
    got = counter.audit.SearchRecords(req, timeout=30, metadata=counter.metadata())
    for e in got.entries:
        r = e.record
        at = clock.local(clock.from_timestamp(r.started_at))
        print(f"{e.sequence:>8} {at:%Y-%m-%d %H:%M:%S} {r.actor_id or '-':<14} {r.department or '-':<16} "
              f"{r.service:<20} {r.operation:<48} {r.outcome:<10} {r.case_id}")
    print(f"共 {len(got.entries)} 条" + (f"；下一页：--after {got.next_after}" if got.next_after else "；已到末尾"))
    return 0


_CODE_WORDS = {grpc.StatusCode.INVALID_ARGUMENT: "填写有误", grpc.StatusCode.FAILED_PRECONDITION: "条件不符",
               grpc.StatusCode.NOT_FOUND: "查无此项", grpc.StatusCode.ALREADY_EXISTS: "已存在",
               grpc.StatusCode.PERMISSION_DENIED: "无权办理", grpc.StatusCode.RESOURCE_EXHAUSTED: "服务繁忙，请稍后再试",
               grpc.StatusCode.DEADLINE_EXCEEDED: "服务未在时限内答复，请稍后再试"}


def print_error(err: grpc.RpcError, counter: Counter) -> int:
    """One line a clerk can read (and the field details under it), never a traceback."""
    code = err.code()
    if code == grpc.StatusCode.UNAVAILABLE:
        print(f"连接不上大厅的服务（{counter.endpoints.intake} 等）：请先在另一个终端运行 make run，"
              "或用 HALL_HOST、HALL_<服务>_PORT 指向正在运行的服务", file=sys.stderr)
        return 2
    status = rpc_status.from_call(cast(grpc.Call, err))
    if code == grpc.StatusCode.UNAUTHENTICATED:
        said = _localized(status) or "请先登录"
        print(f"未办成（未登录）：{said}。用 hall login <工号> 登录", file=sys.stderr)
        return 2
    words = _CODE_WORDS.get(code)
    print(f"未办成（{words + '，' if words else ''}{code.name}）：{err.details()}", file=sys.stderr)
    for detail in status.details if status is not None else ():
        for kind, lines in ((error_details_pb2.BadRequest, lambda m: [f"{v.field}：{v.description}" for v in m.field_violations]),
                            (error_details_pb2.PreconditionFailure,
                             lambda m: [f"{v.subject}：{v.description}（{v.type}）" for v in m.violations])):
            message = kind()
            if detail.Unpack(message):
                for line in lines(message):
                    print(f"  - {line}", file=sys.stderr)
    return 2


def _localized(status: object) -> str:
    """The zh-CN sentence of a refused call's status, if it has one."""
    for detail in getattr(status, "details", ()):
        text = error_details_pb2.LocalizedMessage()
        if detail.Unpack(text):
            return text.message
    return ""


if __name__ == "__main__":
    sys.exit(main())

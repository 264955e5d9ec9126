"""`make bench-stores`: the services' transactions alone, in this process, on PostgreSQL.

Intake's submission and its status-event batches (`Applications.submit`, `apply_statuses`), the
router's engine taking a company registration's five messages one at a time, and several cases'
messages side by side in batches of `BENCH_STORES_SIZES` (`Engine.handle_batch`:
the submission, then the four departments' approvals), and the audit trail's appends
(`AuditStore.append`), each on a fresh schema, called one after another with no broker and no
other process: wall time, this process's CPU and PostgreSQL's per call (the server's processes
on this machine, every one: an idle server adds its background work), for batches of
BENCH_STORES_SIZES events or records. What one transaction of theirs costs, round trips
included, without the rest of the suite competing for the cores (`make bench-router` and `make
bench-adapter` run the processes whole). The audit trail's appends are measured again once the
trail holds BENCH_STORES_VERIFY_RECORDS (10,000) records more: an append must not slow down as
the trail grows. Last, the chain check (`VerifyChain`) over all of it: its time per record.
BENCH_STORES_PROFILE=1 also prints where the CPU went (cProfile, own time).
"""

from __future__ import annotations

import cProfile
import logging
import os
import pstats
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

import structlog
from google.protobuf.message import Message

from bench.cpu import postgres_ticks
from hall.v1 import approval_pb2, audit_pb2, common_pb2
from services.audit.store import AuditStore
from services.catalogue import load
from services.intake.applications import Applications
from services.router.engine import Engine
from services.runtime import clock, db, wire
from services.runtime.wire import Envelope
from tests.support import servers
from tests.support.db import schema
from tests.support.samples import company_registration

ROOT = Path(__file__).resolve().parent.parent
CALLS = int(os.environ.get("BENCH_STORES_CALLS", "300"))
SIZES = [int(s) for s in os.environ.get("BENCH_STORES_SIZES", "1,5,20").split(",")]
PROFILE = os.environ.get("BENCH_STORES_PROFILE", "0") == "1"
VERIFY_RECORDS = int(os.environ.get("BENCH_STORES_VERIFY_RECORDS", "10000"))  # added before the chain check


def measure(label: str, calls: int, call: Callable[[int], object], *, per: int = 1) -> None:
    """`call` `calls` times after a warm-up; the figures are per call, or per `per` of a call."""
    for i in range(min(20, calls)):  # warm-up: pool, prepared statements
        call(i)
    profile = cProfile.Profile() if PROFILE else None
    wall, cpu, server = time.perf_counter(), time.process_time(), postgres_ticks()
    if profile is not None:
        profile.enable()
    for i in range(calls):
        call(i)
    if profile is not None:
        profile.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    server_s = (postgres_ticks() - server) / os.sysconf("SC_CLK_TCK")  # 0 when the server is not on this machine
    unit = "call" if per == 1 else "message"
    print(f"  {label:34s} {wall / calls / per * 1000:7.2f} ms wall {cpu / calls / per * 1000:7.2f} ms CPU per {unit}"
          f" + {server_s / calls / per * 1000:.2f} ms in PostgreSQL")
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(15)


def intake(pg: str) -> None:
    with schema(pg, "bench") as name:
        engine = db.make_engine(pg, name)
        db.migrate(engine, ROOT / "services" / "intake" / "migrations", "alembic_version_intake")
        apps = Applications(db.session_factory(engine), load(), notify_channel=f"bench_{name}")
        print("intake")
        submitted: list[approval_pb2.CaseStatusChanged] = []

        def submit(_: int) -> None:
            app, _replayed = apps.submit(company_registration())
            submitted.append(approval_pb2.CaseStatusChanged(case_id=app.case_id, application_id=app.application_id))

        measure("submit", CALLS, submit)
        sequence = iter(range(1, 10**9))
        for size in SIZES:
            def statuses(i: int, size: int = size) -> None:
                seq = next(sequence)
                events = []
                for app in submitted[(i * size) % len(submitted):][:size]:
                    event = approval_pb2.CaseStatusChanged(
                        case_id=app.case_id, application_id=app.application_id, sequence=seq,
                        status=approval_pb2.CASE_STATUS_IN_PROGRESS, step_id="licence", step_status=common_pb2.STEP_STATUS_APPROVED)
                    event.at.CopyFrom(clock.to_timestamp(clock.now()))
                    events.append(event)
                apps.apply_statuses(events)

            measure(f"status events, batches of {size}", max(20, CALLS // size), statuses)
        engine.dispose()


def router(pg: str) -> None:
    with schema(pg, "bench") as name:
        engine = db.make_engine(pg, name)
        db.migrate(engine, ROOT / "services" / "router" / "migrations", "alembic_version_router")
        catalogue = load()
        router_engine = Engine(db.session_factory(engine), catalogue)
        form = company_registration()
        steps = catalogue.plan(bundle_code=form.bundle_code).steps  # in the catalogue's order: each after its `after`
        print("router")

        def message(msg: Message) -> Envelope:
            return Envelope(message=msg, message_id=uuid.uuid4().hex, type=wire.type_name(msg), routing_key="")

        def cases(size: int) -> None:
            """`size` cases side by side: each stage's messages of all of them in one batch."""
            ids = [f"bench{uuid.uuid4().hex[:20]}" for _ in range(size)]
            router_engine.handle_batch([message(approval_pb2.CaseSubmitted(
                case_id=case_id, application_id=uuid.uuid4().hex, bundle_code=form.bundle_code,
                catalogue_version=catalogue.version, applicant=form.applicant, materials=list(form.materials),
                fields=dict(form.fields), clerk_id=form.clerk_id)) for case_id in ids])
            for step in steps:
                router_engine.handle_batch([message(approval_pb2.SubApprovalDecision(
                    case_id=case_id, step_id=step.step_id, department=step.department,
                    outcome=approval_pb2.OUTCOME_APPROVED, results={"k": "v"},
                    request_message_id=f"req-{case_id}-{step.step_id}-1", attempt=1)) for case_id in ids])

        measure("a case's messages, one at a time", max(20, CALLS // 5), lambda _: cases(1), per=1 + len(steps))
        for size in SIZES:
            if size > 1:
                measure(f"{size} cases' messages, batches of {size}", max(10, CALLS // 5 // size),
                        partial(lambda size, _: cases(size), size), per=size * (1 + len(steps)))
        engine.dispose()


def audit(pg: str) -> None:
    with schema(pg, "bench") as name:
        engine = db.make_engine(pg, name)
        db.migrate(engine, ROOT / "services" / "audit" / "migrations", "alembic_version_audit")
        store = AuditStore(db.session_factory(engine))
        print("audit")

        def record() -> audit_pb2.CallRecord:
            rec = audit_pb2.CallRecord(
                record_id=uuid.uuid4().hex, service="router", kind=audit_pb2.CallRecord.KIND_MESSAGE,
                operation="hall.v1.SubApprovalDecision", case_id="15060220261126BENCH", actor_id="clerk-0001",
                step_id="licence", outcome="ack", duration_us=1500)
            rec.started_at.CopyFrom(clock.to_timestamp(clock.now()))
            return rec

        for size in SIZES:
            def append(_: int, size: int = size) -> None:
                store.append([record() for _ in range(size)])

            measure(f"append, batches of {size}", max(20, CALLS // size), append)
        for _ in range(VERIFY_RECORDS // 100):
            store.append([record() for _ in range(100)])
        trail = VERIFY_RECORDS + sum(max(20, CALLS // size) * size + min(20, CALLS // size) * size for size in SIZES)
        for size in SIZES:  # again, on a longer trail: the append must not slow down as the trail grows
            def append_later(_: int, size: int = size) -> None:
                store.append([record() for _ in range(size)])

            measure(f"append, batches of {size}, {trail // 1000}k on", max(20, CALLS // size), append_later)
        wall, cpu = time.perf_counter(), time.process_time()
        check = store.check_chain()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"  verify the chain: {check.checked} records, intact {check.intact}: "
              f"{wall / check.checked * 1e6:.0f} µs wall {cpu / check.checked * 1e6:.0f} µs CPU per record")
        engine.dispose()


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with servers.postgres() as pg:
        intake(pg)
        router(pg)
        audit(pg)


if __name__ == "__main__":
    main()

"""Entry point: python -m services.intake"""

from __future__ import annotations

import datetime as dt
import time

from hall.v1 import approval_pb2, audit_pb2, auth_pb2_grpc, intake_pb2_grpc, queue_pb2_grpc
from services import platform
from services.catalogue import load as load_catalogue
from services.catalogue import load_versions
from services.intake.applications import Applications
from services.intake.auth_servicer import AuthServicer
from services.intake.changes import ChangeListener, Changes, channel
from services.intake.queue_servicer import QueueServicer
from services.intake.servicer import IntakeServicer
from services.intake.staff import Staff
from services.runtime import auth, clock, topology
from services.runtime.config import env_float, env_int
from services.runtime.db import is_postgres
from services.runtime.grpc_server import add_servicer
from services.runtime.process import ServiceProcess
from services.runtime.wire import Envelope


def main() -> None:
    catalogue = load_catalogue()
    platform.check_departments(catalogue)
    proc = platform.process("intake")
    # Watchers are woken by whichever replica records a change (PostgreSQL LISTEN/NOTIFY, changes.py).
    changes = Changes()
    notify_channel = None
    if is_postgres(proc.engine):
        notify_channel = channel(proc.settings.database_schema)
        ChangeListener(proc.engine, notify_channel, changes).start()
    apps = Applications(proc.sessions, catalogue, changes=changes, notify_channel=notify_channel,
                        versions=load_versions(catalogue))
    proc.add_relay(apps.outbox)  # started by serve(); commits hand it their outbox rows
    # A year's public holidays arrive with a new calendar (the package or the hall's file, read at
    # start): promised dates counted provisionally over that year are counted again, each recorded.
    recompute_provisional(apps, proc)

    def on_status(envelopes: list[Envelope]) -> None:
        apps.apply_statuses([e.message for e in envelopes if isinstance(e.message, approval_pb2.CaseStatusChanged)])

    # Status events only update what the counter sees (no case waits on them): what arrives
    # within the linger is applied in one transaction.
    proc.add_consumer(topology.INTAKE_QUEUE, batch_handler=on_status,
                      threads=env_int("INTAKE_CONSUMERS", 1, minimum=1),  # a second thread halves the batches
                      linger_s=env_int("INTAKE_STATUS_LINGER_MS", 200, maximum=5000) / 1000)

    # Each open WatchApplication holds a server thread for as long as it lasts (an application that
    # waits for an officer: hours). Beyond INTAKE_MAX_WATCHES a watch is refused, and the server
    # has that many threads beyond GRPC_WORKERS: submissions and health checks never wait behind
    # watchers.
    max_watches = env_int("INTAKE_MAX_WATCHES", 200, minimum=1, maximum=5000)
    # Fail closed: no new application while call records cannot be delivered for longer than this.
    audit = proc.audit
    servicer = IntakeServicer(catalogue, apps, max_watches=max_watches,
                              watch_poll_s=env_float("INTAKE_WATCH_POLL_SECONDS", 5.0, minimum=0.1),
                              audit_stalled_for=audit.stalled_for if audit is not None else None,
                              fail_closed_after_s=env_float("INTAKE_AUDIT_FAIL_CLOSED_SECONDS", 30.0, minimum=0.0))
    # The hall's queue (排队叫号) lives with the window: the case a ticket leads to is accepted here.
    queue = QueueServicer(apps.queue)
    # The hall's sign-in: the staff directory and the private key tokens are signed with.
    staff, issuer = Staff.load(), auth.Issuer()
    if issuer.development or staff.development:
        proc.log.warning("signing in with the development key or staff directory: tokens prove nothing",
                         development_key=issuer.development, staff=staff.source)
    sign_in = AuthServicer(staff, issuer, dt.timedelta(hours=env_int("HALL_AUTH_TOKEN_HOURS", 10, minimum=1,
                                                                        maximum=24 * 7)))
    proc.serve(lambda server: [add_servicer(server, servicer, intake_pb2_grpc),
                               add_servicer(server, queue, queue_pb2_grpc),
                               add_servicer(server, sign_in, auth_pb2_grpc)], streams=max_watches)


def recompute_provisional(apps: Applications, proc: ServiceProcess) -> None:
    for row, before, counted in apps.recompute_provisional():
        detail = f"{clock.local(before):%Y-%m-%d} -> {counted.day.isoformat()}: {counted.explanation()}"
        proc.log.info("promised date recomputed", case_id=row.case_id, before=clock.local(before).date().isoformat(),
                      after=counted.day.isoformat())
        if proc.audit is not None:
            proc.audit.record(kind=audit_pb2.CallRecord.KIND_EVENT, operation="promised.recomputed",
                              started_wall=time.time(), duration_s=0.0, outcome="recomputed",
                              case_id=row.case_id, actor_id="intake", detail=detail)


if __name__ == "__main__":
    main()

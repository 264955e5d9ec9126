"""The life of one platform service process (intake, router, fees, audit).

Loads settings, configures logging, migrates the service's tables, then runs its gRPC server,
consumers and outbox relay until SIGTERM, and stops them in order: health NOT_SERVING -> gRPC
drained -> consumers stopped -> outbox flushed -> audit flushed -> exit 0.

The gRPC API does not wait for the broker: a thread waits for it, declares the broker layout and
only then starts the consumers and relays. So a counter can hand in an application while
RabbitMQ restarts; it waits in intake's outbox and is relayed once the broker is back.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
from sqlalchemy.orm import Session, sessionmaker

from hall.v1 import audit_pb2
from services.runtime import amqp, config, db, logging, metrics, priority, topology
from services.runtime.amqp import BatchHandler, Consumer, Handler
from services.runtime.audit_emitter import AuditEmitter
from services.runtime.audit_spool import open_spool
from services.runtime.grpc_server import GrpcServer
from services.runtime.lifecycle import run_until_signal
from services.runtime.outbox import Outbox, OutboxRelay
from services.runtime.retention import Pruner
from services.runtime.wire import Envelope

BROKER_START_WAIT_S = 2.0


class ServiceProcess:
    def __init__(self, service: str, *, default_grpc_port: int, migrations: Path | None,
                 name: str | None = None, departments: Sequence[str] | None = None) -> None:
        """`service` names the settings and tables (database file, schema, version table); `name`
        (default: the same) is what logs, metrics and audit records call the process.
        `departments`: the broker layout is declared with a queue for each (the platform services
        pass the registry's); None for a process whose broker user may not configure (a desk)."""
        self.name = name or service
        self.settings = config.load(service, default_grpc_port=default_grpc_port)
        priority.lower(self.settings.cpu_nice)  # before any thread starts: threads inherit it
        self.log = logging.configure(self.name, self.settings.log_level)
        self.engine = db.make_engine(self.settings.database_url, self.settings.database_schema)
        if migrations is not None:
            db.prepare_schema(self.engine, migrations, f"alembic_version_{service}")
        self.sessions: sessionmaker[Session] = db.session_factory(self.engine)
        self._departments = sorted(departments) if departments is not None else None
        self.broker_ready = threading.Event()  # layout declared, consumers and relays started
        self._lifecycle = threading.Lock()  # starting the broker side vs. stopping
        self._fatal = False
        self._halt = threading.Event()  # set to stop as on SIGTERM
        self.audit = (AuditEmitter(self.settings.amqp_url, self.name,
                                   linger_s=self.settings.audit_linger_ms / 1000,
                                   spool=open_spool(self.settings.audit_spool_dir, self.name))
                      if self.settings.audit_enabled else None)
        self._consumers: list[Consumer] = []
        self._relays: list[OutboxRelay] = []
        self._server: GrpcServer | None = None
        self._periodic: list[tuple[str, int, Callable[[], object]]] = []
        self._retention_days = config.env_int("RETENTION_DAYS", 7, minimum=1, maximum=3650)
        self._retention_scan_s = config.env_int("RETENTION_SCAN_SECONDS", 3600, minimum=1)
        self._stopping = threading.Event()

    def add_relay(self, outbox: Outbox) -> OutboxRelay:
        """A relay for `outbox` (it deletes each row once the broker has it); started by serve(),
        from then on the outbox hands it what each commit added."""
        relay = OutboxRelay(self.sessions, outbox, self.settings.amqp_url, name=self.name,
                            on_published=self.audit.published if self.audit is not None else None)
        self._relays.append(relay)
        return relay

    def retain(self, table: Any, column: Any) -> None:
        """Delete the rows of `table` whose `column` is more than RETENTION_DAYS old, every
        RETENTION_SCAN_SECONDS (rows that only serve delivery: see services/runtime/retention.py)."""
        pruner = Pruner(self.sessions, table, column, timedelta(days=self._retention_days))
        self.add_periodic(f"prune-{table.name}", self._retention_scan_s, pruner.prune)

    def add_consumer(self, queue: str, handler: Handler | None = None, *, batch_handler: BatchHandler | None = None,
                     audited: bool = True, threads: int = 1, linger_s: float = 0.0) -> None:
        """Consume `queue` with `handler` (one message, one transaction) or `batch_handler` (what has
        arrived together, one transaction; with `linger_s`, what arrives within that time)."""
        hook = self._record_message if (audited and self.audit is not None) else None
        single = handler if handler is not None else (lambda env: batch_handler([env]))  # type: ignore[misc]
        for i in range(threads):
            self._consumers.append(
                Consumer(self.settings.amqp_url, queue, single, name=f"{self.name}-{queue}-{i}",
                         prefetch=self.settings.prefetch, on_record=hook, batch_handler=batch_handler,
                         service=self.name, linger_s=linger_s)
            )

    def add_periodic(self, name: str, every_s: int, task: Callable[[], object]) -> None:
        """Run `task` every `every_s` seconds in a thread until shutdown (errors are logged)."""
        self._periodic.append((name, every_s, task))

    def _run_periodic(self, name: str, every_s: int, task: Callable[[], object]) -> None:
        while not self._stopping.wait(every_s):
            try:
                task()
            except Exception:  # noqa: BLE001 - keep the schedule alive
                self.log.exception("periodic task failed", task=name)

    def _record_message(self, envelope: Envelope, outcome: str, started: float, detail: str) -> None:
        assert self.audit is not None
        msg: Any = envelope.message
        self.audit.record(
            kind=audit_pb2.CallRecord.KIND_MESSAGE, operation=envelope.type or envelope.routing_key,
            started_wall=time.time() - (time.monotonic() - started), duration_s=time.monotonic() - started,
            outcome=outcome, detail=detail, case_id=envelope.case_id, actor_id=envelope.actor_id,
            step_id=getattr(msg, "step_id", "") if msg is not None else "",
            department=getattr(msg, "department", "") if msg is not None else "",
        )

    def _connect_broker(self) -> None:
        """Wait for the broker (logging while it is away), declare the layout, then start the
        consumers and relays. Runs in a thread of its own, so the gRPC API serves meanwhile."""
        backoff, waited = 0.5, 0.0
        while not self._stopping.is_set():
            try:
                publisher = amqp.Publisher(self.settings.amqp_url, name=f"{self.name}-declare")
                try:
                    publisher.declare(self._declare)  # connects: a process that may not configure only probes
                finally:
                    publisher.close()
                break
            except amqp.AMQP_ERRORS as exc:
                if amqp.is_misconfiguration(exc):
                    # Wrong credentials or vhost, or queue arguments that clash with the broker's:
                    # waiting will not mend it. Stop, and exit non-zero (a crash loop an operator sees).
                    self.log.error("broker refuses this process's configuration; stopping", error=repr(exc),
                                   broker=amqp.mask_url(self.settings.amqp_url))
                    self._fatal = True
                    self._halt.set()
                    return
                if waited == 0.0 or int(waited) // 30 != int(waited + backoff) // 30:  # at once, then every 30 s
                    self.log.warning("broker not reachable; serving gRPC, consumers wait", error=repr(exc),
                                     broker=amqp.mask_url(self.settings.amqp_url), waited_s=round(waited))
                self._stopping.wait(backoff)
                waited += backoff
                backoff = min(backoff * 2, 5.0)
        with self._lifecycle:
            if self._stopping.is_set():
                return
            for relay in self._relays:
                relay.start()
            for consumer in self._consumers:
                consumer.start()
            self.broker_ready.set()
        if waited:
            self.log.info("broker reachable; consuming", waited_s=round(waited))

    def _declare(self, channel: Any) -> None:
        if self._departments is not None:
            topology.declare_all(channel, self._departments)

    def serve(self, register: Callable[[grpc.Server], list[str]] | None = None, *, streams: int = 0,
              desk: str = "") -> None:
        """Run until SIGTERM/SIGINT. `streams`: how many long-lived streaming calls the service
        admits at once; each holds a server thread, so the server gets that many threads beyond
        GRPC_WORKERS and short calls (and health checks) always find one free."""
        if register is not None:
            self._server = GrpcServer(self.settings.grpc_port, register, audit=self.audit,
                                      max_workers=self.settings.grpc_workers + streams,
                                      grace_s=self.settings.grpc_grace_s, service=self.name, desk=desk)
        metrics.serve()
        threading.Thread(target=self._connect_broker, name="broker", daemon=True).start()
        # A broker that is up: consumers and relays run before the API answers, as a caller
        # expects. One that is away does not hold the API for longer than this.
        self.broker_ready.wait(BROKER_START_WAIT_S)
        for name, every_s, task in self._periodic:
            threading.Thread(target=self._run_periodic, args=(name, every_s, task), name=name, daemon=True).start()
        if self._server is not None:
            self._server.start()
        self.log.info("started", grpc_port=self._server.port if self._server else None)
        run_until_signal(self.stop, self._halt)
        if self._fatal:
            sys.exit(1)

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.stop()
        with self._lifecycle:
            started = self.broker_ready.is_set()
        if started:
            for consumer in self._consumers:
                consumer.stop()
            for relay in self._relays:
                relay.stop()
        if self.audit is not None:
            self.audit.close()
        self.engine.dispose()

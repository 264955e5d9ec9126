"""Runs one department's adapter under nameko's ServiceRunner (no nameko CLI: it needs
pkg_resources). eventlet must already be monkey-patched: see services/adapters/__main__.py."""

from __future__ import annotations

import errno
import signal
from typing import Any

from services.adapters.sdk.codec import SERIALIZERS
from services.adapters.sdk.core import AdapterCore
from services.adapters.sdk.registry import load_department
from services.runtime import config, db, logging, metrics, priority


def nameko_config(amqp_url: str, max_workers: int, audit_linger_ms: int = 50, committers: int = 2,
                  audit_spool_dir: str = "") -> dict[str, Any]:
    return {
        "AUDIT_LINGER_MS": audit_linger_ms,
        "AUDIT_SPOOL_DIR": audit_spool_dir,
        "ADAPTER_COMMITTERS": committers,
        "AMQP_URI": amqp_url,
        "serializer": "protobuf",
        "ACCEPT": ["protobuf"],
        "SERIALIZERS": SERIALIZERS,
        "max_workers": max_workers,
        "HEARTBEAT": 30,
    }


def prepare(code: str) -> tuple[AdapterCore, config.Settings]:
    department = load_department(code)
    settings = config.load(f"adapter_{code}")
    priority.lower(settings.cpu_nice)
    logging.configure(f"adapter-{code}", settings.log_level)
    # One connection per worker (nameko workers and the desk's gRPC threads): no pool overflow churn.
    workers = config.env_int("ADAPTER_MAX_WORKERS", 8, minimum=1, maximum=256)
    engine = db.make_engine(settings.database_url, settings.database_schema, pool_size=max(4, workers))
    if department.migrations is not None:
        db.migrate(engine, department.migrations, f"alembic_version_adapter_{code}")
    return AdapterCore(department, db.session_factory(engine)), settings


def run(code: str) -> None:
    import eventlet
    from nameko.runners import ServiceRunner

    from services.adapters.sdk.service import build_service, declare_department_queue

    core, settings = prepare(code)
    sqlite = settings.database_url.startswith("sqlite")
    # SQLite locks the whole file: one worker at a time. PostgreSQL waits are green (see __main__).
    workers = config.env_int("ADAPTER_MAX_WORKERS", 1 if sqlite else 8, minimum=1, maximum=256)
    # Transactions in flight at once, each deciding whatever requests are waiting (group commit).
    committers = config.env_int("ADAPTER_COMMITTERS", 1 if sqlite else 2, minimum=1, maximum=64)
    runner = ServiceRunner(nameko_config(settings.amqp_url, workers, settings.audit_linger_ms, committers,
                                         settings.audit_spool_dir))
    declare = config.env_choice("ADAPTER_DECLARE", "true", ("true", "false")) == "true"
    if declare and not declare_department_queue(settings.amqp_url, code):
        declare = False  # the queue exists with an earlier version's arguments: consumed as it is
    runner.add_service(build_service(core, declare=declare))

    def shutdown(signum: int, frame: Any) -> None:
        # Signal handlers run in the main loop and cannot use eventlet primitives directly.
        eventlet.spawn_n(runner.stop)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    runner.start()
    metrics.serve()
    logging.configure(f"adapter-{code}", settings.log_level).info("adapter started", department=code,
                                                                  workers=workers)
    waiter = eventlet.spawn(runner.wait)
    while True:
        try:
            waiter.wait()
        except OSError as exc:
            if exc.errno == errno.EINTR:
                continue
            raise
        break

"""Runs one department's adapter under nameko's ServiceRunner (no nameko CLI: it needs
pkg_resources). eventlet must already be monkey-patched: see services/adapters/__main__.py."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine

from services.adapters.sdk.codec import SERIALIZERS
from services.adapters.sdk.core import AdapterCore
from services.adapters.sdk.health import Health
from services.adapters.sdk.health import serve as serve_health
from services.adapters.sdk.registry import load_department
from services.adapters.sdk.settings import AdapterSettings
from services.adapters.sdk.settings import load as load_settings
from services.runtime import db, logging, metrics, priority
from services.runtime.config import env_int
from services.runtime.lifecycle import run_until_signal


def nameko_config(settings: AdapterSettings) -> dict[str, Any]:
    return {
        "AUDIT_LINGER_MS": settings.process.audit_linger_ms,
        "AUDIT_SPOOL_DIR": settings.process.audit_spool_dir,
        "ADAPTER_COMMITTERS": settings.committers,
        "AMQP_URI": settings.process.amqp_url,
        "serializer": "protobuf",
        "ACCEPT": ["protobuf"],
        "SERIALIZERS": SERIALIZERS,
        "max_workers": settings.max_workers,
        "HEARTBEAT": 30,
    }


def prepare(code: str) -> tuple[AdapterCore, AdapterSettings, Engine]:
    settings = load_settings(code)
    department = load_department(code, settings.department)
    priority.lower(settings.process.cpu_nice)
    logging.configure(f"adapter-{code}", settings.process.log_level)
    # One connection per worker (nameko workers and the desk's gRPC threads): no pool overflow churn.
    engine = db.make_engine(settings.process.database_url, settings.process.database_schema,
                            pool_size=max(4, settings.max_workers))
    if department.migrations is not None:
        db.prepare_schema(engine, department.migrations, f"alembic_version_adapter_{code}")
    return AdapterCore(department, db.session_factory(engine)), settings, engine


def run(code: str) -> None:
    from nameko.runners import ServiceRunner

    from services.adapters.sdk.service import build_service, declare_department_queue

    core, settings, engine = prepare(code)
    health = Health(engine)
    serve_health(health, env_int("HEALTH_PORT", 0, maximum=65535))  # answers "starting" until below
    runner = ServiceRunner(nameko_config(settings))
    declare = settings.declare
    if declare and not declare_department_queue(settings.process.amqp_url, code):
        declare = False  # the queue exists with an earlier version's arguments: consumed as it is
    runner.add_service(build_service(core, declare=declare))
    runner.start()  # returns once the department's queue is consumed
    health.started = True
    metrics.serve()
    logging.configure(f"adapter-{code}", settings.process.log_level).info(
        "adapter started", department=code, workers=settings.max_workers)
    # Stops as every process of the suite does (services/runtime/lifecycle.py); a container that
    # dies (its broker connection lost for good) stops the process too.
    import eventlet

    died = threading.Event()
    failure: list[BaseException] = []

    def watch() -> None:
        try:
            runner.wait()
        except BaseException as exc:  # noqa: BLE001 - reported below, the process exits non-zero
            failure.append(exc)
        finally:
            died.set()

    eventlet.spawn_n(watch)

    def stop() -> None:
        health.stopping = True  # not ready from here: no new work is routed to a stopping pod
        runner.stop()

    run_until_signal(stop, died)
    if failure:
        raise SystemExit(f"adapter {code} stopped: {failure[0]!r}")

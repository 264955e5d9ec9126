"""Entry point of a department's desk process: python -m services.adapters.desk <department>

Eventlet-free (it hosts gRPC): DepartmentDeskService for officers, plus whatever read-only
services the department shares with others (the business register answers lookups). Port:
DESK_PORT (default 50060 + the department's position in DESK_PORTS).
"""

from __future__ import annotations

import sys

import grpc

from hall.v1 import department_pb2_grpc
from services.adapters.sdk.desk import Desk, DeskServicer
from services.adapters.sdk.handled import outbox_model
from services.adapters.sdk.registry import load_department
from services.runtime import amqp, config, db, logging
from services.runtime.audit_emitter import AuditEmitter
from services.runtime.grpc_server import GrpcServer, add_servicer, run_until_signal
from services.runtime.outbox import OutboxRelay

DESK_PORTS = {"business": 50061, "quality": 50062, "national_tax": 50063, "local_tax": 50064,
              "planning": 50065, "family_planning": 50066}


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m services.adapters.desk <department-code>")
    code = sys.argv[1]
    department = load_department(code)
    settings = config.load(f"adapter_{code}", default_grpc_port=DESK_PORTS.get(code, 50060))
    port = config.env_int("DESK_PORT", settings.grpc_port, maximum=65535)
    log = logging.configure(f"desk-{code}", settings.log_level)
    engine = db.make_engine(settings.database_url, settings.database_schema, pool_size=4)
    if department.migrations is not None:
        db.migrate(engine, department.migrations, f"alembic_version_adapter_{code}")
    sessions = db.session_factory(engine)
    amqp.wait_for_broker(settings.amqp_url, name=f"desk-{code}-probe")
    relay = OutboxRelay(sessions, outbox_model(code), settings.amqp_url, name=f"desk-{code}")
    desk = Desk(department, sessions, relay)
    audit = AuditEmitter(settings.amqp_url, f"desk-{code}") if settings.audit_enabled else None

    def register(server: grpc.Server) -> list[str]:
        names = [add_servicer(server, DeskServicer(desk), department_pb2_grpc)]
        return names + department.register_shared_services(server, sessions)

    server = GrpcServer(port, register, audit=audit, grace_s=settings.grpc_grace_s)
    relay.start()
    server.start()
    log.info("desk started", department=code, port=server.port)

    def stop() -> None:
        server.stop()
        relay.stop()
        if audit is not None:
            audit.close()
        engine.dispose()

    run_until_signal(stop)


if __name__ == "__main__":
    main()

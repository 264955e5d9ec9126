"""Entry point of a department's desk process: python -m services.adapters.desk <department>

Eventlet-free (it hosts gRPC): DepartmentDeskService for officers, plus whatever read-only
services the department shares with others (the business register answers lookups). It uses the
adapter's database and broker user (no rights to declare). Port: DESK_PORT, else GRPC_PORT, else
the department's `desk_port` in services/adapters/departments.toml.
"""

from __future__ import annotations

import sys

from hall.v1 import department_pb2_grpc
from services.adapters import registry
from services.adapters.sdk.desk import Desk, DeskServicer
from services.adapters.sdk.registry import load_department
from services.runtime.config import env_int
from services.runtime.grpc_server import add_servicer
from services.runtime.process import ServiceProcess


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m services.adapters.desk <department-code>")
    code = sys.argv[1]
    department = load_department(code)
    proc = ServiceProcess(f"adapter_{code}", default_grpc_port=env_int("DESK_PORT", registry.entry(code).desk_port),
                          migrations=department.migrations, name=f"desk-{code}")
    desk = Desk(department, proc.sessions)
    proc.add_relay(desk.outbox)  # started by serve(); commits hand it their outbox rows
    proc.serve(lambda server: [add_servicer(server, DeskServicer(desk), department_pb2_grpc),
                               *department.register_shared_services(server, proc.sessions)], desk=code)


if __name__ == "__main__":
    main()

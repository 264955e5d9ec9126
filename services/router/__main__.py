"""Entry point: python -m services.router"""

from __future__ import annotations

from hall.v1 import router_pb2_grpc
from services import platform
from services.catalogue import load as load_catalogue
from services.catalogue import load_versions
from services.router.engine import Engine
from services.router.models import ProcessedMessage
from services.router.servicer import RouterServicer
from services.runtime import topology
from services.runtime.config import env_int
from services.runtime.grpc_server import add_servicer


def main() -> None:
    catalogue = load_catalogue()
    platform.check_departments(catalogue)
    proc = platform.process("router")
    engine = Engine(proc.sessions, catalogue, max_attempts=env_int("ROUTER_MAX_ATTEMPTS", 4, minimum=1),
                    versions=load_versions(catalogue))
    proc.add_relay(engine.outbox)  # started by serve(); commits hand it their outbox rows
    proc.add_periodic("incidents", env_int("ROUTER_INCIDENT_SCAN_SECONDS", 30, minimum=1), engine.count_open_incidents)
    processed = ProcessedMessage.__table__
    proc.retain(processed, processed.c.processed_at)  # a copy of a message this old no longer comes
    # One consumer thread per replica: a second one only splits the batches and contends for the
    # GIL (`make bench-router`). Scale out with replicas instead.
    proc.add_consumer(topology.ROUTER_QUEUE, batch_handler=engine.handle_batch,
                      threads=env_int("ROUTER_CONSUMERS", 1, minimum=1))

    proc.serve(lambda server: [add_servicer(server, RouterServicer(engine), router_pb2_grpc)])


if __name__ == "__main__":
    main()

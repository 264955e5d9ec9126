"""Entry point: python -m services.supervision"""

from __future__ import annotations

from hall.v1 import inspection_pb2_grpc, supervision_pb2_grpc
from services import platform
from services.catalogue import load as load_catalogue
from services.catalogue import load_versions
from services.runtime import topology
from services.runtime.grpc_server import add_servicer
from services.runtime.outbox import Outbox
from services.supervision.inspection import InspectionServicer
from services.supervision.models import SupervisionOutbox
from services.supervision.servicer import SupervisionServicer
from services.supervision.settings import SupervisionSettings
from services.supervision.supervisor import Supervisor


def main() -> None:
    settings = SupervisionSettings.from_environment()
    catalogue = load_catalogue()
    platform.check_departments(catalogue)
    proc = platform.process("supervision")
    supervisor = Supervisor(proc.sessions, load_versions(catalogue), catalogue, Outbox(SupervisionOutbox),
                            settings.prewarning)
    proc.add_relay(supervisor.outbox)
    proc.add_consumer(topology.SUPERVISION_QUEUE, batch_handler=supervisor.handle_batch,
                      linger_s=settings.linger_ms / 1000)
    proc.add_periodic("sweep", settings.sweep_seconds, supervisor.sweep)
    proc.serve(lambda server: [
        add_servicer(server, SupervisionServicer(supervisor, proc.sessions, settings), supervision_pb2_grpc),
        add_servicer(server, InspectionServicer(supervisor, proc.sessions, settings), inspection_pb2_grpc)])


if __name__ == "__main__":
    main()

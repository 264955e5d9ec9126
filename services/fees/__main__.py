"""Entry point: python -m services.fees"""

from __future__ import annotations

import structlog

from hall.v1 import approval_pb2, fees_pb2_grpc
from services import platform
from services.catalogue import load as load_catalogue
from services.catalogue import load_versions
from services.fees.payments import Fees
from services.fees.servicer import FeesServicer
from services.fees.signing import Signer
from services.runtime import topology
from services.runtime.config import env_secret
from services.runtime.grpc_server import add_servicer
from services.runtime.wire import Envelope


def main() -> None:
    catalogue = load_catalogue()
    platform.check_departments(catalogue)
    proc = platform.process("fees")
    # The receipt signing key: a PEM from a Secret (FEES_SIGNING_KEY, or a file FEES_SIGNING_KEY_FILE).
    signer = Signer(env_secret("FEES_SIGNING_KEY") or None)
    if signer.development:
        structlog.get_logger().warning("FEES_SIGNING_KEY not set: receipts are signed with the development key",
                                       key_id=signer.key_id)
    fees = Fees(proc.sessions, catalogue, signer, versions=load_versions(catalogue))
    proc.add_relay(fees.outbox)  # started by serve(): payment.received to the router

    def on_messages(envelopes: list[Envelope]) -> None:
        messages = [e.message for e in envelopes]
        fees.bill([m for m in messages if isinstance(m, approval_pb2.CaseSubmitted)])
        fees.ended([m for m in messages if isinstance(m, approval_pb2.CaseStatusChanged)])

    # Accepted applications get their bills, and ended ones stop taking payments, in batches.
    proc.add_consumer(topology.FEES_QUEUE, batch_handler=on_messages)
    proc.serve(lambda server: [add_servicer(server, FeesServicer(fees), fees_pb2_grpc)])


if __name__ == "__main__":
    main()

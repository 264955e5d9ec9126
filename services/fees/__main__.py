"""Entry point: python -m services.fees"""

from __future__ import annotations

import structlog

from hall.v1 import approval_pb2, fees_pb2, fees_pb2_grpc
from services import platform
from services.catalogue import load as load_catalogue
from services.fees.receipts import Receipts
from services.fees.servicer import FeesServicer
from services.runtime import topology
from services.runtime.config import env_str
from services.runtime.grpc_server import add_servicer
from services.runtime.wire import Envelope

DEV_KEY = "dev-only-receipt-key"


def main() -> None:
    catalogue = load_catalogue()
    platform.check_departments(catalogue)
    proc = platform.process("fees")
    key = env_str("FEES_RECEIPT_KEY", DEV_KEY)
    if key == DEV_KEY:
        structlog.get_logger().warning("FEES_RECEIPT_KEY not set: receipts are signed with the development key")
    receipts = Receipts(proc.sessions, catalogue, key.encode())

    def on_completed(envelopes: list[Envelope]) -> None:
        receipts.issue_all([
            fees_pb2.IssueReceiptRequest(application_id=e.application_id, case_id=e.case_id, matter_code=e.matter_code,
                                         bundle_code=e.bundle_code, payer_name=e.applicant_name)
            for e in (envelope.message for envelope in envelopes)
            if isinstance(e, approval_pb2.CaseStatusChanged) and e.status == approval_pb2.CASE_STATUS_COMPLETED])

    # Completed cases that arrive together get their receipts in one transaction.
    proc.add_consumer(topology.FEES_QUEUE, batch_handler=on_completed)

    proc.serve(lambda server: [add_servicer(server, FeesServicer(catalogue, receipts), fees_pb2_grpc)])


if __name__ == "__main__":
    main()

"""Entry point: python -m services.audit"""

from __future__ import annotations

from hall.v1 import approval_pb2, audit_pb2, audit_pb2_grpc
from services import platform
from services.audit.servicer import AuditServicer
from services.audit.store import AuditStore, event_record
from services.runtime import topology
from services.runtime.config import env_int
from services.runtime.grpc_server import add_servicer
from services.runtime.wire import Envelope


def main() -> None:
    proc = platform.process("audit")
    store = AuditStore(proc.sessions)

    def on_records(envelopes: list[Envelope]) -> None:
        records = []
        for envelope in envelopes:
            msg = envelope.message
            if isinstance(msg, audit_pb2.CallRecord):
                records.append(msg)
            elif isinstance(msg, audit_pb2.CallRecordBatch):
                records.extend(msg.records)
            elif isinstance(msg, approval_pb2.CaseStatusChanged):
                records.append(event_record(msg, envelope.message_id))
        store.append(records)

    # The audit consumer does not audit itself (that would loop). It is on no case's path, so it
    # lingers to store what arrives together in one transaction (one chain-head lock per batch).
    proc.add_consumer(topology.AUDIT_QUEUE, batch_handler=on_records, audited=False,
                      linger_s=env_int("AUDIT_STORE_LINGER_MS", 100, maximum=5000) / 1000)

    proc.serve(lambda server: [add_servicer(server, AuditServicer(store), audit_pb2_grpc)])


if __name__ == "__main__":
    main()

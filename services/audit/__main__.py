"""Entry point: python -m services.audit"""

from __future__ import annotations

import time
from datetime import timedelta

from hall.v1 import approval_pb2, audit_pb2, audit_pb2_grpc
from services import platform
from services.audit.evidence import CheckpointSigner
from services.audit.servicer import AuditServicer
from services.audit.store import AuditStore, event_record
from services.runtime import topology
from services.runtime.config import env_int
from services.runtime.grpc_server import add_servicer
from services.runtime.wire import Envelope


def main() -> None:
    proc = platform.process("audit")
    signer = CheckpointSigner()
    if signer.development:
        proc.log.warning("AUDIT_CHECKPOINT_KEY not set: checkpoints are signed with the development key",
                         key_id=signer.key_id)
    store = AuditStore(proc.sessions, signer)
    # Signed checkpoints anchor the chain (evidence.py): one at start, then every interval.
    every_s = env_int("AUDIT_CHECKPOINT_SECONDS", 60, minimum=1, maximum=3600)
    store.checkpoint()
    proc.add_periodic("audit-checkpoint", every_s, store.checkpoint)

    def on_records(envelopes: list[Envelope]) -> None:
        records = []
        for envelope in envelopes:
            msg = envelope.message
            if isinstance(msg, audit_pb2.CallRecord):
                records.append(msg)
            elif isinstance(msg, audit_pb2.CallRecordBatch):
                records.extend(msg.records)
                # Audit's own consumption is on the trail too, stored with what it brought (not
                # emitted: a record of a record sent over the broker would never end). Keyed by the
                # message id, so a redelivered batch adds nothing.
                records.append(consumed_record(envelope, len(msg.records)))
            elif isinstance(msg, approval_pb2.CaseStatusChanged):
                records.append(event_record(msg, envelope.message_id))
        store.append(records)

    # The audit consumer does not audit itself (that would loop). It is on no case's path, so it
    # lingers to store what arrives together in one transaction (one chain-head lock per batch).
    proc.add_consumer(topology.AUDIT_QUEUE, batch_handler=on_records, audited=False,
                      linger_s=env_int("AUDIT_STORE_LINGER_MS", 100, maximum=5000) / 1000)

    servicer = AuditServicer(store, timedelta(seconds=every_s))
    proc.serve(lambda server: [add_servicer(server, servicer, audit_pb2_grpc)])


def consumed_record(envelope: Envelope, count: int) -> audit_pb2.CallRecord:
    rec = audit_pb2.CallRecord(record_id=f"consumed-{envelope.message_id}"[:64], service="audit",
                               kind=audit_pb2.CallRecord.KIND_MESSAGE, operation=envelope.type or envelope.routing_key,
                               outcome="stored", detail=f"{count} records from {envelope.routing_key}")
    rec.started_at.FromNanoseconds(time.time_ns())
    return rec


if __name__ == "__main__":
    main()

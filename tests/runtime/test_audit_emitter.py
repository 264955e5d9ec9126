"""The emitter never drops a record: with delivery cut and its room full, a caller waits (push-back)
instead of losing what it records, and once delivery is back everything arrives, ID numbers and
phones in the text masked. Against the real broker, with the emitter's user's audit.* publishing
cut (tests/intake/test_fail_closed.py's BrokerUser)."""

from __future__ import annotations

import threading
import time

import pika
import pytest

from hall.v1 import audit_pb2
from services.runtime import topology
from services.runtime.amqp import Publisher
from services.runtime.audit_emitter import AuditEmitter
from tests.intake.test_fail_closed import user  # noqa: F401 - the fixture, requested by name
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def arrived(url: str, expected: int, timeout: float = 30.0) -> list[audit_pb2.CallRecord]:
    records: list[audit_pb2.CallRecord] = []
    conn = pika.BlockingConnection(pika.URLParameters(url))
    deadline = time.monotonic() + timeout
    try:
        ch = conn.channel()
        while len(records) < expected and time.monotonic() < deadline:
            method, _, body = ch.basic_get(topology.AUDIT_QUEUE, auto_ack=True)
            if method is None:
                time.sleep(0.1)
                continue
            records += audit_pb2.CallRecordBatch.FromString(body).records
    finally:
        conn.close()
    return records


def test_a_full_buffer_pushes_back_and_loses_nothing(user, fresh_amqp_url):  # noqa: F811
    declare = Publisher(fresh_amqp_url, name="declare")
    declare.declare(lambda ch: topology.declare_all(ch, []))
    declare.close()
    user.cut_audit()
    # Room for 3 waiting, and the batch being sent holds 1: a fifth record has to wait.
    emitter = AuditEmitter(user.url, "intake", capacity=3, max_batch=1, linger_s=0.0)
    try:
        for i in range(4):
            emitter.record(kind=audit_pb2.CallRecord.KIND_GRPC, operation=f"/op/{i}", started_wall=time.time(),
                           duration_s=0.0, outcome="OK", detail="申请人 150602198805051234 电话 13904770123")
        assert wait_until(lambda: emitter.stalled_for() > 0, timeout=30)
        fifth = threading.Thread(target=emitter.record, kwargs=dict(
            kind=audit_pb2.CallRecord.KIND_GRPC, operation="/op/4", started_wall=time.time(), duration_s=0.0,
            outcome="OK"))
        fifth.start()
        fifth.join(2.0)
        assert fifth.is_alive()  # waiting for room, not dropped
        user.restore()
        fifth.join(60)
        assert not fifth.is_alive()
        records = arrived(fresh_amqp_url, 5)
        assert sorted(r.operation for r in records) == ["/op/0", "/op/1", "/op/2", "/op/3", "/op/4"]
        assert "150602********1234" in records[0].detail and "139****0123" in records[0].detail
        assert wait_until(lambda: emitter.stalled_for() == 0, timeout=10)
    finally:
        user.restore()
        emitter.close()

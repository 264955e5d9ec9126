"""Call records are gathered into batches: what waits in the queue goes with the first record, up
to the batch size; the stop sentinel ends the batch."""

import queue

from hall.v1 import audit_pb2
from services.runtime.audit_emitter import Queued, gather


def rec(i):
    return Queued(audit_pb2.CallRecord(record_id=f"r{i}"), segment=i // 2)


def filled(*items):
    q: queue.Queue[Queued | None] = queue.Queue()
    for item in items:
        q.put(item)
    return q


def test_what_waits_travels_with_the_first_record_up_to_the_batch_size():
    q = filled(*(rec(i) for i in range(1, 6)))
    batch, segment, closing = gather(rec(0), q.get_nowait, queue.Empty, linger_s=0.0, max_batch=4)
    assert [r.record_id for r in batch.records] == ["r0", "r1", "r2", "r3"] and not closing
    assert segment == 1  # the spool segment of the batch's last record
    assert q.qsize() == 2


def test_the_stop_sentinel_ends_the_batch():
    batch, _, closing = gather(rec(0), filled(rec(1), None, rec(2)).get_nowait, queue.Empty, linger_s=0.0,
                               max_batch=10)
    assert [r.record_id for r in batch.records] == ["r0", "r1"] and closing


def test_what_arrives_during_the_linger_goes_too():
    q = filled()
    slept = []

    def sleep(s):  # records arriving while the sender lingers
        slept.append(s)
        q.put(rec(1))

    batch, _, closing = gather(rec(0), q.get_nowait, queue.Empty, linger_s=0.05, max_batch=10, sleep=sleep)
    assert slept == [0.05] and [r.record_id for r in batch.records] == ["r0", "r1"] and not closing

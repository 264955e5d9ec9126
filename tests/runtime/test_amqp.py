"""Publisher confirms, mandatory routing, ack after the handler, requeue on failure, parking."""

import threading

import pika
import pytest

from hall.v1 import approval_pb2
from services.runtime import topology, wire
from services.runtime.amqp import Consumer, Publisher, Unroutable
from tests.support.rabbit_node import queue_depth
from tests.support.waiting import wait_until


@pytest.fixture
def layout(fresh_amqp_url):
    pub = Publisher(fresh_amqp_url, name="test-declare")
    pub.declare(lambda ch: topology.declare_all(ch, ["business"]))
    pub.close()
    return fresh_amqp_url




def test_unroutable_message_is_refused_not_lost(layout):
    pub = Publisher(layout, name="t")
    with pytest.raises(Unroutable):
        pub.publish("nobody.listens.here", approval_pb2.CaseWithdrawn(case_id="C"))
    pub.close()


def test_message_is_acked_only_after_the_handler_returns(layout):
    pub = Publisher(layout, name="t")
    pub.publish(topology.rk_step_request("business"), approval_pb2.SubApprovalRequest(case_id="C1", step_id="s"),
                message_id="m-1")
    pub.close()
    entered, release, seen = threading.Event(), threading.Event(), []

    def handler(env):
        seen.append((env.message_id, env.message.case_id))
        entered.set()
        release.wait(10)

    consumer = Consumer(layout, topology.department_queue("business"), handler, name="t", prefetch=1)
    consumer.start()
    assert entered.wait(10)
    # in the handler: the message is unacked, so a crash now would redeliver it
    conn = pika.BlockingConnection(pika.URLParameters(layout))
    q = conn.channel().queue_declare(topology.department_queue("business"), passive=True)
    conn.close()
    assert q.method.message_count == 0  # delivered but not yet acked
    release.set()
    consumer.stop()
    assert seen == [("m-1", "C1")]
    assert queue_depth(layout, topology.department_queue("business")) == 0


def test_failing_handler_is_retried_then_parked(layout):
    pub = Publisher(layout, name="t")
    pub.publish(topology.rk_step_request("business"), approval_pb2.SubApprovalRequest(case_id="C2"), message_id="m-2")
    pub.close()
    attempts = []

    def handler(env):
        attempts.append(env.delivery_count)
        raise RuntimeError("database is down")

    consumer = Consumer(layout, topology.department_queue("business"), handler, name="t", prefetch=1,
                        max_backoff_s=0.05)
    consumer.start()
    assert wait_until(lambda: queue_depth(layout, topology.PARKED_QUEUE) == 1, timeout=30)
    consumer.stop()
    assert topology.MAX_DELIVERIES <= len(attempts) <= topology.MAX_DELIVERIES + 1


def test_undecodable_message_is_parked_and_does_not_block_the_queue(layout):
    conn = pika.BlockingConnection(pika.URLParameters(layout))
    ch = conn.channel()
    ch.confirm_delivery()  # both queued before the good one is published (failed once without, under load)
    ch.basic_publish(topology.EXCHANGE, topology.rk_step_request("business"), b"\xff\x00garbage",
                     pika.BasicProperties(type="hall.v1.SubApprovalRequest", message_id="bad", delivery_mode=2))
    ch.basic_publish(topology.EXCHANGE, topology.rk_step_request("business"), b"x",
                     pika.BasicProperties(type="no.such.Type", message_id="bad2", delivery_mode=2))
    conn.close()
    pub = Publisher(layout, name="t")
    pub.publish(topology.rk_step_request("business"), approval_pb2.SubApprovalRequest(case_id="good"), message_id="ok")
    pub.close()
    got = []
    consumer = Consumer(layout, topology.department_queue("business"), lambda env: got.append(env.message.case_id),
                        name="t", prefetch=5)
    consumer.start()
    assert wait_until(lambda: got == ["good"])
    assert wait_until(lambda: queue_depth(layout, topology.PARKED_QUEUE) == 2)
    consumer.stop()


def test_wire_round_trip():
    msg = approval_pb2.CaseWithdrawn(case_id="C", reason="r")
    assert wire.decode(wire.type_name(msg), wire.encode(msg)) == msg
    with pytest.raises(wire.UndecodableMessage):
        wire.decode("hall.v1.Nope", b"")


def test_batches_are_handled_in_one_call_and_a_bad_message_does_not_sink_the_others(layout):
    pub = Publisher(layout, name="t")
    for i in range(30):
        pub.publish(topology.rk_step_request("business"), approval_pb2.SubApprovalRequest(case_id=f"C{i}"),
                    message_id=f"b-{i}")
    pub.close()
    batches: list[int] = []
    handled: list[str] = []

    def handle(envs):
        batches.append(len(envs))
        if any(e.message.case_id == "C7" for e in envs):
            raise RuntimeError("C7 is poison")
        handled.extend(e.message.case_id for e in envs)

    consumer = Consumer(layout, topology.department_queue("business"), lambda e: handle([e]), name="t",
                        prefetch=100, batch_handler=handle, max_backoff_s=0.01)
    consumer.start()
    assert wait_until(lambda: len(set(handled)) == 29)
    assert wait_until(lambda: queue_depth(layout, topology.PARKED_QUEUE) == 1, timeout=30)
    consumer.stop()
    assert max(batches) > 1
    assert "C7" not in handled


def test_consumed_messages_are_counted_for_prometheus(layout):
    from services.runtime import metrics

    def count():
        return metrics.MESSAGES.labels("metrics", topology.department_queue("business"), "ack")._value.get()

    before = count()
    pub = Publisher(layout, name="t")
    pub.publish(topology.rk_step_request("business"), approval_pb2.SubApprovalRequest(case_id="M"), message_id="m")
    pub.close()
    consumer = Consumer(layout, topology.department_queue("business"), lambda env: None, name="t", service="metrics")
    consumer.start()
    assert wait_until(lambda: count() == before + 1)
    consumer.stop()


@pytest.fixture
def lingering(layout):
    """Start a batch consumer with a linger on the business queue; returns (batches, publish)."""
    started: list[Consumer] = []
    batches: list[list[str]] = []

    def start(*, prefetch: int, linger_s: float):
        consumer = Consumer(layout, topology.department_queue("business"), lambda e: batches.append([e.message_id]),
                            name="t", prefetch=prefetch, linger_s=linger_s,
                            batch_handler=lambda envs: batches.append([e.message_id for e in envs]))
        consumer.start()
        assert consumer.ready.wait(30)
        started.append(consumer)
        return consumer

    def publish(prefix: str, n: int) -> None:
        pub = Publisher(layout, name="t")
        for i in range(n):
            pub.publish(topology.rk_step_request("business"), approval_pb2.SubApprovalRequest(case_id=f"{prefix}{i}"),
                        message_id=f"{prefix}-{i}")
        pub.close()

    yield start, batches, publish
    for consumer in started:
        consumer.stop()


def test_a_lingering_consumer_handles_what_arrives_within_the_linger_in_one_batch(layout, lingering):
    start, batches, publish = lingering
    consumer = start(prefetch=100, linger_s=3.0)
    publish("l", 3)
    assert wait_until(lambda: batches)
    consumer.stop()
    assert batches == [["l-0", "l-1", "l-2"]]  # one batch, one transaction
    assert queue_depth(layout, topology.department_queue("business")) == 0


def test_a_lingering_consumer_does_not_wait_once_a_batch_is_full_and_flushes_at_stop(layout, lingering):
    start, batches, publish = lingering
    consumer = start(prefetch=2, linger_s=60.0)
    publish("f", 5)
    # Two full batches, long before the linger is out; and the fifth delivered (none ready in the
    # queue), so that it is in hand at stop (on a slow host it could still be on its way).
    assert wait_until(lambda: len(batches) == 2 and queue_depth(layout, topology.department_queue("business")) == 0)
    consumer.stop()  # the fifth is in hand, waiting for company: handled at stop, not redelivered
    assert batches == [["f-0", "f-1"], ["f-2", "f-3"], ["f-4"]]
    assert queue_depth(layout, topology.department_queue("business")) == 0

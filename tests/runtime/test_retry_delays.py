"""Retry delays survive a broker restart: a step request waiting out its backoff in a delay queue
reaches the department's queue afterwards, whatever the broker did meanwhile.

Runs on a throwaway RabbitMQ node of its own (the shared broker is never restarted)."""

import time

import pika
import pytest

from hall.v1 import approval_pb2
from services.runtime import topology, wire
from services.runtime.amqp import Outgoing, Publisher
from tests.support.rabbit_node import queue_depth

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_requests_waiting_in_a_delay_queue_survive_a_broker_restart(throwaway_rabbit):
    node = throwaway_rabbit
    pub = Publisher(node.url, name="t")
    pub.declare(lambda ch: topology.declare_all(ch, ["business"]))
    n = 200
    pub.publish_many([  # waiting 1 s: most expire while the broker stops, is down or starts
        Outgoing(topology.rk_step_request("business"),
                 wire.encode(approval_pb2.SubApprovalRequest(case_id=f"C{i}", step_id="licence")),
                 wire.type_name(approval_pb2.SubApprovalRequest()), f"req-{i}", {}, topology.delay_exchange(1))
        for i in range(n)])
    pub.close()
    node.restart()
    # At least once: a request dead-lettered while the broker stopped can arrive twice (the
    # adapters de-duplicate by message id); none may be missing.
    queue = topology.department_queue("business")
    deadline = time.monotonic() + 60
    while queue_depth(node.url, queue) < n and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(1.5)  # a last retry of the delay queue's dead-lettering, if any
    assert message_ids(node.url, queue) == {f"req-{i}" for i in range(n)}
    assert queue_depth(node.url, topology.delay_exchange(1)) == 0


def message_ids(url: str, queue: str) -> set[str]:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel, ids = conn.channel(), set()
        while (got := channel.basic_get(queue, auto_ack=True))[0] is not None:
            ids.add(got[1].message_id)
        return ids
    finally:
        conn.close()

"""Retry delays survive a broker restart: a step request waiting out its backoff in a delay queue
reaches the department's queue afterwards, whatever the broker did meanwhile.

Runs on a throwaway RabbitMQ node of its own (the shared broker is never restarted)."""

import time

import pika
import pytest

from hall.v1 import approval_pb2
from services.runtime import topology, wire
from services.runtime.amqp import Outgoing, Publisher
from tests.support import rabbit_node

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture
def node():
    reason = rabbit_node.available()
    if reason:
        pytest.skip(reason)
    n = rabbit_node.RabbitNode()
    n.start()
    yield n
    n.cleanup()


def depth(url: str, queue: str) -> int:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return conn.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        conn.close()


def test_requests_waiting_in_a_delay_queue_survive_a_broker_restart(node):
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
    queue = topology.department_queue("business")
    deadline = time.monotonic() + 60
    while depth(node.url, queue) < n and time.monotonic() < deadline:
        time.sleep(0.5)
    assert depth(node.url, queue) == n
    assert depth(node.url, topology.delay_exchange(1)) == 0

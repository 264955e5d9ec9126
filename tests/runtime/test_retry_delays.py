"""Retry delays survive a broker restart: a step request waiting out its backoff in a delay queue
reaches the department's queue afterwards, whatever the broker did meanwhile.

Runs on a throwaway RabbitMQ node of its own (the shared broker is never restarted)."""

import time

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
    queue = topology.department_queue("business")
    deadline = time.monotonic() + 60
    while queue_depth(node.url, queue) < n and time.monotonic() < deadline:
        time.sleep(0.5)
    assert queue_depth(node.url, queue) == n
    assert queue_depth(node.url, topology.delay_exchange(1)) == 0

"""Parking is at least once: a message dead-lettered while `hall.parked` cannot take it waits in
its queue and is parked once it can. A queue an earlier version declared (at most once) is used
as it is, with a warning, instead of stopping the service.

The at-least-once tests run on a throwaway node whose dead-letter worker retries every second
(RabbitMQ's default is every 180 s); the shared broker is never reconfigured."""

from __future__ import annotations

from collections.abc import Iterator

import pika
import pytest
from structlog.testing import capture_logs

from services.runtime import topology
from services.runtime.amqp import Publisher
from tests.support import rabbit_node
from tests.support.rabbit_node import queue_depth
from tests.support.waiting import wait_until

QUICK_DLX_RETRY = "[{rabbit, [{dead_letter_worker_publisher_confirm_timeout, 1000}]}]."


@pytest.fixture(scope="module")
def quick_dlx_node() -> Iterator[rabbit_node.RabbitNode]:
    reason = rabbit_node.available()
    if reason:
        pytest.skip(reason)
    node = rabbit_node.RabbitNode(advanced=QUICK_DLX_RETRY)
    node.start()
    try:
        yield node
    finally:
        node.cleanup()


def _reject_while_parking_is_away(url: str, queue: str) -> None:
    """Delete hall.parked, reject one message of `queue` without requeue (dead-letter it with
    nowhere to go), then bring hall.parked back."""
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ch = conn.channel()
        ch.queue_delete(topology.PARKED_QUEUE)
        ch.confirm_delivery()  # the queue holds the message before it is fetched
        ch.basic_publish("", queue, b"poison", pika.BasicProperties(delivery_mode=2, message_id="m-1"))
        method, _, _ = ch.basic_get(queue)
        assert method is not None
        ch.basic_reject(method.delivery_tag, requeue=False)
        topology.declare_exchanges(ch)  # hall.parked again
    finally:
        conn.close()


def test_a_message_dead_lettered_while_parking_is_away_is_parked_once_it_is_back(quick_dlx_node):
    with pika.BlockingConnection(pika.URLParameters(quick_dlx_node.url)) as conn:
        topology.declare_all(conn.channel(), ["business"])
    _reject_while_parking_is_away(quick_dlx_node.url, topology.FEES_QUEUE)
    assert wait_until(lambda: queue_depth(quick_dlx_node.url, topology.PARKED_QUEUE) == 1, timeout=30,
                      every=0.5)
    assert queue_depth(quick_dlx_node.url, topology.FEES_QUEUE) == 0


def test_with_the_earlier_arguments_the_same_message_is_lost(quick_dlx_node):
    """Why the arguments changed: at most once, the message is dropped."""
    with pika.BlockingConnection(pika.URLParameters(quick_dlx_node.url)) as conn:
        conn.channel().queue_declare("legacy", durable=True, arguments=topology.LEGACY_QUEUE_ARGUMENTS)
    _reject_while_parking_is_away(quick_dlx_node.url, "legacy")
    # Five retry intervals of the dead-letter worker: an at-least-once queue would have parked it.
    assert not wait_until(lambda: queue_depth(quick_dlx_node.url, topology.PARKED_QUEUE) > 0, timeout=5, every=0.5)
    assert queue_depth(quick_dlx_node.url, "legacy") == 0


def test_fresh_queues_are_declared_with_at_least_once_parking(fresh_amqp_url):
    pub = Publisher(fresh_amqp_url, name="test-declare")
    pub.declare(lambda ch: topology.declare_all(ch, ["business"]))
    pub.close()
    with pika.BlockingConnection(pika.URLParameters(fresh_amqp_url)) as conn:
        # The broker accepts a declaration only with the arguments the queue holds.
        conn.channel().queue_declare(topology.ROUTER_QUEUE, durable=True, arguments=topology.queue_arguments())
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            conn.channel().queue_declare(topology.ROUTER_QUEUE, durable=True,
                                         arguments=topology.LEGACY_QUEUE_ARGUMENTS)
    assert refused.value.reply_code == topology.PRECONDITION_FAILED


def test_a_queue_declared_by_an_earlier_version_is_used_with_a_warning(fresh_amqp_url):
    with pika.BlockingConnection(pika.URLParameters(fresh_amqp_url)) as conn:
        ch = conn.channel()
        topology.declare_exchanges(ch)
        ch.queue_declare(topology.ROUTER_QUEUE, durable=True, arguments=topology.LEGACY_QUEUE_ARGUMENTS)
    with capture_logs() as logs:
        pub = Publisher(fresh_amqp_url, name="test-declare")
        pub.declare(lambda ch: topology.declare_all(ch, ["business"]))
        pub.close()
    assert [entry["queue"] for entry in logs if entry["log_level"] == "warning"] == [topology.ROUTER_QUEUE]
    # The rest of the layout was declared after the refusal, and the old queue is bound as before.
    with pika.BlockingConnection(pika.URLParameters(fresh_amqp_url)) as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.basic_publish(topology.EXCHANGE, topology.RK_CASE_SUBMITTED, b"x", mandatory=True)
        ch.basic_publish(topology.EXCHANGE, topology.rk_step_request("business"), b"x", mandatory=True)
    assert queue_depth(fresh_amqp_url, topology.ROUTER_QUEUE) == 1
    assert queue_depth(fresh_amqp_url, topology.department_queue("business")) == 1

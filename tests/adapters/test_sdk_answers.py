"""The adapter's answers leave a batch at a time, their confirms awaited together."""

import pika
import pytest

from hall.v1 import approval_pb2
from services.adapters.sdk.answers import Answer, AnswerPublisher, AnswersNotConfirmed
from services.runtime import topology

pytestmark = pytest.mark.integration


@pytest.fixture
def bound_queue(fresh_amqp_url):
    conn = pika.BlockingConnection(pika.URLParameters(fresh_amqp_url))
    channel = conn.channel()
    topology.declare_exchanges(channel)
    channel.queue_declare("answers", durable=True)
    channel.queue_bind("answers", topology.EXCHANGE, routing_key="decision.test")
    yield channel
    conn.close()


def answers(n, start=0):
    return [Answer("decision.test", approval_pb2.SubApprovalDecision(case_id=f"case-{i}", step_id="licence"),
                   f"dec-{i}", {"x-case-id": f"case-{i}"}) for i in range(start, start + n)]


def test_a_batch_is_confirmed_and_arrives_whole_with_its_properties(fresh_amqp_url, bound_queue):
    publisher = AnswerPublisher(fresh_amqp_url)
    try:
        publisher.publish(answers(25))
        publisher.publish(answers(3, start=25))  # the next batch on the same channel
    finally:
        publisher.close()
    got = [bound_queue.basic_get("answers", auto_ack=True) for _ in range(28)]
    assert [props.message_id for _, props, _ in got] == [f"dec-{i}" for i in range(28)]
    _, props, body = got[0]
    assert (props.type, props.content_type, props.delivery_mode) == ("hall.v1.SubApprovalDecision",
                                                                     "application/x-protobuf", 2)
    assert props.headers == {"x-case-id": "case-0"}
    assert approval_pb2.SubApprovalDecision.FromString(body).case_id == "case-0"


def test_an_unroutable_answer_fails_the_batch_and_the_publisher_recovers(fresh_amqp_url, bound_queue):
    publisher = AnswerPublisher(fresh_amqp_url)
    try:
        lost = Answer("decision.nobody", approval_pb2.SubApprovalDecision(), "dec-lost")
        with pytest.raises(AnswersNotConfirmed, match="NO_ROUTE"):
            publisher.publish([*answers(2), lost])
        publisher.publish(answers(2, start=2))  # a fresh channel: its delivery tags start again
    finally:
        publisher.close()
    depth = bound_queue.queue_declare("answers", passive=True).method.message_count
    assert depth == 4  # the failed batch's two routable answers went too: the redelivery repeats them

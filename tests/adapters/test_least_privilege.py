"""One broker user per department, allowed only its own queue (services/adapters/provision.py)."""

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pika
import pika.exceptions
import pytest

from hall.v1 import approval_pb2
from services.adapters import provision
from services.adapters.sdk.testing import request
from services.runtime import topology
from services.runtime.amqp import Publisher
from tests.adapters.test_adapter_process import next_decision
from tests.support import servers

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def department_users(fresh_amqp_url):
    if not servers.rabbitmqctl_available(fresh_amqp_url):
        pytest.skip("needs rabbitmqctl on the broker's host to create users")
    vhost = pika.URLParameters(fresh_amqp_url).virtual_host
    prefix = f"t{uuid.uuid4().hex[:6]}-"
    codes = ["business", "quality"]
    passwords = {c: uuid.uuid4().hex for c in codes}
    for cmd in provision.commands(codes, vhost, passwords, prefix):
        subprocess.run(cmd, check=True, capture_output=True)
    pub = Publisher(fresh_amqp_url, name="platform")
    pub.declare(lambda ch: topology.declare_all(ch, provision.departments()))
    pub.close()

    def url_for(code):
        p = pika.URLParameters(fresh_amqp_url)
        return f"amqp://{provision.user(code, prefix)}:{passwords[code]}@{p.host}:{p.port}/{vhost.replace('/', '%2F')}"

    yield url_for
    for code in codes:
        subprocess.run(["rabbitmqctl", "delete_user", provision.user(code, prefix)], capture_output=True)


def test_a_department_cannot_read_another_departments_queue(department_users):
    conn = pika.BlockingConnection(pika.URLParameters(department_users("business")))
    ch = conn.channel()
    ch.basic_get(topology.department_queue("business"))  # its own: allowed
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as err:
        ch.basic_get(topology.department_queue("quality"))
    assert err.value.reply_code == 403
    conn.close()


def test_a_department_cannot_declare_or_publish_elsewhere(department_users):
    conn = pika.BlockingConnection(pika.URLParameters(department_users("quality")))
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as err:
        conn.channel().queue_declare("sneaky", durable=True)
    assert err.value.reply_code == 403
    ch = conn.channel()
    ch.confirm_delivery()  # so the refusal is seen at the publish
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as err:
        ch.basic_publish(topology.PARKED_EXCHANGE, "", b"x")
    assert err.value.reply_code == 403
    conn.close()


def test_the_adapter_runs_with_its_restricted_user(department_users, pg_url, pg_schema, tmp_path, fresh_amqp_url):
    listener = Publisher(fresh_amqp_url, name="listener")

    def listen(ch):
        ch.queue_declare("test.decisions", durable=True)
        ch.queue_bind("test.decisions", topology.EXCHANGE, "decision.business")

    listener.declare(listen)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}", "AMQP_URL": department_users("business"),
           "DATABASE_URL": pg_url, "DATABASE_SCHEMA": pg_schema, "ADAPTER_DECLARE": "false"}
    with open(tmp_path / "adapter.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "services.adapters", "business"], env=env, cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            listener.publish(topology.rk_step_request("business"), request("business", "licence"))
            _, decision = next_decision(fresh_amqp_url)
            assert decision.outcome == approval_pb2.OUTCOME_APPROVED
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
            listener.close()


def test_a_department_publishes_only_its_own_decisions(department_users):
    """Topic permissions on `hall`: quality's user may publish decision.quality and its own audit
    records, and is refused (403) for business's decision or another service's audit records."""
    conn = pika.BlockingConnection(pika.URLParameters(department_users("quality")))
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        for key in (topology.rk_decision("quality"), topology.rk_procedure("quality"),
                    topology.rk_audit("adapter-quality"), topology.rk_audit("desk-quality")):
            ch.basic_publish(topology.EXCHANGE, key, b"x")  # allowed: no exception
        for key in (topology.rk_decision("business"), topology.rk_audit("router"), topology.RK_CASE_SUBMITTED,
                    topology.rk_step_request("quality"), topology.rk_decision("quality") + ".x"):
            refused = conn.channel()
            refused.confirm_delivery()
            with pytest.raises(pika.exceptions.ChannelClosedByBroker) as err:
                refused.basic_publish(topology.EXCHANGE, key, b"x")
            assert err.value.reply_code == 403, key
    finally:
        conn.close()


def test_the_definitions_carry_the_topic_permissions():
    defs = provision.definitions(["quality"], "/", {"quality": "pw"})
    topics: list[dict[str, str]] = defs["topic_permissions"]  # type: ignore[assignment]
    (topic,) = topics
    assert topic["user"] == "hall-quality" and topic["exchange"] == topology.EXCHANGE
    assert "decision\\.quality" in topic["write"] and "business" not in topic["write"]

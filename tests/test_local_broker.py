"""How `make run` finds its broker: AMQP_URL, the standard port, a private node under var/,
Docker, else one message. The order with stand-ins; the private node for real."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from services import local_broker
from services.local_broker import STANDARD_URL, Broker, NoBroker
from tests.support import rabbit_node
from tests.support.ports import free_port


def never(url: str) -> bool:
    return False


def test_amqp_url_wins_when_it_answers(tmp_path):
    got = local_broker.find({"AMQP_URL": "amqp://u:p@mq.example:5672/hall"}, tmp_path, answers=lambda url: True)
    assert (got.url, got.how) == ("amqp://u:p@mq.example:5672/hall", "AMQP_URL")


def test_a_wrong_amqp_url_is_said_not_worked_around(tmp_path):
    with pytest.raises(NoBroker, match=r"AMQP_URL is set but nothing answers there \(mq.example:5672\)"):
        local_broker.find({"AMQP_URL": "amqp://u:p@mq.example/hall"}, tmp_path, answers=never,
                          private=lambda *_: pytest.fail("not this"))


def test_the_standard_port_next(tmp_path):
    assert local_broker.find({}, tmp_path, answers=lambda url: url == STANDARD_URL).url == STANDARD_URL


def test_then_a_private_node_under_var_when_rabbitmq_is_installed(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/sbin/{name}")
    started = []

    def private(home: Path, port: int) -> Broker:
        started.append((home, port))
        return Broker(f"amqp://guest:guest@127.0.0.1:{port}/%2F", "private")

    got = local_broker.find({"HALL_PRIVATE_AMQP_PORT": "5999"}, tmp_path, answers=never, private=private)
    assert started == [(tmp_path / "rabbitmq", 5999)] and got.how == "private"


def test_then_docker_else_one_message_saying_how(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    container = Broker("amqp://guest:guest@127.0.0.1:32768/%2F", "docker")
    assert local_broker.find({}, tmp_path, answers=never, docker=lambda: container) is container
    with pytest.raises(NoBroker) as none:
        local_broker.find({}, tmp_path, answers=never, docker=lambda: None)
    assert str(none.value) == local_broker.HOW_TO_GET_ONE
    assert "AMQP_URL" in str(none.value) and "apt-get install rabbitmq-server" in str(none.value)


@pytest.mark.integration
def test_the_private_node_starts_under_its_directory_answers_and_stops(tmp_path):
    reason = rabbit_node.available()
    if reason:
        pytest.skip(reason)
    port = free_port()
    broker = local_broker.start_private_node(tmp_path / "rabbitmq", port)
    try:
        assert local_broker.answers(broker.url)
        assert (tmp_path / "rabbitmq" / "mnesia").is_dir()
        again = local_broker.start_private_node(tmp_path / "rabbitmq", port)  # a second run finds it up
        assert "already running" in again.how
    finally:
        broker.stop()
    assert not local_broker.answers(broker.url, timeout=1)

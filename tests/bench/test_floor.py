"""The broker floor moves the company registration's DAG, whichever way its clients answer: each
case visits licence, org code, then both taxes, and ends, with every message acknowledged."""

from __future__ import annotations

import pika
import pytest

from bench.floor import DEPTS, Floor
from bench.run import running_floor
from services.runtime.amqp import connection_parameters


@pytest.mark.parametrize("batched", [False, True], ids=["one-by-one", "batched"])
def test_every_case_goes_through_the_dag_once_and_leaves_nothing_behind(fresh_amqp_url, batched):
    with running_floor(fresh_amqp_url, batched=batched) as (submit, done):
        keys = [submit(i) for i in range(30)]
        for key in keys:
            done.wait(key, timeout=30)
        assert set(keys) <= set(done.times)
        assert not done.other_ends

    conn = pika.BlockingConnection(connection_parameters(fresh_amqp_url, name="floor-check"))
    try:
        ch = conn.channel()
        for queue in ["floor.router", "floor.done", *(f"floor.{d}" for d in DEPTS)]:
            left = ch.queue_declare(queue, passive=True).method.message_count
            assert left == 0, f"{queue} holds {left} messages"
    finally:
        conn.close()


def test_the_router_asks_each_department_after_the_ones_it_waits_for():
    floor = Floor.__new__(Floor)  # the routing rule alone, no broker
    floor.state = {}
    assert floor._route(b"c1") == [("dept.business", b"c1")]
    assert floor._route(b"c1|business") == [("dept.quality", b"c1")]
    assert sorted(floor._route(b"c1|quality")) == [("dept.local_tax", b"c1"), ("dept.national_tax", b"c1")]
    assert floor._route(b"c1|national_tax") == []
    assert floor._route(b"c1|local_tax") == [("done", b"c1")]
    assert floor.state == {}

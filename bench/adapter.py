"""`make bench-adapter DEPT=business`: one department's adapter process alone, driven through its queue.

Starts `python -m services.adapters <DEPT>` (nameko under ServiceRunner, as in production) on a
fresh vhost and database schema, sends BENCH_ADAPTER_REQUESTS approvable requests with
BENCH_ADAPTER_WINDOW of them in flight, waits for every decision, and prints requests/s and the
adapter's CPU per request (from /proc); its log goes to var/bench-logs/. With py-spy installed and BENCH_ADAPTER_SPY=1 it also
prints where that CPU went. What the rules and the SDK cost without the rest of the suite
competing for the cores (business and quality: the other departments' requests need the suite).
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pika

from bench.cpu import cpu_ticks
from bench.profile import Sampler
from hall.v1 import approval_pb2
from services.adapters.business import samples as business_samples
from services.domain import identifiers
from services.runtime import topology, wire
from services.runtime.amqp import Publisher, connection_parameters
from tests.support import servers
from tests.support.db import schema

ROOT = Path(__file__).resolve().parent.parent
REQUESTS = int(os.environ.get("BENCH_ADAPTER_REQUESTS", "1000"))
WINDOW = int(os.environ.get("BENCH_ADAPTER_WINDOW", "8"))
SPY = os.environ.get("BENCH_ADAPTER_SPY", "0") == "1"
_serials = itertools.count(1)


def _quality() -> approval_pb2.SubApprovalRequest:
    body = f"MB{next(_serials):06d}"
    credit = identifiers.build_credit_code("9", "1", "150602", body + identifiers.org_code_check_char(body))
    return approval_pb2.SubApprovalRequest(department="quality", step_id="org_code", matter_code="150602-ZJ-0001",
                                           upstream={"credit_code": credit, "company_name": f"东胜区{body}有限公司"})


REQUEST: dict[str, Callable[[], approval_pb2.SubApprovalRequest]] = {
    "business": business_samples.approvable,
    "quality": _quality,
}


def drive(dept: str, amqp_url: str, pg_url: str, db_schema: str) -> None:
    new_request = REQUEST[dept]
    pub = Publisher(amqp_url, name="bench-adapter")
    pub.declare(lambda ch: topology.declare_all(ch, [dept]))
    answers = f"bench.{dept}.decisions"

    def listen(ch: Any) -> None:
        ch.queue_declare(answers, durable=True)
        ch.queue_bind(answers, topology.EXCHANGE, topology.rk_decision(dept))

    pub.declare(listen)
    env = {**os.environ, "AMQP_URL": amqp_url, "DATABASE_URL": pg_url, "DATABASE_SCHEMA": db_schema,
           "LOG_LEVEL": "warning", "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}"}
    logs = ROOT / "var" / "bench-logs"
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / f"bench-adapter-{dept}.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "services.adapters", dept], env=env, cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT)
    outcomes: Counter[str] = Counter()
    window = threading.Semaphore(WINDOW)
    answered = threading.Condition()

    def consume() -> None:
        conn = pika.BlockingConnection(connection_parameters(amqp_url, name="bench-adapter-answers"))
        ch = conn.channel()

        def on_answer(ch: Any, method: Any, props: Any, body: bytes) -> None:
            decision: approval_pb2.SubApprovalDecision = wire.decode(props.type, body)  # type: ignore[assignment]
            with answered:
                outcomes[approval_pb2.Outcome.Name(decision.outcome)] += 1
                answered.notify_all()
            ch.basic_ack(method.delivery_tag)
            window.release()

        ch.basic_consume(answers, on_answer)
        while proc.poll() is None and sum(outcomes.values()) < REQUESTS + 20:
            conn.process_data_events(time_limit=0.2)
        conn.close()

    def send(n: int) -> None:
        for _ in range(n):
            window.acquire()
            pub.publish(topology.rk_step_request(dept), _fresh(new_request()), message_id=f"req-{uuid.uuid4().hex}")

    def wait_for(total: int) -> None:
        with answered:
            if not answered.wait_for(lambda: sum(outcomes.values()) >= total, timeout=120):
                raise TimeoutError(f"{dept} adapter answered {sum(outcomes.values())} of {total}")

    threading.Thread(target=consume, daemon=True).start()
    sampler = Sampler(proc.pid, enabled=SPY)
    try:
        send(20)  # warm-up: connections, prepared statements
        wait_for(20)
        sampler.start()
        ticks, start = cpu_ticks(proc.pid), time.perf_counter()
        send(REQUESTS)
        wait_for(REQUESTS + 20)
        seconds, used = time.perf_counter() - start, cpu_ticks(proc.pid) - ticks
    finally:
        sampler.stop()
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        pub.close()
    tick = os.sysconf("SC_CLK_TCK")
    print(f"{dept} adapter: {REQUESTS} requests, {WINDOW} in flight: {REQUESTS / seconds:.0f} requests/s, "
          f"{used * 1000 / tick / REQUESTS:.2f} ms CPU per request; answers {dict(outcomes)}")
    if SPY:
        print(sampler.report())


def _fresh(request: approval_pb2.SubApprovalRequest) -> approval_pb2.SubApprovalRequest:
    request.case_id = uuid.uuid4().hex[:20]
    request.attempt = 1
    return request


def main() -> None:
    dept = sys.argv[1] if len(sys.argv) > 1 else "business"
    if dept not in REQUEST:
        sys.exit(f"usage: python -m bench.adapter {{{','.join(REQUEST)}}}")
    with servers.rabbitmq() as broker, servers.postgres() as pg, servers.vhost(broker) as amqp_url, \
            schema(pg) as db_schema:
        drive(dept, amqp_url, pg, db_schema)


if __name__ == "__main__":
    main()

"""`make bench-router`: the router process alone, departments answered by a bare pika stand-in.

Starts `python -m services.router` on a fresh vhost and database schema, sends it
company-registration submissions as intake would (`case.submitted`), answers every step request
at once with an approval (a bare pika consumer per department queue, as in the floor), and waits for each case's
`case.status.completed`. BENCH_ROUTER_CASES cases with BENCH_ROUTER_WINDOW in flight; prints
cases/s and the CPU per case of the router, RabbitMQ and PostgreSQL (from /proc). With py-spy
installed and BENCH_ROUTER_SPY=1, also where the router's CPU went. What the workflow engine costs
without the rest of the suite competing for the cores.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import pika

from bench.cpu import CpuMeter
from bench.floor import Node
from bench.profile import Sampler
from bench.run import Completions, closed_loop
from hall.v1 import approval_pb2
from services.catalogue import load as load_catalogue
from services.runtime import clock, topology, wire
from services.runtime.amqp import Publisher
from tests.support import servers
from tests.support.db import schema
from tests.support.ports import free_port
from tests.support.samples import company_registration

ROOT = Path(__file__).resolve().parent.parent
CASES = int(os.environ.get("BENCH_ROUTER_CASES", "400"))
WINDOW = int(os.environ.get("BENCH_ROUTER_WINDOW", "16"))
SPY = os.environ.get("BENCH_ROUTER_SPY", "0") == "1"
DEPARTMENTS = ("business", "quality", "national_tax", "local_tax")
RESULTS = {"business": {"credit_code": "91150602MA0000015E", "licence_number": "150602000000014",
                        "company_name": "东胜区样例商贸有限公司"},
           "quality": {"org_code": "MA0000015", "org_code_certificate": "代码证字2026-MA0000015"},
           "national_tax": {"national_tax_registration": "150602MA0000015"},
           "local_tax": {"local_tax_registration": "150602MA0000015"}}


def approve(ch: Any, props: Any, body: bytes) -> None:
    """Every department at once: a step request is approved as it arrives (no rules, no database)."""
    msg = approval_pb2.SubApprovalRequest.FromString(body)
    decision = approval_pb2.SubApprovalDecision(
        case_id=msg.case_id, step_id=msg.step_id, department=msg.department, outcome=approval_pb2.OUTCOME_APPROVED,
        results=RESULTS[msg.department], decided_at=clock.to_timestamp(clock.now()),
        request_message_id=props.message_id, attempt=msg.attempt)
    ch.basic_publish(topology.EXCHANGE, topology.rk_decision(msg.department), wire.encode(decision),
                     pika.BasicProperties(type=wire.type_name(decision), message_id=f"dec-{props.message_id}",
                                          content_type=wire.CONTENT_TYPE, delivery_mode=2))


def drive(amqp_url: str, pg_url: str, db_schema: str) -> None:
    catalogue = load_catalogue()
    pub = Publisher(amqp_url, name="bench-router-intake")
    pub.declare(lambda ch: topology.declare_all(ch, sorted(catalogue.departments)))
    env = {**os.environ, "AMQP_URL": amqp_url, "DATABASE_URL": pg_url, "DATABASE_SCHEMA": db_schema,
           "LOG_LEVEL": "warning", "GRPC_PORT": str(free_port()), "METRICS_PORT": "0",
           "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}"}
    logs = ROOT / "var" / "bench-logs"
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / "bench-router.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "services.router"], env=env, cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT)
    departments = [Node(amqp_url, topology.department_queue(d), approve) for d in DEPARTMENTS]
    for node in departments:
        node.start()
        node.ready.wait(10)
    done = Completions(amqp_url, "bench.router.completed", topology.EXCHANGE, topology.rk_case_status("completed"),
                       lambda props, body: approval_pb2.CaseStatusChanged.FromString(body).case_id)
    form = company_registration()

    def submit(i: int) -> str:
        case_id = f"bench{uuid.uuid4().hex[:20]}"
        pub.publish(topology.RK_CASE_SUBMITTED, approval_pb2.CaseSubmitted(
            case_id=case_id, application_id=uuid.uuid4().hex, bundle_code=form.bundle_code,
            catalogue_version=catalogue.version, applicant=form.applicant, materials=list(form.materials),
            fields=dict(form.fields), clerk_id=form.clerk_id, accepted_at=clock.to_timestamp(clock.now())),
            message_id=f"submitted-{case_id}")
        # Paid at the window as it is accepted (fees' payment.received): the case completes
        # when its departments are done, as in the suite's bench.
        pub.publish(topology.RK_PAYMENT_RECEIVED, approval_pb2.PaymentReceived(case_id=case_id, receipt_number="bench"),
                    message_id=f"paid-{case_id}")
        return case_id

    lock = threading.Lock()

    def submit_locked(i: int) -> str:  # one publisher (one pika connection) for every client thread
        with lock:
            return submit(i)

    sampler = Sampler(proc.pid, enabled=SPY)
    try:
        closed_loop(WINDOW, 40, submit_locked, done)  # warm-up: the router is up once these complete
        sampler.start()
        cpu = CpuMeter({"router": [proc.pid]})
        _, seconds = closed_loop(WINDOW, CASES, submit_locked, done)
        spent_ms = cpu.ms()
    finally:
        sampler.stop()
        done.close()
        for node in departments:
            node.stop()
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        pub.close()
    per = ", ".join(f"{n} {ms / CASES:.2f}" for n, ms in spent_ms.items())
    print(f"router alone: {CASES} company registrations, {WINDOW} in flight: {CASES / seconds:.0f} cases/s; "
          f"CPU ms per case: {per}")
    if SPY:
        print(sampler.report())


def main() -> None:
    with servers.rabbitmq() as broker, servers.postgres() as pg, servers.vhost(broker) as amqp_url, \
            schema(pg) as db_schema:
        drive(amqp_url, pg, db_schema)


if __name__ == "__main__":
    main()

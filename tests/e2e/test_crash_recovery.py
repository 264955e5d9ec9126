"""Nothing lost, nothing twice — shown by killing things.

Under a load of HALL_CRASH_BUNDLES (default 200) company registrations, with two router replicas
competing for the same queue: kill -9 a router at random moments (>= 10 times, restarting it),
likewise an adapter (>= 10 times), intake (3 times: the counters resubmit with the same request
id), fees, supervision and the business desk (3 times each: the tax adapters' register lookups
fail meanwhile, and the router retries them), and restart RabbitMQ once. Then every case must end
exactly once (and supervision must know it ended, its clock stopped), no
application may be accepted twice, no credit code, certificate, tax registration, bill or receipt may
be issued twice (the counters pay each case when it waits for its fees), and no case may be stuck; and every case's audit trail must hold every hop (the
call records of a killed process wait in its spool for the next one). The broker is a throwaway
node of its own (the shared one is never touched).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import grpc
import pika
import pytest
from sqlalchemy import text

from hall.v1 import intake_pb2
from services.counter.client import Counter
from services.runtime import topology
from services.runtime.db import make_engine
from services.suite import Suite, plan
from tests.support import rabbit_node
from tests.support.ports import free_port, suite_ports
from tests.support.processes import counter_of, started
from tests.support.samples import company_registration
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.timeout(600)]
BUNDLES = int(os.environ.get("HALL_CRASH_BUNDLES", "200"))
S = intake_pb2.ApplicationStatus
TERMINAL = (S.APPLICATION_STATUS_COMPLETED, S.APPLICATION_STATUS_REFUSED, S.APPLICATION_STATUS_WITHDRAWN)


@pytest.fixture
def chaos_suite(pg_url, tmp_path, throwaway_rabbit):
    node = throwaway_rabbit
    prefix = f"crash_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "AMQP_URL": node.url, "HALL_DATABASE_URL": pg_url, "HALL_SCHEMA_PREFIX": prefix,
           "LOG_LEVEL": "warning", "ROUTER_MAX_ATTEMPTS": "10"}
    env.update(suite_ports())
    children = plan(env)
    router = next(c for c in children if c.name == "router")
    children.append(replace(router, name="router-2", env={**router.env, "GRPC_PORT": str(free_port())},
                            port=None, proc=None, pumps=[]))
    with started(children, pg_url, tmp_path / "logs", ready_timeout=120) as suite:
        yield suite, env, node, prefix


class Chaos(threading.Thread):
    def __init__(self, suite: Suite, node: rabbit_node.RabbitNode, seed: int) -> None:
        super().__init__(daemon=True)
        self.suite, self.node, self.rng = suite, node, random.Random(seed)
        self.routers = [c for c in suite.children if c.name.startswith("router")]
        self.adapters = [c for c in suite.children if c.name.startswith("adapter-")]
        self.edges = [c for c in suite.children if c.name in ("intake", "fees", "supervision", "desk-business")]
        self.intake = next(c for c in self.edges if c.name == "intake")
        # Kills and revivals come from this thread, the submitting clients (intake mid-submission)
        # and the test's final wait: one at a time, or two of them could restart the same process
        # and leave an orphan running after the suite stops.
        self._lock = threading.RLock()
        self.router_kills = self.adapter_kills = 0
        self.edge_kills = {c.name: 0 for c in self.edges}
        self.broker_restarts = 0
        self.revived: list[str] = []
        self.done = threading.Event()
        self.error: BaseException | None = None

    def revive(self) -> None:
        """Restart any process that exited on its own (e.g. it could not reach the broker)."""
        with self._lock:
            for child in self.suite.children:
                if child.proc is not None and child.proc.poll() is not None:
                    self.revived.append(f"{child.name}={child.proc.returncode}")
                    self.suite.start_child(child)

    def kill(self, child) -> None:
        with self._lock:
            assert child.proc is not None
            if child.proc.poll() is None:
                child.proc.send_signal(signal.SIGKILL)
            child.proc.wait()
            time.sleep(self.rng.uniform(0, 0.5))
            self.suite.start_child(child)

    def kill_edge(self, child) -> None:
        with self._lock:
            self.edge_kills[child.name] += 1
            self.kill(child)

    def run(self) -> None:
        try:
            rounds = 0
            while (self.router_kills < 10 or self.adapter_kills < 10 or not self.broker_restarts
                   or min(self.edge_kills.values()) < 3):
                time.sleep(self.rng.uniform(0.1, 0.7))
                rounds += 1
                if rounds % 3 == 0 and min(self.edge_kills.values()) < 3:
                    self.kill_edge(min(self.edges, key=lambda c: self.edge_kills[c.name]))  # in turn
                elif self.router_kills <= self.adapter_kills:
                    self.kill(self.rng.choice(self.routers))
                    self.router_kills += 1
                else:
                    self.kill(self.rng.choice(self.adapters))
                    self.adapter_kills += 1
                if self.router_kills == 5 and not self.broker_restarts:
                    self.node.restart()
                    self.broker_restarts += 1
                self.revive()
        except BaseException as exc:  # noqa: BLE001
            self.error = exc
        finally:
            self.done.set()


def submit_all(counter: Counter, n: int, midway: Callable[[], None],
               revive: Callable[[], None]) -> tuple[list[str], int]:
    """Submit n applications from 8 threads, calling `midway` (it kills intake) after a quarter of
    them; returns their ids and how many calls were retried (with the same request id). While
    intake does not answer, `revive` restarts whatever has exited, as Kubernetes would (the chaos
    thread, which otherwise does it, may be over by then)."""
    retried = [0]

    def one(i: int) -> str:
        if i == n // 4:
            midway()
        req = company_registration(f"东胜区压测{i:04d}{uuid.uuid4().hex[:4]}商贸有限公司")
        for _ in range(150):  # 30 s: intake may be restarting
            try:
                return str(counter.submit(req).application.application_id)  # same request id on retry
            except grpc.RpcError as err:
                if err.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    raise
                retried[0] += 1
                revive()
                time.sleep(0.2)
        raise AssertionError("intake unavailable for 30 s")

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(n))), retried[0]


def pay(counter: Counter, app_id: str) -> None:
    """Take an application's payment with one client key however often it is retried: one
    receipt, whatever was killed meanwhile."""
    try:
        counter.pay(app_id, client_key=f"pay-{app_id}", timeout=2)
    except grpc.RpcError as err:
        if err.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                              grpc.StatusCode.NOT_FOUND):
            raise  # retried at the next round; anything else is a failure


def get_application(counter: Counter, app_id: str) -> intake_pb2.Application:
    """The application, waiting out an intake process that is restarting."""
    for _ in range(100):
        try:
            return counter.intake.GetApplication(intake_pb2.GetApplicationRequest(application_id=app_id),
                                                 timeout=10).application
        except grpc.RpcError as err:
            if err.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise
            time.sleep(0.2)
    raise AssertionError("intake unavailable")


# What every completed company registration's timeline holds at least: (service, operation, step).
STEPS = (("business", "licence"), ("quality", "org_code"), ("national_tax", "national_tax"),
         ("local_tax", "local_tax"))
HOPS = ({("intake", "/hall.v1.IntakeService/SubmitApplication", ""), ("router", "hall.v1.CaseSubmitted", "")}
        | {(f"adapter-{dept}", "hall.v1.SubApprovalRequest", step) for dept, step in STEPS}
        | {("router", "hall.v1.SubApprovalDecision", step) for _, step in STEPS})
LOOKUPS = ("/hall.v1.BusinessRegisterService/GetCompanies", "/hall.v1.BusinessRegisterService/GetCompany")


def wait_for_complete_timelines(audit, cases: int, timeout: float = 60.0) -> dict[str, list[str]]:
    """Case id -> what its audit timeline lacks (HOPS, two register lookups, the completion),
    once nothing lacks anything, or what is still lacking after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        with audit.connect() as conn:
            rows = conn.execute(text("SELECT case_id, service, operation, step_id FROM audit_records "
                                     "WHERE case_id <> ''")).all()
        hops: dict[str, set[tuple[str, str, str]]] = {}
        lookups: dict[str, int] = {}
        completed: set[str] = set()
        for case_id, service, operation, step_id in rows:
            hops.setdefault(case_id, set()).add((service, operation, step_id))
            lookups[case_id] = lookups.get(case_id, 0) + (service == "desk-business" and operation in LOOKUPS)
            if operation == "case.status.completed":
                completed.add(case_id)
        missing = {case_id: [" ".join(h) for h in sorted(HOPS - seen)]
                   + ([f"{lookups[case_id]} register lookups"] if lookups[case_id] < 2 else [])
                   for case_id, seen in hops.items()}
        missing = {case_id: lacking for case_id, lacking in missing.items() if lacking}
        if len(completed) != cases:
            missing["(all)"] = [f"{len(completed)} of {cases} cases have their completion in the trail"]
        if not missing or time.monotonic() > deadline:
            return missing
        time.sleep(1.0)


def scalar(engine, sql):
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


def test_kill_routers_adapters_and_the_broker_under_load(chaos_suite, pg_url):
    suite, env, node, prefix = chaos_suite
    counter = counter_of(env)
    chaos = Chaos(suite, node, seed=int(os.environ.get("HALL_CRASH_SEED", "7")))
    chaos.start()
    app_ids, retried = submit_all(counter, BUNDLES, lambda: chaos.kill_edge(chaos.intake), chaos.revive)
    print(f"submissions retried while intake restarted: {retried}; kills: routers {chaos.router_kills}, "
          f"adapters {chaos.adapter_kills}, {chaos.edge_kills}")
    submitted_at = time.monotonic()
    assert chaos.done.wait(300), "chaos did not finish"
    assert chaos.error is None, chaos.error
    assert chaos.router_kills >= 10 and chaos.adapter_kills >= 10 and chaos.broker_restarts == 1
    assert min(chaos.edge_kills.values()) >= 3, chaos.edge_kills
    assert retried > 0, "intake was killed while the counters were submitting"
    router_db = make_engine(pg_url, f"{prefix}_router")
    done_when_chaos_ended = scalar(router_db, "SELECT count(*) FROM router_cases WHERE status = 2")
    router_db.dispose()

    deadline = time.monotonic() + float(os.environ.get("HALL_CRASH_WAIT_SECONDS", "240"))
    pending = set(app_ids)
    while pending and time.monotonic() < deadline:
        chaos.revive()  # as Kubernetes would restart a process that exited
        for app_id in list(pending):
            app = get_application(counter, app_id)
            if app.status == S.APPLICATION_STATUS_AWAITING_PAYMENT:
                pay(counter, app_id)  # as the window does; fees may be the process just killed
            if app.status in TERMINAL:
                assert app.status == S.APPLICATION_STATUS_COMPLETED, (app_id, list(app.reasons))
                pending.discard(app_id)
        time.sleep(0.5)
    if pending:
        router_db = make_engine(pg_url, f"{prefix}_router")
        with router_db.connect() as conn:
            steps = conn.execute(text("SELECT s.step_id, s.status, s.attempt, count(*) FROM router_steps s JOIN router_cases c "
                                      "USING (case_id) WHERE c.status = 1 GROUP BY 1, 2, 3 ORDER BY 1")).all()
            unsent = conn.execute(text("SELECT count(*) FROM router_outbox WHERE sent_at IS NULL")).scalar()
        router_db.dispose()
        alive = {c.name: c.proc.poll() for c in suite.children if c.proc is not None}
        conn = pika.BlockingConnection(pika.URLParameters(node.url))
        queues = [topology.ROUTER_QUEUE, topology.PARKED_QUEUE, topology.INTAKE_QUEUE] + [
            topology.department_queue(d) for d in ("business", "quality", "national_tax", "local_tax")] + [
            topology.delay_exchange(seconds) for seconds in topology.RETRY_DELAYS]
        depths = {}
        for q in queues:
            m = conn.channel().queue_declare(q, passive=True).method
            depths[q] = (m.message_count, m.consumer_count)
        conn.close()
        pytest.fail(f"{len(pending)} cases stuck; open steps {steps}; unsent router outbox {unsent}; "
                    f"queues {depths}; process exit codes {alive}; revived {chaos.revived}")

    def db(service: str):
        return make_engine(pg_url, f"{prefix}_{service}")

    intake, router, fees, audit = db("intake"), db("router"), db("fees"), db("audit")
    supervision = db("supervision")
    business, quality = db("adapter_business"), db("adapter_quality")
    national, local = db("adapter_national_tax"), db("adapter_local_tax")
    try:
        # one application and one case per submission (a resubmission after a crash maps to the first)
        assert len(set(app_ids)) == BUNDLES
        assert scalar(intake, "SELECT count(*) FROM intake_applications") == BUNDLES
        # every case ended exactly once
        assert scalar(intake, "SELECT count(*) FROM (SELECT application_id FROM intake_application_events "
                              "WHERE status IN (3, 4, 5) GROUP BY application_id HAVING count(*) <> 1) x") == 0
        assert scalar(router, "SELECT count(*) FROM router_cases WHERE status = 2") == BUNDLES
        assert scalar(router, "SELECT count(*) FROM router_steps WHERE status <> 'approved'") == 0
        # nothing issued twice
        assert scalar(business, "SELECT count(DISTINCT credit_code) FROM business_companies") == BUNDLES
        assert scalar(business, "SELECT count(*) FROM business_companies") == BUNDLES
        assert scalar(business, "SELECT max(last) FROM business_sequences") == BUNDLES  # gapless serials
        assert scalar(quality, "SELECT count(*) FROM quality_certificates") == BUNDLES
        assert scalar(national, "SELECT count(*) FROM national_tax_registrations") == BUNDLES
        assert scalar(local, "SELECT count(*) FROM local_tax_registrations") == BUNDLES
        for engine, code in ((business, "business"), (quality, "quality"), (national, "national_tax"),
                             (local, "local_tax")):
            assert scalar(engine, f"SELECT count(*) FROM (SELECT case_id, step_id FROM {code}_handled "
                                  "WHERE kind = 'decided' GROUP BY 1, 2 HAVING count(*) > 1) x") == 0
        # one bill, one payment and one receipt each, gapless numbers, though fees was killed,
        # case.submitted redelivered and payments retried
        assert scalar(fees, "SELECT count(*) FROM fees_bills") == BUNDLES
        assert scalar(fees, "SELECT count(*) FROM fees_payments") == BUNDLES
        assert scalar(fees, "SELECT count(*) FROM fees_issued_receipts") == BUNDLES
        assert scalar(fees, "SELECT max(last) FROM fees_receipt_counters") == BUNDLES
        # supervision saw every case end, from the router's last snapshot, with no card raised
        # (each took a moment, not a working day)
        def supervised():
            return scalar(supervision, "SELECT count(*) FROM supervision_cases WHERE status = 2 "
                                       "AND ended_at IS NOT NULL") == BUNDLES
        assert wait_until(supervised, timeout=60), scalar(supervision, "SELECT count(*) FROM supervision_cases")
        assert scalar(supervision, "SELECT count(*) FROM supervision_steps WHERE started_at IS NULL "
                                   "OR ended_at IS NULL") == 0
        assert scalar(supervision, "SELECT count(*) FROM supervision_cards") == 0
        # nothing parked
        assert rabbit_node.queue_depth(node.url, topology.PARKED_QUEUE) == 0
        # every case's audit trail has every hop, kills or not (records wait in spools, not memory)
        missing = wait_for_complete_timelines(audit, BUNDLES)
        assert not missing, f"{len(missing)} cases lack audit records, e.g. {sorted(missing.items())[:3]}"
    finally:
        for engine in (intake, router, fees, business, quality, national, local, audit, supervision):
            engine.dispose()
        counter.close()
    print(f"\nchaos: {chaos.router_kills} router kills, {chaos.adapter_kills} adapter kills, "
          f"{chaos.broker_restarts} broker restart(s), {BUNDLES} bundles; {done_when_chaos_ended} complete when "
          f"the chaos ended, all {BUNDLES} {time.monotonic() - submitted_at:.0f} s after submission; "
          f"processes that exited on their own and were restarted: {chaos.revived or 'none'}")

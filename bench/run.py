"""`make bench`: company-registration bundles through the whole suite vs. the broker floor.

Starts its own suite (separate processes, PostgreSQL, a fresh RabbitMQ vhost), then:
  1. light load: one counter client, BENCH_LIGHT bundles one after another -> p50 latency;
  2. load: BENCH_CLIENTS concurrent counter clients, BENCH_BUNDLES bundles in all -> bundles/s,
     p50 and p99 submit-to-complete latency (complete = the router's case.status.completed event);
  3. paced load (open loop): a bundle every 1/rate s for BENCH_PACED_SECONDS, whatever the
     completions, at BENCH_PACED_RATE bundles/s (default: BENCH_PACED_SHARE, 0.5, of the throughput
     just measured) -> p50 and p99 latency below saturation, counted from each bundle's scheduled
     time (a late submission counts as latency: no coordinated omission);
  4. each of these runs right after the same run against the broker floor (bench/floor.py, on a
     vhost of its own, paced at the same rate), so the ratios compare neighbours in time;
  5. after the floor's closed loop, the batched floor (bench/floor.py: its clients batch confirms
     and acks as the suite's consumers do) in the closed loop, then paced at issue 3's 200
     bundles/s: what the broker itself allows on this machine.
  The CPU per bundle of each process (and cores kept busy) is measured in the closed loops: the
  suite's, the floors' (broker and clients) and the load generator's own.
Writes bench/results/latest.json and appends a line to docs/benchmarks.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pika

from bench.cpu import CpuMeter, cores
from hall.v1 import approval_pb2
from services.counter.client import Counter
from services.runtime import topology
from services.runtime.amqp import connection_parameters
from services.suite import Child, plan
from tests.support import servers
from tests.support.ports import suite_ports
from tests.support.processes import counter_of, started
from tests.support.samples import company_registration

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "32"))
BUNDLES = int(os.environ.get("BENCH_BUNDLES", "600"))
LIGHT = int(os.environ.get("BENCH_LIGHT", "40"))
PACED_SECONDS = float(os.environ.get("BENCH_PACED_SECONDS", "15"))
PACED_SHARE = float(os.environ.get("BENCH_PACED_SHARE", "0.5"))
PACED_RATE = float(os.environ.get("BENCH_PACED_RATE", "0"))  # 0: PACED_SHARE of the measured throughput
ISSUE_RATE = 200.0  # bundles/s: issue 3's "p99 ≤ 50 ms at 200 bundles/s", asked of the batched floor


class Completions:
    """Completion times by key, fed by a consumer thread on its own queue. A waiter sleeps on an
    event of its own key: a completion wakes its one waiter, not all of them (with 32 or 64
    client threads, waking every waiter on every completion cost the bench process, and so the
    floor sharing it, a core's worth of wake-ups at the floor's rates)."""

    def __init__(self, url: str, queue: str, exchange: str, key: str, decode: Callable[[Any, bytes], str],
                 *, also_ending: tuple[str, ...] = ()) -> None:
        """`key` is the routing key of completion; `also_ending`, of other ends (a refusal): those
        end the wait too, and are kept in `other_ends` by key, with their routing key."""
        self.times: dict[str, float] = {}
        self.other_ends: dict[str, str] = {}
        self._waiting: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        conn = pika.BlockingConnection(connection_parameters(url, name="bench-observer"))
        ch = conn.channel()
        ch.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
        for binding in (key, *also_ending):
            ch.queue_bind(queue, exchange, binding)

        def cb(ch: Any, method: Any, props: Any, body: bytes) -> None:
            k, now = decode(props, body), time.perf_counter()
            with self._lock:
                self.times.setdefault(k, now)
                if method.routing_key != key:
                    self.other_ends.setdefault(k, method.routing_key)
                waiter = self._waiting.pop(k, None)
            if waiter is not None:
                waiter.set()
            ch.basic_ack(method.delivery_tag)

        ch.basic_qos(prefetch_count=500)
        ch.basic_consume(queue, cb)
        self._conn = conn
        self._thread = threading.Thread(target=self._run, args=(ch,), daemon=True)
        self._thread.start()

    def _run(self, ch: Any) -> None:
        # Stopped by closing the connection; anything else (a bug in a callback) ends the thread
        # with its traceback instead of a silent timeout.
        with contextlib.suppress(pika.exceptions.AMQPError):
            ch.start_consuming()

    def wait(self, key: str, timeout: float = 120) -> float:
        with self._lock:
            if key in self.times:
                return self.times[key]
            waiter = self._waiting.setdefault(key, threading.Event())
        if not waiter.wait(timeout):
            raise TimeoutError(f"{key} did not complete")
        return self.times[key]

    def close(self) -> None:
        self._conn.add_callback_threadsafe(self._conn.close)


def closed_loop(clients: int, total: int, submit: Callable[[int], str], done: Completions) -> tuple[list[float], float]:
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(total))

    def worker() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            start = time.perf_counter()
            key = submit(i)
            end = done.wait(key)
            with lock:
                latencies.append((end - start) * 1000)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(worker) for _ in range(clients)]:
            f.result()
    return latencies, time.perf_counter() - t0


def paced(rate: float, seconds: float, submit: Callable[[int], str], done: Completions) -> list[float]:
    """Open loop: bundle i is due at start + i/rate and its latency runs from then to completion,
    so a submission held up by a busy suite (or a full client pool) counts against the suite."""
    return [latency for _, _, latency in paced_bundles(rate, seconds, submit, done)]


def paced_bundles(rate: float, seconds: float, submit: Callable[[int], str],
                  done: Completions) -> list[tuple[str, float, float]]:
    """`paced`, bundle by bundle: (its key, when it was due on the `time.perf_counter` clock, its
    latency in ms), in the order they completed."""
    bundles: list[tuple[str, float, float]] = []
    lock = threading.Lock()

    def job(i: int, due: float) -> None:
        key = submit(i)
        end = done.wait(key)
        with lock:
            bundles.append((key, due, (end - due) * 1000))

    start = time.perf_counter() + 0.05
    with ThreadPoolExecutor(64) as pool:
        jobs = []
        for i in range(max(1, int(rate * seconds))):
            due = start + i / rate
            time.sleep(max(0.0, due - time.perf_counter()))
            jobs.append(pool.submit(job, i, due))
        for f in jobs:
            f.result()
    return bundles


def calibration_ms() -> float:
    """A fixed pure-Python loop, best of three: how fast this host runs Python at the moment of
    the run. Hosts differ (the same commit has run at 11 and at 24 bundles/s on two machines of
    the same kind), so figures of different runs compare only together with this one."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        total = 0
        for i in range(2_000_000):
            total += i
        best = min(best, time.perf_counter() - start)
    return best * 1000


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def company_registrations(counter: Counter) -> Callable[[int], str]:
    """A client's submit: one company registration through intake, and its payment; returns its
    case id (the key `Completions` waits for)."""
    def submit(_: int) -> str:
        app = counter.submit(company_registration()).application
        # The applicant pays at the window right after acceptance (one window, one payment): the
        # case completes without waiting when the departments finish after it.
        counter.pay(app.application_id, amount_fen=app.fees_due.fen)  # the amount intake said at acceptance
        return str(app.case_id)

    return submit


@contextlib.contextmanager
def running_suite(amqp_url: str, pg_url: str, name: str) -> Iterator[tuple[list[Child], Counter, Completions]]:
    """The whole suite as separate processes in schemas of its own, a counter client and a
    completion observer; everything stopped and dropped afterwards."""
    env = {**os.environ, "AMQP_URL": amqp_url, "HALL_DATABASE_URL": pg_url,
           "HALL_SCHEMA_PREFIX": f"{name}_{uuid.uuid4().hex[:8]}", "LOG_LEVEL": "warning", **suite_ports()}
    children = plan(env)
    with started(children, pg_url, ROOT / "var" / "bench-logs", ready_timeout=120):
        counter = counter_of(env)
        done = Completions(amqp_url, f"{name}.completed", topology.EXCHANGE, topology.rk_case_status("completed"),
                           lambda props, body: approval_pb2.CaseStatusChanged.FromString(body).case_id,
                           also_ending=(topology.rk_case_status("refused"), topology.rk_case_status("withdrawn")))
        try:
            yield children, counter, done
        finally:
            done.close()
            counter.close()


@contextlib.contextmanager
def running_floor(amqp_url: str, *, batched: bool = False) -> Iterator[tuple[Callable[[int], str], Completions]]:
    """The broker floor (bench/floor.py) running in this process: a submit function and its observer."""
    from bench.floor import EX, Floor, submitter

    floor = Floor(amqp_url, batched=batched)
    floor.start()
    submit_case, close = submitter(amqp_url)
    done = Completions(amqp_url, "floor.done", EX, "done", lambda props, body: body.decode())

    def submit(i: int) -> str:
        key = uuid.uuid4().hex
        submit_case(key)
        return key

    try:
        yield submit, done
    finally:
        done.close()
        close()
        floor.stop()


def batched_floor(amqp_url: str) -> dict[str, Any]:
    """The floor answering as the suite's consumers do (bench/floor.py): in the closed loop, what
    the broker carries when the clients batch their confirms and acks; paced at issue 3's
    rate (ISSUE_RATE bundles/s), the latency the broker allows there."""
    with running_floor(amqp_url, batched=True) as (submit, done):
        closed_loop(4, 20, submit, done)  # warm-up
        cpu = CpuMeter({"floor clients": [os.getpid()]})
        latencies, seconds = closed_loop(CLIENTS, BUNDLES, submit, done)
        per = cpu.per(BUNDLES, without=("postgres",))
        time.sleep(1)
        at_rate = paced(ISSUE_RATE, PACED_SECONDS, submit, done)
    return {"floor_batched_bundles_per_s": BUNDLES / seconds, "floor_batched_p50_ms": pct(latencies, 50),
            "floor_batched_cpu_ms_per_bundle": per, "floor_batched_cores": cores(per["all"], BUNDLES / seconds),
            "floor_batched_at_issue_rate_p50_ms": pct(at_rate, 50),
            "floor_batched_at_issue_rate_p99_ms": pct(at_rate, 99)}


def bench(suite_url: str, floor_url: str, pg_url: str, batched_floor_url: str) -> dict[str, Any]:
    """Suite and floor side by side, each figure measured right after its floor counterpart, so a
    change of the host's speed during the run moves both (the floor goes first: the suite's work
    off the case's path, audit and fees catching up, must not run during the floor's turn)."""
    with running_suite(suite_url, pg_url, "bench") as (children, counter, done), \
            running_floor(floor_url) as (floor_submit, floor_done):
        submit = company_registrations(counter)
        closed_loop(4, 20, floor_submit, floor_done)  # warm-up
        closed_loop(4, 20, submit, done)
        floor_light, _ = closed_loop(1, LIGHT, floor_submit, floor_done)
        light, _ = closed_loop(1, LIGHT, submit, done)
        # The floor's clients run in this process, beside the load generator: both are counted.
        floor_cpu = CpuMeter({"floor clients": [os.getpid()]})
        floor_loaded, floor_seconds = closed_loop(CLIENTS, BUNDLES, floor_submit, floor_done)
        floor_cpu_per = floor_cpu.per(BUNDLES, without=("postgres",))
        floor_batched = batched_floor(batched_floor_url)
        cpu = CpuMeter({c.name: [c.proc.pid] for c in children if c.proc})
        load_generator = CpuMeter({"load generator": [os.getpid()]})
        loaded, seconds = closed_loop(CLIENTS, BUNDLES, submit, done)
        cpu_per = cpu.per(BUNDLES)
        load_generator_per = load_generator.per(BUNDLES)["load generator"]
        rate = PACED_RATE or max(0.1, round(PACED_SHARE * BUNDLES / seconds, 1))
        time.sleep(2)  # what the saturated run left behind (audit, fees) settles: a steady state
        floor_paced = paced(rate, PACED_SECONDS, floor_submit, floor_done)
        paced_cpu = CpuMeter({c.name: [c.proc.pid] for c in children if c.proc})
        at_rate = paced(rate, PACED_SECONDS, submit, done)
        # Below saturation batches are smaller, so a bundle costs more CPU than in the closed loop:
        # "half the capacity" keeps the machine busier than half.
        paced_cpu_all = paced_cpu.per(len(at_rate)).get("all", 0.0)
        if done.other_ends:  # a bundle that ended otherwise (refused) is counted, and said
            print(f"bundles not completed: {len(done.other_ends)} {sorted(done.other_ends.values())}")
    return {"not_completed": len(done.other_ends), "bundles_per_s": BUNDLES / seconds, "p50_ms": pct(loaded, 50), "p99_ms": pct(loaded, 99),
            "light_p50_ms": pct(light, 50), "paced_bundles_per_s": rate, "paced_p50_ms": pct(at_rate, 50),
            "paced_p99_ms": pct(at_rate, 99), "cpu_ms_per_bundle": cpu_per,
            "paced_cpu_ms_per_bundle": paced_cpu_all,
            # Cores kept busy in the closed loop (2 on this machine): the suite's services and
            # servers, and the floor's broker and pika clients with the load generator.
            "cores": cores(cpu_per.get("all", 0.0), BUNDLES / seconds),
            "load_generator_cpu_ms_per_bundle": load_generator_per,
            "floor_cpu_ms_per_bundle": floor_cpu_per,
            "floor_cores": cores(floor_cpu_per.get("all", 0.0), BUNDLES / floor_seconds),
            "floor_bundles_per_s": BUNDLES / floor_seconds, "floor_p50_ms": pct(floor_loaded, 50),
            "floor_p99_ms": pct(floor_loaded, 99), "floor_light_p50_ms": pct(floor_light, 50),
            "floor_paced_p50_ms": pct(floor_paced, 50), "floor_paced_p99_ms": pct(floor_paced, 99),
            **floor_batched}


def commit_label() -> str:
    """The commit measured; `+` when the code differs from it (a change not committed yet), with
    the settings that differ from the defaults (ADAPTER_*, ROUTER_*, … given to the run)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT).stdout.strip()

    label = git("rev-parse", "--short", "HEAD")
    if git("status", "--porcelain", "--untracked-files=no", "--", "services", "bench", "protos"):
        label += "+"
    tuned = sorted(f"{k}={v}" for k, v in os.environ.items()
                   if k.split("_", 1)[0] in TUNABLE_PREFIXES or k in TUNABLE_NAMES)
    return " ".join([label, *tuned])


TUNABLE_PREFIXES = ("ADAPTER", "ROUTER", "INTAKE", "AUDIT", "FEES", "OUTBOX", "CPU")
TUNABLE_NAMES = ("HALL_OFF_PATH_NICE", "BENCH_LIGHT", "BENCH_PACED_RATE")


def main() -> None:
    with servers.rabbitmq() as broker, servers.postgres() as pg, servers.vhost(broker) as suite_url, \
            servers.vhost(broker) as floor_url, servers.vhost(broker) as batched_floor_url:
        measured = bench(suite_url, floor_url, pg, batched_floor_url)
    result: dict[str, Any] = {**measured, "calibration_ms": calibration_ms()}
    result["throughput_ratio"] = result["bundles_per_s"] / result["floor_bundles_per_s"]
    result["throughput_ratio_batched_floor"] = result["bundles_per_s"] / result["floor_batched_bundles_per_s"]
    result["latency_ratio"] = result["light_p50_ms"] / result["floor_light_p50_ms"]
    result.update({
        "clients": CLIENTS, "bundles": BUNDLES, "light_bundles": LIGHT,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {os.cpu_count()} cores",
        "commit": commit_label(),
    })
    out = ROOT / "bench" / "results" / "latest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}, indent=2))
    line = (f"| {result['at']} | {result['commit']} | {CLIENTS} | {BUNDLES} | {result['bundles_per_s']:.1f} | "
            f"{result['p50_ms']:.1f} | {result['p99_ms']:.1f} | {result['light_p50_ms']:.1f} | "
            f"{result['floor_bundles_per_s']:.1f} | {result['floor_light_p50_ms']:.1f} | "
            f"{result['throughput_ratio']:.2f} | {result['latency_ratio']:.2f} | {result['calibration_ms']:.0f} | "
            f"{result['paced_bundles_per_s']:.1f} | {result['paced_p50_ms']:.1f} | {result['paced_p99_ms']:.1f} | "
            f"{result['floor_paced_p99_ms']:.1f} | {result['floor_batched_bundles_per_s']:.1f} | "
            f"{result['floor_batched_at_issue_rate_p99_ms']:.1f} |\n")
    with (ROOT / "docs" / "benchmarks.md").open("a", encoding="utf-8") as f:
        f.write(line)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

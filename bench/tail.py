"""`make bench-tail`: where the slow bundles of a paced run lose their time, hop by hop.

Starts the suite as `make bench` does, measures its capacity in a short closed loop (unless
BENCH_TAIL_RATE is given), then submits bundles paced at BENCH_TAIL_SHARE (0.5) of it for
BENCH_TAIL_SECONDS (20), as `make bench`'s paced run does. Each bundle's audit timeline is read
afterwards, and every handler on the case's path becomes a stage (`router licence`: the router
taking the licence decision; `adapter-business licence`: the business adapter deciding it). For
each stage it prints, averaged over the median bundles (p40–p60) and over the slowest
(BENCH_TAIL_SLOWEST, 5 %): the wait before the handler started (since the stage before it on the
path ended: relay, broker, delivery, a consumer still busy with an earlier batch) and how long
the handler ran (its batch included). Their difference says whether the tail is queueing or
longer handling, and where.
"""

from __future__ import annotations

import collections
import os
import statistics
import time
from typing import Any

from bench.run import closed_loop, company_registrations, paced_bundles, running_suite
from tests.support import servers

SECONDS = float(os.environ.get("BENCH_TAIL_SECONDS", "20"))
SHARE = float(os.environ.get("BENCH_TAIL_SHARE", "0.5"))
RATE = float(os.environ.get("BENCH_TAIL_RATE", "0"))
SLOWEST = float(os.environ.get("BENCH_TAIL_SLOWEST", "0.05"))
# Not on the case's path: intake's and fees' status events (intake lingers by design), the
# router's status events (records without a duration), the business register's lookups (inside
# the tax adapters' handling) and the watches and receipts the counter asks for.
OFF_PATH_SERVICES = {"fees", "desk-business"}
OFF_PATH_OPERATIONS = {"hall.v1.CaseStatusChanged", "/hall.v1.IntakeService/WatchApplication"}


def stages(entries: list[Any], t0_ns: int) -> list[tuple[str, float, float]]:
    """(stage, wait ms, duration ms) of each handler on the case's path, in the order they started.
    A handler's wait runs from the latest end, among the handlers that started before it, to its
    own start: for the second tax decision that is the first one's end (the router takes them one
    after the other)."""
    path = []
    for e in entries:
        r = e.record
        if r.service in OFF_PATH_SERVICES or r.operation in OFF_PATH_OPERATIONS or r.operation.startswith("case.status"):
            continue
        start_ms = (r.started_at.ToNanoseconds() - t0_ns) / 1e6
        name = r.service if r.service.startswith("adapter-") else f"{r.service} {r.operation.rsplit('/', 1)[-1]}"
        path.append((start_ms, r.duration_us / 1000, f"{name} {r.step_id}".strip()))
    path.sort()
    result = []
    latest_end = 0.0
    for start_ms, duration_ms, name in path:
        result.append((name, max(0.0, start_ms - latest_end), duration_ms))
        latest_end = max(latest_end, start_ms + duration_ms)
    return result


def main() -> None:
    with servers.rabbitmq() as broker, servers.postgres() as pg, servers.vhost(broker) as amqp_url, \
            running_suite(amqp_url, pg, "tail") as (_children, counter, done):
        submit = company_registrations(counter)
        closed_loop(4, 20, submit, done)  # warm-up
        rate = RATE
        if not rate:
            _, seconds = closed_loop(32, 300, submit, done)
            rate = round(300 / seconds * SHARE, 1)
        wall_offset_ns = time.time_ns() - time.perf_counter_ns()  # the audit trail's times are wall clock
        bundles = [(case_id, int(due * 1e9) + wall_offset_ns, latency)
                   for case_id, due, latency in paced_bundles(rate, SECONDS, submit, done)]
        time.sleep(1.0)  # the last audit batches (they linger)

        bundles.sort(key=lambda b: b[2])
        n = len(bundles)
        latencies = [b[2] for b in bundles]
        print(f"{n} bundles paced at {rate} bundles/s: p50 {statistics.median(latencies):.1f} ms, "
              f"p99 {latencies[min(n - 1, round(0.99 * (n - 1)))]:.1f} ms")
        groups = {"median (p40-p60)": bundles[int(0.4 * n):max(int(0.4 * n) + 1, int(0.6 * n))],
                  f"slowest {SLOWEST:.0%}": bundles[max(0, n - max(1, round(SLOWEST * n))):]}
        table: dict[str, dict[str, list[tuple[float, float]]]] = {}
        order: list[str] = []
        for label, members in groups.items():
            per_stage: dict[str, list[tuple[float, float]]] = collections.defaultdict(list)
            for case_id, t0_ns, _latency in members:
                for name, wait, duration in stages(list(counter.timeline(case_id)), t0_ns):
                    per_stage[name].append((wait, duration))
                    if name not in order:
                        order.append(name)
            table[label] = per_stage
            print(f"{label}: {len(members)} bundles, latency {statistics.mean(m[2] for m in members):.1f} ms on average")
        header = "".join(f" | {label + ' wait':>24s} | {'ran':>6s}" for label in groups)
        print(f"\n{'stage (mean ms)':44s}{header}")
        for name in order:
            cells = ""
            for label in groups:
                rows = table[label].get(name, [])
                if rows:
                    cells += f" | {statistics.mean(w for w, _ in rows):24.1f} | {statistics.mean(d for _, d in rows):6.1f}"
                else:
                    cells += f" | {'-':>24s} | {'-':>6s}"
            print(f"{name:44s}{cells}")


if __name__ == "__main__":
    main()

"""`make bench-timeline`: where a single bundle's time goes, hop by hop.

Starts the suite as `make bench` does and submits BENCH_TIMELINE bundles one after another (one
in flight, a short pause between them). Prints their p50 latency, the CPU each process spent per
bundle at this light load, and for the last BENCH_TIMELINE_SHOW bundles their audit timeline:
when each handler started (ms after the client called SubmitApplication) and how long it ran. The gaps between
one handler's end and the next one's start are the relay, the broker and the delivery.
"""

from __future__ import annotations

import os
import statistics
import time

from bench.cpu import CpuMeter
from bench.run import closed_loop, company_registrations, running_suite
from tests.support import servers

BUNDLES = int(os.environ.get("BENCH_TIMELINE", "30"))
SHOW = int(os.environ.get("BENCH_TIMELINE_SHOW", "3"))
# Off the case's path: intake's status events (lingering by design) and fees' receipt.
OFF_PATH = {("intake", "hall.v1.CaseStatusChanged"), ("fees", "hall.v1.CaseStatusChanged")}


def main() -> None:
    with servers.rabbitmq() as broker, servers.postgres() as pg, servers.vhost(broker) as amqp_url, \
            running_suite(amqp_url, pg, "timeline") as (children, counter, done):
        submit = company_registrations(counter)
        closed_loop(2, 10, submit, done)  # warm-up
        cpu = CpuMeter({c.name: [c.proc.pid] for c in children if c.proc})
        cases: list[str] = []
        latencies: list[float] = []
        submitted_ns: list[int] = []  # wall clock, to line the audit trail up with the client
        busy = 0.0
        for i in range(BUNDLES):
            start = time.perf_counter()
            submitted_ns.append(time.time_ns())
            cases.append(submit(i))
            latencies.append((done.wait(cases[-1]) - start) * 1000)
            busy += time.perf_counter() - start
            time.sleep(0.2)
        per_bundle = cpu.per(BUNDLES)
        print(f"{BUNDLES} bundles one at a time: p50 {statistics.median(latencies):.1f} ms, "
              f"min {min(latencies):.1f} ms")
        print("CPU per bundle at light load (ms): "
              + ", ".join(f"{name} {ms}" for name, ms in per_bundle.items() if ms))
        time.sleep(1.0)  # the last audit batches (they linger)
        for case_id, t0, latency in list(zip(cases, submitted_ns, latencies, strict=True))[len(cases) - SHOW:]:
            entries = sorted(counter.timeline(case_id), key=lambda e: e.record.started_at.ToNanoseconds())
            print(f"\ncase {case_id}: the client saw it complete {latency:.1f} ms after it called SubmitApplication")
            for entry in entries:
                r = entry.record
                if (r.service, r.operation) in OFF_PATH:
                    continue
                print(f"  {(r.started_at.ToNanoseconds() - t0) / 1e6:7.1f} ms  +{r.duration_us / 1000:6.1f} ms  "
                      f"{r.service:22s} {r.operation.rsplit('/', 1)[-1]:28s} {r.step_id}")


if __name__ == "__main__":
    main()

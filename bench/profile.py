"""`make profile`: where the CPU goes under load, process by process.

Starts the suite as `make bench` does, drives BENCH_CLIENTS closed-loop counter clients for
PROFILE_SECONDS, and meanwhile
  - reads each process's CPU time from /proc (user+system, in % of one core and ms per bundle);
  - counts PostgreSQL's transactions, WAL and rows read by sequential scans (by table) per bundle;
  - when py-spy is installed (`pip install py-spy`) and PROFILE_SPY is not 0, samples every Python process and prints the
    functions holding the most samples (own time, and time including callees under our code).
Nothing is written to the repository; the report goes to stdout.
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import text

from bench.cpu import CpuMeter
from bench.run import calibration_ms, company_registrations, running_suite
from services.runtime.db import make_engine
from tests.support import servers

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "32"))
SECONDS = int(os.environ.get("PROFILE_SECONDS", "20"))
TOP = int(os.environ.get("PROFILE_TOP", "12"))
GIL = os.environ.get("PROFILE_GIL", "1") != "0"  # sample only threads holding the GIL: CPU, not waits


def pg_counters(url: str) -> tuple[int, int, collections.Counter[str]]:
    """Transactions in this database so far, the WAL position (bytes) of the whole server, and the
    rows read by sequential scans so far by table (summed over the database's schemas). A lookup
    the services make by key should read none; one that does grows with its table (a plan made while the table was empty:
    docs/operations.md, "PostgreSQL statistics")."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            commits, wal = conn.execute(text(
                "SELECT xact_commit + xact_rollback, pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') "
                "FROM pg_stat_database WHERE datname = current_database()")).one()
            scans = conn.execute(text("SELECT relname, seq_tup_read FROM pg_stat_user_tables")).all()
    finally:
        engine.dispose()
    scanned: collections.Counter[str] = collections.Counter()
    for table, read in scans:
        scanned[table] += int(read or 0)
    return int(commits), int(wal), scanned


def py_spy() -> str | None:
    """The py-spy executable (on PATH or in this venv), or None when it is not installed."""
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return found if Path(found).exists() else None


class Sampler:
    """py-spy recording one process (GIL-holding samples, 200 Hz) from `start()` to `stop()`; then
    `report()` summarises where its CPU went. Does nothing when py-spy is not installed."""

    def __init__(self, pid: int, enabled: bool = True) -> None:
        self._pid = pid
        self._exe = py_spy() if enabled else None
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self._exe is not None:
            self._dir = Path(tempfile.mkdtemp(prefix="hall-spy-"))
            self._proc = subprocess.Popen([self._exe, "record", "--pid", str(self._pid), "-o",
                                           str(self._dir / "samples.txt"), "-f", "raw", "--gil", "-r", "200"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)  # attached before the measured part begins

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGINT)
            self._proc.wait(30)

    def report(self) -> str:
        """The summary (empty without py-spy); the samples are removed afterwards."""
        if self._proc is None or self._dir is None:
            return ""
        try:
            return "\n".join(summarize(self._dir / "samples.txt"))
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)


def summarize(raw: Path) -> list[str]:
    """Own and inclusive sample counts per function from py-spy's collapsed-stack output."""
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    if not raw.exists():
        return ["    (no samples: py-spy could not attach)"]
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():  # a blank or truncated line (the process ended mid-write)
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            incl[frame] += n
    if not total:
        return ["    (no samples)"]
    modules: collections.Counter[str] = collections.Counter()
    for frame, n in own.items():
        path = frame.rpartition("(")[2].rstrip(")")
        parts = path.split("/")
        modules["/".join(parts[:3]) if parts[0] == "services" else parts[0].split(":")[0] or "?"] += n
    out = [f"    {total} samples; by package: "
           + ", ".join(f"{m} {n / total:.0%}" for m, n in modules.most_common(8))]
    out.append("    own time:")
    out += [f"      {n / total:6.1%}  {f}" for f, n in own.most_common(TOP)]
    out.append("    including callees (services/ only):")
    ours = [(f, n) for f, n in incl.most_common() if "services/" in f and n < total]
    out += [f"      {n / total:6.1%}  {f}" for f, n in ours[:TOP]]
    return out


def main() -> None:
    spy = py_spy() if os.environ.get("PROFILE_SPY", "1") != "0" else None
    tmp = Path(tempfile.mkdtemp(prefix="hall-profile-"))
    calibration = calibration_ms()  # before the suite starts: the host's own speed
    with (servers.rabbitmq() as broker, servers.postgres() as pg, servers.vhost(broker) as amqp_url,
          running_suite(amqp_url, pg, "profile") as (children, counter, done)):
        submit = company_registrations(counter)
        try:
            stop = threading.Event()
            completed = [0]
            lock = threading.Lock()

            def client() -> None:
                while not stop.is_set():
                    key = submit(0)
                    done.wait(key)
                    with lock:
                        completed[0] += 1

            threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
            for t in threads:
                t.start()
            time.sleep(5)  # warm up
            cpu = CpuMeter({c.name: [c.proc.pid] for c in children if c.proc})
            commits_before, wal_before, scanned_before = pg_counters(pg)
            start_done, t0 = completed[0], time.perf_counter()
            spies = []
            if spy is not None:
                for c in children:
                    assert c.proc is not None
                    spies.append((c.name, subprocess.Popen(
                        [spy, "record", "--pid", str(c.proc.pid), "--duration", str(SECONDS), "--rate", "200",
                         "--format", "raw", "--nonblocking",
                         *(["--gil"] if GIL else []), "--output", str(tmp / f"{c.name}.txt")],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
            time.sleep(SECONDS)
            elapsed = time.perf_counter() - t0
            bundles = completed[0] - start_done
            spent_ms = cpu.ms()
            commits, wal, scanned = pg_counters(pg)
            commits, wal = commits - commits_before, wal - wal_before
            scanned.subtract(scanned_before)
            stop.set()
            for _, s in spies:
                s.wait()
            print(f"{bundles} bundles in {elapsed:.1f} s = {bundles / elapsed:.1f} bundles/s ({CLIENTS} clients; "
                  f"calibration {calibration:.0f} ms)")
            print(f"{'process':>24} {'% core':>7} {'ms/bundle':>10}")
            total_ms = 0.0
            for name, ms in sorted(spent_ms.items(), key=lambda kv: -kv[1]):
                per = ms / max(bundles, 1)
                total_ms += per
                print(f"{name:>24} {ms / 1000 / elapsed:7.1%} {per:10.1f}")
            print(f"{'all':>24} {'':>7} {total_ms:10.1f}")
            print(f"PostgreSQL transactions per bundle: {commits / max(bundles, 1):.1f} (whole database); "
                  f"WAL per bundle: {wal / 1024 / max(bundles, 1):.1f} KiB (whole server)")
            most = [(table, n) for table, n in scanned.most_common(6) if n > 0]
            print("Rows read by sequential scans per bundle: "
                  + (", ".join(f"{table} {n / max(bundles, 1):.0f}" for table, n in most) or "none"))
            for name, _ in spies:
                print(f"\n== {name}")
                print("\n".join(summarize(tmp / f"{name}.txt")))
            for t in threads:
                t.join(timeout=30)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""CPU time per process, from /proc: the services by pid, RabbitMQ and PostgreSQL by name."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_ticks(pid: int, *, reaped: bool = False) -> int:
    """User + system ticks of a process; with `reaped`, also those of its children that have
    exited (PostgreSQL's postmaster: the backends that came and went)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if reaped else 0)


def postgres_ticks() -> int:
    """All PostgreSQL CPU so far: every live server process, and the backends that have exited
    (counted in their postmaster). A fixed list of pids would lose a backend's CPU when it exits."""
    pids = broker_pids()["postgres"]
    parents = {pid: _parent(pid) for pid in pids}
    return sum(cpu_ticks(pid, reaped=parents[pid] not in parents) for pid in pids)


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


def broker_pids() -> dict[str, list[int]]:
    found: dict[str, list[int]] = {"rabbitmq": [], "postgres": []}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm == "beam.smp":
            found["rabbitmq"].append(int(entry.name))
        elif comm.startswith("postgres"):
            found["postgres"].append(int(entry.name))
    return found


class CpuMeter:
    """CPU time (user + system) each process spends from now on; RabbitMQ and PostgreSQL are
    found by process name. Empty where /proc is not there."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self._pids = {**pids, "rabbitmq": broker_pids()["rabbitmq"]}
        self._before = self._read()

    def _read(self) -> dict[str, int]:
        ticks = {name: sum(cpu_ticks(p) for p in pids) for name, pids in self._pids.items()}
        ticks["postgres"] = postgres_ticks()  # backends come and go
        return ticks

    def ms(self) -> dict[str, float]:
        """Milliseconds of CPU per process since the meter was made."""
        after, tick = self._read(), os.sysconf("SC_CLK_TCK")
        return {n: (after[n] - self._before[n]) * 1000 / tick for n in after}

    def per(self, bundles: int, *, without: tuple[str, ...] = ()) -> dict[str, float]:
        """Milliseconds of CPU per bundle by process, largest first, and "all" (`without`: names
        left out, such as PostgreSQL for the floor, which has no database)."""
        per = {n: round(ms / bundles, 1) for n, ms in self.ms().items() if n not in without}
        per = dict(sorted(per.items(), key=lambda kv: -kv[1]))
        per["all"] = round(sum(per.values()), 1)
        return per


def cores(cpu_ms_per_bundle: float, bundles_per_s: float) -> float:
    """How many cores a run kept busy: CPU per bundle times bundles per second."""
    return round(cpu_ms_per_bundle * bundles_per_s / 1000, 2)

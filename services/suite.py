"""Starts the whole suite as separate local processes (what `make run` does; the end-to-end
tests use it too). Every process gets its own settings from the environment:

  HALL_DATABASE_URL   base database; unset -> one SQLite file per service under var/
  HALL_SCHEMA_PREFIX  with PostgreSQL, each service uses schema <prefix>_<service> (default hall)
  AMQP_URL            broker (default amqp://guest:guest@127.0.0.1:5672/%2F)
  HALL_<SERVICE>_PORT gRPC ports (default services/ports.py: intake 50051 ... audit 50054)
  HALL_ADAPTERS       department adapters to start (default: every department in the registry,
                      services/adapters/departments.toml)
  HALL_DESKS          departments whose desk process starts (default: those the registry marks desk)
  HALL_DESK_<DEPT>_PORT  desk gRPC ports (default: the registry's desk_port)
  HALL_LOG_DIR        where each process writes <name>.log (default var/log)
  HALL_OFF_PATH_NICE  CPU_NICE of audit, supervision and the web pages, off the case's path (default 10; 0: none)
  HALL_WEB_PORT       the web pages' HTTP port (default 8080: http://127.0.0.1:8080/supervision)
  HALL_RUN_LOCK       the file a running suite holds (default var/suite.lock): a second make run exits 1
  HALL_ADAPTER_<DEPT>_HEALTH_PORT  an adapter's health endpoint (default: a free port)
  HALL_PRIVATE_AMQP_PORT  the private RabbitMQ node's port when make run starts one (default 5673)

The broker: AMQP_URL, else the standard port, else a private node, else Docker (local_broker.py).
"suite is up" is printed once every process answers its health check: the gRPC services their
gRPC health service, the adapters and the web pages their HTTP readiness endpoint.
"""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services import local_broker
from services.adapters import registry
from services.ports import PLATFORM_PORTS, WEB_PORT
from services.runtime import auth, clock

ROOT = Path(__file__).resolve().parent.parent
# Started in this order: the record keepers first, the window last.
PLATFORM = ("audit", "fees", "supervision", "router", "intake")
# The record keepers: a case's path does not wait for them, so they yield the CPU to it
# (services/runtime/priority.py).
# (fees is on it: a case waits for its payment before handover, and the window for its receipt.)
OFF_PATH = ("audit", "supervision")



# What the terminal of `make run` shows by default: warnings and errors, and each process's start
# and stop; every line is in var/log/<process>.log as the process wrote it (JSON).
_MILESTONES = {"started", "adapter started", "stopped", "signal received; shutting down"}
_NOT_SHOWN = {"event", "level", "timestamp", "service", "logger"}


def readable(name: str, raw: str, *, verbose: bool = False) -> str | None:
    """A process's log line as the terminal shows it: `name  HH:MM:SS level  event  key=value…`
    (None: not shown; `verbose` shows every line). A line that is not JSON is shown as it is."""
    line = raw.rstrip("\n")
    try:
        record = json.loads(line)
    except ValueError:
        return f"{name:>23} | {line}"
    if not isinstance(record, dict):
        return f"{name:>23} | {line}"
    level = str(record.get("level", "info"))
    event = str(record.get("event", ""))
    if not verbose and level in ("debug", "info") and event not in _MILESTONES:
        return None
    at = _local_time(str(record.get("timestamp", "")))
    rest = " ".join(f"{k}={v}" for k, v in record.items() if k not in _NOT_SHOWN)
    return f"{name:>23} {at} {level:<7} {event}" + (f"  {rest}" if rest else "")


def _local_time(timestamp: str) -> str:
    """The log's UTC timestamp as a clock in the hall reads it (Shanghai), HH:MM:SS."""
    try:
        return f"{clock.local(dt.datetime.fromisoformat(timestamp.replace('Z', '+00:00'))):%H:%M:%S}"
    except ValueError:
        return timestamp[11:19]


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    port: int | None = None
    # An HTTP endpoint answering 200 once the process is ready (adapters, the web pages).
    ready_url: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    pumps: list[threading.Thread] = field(default_factory=list)


def ports(env: dict[str, str] | None = None) -> dict[str, int]:
    env = env if env is not None else dict(os.environ)
    return {name: int(env.get(f"HALL_{name.upper()}_PORT", PLATFORM_PORTS[name])) for name in PLATFORM}


def plan(env: dict[str, str] | None = None) -> list[Child]:
    base = dict(env if env is not None else os.environ)
    pythonpath = os.pathsep.join([str(ROOT), str(ROOT / "gen")])
    base["PYTHONPATH"] = pythonpath + (os.pathsep + base["PYTHONPATH"] if base.get("PYTHONPATH") else "")
    base.setdefault("PYTHONUNBUFFERED", "1")
    db_url = base.get("HALL_DATABASE_URL", "")
    prefix = base.get("HALL_SCHEMA_PREFIX", "hall")
    var = ROOT / "var"

    def with_db(name: str) -> dict[str, str]:
        env = dict(base)
        if db_url and not db_url.startswith("sqlite"):
            env["DATABASE_URL"] = db_url
            env["DATABASE_SCHEMA"] = f"{prefix}_{name}"
        else:
            env["DATABASE_URL"] = f"sqlite:///{var / (name + '.db')}"
            env.pop("DATABASE_SCHEMA", None)
        return env

    children = []
    off_path_nice = base.get("HALL_OFF_PATH_NICE", "10")
    for name, port in ports(base).items():
        env = with_db(name)
        env["GRPC_PORT"] = str(port)
        if name in OFF_PATH:
            env.setdefault("CPU_NICE", off_path_nice)
        children.append(Child(name, [sys.executable, "-m", f"services.{name}"], env, port))
    adapters = [a for a in base.get("HALL_ADAPTERS", ",".join(registry.codes())).split(",") if a]
    desks = [d for d in base.get("HALL_DESKS", ",".join(e.code for e in registry.desks())).split(",") if d in adapters]
    desk_ports = {code: int(base.get(f"HALL_DESK_{code.upper()}_PORT", registry.entry(code).desk_port))
                  for code in desks}
    for code in desks:
        env = with_db(f"adapter_{code}")
        env["GRPC_PORT"] = str(desk_ports[code])
        children.append(Child(f"desk-{code}", [sys.executable, "-m", "services.adapters.desk", code], env,
                              desk_ports[code]))
    for code in adapters:
        env = with_db(f"adapter_{code}")
        for desk_code, port in desk_ports.items():  # where each desk answers (its shared lookups)
            env[registry.entry(desk_code).desk_address_setting] = f"127.0.0.1:{port}"
        health = int(base.get(f"HALL_ADAPTER_{code.upper()}_HEALTH_PORT") or _free_port())
        env["HEALTH_PORT"] = str(health)
        children.append(Child(f"adapter-{code}", [sys.executable, "-m", "services.adapters", code], env,
                              ready_url=f"http://127.0.0.1:{health}/readyz"))
    web = dict(base)
    web["WEB_PORT"] = str(web_port(base))
    web["SUPERVISION_ADDR"] = f"127.0.0.1:{ports(base)['supervision']}"
    web["INTAKE_ADDR"] = f"127.0.0.1:{ports(base)['intake']}"
    web.setdefault("CPU_NICE", off_path_nice)
    children.append(Child("web", [sys.executable, "-m", "services.web"], web,
                          ready_url=f"http://127.0.0.1:{web['WEB_PORT']}/healthz"))
    # Without TLS (here), each process proves itself to the others with a service token signed by
    # the hall's key (HALL_AUTH_SIGNING_KEY, else the development key); on Kubernetes the
    # production overlay gives each a client certificate instead (services/runtime/tls.py).
    issuer = auth.Issuer()
    for child in children:
        child.env.setdefault("HALL_SERVICE_TOKEN", auth.service_token(child.name, issuer))
    return children


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def web_port(env: dict[str, str] | None = None) -> int:
    env = env if env is not None else dict(os.environ)
    return int(env.get("HALL_WEB_PORT", WEB_PORT))


class Suite:
    def __init__(self, children: list[Child], log_dir: Path, echo: bool, verbose: bool = False) -> None:
        self.children = children
        self.log_dir = log_dir
        self.echo = echo
        self.verbose = verbose
        self.exit_codes: dict[str, int | None] = {}  # set by stop()

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for child in self.children:
            self.start_child(child)

    def start_child(self, child: Child) -> None:
        log = open(self.log_dir / f"{child.name}.log", "ab")  # noqa: SIM115 - closed by the pump
        child.proc = subprocess.Popen(child.argv, env=child.env, cwd=ROOT, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT)
        pump = threading.Thread(target=self._pump, args=(child, log), daemon=True)
        pump.start()
        child.pumps = [pump]

    def _pump(self, child: Child, log: object) -> None:
        assert child.proc is not None and child.proc.stdout is not None
        with log:  # type: ignore[attr-defined]
            for line in child.proc.stdout:
                log.write(line)  # type: ignore[attr-defined]
                log.flush()  # type: ignore[attr-defined]
                shown = readable(child.name, line.decode(errors="replace"), verbose=self.verbose) if self.echo else None
                if shown is not None:
                    sys.stdout.write(shown + "\n")
                    sys.stdout.flush()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for child in self.children:
            if child.ready_url is not None:
                while not _http_ready(child.ready_url):
                    if child.proc is not None and child.proc.poll() is not None:
                        raise RuntimeError(f"{child.name} exited with {child.proc.returncode}; see {self.log_dir / (child.name + '.log')}")
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{child.name} not ready at {child.ready_url} after {timeout}s")
                    time.sleep(0.2)
            if child.port is None:
                continue
            with grpc.insecure_channel(f"127.0.0.1:{child.port}") as channel:
                stub = health_pb2_grpc.HealthStub(channel)
                while True:
                    if child.proc is not None and child.proc.poll() is not None:
                        raise RuntimeError(f"{child.name} exited with {child.proc.returncode}; see {self.log_dir / (child.name + '.log')}")
                    try:
                        if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == health_pb2.HealthCheckResponse.SERVING:
                            break
                    except grpc.RpcError:
                        pass
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{child.name} not serving on port {child.port} after {timeout}s")
                    time.sleep(0.2)

    def stop(self, timeout: float = 20.0) -> dict[str, int | None]:
        for child in reversed(self.children):
            if child.proc is not None and child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        deadline = time.monotonic() + timeout
        for child in self.children:
            if child.proc is None:
                continue
            try:
                codes[child.name] = child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.proc.kill()
                codes[child.name] = child.proc.wait()
        for child in self.children:
            for pump in child.pumps:
                pump.join(2)
        self.exit_codes = codes
        return codes


class AlreadyRunning(Exception):
    pass


def single_instance(lock_file: Path) -> IO[str]:
    """Hold `lock_file` for as long as this process lives (the kernel lets go when it exits, even
    killed); a second `make run` finds it held and says so, instead of failing later on taken
    ports with a dozen tracebacks."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    held = lock_file.open("a+", encoding="utf-8")
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        held.seek(0)
        owner = held.read().strip() or "?"
        held.close()
        raise AlreadyRunning(owner) from None
    held.seek(0)
    held.truncate()
    held.write(str(os.getpid()))
    held.flush()
    return held


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the whole suite locally (Ctrl-C stops it).")
    parser.add_argument("--quiet", action="store_true", help="logs only to files, not to the terminal")
    parser.add_argument("--verbose", action="store_true",
                        help="every log line on the terminal (default: warnings, errors, starts and stops)")
    args = parser.parse_args()
    try:
        lock = single_instance(Path(os.environ.get("HALL_RUN_LOCK", ROOT / "var" / "suite.lock")))
    except AlreadyRunning as running:
        print(f"make run is already running here (process {running}): use it, or stop it with Ctrl-C in its "
              "terminal first", file=sys.stderr)
        sys.exit(1)
    log_dir = Path(os.environ.get("HALL_LOG_DIR", ROOT / "var" / "log"))
    try:
        broker = local_broker.find(dict(os.environ), ROOT / "var")
    except local_broker.NoBroker as none:
        print(f"make run: {none}", file=sys.stderr)
        lock.close()
        sys.exit(1)
    print(f"broker: {broker.how}", flush=True)
    suite = Suite(plan({**os.environ, "AMQP_URL": broker.url}), log_dir, echo=not args.quiet, verbose=args.verbose)
    stop = threading.Event()
    received: list[int] = []  # the handler takes no lock (see runtime.lifecycle.run_until_signal)
    signal.signal(signal.SIGTERM, lambda signum, _: received.append(signum))
    signal.signal(signal.SIGINT, lambda signum, _: received.append(signum))
    suite.start()
    try:
        suite.wait_ready(timeout=120)
        print(f"\nsuite is up: every process ready ({len(suite.children)}), intake 127.0.0.1:{ports()['intake']}; "
              f"logs in {log_dir}. In another terminal: make demo, or hall login clerk-0001 "
              f"(development staff, password hall). Ctrl-C stops.\n"
              f"叫号屏 (the hall board):             http://127.0.0.1:{web_port()}/board\n"
              f"电子监察大屏 (the supervision dashboard): http://127.0.0.1:{web_port()}/supervision\n", flush=True)
        while not stop.is_set() and not received:
            for child in suite.children:
                if child.proc is not None and child.proc.poll() is not None:
                    print(f"{child.name} exited with {child.proc.returncode}; stopping the suite", flush=True)
                    stop.set()
            stop.wait(0.2)  # the children hear Ctrl-C at once too: they get their SIGTERM while stopping
    finally:
        codes = suite.stop()
        print("stopped:", ", ".join(f"{k}={v}" for k, v in codes.items()), flush=True)
        broker.stop()  # a private node or a container this run started; nothing it found running
        lock.close()  # held to here: the next make run may start


if __name__ == "__main__":
    main()

"""`make bench-driver`: what the database driver layer costs a router-shaped transaction.

The router's transaction for one message, on tables of its shape: claim the message id, lock the
case, read its steps, update the case and a step, add an outbox row, commit. Run three ways on
one connection each, BENCH_DRIVER_TRANSACTIONS times after a warm-up:

- SQLAlchemy Core (how the services run today: statements on a pooled connection);
- psycopg's cursor alone (no SQLAlchemy execution layer);
- psycopg's pipeline mode (the three reads in one round trip; the writes and the commit in one).

Prints the wall time and this process's CPU per transaction: what the driver layer and the round
trips cost, without anything else of the suite.

Then a batch of BENCH_DRIVER_ROWS (20) rows of the audit trail's shape inserted three ways, each in
its transaction: psycopg's executemany (how the services insert a batch: one round trip, one
execution per row), one multi-row VALUES statement, and one `INSERT … SELECT FROM unnest(…)` of
one array per column; with the CPU of this process and of its server backend (from /proc).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from services.runtime.db import make_engine
from tests.support import servers
from tests.support.db import schema

TRANSACTIONS = int(os.environ.get("BENCH_DRIVER_TRANSACTIONS", "1500"))
ROWS = int(os.environ.get("BENCH_DRIVER_ROWS", "20"))

TABLES = """
CREATE TABLE cases (case_id text PRIMARY KEY, status int, event_seq int, results json, updated_at timestamptz);
CREATE TABLE steps (case_id text, step_id text, status text, attempt int, results json, PRIMARY KEY (case_id, step_id));
CREATE TABLE processed (message_id text PRIMARY KEY, processed_at timestamptz);
CREATE TABLE outbox (id bigserial PRIMARY KEY, message_id text UNIQUE, routing_key text, body bytea, headers json,
                     created_at timestamptz, sent_at timestamptz);
CREATE TABLE records (seq bigserial PRIMARY KEY, record_id text UNIQUE, case_id text, service text, kind int,
                      operation text, started_at timestamptz, duration_us bigint, detail text, hash text);
CREATE INDEX ON records (case_id);
"""
RECORD_COLUMNS = "record_id, case_id, service, kind, operation, started_at, duration_us, detail, hash"
RECORD_TYPES = ("text", "text", "text", "int", "text", "timestamptz", "bigint", "text", "text")
_ONE_ROW = "(" + ", ".join(["%s"] * len(RECORD_TYPES)) + ")"
INSERT_WAYS: dict[str, Callable[[Any, list[tuple[Any, ...]]], None]] = {
    "executemany": lambda conn, rows: conn.cursor().executemany(
        f"INSERT INTO records ({RECORD_COLUMNS}) VALUES {_ONE_ROW}", rows),
    "multi-row VALUES": lambda conn, rows: conn.execute(
        f"INSERT INTO records ({RECORD_COLUMNS}) VALUES {', '.join([_ONE_ROW] * len(rows))}",
        [v for row in rows for v in row]),
    "unnest": lambda conn, rows: conn.execute(
        f"INSERT INTO records ({RECORD_COLUMNS}) SELECT * FROM unnest("
        + ", ".join(f"%s::{t}[]" for t in RECORD_TYPES) + ")", [list(column) for column in zip(*rows, strict=True)]),
}
STATEMENTS = {
    "claim": "INSERT INTO processed (message_id, processed_at) VALUES (%(m)s, now()) "
             "ON CONFLICT DO NOTHING RETURNING message_id",
    "lock": "SELECT * FROM cases WHERE case_id = ANY(%(ids)s) ORDER BY case_id FOR UPDATE",
    "steps": "SELECT * FROM steps WHERE case_id = ANY(%(ids)s) ORDER BY case_id, step_id",
    "case": "UPDATE cases SET status = %(s)s, event_seq = event_seq + 1, results = %(r)s, updated_at = now() "
            "WHERE case_id = %(c)s",
    "step": "UPDATE steps SET status = 'approved', attempt = attempt + 1, results = %(r)s "
            "WHERE case_id = %(c)s AND step_id = %(st)s",
    "outbox": "INSERT INTO outbox (message_id, routing_key, body, headers, created_at) "
              "VALUES (%(o)s, 'k', %(b)s, %(h)s, now()) RETURNING id",
}
READS, WRITES = ("claim", "lock", "steps"), ("case", "step", "outbox")


def params(i: int) -> dict[str, Any]:
    case = f"C{i % 1000}"
    return {"m": uuid.uuid4().hex, "o": uuid.uuid4().hex, "ids": [case], "s": 1, "r": json.dumps({"k": "v"}),
            "c": case, "st": "a", "b": b"x" * 600, "h": json.dumps({"x-case-id": case})}


def with_sqlalchemy(url: str, name: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    engine = make_engine(url, name)
    sql = {k: text(v.replace("%(", ":").replace(")s", "")) for k, v in STATEMENTS.items()}

    def run(i: int) -> None:
        p = params(i)
        with engine.begin() as conn:
            for key in READS:
                conn.execute(sql[key], p).all()
            conn.execute(sql["case"], p)
            conn.execute(sql["step"], p)
            conn.execute(sql["outbox"], p).all()

    return run, engine.dispose


def with_psycopg(dsn: str, name: str, *, pipeline: bool) -> tuple[Callable[[int], None], Callable[[], None]]:
    conn = psycopg.connect(dsn, options=f"-c search_path={name}")

    def sequential(i: int) -> None:
        p = params(i)
        with conn.cursor() as cur:
            for key in (*READS, *WRITES):
                cur.execute(STATEMENTS[key], p)
                if cur.description is not None:
                    cur.fetchall()
        conn.commit()

    def pipelined(i: int) -> None:
        p = params(i)
        cursors = [conn.cursor() for _ in READS]
        with conn.pipeline():  # the reads in one round trip (run in order by the server)
            for cur, key in zip(cursors, READS, strict=True):
                cur.execute(STATEMENTS[key], p)
        for cur in cursors:
            cur.fetchall()
            cur.close()
        with conn.pipeline(), conn.cursor() as cur:  # the writes and the commit in one
            for key in WRITES:
                cur.execute(STATEMENTS[key], p)
            conn.commit()

    return (pipelined if pipeline else sequential), conn.close


def measure(run: Callable[[int], None], times: int = TRANSACTIONS) -> tuple[float, float]:
    for i in range(100):
        run(i)
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(times):
        run(i)
    return ((time.perf_counter() - wall) / times * 1000, (time.process_time() - cpu) / times * 1000)


def record_row() -> tuple[Any, ...]:
    return (uuid.uuid4().hex, "15060220261126BENCH", "router", 2, "hall.v1.SubApprovalDecision",
            datetime.now(UTC), 1500, "", "0" * 64)


def backend_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def batch_inserts(dsn: str, name: str) -> None:
    print(f"a batch of {ROWS} rows of the audit trail's shape, inserted and committed, "
          f"{TRANSACTIONS // 10} times each, twice:")
    with psycopg.connect(dsn) as conn:
        conn.execute(f'SET search_path TO "{name}"')
        conn.commit()
        local = Path(f"/proc/{conn.info.backend_pid}/stat").exists()  # the server on this machine
        for _ in range(2):
            for label, insert in INSERT_WAYS.items():
                def run(_: int, insert: Callable[[Any, list[tuple[Any, ...]]], None] = insert) -> None:
                    insert(conn, [record_row() for _ in range(ROWS)])
                    conn.commit()

                before = backend_cpu_s(conn.info.backend_pid) if local else 0.0
                wall, cpu = measure(run, TRANSACTIONS // 10)
                backend = (f"   CPU of its backend {(backend_cpu_s(conn.info.backend_pid) - before) * 1000 / (TRANSACTIONS // 10 + 100):.3f} ms"
                           if local else "")
                print(f"  {label:17s} wall {wall:.3f} ms   CPU of this process {cpu:.3f} ms{backend}   per batch")


def main() -> None:
    with servers.postgres() as url, schema(url, "bench_driver") as name:
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{name}"')
            admin.execute(f'SET search_path TO "{name}"')
            admin.execute(TABLES)
            with admin.cursor() as cur:
                cur.executemany("INSERT INTO cases VALUES (%s, 1, 0, '{}', now())", [(f"C{i}",) for i in range(1000)])
                cur.executemany("INSERT INTO steps VALUES (%s, %s, 'pending', 0, '{}')",
                                [(f"C{i}", s) for i in range(1000) for s in ("a", "b", "c", "d")])
        ways = {"SQLAlchemy Core": lambda: with_sqlalchemy(url, name),
                "psycopg": lambda: with_psycopg(dsn, name, pipeline=False),
                "psycopg pipeline": lambda: with_psycopg(dsn, name, pipeline=True)}
        print(f"a router-shaped transaction (3 reads, 3 writes, commit), {TRANSACTIONS} times each, twice:")
        for _ in range(2):
            for label, make in ways.items():
                run, close = make()
                try:
                    wall, cpu = measure(run)
                finally:
                    close()
                print(f"  {label:17s} wall {wall:.3f} ms   CPU of this process {cpu:.3f} ms   per transaction")
        batch_inserts(dsn, name)


if __name__ == "__main__":
    main()

"""Least privilege on the broker: one RabbitMQ user per department, allowed only its own queue.

    python -m services.adapters.provision [--vhost /] [--departments business,quality] [--apply]
    python -m services.adapters.provision --definitions deploy/rabbitmq-users.json

Each department's user `hall-<code>` may:
  configure: nothing (the platform declares the layout; run adapters with ADAPTER_DECLARE=false)
  write:     the `hall` exchange only, and on it (topic permissions) only its own routing keys:
             decision.<code>, procedure.<code> and the audit records of its adapter and desk
             (audit.adapter-<code>, audit.desk-<code>): it cannot decide for another department
  read:      its own queue `hall.dept.<code>` only (and on `hall`, only step.<code>.* keys)
Passwords come from HALL_<CODE>_AMQP_PASSWORD, else are generated and printed once.
Without --apply the rabbitmqctl commands are printed for an operator to run.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

from services.adapters import registry
from services.runtime import topology


def departments() -> list[str]:
    return sorted(registry.codes())


def user(code: str, prefix: str = "hall-") -> str:
    return f"{prefix}{code}"


def permissions(code: str) -> tuple[str, str, str]:
    """(configure, write, read) regular expressions."""
    return "^$", f"^{re.escape(topology.EXCHANGE)}$", f"^{re.escape(topology.department_queue(code))}$"


def topic_permissions(code: str) -> tuple[str, str, str]:
    """(exchange, write, read) regular expressions over routing keys on the `hall` topic exchange."""
    dept = re.escape(code)
    write = (f"^({re.escape(topology.rk_decision(code))}|{re.escape(topology.rk_procedure(code))}"
             f"|audit\\.(adapter|desk)-{dept})$")
    return topology.EXCHANGE, write, f"^step\\.{dept}\\..+$"


def password(code: str) -> str:
    return os.environ.get(f"HALL_{code.upper()}_AMQP_PASSWORD") or secrets.token_urlsafe(24)


def commands(codes: list[str], vhost: str, passwords: dict[str, str], prefix: str = "hall-") -> list[list[str]]:
    out = []
    for code in codes:
        out.append(["rabbitmqctl", "add_user", user(code, prefix), passwords[code]])
        out.append(["rabbitmqctl", "set_permissions", "-p", vhost, user(code, prefix), *permissions(code)])
        out.append(["rabbitmqctl", "set_topic_permissions", "-p", vhost, user(code, prefix), *topic_permissions(code)])
    return out


def rabbit_hash(pw: str) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password))."""
    salt = secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + pw.encode()).digest()).decode()


def definitions(codes: list[str], vhost: str, passwords: dict[str, str]) -> dict[str, object]:
    return {
        "users": [{"name": user(c), "password_hash": rabbit_hash(passwords[c]),
                   "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": []} for c in codes],
        "permissions": [dict(zip(("configure", "write", "read"), permissions(c), strict=True),
                             user=user(c), vhost=vhost) for c in codes],
        "topic_permissions": [dict(zip(("exchange", "write", "read"), topic_permissions(c), strict=True),
                                   user=user(c), vhost=vhost) for c in codes],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.adapters.provision", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vhost", default="/")
    parser.add_argument("--departments", default=",".join(departments()))
    parser.add_argument("--apply", action="store_true", help="run rabbitmqctl (on the broker's host)")
    parser.add_argument("--definitions", type=Path, help="write a definitions file to import instead")
    args = parser.parse_args(argv)
    codes = [c for c in args.departments.split(",") if c]
    unknown = set(codes) - set(departments())
    if unknown:
        parser.error(f"no adapter for {', '.join(sorted(unknown))}")
    passwords = {c: password(c) for c in codes}
    if args.definitions:
        args.definitions.write_text(json.dumps(definitions(codes, args.vhost, passwords), indent=2))
        print(f"wrote {args.definitions}; passwords:", file=sys.stderr)
        for c in codes:
            print(f"  {user(c)} {passwords[c]}", file=sys.stderr)
        return 0
    for cmd in commands(codes, args.vhost, passwords):
        if args.apply:
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode and "already_exists" not in done.stderr and "already exists" not in done.stderr:
                print(done.stderr, file=sys.stderr)
                return done.returncode
            if cmd[1] == "add_user" and done.returncode:  # existing user: set the password we were given
                subprocess.run(["rabbitmqctl", "change_password", cmd[2], cmd[3]], check=True, capture_output=True)
        else:
            print(shlex.join(cmd))
    return 0


if __name__ == "__main__":
    sys.exit(main())

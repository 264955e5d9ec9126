"""Free TCP ports for the servers tests and benchmarks start.

A listening port must not lie in the kernel's ephemeral range (32768-60999 by default): every
outgoing connection (to RabbitMQ, PostgreSQL, between services) takes its local port from
there, and one that happens to hold the port makes the server's bind fail ("Address already in
use"). The suite's default gRPC ports (50051...) are in that range, and so is a port asked of
the kernel with bind(0), which the kernel is also quick to hand to the next connect(). So tests
and benchmarks take ports below the ephemeral range that are free now and not handed out before
by this process.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

from services.adapters import registry
from services.suite import PLATFORM

_LOWEST = 20000
_given: set[int] = set()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A port outside the ephemeral range that nothing listens on or is connected from now."""
    high = max(_LOWEST + 1000, _ephemeral_low())
    for _ in range(200):
        port = random.randrange(_LOWEST, high)
        if port in _given:
            continue
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
        _given.add(port)
        return port
    raise RuntimeError(f"no free TCP port found in {_LOWEST}-{high}")


def suite_ports() -> dict[str, str]:
    """`HALL_<SERVICE>_PORT`, `HALL_DESK_<DEPT>_PORT` and `HALL_WEB_PORT` settings, each a free port."""
    env = {f"HALL_{name.upper()}_PORT": str(free_port()) for name in PLATFORM}
    env.update({f"HALL_DESK_{entry.code.upper()}_PORT": str(free_port()) for entry in registry.entries()})
    env["HALL_WEB_PORT"] = str(free_port())
    return env

"""CPU priority of a process: the record keepers and watchers (audit, supervision) yield the CPU
to the case's path.

On a machine where the whole suite shares the cores (`make run`, the benchmarks, a small hall on
one node), a status event wakes intake, audit and supervision at the moment the next adapter
and the router need a core. The audit trail and the cards may lag a few milliseconds; the
applicant's case should not (fees is on its path: the case waits for its payment). `CPU_NICE`
(0-19) lowers this process's priority by that many steps; the suite starts audit and supervision
at `HALL_OFF_PATH_NICE` (10).

In Kubernetes the kernel shares a contended node by the pods' CPU requests, not by nice values
across containers: deploy/k8s gives audit and supervision half the request of the case's
services.
"""

from __future__ import annotations

import os


def lower(steps: int) -> None:
    """Lower this process's CPU priority by `steps` (0: unchanged). Call it before the process
    starts threads: on Linux the nice value is per thread, and a new thread inherits its
    creator's."""
    if steps > 0:
        os.nice(steps)

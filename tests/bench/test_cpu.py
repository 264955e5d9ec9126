"""The bench's CPU accounting: a process that has exited still counts (PostgreSQL's backends)."""

import os
import subprocess
import sys

import pytest

from bench.cpu import cpu_ticks

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc")


def test_a_child_that_has_exited_counts_in_its_parent_when_asked():
    me = os.getpid()
    before, before_reaped = cpu_ticks(me), cpu_ticks(me, reaped=True)
    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    subprocess.run([sys.executable, "-c", burn], check=True)  # waited for: reaped by this process
    tick = os.sysconf("SC_CLK_TCK")
    children = (cpu_ticks(me, reaped=True) - before_reaped) - (cpu_ticks(me) - before)
    assert children >= 0.25 * tick  # the child's 0.3 s of CPU, give or take a tick

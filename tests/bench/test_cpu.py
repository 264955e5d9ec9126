"""The bench's CPU accounting: a process that has exited still counts (PostgreSQL's backends);
a meter counts the processes it is given and leaves out what it is told."""

import os
import subprocess
import sys
import time

import pytest

from bench.cpu import CpuMeter, cores, cpu_ticks

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc")


def test_a_child_that_has_exited_counts_in_its_parent_when_asked():
    me = os.getpid()
    before, before_reaped = cpu_ticks(me), cpu_ticks(me, reaped=True)
    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    subprocess.run([sys.executable, "-c", burn], check=True)  # waited for: reaped by this process
    tick = os.sysconf("SC_CLK_TCK")
    children = (cpu_ticks(me, reaped=True) - before_reaped) - (cpu_ticks(me) - before)
    assert children >= 0.25 * tick  # the child's 0.3 s of CPU, give or take a tick


def test_a_meter_counts_a_process_of_its_own_and_leaves_out_what_it_is_told():
    meter = CpuMeter({"me": [os.getpid()]})
    end = time.process_time() + 0.3
    while time.process_time() < end:
        pass
    per = meter.per(10, without=("postgres",))
    assert "postgres" not in per
    assert per["me"] >= 25  # 300 ms of CPU over 10 bundles, give or take a tick
    assert per["all"] == round(sum(v for k, v in per.items() if k != "all"), 1)
    assert cores(25.0, 80.0) == 2.0

"""CPU_NICE: a process lowered before it starts threads runs every later thread at that priority,
and the suite lowers the record keepers (audit, supervision) and the web pages only (fees is on the
case's path: a case waits for its payment)."""

import os
import subprocess
import sys
import textwrap

from services import suite

ROOT = suite.ROOT


def test_threads_started_after_lowering_inherit_the_priority():
    program = textwrap.dedent("""
        import os, threading
        from services.runtime import priority
        before = os.getpriority(os.PRIO_PROCESS, 0)
        priority.lower(3)
        seen = []
        t = threading.Thread(target=lambda: seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
        t.start(); t.join()
        print(before, os.getpriority(os.PRIO_PROCESS, 0), seen[0])
    """)
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}"}).stdout.split()
    before, main, thread = map(int, out)
    assert main == min(before + 3, 19) and thread == main


def test_lowering_by_nothing_changes_nothing():
    before = os.getpriority(os.PRIO_PROCESS, 0)
    from services.runtime import priority

    priority.lower(0)
    assert os.getpriority(os.PRIO_PROCESS, 0) == before


def test_the_suite_lowers_the_off_path_services_only():
    env = {k: v for k, v in os.environ.items() if k not in ("CPU_NICE", "HALL_OFF_PATH_NICE")}
    nice = {c.name: c.env.get("CPU_NICE") for c in suite.plan(env)}
    assert nice["audit"] == nice["supervision"] == nice["web"] == "10"
    assert {name for name, value in nice.items() if value} == {"audit", "supervision", "web"}
    off = {c.name: c.env.get("CPU_NICE") for c in suite.plan({**env, "HALL_OFF_PATH_NICE": "0"})}
    assert off["audit"] == off["supervision"] == off["web"] == "0"

"""The terminal of `make run` is for people: one readable line per warning, error, start and stop;
the rest stays in each process's log file."""

import json

from services.suite import readable


def line(**record):
    return json.dumps({"timestamp": "2026-12-03T10:11:12.345Z", "level": "info", **record}, ensure_ascii=False)


def test_warnings_and_starts_are_shown_readably_and_the_chatter_is_not():
    shown = readable("router", line(level="warning", event="broker not reachable; serving gRPC, consumers wait",
                                    waited_s=5, case_id="C1"))
    assert shown == ("                 router 18:11:12 warning broker not reachable; serving gRPC, consumers wait"
                     "  waited_s=5 case_id=C1")  # 10:11 UTC is 18:11 in Shanghai
    assert str(readable("intake", line(event="started", grpc_port=50051))).endswith("info    started  grpc_port=50051")
    assert readable("router", line(event="case planned", steps=["licence"])) is None
    assert readable("router", line(event="case planned"), verbose=True) is not None


def test_a_line_that_is_not_json_is_shown_as_it_is():
    assert readable("adapter-quality", "Traceback (most recent call last):\n") == \
        "        adapter-quality | Traceback (most recent call last):"


def test_a_second_make_run_says_one_is_running_and_exits_non_zero(tmp_path):
    """The lock is the running suite's (held by another process here); the second start stops
    at once with one line, before it starts anything."""
    import os
    import subprocess
    import sys
    import time

    lock = tmp_path / "suite.lock"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from services.suite import single_instance; "
        f"held = single_instance(Path({str(lock)!r})); print('held', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        second = subprocess.run([sys.executable, "-m", "services.suite"], capture_output=True, text=True,
                                env={**os.environ, "HALL_RUN_LOCK": str(lock)}, timeout=60)
        assert second.returncode == 1
        assert f"make run is already running here (process {holder.pid})" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    from services.suite import single_instance

    single_instance(lock).close()  # free again once its holder is gone

"""The audit spool: call records on local disk until the broker has them; a dead process's records
are adopted by the next process of its service, a live one's never."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hall.v1 import audit_pb2
from services.runtime.audit_spool import AuditSpool, open_spool
from services.runtime.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def rec(i: int) -> audit_pb2.CallRecord:
    return audit_pb2.CallRecord(record_id=f"r{i}", service="intake", operation="op", case_id=f"C{i}")


def spool_all(spool: AuditSpool, records: list[audit_pb2.CallRecord]) -> list[int]:
    return [spool.append(r, lambda segment: segment) for r in records]


def segments(directory: Path) -> list[str]:
    """The spool's files; a spool closed with everything sent removes its directory too."""
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


@pytest.fixture
def spool_dir(tmp_path):
    return tmp_path / "spool"


def test_a_clean_stop_after_everything_was_sent_leaves_nothing(spool_dir):
    spool = AuditSpool(spool_dir, "intake")
    spool_all(spool, [rec(i) for i in range(3)])
    assert len(segments(spool_dir)) == 1
    spool.close(all_sent=True)
    assert segments(spool_dir) == []


def test_records_of_a_spool_closed_unsent_are_adopted_once(spool_dir):
    first = AuditSpool(spool_dir, "intake")
    spool_all(first, [rec(i) for i in range(3)])
    first.close(all_sent=False)
    other_service = AuditSpool(spool_dir, "fees")
    assert other_service.adopt() == []  # another service's records are not its to send
    second = AuditSpool(spool_dir, "intake")
    assert [r.record_id for r in second.adopt()] == ["r0", "r1", "r2"]
    assert second.adopt() == []
    other_service.close(all_sent=True)
    second.close(all_sent=True)
    assert segments(spool_dir) == []


def test_a_live_processs_spool_is_never_adopted(spool_dir):
    """The other spool lives in another process (flock locks are per open file, and the test
    process would otherwise hold both)."""
    script = textwrap.dedent(f"""
        import sys, time
        from hall.v1 import audit_pb2
        from services.runtime.audit_spool import AuditSpool
        spool = AuditSpool({str(spool_dir)!r}, "intake")
        spool.append(audit_pb2.CallRecord(record_id="live"), lambda s: s)
        print("ready", flush=True)
        sys.stdin.readline()
    """)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}"}
    live = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert live.stdout is not None and live.stdout.readline().strip() == "ready"
        other = AuditSpool(spool_dir, "intake")
        assert other.adopt() == []
        live.kill()  # dies without a word: its lock goes with it, its file stays
        live.wait(10)
        assert [r.record_id for r in other.adopt()] == ["live"]
        other.close(all_sent=True)
    finally:
        if live.poll() is None:
            live.kill()
    assert segments(spool_dir) == []


def test_segments_before_the_last_confirmed_record_are_deleted(spool_dir):
    spool = AuditSpool(spool_dir, "intake", segment_bytes=40)  # a segment holds about two records
    numbers = spool_all(spool, [rec(i) for i in range(8)])
    assert numbers == sorted(numbers) and numbers[-1] >= 3
    assert len(segments(spool_dir)) == numbers[-1]
    spool.sent(numbers[4])
    assert len(segments(spool_dir)) == numbers[-1] - numbers[4] + 1
    spool.close(all_sent=False)
    adopted = AuditSpool(spool_dir, "intake").adopt()
    # what was not confirmed is still there (an earlier record of the same segment may come too)
    assert {r.record_id for r in adopted} >= {f"r{i}" for i in range(5, 8)}


def test_a_torn_last_record_is_skipped(spool_dir):
    spool = AuditSpool(spool_dir, "intake")
    spool_all(spool, [rec(1), rec(2)])
    spool.close(all_sent=False)
    (path,) = spool_dir.iterdir()
    path.write_bytes(path.read_bytes()[:-3])  # killed in the middle of writing r2
    assert [r.record_id for r in AuditSpool(spool_dir, "intake").adopt()] == ["r1"]


def test_no_directory_means_memory_only_and_an_unusable_one_stops_the_process(tmp_path):
    assert open_spool("", "intake") is None
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigError, match="AUDIT_SPOOL_DIR"):
        open_spool(str(blocker / "spool"), "intake")

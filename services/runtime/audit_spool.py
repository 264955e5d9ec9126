"""Call records on local disk until the broker has confirmed them: a process killed with -9 loses
none of the records it had not sent yet.

Each record is appended (length-prefixed) to the process's current segment file as it is queued
for sending: one write() call, which lands in the page cache, so it outlives the process (not the
machine: Kubernetes keeps /tmp, an emptyDir, across a container's restarts). Once the broker has
confirmed a record of a later segment, every earlier segment is deleted; a clean stop deletes
them all. A process holds an exclusive lock (flock) on its segments while it lives. At start, a
process adopts the segments of its service that no live process holds (left by one that died):
their records are spooled again as its own and sent. Some of them may have reached the broker
before the crash; the audit store keeps a record once (by record id), so none is stored twice.

Nothing here imports eventlet or grpc: the platform processes' emitter and the adapters' green
batcher both use it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import struct
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import structlog

from hall.v1 import audit_pb2
from services.runtime.config import ConfigError

log = structlog.get_logger(__name__)
_LENGTH = struct.Struct(">I")
T = TypeVar("T")


def open_spool(directory: str, service: str) -> AuditSpool | None:
    """The spool of `service` in `directory` (None when "": records are kept in memory only).
    A directory the process cannot write is a configuration error: it must not start."""
    if not directory:
        return None
    try:
        return AuditSpool(directory, service)
    except OSError as exc:
        raise ConfigError(f"AUDIT_SPOOL_DIR={directory!r}: cannot spool audit records there: {exc}") from None


class AuditSpool:
    def __init__(self, directory: str | Path, service: str, *, segment_bytes: int = 256 * 1024) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", service):
            raise ValueError(f"service name {service!r} cannot name a spool file")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._service = service
        self._segment_bytes = segment_bytes
        self._token = f"{os.getpid()}.{uuid.uuid4().hex[:8]}"
        self._lock = threading.Lock()
        self._segments: dict[int, tuple[Path, int]] = {}  # own segments: number -> (path, fd holding the lock)
        self._number = 0
        self._size = 0
        self._closed = False
        self._open_segment()

    # ---- writing ---------------------------------------------------------------------------------
    def append(self, record: audit_pb2.CallRecord, enqueue: Callable[[int], T]) -> T:
        """Write `record` to the current segment, then `enqueue(segment number)` under the same
        lock, so records reach the send queue in the order of the files (what `sent` relies on)."""
        data = record.SerializeToString()
        with self._lock:
            if self._closed:
                return enqueue(0)  # recorded while stopping: sent if it can be, not spooled
            if self._size >= self._segment_bytes:
                self._open_segment()
            path, fd = self._segments[self._number]
            os.write(fd, _LENGTH.pack(len(data)) + data)
            self._size += _LENGTH.size + len(data)
            return enqueue(self._number)

    def sent(self, segment: int) -> None:
        """The broker confirmed a record of `segment` and everything queued before it: earlier
        segments hold nothing unsent any more."""
        with self._lock:
            for number in [n for n in self._segments if n < segment]:
                self._drop(number)

    def close(self, *, all_sent: bool) -> None:
        """Stop spooling. With `all_sent` the segments are deleted; otherwise they stay (unlocked)
        for the next process of this service to adopt."""
        with self._lock:
            self._closed = True
            for number in list(self._segments):
                if all_sent:
                    self._drop(number)
                else:
                    os.close(self._segments.pop(number)[1])
        if all_sent:
            with contextlib.suppress(OSError):  # the last one out tidies up (not empty: left as it is)
                self.directory.rmdir()

    # ---- adopting ---------------------------------------------------------------------------------
    def adopt(self) -> list[audit_pb2.CallRecord]:
        """The records of this service's segments that no live process holds, read, then removed.
        The caller spools them again as its own (`append`) before anything else happens."""
        own = {path for path, _ in self._segments.values()}
        adopted: list[audit_pb2.CallRecord] = []
        for path in sorted(self.directory.glob(f"{self._service}.*.spool")):
            if path in own:
                continue
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue  # adopted meanwhile by another process
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live process writes it
                if os.fstat(fd).st_nlink == 0:
                    continue  # another process adopted it while we waited to open it
                records = _read(fd, path)
                adopted.extend(records)
                os.unlink(path)
            finally:
                os.close(fd)
            log.warning("adopted audit records left by a stopped process", segment=path.name, records=len(records))
        return adopted

    # ---- files ------------------------------------------------------------------------------------
    def _open_segment(self) -> None:
        """A new segment, locked before it gets the name adopters look for (no one adopts it empty)."""
        self._number += 1
        final = self.directory / f"{self._service}.{self._token}.{self._number:06d}.spool"
        hidden = self.directory / f".{final.name}.new"
        fd = os.open(hidden, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(hidden, final)
        self._segments[self._number] = (final, fd)
        self._size = 0

    def _drop(self, number: int) -> None:
        path, fd = self._segments.pop(number)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)


def _read(fd: int, path: Path) -> list[audit_pb2.CallRecord]:
    """The records of a segment; a torn last record (the writer killed mid-write) is skipped."""
    with os.fdopen(os.dup(fd), "rb") as f:
        data = f.read()
    records, at = [], 0
    while at + _LENGTH.size <= len(data):
        (size,) = _LENGTH.unpack_from(data, at)
        body = data[at + _LENGTH.size: at + _LENGTH.size + size]
        if len(body) < size:
            log.warning("audit spool ends in a torn record; skipped", segment=path.name)
            break
        records.append(audit_pb2.CallRecord.FromString(body))
        at += _LENGTH.size + size
    return records

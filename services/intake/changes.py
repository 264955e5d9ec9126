"""Waking the watchers of an application when any intake replica records a change to it.

Every replica consumes the status queue with the others, so the replica serving a watch is often
not the one that records the change. The one that records it announces the applications it
changed with PostgreSQL's NOTIFY, sent when its transaction commits; every replica LISTENs and
wakes its own watchers of those applications. (Polling instead, each watcher reading the database
every half second in case another replica had recorded something, kept an idle intake and its
database busy with nothing to report.) A watcher still reads the database now and then
(`INTAKE_WATCH_POLL_SECONDS`), in case a notification was lost while the listener reconnected;
after reconnecting the listener wakes every watcher once for the same reason. With SQLite (one
process, development) the process wakes its own watchers and there is nothing to listen to.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import structlog
from sqlalchemy import Engine

log = structlog.get_logger(__name__)

# A NOTIFY payload holds at most 8000 bytes: application ids (32 characters) go in chunks.
_IDS_PER_NOTIFY = 200


class Changes:
    """Versions of the applications being watched in this process; a watcher waits for its
    application's version to move. Only watched applications are tracked."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._versions: dict[str, int] = {}
        self._watchers: collections.Counter[str] = collections.Counter()
        self._epoch = 0  # moves when every watcher should look again

    @contextmanager
    def watching(self, application_id: str) -> Iterator[None]:
        with self._cond:
            self._watchers[application_id] += 1
        try:
            yield
        finally:
            with self._cond:
                self._watchers[application_id] -= 1
                if not self._watchers[application_id]:
                    del self._watchers[application_id]
                    self._versions.pop(application_id, None)

    def version(self, application_id: str) -> tuple[int, int]:
        with self._cond:
            return self._epoch, self._versions.get(application_id, 0)

    def wait(self, application_id: str, seen: tuple[int, int], timeout: float,
             ended: threading.Event | None = None) -> None:
        """Until the application changes after `seen`, `ended` is set through `end()`, or `timeout`."""
        with self._cond:
            self._cond.wait_for(lambda: (self._epoch, self._versions.get(application_id, 0)) != seen
                                or (ended is not None and ended.is_set()), timeout)

    def end(self, ended: threading.Event) -> None:
        """Set `ended` and wake the watcher waiting with it."""
        with self._cond:
            ended.set()
            self._cond.notify_all()

    def changed(self, application_ids: Iterable[str] | None) -> None:
        """These applications changed (None: any may have); wake their watchers."""
        with self._cond:
            if application_ids is None:
                self._epoch += 1
            else:
                for application_id in application_ids:
                    if application_id in self._watchers:
                        self._versions[application_id] = self._versions.get(application_id, 0) + 1
            self._cond.notify_all()


def channel(schema: str | None) -> str:
    """The notification channel of one intake database schema (channels are per database;
    PostgreSQL names are at most 63 bytes)."""
    return f"intake_changes_{schema or 'public'}"[:63]


def announce(conn: psycopg.Connection[Any], channel_name: str, application_ids: list[str]) -> None:
    """NOTIFY the listeners that these applications changed, when the caller's transaction commits.
    `conn` is the psycopg connection of that transaction (what `db.pipelined` gives): the
    notifications can then travel in its pipeline."""
    for i in range(0, len(application_ids), _IDS_PER_NOTIFY):
        conn.execute("SELECT pg_notify(%s, %s)", (channel_name, ",".join(application_ids[i:i + _IDS_PER_NOTIFY])))


class ChangeListener(threading.Thread):
    """LISTENs on the channel on a connection of its own and hands what it hears to `changes`."""

    def __init__(self, engine: Engine, channel_name: str, changes: Changes) -> None:
        super().__init__(name="intake-changes", daemon=True)
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._channel = channel_name
        self._changes = changes
        self._stopping = threading.Event()
        self.listening = threading.Event()

    def run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute(f'LISTEN "{self._channel}"')
                    self.listening.set()
                    self._changes.changed(None)  # what was announced while no one listened
                    backoff = 0.5
                    while not self._stopping.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self._changes.changed(note.payload.split(","))
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning("change listener lost its connection; reconnecting", error=repr(exc), wait_s=backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def stop(self) -> None:
        self._stopping.set()
        self.join(5)

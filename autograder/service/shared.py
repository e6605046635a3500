"""Per-student limits shared by the processes of ``nngrade serve --processes N``.

Every server process answers any student (the kernel hands each new
connection to whichever process accepts it), so a per-process token bucket
would give a student ``N`` times the rate and ``N`` checks in flight.  The
state lives instead in one small SQLite file (WAL, on ``/dev/shm`` when
there is one), every update one ``BEGIN IMMEDIATE`` transaction — a
write lock across processes, a fraction of a millisecond:

* :meth:`SharedState.take` — the token bucket of
  :class:`~autograder.service.limits.RateLimiter`, the same formula: with
  ``b`` tokens at time ``t₀``, at ``t`` the student has
  ``min(burst, b + (t − t₀)·rate)``; a check takes one, or waits
  ``(1 − b)/rate``.  Times are ``CLOCK_MONOTONIC``, one clock for every
  process of the machine.
* :meth:`SharedState.enter` / :meth:`SharedState.leave` — one check in
  flight per student.  A row names the process holding it; a row whose
  process has died (a crashed server process, restarted by the parent) or
  older than ``stale_after`` seconds no longer blocks the student.

:class:`LocalState` is the same interface in memory (one process: the
default and the tests' in-thread servers).
"""
from __future__ import annotations

import os
import sqlite3
import tempfile
import threading
import time

from ..submissions import pid_alive
from .limits import take_token

__all__ = ["LocalState", "SharedState", "state_file"]


class LocalState:
    """In-memory per-student limits (one server process)."""

    def __init__(self, rate):
        self.rate = rate                      # a limits.RateLimiter
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()

    def take(self, student: str) -> float:
        return self.rate.take(student)

    def enter(self, student: str) -> bool:
        with self._lock:
            if student in self._in_flight:
                return False
            self._in_flight.add(student)
            return True

    def leave(self, student: str) -> None:
        with self._lock:
            self._in_flight.discard(student)


def state_file() -> str:
    """A fresh path for a :class:`SharedState` (tmpfs when available)."""
    folder = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    fd, path = tempfile.mkstemp(prefix="nngrade-serve-", suffix=".sqlite", dir=folder)
    os.close(fd)
    return path


class SharedState:
    """Per-student limits in the SQLite file ``path``, shared by processes.
    Open it in each process after the fork (a connection is per process
    and, here, per thread)."""

    def __init__(self, path: str, per_minute: float, burst: int, stale_after: float = 300.0,
                 clock=time.monotonic):
        self.path, self.rate = path, per_minute / 60.0
        self.burst, self.stale_after, self.clock = max(1, int(burst)), stale_after, clock
        self._local = threading.local()
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS bucket (student TEXT PRIMARY KEY, "
                       "tokens REAL NOT NULL, at REAL NOT NULL)")
            db.execute("CREATE TABLE IF NOT EXISTS flight (student TEXT PRIMARY KEY, "
                       "pid INTEGER NOT NULL, since REAL NOT NULL)")

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None or getattr(self._local, "pid", None) != os.getpid():
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=OFF")
            self._local.db, self._local.pid = db, os.getpid()
        return db

    def _transaction(self, work):
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            out = work(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return out

    def take(self, student: str) -> float:
        """Take a token: 0.0 if granted, else seconds to wait."""
        def work(db):
            now = self.clock()
            row = db.execute("SELECT tokens, at FROM bucket WHERE student = ?",
                             (student,)).fetchone()
            tokens, last = row if row else (float(self.burst), now)
            tokens, wait = take_token(tokens, last, now, self.rate, self.burst)
            db.execute("INSERT OR REPLACE INTO bucket VALUES (?, ?, ?)", (student, tokens, now))
            return wait
        return self._transaction(work)

    def enter(self, student: str) -> bool:
        """Mark a check of ``student`` in flight; ``False`` if one already is."""
        def work(db):
            now = self.clock()
            row = db.execute("SELECT pid, since FROM flight WHERE student = ?",
                             (student,)).fetchone()
            if row and (row[0] == os.getpid() or pid_alive(row[0])) and now - row[1] < self.stale_after:
                return False
            db.execute("INSERT OR REPLACE INTO flight VALUES (?, ?, ?)",
                       (student, os.getpid(), now))
            return True
        return self._transaction(work)

    def leave(self, student: str) -> None:
        self._transaction(lambda db: db.execute(
            "DELETE FROM flight WHERE student = ? AND pid = ?", (student, os.getpid())))


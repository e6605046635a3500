"""Warm formula workers: :func:`autograder.formula.check_formula` without a
fork and a cold SymPy per check.

By default every formula check reads and judges the answer in a freshly
forked child killed at its time limit.  That is safe but each child starts
with cold SymPy caches and is thrown away with everything it learnt (about
50 ms of a 60 ms check), and forking a big, many-threaded server costs
more.  A :class:`FormulaPool` (``use_workers(n)``; the check service turns it
on) keeps ``n`` worker processes that have imported SymPy and stay warm; a
check is sent to an idle one and gets the same steps back
(:func:`autograder.formula._steps`), under the **same hard time limit**: a
worker that has not finished at the deadline is killed (SIGKILL) and a fresh
one started in its place, so a hostile formula costs its own check only.

Safety is unchanged: workers run only the toolkit's own parser and judge
(formulas are never eval'ed), under the same address-space cap as the forked
child; requests go to them pickled from the trusted parent, and what comes
back is JSON lines, never a pickle.  When no worker is idle (or a job cannot
be pickled: a question-defined function that is a lambda), the check falls
back to the forked child, so a pool never makes a check wait in a queue.
"""
from __future__ import annotations

import json
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

__all__ = ["FormulaPool", "use_workers", "active_pool"]

_ROOT = str(Path(__file__).resolve().parents[1])
_END = b'["end"]'
#: a worker is replaced after this many checks (SymPy's caches are bounded,
#: but a long-lived process collects other garbage)
RECYCLE_AFTER = 2000


class _Worker:
    def __init__(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen([sys.executable, "-m", "autograder.formula_pool"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env, cwd=_ROOT)
        self.used = 0
        self.buf = b""

    def ready(self, deadline: float) -> bool:
        """Wait (until ``deadline``) for the worker's greeting."""
        return self._line(deadline) == b'["ready"]'

    def _line(self, deadline: float) -> bytes | None:
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def run(self, payload: bytes, deadline: float) -> tuple[list[tuple], bool]:
        """``(items, finished)``: what the job yielded before ``deadline``,
        and whether it ended (else the worker must be killed)."""
        self.used += 1
        try:
            self.proc.stdin.write(struct.pack(">I", len(payload)) + payload)
            self.proc.stdin.flush()
        except OSError:
            return [], False
        items = []
        while True:
            line = self._line(deadline)
            if line is None:
                return items, False
            if line == _END:
                return items, True
            items.append(tuple(json.loads(line)))

    def kill(self) -> None:
        try:
            self.proc.kill()
        except OSError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


class FormulaPool:
    """Up to ``size`` warm workers (see the module docstring)."""

    def __init__(self, size: int):
        self.size = max(1, int(size))
        self._idle: list[_Worker] = []
        self._starting = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._closed = False
        self.started = 0                      # workers started (tests, benchmarks)
        self.killed = 0                       # workers killed at a deadline
        self.served = 0                       # jobs a worker finished

    def warm(self, wait: float = 0.0) -> None:
        """Start workers up to ``size`` (in the background); wait up to
        ``wait`` seconds for them to be ready."""
        with self._lock:
            missing = self.size - len(self._idle) - self._starting
            self._starting += max(0, missing)
        for _ in range(missing):
            threading.Thread(target=self._start_one, daemon=True).start()
        end = time.monotonic() + wait
        with self._changed:                    # also those another call started
            while self._starting and (left := end - time.monotonic()) > 0:
                self._changed.wait(left)

    def _start_one(self) -> None:
        w = None
        try:
            w = _Worker()
            ok = w.ready(time.monotonic() + 120)
        except OSError:
            ok = False
        with self._lock:
            self._starting -= 1
            self._changed.notify_all()
            if ok and not self._closed:
                self._idle.append(w)
                self.started += 1
                return
        if w is not None:
            w.kill()

    def run(self, job: tuple, deadline: float) -> list[tuple] | None:
        """The items of ``job`` (``formula._steps``' arguments) judged by a
        warm worker within ``deadline`` (``time.monotonic()``); ``None``
        when no worker is idle or the job cannot be sent (the caller then
        forks as before)."""
        try:
            payload = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 — e.g. a question's function is a lambda
            return None
        with self._lock:
            worker = self._idle.pop() if self._idle else None
        if worker is None:
            self.warm()                        # replace what was killed, in the background
            return None
        items, finished = worker.run(payload, deadline)
        if finished and worker.used < RECYCLE_AFTER and worker.proc.poll() is None:
            with self._lock:
                self.served += 1
                if not self._closed:
                    self._idle.append(worker)
                    return items
        worker.kill()                          # past its deadline (or spent): never reused
        with self._lock:
            self.killed += not finished
        self.warm()
        return items

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for w in idle:
            w.kill()


_POOL: FormulaPool | None = None


def use_workers(n: int, wait: float = 0.0) -> FormulaPool | None:
    """Judge formulas in ``n`` warm workers from now on in this process
    (``n = 0``: fork per check again, the default).  Returns the pool."""
    global _POOL
    old, _POOL = _POOL, (FormulaPool(n) if n > 0 else None)
    if old is not None:
        old.close()
    if _POOL is not None:
        _POOL.warm(wait)
    return _POOL


def active_pool() -> FormulaPool | None:
    return _POOL


#: judged once by a new worker before it says it is ready (SymPy's lazy
#: imports and caches: a cold first check costs ~100 ms)
_WARM_UP = (("sigmoid(x)(1-sigmoid(x))", "exp(-x)/(1+exp(-x))^2"), ("2x y^2", "2*x*y**2"),
            ("relu(x) + 1/", "x"), ("where(x > 0, 1, 0)", "heaviside(x)"), ("log(x)", "x"))


def _warm_up(formula) -> None:
    for answer, reference in _WARM_UP:
        try:
            table = formula._symbol_table(["x", "y"])
            fns = formula._function_table(None)
            names, defined = formula._definitions(None, table, fns)
            b = formula._read(reference, names, fns, defined)
            list(formula._steps(answer, b, table, fns, names, defined, {}, 20, 1e-8, 0))
        except Exception:  # noqa: BLE001 — warming is best effort
            pass


def _serve() -> None:
    """A worker's loop: length-prefixed pickled jobs in, JSON lines out."""
    from . import formula
    formula._limit_memory()
    _warm_up(formula)
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    out.write(b'["ready"]\n')
    out.flush()
    while True:
        head = inp.read(4)
        if len(head) < 4:
            return
        job = pickle.loads(inp.read(struct.unpack(">I", head)[0]))  # from the trusted parent
        try:
            for item in formula._steps(*job):
                out.write(json.dumps(item).encode() + b"\n")
                out.flush()
        except Exception:  # noqa: BLE001 — nothing more from this job
            pass
        out.write(_END + b"\n")
        out.flush()


if __name__ == "__main__":
    _serve()

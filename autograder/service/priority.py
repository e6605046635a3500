"""CPU priority of the check service's work: cheap checks keep the cores.

A function check costs ~50 ms of CPU in the sandbox and ~10 ms in the
server; a numeric or formula check ~3 ms.  In a burst (a class pressing
*check* at once) the function checks alone need ``200 × 60 ms / 2 cores ≈
6 s``; at the same priority every numeric check waits behind that share.
So function checks run at a lower priority (``Limits.fn_nice``, a nice
value, default 10: about a tenth of the weight of a nice-0 task):

* the threads of the function-check pool lower their own priority
  (Linux's nice is per thread), so their server-side work (sending the
  cells, judging the replayed calls) yields the GIL and the cores to the
  numeric and formula threads more often;
* the sandbox zygote is started from such a thread, so it and every
  supervisor and child it forks inherit the nice value (and the
  sandbox gives a run's new session the same value,
  ``autograder.sandbox._zygote._keep_nice``).

Nothing is throttled: with no cheap check waiting, function checks get
the whole machine.  Raising a nice value needs no privilege; it is never
lowered again.
"""
from __future__ import annotations

import logging
import os
import threading

__all__ = ["lower_this_thread", "start_sandbox", "thread_nice"]

log = logging.getLogger("nngrade.serve")


def thread_nice() -> int:
    """The calling thread's nice value (Linux: per thread)."""
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def lower_this_thread(nice: int) -> None:
    """Raise the calling thread's nice value to at least ``nice`` (0..19)."""
    nice = max(0, min(19, int(nice)))
    try:
        tid = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except (OSError, AttributeError):          # not Linux: priorities stay as they are
        pass


def start_sandbox(fn_pool):
    """Start the sandbox zygote now, in the background, on a thread of
    ``fn_pool`` (the function-check pool: its threads are long-lived and
    niced — the zygote dies with the *thread* that started it, its
    parent-death signal): the first function check then finds it warm."""
    def run():
        try:
            from ..sandbox import zygote_info
            zygote_info()
        except Exception:  # noqa: BLE001 — the first function check reports it
            log.exception("the sandbox zygote did not start")
    return fn_pool.submit(run)

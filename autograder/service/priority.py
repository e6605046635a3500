"""CPU priority of the check service's work: cheap checks keep the cores.

A function check costs ~30–50 ms of CPU in the sandbox (the supervisor's
fork and namespaces, the child's set-up and the student's code) and
~5–10 ms in the server; a numeric or formula check ~3 ms.  In a burst (a
class pressing *check* at once) the function checks alone need about
``200 × 50 ms / 2 cores ≈ 5 s``; at the same priority the sandboxed
processes would take their share of the cores from the numeric and
formula checks all that time.  So the sandbox runs at a lower priority
(``Limits.fn_nice``, a nice value, default 10: about a tenth of the
weight of a nice-0 task):

* :func:`nice_sandbox` raises the nice value of this process's sandbox
  zygote (started if need be, as the first function check would), so
  every supervisor and child it forks from then on inherits it, and the
  sandbox gives each run's new session the same value
  (``autograder.sandbox.zygote._keep_nice``: under Linux's autogroups a
  new session would otherwise get a full share again);
* the server calls it before every function check (a zygote that died and
  was restarted is niced again) — a system call, microseconds.

The server's own threads are *not* niced: a low-priority thread holding
the GIL would make the numeric threads wait for it (priority inversion).
Nothing is throttled: with no cheap check waiting, function checks get
the whole machine.  Raising a nice value needs no privilege.
"""
from __future__ import annotations

import logging
import os

__all__ = ["nice_sandbox", "start_sandbox"]

log = logging.getLogger("nngrade.serve")


def nice_sandbox(nice: int) -> int | None:
    """Raise this process's sandbox zygote to nice ``nice`` (0..19, never
    lowered); returns its pid (``None`` if it could not start)."""
    from ..sandbox import zygote_info
    pid = zygote_info().get("pid")
    if not isinstance(pid, int):
        return None
    try:
        if os.getpriority(os.PRIO_PROCESS, pid) < nice:
            os.setpriority(os.PRIO_PROCESS, pid, max(0, min(19, int(nice))))
    except OSError:                     # gone (restarted at the next check) or not ours
        pass
    return pid


def start_sandbox(fn_pool, nice: int):
    """Start the sandbox zygote now, in the background, niced, on a thread
    of ``fn_pool`` (the function-check pool, whose threads live as long as
    the server: the zygote dies with the *thread* that started it, its
    parent-death signal); the first function check then finds it warm."""
    def run():
        try:
            return nice_sandbox(nice)
        except Exception:  # noqa: BLE001 — the first function check reports it
            log.exception("the sandbox zygote did not start")
    return fn_pool.submit(run)

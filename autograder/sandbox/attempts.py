"""The attempts of one run.  :func:`run_attempts` repeats the run
without the cell or function part the last attempt lost (a crash, a
timeout, a broken protocol) until one finishes or twice the wall limit is
spent; :func:`run_attempt` is one attempt: hand the zygote the request (a
sealed memfd) and the pipes, read the child's frames and the supervisor's
report until the deadline; :func:`cause` says why an attempt that did not
finish ended."""
from __future__ import annotations

import fcntl
import os
import select
import signal
import time
from dataclasses import dataclass, field

from .child import wire
from .client import get_zygote, shutdown
from .frames import digest
from .outcome import AttemptDigest, SandboxError

__all__ = ["Attempt", "AttemptLog", "run_attempts", "run_attempt", "cause", "apply_cells"]

_ERR = 500


@dataclass
class Attempt:
    """What one attempt brought back, unread: the child's frames, the
    supervisor's exit report, a fatal setup error, whether the frames broke
    the wire format, whether the grader had to kill it."""
    frames: list = field(default_factory=list)
    exit: dict | None = None
    fatal: str | None = None
    protocol_error: str | None = None
    forced: bool = False
    seconds: float = 0.0


def _memfd(data: bytes) -> int:
    fd = os.memfd_create("nngrade-request", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
    try:
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW |
                    fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL)
    except (OSError, AttributeError):
        pass
    return fd


def run_attempt(request: bytes, deadline: float, data_limit: int,
                 max_frames: int = 1 << 20) -> Attempt:
    zyg = get_zygote()
    data_r, data_w = os.pipe()
    status_r, status_w = os.pipe()
    life_r, life_w = os.pipe()
    memfd = _memfd(request)
    t0 = time.monotonic()
    try:
        try:
            pid, pidfd = zyg.spawn([memfd, data_w, status_w, life_r])
        except SandboxError:
            shutdown()                       # one retry with a fresh zygote
            zyg = get_zygote()
            pid, pidfd = zyg.spawn([memfd, data_w, status_w, life_r])
    except BaseException:
        for fd in (data_r, status_r, life_w):
            os.close(fd)
        raise
    finally:
        for fd in (memfd, data_w, status_w, life_r):
            os.close(fd)
    att = Attempt()
    data = wire.FrameReader(limit=data_limit, max_frames=max_frames)
    status = wire.FrameReader(limit=1 << 20)
    open_fds = {data_r: data, status_r: status}
    for fd in open_fds:
        os.set_blocking(fd, False)
    poller = select.poll()
    for fd in open_fds:
        poller.register(fd, select.POLLIN | select.POLLHUP)
    hard = deadline + 3.0
    try:
        while open_fds:
            left = hard - time.monotonic()
            if left <= 0:
                att.forced = True
                break
            for fd, _ev in poller.poll(min(left, 1.0) * 1000):
                reader = open_fds.get(fd)
                if reader is None:
                    continue
                try:
                    chunk = os.read(fd, 1 << 20)
                except BlockingIOError:
                    continue
                if not chunk:
                    poller.unregister(fd)
                    del open_fds[fd]
                    continue
                if reader is data and att.protocol_error:
                    continue                 # drain and discard after a violation
                try:
                    frames = reader.feed(chunk)
                except wire.WireError:
                    frames = []
                if reader is data:
                    att.frames.extend(frames)
                    if reader.broken:
                        att.protocol_error = reader.broken
                else:
                    for header, _ in frames:
                        if header.get("ev") == "exit":
                            att.exit = header
                        elif header.get("ev") == "fatal":
                            att.fatal = str(header.get("error"))[:_ERR]
    finally:
        os.close(life_w)                     # tells the supervisor to kill, if still running
        if att.forced and pidfd is not None:
            try:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            except OSError:
                pass
        if pidfd is not None:
            os.close(pidfd)
        for fd in (data_r, status_r):
            os.close(fd)
    att.seconds = time.monotonic() - t0
    return att



# ---------------------------------------------------------------------------
# the attempt loop

@dataclass
class AttemptLog:
    """What the attempts of one run found, together.

    ``skip_cells``/``skip_parts``: ``{cell index | part key: (cause,
    why)}`` — what the next attempt leaves out; ``attempts``: one log entry
    each; ``answers``/``fn``: each attempt's answers and function results;
    ``reference_attempts``: reaches for the answers (each once);
    ``setup_info``/``exit_iso``: the last setup report and supervisor's
    isolation; ``finished``: an attempt reached the end; ``exhausted``: the
    time budget ran out; ``stop_reason``: the run ended outside any cell
    or part."""
    skip_cells: dict = field(default_factory=dict)
    skip_parts: dict = field(default_factory=dict)
    attempts: list = field(default_factory=list)
    answers: list = field(default_factory=list)
    fn: list = field(default_factory=list)
    reference_attempts: list = field(default_factory=list)
    setup_info: dict = field(default_factory=dict)
    exit_iso: dict = field(default_factory=dict)
    finished: bool = False
    exhausted: bool = False
    stop_reason: str | None = None
    notes: list = field(default_factory=list)

    def latest_answers(self) -> dict:
        """The answers of the last attempt that reported any."""
        for a in reversed(self.answers):
            if a:
                return a
        return {}

    def fn_results(self) -> dict:
        """Each part's results from the last attempt that ran it."""
        out: dict = {}
        for res in reversed(self.fn):
            for key, r in res.items():
                out.setdefault(key, r)
        return out


def run_attempts(base: dict, blobs: list[bytes], t0: float, lim: dict, runnable: list,
                 plans: dict, names: dict, records: dict) -> AttemptLog:
    """Run the request ``base`` again and again, each time without the
    cell or part the last attempt died, timed out or broke the protocol
    in, until one finishes — all within twice the wall limit from ``t0``
    (at most 50 attempts).  ``records`` (``{cell index: CellRecord}``) are
    updated with each attempt's account."""
    wall = float(lim["wall_seconds"])
    budget_end = t0 + 2 * wall
    margin = min(0.5, 0.1 * wall)
    log = AttemptLog()
    data_limit = 128 << 20
    for n in range(min(50, len(runnable) + len(plans) + 2)):
        now = time.monotonic()
        deadline = min(now + wall, budget_end - margin)
        if deadline - now < max(0.05, 0.05 * wall):
            log.exhausted = True
            break
        header = dict(base, deadline=deadline, skip_cells=sorted(log.skip_cells),
                      skip_parts=sorted(log.skip_parts), t_sent=time.monotonic())
        att = run_attempt(wire.encode_frame(header, blobs), deadline, data_limit,
                          max_frames=4 * len(runnable) + 2 * len(plans) + 64)
        if att.fatal:
            raise SandboxError(att.fatal)
        st = digest(att.frames, (c.index for c in runnable), plans, names, att.protocol_error)
        apply_cells(st, runnable, records)
        if st.fatal:
            raise SandboxError(st.fatal)
        if st.setup:
            log.setup_info = st.setup
        if att.exit:
            log.exit_iso = att.exit.get("iso") or {}
        log.answers.append(st.answers)
        log.reference_attempts.extend(a for a in st.attempts
                                      if a not in log.reference_attempts)
        log.fn.append(st.fn)
        entry = {"attempt": n + 1, "seconds": round(att.seconds, 4), "ended": st.ended}
        if att.exit:
            entry.update({k: att.exit[k] for k in ("code", "signal", "killed_by", "cpu",
                                                   "maxrss_kb", "leftovers_killed", "cgroup")
                          if k in att.exit})
        log.attempts.append(entry)
        if st.done:
            log.finished = True
            break
        why_cause, why = cause(att, st, lim)
        entry["cause"], entry["reason"] = why_cause, why
        if st.cell is not None:
            log.skip_cells[st.cell] = (why_cause, why)
            rec = records[st.cell]
            rec.status, rec.error = why_cause, why
            entry["cell"] = st.cell
        elif st.part is not None:
            log.skip_parts[st.part] = (why_cause, why)
            entry["part"] = st.part
        else:
            entry["phase"] = st.phase
            log.stop_reason = f"the run ended outside any cell or function call " \
                              f"({st.phase}): {why}"
            log.notes.append(log.stop_reason)
            break
    else:
        log.exhausted = True
    return log


def apply_cells(st: AttemptDigest, runnable: list, records: dict) -> None:
    """This attempt's account of the cells replaces the last one's: cells
    it ended get their ending, the others are ``not_run`` again — but for
    the cell an earlier attempt died or timed out in (left out since)."""
    for c in runnable:
        rec = records[c.index]
        if rec.status not in ("timeout", "killed") or c.index in st.cell_ends:
            rec.status, rec.error, rec.output, rec.seconds, rec.refused = \
                "not_run", None, "", 0.0, []
    for i, e in st.cell_ends.items():
        rec = records[i]
        rec.status, rec.error, rec.output = e.status, e.error, e.output
        rec.seconds, rec.refused = e.seconds, e.refused


def _signame(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def cause(att: Attempt, st: AttemptDigest, lim: dict) -> tuple[str, str]:
    ex = att.exit or {}
    wall, cpu = float(lim["wall_seconds"]), float(lim["cpu_seconds"])
    if st.violation:
        return "killed", st.violation
    if att.forced or ex.get("killed_by") == "deadline":
        return "timeout", f"wall-clock limit of {wall:g} s reached"
    if ex.get("killed_by") == "grader":
        return "killed", "stopped by the grader"
    group = ex.get("cgroup") if type(ex.get("cgroup")) is dict else {}
    if group.get("oom_kills"):
        return "killed", f"memory limit of the sandbox ({lim['memory_mb']} MB, all its " \
                         "processes together) reached"
    sig = ex.get("signal")
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and float(ex.get("cpu") or 0) >= cpu):
        return "timeout", f"CPU time limit of {cpu:g} s reached"
    if sig is not None:
        name = _signame(int(sig))
        if sig == signal.SIGSEGV:
            return "killed", "the Python process crashed (SIGSEGV: e.g. a recursion too deep " \
                             "for the C stack)"
        if sig == signal.SIGKILL:
            return "killed", "the process was killed (SIGKILL: e.g. out of memory)"
        return "killed", f"the process was killed by {name}"
    code = ex.get("code")
    if code is not None:
        return "killed", f"the process exited (exit status {code}: e.g. os._exit)"
    return "killed", "the process ended unexpectedly"

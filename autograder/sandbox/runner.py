"""The grader's side of the sandbox: the zygote client and
:func:`run_submission` (attempts, retries, validation of what comes back)."""
from __future__ import annotations

import fcntl
import json
import os
import re
import select
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..results import valid_text
from . import wire
from .allowlist import display_cells
from .cells import Cell, NotebookError, load_notebook, prepare_cells

__all__ = ["run_submission", "SandboxOutcome", "CellRecord", "SandboxError", "shutdown",
           "zygote_info"]

CELL_STATUSES = ("ok", "error", "refused", "timeout", "killed", "skipped", "not_run")
_ERR = 500
_OUT = 2000


class SandboxError(RuntimeError):
    """The sandbox itself cannot run (not the submission's fault)."""


# ---------------------------------------------------------------------------
# outcome

@dataclass
class CellRecord:
    """One code cell: where it came from, and how it ended.

    ``status``: ``ok``; ``error`` (an exception: ``error`` holds its name and
    message); ``refused`` (a shell escape or magic the grader does not run);
    ``timeout`` (the wall-clock or CPU limit ran out in it); ``killed`` (the
    process died in it: ``os._exit``, a signal, a crash, output that broke
    the protocol); ``skipped`` (a graded test cell: never run); ``not_run``
    (not reached: the time budget ran out)."""
    index: int
    grade_id: str | None
    question: str | None
    origin: str
    status: str = "not_run"
    error: str | None = None
    output: str = ""
    seconds: float = 0.0
    refused: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class SandboxOutcome:
    """What one sandboxed run of a submission produced.

    ``status``: ``"ok"`` (every cell ran; cells may have raised errors, as
    in Jupyter), ``"partial"`` (something was lost to a timeout, a crash or
    a hostile act — see ``cells``, ``parts`` and ``lost``) or
    ``"malformed"`` (the notebook could not be read: ``message`` says why,
    nothing ran).  ``answers`` is :func:`autograder.protocol.collect_answers`'s
    wire form (validated; arrays are fresh float64 arrays), ``fn_results``
    maps a part key (``"A5.q1.forward"``) to ``{call id: result}`` as a
    runner returns it.  ``parts`` says, for each planned part, ``ok``,
    ``timeout``, ``killed`` or ``not_run`` (with ``reason``); ``lost`` maps
    a question id to what its answer cells or function calls suffered.
    ``isolation`` says what was enforced (``mode`` is ``"namespaces"`` or
    ``"rlimits-only"``, with ``details``)."""
    status: str
    message: str
    assignment: str
    student: str
    answers: dict = field(default_factory=dict)
    fn_results: dict = field(default_factory=dict)
    cells: list[CellRecord] = field(default_factory=list)
    parts: dict = field(default_factory=dict)
    lost: dict = field(default_factory=dict)
    attempts: list[dict] = field(default_factory=list)
    isolation: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    reason: str | None = None
    message_zh: str = ""
    #: reaches for the answers the child's gate refused (see :mod:`.allowlist`):
    #: ``{"module", "how", "cell" | "part", "question"}``
    reference_attempts: list = field(default_factory=list)
    #: the submission's own code cells as graded (for the stored result's
    #: function sources: the notebook is not read a second time)
    submitted_cells: list = field(default_factory=list, repr=False)

    def summary(self, output_chars: int = 2000, total_output: int = 16_000) -> dict:
        """A JSON-safe account without the answers (for ``result.details``);
        cell outputs cut to ``output_chars`` each, ``total_output`` in all."""
        cells, room = [], total_output
        for c in self.cells:
            d = {k: v for k, v in asdict(c).items() if v not in ("", [], None)}
            if "output" in d:
                d["output"] = d["output"][:max(0, min(output_chars, room))]
                room -= len(d["output"])
                if not d["output"]:
                    del d["output"]
            cells.append(d)
        return {"status": self.status, "message": self.message, "reason": self.reason,
                "seconds": round(self.seconds, 4), "cells": cells,
                "parts": self.parts, "lost": self.lost, "attempts": self.attempts,
                "isolation": self.isolation, "notes": self.notes[:50],
                "reference_attempts": self.reference_attempts[:50]}


# ---------------------------------------------------------------------------
# the zygote

def _recv_exact(sock: socket.socket, n: int, maxfds: int = 0):
    data, fds = b"", []
    while len(data) < n:
        if maxfds:
            chunk, got, _f, _a = socket.recv_fds(sock, n - len(data), maxfds)
            fds.extend(got)
        else:
            chunk = sock.recv(n - len(data))
        if not chunk:
            for fd in fds:
                os.close(fd)
            raise SandboxError("the sandbox zygote closed its socket")
        data += chunk
    return data, fds


def _recv_msg(sock: socket.socket, maxfds: int = 0):
    head, fds = _recv_exact(sock, 4, maxfds)
    (n,) = struct.unpack("<I", head)
    body, more = _recv_exact(sock, n, maxfds)
    return body, fds + more


class _Connection:
    """Our connection (:attr:`sock`) to a zygote: :meth:`spawn` asks it for a
    supervisor, one request at a time; usable only in the process that made it."""

    sock: socket.socket

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.owner = os.getpid()
        self.lock = threading.Lock()

    def _wait_ready(self) -> None:
        """Wait until the zygote has answered on :attr:`sock` (see subclasses)."""

    def spawn(self, fds: list[int]) -> tuple[int, int | None]:
        with self.lock:
            self._wait_ready()
            return _spawn(self.sock, fds)

    def close(self) -> None:
        _close_quietly(self.sock)


def _close_quietly(sock: socket.socket | None) -> None:
    try:
        if sock is not None:
            sock.close()
    except OSError:
        pass


class _Zygote(_Connection):
    """A zygote process this process started and owns (it exits when we
    close our socket or die).  With ``shareable``, it also listens on a
    control socket (:attr:`control`) that other processes — the grading
    pool's workers — use to :class:`_Attached` to it.  The start is not
    waited for: the first :meth:`spawn` (or :attr:`info`) waits.
    ``preload``: the modules the assignment's notebook imports (see
    :func:`autograder.sandbox._zygote.preload`)."""

    def __init__(self, shareable: bool = False, preload: list[str] | None = None):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ctl_ours = ctl_theirs = None
        if shareable:
            ctl_ours, ctl_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        import autograder
        import nn_core
        roots = []
        for mod in (autograder, nn_core):
            root = str(Path(mod.__file__).resolve().parent.parent)
            if root not in roots:
                roots.append(root)
        boot = ("import sys; sys.path[:0] = %r; "
                "from autograder.sandbox._zygote import main; main(%d, %d, %r, %d)"
                % (roots, theirs.fileno(), ctl_theirs.fileno() if ctl_theirs else -1,
                   None if preload is None else
                   [m for m in preload if _MODULE_NAME.fullmatch(m)], os.getpid()))
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "NUMEXPR_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1",
               "TMPDIR": tempfile.gettempdir()}
        debug = os.environ.get("NNGRADE_SANDBOX_DEBUG")
        passed = [theirs.fileno()] + ([ctl_theirs.fileno()] if ctl_theirs else [])
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-B", "-c", boot], pass_fds=passed, env=env,
            cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=None if debug else subprocess.DEVNULL, start_new_session=True)
        theirs.close()
        if ctl_theirs is not None:
            ctl_theirs.close()
        super().__init__(ours)
        self.control = ctl_ours
        self._info: dict | None = None

    @property
    def info(self) -> dict:
        """The zygote's start-up report (waits for the start)."""
        with self.lock:
            self._wait_ready()
        return self._info

    def _wait_ready(self) -> None:
        if self._info is not None:
            return
        try:
            self._info = _read_hello(self.sock)
        except SandboxError as exc:
            self.close()
            raise SandboxError(f"the sandbox zygote did not start: {exc}") from None

    def alive(self) -> bool:
        return self.proc.poll() is None and self.owner == os.getpid()

    def close(self) -> None:
        super().close()
        _close_quietly(self.control)
        if self.owner == os.getpid():
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class _Attached(_Connection):
    """A connection of ours to a zygote another process owns, made through
    its control socket: we send one end of a new socketpair, the zygote
    serves the other like its owner's."""

    def __init__(self, control: socket.socket):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            socket.send_fds(control, [b"C"], [theirs.fileno()])
        except OSError as exc:
            ours.close()
            raise SandboxError(f"the shared sandbox zygote is gone: {exc}") from None
        finally:
            theirs.close()
        super().__init__(ours)
        try:
            self.info = _read_hello(ours)
        except SandboxError as exc:
            ours.close()
            raise SandboxError(f"the shared sandbox zygote did not answer: {exc}") from None

    def alive(self) -> bool:
        if self.owner != os.getpid():
            return False
        try:                                  # readable with nothing to read = closed
            r, _, _ = select.select([self.sock], [], [], 0)
            return not r or self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
        except OSError:
            return False


def _read_hello(sock: socket.socket) -> dict:
    """The zygote's start-up report, the first message on a connection
    (waited for up to 300 s: the zygote may still be importing); later
    answers are waited for up to 60 s."""
    sock.settimeout(300)
    try:
        body, _ = _recv_msg(sock)
        info = json.loads(body)
    except (OSError, ValueError, SandboxError) as exc:
        raise SandboxError(str(exc)) from None
    sock.settimeout(60)
    return info


def _spawn(sock: socket.socket, fds: list[int]) -> tuple[int, int | None]:
    """Ask the zygote on ``sock`` for a supervisor of one attempt."""
    try:
        socket.send_fds(sock, [b"R"], fds)
        body, got = _recv_msg(sock, maxfds=2)
    except (OSError, SandboxError) as exc:
        raise SandboxError(f"the sandbox zygote failed: {exc}") from None
    (pid,) = struct.unpack("<q", body)
    if pid < 0:
        for fd in got:
            os.close(fd)
        raise SandboxError(f"the sandbox zygote could not fork: {os.strerror(-pid)}")
    return pid, (got[0] if got else None)


_zygote: _Zygote | _Attached | None = None
_zlock = threading.Lock()
#: the control socket of a zygote shared with this process (see attach())
_shared_control: socket.socket | None = None


_MODULE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def start_shared_zygote(preload: list[str] | None = None) -> _Zygote:
    """Start (without waiting) this process's zygote, shareable: pass its
    :attr:`~_Zygote.control` socket to other processes (a pool initializer
    calling :func:`attach`) so that one zygote serves them all.  ``preload``:
    the modules the assignment's notebook imports (:func:`notebook_imports`),
    imported by the zygote beyond its standard set.  A running shareable
    zygote is reused.  Returns it; :func:`shutdown` stops it."""
    global _zygote
    with _zlock:
        if isinstance(_zygote, _Zygote) and _zygote.alive() and _zygote.control is not None:
            return _zygote
        if _zygote is not None and _zygote.owner == os.getpid():
            _zygote.close()
        _zygote = _Zygote(shareable=True, preload=preload)
        return _zygote


def notebook_imports(path: str | os.PathLike) -> list[str] | None:
    """The modules the code cells of the (instructor's) notebook at
    ``path`` import, by a plain reading of its ``import``/``from`` lines, and
    those the toolkit's notebook functions it calls import on first use
    (:data:`autograder.notebook.RUNTIME_IMPORTS`); ``None`` when it cannot
    be read."""
    from .allowlist import cell_imports
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
        cells = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
        texts = [src if isinstance(src, str) else "".join(src)
                 for src in (c.get("source", "") for c in cells)]
        found: list[str] = []
        for name in cell_imports("\n".join(texts)):
            if name not in found:
                found.append(name)
        return found
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def attach(control: socket.socket | None) -> None:
    """Use the shared zygote behind ``control`` (from
    :func:`start_shared_zygote` in another process) instead of starting one
    of our own; if it is gone, we start our own after all."""
    global _shared_control
    _shared_control = control
    die_with_parent()


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies
    (``PR_SET_PDEATHSIG``), and exit at once if the parent is already gone:
    a grading pool's workers — and through them their zygotes — never
    outlive the grader (issue 19).  A no-op off Linux."""
    from . import _linux
    parent = os.getppid()
    try:
        _linux.set_pdeathsig(signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:               # the parent died before the prctl
        os._exit(1)


def _get_zygote() -> _Zygote | _Attached:
    global _zygote
    with _zlock:
        if _zygote is not None and not _zygote.alive():
            if _zygote.owner == os.getpid():
                _zygote.close()
            _zygote = None
        if _zygote is None and _shared_control is not None:
            try:
                _zygote = _Attached(_shared_control)
            except SandboxError:
                pass
        if _zygote is None:
            _zygote = _Zygote()
        return _zygote


def shutdown() -> None:
    """Stop this process's zygote, or leave the shared one (a later run
    starts or attaches again)."""
    global _zygote
    with _zlock:
        if _zygote is not None and _zygote.owner == os.getpid():
            _zygote.close()
        _zygote = None


def zygote_info() -> dict:
    """The zygote's start-up report (pid, preload seconds, modules that failed)."""
    return dict(_get_zygote().info)


def _forget_after_fork() -> None:
    """In a forked grader process the parent's zygote is not ours: drop our
    copy of the parent's connection to it (a new zygote starts, or the pool
    initializer :func:`attach`-es to the parent's through the control socket,
    which is therefore left open)."""
    global _zygote, _shared_control
    z = _zygote
    _zygote = _shared_control = None
    try:
        if z is not None:
            z.sock.close()
    except OSError:
        pass


import atexit  # noqa: E402

atexit.register(shutdown)
os.register_at_fork(after_in_child=_forget_after_fork)


# ---------------------------------------------------------------------------
# one attempt

@dataclass
class _Attempt:
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


def _run_attempt(request: bytes, deadline: float, data_limit: int,
                 max_frames: int = 1 << 20) -> _Attempt:
    zyg = _get_zygote()
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
            zyg = _get_zygote()
            pid, pidfd = zyg.spawn([memfd, data_w, status_w, life_r])
    except BaseException:
        for fd in (data_r, status_r, life_w):
            os.close(fd)
        raise
    finally:
        for fd in (memfd, data_w, status_w, life_r):
            os.close(fd)
    att = _Attempt()
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
# validation of what the child says

def _str(x, n=_ERR) -> str | None:
    """Text from the child made valid, bounded UTF-8 (``None`` if not text)."""
    return valid_text(x, n) if type(x) is str else None


def _seconds(x) -> float:
    """A duration reported by the child: a finite number of seconds in
    [0, 1e6], else a protocol violation (``10**400`` included)."""
    if type(x) not in (int, float) or not 0 <= x <= 1e6:
        raise wire.WireError("bad duration")
    return float(x)


def _finite_array(arr: np.ndarray) -> np.ndarray:
    if not np.isfinite(arr).all():
        raise wire.WireError("non-finite array")
    return arr


def _answer_entry(enc, blobs) -> dict:
    bad = {"type": "invalid", "zh": "答案数据无效。", "en": "the answer's data is invalid.",
           "reason": "malformed"}
    if type(enc) is not dict:
        return bad
    t = enc.get("type")
    try:
        if t == "missing":
            return {"type": "missing"}
        if t == "array":
            arr = wire.decode(enc.get("value"), blobs)
            if type(arr) is not np.ndarray:
                return bad
            return {"type": "array", "value": _finite_array(arr)}
        if t == "text":
            v = enc.get("value")
            return {"type": "text", "value": _str(v, 10_000)} if type(v) is str else bad
        if t == "bool":
            v = enc.get("value")
            return {"type": "bool", "value": v} if type(v) is bool else bad
        if t == "number":
            v = enc.get("value")
            if type(v) in (int, float) and np.isfinite(float(v)):
                return {"type": "number", "value": float(v)}
            return bad
        if t == "invalid":
            return {"type": "invalid", "zh": _str(enc.get("zh")) or "答案无效。",
                    "en": _str(enc.get("en")) or "invalid answer.",
                    "reason": _str(enc.get("reason"), 40) or "invalid"}
    except (wire.WireError, ArithmeticError, TypeError, ValueError, RecursionError):
        return bad
    return bad


def _fn_result(res, blobs) -> dict:
    if type(res) is not dict or type(res.get("ok")) is not bool:
        return {"ok": False, "error": "malformed result from the sandbox"}
    if not res["ok"]:
        return {"ok": False, "error": _str(res.get("error")) or "error"}
    try:
        v = res.get("value")
        if type(v) is list:
            if len(v) > 64:
                raise wire.WireError("too many values")
            vals = [wire.decode(x, blobs) for x in v]
            if not all(type(a) is np.ndarray for a in vals):
                raise wire.WireError("not arrays")
            return {"ok": True, "value": [_finite_array(a) for a in vals]}
        arr = wire.decode(v, blobs)
        if type(arr) is not np.ndarray:
            raise wire.WireError("not an array")
        return {"ok": True, "value": _finite_array(arr)}
    except (wire.WireError, TypeError, ValueError, RecursionError) as exc:
        return {"ok": False, "error": f"malformed result from the sandbox ({_str(str(exc))})"}


# ---------------------------------------------------------------------------
# run_submission

def _course_of(course):
    from ..config import Course, load_course
    if isinstance(course, Course):
        return course, course.source
    return load_course(course), str(course)


def _limits_dict(limits) -> dict:
    keys = ("cpu_seconds", "wall_seconds", "memory_mb", "processes", "output_kb", "file_kb")
    if isinstance(limits, dict):
        from ..config import SandboxLimits
        base = asdict(SandboxLimits())
        base.update({k: v for k, v in limits.items() if k in keys})
        return base
    return {k: getattr(limits, k) for k in keys}


def _default_scratch_root() -> Path:
    root = Path(tempfile.gettempdir()) / f"nngrade-scratch-{os.getuid()}"
    try:
        root.mkdir(mode=0o711)
    except FileExistsError:
        st = os.lstat(root)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            raise SandboxError(f"{root} is not this user's directory") from None
    # traversable, not listable: in the fallback, a run's private uid must reach its own
    # directory (0700, its own) without seeing the others
    os.chmod(root, 0o711)
    return root


_swept_roots: set[tuple[int, str]] = set()


def _remove_stale_scratch(root: Path) -> None:
    """Remove the scratch mount points ``sub-<pid>-XXXX`` of grading processes
    that no longer exist.  A run's own ``finally`` removes its directory, but a
    grader killed by SIGKILL (or the OOM killer) leaves it; the next grading
    process on this machine sweeps them, once per scratch root."""
    from ..submissions import pid_alive
    key = (os.getpid(), str(root))
    if key in _swept_roots:
        return
    _swept_roots.add(key)
    try:
        entries = list(os.scandir(root))
    except OSError:
        return
    for entry in entries:
        parts = entry.name.split("-")
        if len(parts) < 3 or parts[0] != "sub" or not parts[1].isdigit():
            continue
        if pid_alive(int(parts[1])):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)


def _hide_list(course_path, notebook, source_notebook, scratch_root, course) -> list[str]:
    """Paths the child must not see even if an allowed path contains them."""
    out = set()
    cands = []
    home = os.environ.get("HOME")
    if home:
        cands.append(home)
    if course_path and os.path.exists(course_path):
        d = Path(course_path).resolve().parent
        cands.append(str(d))              # the whole course folder (but autograder/ in it)
        cands.append(str(Path(course_path).resolve()))
        for name in ("solutions", "source", "submitted", "autograded", "feedback", "release",
                     "exchange", ".git", "gradebook.db", "tests"):
            cands.append(str(d / name))
        url = getattr(course, "gradebook_url", "") or ""
        if url.startswith("sqlite:///"):
            p = Path(url[len("sqlite:///"):])
            cands.append(str(p if p.is_absolute() else d / p))
    qdir = getattr(course, "questions_dir", None)
    if qdir:
        cands.append(qdir)                # the course's own question modules
    import autograder
    repo = Path(autograder.__file__).resolve().parent.parent
    for name in ("solutions", "tests", ".git", "course.yaml"):
        cands.append(str(repo / name))
    for nb in (notebook, source_notebook):
        if isinstance(nb, (str, Path)) and not str(nb).lstrip().startswith("{"):
            try:
                cands.append(str(Path(nb).resolve().parent))
            except OSError:
                pass
    cands.append(str(scratch_root))
    for c in cands:
        try:
            out.add(os.path.normpath(os.path.abspath(c)))
        except (TypeError, ValueError):
            pass
    return sorted(out)


def _malformed(assignment, student, exc: NotebookError, t0) -> SandboxOutcome:
    return SandboxOutcome(status="malformed", reason=exc.reason,
                          message=f"the notebook could not be read: {exc.en}",
                          message_zh=f"无法读取笔记本：{exc.zh}",
                          assignment=assignment, student=student or "",
                          seconds=time.monotonic() - t0)


def run_submission(notebook, assignment: str, student: str | None, course, plans: dict, *,
                   source_notebook=None, limits=None, scratch_root=None,
                   isolation: str = "auto", hide=()) -> SandboxOutcome:
    """Run one submission's code cells in a sandboxed child and bring back
    its answers and the results of the call ``plans`` (``{part key: plan}``
    as :func:`autograder.functions.plan_calls` makes them).

    ``notebook``/``source_notebook``: a path, bytes, JSON text or a dict.
    ``course``: a :class:`~autograder.config.Course` or the path of
    ``course.yaml``; ``limits`` (a :class:`~autograder.config.SandboxLimits`
    or a dict) default to its ``sandbox:`` section.  ``isolation``:
    ``"auto"`` (namespaces when the kernel allows, else rlimits only, said in
    ``outcome.isolation``), ``"namespaces"`` (refuse to run without them:
    :class:`SandboxError`) or ``"rlimits"`` (no namespaces; for tests).
    ``hide``: more paths the child must not see.  A malformed notebook gives
    ``status="malformed"``; only a sandbox that cannot run at all raises
    :class:`SandboxError`.
    """
    if isolation not in ("auto", "namespaces", "rlimits"):
        raise ValueError(f"isolation must be auto, namespaces or rlimits, got {isolation!r}")
    t0 = time.monotonic()
    course_obj, course_path = _course_of(course)
    lim = _limits_dict(limits if limits is not None else course_obj.sandbox)
    wall = float(lim["wall_seconds"])
    student = student or ""          # NNGRADE_STUDENT="" lets the notebook fall back to lecture
    try:
        nb = load_notebook(notebook)
    except NotebookError as exc:
        return _malformed(assignment, student, exc, t0)
    notes: list[str] = []
    src_nb = None
    if source_notebook is not None:
        try:
            src_nb = load_notebook(source_notebook, follow_links=True)
        except NotebookError as exc:
            notes.append(f"source notebook unreadable ({exc.en}): locked cells not restored")
    cells, cell_notes = prepare_cells(nb, assignment, src_nb)
    context = _child_context(course_obj, assignment, student)
    display_cells(cells, context["modules"])      # not run: they need reference code
    _get_zygote().info            # (re)started outside the submission's time budget
    t0 = time.monotonic()
    notes.extend(cell_notes)
    if src_nb is None:
        notes.append("no source notebook: locked cells ran as submitted")
    records = {c.index: CellRecord(c.index, c.grade_id, c.question, c.origin,
                                   status="not_run" if c.run else "skipped", notes=list(c.notes))
               for c in cells}
    runnable = [c for c in cells if c.run]

    course_yaml = None
    if course_path and os.path.isfile(course_path):
        try:
            course_yaml = Path(course_path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            notes.append("course.yaml could not be copied into the scratch directory")
    root = Path(scratch_root) if scratch_root is not None else _default_scratch_root()
    root.mkdir(parents=True, exist_ok=True)
    _remove_stale_scratch(root)
    scratch = tempfile.mkdtemp(prefix=f"sub-{os.getpid()}-", dir=root)
    os.chmod(scratch, 0o711)
    blobs: list[bytes] = []
    plan_enc = wire.encode({k: list(v) for k, v in plans.items()}, blobs)
    base = {"assignment": assignment, "student": student,
            "cells": [{"i": c.index, "source": c.source} for c in runnable],
            "plans": plan_enc, "limits": lim, "course_yaml": course_yaml,
            "mountpoint": scratch, "isolation": isolation, **context,
            "hide": _hide_list(course_path, notebook, source_notebook, root, course_obj)
            + [os.path.abspath(h) for h in hide],
            "scratch_mb": max(64, 4 * int(lim["file_kb"]) // 1024)}
    budget_end = t0 + 2 * wall
    margin = min(0.5, 0.1 * wall)
    skip_cells: dict[int, tuple[str, str]] = {}
    skip_parts: dict[str, tuple[str, str]] = {}
    attempts: list[dict] = []
    answers_by_attempt: list[dict] = []
    reference_attempts: list[dict] = []
    fn_by_attempt: list[dict] = []
    setup_info: dict = {}
    exit_iso: dict = {}
    finished = False
    exhausted = False
    stop_reason = None
    data_limit = 128 << 20
    try:
        for n in range(min(50, len(runnable) + len(plans) + 2)):
            now = time.monotonic()
            deadline = min(now + wall, budget_end - margin)
            if deadline - now < max(0.05, 0.05 * wall):
                exhausted = True
                break
            header = dict(base, deadline=deadline, skip_cells=sorted(skip_cells),
                          skip_parts=sorted(skip_parts), t_sent=time.monotonic())
            att = _run_attempt(wire.encode_frame(header, blobs), deadline, data_limit,
                               max_frames=4 * len(runnable) + 2 * len(plans) + 64)
            if att.fatal:
                raise SandboxError(att.fatal)
            st = _digest(att, runnable, plans, assignment, records)
            if st["fatal"]:
                raise SandboxError(st["fatal"])
            if st["setup"]:
                setup_info = st["setup"]
            if att.exit:
                exit_iso = att.exit.get("iso") or {}
            answers_by_attempt.append(st["answers"])
            reference_attempts.extend(a for a in st["attempts"] if a not in reference_attempts)
            fn_by_attempt.append(st["fn"])
            log = {"attempt": n + 1, "seconds": round(att.seconds, 4), "ended": st["ended"]}
            if att.exit:
                log.update({k: att.exit[k] for k in ("code", "signal", "killed_by", "cpu",
                                                     "maxrss_kb", "leftovers_killed", "cgroup")
                            if k in att.exit})
            attempts.append(log)
            if st["done"]:
                finished = True
                break
            cause, why = _cause(att, st, lim)
            log["cause"], log["reason"] = cause, why
            if st["cell"] is not None:
                skip_cells[st["cell"]] = (cause, why)
                rec = records[st["cell"]]
                rec.status, rec.error = cause, why
                log["cell"] = st["cell"]
            elif st["part"] is not None:
                skip_parts[st["part"]] = (cause, why)
                log["part"] = st["part"]
            else:
                log["phase"] = st["phase"]
                stop_reason = f"the run ended outside any cell or function call " \
                              f"({st['phase']}): {why}"
                notes.append(stop_reason)
                break
        else:
            exhausted = True
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    room = int(lim["output_kb"]) * 1024            # the grader's own cap on kept output
    for i in sorted(records):
        rec = records[i]
        rec.output = rec.output[:max(room, 0)]
        room -= len(rec.output)
    answers = _latest(answers_by_attempt)
    fn_results: dict = {}
    for res in reversed(fn_by_attempt):
        for key, r in res.items():
            fn_results.setdefault(key, r)
    parts = {}
    for key in plans:
        if key in skip_parts:
            parts[key] = {"status": skip_parts[key][0], "reason": skip_parts[key][1]}
        elif key in fn_results:
            parts[key] = {"status": "ok"}
        else:
            parts[key] = {"status": "not_run",
                          "reason": stop_reason or "not reached: the time budget ran out"}
    from ..protocol import answer_names
    full = {q: {p: answers.get(q, {}).get(p, {"type": "missing"}) for p in ps}
            for q, ps in answer_names(assignment).items()}
    lost: dict = {}
    for rec in records.values():
        if rec.question and rec.status in ("error", "refused", "timeout", "killed", "not_run"):
            lost.setdefault(rec.question, []).append(
                {"cell": rec.index, "grade_id": rec.grade_id, "status": rec.status,
                 "reason": rec.error or ("not reached" if rec.status == "not_run" else "")})
    for key, p in parts.items():
        if p["status"] != "ok":
            q = key.rsplit(".", 1)[0]
            lost.setdefault(q, []).append({"part": key.rsplit(".", 1)[1], "status": p["status"],
                                           "reason": p.get("reason", "")})
    troubles = bool(skip_cells or skip_parts or exhausted or not finished)
    status = "partial" if troubles else "ok"
    iso = _isolation_summary(setup_info, exit_iso, isolation)
    if status == "ok":
        message = f"ran {len(runnable)} cells and {len(plans)} function checks"
    else:
        bits = [f"cell {i} {c}: {w}" for i, (c, w) in sorted(skip_cells.items())]
        bits += [f"{k} {c}: {w}" for k, (c, w) in sorted(skip_parts.items())]
        if stop_reason:
            bits.append(stop_reason)
        elif exhausted or not finished:
            bits.append("the time budget ran out")
        message = "; ".join(bits)
    return SandboxOutcome(status=status, message=message, assignment=assignment, student=student,
                          answers=full, fn_results=fn_results,
                          cells=[records[i] for i in sorted(records)], parts=parts, lost=lost,
                          attempts=attempts, isolation=iso, notes=notes,
                          seconds=time.monotonic() - t0,
                          reference_attempts=_attempt_questions(reference_attempts, records),
                          submitted_cells=[c for c in cells if c.origin == "submission"])


def _child_context(course, assignment: str, student: str) -> dict:
    """What the child gets instead of the questions, the judge and the
    variant generators: the toolkit modules it may import
    (:func:`.allowlist.allowed_modules`), the student's variant parameters,
    the answer variables and their kinds, the public seed of the given
    cells' demo data — never the seed of the hidden inputs."""
    from ..judge import variant_of
    from ..protocol import _kind_of, answer_names
    from ..variants import public_seed
    from .allowlist import allowed_modules
    params, _seed = variant_of(course, assignment, student or None)
    kinds: dict = {}
    for (q, p), kind in _kind_of(assignment).items():
        kinds.setdefault(q, {})[p] = kind
    return {"modules": allowed_modules(course, assignment), "params": params,
            "answer_names": answer_names(assignment), "kinds": kinds,
            "public_seed": public_seed(course, assignment, student or None)}


def _attempt_questions(found: list[dict], records: dict) -> list[dict]:
    """Each attempt with the question of its cell (answer cells) or part."""
    out = []
    for a in found:
        a = dict(a)
        if "cell" in a and a["cell"] in records and records[a["cell"]].question:
            a["question"] = records[a["cell"]].question
        elif "part" in a:
            a["question"] = a["part"].rsplit(".", 1)[0]
        out.append(a)
    return out


def _latest(answers_by_attempt: list[dict]) -> dict:
    for a in reversed(answers_by_attempt):
        if a:
            return a
    return {}


def _digest(att: _Attempt, runnable: list[Cell], plans: dict, assignment: str,
            records: dict) -> dict:
    """Walk one attempt's frames (untrusted) in order."""
    from ..protocol import answer_names
    names = answer_names(assignment)
    allowed_cells = {c.index for c in runnable}
    out = {"setup": None, "answers": {}, "fn": {}, "done": False, "cell": None, "part": None,
           "phase": "setup", "ended": 0, "fatal": None, "violation": None, "attempts": []}
    seen_cells: set[int] = set()
    ended: dict[int, dict] = {}
    for k, (h, blobs) in enumerate(att.frames):
        ev = h.get("ev")
        try:
            if ev == "setup" and k == 0:
                out["setup"] = h
                out["phase"] = "cells"
            elif ev == "fatal" and k == 0:
                out["fatal"] = _str(h.get("error")) or "sandbox setup failed"
            elif out["done"]:
                raise wire.WireError("data after the end")
            elif ev == "cell_start":
                i = h.get("i")
                if type(i) is not int or out["cell"] is not None or out["part"] is not None or \
                        i not in allowed_cells or i in seen_cells or out["phase"] != "cells":
                    raise wire.WireError("unexpected cell_start")
                seen_cells.add(i)
                out["cell"] = i
            elif ev == "cell_end":
                i = h.get("i")
                if i != out["cell"] or h.get("status") not in ("ok", "error", "refused"):
                    raise wire.WireError("unexpected cell_end")
                refused = h.get("refused")
                ended[i] = {"status": h["status"], "error": _str(h.get("error")),
                            "output": _str(h.get("output"), _OUT) or "",
                            "seconds": _seconds(h.get("seconds", 0.0)),
                            "refused": [_str(s, 200) for s in refused[:10] if type(s) is str]
                            if type(refused) is list else []}
                out["cell"] = None
                out["ended"] += 1
            elif ev == "answers":
                if out["part"] is not None:
                    raise wire.WireError("answers inside a function call")
                s = h.get("set")
                if type(s) is not dict:
                    raise wire.WireError("bad answers")
                for q, parts in s.items():
                    if q not in names or type(parts) is not dict:
                        continue
                    for p, enc in parts.items():
                        if p in names[q]:
                            out["answers"].setdefault(q, {})[p] = _answer_entry(enc, blobs)
            elif ev == "collect_start":
                if out["cell"] is not None or out["phase"] != "cells":
                    raise wire.WireError("unexpected collect_start")
                out["phase"] = "collect"
            elif ev == "part_start":
                key = h.get("key")
                if type(key) is not str or out["cell"] is not None or out["part"] is not None \
                        or key not in plans \
                        or key in out["fn"] or out["phase"] not in ("collect", "parts"):
                    raise wire.WireError("unexpected part_start")
                out["phase"] = "parts"
                out["part"] = key
            elif ev == "part_end":
                key = h.get("key")
                res = h.get("results")
                if key != out["part"] or type(res) is not dict:
                    raise wire.WireError("unexpected part_end")
                out["fn"][key] = {c["id"]: _fn_result(res.get(c["id"]), blobs)
                                  for c in plans[key]}
                out["part"] = None
            elif ev == "done":
                if out["cell"] is not None or out["part"] is not None or \
                        out["phase"] not in ("collect", "parts"):
                    raise wire.WireError("unexpected done")
                out["done"] = True
            elif ev == "note":
                pass
            elif ev == "attempt":                # where: the grader's own account, not the child's
                if len(out["attempts"]) < 50 and h.get("how") in ("import", "open", "gc") and \
                        _str(h.get("module"), 200):
                    where = {"cell": out["cell"]} if out["cell"] is not None else \
                        {"part": out["part"]} if out["part"] is not None else {}
                    out["attempts"].append({"module": _str(h.get("module"), 200),
                                            "how": h["how"], **where})
            else:
                raise wire.WireError(f"unknown message {str(ev)[:40]!r}")
        except (wire.WireError, TypeError, ValueError, KeyError, ArithmeticError,
                RecursionError) as exc:                 # any bad field of a forged frame
            out["violation"] = f"the sandboxed process broke the result protocol " \
                               f"({_str(str(exc), 200)})"
            out["done"] = False
            break
    if att.protocol_error and not out["violation"]:
        out["violation"] = f"the sandboxed process broke the result protocol " \
                           f"({att.protocol_error})"
    if out["violation"]:
        out["done"] = False
    for c in runnable:                       # this attempt's account replaces the last one's
        rec = records[c.index]
        if rec.status not in ("timeout", "killed") or c.index in ended:
            rec.status, rec.error, rec.output, rec.seconds, rec.refused = \
                "not_run", None, "", 0.0, []
    for i, e in ended.items():
        rec = records[i]
        rec.status, rec.error, rec.output = e["status"], e["error"], e["output"]
        rec.seconds, rec.refused = e["seconds"], e["refused"]
    return out


def _signame(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _cause(att: _Attempt, st: dict, lim: dict) -> tuple[str, str]:
    ex = att.exit or {}
    wall, cpu = float(lim["wall_seconds"]), float(lim["cpu_seconds"])
    if st["violation"]:
        return "killed", st["violation"]
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


def _isolation_summary(setup: dict, exit_iso: dict, requested: str) -> dict:
    iso = setup.get("iso") if type(setup.get("iso")) is dict else {}
    iso = {**exit_iso, **iso}
    limits = setup.get("limits") if type(setup.get("limits")) is dict else {}
    full = bool(iso.get("pidns") and iso.get("netns") and iso.get("fs"))
    details = []
    if iso.get("pidns"):
        details.append("pid namespace: the child is pid 1 of its own namespace; it cannot "
                       "see or signal the grader, and killing it kills everything it started")
    if iso.get("netns"):
        details.append("network namespace: no interface but a down loopback (no network)")
    if iso.get("fs"):
        details.append("mount namespace + pivot_root: read-only root holding only /usr, /etc, "
                       "the interpreter, its site-packages, autograder/ and nn_core/; fresh "
                       "/proc, minimal /dev, private tmpfs /scratch (the only writable place)")
    if iso.get("userns"):
        details.append("user namespace (grader not root): capabilities dropped")
    if iso.get("uid") is not None:
        details.append(f"runs as uid {iso.get('uid')}, no_new_privs")
    if limits:
        details.append("rlimits: " + ", ".join(f"{k}={v}" for k, v in limits.items()))
    group = iso.get("cgroup") if type(iso.get("cgroup")) is dict else None
    if group:
        details.append(f"cgroup {group.get('mode')}: one CPU share and at most one core, "
                       "memory and tasks limited for the whole sandbox (" +
                       ", ".join(f"{k}={v}" for k, v in (group.get("limits") or {}).items())
                       + ")")
    else:
        details.append("no per-sandbox control group: CPU share, memory and task limits are "
                       "per process only")
    if not full:
        details.append("FALLBACK: namespaces unavailable or incomplete — only rlimits, a "
                       "wall-clock kill and a private uid (when root) protect the grader; "
                       "the child may read what that uid can read" +
                       (f" ({'; '.join(iso.get('errors', []))})" if iso.get("errors") else "")
                       + (" (rlimits-only requested)" if requested == "rlimits" else ""))
    return {"mode": "namespaces" if full else "rlimits-only", "requested": requested,
            "details": details, "errors": list(iso.get("errors", []))[:10],
            "notes": list(setup.get("notes", []))[:10] if type(setup.get("notes")) is list
            else []}

"""The grader's side of the zygote: start one (:func:`start_shared_zygote`),
share it with a pool's workers (:func:`attach`), ask it for a supervisor
per attempt (:meth:`_Connection.spawn`), stop it (:func:`shutdown`).  The
zygote itself is :mod:`.zygote`."""
from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from .outcome import SandboxError

__all__ = ["start_shared_zygote", "attach", "shutdown", "zygote_info", "notebook_imports",
           "die_with_parent", "get_zygote"]


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
    :func:`autograder.sandbox.zygote.preload`)."""

    def __init__(self, shareable: bool = False, preload: list[str] | None = None):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ctl_ours = ctl_theirs = None
        if shareable:
            ctl_ours, ctl_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        from .allowlist import PACKAGES, _package_dir
        roots = []
        for top in PACKAGES:                 # found, not imported: nn_core knows answers
            folder = _package_dir(top)
            root = str(Path(folder).parent) if folder else None
            if root and root not in roots:
                roots.append(root)
        boot = ("import sys; sys.path[:0] = %r; "
                "from autograder.sandbox.zygote import main; main(%d, %d, %r, %d)"
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


def get_zygote() -> _Zygote | _Attached:
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
    return dict(get_zygote().info)


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

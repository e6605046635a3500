"""The child's setup, in the child's process before any student code: its
new root (:func:`build_root`: only the allowed paths, read-only; the
course's folders hidden), its privileges, environment and resource limits
(:func:`_setup_child`), then the import gate and the hand-over to
:mod:`.child` (:func:`child`).  Trusted code: the supervisor
(:mod:`.zygote`) forks the child into it."""
from __future__ import annotations

import os
import resource
import signal
import sys
import time

from . import _linux as L
from .child import wire

__all__ = ["child", "build_root"]


# ---------------------------------------------------------------------------
# the child: isolation, then the student's code

_ALLOWED: list[str] | None = None


def _allowed_paths() -> list[str]:
    """What the child may read: the system, the interpreter and its packages
    (computed once, in the zygote)."""
    global _ALLOWED
    if _ALLOWED is None:
        _ALLOWED = _compute_allowed()
    return _ALLOWED


def _compute_allowed() -> list[str]:
    import site
    import sysconfig
    # only what is needed, never a whole prefix: a course folder (grades.csv …)
    # that happens to lie under a virtual environment's prefix stays out
    paths = {"/usr", "/etc", os.path.dirname(os.path.realpath(sys.executable))}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            paths.add(sysconfig.get_path(key))
        except KeyError:
            pass
    try:
        paths.update(site.getsitepackages())
    except AttributeError:
        pass
    for entry in sys.path:
        if entry and os.path.basename(entry.rstrip("/")) in ("site-packages", "dist-packages"):
            paths.add(entry)
    for name in ("numpy", "sympy", "mpmath", "matplotlib", "IPython"):    # the toolkit: allowlist
        mod = sys.modules.get(name)
        f = getattr(mod, "__file__", None)
        if f:
            paths.add(os.path.dirname(f))
    out = set()
    for p in paths:
        if not p or not os.path.isabs(p) or not os.path.exists(p):
            continue
        out.add(os.path.normpath(p))
        real = os.path.realpath(p)
        if real != p and os.path.exists(real):
            out.add(real)
    # drop paths inside another (a recursive bind of the outer one covers them),
    # except when the inner one is a symlink target elsewhere
    result = []
    for p in sorted(out):
        if any(p != q and (p + "/").startswith(q.rstrip("/") + "/") and
               os.path.realpath(p) == os.path.join(os.path.realpath(q), os.path.relpath(p, q))
               for q in out):
            continue
        result.append(p)
    return result


def _mkdirs(path: str) -> None:
    os.makedirs(path, mode=0o755, exist_ok=True)


def _touch(path: str) -> None:
    _mkdirs(os.path.dirname(path))
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
    os.close(fd)


def build_root(mountpoint: str, hide: list[str], scratch_mb: int, uid: int | None,
               pidns: bool, notes: list[str], package_files: dict | None = None) -> None:
    """Make ``mountpoint`` (a tmpfs) the new root holding only what the
    student's code may see, pivot into it and make everything read-only
    except ``/scratch`` and ``/dev/shm``."""
    L.mount(None, "/", None, L.MS_REC | L.MS_PRIVATE)
    r = mountpoint.rstrip("/")
    L.mount("tmpfs", r, "tmpfs", L.MS_NOSUID | L.MS_NODEV, "size=2m,mode=0755")
    links = []
    for p in _allowed_paths():  # noqa: B007
        if os.path.islink(p):
            links.append(p)
            continue
        target = r + p
        if os.path.isdir(p):
            _mkdirs(target)
            L.mount(p, target, None, L.MS_BIND | L.MS_REC)
        elif os.path.isfile(p):
            _touch(target)
            L.mount(p, target, None, L.MS_BIND)
    for p in links + [f"/{n}" for n in ("bin", "sbin", "lib", "lib32", "lib64", "libx32")]:
        if os.path.islink(p) and not os.path.lexists(r + p):
            _mkdirs(os.path.dirname(r + p))
            os.symlink(os.readlink(p), r + p)
    # /dev: the harmless devices only
    _mkdirs(r + "/dev")
    L.mount("tmpfs", r + "/dev", "tmpfs", L.MS_NOSUID | L.MS_NOEXEC, "size=64k,mode=0755")
    for d in ("null", "zero", "full", "random", "urandom"):
        if os.path.exists("/dev/" + d):
            _touch(r + "/dev/" + d)
            L.mount("/dev/" + d, r + "/dev/" + d, None, L.MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{r}/dev/{name}")
    _mkdirs(r + "/dev/shm")
    L.mount("tmpfs", r + "/dev/shm", "tmpfs", L.MS_NOSUID | L.MS_NODEV | L.MS_NOEXEC,
            "size=16m,mode=1777")
    _mkdirs(r + "/proc")
    if pidns:
        L.mount("proc", r + "/proc", "proc", L.MS_NOSUID | L.MS_NODEV | L.MS_NOEXEC)
    else:
        L.mount("/proc", r + "/proc", None, L.MS_BIND | L.MS_REC)
        notes.append("no pid namespace: /proc shows the host's processes")
    _mkdirs(r + "/tmp")
    _mkdirs(r + "/scratch")
    opts = f"size={int(scratch_mb)}m,mode=0700"
    if uid is not None:
        opts += f",uid={uid},gid={uid}"
    L.mount("tmpfs", r + "/scratch", "tmpfs", L.MS_NOSUID | L.MS_NODEV, opts)
    from .allowlist import bind_packages
    bind_packages(r, package_files or {})       # of the toolkit, only the allowed files
    allowed = _allowed_paths()
    for h in hide:
        if any(h.startswith(a.rstrip("/") + "/") for a in allowed):
            _hide(r, h, allowed, notes)
    old = r + "/.oldroot"
    _mkdirs(old)
    L.pivot_root(r, old)
    os.chdir("/")
    L.umount2("/.oldroot", L.MNT_DETACH)
    os.rmdir("/.oldroot")
    try:
        L.mount_setattr("/", L.MOUNT_ATTR_RDONLY | L.MOUNT_ATTR_NOSUID, recursive=True)
        L.mount_setattr("/scratch", clear_flags=L.MOUNT_ATTR_RDONLY)
        L.mount_setattr("/dev/shm", clear_flags=L.MOUNT_ATTR_RDONLY)
    except OSError as exc:
        if exc.errno != 38:
            raise
        _remount_readonly(notes)


def _hide(r: str, h: str, allowed: list[str], notes: list[str], depth: int = 0) -> None:
    """Cover ``h`` (inside an allowed path) in the new root ``r``; when an
    allowed path lies inside ``h`` (the course folder holding
    ``autograder/``), cover every entry of ``h`` but the way to it."""
    t = r + h
    if not os.path.lexists(t) or os.path.islink(t) or h in allowed:
        return
    within = [a for a in allowed if a.startswith(h.rstrip("/") + "/")]
    if within and os.path.isdir(t) and depth < 16:
        try:
            entries = os.listdir(t)
        except OSError:
            entries = []
        for e in entries:
            _hide(r, os.path.join(h, e), allowed, notes, depth + 1)
        return
    if os.path.isdir(t):
        L.mount("tmpfs", t, "tmpfs", L.MS_NOSUID | L.MS_NODEV | L.MS_RDONLY, "size=4k,mode=0555")
    else:
        L.mount(r + "/dev/null", t, None, L.MS_BIND)
    notes.append(f"hidden inside an allowed path: {h}")


def _remount_readonly(notes: list[str]) -> None:
    """Without mount_setattr (Linux < 5.12): remount every mount read-only."""
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for p in points:
        if p in ("/scratch", "/dev/shm") or p.startswith("/proc/"):
            continue
        try:
            st = os.statvfs(p)
            flags = L.MS_REMOUNT | L.MS_BIND | L.MS_RDONLY | L.MS_NOSUID
            if st.f_flag & os.ST_NODEV:
                flags |= L.MS_NODEV
            if st.f_flag & os.ST_NOEXEC:
                flags |= L.MS_NOEXEC
            L.mount(None, p, None, flags)
        except OSError as exc:
            notes.append(f"could not make {p} read-only: {exc}")


def _address_space() -> int:
    """Bytes this (pre-loaded) interpreter already maps."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _memory_limit(limits: dict) -> int:
    """course.yaml's ``memory_mb`` in bytes, but at least 64 MiB above what the
    pre-loaded interpreter already maps, so that a tiny limit still runs
    something: the address-space rlimit of each process and the memory limit
    of the whole sandbox's control group."""
    return max(int(limits["memory_mb"]) * (1 << 20), _address_space() + (64 << 20))


def _set_limits(limits: dict) -> dict:
    baseline = _address_space()
    cpu = max(1, int(round(float(limits["cpu_seconds"]))))
    mem = _memory_limit(limits)
    nproc = int(limits["processes"])
    fsize = int(limits["file_kb"]) * 1024
    applied = {}
    for name, res, value in (("cpu", resource.RLIMIT_CPU, (cpu, cpu + 1)),
                             ("as", resource.RLIMIT_AS, (mem, mem)),
                             ("nproc", resource.RLIMIT_NPROC, (nproc, nproc)),
                             ("fsize", resource.RLIMIT_FSIZE, (fsize, fsize)),
                             ("nofile", resource.RLIMIT_NOFILE, (256, 256)),
                             ("core", resource.RLIMIT_CORE, (0, 0))):
        try:
            resource.setrlimit(res, value)
            applied[name] = value[0]
        except (OSError, ValueError) as exc:
            applied[name] = f"failed: {exc}"
    applied["as_baseline_mb"] = round(baseline / (1 << 20))
    return applied


def child(req: dict, blobs: list[bytes], memfd: int, data_w: int, uid: int, gid: int,
          root: bool, iso: dict) -> None:
    from . import allowlist
    from .child import runtime as _child
    channel = _child.Channel(data_w)
    try:
        files = allowlist.package_files(req["modules"])
        limits, notes, iso, marks = _setup_child(req, memfd, uid, gid, root, iso, files)
        gate = allowlist.install(req["modules"], [f for f, src in files.items() if src]
                                 + _stack_files())
    except _Refused as exc:
        channel.send({"ev": "fatal", "error": str(exc)})
        return
    except BaseException as exc:  # noqa: BLE001 — the grader's own failure: say what it was
        import traceback
        channel.send({"ev": "fatal", "error": "sandbox setup failed: " +
                      "".join(traceback.format_exception_only(type(exc), exc)).strip()})
        return
    channel.send({"ev": "setup", "iso": iso, "limits": limits, "notes": notes,
                  "pid": os.getpid(), "cwd": os.getcwd(),
                  "marks": [(k, round(v - req["t_sent"], 4)) for k, v in marks]})
    plans = {key: wire.decode(plan, blobs, max_elements=1 << 40)
             for key, plan in req["plans"].items()}
    _child.run(req, plans, channel, int(req["limits"]["output_kb"]) * 1024, gate)


def _stack_files() -> list[str]:
    """The source files of the grader's own frames below the student's code
    (this module, the zygote's): a traceback the student prints reads them,
    which is no reach for the answers."""
    out, frame = [], sys._getframe(1)
    while frame is not None:
        out.append(frame.f_code.co_filename)
        frame = frame.f_back
    return out


class _Refused(Exception):
    pass


def _setup_child(req, memfd, uid, gid, root, iso, package_files=None):
    marks = [("fork", time.monotonic())]
    try:
        L.set_pdeathsig(signal.SIGKILL)
    except OSError:
        pass
    os.close(memfd)
    notes: list[str] = []
    mode = req.get("isolation", "auto")
    iso = dict(iso, netns=False, mountns=False, fs=False, uid=None, caps_dropped=False)
    iso["errors"] = list(iso["errors"])
    # 1. namespaces and the new root
    if mode != "rlimits" and L.available():
        try:
            L.unshare(L.CLONE_NEWNS | L.CLONE_NEWNET | L.CLONE_NEWIPC | L.CLONE_NEWUTS)
            iso["netns"] = iso["mountns"] = True
            marks.append(("unshare", time.monotonic()))
        except OSError as exc:
            iso["errors"].append(f"mount/net namespaces: {exc}")
    if iso["mountns"]:
        try:
            build_root(req["mountpoint"], req.get("hide", []), req["scratch_mb"],
                       uid if root else None, iso["pidns"], notes, package_files)
            iso["fs"] = True
            marks.append(("root", time.monotonic()))
        except OSError as exc:
            iso["errors"].append(f"filesystem isolation: {exc}")
    if mode == "namespaces" and not (iso["pidns"] and iso["netns"] and iso["fs"]):
        raise _Refused("isolation required but incomplete: " + "; ".join(iso["errors"]))
    if iso["fs"]:
        cwd = "/scratch"
    else:                         # a fresh directory per attempt inside the host scratch dir
        cwd = os.path.join(req["mountpoint"], f"run{os.getpid()}")
        os.mkdir(cwd, 0o700)
        if root:
            os.chown(cwd, uid, gid)
    os.chdir(cwd)                 # before dropping privileges: the parents may be private
    # 2. privileges
    if root:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        iso["uid"] = uid
    elif iso["userns"]:
        try:
            L.drop_capabilities()
            iso["caps_dropped"] = True
        except OSError as exc:
            iso["errors"].append(f"dropping capabilities: {exc}")
        iso["uid"] = uid
    try:
        L.set_no_new_privs()
        L.set_dumpable(False)
        L.set_pdeathsig(signal.SIGKILL)
    except OSError as exc:
        iso["errors"].append(f"prctl: {exc}")
    # 3. the scratch directory and the environment
    for d in ("tmp", ".config/matplotlib"):
        os.makedirs(d, exist_ok=True)
    course_path = os.path.join(cwd, "course.yaml")
    if req.get("course_yaml") is not None:
        with open(course_path, "w", encoding="utf-8") as f:
            f.write(req["course_yaml"])
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": cwd, "TMPDIR": cwd + "/tmp",
           "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1",
           "MPLBACKEND": "Agg", "MPLCONFIGDIR": cwd + "/.config/matplotlib",
           "PYTHONDONTWRITEBYTECODE": "1", "NNGRADE_MODE": "collect",
           "NNGRADE_STUDENT": req["student"], "NNGRADE_ASSIGNMENT": req["assignment"],
           "NNGRADE_COURSE": course_path}
    os.environ.clear()
    os.environ.update(env)
    import tempfile
    tempfile.tempdir = None
    sys.dont_write_bytecode = True
    sys.argv = [""]
    # 4. standard streams and signals
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    limits = _set_limits(req["limits"])
    marks.append(("ready", time.monotonic()))
    return limits, notes, iso, marks

"""Per-sandbox resource control with Linux control groups (v1 and v2).

rlimits bound one *process*; a submission that forks (six spinning children
after ``setsid``, three 800 MB children) escapes them by multiplying.  A
control group bounds the *sandbox*: the per-run supervisor moves itself into
a fresh group before it forks the child, so every process the submission
ever starts is counted there and cannot leave (moving a task needs write
access to the hierarchy, which the child, a private uid behind a read-only
root without ``/sys``, does not have).

Layout, under the grading process's own group of each hierarchy::

    nngrade/                 one per machine (kept)
      z-<zygote pid>/        one per zygote: its runs share one parent
        r-<supervisor pid>/  one per run: supervisor + child + descendants

Limits of a run (from ``course.yaml``'s ``sandbox:``):

* **cpu** — an equal share with every other run (v1 ``cpu.shares`` 1024,
  v2 ``cpu.weight`` 100) and at most ``cores`` CPUs (CFS quota: v1
  ``cpu.cfs_quota_us``, v2 ``cpu.max``), so a fork bomb gets one run's
  share however many processes it has, and an honest run beside it its own;
* **memory** — ``memory_mb`` for everything resident in the sandbox (v1
  ``memory.limit_in_bytes`` and, where swap is accounted,
  ``memory.memsw.limit_in_bytes``; v2 ``memory.max``, ``memory.swap.max`` 0
  and ``memory.oom.group`` 1); the kernel's OOM killer acts inside the group
  only;
* **pids** — ``processes`` + 1 (the supervisor) tasks, threads included.

:func:`probe` finds what this machine offers: cgroup v2 when its unified
hierarchy has the cpu, memory and pids controllers and they can be enabled
for our subtree, else the v1 hierarchies of those controllers that are
mounted and writable.  :class:`Controllers` says which of the three are in
force and, plainly, why any is missing (``None`` mode when none is).
"""
from __future__ import annotations

import errno
import os
import signal
import time
from dataclasses import dataclass, field

WANTED = ("cpu", "memory", "pids")
TOP = "nngrade"


# -- finding the hierarchies ----------------------------------------------------

def parse_proc_cgroup(text: str) -> dict[str, str]:
    """``/proc/<pid>/cgroup`` → {controller: path}; the v2 entry is ``""``.

    >>> parse_proc_cgroup("4:memory:/a\\n1:cpu,cpuacct:/\\n0::/u\\n")
    {'memory': '/a', 'cpu': '/', 'cpuacct': '/', '': '/u'}
    """
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, ctrls, path = parts
        for c in (ctrls.split(",") if ctrls else [""]):
            out.setdefault(c, path)
    return out


def parse_mountinfo(text: str) -> dict[str, str]:
    """``/proc/self/mountinfo`` → {controller: mount point} for cgroup v1
    mounts and ``""`` for the (first) cgroup2 mount."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, rfields = left.split(), right.split()
        if len(fields) < 5 or len(rfields) < 3:
            continue
        point = fields[4].replace("\\040", " ")
        fstype, options = rfields[0], rfields[2].split(",")
        if fstype == "cgroup2":
            out.setdefault("", point)
        elif fstype == "cgroup":
            for opt in options:
                if opt in WANTED or opt == "cpuacct":
                    out.setdefault(opt, point)
    return out


@dataclass
class Controllers:
    """What this machine offers: ``mode`` ``"v2"``, ``"v1"`` or ``None``;
    ``base``: controller → directory of our ``nngrade`` group (one directory
    for all three under v2); ``missing``: controller → why not in force."""
    mode: str | None
    base: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    @property
    def home(self) -> dict[str, str]:
        """controller → the group that holds ``nngrade/``: the prober's own,
        where a supervisor returns before it removes its run's group."""
        return {c: os.path.dirname(b) for c, b in self.base.items()}

    def describe(self) -> dict:
        return {"mode": self.mode, "controllers": sorted(self.base),
                "missing": dict(self.missing)}

    def zygote_group(self, pid: int | None = None) -> "Group":
        """Create (or reuse) the group of zygote ``pid`` (default: this
        process) under every controller in force."""
        name = f"z-{os.getpid() if pid is None else pid}"
        dirs = {c: os.path.join(b, name) for c, b in self.base.items()}
        for c, d in dirs.items():
            _mkdir(d)
        if self.mode == "v2" and dirs:
            d = next(iter(dirs.values()))
            _enable_subtree(d, WANTED)
        return Group(self.mode, dirs)

    def sweep_stale(self) -> int:
        """Remove the groups of zygotes that are gone (a killed grader):
        kill what is left in them, then remove them.  Returns how many."""
        removed = 0
        seen = set()
        for base in self.base.values():
            if base in seen or not os.path.isdir(base):
                continue
            seen.add(base)
            for name in os.listdir(base):
                if not name.startswith("z-") or not name[2:].isdigit():
                    continue
                if _pid_alive(int(name[2:])):
                    continue
                dirs = {c: os.path.join(b, name) for c, b in self.base.items()}
                Group(self.mode, dirs).destroy()
                removed += 1
        return removed


def probe(proc_cgroup: str | None = None, mountinfo: str | None = None,
          prefer: str | None = None) -> Controllers:
    """Find the cgroup hierarchies this process may use (see the module
    docstring); never raises.  ``prefer="v1"`` skips v2 (tests)."""
    try:
        if proc_cgroup is None:
            with open("/proc/self/cgroup") as f:
                proc_cgroup = f.read()
        if mountinfo is None:
            with open("/proc/self/mountinfo") as f:
                mountinfo = f.read()
    except OSError as exc:
        return Controllers(None, missing={c: f"cannot read /proc: {exc}" for c in WANTED})
    ours, mounts = parse_proc_cgroup(proc_cgroup), parse_mountinfo(mountinfo)
    why_not_v2 = "no cgroup2 mount"
    if "" in mounts and "" in ours and prefer != "v1":
        own = _join(mounts[""], ours[""])
        avail = set(_read(os.path.join(own, "cgroup.controllers")).split())
        lacking = [c for c in WANTED if c not in avail]
        if not lacking:
            top = os.path.join(own, TOP)
            try:
                _enable_subtree(own, WANTED)
                _mkdir(top)
                _enable_subtree(top, WANTED)
                return Controllers("v2", {c: top for c in WANTED})
            except OSError as exc:
                why_not_v2 = (f"cgroup v2: cannot enable {', '.join(WANTED)} below {own}: "
                              f"{exc.strerror or exc} (run the grader in a delegated cgroup "
                              "that holds no other process, or as root of a cgroup namespace)")
        else:
            why_not_v2 = f"cgroup v2 at {own} lacks the {', '.join(lacking)} controller(s)"
    base, missing = {}, {}
    for c in WANTED:
        if c not in mounts or c not in ours:
            missing[c] = f"no cgroup v1 hierarchy for {c}; {why_not_v2}"
            continue
        top = os.path.join(_join(mounts[c], ours[c]), TOP)
        try:
            _mkdir(top)
            if not os.access(top, os.W_OK):
                raise PermissionError(errno.EACCES, "not writable")
            base[c] = top
        except OSError as exc:
            missing[c] = f"cgroup v1 {c} at {top}: {exc.strerror or exc}"
    return Controllers("v1" if base else None, base, missing)


# -- one group ------------------------------------------------------------------

@dataclass
class Group:
    """One group, possibly one directory per v1 hierarchy (``dirs``)."""
    mode: str | None
    dirs: dict[str, str]

    def child(self, name: str) -> "Group":
        dirs = {c: os.path.join(d, name) for c, d in self.dirs.items()}
        for d in set(dirs.values()):
            _mkdir(d)
        return Group(self.mode, dirs)

    def limit(self, memory_mb: int | None = None, processes: int | None = None,
              cores: float | None = 1.0) -> dict:
        """Set the run's limits; returns what was applied (failures as text)."""
        applied: dict = {}

        def put(ctrl: str, fname: str, value, key: str) -> None:
            d = self.dirs.get(ctrl)
            if d is None:
                return
            try:
                _write(os.path.join(d, fname), str(value))
                applied[key] = value
            except OSError as exc:
                applied[key] = f"failed: {exc.strerror or exc}"

        v2 = self.mode == "v2"
        if cores is not None:
            period = 100_000
            quota = max(1000, int(period * cores))
            if v2:
                put("cpu", "cpu.weight", 100, "cpu_weight")
                put("cpu", "cpu.max", f"{quota} {period}", "cpu_max")
            else:
                put("cpu", "cpu.shares", 1024, "cpu_shares")
                put("cpu", "cpu.cfs_period_us", period, "cpu_period_us")
                put("cpu", "cpu.cfs_quota_us", quota, "cpu_quota_us")
        if memory_mb is not None:
            nbytes = int(memory_mb) << 20
            if v2:
                put("memory", "memory.max", nbytes, "memory_bytes")
                if _exists(self.dirs.get("memory"), "memory.swap.max"):
                    put("memory", "memory.swap.max", 0, "swap_bytes")
                if _exists(self.dirs.get("memory"), "memory.oom.group"):
                    put("memory", "memory.oom.group", 1, "oom_group")
            else:
                put("memory", "memory.limit_in_bytes", nbytes, "memory_bytes")
                if _exists(self.dirs.get("memory"), "memory.memsw.limit_in_bytes"):
                    put("memory", "memory.memsw.limit_in_bytes", nbytes, "memsw_bytes")
        if processes is not None:
            put("pids", "pids.max", int(processes), "pids_max")
        return applied

    def add(self, pid: int = 0) -> None:
        """Move task ``pid`` (0: the caller) into this group, every hierarchy."""
        for d in set(self.dirs.values()):
            _write(os.path.join(d, "cgroup.procs"), str(pid or os.getpid()))

    def pids(self) -> set[int]:
        out: set[int] = set()
        for d in set(self.dirs.values()):
            for line in _read(os.path.join(d, "cgroup.procs")).split():
                if line.isdigit():
                    out.add(int(line))
        return out

    def stats(self) -> dict:
        """Peak memory (MiB), OOM kills and the pids limit's refusals so far."""
        out: dict = {}
        m = self.dirs.get("memory")
        if m:
            peak = _read(os.path.join(m, "memory.peak" if self.mode == "v2"
                                      else "memory.max_usage_in_bytes")).strip()
            if peak.isdigit():
                out["memory_peak_mb"] = round(int(peak) / (1 << 20), 1)
            events = _keyed(_read(os.path.join(m, "memory.events" if self.mode == "v2"
                                               else "memory.oom_control")))
            if "oom_kill" in events:
                out["oom_kills"] = events["oom_kill"]
        p = self.dirs.get("pids")
        if p:
            ev = _keyed(_read(os.path.join(p, "pids.events")))
            if "max" in ev:
                out["pids_refused"] = ev["max"]
        return out

    def kill_all(self, spare: int | None = None, rounds: int = 200) -> int:
        """SIGKILL every task in the group but ``spare`` (the caller), until
        none is left; returns how many were signalled."""
        d = self.dirs.get("cpu") or next(iter(self.dirs.values()), None)
        if self.mode == "v2" and d and spare is None and _exists(d, "cgroup.kill"):
            try:
                _write(os.path.join(d, "cgroup.kill"), "1")
            except OSError:
                pass
        killed = 0
        for _ in range(rounds):
            pids = self.pids() - {spare}
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
                except OSError:
                    pass
            time.sleep(0.005)
        return killed

    def leave(self, parent_dirs: dict[str, str]) -> None:
        """Move the caller back to ``parent_dirs`` (its group before)."""
        for d in set(parent_dirs.values()):
            try:
                _write(os.path.join(d, "cgroup.procs"), str(os.getpid()))
            except OSError:
                pass

    def destroy(self) -> None:
        """Kill everything left in the group and its subgroups, remove them."""
        for d in set(self.dirs.values()):
            if not os.path.isdir(d):
                continue
            for sub in sorted(os.listdir(d)):
                p = os.path.join(d, sub)
                if os.path.isdir(p) and not os.path.islink(p):
                    Group(self.mode, {"x": p}).destroy()
        self.kill_all()
        for d in set(self.dirs.values()):
            for _ in range(100):              # dying tasks linger for a moment
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.005)


# -- small helpers -----------------------------------------------------------------

def _join(mount: str, path: str) -> str:
    return os.path.join(mount, path.lstrip("/")).rstrip("/") or "/"


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _exists(d: str | None, name: str) -> bool:
    return bool(d) and os.path.exists(os.path.join(d, name))


def _mkdir(path: str) -> None:
    try:
        os.mkdir(path, 0o755)
    except FileExistsError:
        pass


def _enable_subtree(d: str, ctrls) -> None:
    have = set(_read(os.path.join(d, "cgroup.subtree_control")).split())
    need = [c for c in ctrls if c not in have]
    if need:
        _write(os.path.join(d, "cgroup.subtree_control"), " ".join("+" + c for c in need))


def _keyed(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        if v.strip().isdigit():
            out[k] = int(v)
    return out


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

"""Per-sandbox control groups (autograder.sandbox.cgroups): finding the
hierarchies (v1, v2, neither), and on this machine's real cgroup v1
controllers: one group's fork bomb cannot take another's CPU, memory is
bounded for the group (not per process), tasks are bounded, and a killed
grader's groups are swept."""
import os
import subprocess
import sys
import time

import pytest

from autograder.sandbox import cgroups as cg

V1_MOUNTS = """\
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""


def test_parsers_read_proc_files():
    ours = cg.parse_proc_cgroup("8:pids:/\n4:memory:/api/x\n1:cpu,cpuacct:/a\n0::/u\n")
    assert ours == {"pids": "/", "memory": "/api/x", "cpu": "/a", "cpuacct": "/a", "": "/u"}
    mounts = cg.parse_mountinfo(V1_MOUNTS)
    assert mounts == {"cpu": "/sys/fs/cgroup/cpu", "cpuacct": "/sys/fs/cgroup/cpuacct",
                      "memory": "/sys/fs/cgroup/memory", "pids": "/sys/fs/cgroup/pids",
                      "": "/sys/fs/cgroup/unified"}


def _fake_v2(tmp_path, controllers="cpu memory pids"):
    root = tmp_path / "cg2"
    (root / "grader").mkdir(parents=True)
    (root / "grader" / "cgroup.controllers").write_text(controllers + "\n")
    (root / "grader" / "cgroup.subtree_control").write_text("")
    mountinfo = f"41 31 0:38 / {root} rw,relatime - cgroup2 cgroup2 rw\n"
    return root, mountinfo


def test_v2_enables_the_three_controllers_for_its_subtree(tmp_path):
    root, mountinfo = _fake_v2(tmp_path)
    (root / "grader" / "nngrade").mkdir()
    (root / "grader" / "nngrade" / "cgroup.subtree_control").write_text("")
    ctrl = cg.probe("0::/grader\n", mountinfo)
    assert ctrl.mode == "v2" and ctrl.missing == {}
    assert set(ctrl.base.values()) == {str(root / "grader" / "nngrade")}
    assert (root / "grader" / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"
    # a run's limits go to the v2 file names
    run = root / "grader" / "nngrade" / "r-1"
    run.mkdir()
    for f in ("cpu.weight", "cpu.max", "memory.max", "memory.swap.max", "memory.oom.group",
              "pids.max"):
        (run / f).write_text("")
    applied = cg.Group("v2", {c: str(run) for c in cg.WANTED}).limit(
        memory_mb=100, processes=7, cores=1.0)
    assert (run / "memory.max").read_text() == str(100 << 20)
    assert (run / "memory.swap.max").read_text() == "0"
    assert (run / "cpu.max").read_text() == "100000 100000"
    assert (run / "pids.max").read_text() == "7"
    assert not any(str(v).startswith("failed") for v in applied.values())


def test_v2_without_a_controller_falls_back_and_says_why(tmp_path):
    root, mountinfo = _fake_v2(tmp_path, controllers="cpu io")
    ctrl = cg.probe("0::/grader\n", mountinfo)
    assert ctrl.mode is None and ctrl.base == {}
    for c in cg.WANTED:
        assert "no cgroup v1 hierarchy" in ctrl.missing[c]
    assert "lacks the memory, pids controller(s)" in ctrl.missing["memory"]
    assert ctrl.describe()["mode"] is None


def test_no_cgroups_at_all_is_reported_not_raised():
    ctrl = cg.probe("0::/\n", "")
    assert ctrl.mode is None
    assert set(ctrl.missing) == set(cg.WANTED)


# -- the real thing (cgroup v1 here, as root) -------------------------------------

@pytest.fixture
def v1():
    if os.geteuid() != 0:
        pytest.skip("cgroup control needs root here")
    ctrl = cg.probe(prefer="v1")
    if ctrl.mode is None or set(ctrl.base) != set(cg.WANTED):
        pytest.skip(f"cgroup v1 cpu/memory/pids not available: {ctrl.missing}")
    z = ctrl.zygote_group()
    yield ctrl, z
    z.destroy()


def _spawn(code: str) -> subprocess.Popen:
    """A Python process that waits for a line on stdin before running
    ``code`` (so it can be put in a group first)."""
    return subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.readline()\n" + code],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _go(p: subprocess.Popen) -> None:
    p.stdin.write("go\n")
    p.stdin.flush()


def _cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and its reaped children, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def test_a_fork_bomb_gets_one_share_and_the_honest_group_its_own(v1):
    """Six spinning children after ``setsid`` (the submission in the issue) in one
    group, one honest spinner in another: the honest one gets as much CPU as the
    six together (without groups: 1/7 of it).  A ratio, so a busy machine does
    not change the verdict."""
    ctrl, z = v1
    bomb, honest = z.child("r-bomb"), z.child("r-honest")
    for g in (bomb, honest):
        g.limit(cores=1.0, processes=64)
    spin = "import time\nt = time.time()\nwhile time.time() - t < 3.0: pass\n"
    bomber = _spawn("import os, time\n"
                    "for _ in range(6):\n"
                    "    if os.fork() == 0:\n"
                    "        os.setsid()\n"
                    "        t = time.time()\n"
                    "        while time.time() - t < 3.0: pass\n"
                    "        os._exit(0)\n"
                    "time.sleep(3.5)\n")
    victim = _spawn(spin)
    bomb.add(bomber.pid)
    honest.add(victim.pid)
    _go(bomber)
    _go(victim)
    time.sleep(2.5)
    spinners = bomb.pids() - {bomber.pid}
    cpu_bomb = sum(_cpu_seconds(pid) for pid in spinners)
    cpu_victim = _cpu_seconds(victim.pid)
    victim.wait(timeout=60)
    bomber.wait(timeout=60)
    assert len(spinners) == 6
    assert cpu_victim > 0.6 * cpu_bomb, (cpu_victim, cpu_bomb)


def test_memory_is_bounded_for_the_group_not_per_process(v1):
    ctrl, z = v1
    g = z.child("r-mem")
    g.limit(memory_mb=96, processes=16)
    # three children of 60 MB each: each is under the limit, together they are not
    hog = ("import os, time\nkids=[]\n"
           "for _ in range(3):\n"
           "    pid = os.fork()\n"
           "    if pid == 0:\n"
           "        b = bytearray(60 << 20)\n"
           "        for i in range(0, len(b), 4096): b[i] = 1\n"
           "        time.sleep(3)\n"
           "        os._exit(0)\n"
           "    kids.append(pid)\n"
           "codes = [os.waitpid(k, 0)[1] for k in kids]\n"
           "print(sum(1 for c in codes if os.WIFSIGNALED(c) and os.WTERMSIG(c) == 9))\n")
    p = _spawn(hog)
    g.add(p.pid)
    _go(p)
    out, _ = p.communicate(timeout=60)
    assert int(out.strip()) >= 1
    stats = g.stats()
    assert stats["oom_kills"] >= 1
    assert stats["memory_peak_mb"] <= 96.5


def test_tasks_are_bounded_for_the_group(v1):
    ctrl, z = v1
    g = z.child("r-pids")
    g.limit(processes=5)
    forker = ("import os, time\nok = 0\n"
              "for _ in range(12):\n"
              "    try:\n"
              "        pid = os.fork()\n"
              "    except OSError:\n"
              "        continue\n"
              "    if pid == 0:\n"
              "        time.sleep(2); os._exit(0)\n"
              "    ok += 1\n"
              "print(ok, flush=True)\n"
              "os._exit(0)\n")
    p = _spawn(forker)
    g.add(p.pid)
    _go(p)
    out, _ = p.communicate(timeout=60)
    assert int(out.strip()) == 4          # 5 tasks: the forker and four children
    assert g.stats()["pids_refused"] >= 8
    g.kill_all()
    assert g.pids() == set()


def test_kill_all_reaches_daemons_that_left_the_session(v1):
    ctrl, z = v1
    g = z.child("r-daemons")
    g.limit(processes=32)
    p = _spawn("import os, time\n"
               "for _ in range(3):\n"
               "    if os.fork() == 0:\n"
               "        os.setsid()\n"
               "        if os.fork() == 0:\n"
               "            time.sleep(60)\n"
               "        os._exit(0)\n"
               "time.sleep(0.5)\n")
    g.add(p.pid)
    _go(p)
    p.wait(timeout=60)
    assert len(g.pids()) == 3             # three orphaned grandchildren, still inside
    assert g.kill_all() >= 3
    assert g.pids() == set()


def test_a_dead_graders_groups_are_swept(v1):
    ctrl, z = v1
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = ctrl.zygote_group(pid=int(dead))
    run = stale.child("r-1")
    sleeper = _spawn("import time; time.sleep(60)")
    run.add(sleeper.pid)
    assert ctrl.sweep_stale() >= 1
    assert sleeper.wait(timeout=30) == -9
    for d in stale.dirs.values():
        assert not os.path.exists(d)
    assert all(os.path.isdir(d) for d in z.dirs.values())   # a live zygote's group is kept

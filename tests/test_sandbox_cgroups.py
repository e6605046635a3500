"""The per-run control group in a real sandboxed run: the student's child
and everything it forks are in the run's own group; memory is bounded for
all of them together; the group is gone after the run."""
import os

import pytest

from autograder.config import SandboxLimits
from autograder.sandbox import cgroups, zygote_info

from test_sandbox import _cells, _full, _grade, _q_score, a4_notebook, course, course_dir  # noqa: F401

pytestmark = pytest.mark.skipif(cgroups.probe().mode is None or os.geteuid() != 0,
                                reason="no writable cgroup controllers here (" +
                                str(cgroups.probe().missing) + ")")

ROOMY = SandboxLimits(cpu_seconds=60.0, wall_seconds=60.0, memory_mb=768, processes=32,
                      output_kb=64, file_kb=1024)


def _zygote_group_dirs() -> list[str]:
    ctrl = cgroups.probe()
    pid = zygote_info()["pid"]
    return [os.path.join(b, f"z-{pid}") for b in set(ctrl.base.values())]


def test_the_child_runs_in_its_own_run_group(course, tmp_path):
    show = "print('CG', open('/proc/self/cgroup').read().replace(chr(10), ';'))"
    result, _ = _grade(course, tmp_path, a4_notebook(course, "cg1", after={"q1": show}),
                       "cg1", limits=ROOMY)
    out = _cells(result)[1]["output"]
    lines = [x for x in out.split("CG", 1)[1].split(";") if x.strip()]
    by_ctrl = {}
    for line in lines:
        _, ctrls, path = line.strip().split(":", 2)
        for c in ctrls.split(","):
            by_ctrl[c] = path
    for c in cgroups.probe().base:
        assert f"/{cgroups.TOP}/z-" in by_ctrl[c] and "/r-" in by_ctrl[c], (c, by_ctrl)
    assert result.score == result.max_score
    details = " ".join(result.details["sandbox"]["isolation"]["details"])
    assert "cgroup" in details and "memory and tasks limited for the whole sandbox" in details
    # the run's group is removed when the run ends
    for d in _zygote_group_dirs():
        assert not [n for n in os.listdir(d) if n.startswith("r-")]


def test_memory_is_bounded_for_the_whole_sandbox(course, tmp_path):
    """Three forked children of 300 MB each: every one is under the per-process
    address-space limit (768 MB), together they are over the sandbox's."""
    hog = ("import os, time\nkids = []\n"
           "for _ in range(3):\n"
           "    pid = os.fork()\n"
           "    if pid == 0:\n"
           "        b = bytearray(300 << 20)\n"
           "        for i in range(0, len(b), 4096): b[i] = 1\n"
           "        time.sleep(2)\n"
           "        os._exit(0)\n"
           "    kids.append(pid)\n"
           "for k in kids: os.waitpid(k, 0)\n")
    result, _ = _grade(course, tmp_path, a4_notebook(course, "cg2", before={"q3": hog}),
                       "cg2", limits=ROOMY)
    assert _full(result, "A4.q1") and _full(result, "A4.q2")
    peaks = [a["cgroup"]["memory_peak_mb"] for a in result.details["sandbox"]["attempts"]
             if "cgroup" in a and "memory_peak_mb" in a["cgroup"]]
    assert peaks and max(peaks) <= 768 + 1
    assert any(a.get("cgroup", {}).get("oom_kills") for a in
               result.details["sandbox"]["attempts"])

"""Where one check's CPU goes, per kind (issue 14's burst analysis).

Run after the README's test set-up::

    python benchmarks/check_profile.py [--n 40]

Judges ``--n`` checks of each kind of ``benchmarks/check_service.py``
(numeric A3.q2, formula A2.q1, function A2.q5), one student after another,
with the service's :class:`~autograder.service.judging.Checker` in this
process (no HTTP), and prints per check: the server thread's CPU for
reading the JSON and choosing the pool, for judging (decoding, variant,
references, comparison, the sandbox client), the warm formula workers'
CPU and the sandbox's (zygote, supervisors and children, reaped), and the
wall time.  Verdicts of identical formula checks are memoised (per
question, variant and answers), as in the service.  A burst of ``S``
students needs at least ``S × (sum of one check's CPU) / cores`` seconds.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import check_service as B  # noqa: E402

from autograder import formula_pool  # noqa: E402
from autograder.config import load_course  # noqa: E402
from autograder.sandbox import zygote_info  # noqa: E402
from autograder.service.judging import Checker  # noqa: E402
from autograder.service.limits import Limits  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40)
    a = ap.parse_args()
    course = load_course(ROOT / "course.yaml")
    pool = formula_pool.use_workers(2, wait=120)
    checker = Checker(course, Limits())
    students = [f"s{i:04d}" for i in range(a.n + 1)]
    bodies = {(s, k): json.dumps(B.request_body(course, k, s)).encode()
              for s in students for k in B.KINDS}
    for kind in B.KINDS:                                  # warm: zygote, workers, imports
        checker.check(students[-1], json.loads(bodies[(students[-1], kind)]))
    zygote = zygote_info()["pid"]
    out = {}
    for kind in B.KINDS:
        workers = [w.proc.pid for w in pool._idle]
        w0, z0 = sum(B.tree_cpu(p) for p in workers), B.tree_cpu(zygote)
        parse = judge = 0.0
        wall0 = time.perf_counter()
        for s in students[:a.n]:
            t0 = time.thread_time()
            body = json.loads(bodies[(s, kind)])
            checker.kind(body)
            t1 = time.thread_time()
            checker.check(s, body)
            parse, judge = parse + t1 - t0, judge + time.thread_time() - t1
        wall = time.perf_counter() - wall0
        same = [w.proc.pid for w in pool._idle] == workers
        w1, z1 = sum(B.tree_cpu(p) for p in workers), B.tree_cpu(zygote)
        out[kind] = {"json_ms": round(1000 * parse / a.n, 2),
                     "judge_server_ms": round(1000 * judge / a.n, 2),
                     "formula_workers_ms": round(1000 * (w1 - w0) / a.n, 2) if same else None,
                     "sandbox_ms": round(1000 * (z1 - z0) / a.n, 2),
                     "wall_ms": round(1000 * wall / a.n, 2)}
    print(json.dumps({"n": a.n, "cpus": os.cpu_count(), "load_average": os.getloadavg(),
                      "per_check": out}, indent=1))


if __name__ == "__main__":
    main()

"""The check service under a class: N students checking at once.

Run after the README's test set-up::

    python benchmarks/check_service.py [--students 200] [--rounds 1] [--think 10] [--processes N]

Starts ``nngrade serve`` on 127.0.0.1 (a free port, in a process of its
own, ``--processes`` server processes: default one per core) with one token per simulated student, then lets
``--students`` clients (one thread each, in this process) issue, in a random
order per student, ``--rounds`` of each kind of check, ``--think`` seconds
apart on average (exponentially distributed, the first at a uniform time
in ``[0, think]``: students working at once, each checking every few
seconds — the default 10 s is a busy lab); ``--think 0`` sends every
student's checks at the same instant, back to back (a burst: latency is
then queueing behind ~600 simultaneous checks on 2 cores):

* **numeric** — A3.q2 (four arrays, error carried forward from q1);
* **formula** — A2.q1 (two formulas, parsed and compared by the formula
  checker);
* **function** — A2.q5 (the student's ``sigmoid`` and ``log_softmax`` cells,
  run in the grading sandbox on the public inputs).

Each student's answers are right for their own variant (the reference
through the question definitions). It writes
``benchmarks/results/check_service.json``: p50, p95 and p99 latency per
kind, checks per second over the whole run, failed requests (must be 0),
and, beside them, the same checks judged locally in this one process
(what ``checks: local`` costs a kernel). Goal (issue 14): p95 ≤ 250 ms for
numeric and formula checks, ≤ 1 s for function checks, at 200 students on
2 cores.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.config import load_course  # noqa: E402
from autograder.judge import grade_question, part_points, policy_for, variant_of  # noqa: E402
from autograder.protocol import answers_from_wire, to_wire  # noqa: E402
from autograder.questions import get_question  # noqa: E402
from autograder.service.auth import make_tokens  # noqa: E402
from autograder.service.codec import encode_answers  # noqa: E402
from autograder.service.judging import public_seed  # noqa: E402
from autograder.service.limits import Limits  # noqa: E402
from autograder.service.server import serve  # noqa: E402

CELLS = [
    "import numpy as np\n"
    "def sigmoid(x):\n    x = np.asarray(x, dtype=float)\n    e = np.exp(-np.abs(x))\n"
    "    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))\n",
    "def log_softmax(z):\n    z = np.asarray(z, dtype=float)\n"
    "    m = z.max(axis=-1, keepdims=True)\n"
    "    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))\n",
]
KINDS = {"numeric": ("A3", "A3.q2"), "formula": ("A2", "A2.q1"), "function": ("A2", "A2.q5")}


def request_body(course, kind: str, student: str) -> dict:
    aid, qid = KINDS[kind]
    params, _ = variant_of(course, aid, student)
    body = {"assignment": aid, "question": qid, "answers": {}}
    if kind == "numeric":
        wire = {q: {p: to_wire(v, "num") for p, v in get_question(f"A3.{q}").reference(params).items()}
                for q in ("q1", "q2")}
        body["answers"] = encode_answers(wire)
    elif kind == "formula":
        body["answers"] = {"q1": {"dsigmoid": {"type": "text", "value": "sigmoid(x)*(1-sigmoid(x))"},
                                  "d2sigmoid": {"type": "text",
                                                "value": "sigmoid(x)*(1-sigmoid(x))*(1-2*sigmoid(x))"}}}
    else:
        body["cells"] = CELLS
    return body


def percentiles(xs: list[float]) -> dict:
    if not xs:
        return {}
    a = np.asarray(xs) * 1000
    return {"n": len(xs), "p50_ms": round(float(np.percentile(a, 50)), 1),
            "p95_ms": round(float(np.percentile(a, 95)), 1),
            "p99_ms": round(float(np.percentile(a, 99)), 1)}


def local_times(course, rounds: int = 5) -> dict:
    """The same checks judged in this process (no sandbox for functions: the
    local check runs them in the kernel)."""
    ns: dict = {"np": np}
    for src in CELLS:
        exec(src, ns)  # noqa: S102 — our own benchmark cells
    from autograder.functions import InProcessRunner
    out = {}
    for kind, (aid, qid) in KINDS.items():
        q = get_question(qid)
        times = []
        for i in range(rounds):
            student = f"s{i:04d}"
            params, _ = variant_of(course, aid, student)
            from autograder.service.codec import decode_answers
            from autograder.protocol import answer_names
            answers = answers_from_wire(decode_answers(request_body(course, kind, student)["answers"],
                                                       answer_names(aid)))
            t0 = time.perf_counter()
            grade_question(q, answers, params, lambda part: policy_for(course, qid, part),
                           part_points(course, q), InProcessRunner(ns), public_seed(course, aid, student))
            times.append(time.perf_counter() - t0)
        out[kind] = percentiles(times)
    return out


def _serve(tokens_path: str, limits: Limits, port: int, processes: int) -> None:
    """``nngrade serve`` itself, in a process of its own (as in production:
    the students' clients do not share its interpreter)."""
    course = load_course(ROOT / "course.yaml")
    serve(course, port=port, tokens=tokens_path, limits=limits, processes=processes)


def tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and its live descendants, with the children
    each has reaped (the sandbox's supervisors and children, forked formula
    checks): what the service has spent."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stats[int(d)] = open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(stats[int(d)][1]), []).append(int(d))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        if p in stats:
            total += sum(int(x) for x in stats[p][11:15])
        todo.extend(children.get(p, []))
    return total / os.sysconf("SC_CLK_TCK")


def _wait_healthy(base: str, server, timeout: float = 300) -> None:
    end = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(base + "/v1/health", timeout=5).read()
            return
        except OSError:
            if not server.is_alive() or time.monotonic() > end:
                raise SystemExit("the service did not start") from None
            time.sleep(0.3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--think", type=float, default=10.0,
                    help="mean seconds between one student's checks (exponential; the "
                         "first check at a uniform time in [0, think]); 0: everyone at once")
    ap.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                    help="server processes (nngrade serve --processes; default: one per core)")
    ap.add_argument("--fn-nice", type=int, default=Limits().fn_nice,
                    help="CPU priority of function checks (nngrade serve --fn-nice)")
    ap.add_argument("--kinds", default=",".join(KINDS),
                    help="the kinds of check each student sends (comma-separated; default all)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "check_service.json")
    a = ap.parse_args()
    kinds = [k for k in a.kinds.split(",") if k]
    if not kinds or any(k not in KINDS for k in kinds):
        ap.error(f"--kinds: some of {', '.join(KINDS)}")
    load_before = os.getloadavg()
    import multiprocessing
    course = load_course(ROOT / "course.yaml")
    students = [f"s{i:04d}" for i in range(a.students)]
    tokens = make_tokens(students)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "tokens.json").write_text(json.dumps(tokens))
        limits = Limits(per_minute=10_000, burst=10_000, fn_queue=10 * a.students,
                        fn_nice=a.fn_nice)
        ctx = multiprocessing.get_context("fork")        # before any thread of ours exists
        import socket
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = ctx.Process(target=_serve, args=(str(Path(tmp) / "tokens.json"), limits, port,
                                                  a.processes), daemon=True)
        server.start()
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base, server)
        bodies = {(s, k): json.dumps(request_body(course, k, s)).encode() for s in students for k in KINDS}
        for _ in range(2 * a.processes):         # every process's zygote and formula workers warm
            for kind in KINDS:
                warm = urllib.request.Request(base + "/v1/check", data=bodies[(students[0], kind)],
                                              headers={"Authorization": f"token {tokens[students[0]]}"})
                urllib.request.urlopen(warm, timeout=600).read()
        times: dict[str, list[float]] = {k: [] for k in kinds}
        failures: list[str] = []
        lock, start = threading.Lock(), threading.Barrier(a.students)

        def student(s: str) -> None:
            plan = [k for _ in range(a.rounds) for k in kinds]
            rng = random.Random(s)
            rng.shuffle(plan)
            start.wait()
            if a.think > 0:
                time.sleep(rng.uniform(0, a.think))
            for i, kind in enumerate(plan):
                if i and a.think > 0:
                    time.sleep(rng.expovariate(1 / a.think))
                req = urllib.request.Request(base + "/v1/check", data=bodies[(s, kind)],
                                             headers={"Authorization": f"token {tokens[s]}"})
                t0 = time.perf_counter()
                try:
                    reply = json.loads(urllib.request.urlopen(req, timeout=600).read())
                    ok = all(r["status"] == "correct" for r in reply["results"])
                    why = None if ok else f"{s} {kind}: not all parts correct"
                except (urllib.error.URLError, OSError, ValueError) as exc:
                    why = f"{s} {kind}: {exc}"
                dt = time.perf_counter() - t0
                with lock:
                    times[kind].append(dt)
                    if why:
                        failures.append(why)

        threads = [threading.Thread(target=student, args=(s,)) for s in students]
        cpu0, mine0 = tree_cpu(server.pid), time.process_time()
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        service_cpu, client_cpu = tree_cpu(server.pid) - cpu0, time.process_time() - mine0
        server.terminate()
        server.join(30)
    total = sum(len(v) for v in times.values())
    result = {"students": a.students, "rounds": a.rounds, "think_s": a.think, "cpus": os.cpu_count(),
              "processes": a.processes, "fn_nice": a.fn_nice,
              "load_average_before": [round(x, 2) for x in load_before],
              "load_average_after": [round(x, 2) for x in os.getloadavg()],
              "service": {k: percentiles(v) for k, v in times.items()},
              "checks_per_second": round(total / wall, 2), "wall_s": round(wall, 2),
              # CPU the service (all its processes) and this client spent on the run
              "service_cpu_s": round(service_cpu, 2), "client_cpu_s": round(client_cpu, 2),
              "failures": len(failures), "failure_examples": failures[:5],
              "local_in_one_process": local_times(course)}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

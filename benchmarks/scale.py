"""Grading a large synthetic class: throughput and the grader's memory.

::

    python benchmarks/scale.py [--n 10000] [--small N/10] [--workers CORES]
                               [--job sandbox|replay] [--keep]

Makes a synthetic class of ``--n`` submissions of A3 in nbgrader's layout
(a temporary folder): per 20 students 8 correct (the example class's alice),
2 carried forward (dave), 5 with the catalogued mistakes (bob), 2 blank
(carol), 2 that crash the interpreter (frank, ``os._exit``) and 1 malformed
(alice's JSON cut in half). It grades them with
:func:`autograder.pipeline.grade_class` — a process pool of ``--workers``
processes, each with its sandbox zygote; the results in a ResultStore and an
SQLite gradebook in the same folder — and reports:

* wall time and throughput (submissions per second);
* the **parent** (grading) process's peak resident memory (``VmHWM``) and
  its RSS at every tenth of the run — the parent is what must not grow with
  the class; and, sampled at the same moments, the largest RSS among its
  descendants (pool workers, their sandbox zygotes, running sandboxes) and
  their sum (shared pages counted in each);
* how many results the parent still holds at each tenth (results waiting
  for the gradebook, for instance) and how long the run went on after the
  last result was stored (the gradebook catching up);
* the gradebook's size on disk (it does grow with the class, by design);
* how long a restart takes when everything is graded already (each
  submission is looked up in the store and the gradebook);
* per kind of submission, the mean score and the statuses (a sanity check
  that the class was really graded).

Each size runs in a fresh Python process, ``--small`` (default N/10) first,
so the two peaks compare like with like. ``--job replay`` replaces the
sandbox by replaying one real result per kind (graded first): it measures
the pipeline's own bookkeeping (futures, store, gradebook) at a large N in
a fraction of the time.

Prints a table and writes ``benchmarks/results/scale.json``.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AID = "A3"
LIMIT_S = 10
# per 20 students
MIX = ["alice"] * 8 + ["dave"] * 2 + ["bob"] * 5 + ["carol"] * 2 + ["frank"] * 2 + ["malformed"]
KIND_GROUP = {"alice": "honest", "dave": "honest", "bob": "wrong", "carol": "broken",
              "frank": "broken", "malformed": "broken"}


def kind_of(index: int) -> str:
    return MIX[index % len(MIX)]


def student_id(index: int) -> str:
    return f"u{index:06d}_{kind_of(index)}"


def status_kb(field: str) -> int:
    """A ``/proc/self/status`` field (kB)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def tree_rss_kb() -> tuple[int, int]:
    """(largest, sum) RSS of this process's descendants — the pool's
    forkserver and workers, their sandbox zygotes and running sandboxes."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                text = Path(f"/proc/{name}/stat").read_text()
            except OSError:
                continue
            children.setdefault(int(text[text.rindex(")") + 2:].split()[1]), []).append(int(name))
    todo, rss = [os.getpid()], []
    while todo:
        for pid in children.get(todo.pop(), []):
            todo.append(pid)
            try:
                with open(f"/proc/{pid}/status") as fh:
                    rss += [int(line.split()[1]) for line in fh if line.startswith("VmRSS:")]
            except OSError:
                pass
    return (max(rss, default=0), sum(rss))


def make_course(root: Path) -> Path:
    import yaml
    data = yaml.safe_load((ROOT / "course.yaml").read_text(encoding="utf-8"))
    data["sandbox"]["cpu_seconds"] = data["sandbox"]["wall_seconds"] = LIMIT_S
    path = root / "course.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def make_class(root: Path, n: int, name: str) -> None:
    examples = ROOT / "examples" / AID
    blobs = {k: (examples / f"{k}.ipynb").read_bytes() for k in set(MIX) - {"malformed"}}
    blobs["malformed"] = blobs["alice"][: len(blobs["alice"]) // 2]
    for i in range(n):
        folder = root / "submitted" / student_id(i) / AID
        folder.mkdir(parents=True)
        (folder / name).write_bytes(blobs[kind_of(i)])


# -- the replay job (module level: it must pickle by reference) ---------------------------

_TEMPLATES: dict[str, str] = {}


def replay_job(course_path, assignment, notebook_path, student, source_notebook) -> str:
    """One real result per kind, re-labelled for ``student``."""
    if not _TEMPLATES:
        _TEMPLATES.update(json.loads(Path(os.environ["NNGRADE_SCALE_TEMPLATES"]).read_text()))
    data = json.loads(_TEMPLATES[student.partition("_")[2]])
    data["student"] = student
    return json.dumps(data)


def make_templates(course, course_path: Path, name: str, work: Path) -> Path:
    """Grade one submission of each kind in the sandbox; their JSON by kind."""
    from autograder.grading import grade_notebook
    from autograder.sandbox import shutdown
    root = work / "templates"
    make_class(root, len(MIX), name)
    out = {}
    for i in range(len(MIX)):
        kind = kind_of(i)
        if kind not in out:
            nb = root / "submitted" / student_id(i) / AID / name
            out[kind] = grade_notebook(course, AID, nb, student_id(i),
                                       source_notebook=ROOT / "exercises" / name).to_json()
    shutdown()
    path = work / "templates.json"
    path.write_text(json.dumps(out))
    return path


# -- one size, in a fresh process ---------------------------------------------------------

def run_one(n: int, workers: int, job_kind: str, work: Path) -> dict:
    from autograder.config import load_course
    from autograder.pipeline import grade_class, grade_job
    from autograder.submissions import ResultStore, discover

    work.mkdir(parents=True, exist_ok=True)
    course_path = make_course(work)
    course = load_course(course_path)
    name = course.assignment(AID).notebook
    job = grade_job
    if job_kind == "replay":
        os.environ["NNGRADE_SCALE_TEMPLATES"] = str(make_templates(course, course_path, name, work))
        job = replay_job
    t0 = time.perf_counter()
    make_class(work, n, name)
    made_s = time.perf_counter() - t0
    subs, problems = discover(work, AID, name)
    assert len(subs) == n and not problems, problems
    store = ResultStore(work / "nngrade" / "results")
    gradebook = work / "gradebook.db"
    rss_start = status_kb("VmRSS")
    from autograder.results import AssignmentResult
    samples, workers_kb, alive = [], [], []
    step = max(1, n // 10)
    last = [0.0]

    def progress(done, total, student):
        last[0] = time.perf_counter()
        if done % step == 0 or done == total:
            samples.append((done, status_kb("VmRSS")))
            workers_kb.append(tree_rss_kb())
            # results not yet let go of (e.g. waiting for the gradebook)
            alive.append((done, sum(isinstance(o, AssignmentResult) for o in gc.get_objects())))

    started = time.perf_counter()
    run = grade_class(course, course_path, AID, subs, store, gradebook_url=f"sqlite:///{gradebook}",
                      source_notebook=ROOT / "exercises" / name, workers=workers, force=True,
                      progress=progress, job=job)
    wall = time.perf_counter() - started
    lag = time.perf_counter() - last[0]
    peak_self_kb = status_kb("VmHWM")
    # a restart with nothing left to do: every submission found in the store and the gradebook
    started = time.perf_counter()
    again = grade_class(course, course_path, AID, subs, store, gradebook_url=f"sqlite:///{gradebook}",
                        source_notebook=ROOT / "exercises" / name, workers=workers, job=job)
    resume_s = time.perf_counter() - started
    assert len(again.skipped) == n and not again.graded and not again.recorded

    # what the class earned, per kind (read back from the store)
    scores, statuses = defaultdict(list), defaultdict(Counter)
    for r in store.all(AID):
        kind = r.student.partition("_")[2]
        scores[kind].append(r.score)
        sandbox = r.details.get("sandbox") if isinstance(r.details.get("sandbox"), dict) else {}
        statuses[kind][r.details.get("status") or sandbox.get("status") or "?"] += 1
    from autograder.gradebook import GradebookStore
    with GradebookStore(f"sqlite:///{gradebook}", create=False) as gb:
        recorded = gb.load_scores(AID)
    assert len(recorded) == n, (len(recorded), n)
    return {
        "n": n, "workers": workers, "job": job_kind,
        "wall_s": round(wall, 2), "per_s": round(n / wall, 2),
        "make_class_s": round(made_s, 2),
        "resume_nothing_left_s": round(resume_s, 2),
        "graded": len(run.graded), "grader_errors": len(run.failed),
        "parent_rss_start_mb": round(rss_start / 1024, 1),
        "parent_peak_rss_mb": round(peak_self_kb / 1024, 1),
        "parent_growth_mb": round((peak_self_kb - rss_start) / 1024, 1),
        "parent_rss_mb_by_progress": [(d, round(kb / 1024, 1)) for d, kb in samples],
        "results_alive_in_parent_by_progress": alive,
        "after_last_result_s": round(lag, 2),
        "largest_child_rss_mb": round(max((m for m, _ in workers_kb), default=0) / 1024, 1),
        "children_rss_sum_mb_by_progress": [(d, round(t / 1024, 1))
                                            for (d, _), (_, t) in zip(samples, workers_kb)],
        "gradebook_mb": round(gradebook.stat().st_size / 2**20, 2),
        "gradebook_kb_per_submission": round(gradebook.stat().st_size / 1024 / n, 2),
        "results_mb": round(sum(p.stat().st_size for p in (work / "nngrade" / "results" / AID).iterdir())
                            / 2**20, 2),
        "by_kind": {k: {"n": len(v), "mean_score": round(sum(v) / len(v), 3),
                        "statuses": dict(statuses[k])} for k, v in sorted(scores.items())},
    }


# -- driver -------------------------------------------------------------------------------

def table(rows: list[dict]) -> str:
    head = (f"{'N':>7} {'workers':>7} {'job':>8} {'wall s':>8} {'subm/s':>8} "
            f"{'resume s':>8} {'parent RSS start':>16} {'parent peak':>11} {'growth':>7} "
            f"{'largest child':>13} {'gradebook':>10} {'kB/subm':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['n']:>7} {r['workers']:>7} {r['job']:>8} {r['wall_s']:>8.1f} "
                     f"{r['per_s']:>8.2f} {r['resume_nothing_left_s']:>8.1f} "
                     f"{r['parent_rss_start_mb']:>13.1f} MB "
                     f"{r['parent_peak_rss_mb']:>8.1f} MB {r['parent_growth_mb']:>4.1f} MB "
                     f"{r['largest_child_rss_mb']:>10.1f} MB {r['gradebook_mb']:>7.2f} MB "
                     f"{r['gradebook_kb_per_submission']:>7.2f}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="class size [10000]")
    ap.add_argument("--small", type=int, default=None, help="the smaller class [N/10]")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="[one per core]")
    ap.add_argument("--job", choices=["sandbox", "replay"], default="sandbox",
                    help="grade in the sandbox, or replay one real result per kind [sandbox]")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "scale.json")
    ap.add_argument("--keep", action="store_true", help="keep the temporary class folders")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)      # internal: one size
    ap.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one is not None:
        print("RESULT " + json.dumps(run_one(args.one, args.workers, args.job, args.dir)))
        return

    small = args.small if args.small is not None else max(len(MIX), args.n // 10)
    base = Path(tempfile.mkdtemp(prefix="nngrade-scale-"))
    rows = []
    try:
        for n in (small, args.n):
            print(f"grading {n} submissions ({args.job}, {args.workers} workers) in {base / str(n)} …",
                  file=sys.stderr, flush=True)
            p = subprocess.run([sys.executable, __file__, "--one", str(n), "--workers", str(args.workers),
                                "--job", args.job, "--dir", str(base / str(n))],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT)
            found = [line for line in p.stdout.splitlines() if line.startswith("RESULT ")]
            if p.returncode != 0 or not found:
                sys.exit(f"the run of {n} failed (exit {p.returncode}):\n{p.stdout[-3000:]}")
            rows.append(json.loads(found[-1][len("RESULT "):]))
            if not args.keep:
                shutil.rmtree(base / str(n), ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    a, b = rows
    out = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                    "load_avg_at_end": os.getloadavg()},
        "mix_per_20": dict(Counter(MIX)),
        "runs": rows,
        "parent_peak_growth_mb_from_small_to_large": round(b["parent_peak_rss_mb"] - a["parent_peak_rss_mb"], 1),
        "parent_peak_growth_kb_per_extra_submission":
            round((b["parent_peak_rss_mb"] - a["parent_peak_rss_mb"]) * 1024 / max(1, b["n"] - a["n"]), 3),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(table(rows))
    print(f"\nparent peak RSS, {a['n']} → {b['n']} submissions: "
          f"{out['parent_peak_growth_mb_from_small_to_large']:+.1f} MB "
          f"({out['parent_peak_growth_kb_per_extra_submission']:.2f} kB per extra submission)")
    for r in rows:
        print(f"  N={r['n']}: parent RSS by progress (done, MB): {r['parent_rss_mb_by_progress']}")
        print(f"  N={r['n']}: children's RSS sum by progress (done, MB): "
              f"{r['children_rss_sum_mb_by_progress']}")
        print(f"  N={r['n']}: AssignmentResult objects alive in the parent by progress: "
              f"{r['results_alive_in_parent_by_progress']}; the run ended "
              f"{r['after_last_result_s']} s after the last result was stored")
    print("  per kind (largest run):")
    for k, v in b["by_kind"].items():
        print(f"    {k:<10} n={v['n']:<6} mean {v['mean_score']:>5g}  {v['statuses']}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

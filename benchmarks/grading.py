"""``nngrade grade`` against ``nbgrader autograde`` on the same submissions.

Run after the README's test set-up::

    python benchmarks/grading.py [--honest 8] [--limit 10]

One run builds a temporary nbgrader course directory for A3 (source from
``solutions/``, ``generate_assignment``), writes ``--honest`` submissions
(the example class's correct notebook under different student ids: each
computes its own variant), and times, side by side:

1. honest class — ``nbgrader autograde A3`` (serial, one Jupyter kernel per
   notebook, as nbgrader does it) vs ``nngrade grade`` (sandboxed, one
   worker per core);
2. the same class plus one submission with an infinite loop — nbgrader with
   its cell timeout set to ``--limit`` seconds, nngrade with the sandbox's
   wall limit set to the same.

nngrade runs once before and once after nbgrader on each class, and its
time is the mean of the two (the machine's speed drifts over the minutes
nbgrader takes).

It prints a table and writes ``benchmarks/results/grading.json``: seconds
per submission for each, the throughput ratio (nbgrader time ÷ nngrade
time) over the whole class and in nngrade's steady state (after its worker
processes and the sandbox's zygote have started — a fixed cost of a few
seconds per run that a large class amortizes), and what the infinite loop
added to each run. Both are timed as commands in a fresh process
(``python -m nbgrader autograde``; ``nngrade grade``, the command the
README installs). Both graders must agree on every honest total
(checked).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.config import load_course  # noqa: E402
from autograder.release import nbgrader_config, run_nbgrader  # noqa: E402

AID = "A3"


def make_course(base: Path, honest: int, looping: bool, limit: int) -> Path:
    course = load_course(ROOT / "course.yaml")
    name = course.assignment(AID).notebook
    root = base / ("loop" if looping else "honest")
    (root / "source" / AID).mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / name, root / "source" / AID / name)
    cfg = yaml.safe_load((ROOT / "course.yaml").read_text(encoding="utf-8"))
    cfg["sandbox"]["wall_seconds"] = limit
    cfg["sandbox"]["cpu_seconds"] = limit
    (root / "course.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    (root / "nbgrader_config.py").write_text(
        nbgrader_config(root) + f"c.ExecutePreprocessor.timeout = {limit}\nc.Execute.timeout = {limit}\n")
    good = ROOT / "examples" / AID / "alice.ipynb"
    students = [f"s{i:03d}" for i in range(honest)] + (["zloop"] if looping else [])
    for s in students:
        target = root / "submitted" / s / AID / name
        target.parent.mkdir(parents=True)
        src = ROOT / "examples" / AID / "erin.ipynb" if s == "zloop" else good
        shutil.copy(src, target)
    run_nbgrader(root, "generate_assignment", AID, "--force")
    shutil.copytree(root / "release", root / "release_copy")
    return root


def time_nbgrader(root: Path) -> tuple[float, dict]:
    from nbgrader.api import Gradebook
    t = time.perf_counter()
    run_nbgrader(root, "autograde", AID, "--force", timeout=3600)
    seconds = time.perf_counter() - t
    name = Path(load_course(root / "course.yaml").assignment(AID).notebook).stem
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        totals = {s.student.id: gb.find_submission_notebook(name, AID, s.student.id).score
                  for s in gb.assignment_submissions(AID)}
    return seconds, totals


def time_nngrade(root: Path, workers: int) -> tuple[float, dict, float, float]:
    """``nngrade grade`` as the instructor runs it (a fresh process, its
    imports, fork server, sandbox zygote and gradebook included). When each
    submission finished is read from its stored result's modification time."""
    from autograder.submissions import ResultStore
    course = load_course(root / "course.yaml")
    name = course.assignment(AID).notebook
    script = Path(sys.executable).parent / "nngrade"       # the installed command
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "autograder.cli"]
    cmd = [*command, "grade", str(root), "-a", AID,
           "--course", str(root / "course.yaml"), "--workers", str(workers), "--force",
           "--gradebook", f"sqlite:///{root / 'nngrade.db'}",
           "--source", str(root / "release_copy" / AID / name)]
    start = time.time()
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"nngrade grade failed:\n{proc.stdout}{proc.stderr}")
    store = ResultStore(root / "nngrade" / "results")
    stamps = sorted(p.stat().st_mtime - start for p in (store.folder / AID).glob("*.json"))
    # steady state: the rate once the workers (and the sandbox's zygote) are up
    tail = stamps[len(stamps) // 4:]
    steady = (tail[-1] - tail[0]) / (len(tail) - 1) if len(tail) > 1 else seconds
    return seconds, {r.student: r.score for r in store.all(AID)}, steady, stamps[0] if stamps else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--honest", type=int, default=8, help="honest submissions [8]")
    ap.add_argument("--limit", type=int, default=10, help="time limit per notebook, seconds [10]")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    out: dict = {"assignment": AID, "honest": args.honest, "limit_s": args.limit,
                 "workers": args.workers, "cores": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="nngrade-bench-") as tmp:
        base = Path(tmp)
        for looping in (False, True):
            root = make_course(base, args.honest, looping, args.limit)
            n = args.honest + looping
            # nngrade first warms nothing nbgrader could use; order alternates per class
            # nngrade runs before and after nbgrader (this machine's speed drifts
            # by ±25% over minutes): its time is the mean of the two
            before = time_nngrade(root, args.workers)
            nb_s, nb_totals = time_nbgrader(root)
            after = time_nngrade(root, args.workers)
            runs = (before, after)
            ng_s = sum(r[0] for r in runs) / len(runs)
            ng_steady = sum(r[2] for r in runs) / len(runs)
            ng_first = sum(r[3] for r in runs) / len(runs)
            ng_totals = after[1]
            if before[1] != after[1]:
                print(f"WARNING: nngrade's two runs differ: {before[1]} vs {after[1]}")
            honest = [s for s in ng_totals if s != "zloop"]
            disagree = {s: (ng_totals[s], nb_totals.get(s)) for s in honest
                        if abs(ng_totals[s] - (nb_totals.get(s) or 0)) > 1e-9}
            key = "with_infinite_loop" if looping else "honest"
            out[key] = {"submissions": n, "nbgrader_s": nb_s, "nngrade_s": ng_s,
                        "nngrade_runs_s": [r[0] for r in runs],
                        "nbgrader_s_per_submission": nb_s / n, "nngrade_s_per_submission": ng_s / n,
                        "throughput_ratio": nb_s / ng_s, "totals_disagree": disagree,
                        "nngrade_first_result_s": ng_first,
                        "nngrade_steady_s_per_submission": ng_steady,
                        "steady_throughput_ratio": (nb_s / n) / ng_steady}
    out["loop_cost_nbgrader_s"] = out["with_infinite_loop"]["nbgrader_s"] - out["honest"]["nbgrader_s"]
    out["loop_cost_nngrade_s"] = out["with_infinite_loop"]["nngrade_s"] - out["honest"]["nngrade_s"]
    print(f"{'class':<20}{'n':>4}{'nbgrader s/nb':>15}{'nngrade s/nb':>14}{'ratio':>8}"
          f"{'nngrade steady':>16}{'ratio':>8}{'start-up s':>12}")
    for key in ("honest", "with_infinite_loop"):
        r = out[key]
        print(f"{key:<20}{r['submissions']:>4}{r['nbgrader_s_per_submission']:>15.3f}"
              f"{r['nngrade_s_per_submission']:>14.3f}{r['throughput_ratio']:>7.1f}x"
              f"{r['nngrade_steady_s_per_submission']:>16.3f}{r['steady_throughput_ratio']:>7.1f}x"
              f"{r['nngrade_first_result_s']:>12.1f}")
    print(f"infinite loop adds: nbgrader {out['loop_cost_nbgrader_s']:.1f} s, "
          f"nngrade {out['loop_cost_nngrade_s']:.1f} s (limit {args.limit} s)")
    for key in ("honest", "with_infinite_loop"):
        if out[key]["totals_disagree"]:
            print(f"WARNING: totals differ on {key}: {out[key]['totals_disagree']}")
    dest = ROOT / "benchmarks" / "results" / "grading.json"
    dest.parent.mkdir(parents=True, exist_ok=True)     # a fresh clone has no results/
    dest.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()

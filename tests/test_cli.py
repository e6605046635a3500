"""``nngrade``: every verb, the demo class end to end, resumable runs,
exports, dask, and grades that hostile classmates cannot change."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder.cli import main
from autograder.config import load_course
from autograder.gradebook import GradebookStore
from autograder.pipeline import grade_class
from autograder.protocol import grade_id
from autograder.submissions import ResultStore, discover

ROOT = Path(__file__).resolve().parents[1]
VERBS = ["release", "validate", "grade", "feedback", "export", "stats", "demo"]


def _scores(work: Path) -> dict:
    """A3's recorded scores in ``work``'s gradebook."""
    with GradebookStore(f"sqlite:///{work / 'gradebook.db'}", create=False) as gb:
        return gb.load_scores("A3")


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result


@pytest.mark.parametrize("verb", [None, *VERBS])
def test_every_verb_has_help(verb):
    r = invoke(*([verb] if verb else []), "--help")
    assert r.exit_code == 0 and "Usage:" in r.output
    if verb is None:
        assert all(v in r.output for v in VERBS)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo")
    r = invoke("demo", "--course", ROOT / "course.yaml", "--workdir", work)
    assert r.exit_code == 0, r.output
    course = load_course(work / "course.yaml")
    results = {x.student: x for x in ResultStore(work / "nngrade" / "results").all("A3")}
    return work, course, results, r.output


def test_demo_grades_the_example_class(demo):
    work, course, results, output = demo
    assert sorted(results) == ["alice", "bob", "carol", "dave", "erin", "frank", "mallory"]
    top = course.assignment("A3").points
    assert results["alice"].score == top and results["carol"].score == 0
    assert "missing_activation_derivative" in {q.diagnosis for q in results["bob"].questions}
    assert any(q.carried_forward for q in results["dave"].questions)
    for student, status in (("erin", "timeout"), ("frank", "error")):
        q1 = [q for q in results[student].questions if q.question == "A3.q1"]
        q2 = [q for q in results[student].questions if q.question == "A3.q2"]
        assert all(q.status == "correct" for q in q1), student      # the rest is still graded
        assert all(q.status == status and q.score == 0 for q in q2), student
    assert results["mallory"].score == 0
    assert not any(q.status == "correct" for q in results["mallory"].questions)
    for word in ("alice", "erin", "timeout", str(work)):
        assert word in output


def test_demo_gradebook_matches_results(demo):
    work, course, results, _ = demo
    scores = _scores(work)
    assert set(scores) == set(results)
    for student, result in results.items():
        for qid in course.question_ids("A3"):
            expected = sum(q.score for q in result.questions if q.question == qid)
            assert scores[student][grade_id(qid)] == pytest.approx(expected, abs=1e-9)


def test_demo_writes_feedback_and_plots(demo):
    work, course, results, _ = demo
    for student in results:
        page = work / "feedback" / student / "A3" / f"{Path(course.assignment('A3').notebook).stem}.html"
        text = page.read_text(encoding="utf-8")
        assert student in text and "BEGIN SOLUTION" not in text and "HIDDEN" not in text
    assert len(list((work / "stats").glob("A3_*.png"))) == 3


def test_hostile_classmates_change_no_honest_grade(demo, tmp_path):
    """alice graded alone equals alice graded next to the loop, the crash and the cheat."""
    work, course, results, _ = demo
    name = course.assignment("A3").notebook
    (tmp_path / "submitted" / "alice" / "A3").mkdir(parents=True)
    shutil.copy(work / "submitted" / "alice" / "A3" / name, tmp_path / "submitted" / "alice" / "A3" / name)
    subs, _ = discover(tmp_path, "A3", name)
    store = ResultStore(tmp_path / "results")
    grade_class(course, work / "course.yaml", "A3", subs, store, workers=1,
                source_notebook=work / "exercises" / name)
    alone = store.load("A3", "alice")
    assert [(q.label, q.score, q.status) for q in alone.questions] == \
        [(q.label, q.score, q.status) for q in results["alice"].questions]


def test_grade_is_resumable_and_idempotent(demo):
    work, course, results, _ = demo
    store = ResultStore(work / "nngrade" / "results")
    r = invoke("grade", work, "-a", "A3", "--course", work / "course.yaml", "--workers", 1)
    assert r.exit_code == 0 and "skipped 7" in r.output
    store.path("A3", "bob").unlink()
    r = invoke("grade", work, "-a", "A3", "--course", work / "course.yaml", "--workers", 1)
    assert r.exit_code == 0 and "graded 1" in r.output and "skipped 6" in r.output
    assert store.load("A3", "bob").score == results["bob"].score
    assert len(_scores(work)) == 7


def test_export_csv_and_gradescope(demo):
    work, course, results, _ = demo
    r = invoke("export", work, "-a", "A3", "--course", work / "course.yaml", "--out", work / "grades.csv")
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader((work / "grades.csv").open(encoding="utf-8")))
    assert {row["student_id"]: float(row["raw_score"]) for row in rows} == \
        {s: x.score for s, x in results.items()}
    r = invoke("export", work, "-a", "A3", "-f", "gradescope", "--course", work / "course.yaml")
    assert r.exit_code == 0, r.output
    data = json.loads((work / "gradescope" / "erin" / "A3" / "results.json").read_text(encoding="utf-8"))
    assert data["score"] == results["erin"].score
    assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(data["tests"][0])


def test_stats_and_feedback_verbs(demo):
    work, course, results, _ = demo
    r = invoke("stats", work, "-a", "A3", "--course", work / "course.yaml", "--plots", work / "plots")
    assert r.exit_code == 0 and "A3.q2" in r.output
    r = invoke("feedback", work, "-a", "A3", "--course", work / "course.yaml", "--language", "en",
               "--out", work / "fb_en")
    assert r.exit_code == 0
    assert len(list((work / "fb_en").rglob("*.html"))) == 7


def test_clear_errors(demo, tmp_path):
    work, course, results, _ = demo
    r = CliRunner().invoke(main, ["grade", str(work), "-a", "A99", "--course", str(work / "course.yaml")])
    assert r.exit_code != 0 and "A99" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, ["stats", str(tmp_path), "-a", "A3", "--course", str(work / "course.yaml")])
    assert r.exit_code != 0 and "nngrade grade" in r.output
    # results cannot be written: the folder for them is a file
    (tmp_path / "submitted" / "x" / "A3").mkdir(parents=True)
    shutil.copy(work / "submitted" / "carol" / "A3" / course.assignment("A3").notebook,
                tmp_path / "submitted" / "x" / "A3")
    (tmp_path / "nngrade").write_text("not a folder")
    r = CliRunner().invoke(main, ["grade", str(tmp_path), "-a", "A3", "--course", str(work / "course.yaml"),
                                  "--workers", "1", "--no-gradebook"])
    assert r.exit_code != 0 and "cannot write" in r.output and "Traceback" not in r.output


def test_dask_cluster_gives_the_same_grades(demo, tmp_path):
    distributed = pytest.importorskip("distributed")
    work, course, results, _ = demo
    name = course.assignment("A3").notebook
    subs = [s for s in discover(work, "A3", name)[0] if s.student in ("alice", "bob", "dave")]
    store = ResultStore(tmp_path / "results")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        run = grade_class(course, work / "course.yaml", "A3", subs, store, scheduler=client,
                          source_notebook=work / "exercises" / name)
    assert sorted(run.graded) == ["alice", "bob", "dave"]
    for s in run.graded:
        assert store.load("A3", s).score == results[s].score


def test_command_exits_quickly_with_its_output_and_code(tmp_path):
    """The ``nngrade`` command (``autograder.cli:run``) skips the
    interpreter's teardown: what it printed still arrives whole through a
    pipe, exit handlers still run, and the exit code is click's."""
    import subprocess
    import sys

    def nngrade(*args):
        return subprocess.run([sys.executable, "-m", "autograder.cli", *args],
                              capture_output=True, text=True, timeout=120)
    ok = nngrade("--help")
    assert ok.returncode == 0 and ok.stdout.count("\n") > 5
    assert all(verb in ok.stdout for verb in ("release", "validate", "grade", "feedback",
                                                "export", "stats", "demo"))
    usage = nngrade("grade", str(tmp_path / "missing"), "-a", "A3")
    assert usage.returncode == 2 and "does not exist" in usage.stderr
    marker = tmp_path / "atexit-ran"
    code = (f"import atexit, sys; atexit.register(lambda: open({str(marker)!r}, 'w').close()); "
            f"sys.argv = ['nngrade', 'stats', {str(tmp_path)!r}, '-a', 'A3']; "
            f"from autograder.cli import run; print('x' * 100000, end=''); run()")
    failing = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=120)
    assert failing.returncode == 1 and failing.stdout == "x" * 100000
    assert marker.exists()


def test_pool_forks_from_the_grader_only_when_it_runs_no_other_thread():
    """Workers are forked from the grading process (warm, no second
    interpreter) only while it runs a single thread — a thread left behind
    by a fork could hold a lock the worker then waits on forever; otherwise
    they come from a fork server."""
    import subprocess
    import sys
    code = ("import threading, time\n"
            "from autograder.pipeline import _pool_context\n"
            "print(_pool_context().get_start_method())\n"
            "threading.Thread(target=time.sleep, args=(2,), daemon=True).start()\n"
            "print(_pool_context().get_start_method())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.split() == ["fork", "forkserver"]

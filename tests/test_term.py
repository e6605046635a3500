"""A term of ``nngrade grade`` as an instructor lives it, in order: a class
graded, a resubmission, late work with an extension for another student, a
selective regrade, a dask cluster started from another folder, and a broken
gradebook URL under the default pool.  Each step runs the real command
(``python -m autograder.cli``) and checks the grades, the exit status and
the closing report.

Expected grades come from what the notebooks are, not from the grader: the
course's reference solution earns every point of A3 (``course.yaml``'s
total), the released exercise notebook (no answers) earns none.  Late
penalties are checked against nbgrader's own computation of lateness from
the gradebook (``total_seconds_late``).  Subprocess timeouts are hang
detectors (generous), never speed checks.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
AID = "A3"
HANG_S = 600            # a hang detector: a run that never ends, not a slow one
DUE = "2025-03-10 23:59:00 +08:00"
DUE_UTC = dt.datetime(2025, 3, 10, 15, 59)


def _course_data() -> dict:
    data = yaml.safe_load((ROOT / "course.yaml").read_text(encoding="utf-8"))
    data["sandbox"]["cpu_seconds"] = data["sandbox"]["wall_seconds"] = 60
    a3 = data["assignments"][AID]
    a3["due"] = DUE
    a3["late"] = {"method": "zero"}
    a3["extensions"] = {"eve": 3}
    return data


def _notebook(kind: str, student_id: str) -> dict:
    """The reference solution ("solution") or the released notebook
    ("exercise") with ``STUDENT_ID`` set to ``student_id``."""
    folder = {"solution": "solutions", "exercise": "exercises"}[kind]
    nb = json.loads((ROOT / folder / NAME).read_text(encoding="utf-8"))
    found = 0
    for cell in nb["cells"]:
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code" and 'STUDENT_ID = ""' in src:
            cell["source"] = src.replace('STUDENT_ID = ""', f"STUDENT_ID = {student_id!r}")
            found += 1
    assert found == 1
    return nb


NAME = yaml.safe_load((ROOT / "course.yaml").read_text(encoding="utf-8"))[
    "assignments"][AID]["notebook"]


def submit(course: Path, student: str, kind: str, when: dt.datetime | None, *,
           student_id: str | None = None) -> None:
    """Hand in as ``nbgrader collect`` leaves it: the notebook and timestamp.txt."""
    folder = course / "submitted" / student / AID
    folder.mkdir(parents=True, exist_ok=True)
    (folder / NAME).write_text(json.dumps(_notebook(kind, student_id or student)),
                               encoding="utf-8")
    if when is not None:
        (folder / "timestamp.txt").write_text(when.strftime("%Y-%m-%d %H:%M:%S.%f UTC"),
                                              encoding="utf-8")


def nngrade(*args, cwd=None, timeout=HANG_S):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "autograder.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)


def stored(course: Path) -> dict:
    from autograder.submissions import ResultStore
    return {r.student: r for r in ResultStore(course / "nngrade" / "results").all(AID)}


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    """The course folder after the first grading run of the term."""
    course = tmp_path_factory.mktemp("term") / "course"
    course.mkdir()
    (course / "course.yaml").write_text(yaml.safe_dump(_course_data(), allow_unicode=True,
                                                       sort_keys=False), encoding="utf-8")
    (course / "exercises").symlink_to(ROOT / "exercises", target_is_directory=True)
    on_time = DUE_UTC - dt.timedelta(hours=5)
    submit(course, "ann", "solution", on_time)
    submit(course, "ben", "exercise", on_time)                 # will resubmit
    submit(course, "dan", "solution", DUE_UTC + dt.timedelta(days=2))   # late, no extension
    submit(course, "eve", "solution", DUE_UTC + dt.timedelta(days=2))   # late, extension 3 days
    submit(course, "mia", "solution", on_time, student_id="ann")        # someone else's id
    # run from the parent folder: ROOT relative, course.yaml found from ROOT
    first = nngrade("grade", "course", "-a", AID, "--workers", 2, cwd=course.parent)
    return course, first


def full_marks() -> float:
    from autograder.config import load_course
    return load_course(ROOT / "course.yaml").assignment(AID).points


def test_class_graded_with_report(term):
    course, first = term
    assert first.returncode == 0, first.stderr
    results = stored(course)
    top = full_marks()
    assert {s: r.score for s, r in results.items()} == \
        {"ann": top, "ben": 0.0, "dan": top, "eve": top, "mia": results["mia"].score}
    out = first.stdout
    assert "graded 5, skipped 0" in out and "grader errors 0" in out
    # the closing report: the wrong id and the late work need the instructor's eye
    eye = out[out.index("Needs your eye"):]
    assert "mia" in eye and "id mismatch" in eye and "'ann'" in eye
    assert "dan" in eye and "late" in eye
    assert "eve " not in eye.split("student")[0]        # extension: not late
    # the class table: every student, raw / penalty / score
    table = out[out.index("raw"):]
    for student in ("ann", "ben", "dan", "eve", "mia"):
        assert student in table


def test_late_penalty_matches_nbgrader(term):
    """dan is 2 days late (penalty 'zero'), eve 2 days late with 3 days'
    extension: nbgrader's gradebook says who is late; the CSV applies it."""
    from nbgrader.api import Gradebook
    course, _ = term
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        late = {s: gb.find_submission(AID, s).total_seconds_late for s in ("ann", "dan", "eve")}
    assert late["ann"] == 0 and late["eve"] == 0
    assert late["dan"] == pytest.approx(2 * 86400, abs=1)
    r = nngrade("export", course, "-a", AID, "--out", course / "grades.csv")
    assert r.returncode == 0, r.stderr
    rows = {row["student_id"]: row for row in
            csv.DictReader((course / "grades.csv").open(encoding="utf-8"))}
    top = full_marks()
    assert float(rows["dan"]["raw_score"]) == top
    assert float(rows["dan"]["late_submission_penalty"]) == top
    assert float(rows["dan"]["score"]) == 0
    assert float(rows["eve"]["late_submission_penalty"]) == 0 and float(rows["eve"]["score"]) == top
    assert rows["dan"]["timestamp"].startswith("2025-03-12 15:59")
    assert rows["ann"]["duedate"].startswith("2025-03-10 15:59")


def test_resubmission_is_regraded_without_force(term):
    course, _ = term
    before = {s: r.score for s, r in stored(course).items()}
    submit(course, "ben", "solution", DUE_UTC - dt.timedelta(hours=1))
    r = nngrade("grade", course, "-a", AID, "--workers", 2)
    assert r.returncode == 0, r.stderr
    assert "graded 1, skipped 4" in r.stdout and "resubmitted 1" in r.stdout
    after = {s: x.score for s, x in stored(course).items()}
    assert after["ben"] == full_marks() and before["ben"] == 0
    assert {s: v for s, v in after.items() if s != "ben"} == \
        {s: v for s, v in before.items() if s != "ben"}
    # and once graded, it is not graded again
    r = nngrade("grade", course, "-a", AID, "--workers", 2)
    assert r.returncode == 0 and "graded 0, skipped 5" in r.stdout


def test_selective_regrade(term):
    course, _ = term
    files = {s: (course / "nngrade" / "results" / AID / f"{s}.json").read_bytes()
             for s in ("ann", "ben", "dan", "eve", "mia")}
    r = nngrade("grade", course, "-a", AID, "--student", "ann", "--question", "q2")
    assert r.returncode == 0, r.stderr
    assert "graded 1" in r.stdout
    ann = stored(course)["ann"]
    assert ann.details["regraded"] == [f"{AID}.q2"] and ann.score == full_marks()
    for s in ("ben", "dan", "eve", "mia"):          # nobody else touched
        assert (course / "nngrade" / "results" / AID / f"{s}.json").read_bytes() == files[s]
    bad = nngrade("grade", course, "-a", AID, "--question", "q9")
    assert bad.returncode != 0 and "q9" in bad.stderr
    assert nngrade("grade", course, "-a", AID, "--workers", 0).returncode == 2


def test_dask_cluster_started_elsewhere(term, tmp_path):
    """Scheduler and worker processes started in another folder; ROOT given
    relative to the client's folder: every path reaches the workers whole."""
    pytest.importorskip("distributed")
    course, _ = term
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sched_file = elsewhere / "scheduler.json"
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler",
                               "--port", "0", "--no-dashboard", "--scheduler-file", sched_file],
                              cwd=elsewhere, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 120
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(sched_file.read_text())["address"]
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "2",
             "--nthreads", "1", "--no-dashboard"], cwd=elsewhere, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        r = nngrade("grade", "course", "-a", AID, "--force", "--scheduler", address,
                    "--no-gradebook", cwd=course.parent)
        assert r.returncode == 0, r.stdout + r.stderr
        results = stored(course)
        top = full_marks()
        assert results["ann"].score == top and results["ben"].score == top
        assert results["dan"].score == top
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def test_broken_gradebook_under_the_default_pool_exits(term):
    """No --workers: the default pool.  The run must end, non-zero, with the
    error — before grading anyone — and record nothing."""
    course, _ = term
    before = {s: r.to_json() for s, r in stored(course).items()}
    r = nngrade("grade", course, "-a", AID, "--force", "--gradebook", "notaurl")
    assert r.returncode == 1 and "invalid gradebook URL" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    r = nngrade("grade", course, "-a", AID, "--force", "--gradebook",
                "mysql+pymysql://u@localhost/x")
    if "needs the database driver" in r.stderr:       # (pymysql is not installed here)
        assert r.returncode == 1 and "pip install" in r.stderr
    assert {s: x.to_json() for s, x in stored(course).items()} == before


def test_every_submission_failing_is_a_failed_run(tmp_path):
    """Workers that cannot see the files: a clear error naming the host, the
    run fails (RunFailed), nothing is stored — not a column of zeros."""
    from autograder.config import load_course
    from autograder.pipeline import RunFailed, WorkerSetupError, grade_class, grade_job
    from autograder.submissions import ResultStore, discover
    with pytest.raises(WorkerSetupError, match="cannot read the course.yaml"):
        grade_job(str(tmp_path / "gone" / "course.yaml"), AID, str(tmp_path / "x.ipynb"),
                  "ann", None)
    course_dir = tmp_path / "c"
    course_dir.mkdir()
    shutil.copy(ROOT / "course.yaml", course_dir / "course.yaml")
    for s in ("ann", "ben"):
        submit(course_dir, s, "exercise", None)
    course = load_course(course_dir / "course.yaml")
    subs, _ = discover(course_dir, AID, NAME)

    def blind(*args):
        raise WorkerSetupError("the grading worker on host h cannot read the notebook")
    store = ResultStore(course_dir / "results")
    with pytest.raises(RunFailed, match="cannot read the notebook"):
        grade_class(course, course_dir / "course.yaml", AID, subs, store, workers=1, job=blind)
    assert store.all(AID) == []


def test_course_yaml_that_does_not_match_the_questions(tmp_path):
    """A renamed part or an extra question is an error naming the key and
    its line, for validate and grade alike, before anything is graded."""
    for change, key in ((lambda a3: a3["questions"]["q1"]["parts"].update(
                            {"hh": a3["questions"]["q1"]["parts"].pop("h")}),
                         "assignments.A3.questions.q1.parts.hh"),
                        (lambda a3: a3["questions"].update({"q3": 2}),
                         "assignments.A3.questions.q3")):
        data = _course_data()
        change(data["assignments"][AID])
        course = tmp_path / key.rsplit(".", 1)[-1]
        course.mkdir()
        (course / "course.yaml").write_text(yaml.safe_dump(data, sort_keys=False),
                                            encoding="utf-8")
        submit(course, "ann", "solution", None)
        lines = (course / "course.yaml").read_text(encoding="utf-8").splitlines()
        bad = key.rsplit(".", 1)[-1]
        start = lines.index(f"  {AID}:")
        line = next(i for i, text in enumerate(lines, 1)
                    if i > start and text.strip().startswith(f"{bad}:"))
        for verb in (["validate", AID, "--course", course / "course.yaml"],
                     ["grade", course, "-a", AID, "--workers", 1]):
            r = nngrade(*verb)
            assert r.returncode == 1, (verb, r.stdout, r.stderr)
            assert f"course.yaml:{line}: {key}" in r.stderr, r.stderr
        assert not (course / "nngrade").exists()


def test_export_into_a_closed_pipe_writes_every_file(term):
    course, _ = term
    out = course / "gs_pipe"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(f"{sys.executable} -m autograder.cli export {course} -a {AID} "
                       f"-f gradescope --out {out} | head -1", shell=True, capture_output=True,
                       text=True, timeout=HANG_S, env=env)
    assert "Broken pipe" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert r.stdout.count("\n") == 1
    assert len(list(out.rglob("results.json"))) == len(stored(course))


def test_unwritable_results_under_the_default_pool_exits(term, tmp_path):
    """The results cannot be written (their folder is a file): the default
    pool ends the run at once with status 1 and the reason."""
    course, _ = term
    other = tmp_path / "ro"
    shutil.copytree(course / "submitted", other / "submitted")
    shutil.copy(course / "course.yaml", other / "course.yaml")
    (other / "nngrade").write_text("not a folder")
    r = nngrade("grade", other, "-a", AID, "--no-gradebook")
    assert r.returncode == 1 and "cannot write" in r.stderr and "Traceback" not in r.stderr
    assert "[Errno" not in r.stderr


def test_a_grader_failure_is_kept_listed_and_retried(tmp_path):
    """One submission the grader fails on (not the student's fault): the
    others are graded, the failure is listed and stored as such, and the
    next run tries it again instead of keeping its zeros."""
    from autograder.config import load_course
    from autograder.pipeline import grade_class, grade_job
    from autograder.submissions import ResultStore, discover
    course_dir = tmp_path / "c"
    course_dir.mkdir()
    shutil.copy(ROOT / "course.yaml", course_dir / "course.yaml")
    submit(course_dir, "ann", "solution", None)
    submit(course_dir, "ben", "solution", None)
    course = load_course(course_dir / "course.yaml")
    subs, _ = discover(course_dir, AID, NAME)

    def flaky(*args):
        if args[3] == "ben":
            raise MemoryError("worker lost")
        return grade_job(*args)
    store = ResultStore(course_dir / "results")
    run = grade_class(course, course_dir / "course.yaml", AID, subs, store, workers=1, job=flaky)
    assert run.graded == ["ann"] and run.failed == ["ben"]
    assert store.load(AID, "ann").score == full_marks()
    assert store.load(AID, "ben").details["status"] == "grader_error"
    run = grade_class(course, course_dir / "course.yaml", AID, subs, store, workers=1)
    assert run.graded == ["ben"] and run.skipped == ["ann"]
    assert store.load(AID, "ben").score == full_marks()


def test_entries_not_graded_are_listed_in_the_closing_report(tmp_path):
    """A stray file and a FIFO in submitted/ are not graded, and the report
    at the end of the run says so, by path (not only a note on stderr at
    the start, which scrolls away under the progress bar)."""
    course = tmp_path / "course"
    course.mkdir()
    (course / "course.yaml").write_text(yaml.safe_dump(_course_data(), allow_unicode=True,
                                                       sort_keys=False), encoding="utf-8")
    (course / "exercises").symlink_to(ROOT / "exercises", target_is_directory=True)
    submit(course, "ann", "solution", DUE_UTC - dt.timedelta(hours=1))
    (course / "submitted" / "notes.txt").write_text("not a submission", encoding="utf-8")
    (course / "submitted" / "zed" / AID).mkdir(parents=True)
    os.mkfifo(course / "submitted" / "zed" / AID / NAME)
    out = nngrade("grade", course, "-a", AID, "--workers", 1, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    report = out.stdout[out.stdout.index("Needs your eye"):]
    assert "notes.txt" in report and "zed" in report and "not graded" in report
    assert stored(course)["ann"].score == full_marks()

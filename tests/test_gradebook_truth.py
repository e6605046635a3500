"""The gradebook is the one source of truth of the reporting verbs.

A class is graded with the real command; a grader then sets a manual score
with **nbgrader's own API** (what formgrader does).  ``nngrade export``
must then give the student the CSV row ``nbgrader export`` (nbgrader's own
exporter, run as a subprocess on the same database) gives; a second folder
holding only the gradebook's URL gets the same export; the feedback page
shows the instructor's score; a forced regrade keeps it; the local JSON
cache is read only without a gradebook, and the verb says so.

Expected values come from nbgrader (its exporter, its effective score) and
from the notebooks (the reference solution earns every point, the released
exercise none), never from the code under test.  Subprocess timeouts are
hang detectors.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
AID = "A3"
HANG_S = 600
NAME = yaml.safe_load((ROOT / "course.yaml").read_text(encoding="utf-8"))[
    "assignments"][AID]["notebook"]
NOTEBOOK = Path(NAME).stem
MANUAL = 2.0                     # ben's q1, set by a grader (automatic: 0)


def nngrade(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "autograder.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=HANG_S, cwd=cwd, env=env)


def nbgrader_export(course: Path, url: str, out: Path) -> dict[str, dict]:
    """nbgrader's own CSV exporter on the gradebook at ``url``."""
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.db_url = {url!r}\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", str(out)],
                       cwd=course, capture_output=True, text=True, timeout=HANG_S)
    assert r.returncode == 0, r.stdout + r.stderr
    return read_csv(out)


def read_csv(path: Path) -> dict[str, dict]:
    with path.open(encoding="utf-8") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


def _notebook(kind: str, student_id: str) -> str:
    folder = {"solution": "solutions", "exercise": "exercises"}[kind]
    nb = json.loads((ROOT / folder / NAME).read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code" and 'STUDENT_ID = ""' in src:
            cell["source"] = src.replace('STUDENT_ID = ""', f"STUDENT_ID = {student_id!r}")
    return json.dumps(nb)


def make_course(folder: Path, gradebook_url: str | None = None) -> Path:
    folder.mkdir(parents=True)
    data = yaml.safe_load((ROOT / "course.yaml").read_text(encoding="utf-8"))
    data["sandbox"]["cpu_seconds"] = data["sandbox"]["wall_seconds"] = 60
    if gradebook_url:
        data["gradebook_url"] = gradebook_url
    (folder / "course.yaml").write_text(yaml.safe_dump(data, allow_unicode=True,
                                                       sort_keys=False), encoding="utf-8")
    (folder / "exercises").symlink_to(ROOT / "exercises", target_is_directory=True)
    return folder


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("truth") / "course")
    for student, kind in (("ann", "solution"), ("ben", "exercise")):
        target = course / "submitted" / student / AID / NAME
        target.parent.mkdir(parents=True)
        target.write_text(_notebook(kind, student), encoding="utf-8")
    r = nngrade("grade", course, "-a", AID, "--workers", 1)
    assert r.returncode == 0, r.stdout + r.stderr
    url = f"sqlite:///{course / 'gradebook.db'}"
    from nbgrader.api import Gradebook
    with Gradebook(url) as gb:                    # what formgrader does
        grade = gb.find_grade(f"{AID}_q1", NOTEBOOK, AID, "ben")
        assert grade.auto_score == 0.0
        grade.manual_score = MANUAL
        gb.db.commit()
        effective = gb.find_submission(AID, "ben").score
    assert effective == MANUAL
    return course, url


def full_marks() -> float:
    from autograder.config import load_course
    return load_course(ROOT / "course.yaml").assignment(AID).points


def test_export_agrees_with_nbgrader_export(graded, tmp_path):
    course, url = graded
    theirs = nbgrader_export(course, url, tmp_path / "nbgrader.csv")
    r = nngrade("export", course, "-a", AID, "--out", tmp_path / "ours.csv")
    assert r.returncode == 0, r.stderr
    ours = read_csv(tmp_path / "ours.csv")
    assert float(theirs["ben"]["raw_score"]) == MANUAL
    for student in ("ann", "ben"):
        for column in ("assignment", "student_id", "raw_score", "late_submission_penalty",
                       "score", "max_score"):
            assert float(ours[student][column]) == float(theirs[student][column]) \
                if column not in ("assignment", "student_id") else \
                ours[student][column] == theirs[student][column], (student, column)
    assert float(ours["ann"]["score"]) == full_marks()


def test_a_second_folder_with_only_the_gradebook_url(graded, tmp_path):
    course, url = graded
    first = nngrade("export", course, "-a", AID, "--out", tmp_path / "first.csv")
    assert first.returncode == 0, first.stderr
    other = make_course(tmp_path / "elsewhere", gradebook_url=url)
    assert not (other / "nngrade").exists()
    r = nngrade("export", other, "-a", AID, "--out", tmp_path / "second.csv")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "second.csv").read_text() == (tmp_path / "first.csv").read_text()
    # the same with --gradebook, from a folder whose course.yaml names none
    third = make_course(tmp_path / "third")
    r = nngrade("export", third, "-a", AID, "--gradebook", url, "--out", tmp_path / "third.csv")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "third.csv").read_text() == (tmp_path / "first.csv").read_text()
    # the other verbs read it too
    r = nngrade("stats", other, "-a", AID, "--plots", tmp_path / "plots")
    assert r.returncode == 0, r.stdout + r.stderr
    r = nngrade("feedback", other, "-a", AID, "--out", tmp_path / "fb")
    assert r.returncode == 0, r.stdout + r.stderr
    pages = [p for p in (tmp_path / "fb").rglob("*.html") if "ben" in str(p)]
    assert pages, list((tmp_path / "fb").rglob("*"))
    page = pages[0].read_text(encoding="utf-8")
    assert "Instructor&#x27;s score" in page or "Instructor's score" in page
    assert f"{MANUAL:g} / 3" in page


def test_a_forced_regrade_keeps_the_manual_score(graded, tmp_path):
    course, url = graded
    r = nngrade("grade", course, "-a", AID, "--workers", 1, "--force")
    assert r.returncode == 0, r.stdout + r.stderr
    from nbgrader.api import Gradebook
    with Gradebook(url) as gb:
        grade = gb.find_grade(f"{AID}_q1", NOTEBOOK, AID, "ben")
        assert grade.manual_score == MANUAL and grade.auto_score == 0.0
    # the class table at the end of the run shows it
    line = next(x for x in r.stdout.splitlines() if x.startswith("ben "))
    assert float(line.split()[1]) == MANUAL
    r = nngrade("export", course, "-a", AID, "--out", tmp_path / "after.csv")
    assert r.returncode == 0, r.stderr
    assert float(read_csv(tmp_path / "after.csv")["ben"]["raw_score"]) == MANUAL


def test_without_a_gradebook_the_cache_is_read_and_said(graded, tmp_path):
    course, _ = graded
    r = nngrade("export", course, "-a", AID, "--no-gradebook", "--out", tmp_path / "cache.csv")
    assert r.returncode == 0, r.stderr
    assert "manual grades" in r.stderr and str(course / "nngrade" / "results") in r.stderr
    assert float(read_csv(tmp_path / "cache.csv")["ben"]["raw_score"]) == 0.0
    # an empty folder with neither: a clear error, not an empty CSV
    empty = make_course(tmp_path / "empty", gradebook_url=f"sqlite:///{tmp_path / 'none.db'}")
    r = nngrade("export", empty, "-a", AID, "--out", tmp_path / "none.csv")
    assert r.returncode == 1 and "nngrade grade" in r.stderr
    assert not (tmp_path / "none.csv").exists()


def test_apply_manual_replaces_the_question_and_keeps_the_rest():
    """A manual score replaces the question's parts by one entry worth it;
    extra credit is added (nbgrader: score = manual + extra credit); a
    comment on the answer cell is shown; other questions are untouched."""
    from autograder.class_results import apply_manual
    from autograder.config import load_course
    from autograder.judge import grade_submission
    course = load_course(ROOT / "course.yaml")
    r = grade_submission(course, "A4", {}, "zoe")           # blank: 0 everywhere
    out = apply_manual(course, r, {"A4_q2": {"manual_score": 5.0, "extra_credit": 1.5,
                                             "comment": None},
                                   "A4_q3_answer": {"manual_score": None, "extra_credit": None,
                                                    "comment": "see me"}})
    assert out.score == 6.5 and r.score == 0.0
    q2 = out.results_for("A4.q2")
    assert [(q.part, q.score) for q in q2] == [(None, 5.0), ("extra_credit", 1.5)]
    assert "Instructor's score" in q2[0].feedback_text("en")
    q3 = out.results_for("A4.q3")
    assert q3[0].score == r.results_for("A4.q3")[0].score
    assert "see me" in q3[0].feedback_text("en")
    assert out.results_for("A4.q1") == r.results_for("A4.q1")
    assert apply_manual(course, r, {}) is r

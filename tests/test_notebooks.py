"""The course's notebooks: solutions earn full marks, untouched exercises earn
zero, ``exercises/`` is what the release step makes, and plain nbgrader
agrees with the toolkit.

One nbgrader course directory (session fixture) holds every assignment:
``generate_assignment`` from ``solutions/``, two submissions per assignment
(the solution, and the untouched exercise) and one ``nbgrader autograde``
run; the gradebook it writes is compared with the expected totals.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.config import load_course
from autograder.protocol import grade_id
from autograder.release import nbgrader_config, release, run_nbgrader

ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(ROOT / "course.yaml")
PRESENT = [a for a, cfg in COURSE.assignments.items() if (ROOT / "solutions" / cfg.notebook).is_file()]


def _nb(folder: str, aid: str) -> Path:
    return ROOT / folder / COURSE.assignment(aid).notebook


def _graded_questions(aid: str) -> dict[str, float]:
    return {grade_id(q): COURSE.points(q) for q in COURSE.question_ids(aid) if COURSE.points(q) > 0}


@pytest.mark.parametrize("aid", PRESENT)
def test_source_notebook_metadata_matches_course(aid):
    """One graded test cell per question with the course's points; answer cells
    are unlocked solution cells; grade ids are unique."""
    nb = nbformat.read(_nb("solutions", aid), as_version=4)
    meta = [c.metadata.get("nbgrader", {}) for c in nb.cells]
    ids = [m["grade_id"] for m in meta if "grade_id" in m]
    assert len(ids) == len(set(ids)), f"{aid}: duplicate grade ids"
    graded = {m["grade_id"]: m["points"] for m in meta if m.get("grade")}
    assert graded == _graded_questions(aid)
    for m in meta:
        if m.get("solution"):
            assert not m["locked"] and not m.get("grade")
            assert m["grade_id"].startswith(f"{aid}_q") and "_answer" in m["grade_id"]


def test_exercises_are_the_release_of_solutions(tmp_path):
    release(COURSE, ROOT / "solutions", tmp_path, PRESENT)
    for aid in PRESENT:
        name = COURSE.assignment(aid).notebook
        assert (tmp_path / name).read_bytes() == (ROOT / "exercises" / name).read_bytes(), \
            f"exercises/{name} is not what the release step generates; run `nngrade release`"


@pytest.mark.parametrize("aid", PRESENT)
def test_released_notebook_hides_solutions_and_hidden_tests(aid):
    text = _nb("exercises", aid).read_text(encoding="utf-8")
    for marker in ("BEGIN SOLUTION", "HIDDEN TESTS", "grade(\""):
        assert marker not in text, f"{aid}: {marker!r} leaked into the student version"


@pytest.fixture(scope="session")
def nbgrader_course(tmp_path_factory):
    """A course directory after generate_assignment and autograde of two
    submissions per assignment: ``solution`` and ``untouched``."""
    root = tmp_path_factory.mktemp("course")
    (root / "nbgrader_config.py").write_text(nbgrader_config(root))
    shutil.copy(ROOT / "course.yaml", root / "course.yaml")
    for aid in PRESENT:
        name = COURSE.assignment(aid).notebook
        (root / "source" / aid).mkdir(parents=True)
        shutil.copy(_nb("solutions", aid), root / "source" / aid / name)
        for student, folder in (("solution", "solutions"), ("untouched", "exercises")):
            (root / "submitted" / student / aid).mkdir(parents=True)
            shutil.copy(_nb(folder, aid), root / "submitted" / student / aid / name)
    pattern = PRESENT[0] if len(PRESENT) == 1 else "*"
    run_nbgrader(root, "generate_assignment", pattern, "--force")
    run_nbgrader(root, "autograde", pattern, "--force")
    return root


def _autograde_scores(root: Path, aid: str, student: str) -> dict[str, float]:
    from nbgrader.api import Gradebook
    bindir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        sub = gb.find_submission_notebook(Path(COURSE.assignment(aid).notebook).stem, aid, student)
        return {g.name: g.score for g in sub.grades if g.cell_type == "code" and g.max_score > 0}


@pytest.mark.parametrize("aid", PRESENT)
def test_nbgrader_autograde_gives_solutions_full_marks(nbgrader_course, aid):
    assert _autograde_scores(nbgrader_course, aid, "solution") == _graded_questions(aid)


@pytest.mark.parametrize("aid", PRESENT)
def test_nbgrader_autograde_gives_untouched_notebooks_zero(nbgrader_course, aid):
    scores = _autograde_scores(nbgrader_course, aid, "untouched")
    assert set(scores) == set(_graded_questions(aid))
    assert all(v == 0 for v in scores.values()), scores


@pytest.mark.parametrize("aid", PRESENT)
def test_autograded_notebooks_have_no_stderr_or_errors(nbgrader_course, aid):
    """nbgrader scores a test cell with stderr output 0: none may appear."""
    for student in ("solution", "untouched"):
        path = nbgrader_course / "autograded" / student / aid / COURSE.assignment(aid).notebook
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade"):
                kinds = [(o.output_type, o.get("name")) for o in cell.get("outputs", [])]
                assert ("stream", "stderr") not in kinds and not any(k == "error" for k, _ in kinds), \
                    f"{student} {aid} {cell.metadata.nbgrader.grade_id}: {kinds}"


@pytest.mark.parametrize("aid", PRESENT)
def test_nbgrader_validate_passes_on_solutions(aid, tmp_path):
    shutil.copy(ROOT / "course.yaml", tmp_path / "course.yaml")
    shutil.copy(_nb("solutions", aid), tmp_path / "nb.ipynb")
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", "")}
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "validate", "nb.ipynb"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert "Success! Your notebook passes all the tests." in proc.stdout, proc.stdout + proc.stderr


def _toolkit_result(aid: str, folder: str, student: str):
    from autograder.grading import grade_notebook
    return grade_notebook(COURSE, aid, _nb(folder, aid), student,
                          source_notebook=_nb("exercises", aid))


def _toolkit_scores(aid: str, folder: str, student: str, result=None) -> dict[str, float]:
    result = result or _toolkit_result(aid, folder, student)
    return {grade_id(q): sum(r.score for r in result.questions if r.question == q)
            for q in COURSE.question_ids(aid) if COURSE.points(q) > 0}


@pytest.mark.parametrize("aid", PRESENT)
def test_toolkit_grading_agrees_with_nbgrader(nbgrader_course, aid):
    """The sandboxed grader and plain nbgrader give the same per-question
    scores: full marks for the solution (lecture numbers and a student's
    own variant), zero for the untouched notebook. The solution answers every
    part, those of questions worth 0 points (feedback only) included."""
    assert _toolkit_scores(aid, "solutions", "solution") == \
        pytest.approx(_autograde_scores(nbgrader_course, aid, "solution"), abs=1e-9)
    lecture = _toolkit_result(aid, "solutions", None)
    assert _toolkit_scores(aid, "solutions", None, lecture) == \
        pytest.approx(_graded_questions(aid), abs=1e-9)
    assert {r.label: r.status for r in lecture.questions if r.status != "correct"} == {}
    assert _toolkit_scores(aid, "exercises", "untouched") == \
        pytest.approx(_autograde_scores(nbgrader_course, aid, "untouched"), abs=1e-9)


def test_every_assignment_has_its_notebooks():
    assert PRESENT == list(COURSE.assignments)
    for aid in PRESENT:
        assert _nb("exercises", aid).is_file()

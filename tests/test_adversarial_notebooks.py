"""Attacks on the notebook itself, graded through the sandbox: tampered
nbgrader metadata earns nothing extra, hostile formula strings run nothing.
(Process, file-system, network and resource attacks: tests/test_sandbox.py;
the grader's own faults: tests/test_grading_faults.py.)"""
from __future__ import annotations

import copy
import os
from pathlib import Path

import nbformat
import pytest

from autograder.config import load_course
from autograder.grading import grade_notebook

ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(ROOT / "course.yaml")


def _solution(aid):
    return nbformat.read(ROOT / "solutions" / COURSE.assignment(aid).notebook, as_version=4)


def _grade(nb, aid, student, tmp_path):
    path = tmp_path / f"{student}.ipynb"
    nbformat.write(nb, path)
    return grade_notebook(COURSE, aid, path, student,
                          source_notebook=ROOT / "exercises" / COURSE.assignment(aid).notebook)


def _answer_cell(nb, gid):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


def test_tampered_metadata_earns_nothing_extra(tmp_path):
    """Raised points, renamed grade ids, deleted and duplicated test cells:
    the score is what the answers earn, out of course.yaml's points."""
    honest = _solution("A3")
    nb = copy.deepcopy(honest)
    wrong = _answer_cell(nb, "A3_q2_answer")
    wrong.source = wrong.source.replace("q2_db1 = delta1", "q2_db1 = -delta1")
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            meta["points"] = 1000                     # raised points
        if meta.get("grade_id") == "A3_q1_answer":
            meta["grade_id"] = "A3_q2_answer"         # renamed / duplicated grade id
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "A3_q2"]
    nb.cells.append(copy.deepcopy(nb.cells[-1]))      # a duplicated cell
    tampered = _grade(nb, "A3", "tamper", tmp_path)
    plain = copy.deepcopy(honest)
    cell = _answer_cell(plain, "A3_q2_answer")
    cell.source = cell.source.replace("q2_db1 = delta1", "q2_db1 = -delta1")
    reference = _grade(plain, "A3", "tamper", tmp_path)
    assert tampered.max_score == COURSE.assignment("A3").points
    assert tampered.score == reference.score < tampered.max_score


@pytest.mark.parametrize("formula", [
    "__import__('os').system('touch {marker}')",
    "().__class__.__base__.__subclasses__()",
    "9**9**9**9",
    "(" * 5000 + "x" + ")" * 5000,
    "lambda: open('{marker}', 'w')",
])
def test_hostile_formula_strings_run_nothing(formula, tmp_path):
    marker = tmp_path / "pwned"
    nb = _solution("A1")
    cell = _answer_cell(nb, "A1_q1_answer")
    cell.source += f"\nq1_dzdx = {formula.format(marker=marker)!r}\n"
    result = _grade(nb, "A1", "formula", tmp_path)
    dzdx = next(q for q in result.questions if q.label == "A1.q1/dzdx")
    assert dzdx.score == 0 and dzdx.status in ("invalid", "wrong")
    assert dzdx.feedback_text("en")
    assert not marker.exists() and not os.path.exists("pwned")
    dzdy = next(q for q in result.questions if q.label == "A1.q1/dzdy")
    assert dzdy.status == "correct"                   # the rest is still graded

"""Source notebooks from their readable sources (issue 17, item 3):
``solutions/<notebook>.md`` → ``solutions/<notebook>.ipynb`` (``nngrade author``)."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from autograder.cli import main
from autograder.config import load_course, parse_course
from autograder.nbsource import SourceError, build, generate, source_path, write

ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(ROOT / "course.yaml")
A3_SOURCE = source_path(COURSE, ROOT / "course.yaml", "A3").read_text(encoding="utf-8")


def _cell(nb, cell_id):
    return next(c for c in nb.cells if c.get("id") == cell_id)


@pytest.mark.parametrize("aid", list(COURSE.assignments))
def test_committed_notebook_is_generated_from_its_source(aid):
    """Every cell as committed — source, nbgrader metadata (grade id, points,
    locked), cell id — and the very bytes; a hand edit of the JSON, a changed
    definition or changed points fail here, and ``nngrade author`` fixes it."""
    committed_path = ROOT / "solutions" / COURSE.assignment(aid).notebook
    made = generate(COURSE, ROOT / "course.yaml", aid)
    committed = nbformat.read(committed_path, 4)
    hint = f"solutions/ differs from its source: run `nngrade author {aid}`"
    assert [(c.cell_type, c.get("id"), c.metadata, c.source) for c in made.cells] == \
        [(c.cell_type, c.get("id"), c.metadata, c.source) for c in committed.cells], hint
    assert nbformat.writes(made) + "\n" == committed_path.read_text(encoding="utf-8"), hint


def test_cells_the_generator_adds():
    nb = nbformat.read(ROOT / "solutions" / COURSE.assignment("A3").notebook, 4)
    # answer variables from the definition's parts: the source has only the solution
    assert "q1_z1 = None" not in A3_SOURCE
    assert _cell(nb, "A3-q1-answer").source.startswith(
        "q1_z1 = None\nq1_h = None\nq1_y = None\n### BEGIN SOLUTION\n")
    # the heading: number and points (course.yaml: 1 + 1 + 1) around the source's "### forward pass"
    assert "### Question 1: forward pass (3 points)\n" in _cell(nb, "A3-q1-statement").source
    assert _cell(nb, "A3-q2").metadata.nbgrader.points == 7
    # a hint written beside an answer variable stays, the others are generated
    a1 = nbformat.read(ROOT / "solutions" / COURSE.assignment("A1").notebook, 4)
    assert _cell(a1, "A1-q1-answer").source.startswith(
        'q1_dzdx = None    # 例如 / e.g. "3*x**2*y - x/y**3"\nq1_dzdy = None\n### BEGIN SOLUTION\n')
    # a question worth 0 points: a locked check that nbgrader does not grade
    a7 = nbformat.read(ROOT / "solutions" / COURSE.assignment("A7").notebook, 4)
    assert _cell(a7, "A7-q3").metadata.nbgrader.grade is False
    # no heading in the source: the question's title
    example = ROOT / "examples" / "course_questions"
    a10 = nbformat.read(example / "solutions" / "A10_batchnorm_backward.ipynb", 4)
    assert "### 第 1 题：批量归一化的反向传播（4 分）\n" in _cell(a10, "A10-q1-statement").source


def test_points_come_from_course_yaml():
    text = (ROOT / "course.yaml").read_text(encoding="utf-8").replace(
        "parts: {z1: 1, h: 1, y: 1}", "parts: {z1: 2, h: 1, y: 2}")
    nb = build(parse_course(text, "course.yaml"), "A3", A3_SOURCE)
    assert _cell(nb, "A3-q1").metadata.nbgrader.points == 5
    assert "### 第 1 题：前向传播（5 分）\n" in _cell(nb, "A3-q1-statement").source
    assert "| q1 | 5 |" in _cell(nb, "A3-title").source


def test_hand_edited_notebook_is_found_and_regenerated(tmp_path):
    shutil.copy(ROOT / "course.yaml", tmp_path / "course.yaml")
    (tmp_path / "solutions").mkdir()
    name = COURSE.assignment("A3").notebook
    for path in (ROOT / "solutions" / name, source_path(COURSE, ROOT / "course.yaml", "A3")):
        shutil.copy(path, tmp_path / "solutions" / path.name)
    target = tmp_path / "solutions" / name
    original = target.read_bytes()
    target.write_bytes(original.replace(b'"points": 7.0', b'"points": 9.0'))
    course = tmp_path / "course.yaml"
    assert write(load_course(course), course, check=True)["A3"][1] is True
    checked = CliRunner().invoke(main, ["author", "--check", "--course", str(course)])
    assert checked.exit_code == 1 and "nngrade author A3" in checked.output
    assert target.read_bytes() != original                      # --check writes nothing
    fixed = CliRunner().invoke(main, ["author", "A3", "--course", str(course)])
    assert fixed.exit_code == 0, fixed.output
    assert target.read_bytes() == original


@pytest.mark.parametrize("edit, error", [
    (("<!-- answer -->\n```python\nfrom",
      "<!-- answer -->\n```python\nq1_zz = None\n### BEGIN SOLUTION\nfrom"),
     r"q1_zz answer no part of A3\.q1"),
    (("<!-- question q2 -->", "<!-- question q3 -->"), r"A3\.q3 is not in course\.yaml"),
    (("<!-- question q2 -->", "<!-- question q1 -->"), r"A3\.q1 comes twice"),
    (("<!-- markdown network -->", "<!-- answer -->"), r"outside a question"),
    (("<!-- question q2 -->", "<!-- check -->\n<!-- check -->\n<!-- question q2 -->"),
     r"second <!-- check -->"),
    (("```python\nP = nb.params", "```py\nP = nb.params"), r"line \d+: .*python fence"),
])
def test_source_errors_name_the_problem(edit, error):
    assert edit[0] in A3_SOURCE
    with pytest.raises(SourceError, match=error):
        build(COURSE, "A3", A3_SOURCE.replace(*edit, 1), "A3.md")


def test_function_parts_need_their_def():
    text = source_path(COURSE, ROOT / "course.yaml", "A5").read_text(encoding="utf-8")
    assert "def backward(" in text
    with pytest.raises(SourceError, match=re.escape("no answer cell defines backward (A5.q2)")):
        build(COURSE, "A5", text.replace("def backward(", "def backwards("), "A5.md")

"""Building course notebooks: nbgrader cells in the course's conventions.

The notebooks in ``solutions/`` are nbgrader *source* notebooks. This module
makes their cells with the right metadata so an instructor (or a script)
writing a new assignment need not hand-edit JSON:

* :func:`statement` — a locked markdown cell in both languages; the release
  step keeps the language ``course.yaml`` picks (:func:`select_language`);
* :func:`given` — a locked code cell (setup, the student's numbers, data);
* :func:`answer` — an answer (solution) cell ``A3_q1_answer``: the student
  version keeps what lies outside ``### BEGIN SOLUTION`` … ``### END
  SOLUTION`` (default ``None`` answers, function signatures with
  docstrings) and gets a comment stub instead of the solution;
* :func:`tests` — the question's locked, graded test cell ``A3_q1``: the
  public ``check`` students see, and the hidden ``grade`` nbgrader scores;
* :func:`header` — title, the student-id cell and the setup cell.

An assignment's notebook is generated from its readable source
``solutions/<notebook>.md`` with these cells (:mod:`autograder.nbsource`,
``nngrade author``); the builders also serve tests and scripts.

Bilingual markdown marks its parts with ``<!--zh-->`` … ``<!--en-->`` …
``<!--/lang-->`` lines; text outside the markers is shown in every language.
"""
from __future__ import annotations

import re

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from .protocol import grade_id

__all__ = ["statement", "markdown", "given", "answer", "tests", "header", "notebook", "select_language",
           "bilingual", "CODE_STUB", "write_source_notebooks"]

#: what nbgrader puts where a solution was (configured by the release step)
CODE_STUB = "# 在此作答 / YOUR ANSWER HERE"


def _meta(grade_id_: str, *, locked: bool, solution: bool = False, grade: bool = False,
          points: float | None = None) -> dict:
    nb = {"grade_id": grade_id_, "locked": locked, "solution": solution, "grade": grade,
          "schema_version": 3}
    if grade:
        nb["points"] = points
    return {"nbgrader": nb}


def bilingual(zh: str, en: str) -> str:
    """Markdown with a Chinese and an English part (see module docstring)."""
    return f"<!--zh-->\n{zh.strip()}\n<!--en-->\n{en.strip()}\n<!--/lang-->"


def statement(cell_id: str, zh: str, en: str, *, lead: str = "") -> nbformat.NotebookNode:
    """A locked markdown cell; ``lead`` (e.g. a heading with both titles) precedes both parts."""
    text = (lead.strip() + "\n\n" if lead else "") + bilingual(zh, en)
    return new_markdown_cell(text, metadata=_meta(cell_id, locked=True), id=cell_id.replace("_", "-"))


def markdown(cell_id: str, source: str) -> nbformat.NotebookNode:
    """A locked markdown cell of ``source`` as it is (bilingual parts marked by hand)."""
    return new_markdown_cell(source, metadata=_meta(cell_id, locked=True), id=cell_id.replace("_", "-"))


def given(cell_id: str, source: str) -> nbformat.NotebookNode:
    """A locked code cell the grader restores from the source."""
    return new_code_cell(source.strip(), metadata=_meta(cell_id, locked=True),
                         id=cell_id.replace("_", "-"))


def answer(question_id: str, source: str, n: int = 1) -> nbformat.NotebookNode:
    """The ``n``-th answer cell of ``question_id``; ``source`` holds the
    solution between ``### BEGIN SOLUTION`` and ``### END SOLUTION``."""
    if "### BEGIN SOLUTION" not in source or "### END SOLUTION" not in source:
        raise ValueError(f"answer cell of {question_id}: mark the solution with "
                         f"### BEGIN SOLUTION / ### END SOLUTION")
    cid = f"{grade_id(question_id)}_answer" + (f"_{n}" if n > 1 else "")
    return new_code_cell(source.strip(), metadata=_meta(cid, locked=False, solution=True),
                         id=cid.replace("_", "-"))


def tests(question_id: str, points: float) -> nbformat.NotebookNode:
    """The graded test cell: the public check, then the hidden grade."""
    gid = grade_id(question_id)
    source = (f'check("{question_id}")\n'
              f"### BEGIN HIDDEN TESTS\n"
              f'grade("{question_id}")\n'
              f"### END HIDDEN TESTS")
    return new_code_cell(source, metadata=_meta(gid, locked=True, grade=True, points=points),
                         id=gid.replace("_", "-"))


def header(assignment: str, title_zh: str, title_en: str, intro_zh: str, intro_en: str,
           points: dict[str, float]) -> list[nbformat.NotebookNode]:
    """Title with the points table, the STUDENT_ID cell and the setup cell
    (``intro_zh`` / ``intro_en`` before how to answer; may be empty)."""
    total = sum(points.values())
    table = "\n".join(f"| {q} | {p:g} |" for q, p in points.items())
    lead = (f"# {assignment} {title_zh} / {title_en}\n\n"
            f"| 题目 / Question | 分数 / Points |\n|---|---|\n{table}\n| **合计 / Total** | **{total:g}** |")
    how_zh = ("在每题的答案单元格中作答：数值与公式题给出的变量（如 `q2_…`）原为 None，请赋值；"
              "函数题请补全给定的函数。然后运行该题下方的检查单元格，立即看到每一小问的对错、"
              "被识别出的典型错误和误差传递给分。不要修改锁定的单元格。")
    how_en = ("Answer in each question's answer cell: the variables given for numbers and formulas "
              "(such as `q2_…`) start as None — assign them; for function questions complete the "
              "given function. Then run the check cell below to see at once which parts are right, "
              "any typical mistake recognised, and credit carried forward. Do not edit the locked "
              "cells.")
    sid = new_code_cell(
        '# 学号 / Student id（JupyterHub 上可自动识别，但请填写 / filled in on JupyterHub, but please write it)\n'
        'STUDENT_ID = ""', id=f"{assignment}-student-id")
    setup = given(f"{assignment}_setup",
                  "import numpy as np\n"
                  "from autograder.notebook import setup, check, grade\n\n"
                  f'nb = setup("{assignment}", STUDENT_ID)')
    zh, en = (f"{intro.strip()}\n\n{how}" if intro.strip() else how
              for intro, how in ((intro_zh, how_zh), (intro_en, how_en)))
    return [statement(f"{assignment}_title", zh, en, lead=lead), sid, setup]


def notebook(cells: list) -> nbformat.NotebookNode:
    """A Python 3 notebook of ``cells`` (validated)."""
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}})
    nbformat.validate(nb)
    return nb


_BLOCK = re.compile(r"<!--zh-->\n(?P<zh>.*?)\n<!--en-->\n(?P<en>.*?)\n<!--/lang-->", re.S)


def select_language(text: str, language: str) -> str:
    """Keep the part(s) of bilingual markdown that ``language`` shows."""
    if language == "zh+en":
        return text
    if language not in ("zh", "en"):
        raise ValueError(f"select_language: language must be zh, en or zh+en, got {language!r}")
    return _BLOCK.sub(lambda m: m.group(language), text)


def write_source_notebooks(course_file: str, assignments=()) -> list:
    """Write ``solutions/<notebook>`` next to ``course_file`` from its source
    ``solutions/<notebook>.md`` (:mod:`autograder.nbsource`) for each of
    ``assignments`` (default: every one with a source); returns the paths
    written. ``nngrade author`` (or ``python -m autograder.authoring course.yaml [A10 ...]``)."""
    from .config import load_course
    from .nbsource import write
    course = load_course(course_file)
    return [path for path, changed in write(course, course_file, assignments).values() if changed]


if __name__ == "__main__":
    import sys
    for path in write_source_notebooks(sys.argv[1], sys.argv[2:]):
        print(path)

"""Autograded notebooks as ``nbgrader autograde`` leaves them, so that
formgrader's Manual Grading, ``nbgrader generate_feedback`` and
``nbgrader release_feedback`` work on nngrade's gradebook.

nbgrader's tools need two things per submission:

* **the gradebook's cells** — the released notebook's grade cells (one per
  question worth points: ``A3_q2``), solution cells (``A3_q2_answer``) and
  locked source cells with their checksums, as nbgrader's ``SaveCells``
  records them at ``generate_assignment`` (:func:`released_cells`, written by
  :meth:`autograder.gradebook.GradebookStore.register_notebook`), and a
  ``Grade`` row per grade cell and a ``Comment`` row per solution cell of
  every submission (written with each result);
* **the autograded notebook** — ``ROOT/autograded/<student>/<A>/<notebook>.ipynb``
  (:func:`write_autograded`): the student's notebook with every locked cell
  restored from the released one (as nbgrader's ``OverwriteCells`` does),
  grade cells' ``points`` and checksums as in the gradebook, nbgrader
  metadata the gradebook does not know removed, and missing graded or
  answer cells put back — so that formgrader's ``GetGrades`` finds a grade
  or a comment for every cell it asks about.

**Outputs.**  The student's code is never run in this (trusted) process, and
outputs saved in a submission are the student's to fake, so they are
cleared; each grade cell's output is what the grader found for that
question — score, status and the bilingual feedback of every part (the same
text as the feedback page; never a result's ``details``).  Other files of
the submission folder (``timestamp.txt``) are copied along, as nbgrader does.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from pathlib import Path

from .i18n import msg
from .protocol import grade_id
from .results import AssignmentResult

__all__ = ["released_cells", "write_autograded", "autograded_path", "graded_cells"]


def autograded_path(root: str | os.PathLike, course, assignment: str, student: str) -> Path:
    """``ROOT/autograded/<student>/<A>/<notebook>.ipynb`` (nbgrader's layout)."""
    return Path(root) / "autograded" / student / assignment / course.assignment(assignment).notebook


def graded_cells(course, assignment: str) -> dict[str, float]:
    """``{grade cell name: points}``: the gradebook's grade cells of
    ``assignment`` (questions worth points; see :mod:`autograder.gradebook`)."""
    acfg = course.assignment(assignment)
    return {grade_id(q.full_id): float(q.points) for q in acfg.questions.values() if q.points > 0}


def _read(path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _nbmeta(cell: dict) -> dict | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) and meta.get("grade_id") else None


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _checksum(cell: dict) -> str:
    from nbformat import from_dict
    from nbgrader.utils import compute_checksum
    node = from_dict(copy.deepcopy(cell))
    node.source = _source(cell)
    return compute_checksum(node)


def _normalise(course, assignment: str, released: dict) -> dict:
    """The released notebook as the gradebook sees it: grade cells carry the
    course's points (a grade cell of a question worth nothing is no grade
    cell), task cells are not used, checksums recomputed."""
    points = graded_cells(course, assignment)
    nb = copy.deepcopy(released)
    for cell in nb.get("cells", []):
        meta = _nbmeta(cell)
        if meta is None:
            continue
        meta.pop("task", None)
        if meta.get("grade"):
            if meta["grade_id"] in points:
                meta["points"] = points[meta["grade_id"]]
            else:
                meta["grade"] = False
                meta.pop("points", None)
                meta["locked"] = True
        meta["checksum"] = _checksum(cell)
    return nb


def released_cells(course, assignment: str, released_path) -> list[dict]:
    """The cells nbgrader's ``SaveCells`` would record for the released
    notebook: ``{"name", "cell_type", "grade", "solution", "locked",
    "max_score", "source", "checksum"}`` each, in notebook order.  A grade
    cell of the course missing from the notebook is an error naming it."""
    from nbgrader import utils
    from nbformat import from_dict
    nb = _normalise(course, assignment, _read(released_path))
    out, seen = [], set()
    for cell in nb.get("cells", []):
        meta = _nbmeta(cell)
        if meta is None:
            continue
        node = from_dict(copy.deepcopy(cell))
        if meta["grade_id"] in seen:
            raise ValueError(f"{released_path}: two cells named {meta['grade_id']!r}")
        seen.add(meta["grade_id"])
        out.append({"name": meta["grade_id"], "cell_type": cell["cell_type"],
                    "grade": bool(utils.is_grade(node)), "solution": bool(utils.is_solution(node)),
                    "locked": bool(utils.is_locked(node)),
                    "max_score": float(meta["points"]) if meta.get("grade") else None,
                    "source": _source(cell), "checksum": meta["checksum"]})
    missing = sorted(set(graded_cells(course, assignment)) - seen)
    if missing:
        raise ValueError(msg(f"{released_path}：缺少评分单元格 {', '.join(missing)}。",
                             f"{released_path}: the graded cells {', '.join(missing)} are "
                             f"missing").render("zh+en"))
    return out


def _grade_output(result: AssignmentResult, question: str, language: str) -> dict:
    from .reports.feedback import fmt_score, status_label
    lines = []
    for q in result.results_for(question):
        lines.append(f"{q.label}: {fmt_score(q.score)} / {fmt_score(q.max_score)} — "
                     f"{status_label(q.status).render(language)}")
        text = q.feedback_text(language)
        if text:
            lines.extend("    " + line for line in text.splitlines())
    if not lines:
        lines.append(msg("本题没有评分结果。", "No result for this question.").render(language))
    return {"output_type": "stream", "name": "stdout", "text": "\n".join(lines) + "\n"}


def _question_of(course, assignment: str, name: str) -> str | None:
    for qid in course.question_ids(assignment):
        if name == grade_id(qid):
            return qid
    return None


def build_autograded(course, assignment: str, result: AssignmentResult, submitted,
                     released_path) -> dict:
    """The autograded notebook (a dict) of ``result``'s submission (see the
    module docstring).  A submission that cannot be read as a notebook gives
    the released notebook with a note at its top."""
    released = _normalise(course, assignment, _read(released_path))
    by_name = {m["grade_id"]: c for c in released.get("cells", []) if (m := _nbmeta(c))}
    language = course.language
    note = None
    try:
        nb = _read(submitted)
        cells_in = nb["cells"]
        if not isinstance(cells_in, list):
            raise ValueError("cells is not a list")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        nb, cells_in = copy.deepcopy(released), []
        note = msg(f"nngrade：提交的笔记本无法读取（{exc}）；下面是发布的笔记本。",
                   f"nngrade: the submitted notebook could not be read ({exc}); the released "
                   f"notebook is shown below.").render(language)
    cells, seen = [], set()
    for cell in cells_in:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            continue
        cell = copy.deepcopy(cell)
        meta = _nbmeta(cell)
        if meta is not None:
            name = meta["grade_id"]
            if name not in by_name or name in seen:
                cell["metadata"].pop("nbgrader", None)     # unknown to the gradebook
            else:
                seen.add(name)
                ref = by_name[name]
                if _nbmeta(ref).get("solution"):           # the student's answer, ours the rest
                    cell["metadata"]["nbgrader"] = copy.deepcopy(ref["metadata"]["nbgrader"])
                    cell["cell_type"] = ref["cell_type"]
                else:                                      # locked: restored (OverwriteCells)
                    cell = copy.deepcopy(ref)
        cells.append(cell)
    for name, ref in by_name.items():                      # deleted cells put back
        if name not in seen:
            cells.append(copy.deepcopy(ref))
    for cell in cells:
        cell.setdefault("metadata", {})
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
            meta = _nbmeta(cell)
            if meta is not None and meta.get("grade"):
                qid = _question_of(course, assignment, meta["grade_id"])
                if qid is not None:
                    cell["outputs"] = [_grade_output(result, qid, language)]
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    if note is not None:
        cells.insert(0, {"cell_type": "markdown", "metadata": {}, "source": note})
    out = {"cells": cells, "metadata": nb.get("metadata", released.get("metadata", {})),
           "nbformat": 4, "nbformat_minor": max(4, int(nb.get("nbformat_minor", 4) or 4))}
    if out["nbformat_minor"] >= 5:
        import uuid
        for cell in cells:
            cell.setdefault("id", uuid.uuid4().hex[:8])
    else:
        for cell in cells:
            cell.pop("id", None)
    return out


def write_autograded(root, course, assignment: str, result: AssignmentResult, submitted,
                     released_path) -> Path:
    """Write the autograded notebook of ``result`` under ``root`` (atomically)
    and copy the submission folder's other files (``timestamp.txt``) next to
    it; return its path.  ``OSError`` names what could not be written."""
    target = autograded_path(root, course, assignment, result.student)
    nb = build_autograded(course, assignment, result, submitted, released_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".nngrade-", suffix=".ipynb")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(nb, f, ensure_ascii=False, indent=1)
            f.write("\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    folder = Path(submitted).parent
    if folder.name == assignment:                 # nbgrader's submitted/<student>/<A>/
        for extra in folder.iterdir():
            if extra.is_file() and extra.name != target.name and not extra.name.startswith("."):
                if extra.suffix != ".ipynb":
                    shutil.copy2(extra, target.parent / extra.name)
    return target

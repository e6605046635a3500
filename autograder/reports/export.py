"""Exports: nbgrader's grades CSV and Gradescope's ``results.json``.

**CSV.**  :func:`write_csv` writes the columns of nbgrader's own CSV
exporter (``nbgrader export``, :class:`nbgrader.plugins.export.CsvExportPlugin`),
in its order — :data:`NBGRADER_CSV_COLUMNS` — one row per student per
assignment.  Values are written the way nbgrader writes them (``str()`` of
the number, ``""`` for what is unknown: due date, timestamp, names, e-mail
unless given); ``score = max(0, raw_score - late_submission_penalty)``;
``max_score`` is the assignment's points in ``course.yaml`` when a course
is given, else the result's own maximum.  Fields are quoted only where a
comma, quote or newline requires it (nbgrader never quotes, which breaks on
such names).

**Gradescope.**  :func:`gradescope_results` builds the ``results.json`` a
Gradescope autograder writes to ``/autograder/results/results.json``:
top-level ``score`` and ``output``, and one entry of ``tests`` per question
part with ``name``, ``score``, ``max_score``, ``status`` (``"passed"`` at
full marks, else ``"failed"``), ``output`` (the feedback in the course
language, the named mistake, the carried-forward note) and ``visibility``
``"visible"``.  Like the feedback pages it never includes a result's
``details`` or variant seed.  It is plain JSON (no NaN, no NumPy types).
"""
from __future__ import annotations

import csv
import io
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Iterable, Mapping

from ..i18n import Message, check_language, msg
from ..mistakes import known_mistake
from ..results import AssignmentResult, round_score
from .feedback import fmt_score, status_label
from .files import write_text

__all__ = ["NBGRADER_CSV_COLUMNS", "csv_rows", "csv_text", "write_csv", "gradescope_results",
           "write_gradescope"]

#: the columns of ``nbgrader export`` (nbgrader/plugins/export.py), in order
NBGRADER_CSV_COLUMNS = ("assignment", "duedate", "timestamp", "student_id", "last_name",
                        "first_name", "email", "raw_score", "late_submission_penalty",
                        "score", "max_score")


def _cell(value) -> str:
    """One CSV value as nbgrader writes it: ``""`` for None, ``str()`` otherwise."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def csv_rows(results: Iterable[AssignmentResult], course=None, *,
             students: Mapping[str, Mapping[str, str]] | None = None,
             timestamps: Mapping[tuple[str, str], datetime | str] | None = None,
             penalties: Mapping[tuple[str, str], float] | None = None,
             duedates: Mapping[str, datetime | str] | None = None) -> list[dict[str, str]]:
    """One row (a dict over :data:`NBGRADER_CSV_COLUMNS`, all strings) per
    result, sorted by assignment then student.  Optional look-ups fill what a
    result does not know: ``students[id]`` → ``first_name``/``last_name``/
    ``email``; ``timestamps[(assignment, student)]``;
    ``penalties[(assignment, student)]`` (late penalty, default 0.0);
    ``duedates[assignment]``.  With a ``course`` and none of the last three
    given, they come from ``course.yaml``'s due dates, extensions and late
    rules and each result's submission time (:mod:`autograder.lateness`)."""
    results = list(results)
    if course is not None and timestamps is None and penalties is None and duedates is None:
        timestamps, penalties, duedates = _late_lookups(course, results)
    students, timestamps = students or {}, timestamps or {}
    penalties, duedates = penalties or {}, duedates or {}
    rows = []
    seen = set()
    for r in results:
        if not isinstance(r, AssignmentResult):
            raise TypeError(f"csv_rows takes AssignmentResult objects, got {type(r).__name__}")
        key = (r.assignment, r.student)
        if key in seen:
            raise ValueError(msg(f"{r.assignment} 中 {r.student!r} 有两个结果。",
                                 f"two results for {r.student!r} in {r.assignment}")
                             .render("zh+en"))
        seen.add(key)
        max_score = r.max_score
        if course is not None:
            max_score = course.max_score(r.assignment)
        who = students.get(r.student, {})
        penalty = float(penalties.get(key, 0.0))
        rows.append({
            "assignment": r.assignment,
            "duedate": _cell(duedates.get(r.assignment)),
            "timestamp": _cell(timestamps.get(key)),
            "student_id": r.student,
            "last_name": _cell(who.get("last_name")),
            "first_name": _cell(who.get("first_name")),
            "email": _cell(who.get("email")),
            "raw_score": _cell(float(r.score)),
            "late_submission_penalty": _cell(penalty),
            "score": _cell(round_score(max(0.0, r.score - penalty))),
            "max_score": _cell(float(max_score)),
        })
    rows.sort(key=lambda row: (row["assignment"], row["student_id"]))
    return rows


def _late_lookups(course, results) -> tuple[dict, dict, dict]:
    """Timestamps, late penalties and due dates from ``course.yaml``'s
    ``due``/``extensions``/``late`` and each result's submission time
    (:func:`autograder.lateness.lateness`), written as nbgrader writes them."""
    from ..lateness import lateness
    timestamps, penalties, duedates = {}, {}, {}
    for r in results:
        late = lateness(course, r)
        key = (r.assignment, r.student)
        if late.timestamp is not None:
            timestamps[key] = late.timestamp
        penalties[key] = late.penalty
        due = course.assignment(r.assignment).due
        if due is not None:
            duedates[r.assignment] = due
    return timestamps, penalties, duedates


def csv_text(results: Iterable[AssignmentResult], course=None, **lookups) -> str:
    """The CSV file's text (header and rows, ``\\n`` line ends)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(NBGRADER_CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(results, course, **lookups))
    return buf.getvalue()


def write_csv(results: Iterable[AssignmentResult], path: str | os.PathLike = "grades.csv",
              course=None, **lookups) -> Path:
    """Write nbgrader's grades CSV for ``results`` to ``path`` (see
    :func:`csv_rows` for ``lookups``); return the path.  An unwritable path is
    a :class:`~autograder.reports.files.ReportError` naming it."""
    return write_text(path, csv_text(results, course, **lookups))


# --------------------------------------------------------------------------
# Gradescope

_OUT = {
    "total": msg("总分 {score} / {max}。", "Total {score} / {max}."),
    "mistake": msg("典型错误：{name}——{hint}", "Named mistake: {name} — {hint}"),
    "mistake_id": msg("典型错误：{name}", "Named mistake: {name}"),
    "carried": msg("误差传递给分：按你前面的答案重新计算，这一步是对的。",
                   "Carried forward: recomputed from your own earlier answers, this step "
                   "is right."),
    "status": msg("状态：{status}", "Status: {status}"),
}


def _test_output(q, language: str) -> str:
    lines = [_OUT["status"].format(status=status_label(q.status)).render(language)]
    known = known_mistake(q.diagnosis)
    for item in q.feedback:
        if known is not None and item == known.text:
            continue                     # said below, with its name
        lines.append(item.render(language) if isinstance(item, Message) else item)
    if q.diagnosis:
        if known is None:
            lines.append(_OUT["mistake_id"].format(name=q.diagnosis).render(language))
        else:
            lines.append(_OUT["mistake"].format(name=known.name, hint=known.hint)
                         .render(language))
    if q.carried_forward:
        lines.append(_OUT["carried"].render(language))
    return "\n".join(lines)


def gradescope_results(result: AssignmentResult, course=None, *,
                       language: str | None = None) -> dict:
    """Gradescope's ``results.json`` for one submission, as a plain dict
    (``language``: default ``course.language``, ``"zh+en"`` without a course)."""
    if not isinstance(result, AssignmentResult):
        raise TypeError(f"gradescope_results takes an AssignmentResult, "
                        f"got {type(result).__name__}")
    language = check_language(language or (course.language if course is not None
                                            else "zh+en"))
    tests = []
    for q in result.questions:
        tests.append({
            "name": q.label,
            "score": float(q.score),
            "max_score": float(q.max_score),
            "status": "passed" if q.score >= q.max_score else "failed",
            "output": _test_output(q, language),
            "visibility": "visible",
        })
    overall = _OUT["total"].format(score=fmt_score(result.score),
                                   max=fmt_score(result.max_score)).render(language)
    out = {"score": float(result.score), "output": overall, "tests": tests}
    json.dumps(out, allow_nan=False)     # JSON-safe by construction; fail loudly if not
    return out


def write_gradescope(result: AssignmentResult, path: str | os.PathLike = "results.json",
                     course=None, *, language: str | None = None) -> Path:
    """Write :func:`gradescope_results` to ``path`` (UTF-8 JSON); return the path."""
    data = gradescope_results(result, course, language=language)
    return write_text(path, json.dumps(data, ensure_ascii=False, allow_nan=False, indent=2)
                      + "\n")

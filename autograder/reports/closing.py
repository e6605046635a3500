"""The report that ends ``nngrade grade``: what needs the instructor's eye,
then the class table.

:func:`attention` lists, per student, what a person should look at:
timeouts, crashes (a cell that ended the process or raised), unreadable
notebooks, grader failures, a ``STUDENT_ID`` that is not the submission's
owner (or is blank), late submissions and their penalty, an unreadable
``timestamp.txt``, resubmissions graded again.  :func:`class_table` is one
line per student: raw score, late penalty, final score, and short notes.
Both are plain text in the course language (``zh / en`` for a bilingual
course), made from the stored results only.
"""
from __future__ import annotations

from ..lateness import lateness
from ..submission_info import SubmissionInfo

__all__ = ["attention", "attention_table", "class_table"]


def _t(language: str, zh: str, en: str) -> str:
    return {"zh": zh, "en": en}.get(language, f"{zh} / {en}")


def _sandbox(result) -> dict:
    box = result.details.get("sandbox")
    return box if isinstance(box, dict) else {}


def attention(course, results, *, resubmitted=(), errors=(), skipped=()
              ) -> list[tuple[str, str, str]]:
    """``(student, kind, detail)`` rows, by student; ``kind`` is one of
    ``timeout``, ``crash``, ``unreadable``, ``grader error``, ``id mismatch``,
    ``late``, ``timestamp``, ``resubmitted``, ``reference attempt``,
    ``skipped``.  ``errors``: ``(student, why)`` of grader failures of this
    run (their results say it too); ``skipped``: the entries of the
    submissions folder that were not graded
    (:class:`~autograder.submissions.Problem`: a link, a FIFO, a stray file,
    a folder without the notebook …), by path."""
    from .stats import attempt_summary
    lang = course.language
    rows: list[tuple[str, str, str]] = []
    for r in sorted(results, key=lambda r: r.student):
        box = _sandbox(r)
        if r.details.get("status") == "grader_error":
            rows.append((r.student, "grader error", str(r.details.get("error", ""))[:160]))
        elif box.get("status") == "malformed":
            rows.append((r.student, "unreadable",
                         str(box.get("message") or box.get("reason") or "")[:160]))
        lost = box.get("lost") if isinstance(box.get("lost"), dict) else {}
        for status, kind in (("timeout", "timeout"), ("not_run", "timeout"),
                             ("killed", "crash"), ("error", "crash")):
            where = sorted({qid for qid, entries in lost.items()
                            for e in entries if isinstance(e, dict) and e.get("status") == status})
            if where and not any(row[:2] == (r.student, kind) for row in rows):
                rows.append((r.student, kind, ", ".join(where)))
        info = SubmissionInfo.from_dict(r.details.get("submission"))
        if info is not None and info.id_mismatch:
            shown = repr(info.student_id) if info.student_id.strip() else \
                _t(lang, "（空）", "(blank)")
            rows.append((r.student, "id mismatch",
                         _t(lang, f"笔记本中的 STUDENT_ID 是 {shown}，提交者是 {r.student}",
                            f"the notebook's STUDENT_ID is {shown}, the submission is "
                            f"{r.student}'s")))
        if attempt_summary(r):
            rows.append((r.student, "reference attempt", attempt_summary(r)[:160]))
        if info is not None and info.timestamp_problem:
            rows.append((r.student, "timestamp", info.timestamp_problem[:160]))
        late = lateness(course, r)
        if late.late:
            hours = late.seconds_late / 3600
            rows.append((r.student, "late", _t(lang, f"迟交 {hours:.1f} 小时，扣 {late.penalty:g} 分",
                                               f"{hours:.1f} h late, penalty {late.penalty:g}")))
    seen = {s for s, k, _ in rows if k == "grader error"}
    for student, why in errors:
        if student not in seen:
            rows.append((student, "grader error", why.splitlines()[0][:160]))
    for problem in skipped:
        if "graded anyway" in problem.reason:
            continue
        rows.append((str(problem.path), "skipped", problem.reason[:160]))
    for student in resubmitted:
        rows.append((student, "resubmitted", _t(lang, "新的提交，已重新评分",
                                                "a new submission, graded again")))
    return sorted(rows, key=lambda row: row[0])


_KINDS = {"timeout": ("超时", "timeout"), "crash": ("崩溃/出错", "crash"),
          "unreadable": ("无法读取", "unreadable"), "grader error": ("评分程序出错", "grader error"),
          "id mismatch": ("学号不符", "id mismatch"), "late": ("迟交", "late"),
          "timestamp": ("提交时间", "timestamp"), "resubmitted": ("重新提交", "resubmitted"),
          "reference attempt": ("试图取用参考答案", "reference attempt"),
          "skipped": ("未评分", "not graded")}


def attention_table(course, rows) -> str:
    """:func:`attention`'s rows as text (empty when there is nothing)."""
    if not rows:
        return ""
    lang = course.language
    out = [_t(lang, "需要查看：", "Needs your eye:")]
    for student, kind, detail in rows:
        label = _t(lang, *_KINDS.get(kind, (kind, kind)))
        out.append(f"  {student:<13} {label:<14} {detail}")
    return "\n".join(out)


def class_table(course, results) -> str:
    """Student, raw score, late penalty, score, and what happened: lost
    cells (timeout, crash), rejected answers, named mistakes,
    carried-forward credit, reaches for the reference."""
    from .stats import attempt_summary
    lang = course.language
    lines = [_t(lang, "学生          原始分      迟交扣分  得分          说明",
                "student       raw         late      score         notes")
             if lang != "zh+en" else
             "学生 student  raw         late      score         notes"]
    for r in sorted(results, key=lambda r: r.student):
        box = _sandbox(r)
        notes = [f"{qid}: {e.get('status')} ({str(e.get('reason', ''))[:60]})"
                 for qid, entries in (box.get("lost") or {}).items() for e in entries[:1]]
        if box.get("status") == "malformed" or r.details.get("status") == "grader_error":
            notes.append(str(box.get("message") or box.get("reason")
                             or r.details.get("error", ""))[:60])
        invalid = sum(q.status == "invalid" for q in r.questions)
        if invalid:
            notes.append(_t(lang, f"{invalid} 个答案被拒收", f"{invalid} answers rejected"))
        notes += sorted({q.diagnosis for q in r.questions if q.diagnosis})
        if any(q.carried_forward for q in r.questions):
            notes.append(_t(lang, "误差传递给分", "carried forward"))
        if r.details.get("regraded"):
            notes.append(_t(lang, "重新评分：", "regraded: ") + ", ".join(r.details["regraded"]))
        if attempt_summary(r):
            notes.append(_t(lang, "试图取用参考答案：", "reference attempt: ") + attempt_summary(r))
        late = lateness(course, r)
        max_score = course.max_score(r.assignment)
        penalty = f"-{late.penalty:g}" if late.penalty else "0"
        lines.append(f"{r.student:<13} {r.score:>5g} / {max_score:<4g} {penalty:>6}    "
                     f"{late.score:>5g} / {max_score:<6g} {'; '.join(notes)}")
    return "\n".join(lines)

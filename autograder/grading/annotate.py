"""What the grader adds to a judged result from the sandbox's account:
parts whose answer cells failed (timeout, crash, error, refused magic) or
whose function calls were cut off get status ``"timeout"``/``"error"`` and
feedback naming the cell and what happened (:func:`mark_failures`);
reaches for the answers are noted for the instructor
(:func:`mark_attempts`); a submission with nothing to judge gets every
part 0 (:func:`all_zero`).
"""
from __future__ import annotations

from ..i18n import msg
from ..results import AssignmentResult, QuestionResult
from ..sandbox.outcome import SandboxOutcome

__all__ = ["all_zero", "mark_failures", "mark_attempts"]


def all_zero(course, assignment: str, student: str, zh: str, en: str, status: str,
             details: dict, seed: int | None = None) -> AssignmentResult:
    """Every part 0 with ``status`` (``grade_submission``'s points and ids,
    without judging anything); the message is said once, on the first part,
    and the others point to it.  ``seed``: the variant's, when known."""
    from ..judge import part_points
    from ..questions import questions_of
    if seed is None:
        from ..judge import variant_of
        _params, seed = variant_of(course, assignment, student or None)
    result = AssignmentResult(assignment=assignment, student=student or "", variant_seed=seed,
                              details=details)
    said = msg(zh, en)
    for q in questions_of(assignment):
        points = part_points(course, q)
        for p in q.parts:
            result.add(QuestionResult(question=q.id, part=p.name, score=0.0,
                                      max_score=points[p.name], status=status,
                                      feedback=[said]))
            said = msg("（同上。）", "(As above.)")
    return result


def _cell_message(entry: dict):
    where_zh, where_en = _where(entry)
    what_zh, what_en = ("其结果", "its results") if "part" in entry else ("其中的答案", "its answers")
    st, reason = entry.get("status"), entry.get("reason") or ""
    if st == "timeout":
        return msg(f"{where_zh}超时（{reason}），{what_zh}未能评分。",
                   f"{where_en} timed out ({reason}); {what_en} could not be graded.")
    if st == "killed":
        return msg(f"{where_zh}使运行它的进程终止（{reason}），{what_zh}未能评分。",
                   f"{where_en} ended the process running it ({reason}); {what_en} could "
                   f"not be graded.")
    if st == "refused":
        return msg(f"{where_zh}用了评分时不允许的命令（{reason}）。",
                   f"{where_en} used a command not allowed under the grader ({reason}).")
    if st == "not_run":
        if reason and not reason.startswith("not reached"):
            return msg(f"{where_zh}没有运行（{reason}）。", f"{where_en} was not run ({reason}).")
        return msg(f"{where_zh}没有运行：时间已用完。",
                   f"{where_en} was not run: the time budget was used up.")
    return msg(f"{where_zh}出错：{reason}", f"{where_en} raised an error: {reason}")


def _where(entry: dict) -> tuple[str, str]:
    if "cell" in entry:
        gid = f"（{entry['grade_id']}）" if entry.get("grade_id") else ""
        gid_en = f" ({entry['grade_id']})" if entry.get("grade_id") else ""
        return f"单元格 {entry['cell']}{gid}", f"Cell {entry['cell']}{gid_en}"
    return f"运行你的函数（{entry.get('part')}）", f"Running your function ({entry.get('part')})"


def mark_failures(result: AssignmentResult, outcome: SandboxOutcome) -> None:
    """Give the parts that lost their answers to a failed cell or call the
    status ``timeout``/``error`` and say what happened where."""
    from ..questions import questions_of
    kinds = {(q.id, p.name): p.kind for q in questions_of(outcome.assignment) for p in q.parts}
    for r in result.questions:
        events = outcome.lost.get(r.question, [])
        part_events = [e for e in events if e.get("part") == r.part]
        cell_events = [e for e in events if "cell" in e]
        fn = kinds.get((r.question, r.part)) == "fn"
        relevant = part_events + cell_events if fn else cell_events
        if not relevant:
            continue
        notes = [_cell_message(e) for e in relevant[:3]]
        lost_answer = r.status == "missing" or (fn and r.score == 0)
        if lost_answer:
            worst = "timeout" if any(e.get("status") in ("timeout", "not_run")
                                     for e in relevant) else "error"
            r.status = worst
            r.feedback = notes + list(r.feedback)
        else:
            r.feedback = list(r.feedback) + notes
        r.details = {**r.details, "sandbox": [{k: v for k, v in e.items()} for e in relevant[:3]]}


def mark_attempts(result: AssignmentResult, outcome: SandboxOutcome) -> None:
    """Record the submission's reaches for the answers (refused in the
    sandbox, see :mod:`autograder.sandbox.allowlist`): ``result.details["reference_attempts"]``
    and, on each part of the question they were made for,
    ``details["reference_attempts"]`` — for the instructor; the student's
    feedback says no more than the cell's error (a module not available)."""
    found = outcome.reference_attempts
    if not found:
        return
    result.details = {**result.details, "reference_attempts": list(found)}
    for r in result.questions:
        mine = [a for a in found if a.get("question") == r.question]
        if mine:
            r.details = {**r.details, "reference_attempts": mine[:10]}

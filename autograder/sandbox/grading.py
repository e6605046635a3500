"""Grading one notebook through the sandbox: plans → sandbox → judge.

:func:`grade_notebook` draws every function part's call plan exactly as
:func:`autograder.judge.judge_fn_part` will (a fresh
``np.random.default_rng(seed)`` per part, ``seed`` from
:func:`autograder.judge.variant_of`), runs the submission once in the
sandbox, then judges in the grader's own process with
:func:`autograder.judge.grade_submission`, serving the recorded function
outputs through :class:`ReplayRunner`.  Parts whose answer cells failed
(timeout, crash, error, refused magic) or whose function calls were cut off
get status ``"timeout"``/``"error"`` and feedback naming the cell and what
happened; ``result.details["sandbox"]`` holds the sandbox's account.
"""
from __future__ import annotations

import numpy as np

from ..i18n import msg
from ..results import AssignmentResult, QuestionResult
from .runner import SandboxOutcome, run_submission

__all__ = ["ReplayRunner", "build_plans", "grade_notebook"]


class _PartReplay:
    def __init__(self, results: dict, key: str, reason: str | None):
        self.results, self.key, self.reason = results, key, reason

    def run(self, plan: list[dict]) -> dict:
        missing = self.reason or "no result recorded for this call"
        return {c["id"]: self.results[c["id"]] if c["id"] in self.results
                else {"ok": False, "error": missing} for c in plan}


class ReplayRunner:
    """Serves results recorded in the sandbox to the judge.

    ``fn_results``: ``{part key: {call id: {"ok": True, "value": …} |
    {"ok": False, "error": str}}}``; ``reasons``: optional ``{part key:
    why it has no results}`` used as the error of its calls.
    :meth:`for_part` gives the per-part runner the judge asks for;
    :meth:`run` looks ids up across all parts."""

    def __init__(self, fn_results: dict, reasons: dict | None = None):
        self.fn_results = fn_results or {}
        self.reasons = reasons or {}

    def for_part(self, key: str) -> _PartReplay:
        return _PartReplay(self.fn_results.get(key, {}), key, self.reasons.get(key))

    def run(self, plan: list[dict]) -> dict:
        merged: dict = {}
        for res in self.fn_results.values():
            merged.update(res)
        return _PartReplay(merged, "", None).run(plan)


def build_plans(course, assignment: str, student: str | None) -> dict:
    """``{"A5.q1.forward": plan, …}`` drawn exactly as the judge draws them."""
    from ..functions import plan_calls
    from ..judge import variant_of
    from ..protocol import part_key
    from ..questions import questions_of
    _params, seed = variant_of(course, assignment, student)
    plans = {}
    for q in questions_of(assignment):
        for p in q.parts:
            if p.kind == "fn":
                plans[part_key(q, p)] = plan_calls(p.fn, np.random.default_rng(seed))
    return plans


def _all_zero(course, assignment: str, student: str, zh: str, en: str, status: str,
              details: dict) -> AssignmentResult:
    """Every part 0 with ``status`` (``grade_submission``'s points and ids,
    without judging anything); the message is said once, on the first part,
    and the others point to it."""
    from ..judge import part_points, variant_of
    from ..questions import questions_of
    _params, seed = variant_of(course, assignment, student)
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


def grade_notebook(course, assignment: str, notebook_path, student: str | None, *,
                   source_notebook=None, limits=None, scratch_root=None,
                   isolation: str = "auto") -> AssignmentResult:
    """Grade one submitted notebook (see the module docstring).

    ``course``: a :class:`~autograder.config.Course` or the path of
    ``course.yaml``.  ``source_notebook``: the released notebook whose
    locked cells are restored (default: ``source/<assignment>/<notebook>``
    or ``release/<assignment>/<notebook>`` next to ``course.yaml``, when it
    exists).  A notebook that cannot be read gives every part 0 with status
    ``"error"`` and the reason (``details["sandbox"]["status"] == "malformed"``); this function raises only when the
    sandbox itself cannot run (:class:`~autograder.sandbox.SandboxError`).
    """
    from pathlib import Path

    from ..config import Course, load_course
    from ..judge import grade_submission
    from ..protocol import answers_from_wire
    if not isinstance(course, Course):
        course = load_course(course)
    student = student or None           # None (or ""): the lecture's variant, as the notebook
    if source_notebook is None and course.source:
        base = Path(course.source).resolve().parent
        name = course.assignment(assignment).notebook
        for cand in (base / "source" / assignment / name, base / "release" / assignment / name):
            if cand.is_file():
                source_notebook = cand
                break
    plans = build_plans(course, assignment, student)
    outcome = run_submission(notebook_path, assignment, student, course, plans,
                             source_notebook=source_notebook, limits=limits,
                             scratch_root=scratch_root, isolation=isolation)
    if outcome.status == "malformed":
        return _all_zero(course, assignment, student or "",
                         outcome.message_zh or "无法读取笔记本。",
                         outcome.message[:1].upper() + outcome.message[1:].rstrip(".") + ".",
                         "error", {"sandbox": outcome.summary()})
    reasons = {k: p.get("reason") for k, p in outcome.parts.items() if p.get("status") != "ok"}
    from ..recording import RecordingRunner, function_sources, record_answers
    answers, recorder = answers_from_wire(outcome.answers), RecordingRunner(
        ReplayRunner(outcome.fn_results, reasons))
    result = grade_submission(course, assignment, answers, student, runner=recorder)
    record_answers(result, answers, recorder,
                   function_sources(outcome.submitted_cells, assignment))
    mark_failures(result, outcome)
    mark_attempts(result, outcome)
    result.details = {**result.details, "sandbox": outcome.summary()}
    return result


def mark_attempts(result: AssignmentResult, outcome: SandboxOutcome) -> None:
    """Record the submission's reaches for the answers (refused in the
    sandbox, see :mod:`.allowlist`): ``result.details["reference_attempts"]``
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

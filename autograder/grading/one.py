"""One submission, graded: plan → sandbox → judge → annotate
(:func:`grade_one`).

The plan (:func:`.plan.plan_submission`) computes the student's variant
once; the sandbox (:func:`autograder.sandbox.run_submission`) runs the
notebook's cells and the call plans in the untrusted child and brings
back validated answers and function outputs; the judge
(:func:`autograder.judge.grade_submission`, given the variant) grades
them in this process, replaying the recorded outputs through
:class:`.replay.ReplayRunner`; the annotations (:mod:`.annotate`) say
what a failed cell or call cost and note reaches for the answers.
``result.details["sandbox"]`` holds the sandbox's account."""
from __future__ import annotations

from pathlib import Path

from ..results import AssignmentResult
from .annotate import all_zero, mark_attempts, mark_failures
from .plan import GradingPlan, plan_submission, source_notebook_of
from .replay import ReplayRunner

__all__ = ["grade_one", "grade_notebook", "run_sandboxed"]


def grade_one(course, assignment: str, notebook_path, student: str | None, *,
              source_notebook=None, limits=None, scratch_root=None,
              isolation: str = "auto") -> AssignmentResult:
    """Grade one submitted notebook.

    ``course``: a :class:`~autograder.config.Course` or the path of
    ``course.yaml``.  ``source_notebook``: the released notebook whose
    locked cells are restored (default: :func:`.plan.source_notebook_of`).
    A notebook that cannot be read gives every part 0 with status
    ``"error"`` and the reason (``details["sandbox"]["status"] ==
    "malformed"``); this function raises only when the sandbox itself
    cannot run (:class:`~autograder.sandbox.SandboxError`)."""
    from ..config import Course, load_course
    from ..judge import grade_submission
    from ..protocol import answers_from_wire
    from ..recording import RecordingRunner, function_sources, record_answers
    if not isinstance(course, Course):
        course = load_course(course)
    student = student or None           # None (or ""): the lecture's variant, as the notebook
    if source_notebook is None:
        source_notebook = source_notebook_of(course, assignment)
    plan = plan_submission(course, assignment, student, limits=limits)
    outcome = run_sandboxed(plan, notebook_path, source_notebook=source_notebook,
                            scratch_root=scratch_root, isolation=isolation)
    if outcome.status == "malformed":
        return all_zero(course, assignment, student or "",
                        outcome.message_zh or "无法读取笔记本。",
                        outcome.message[:1].upper() + outcome.message[1:].rstrip(".") + ".",
                        "error", {"sandbox": outcome.summary()}, seed=plan.seed)
    reasons = {k: p.get("reason") for k, p in outcome.parts.items() if p.get("status") != "ok"}
    answers = answers_from_wire(outcome.answers)
    recorder = RecordingRunner(ReplayRunner(outcome.fn_results, reasons))
    result = grade_submission(course, assignment, answers, student, runner=recorder,
                              variant=plan.variant)
    record_answers(result, answers, recorder,
                   function_sources(outcome.submitted_cells, assignment))
    mark_failures(result, outcome)
    mark_attempts(result, outcome)
    result.details = {**result.details, "sandbox": outcome.summary()}
    return result


#: the name callers have used since the sandbox graded notebooks itself
grade_notebook = grade_one


def run_sandboxed(plan: GradingPlan, notebook, *, source_notebook=None, scratch_root=None,
                  isolation: str = "auto", hide=()):
    """Run ``notebook`` in the sandbox as ``plan`` says (its call plans,
    child context, limits and paths to hide): the
    :class:`~autograder.sandbox.SandboxOutcome`."""
    from ..sandbox import run_submission
    return run_submission(notebook, plan.assignment, plan.student, plan.plans, plan.context,
                          plan.limits, source_notebook=source_notebook,
                          hide=list(plan.hide) + [str(Path(h)) for h in hide],
                          course_file=plan.course_file, scratch_root=scratch_root,
                          isolation=isolation)

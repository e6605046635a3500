"""The trusted side of grading a submission: this package knows the answers.

One submission goes plan → sandbox → judge → annotate in
:func:`grade_one` (:mod:`.one`):

* :mod:`.plan` — the student's variant (computed once), the call plans
  the judge will replay, the context the sandboxed child gets instead of
  the questions, the limits and the course's paths the child must not see;
* :mod:`autograder.sandbox` — runs the notebook in the untrusted child and
  validates what comes back (it knows no question or answer);
* :func:`autograder.judge.grade_submission` — judges in this process,
  replaying the recorded function outputs (:mod:`.replay`);
* :mod:`.annotate` — what failed cells and calls cost, reaches for the
  answers, an all-zero result for a notebook that cannot be read.

>>> result = grade_one(load_course("course.yaml"), "A4", "submitted/alice/A4/A4.ipynb", "alice")  # doctest: +SKIP
"""
from .annotate import all_zero, mark_attempts, mark_failures
from .one import grade_notebook, grade_one, run_sandboxed
from .plan import GradingPlan, build_plans, child_context, plan_submission
from .replay import ReplayRunner

__all__ = ["grade_one", "grade_notebook", "run_sandboxed", "GradingPlan", "plan_submission",
           "build_plans", "child_context", "ReplayRunner", "mark_failures", "mark_attempts",
           "all_zero"]

"""What the grader decides before a submission runs, once: the student's
variant (:func:`autograder.judge.variant_of`, computed once per
submission), the call plans the judge will replay, the child's context
and what the child must not see — a :class:`GradingPlan`.

Every function part's plan is drawn exactly as
:func:`autograder.judge.judge_fn_part` draws it: a fresh
``np.random.default_rng(seed)`` per part, ``seed`` the variant's."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["GradingPlan", "plan_submission", "build_plans", "child_context",
           "course_hide_list", "limits_of", "source_notebook_of"]


@dataclass
class GradingPlan:
    """One submission's grading, decided: ``params``/``seed`` (its
    variant), ``plans`` (``{part key: call plan}``), ``context`` (what the
    sandboxed child gets instead of the questions), ``limits`` (every
    sandbox limit), ``hide`` (the course's paths the child must not see)
    and ``course_file`` (the ``course.yaml`` copied for the child)."""
    course: object
    assignment: str
    student: str | None
    params: dict
    seed: int
    plans: dict
    context: dict
    limits: dict
    hide: list = field(default_factory=list)
    course_file: str | None = None

    @property
    def variant(self) -> tuple[dict, int]:
        return self.params, self.seed


def plan_submission(course, assignment: str, student: str | None, *, plans=None,
                    limits=None, variant: tuple[dict, int] | None = None) -> GradingPlan:
    """The :class:`GradingPlan` of ``student``'s submission of
    ``assignment`` (``student`` ``None`` or ``""``: the lecture's variant).
    ``plans``: the call plans when the caller drew them (default: every
    function part's, :func:`build_plans`); ``limits``: a
    :class:`~autograder.config.SandboxLimits` or a dict overriding some of
    the course's ``sandbox:`` section; ``variant``: the student's ``(params,
    seed)`` when the caller already drew them (:func:`autograder.judge.variant_of`)."""
    from ..judge import variant_of
    student = student or None
    params, seed = variant if variant is not None else variant_of(course, assignment, student)
    return GradingPlan(
        course=course, assignment=assignment, student=student, params=params, seed=seed,
        plans=build_plans(course, assignment, student, seed=seed) if plans is None else plans,
        context=child_context(course, assignment, student, params),
        limits=limits_of(course, limits), hide=course_hide_list(course),
        course_file=course.source or None)


def build_plans(course, assignment: str, student: str | None, *,
                seed: int | None = None, questions=None) -> dict:
    """``{"A5.q1.forward": plan, …}`` drawn exactly as the judge draws them
    (``seed``: the variant's, when already known), for ``questions``
    (default: every question of ``assignment``)."""
    from ..functions import plan_calls
    from ..protocol import part_key
    from ..questions import questions_of
    if seed is None:
        from ..judge import variant_of
        _params, seed = variant_of(course, assignment, student)
    plans = {}
    for q in questions_of(assignment) if questions is None else questions:
        for p in q.parts:
            if p.kind == "fn":
                plans[part_key(q, p)] = plan_calls(p.fn, np.random.default_rng(seed))
    return plans


def child_context(course, assignment: str, student: str | None, params: dict) -> dict:
    """What the child gets instead of the questions, the judge, the variant
    generators and ``course.yaml``: the toolkit modules it may import
    (:func:`autograder.sandbox.allowlist.allowed_modules`), the student's
    variant ``params``, the answer variables and their kinds, the public
    seed of the given cells' demo data — never the seed of the hidden
    inputs — and the course facts the notebook runtime needs (its
    language, its assignments)."""
    from ..protocol import _kind_of, answer_names
    from ..sandbox.allowlist import allowed_modules
    from ..variants import public_seed
    kinds: dict = {}
    for (q, p), kind in _kind_of(assignment).items():
        kinds.setdefault(q, {})[p] = kind
    return {"modules": allowed_modules(course, assignment), "params": params,
            "answer_names": answer_names(assignment), "kinds": kinds,
            "public_seed": public_seed(course, assignment, student or None),
            "course": {"language": course.language, "assignments": list(course.assignments)}}


def limits_of(course, limits=None) -> dict:
    """Every sandbox limit: the course's ``sandbox:`` section, or
    ``limits`` (a :class:`~autograder.config.SandboxLimits`, or a dict of
    some limits over the course's section)."""
    from ..sandbox.run import LIMIT_KEYS
    if limits is None:
        limits = course.sandbox
    if isinstance(limits, dict):
        base = asdict(course.sandbox)
        base.update({k: v for k, v in limits.items() if k in LIMIT_KEYS})
        return {k: base[k] for k in LIMIT_KEYS}
    return {k: getattr(limits, k) for k in LIMIT_KEYS}


def course_hide_list(course) -> list[str]:
    """The course's paths the child must not see even if an allowed path
    contains them: the whole course folder (but for the way to an allowed
    package inside it), ``course.yaml``, solutions, sources, submissions,
    the gradebook, the course's own question modules."""
    cands = []
    course_path = course.source
    if course_path and os.path.exists(course_path):
        d = Path(course_path).resolve().parent
        cands.append(str(d))              # the whole course folder (but autograder/ in it)
        cands.append(str(Path(course_path).resolve()))
        for name in ("solutions", "source", "submitted", "autograded", "feedback", "release",
                     "exchange", ".git", "gradebook.db", "tests"):
            cands.append(str(d / name))
        url = getattr(course, "gradebook_url", "") or ""
        if url.startswith("sqlite:///"):
            p = Path(url[len("sqlite:///"):])
            cands.append(str(p if p.is_absolute() else d / p))
    qdir = getattr(course, "questions_dir", None)
    if qdir:
        cands.append(qdir)                # the course's own question modules
    return cands


def source_notebook_of(course, assignment: str):
    """The released notebook whose locked cells are restored:
    ``source/<assignment>/<notebook>`` or ``release/<assignment>/<notebook>``
    next to ``course.yaml``, when it exists (else ``None``)."""
    if not course.source:
        return None
    base = Path(course.source).resolve().parent
    name = course.assignment(assignment).notebook
    for cand in (base / "source" / assignment / name, base / "release" / assignment / name):
        if cand.is_file():
            return cand
    return None

"""Judging one assignment's answers: score, status, feedback, diagnosis and
error carried forward, for every part of every question.

Order of judgement for a part:

1. invalid or missing answer → no credit, the message says why;
2. equal to the reference (tolerance / formula equivalence) → full credit;
3. values right, shape differs by a length-1 axis (strict policy) →
   ``Policy.shape_credit``; a cost formula ("order") with only the right
   leading term → ``Policy.leading_term_credit`` (status ``"partial"``);
4. equal to the reference **rebuilt from the student's own earlier
   answers** (when the question ``uses`` some and they differ from the
   true ones) → ``Policy.ecf_fraction`` credit, ``carried_forward=True``;
5. otherwise no credit; if the answer equals one of the question's
   catalogued mistakes, the feedback names it and points at the formula
   (a cost formula is diagnosed when its leading term is the mistake's);
   else a number answer right for the lecture's numbers (where the student
   has their own variant) is named ``lecture_numbers``, and one that
   agrees to fewer than 4 significant digits ``too_few_digits`` (a right
   answer with so few digits gets the note too, without losing points).

Error carried forward rebuilds from the earlier answers ``q.uses`` names
(inside the question too); one that is missing or unusable stands in as
its true value, and nothing is carried forward from an earlier answer that
is the lecture's number in a student's own variant.

Function parts (:func:`judge_fn_part`) earn the share of hidden checks
passed; when every failing case returns what one of the
:class:`~autograder.functions.FnSpec`'s mistakes returns, that mistake is
named (``QuestionResult.diagnosis`` and the feedback).

Formula parts may carry ``definitions`` (names an answer may use for an
expression, e.g. ``a`` for ``σ(z)``): a :class:`Part` subclass with that
attribute, read here with ``getattr``.
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .i18n import msg
from .mistakes import LECTURE_NUMBERS, TOO_FEW_DIGITS, mistake as catalogued
from .numeric import SIG_DIGITS, InvalidAnswer, check_array, rounded_digits
from .questions.base import CARRIED, MISSING, Policy, Question, is_missing
from .results import AssignmentResult, QuestionResult

__all__ = ["judge_part", "grade_question", "grade_submission", "part_points", "policy_for",
           "variant_of"]


def _compare(part, answer, reference, policy: Policy, strict: bool = False):
    """``(ok, status, message, value)`` for one answer against one reference."""
    if part.kind == "num":
        c = check_array(answer, reference, rtol=policy.rtol, atol=policy.atol,
                        atol_scale=policy.atol_scale,
                        shape_policy="strict" if strict else policy.shape_policy,
                        name=part.name)
        return c.ok, c.status, c.message, (c.aligned if c.aligned is not None else c.value)
    if part.kind in ("sym", "order"):
        from .formula import check_formula, check_order
        check = check_order if part.kind == "order" else check_formula
        r = check(answer, reference, list(part.symbols), domain=part.domain,
                  definitions=getattr(part, "definitions", None),
                  time_limit=policy.formula_time_limit, language=policy.language)
        status = "correct" if r.correct else (
            r.status if r.status in ("invalid", "partial") else "wrong")
        return r.correct, status, r.feedback, r.parsed
    if part.kind == "choice":
        ok = _normalise_choice(answer) == _normalise_choice(reference)
        return ok, "correct" if ok else "wrong", (
            msg(f"{part.name}：正确。", f"{part.name}: correct.") if ok else
            msg(f"{part.name}：不正确。", f"{part.name}: not correct.")), answer
    raise ValueError(f"judge: part {part.name!r} of kind {part.kind!r} is judged elsewhere")


def _normalise_choice(x: Any):
    if type(x) in (bool, np.bool_):
        return bool(x)
    if type(x) is str:
        s = x.strip().lower()
        return {"yes": True, "true": True, "是": True, "no": False, "false": False, "否": False}.get(s, s)
    if type(x) in (int, float) or isinstance(x, np.number):
        return float(x)
    return ("<unsupported>", type(x).__name__)


NO_RUNNER = msg("这一部分需要运行你写的函数，这里没有可用的运行环境。",
                "This part runs the function you wrote; no runner was available here.")


def fn_tolerance(policy: Policy | None) -> dict | None:
    """The tolerance a function part is judged with: course.yaml's for the
    part when it sets one (``policy.tolerance_set``), else ``None`` — the
    FnSpec's own, see :mod:`autograder.functions`."""
    if policy is None or not policy.tolerance_set:
        return None
    return {"rtol": policy.rtol, "atol": policy.atol, "atol_scale": policy.atol_scale}


def judge_fn_part(q: Question, part, runner, points: float, seed: int,
                  policy: Policy | None = None) -> QuestionResult:
    """Credit in proportion to the hidden cases (and gradient check) passed,
    each output compared with :func:`fn_tolerance` ``(policy)``."""
    from .functions import judge_function
    base = dict(question=q.id, part=part.name, max_score=points)
    if runner is None:
        return QuestionResult(score=0.0, status="error", feedback=[NO_RUNNER], **base)
    if hasattr(runner, "for_part"):          # a runner serving recorded results per part
        runner = runner.for_part(f"{q.id}.{part.name}")
    v = judge_function(part.fn, np.random.default_rng(seed), runner, fn_tolerance(policy))
    status = "correct" if v.fraction == 1 else ("partial" if v.fraction else "wrong")
    how = msg("随机输入与数值梯度检验", "random inputs and a numerical gradient check") \
        if part.fn.grad_check is not None else msg("随机输入", "random inputs")
    summary = msg(f"{part.fn.name}：通过 {v.passed}/{v.total} 项测试（", f"{part.fn.name}: passed "
                  f"{v.passed} of {v.total} checks (") + how + msg("）。", ").")
    named = [catalogued(v.diagnosis).text] if v.diagnosis else []
    return QuestionResult(score=points * v.fraction, status=status,
                          feedback=[summary, *named, *v.messages[:3]], diagnosis=v.diagnosis,
                          details={"passed": v.passed, "total": v.total}, **base)


def _digits_note(k: int):
    """The precision note: the answer agrees to ``k`` significant digits."""
    return msg(f"你的答案与正确值只有 {k} 位有效数字一致；请至少保留 {SIG_DIGITS} 位。",
               f"Your answer agrees to {k} significant digit{'s' if k > 1 else ''}; "
               f"keep at least {SIG_DIGITS}.")


def _too_few_digits(part, value, reference) -> int | None:
    """``k`` when a number answer is the reference rounded or cut off to
    1 ≤ k < 4 significant digits, else ``None`` (a wrong answer that is
    merely close is not called a rounding)."""
    if part.kind != "num" or value is None:
        return None
    try:
        return rounded_digits(value, np.asarray(reference, dtype=np.float64))
    except (TypeError, ValueError):
        return None


def judge_part(q: Question, part_name: str, answer, params: dict, policy: Policy,
               points: float, reference: dict, ecf_reference: dict | None,
               mistaken=None, lecture=None) -> QuestionResult:
    """``mistaken()`` returns ``[(mistake, wrong answers)]`` for ``q`` (built
    once per question by :func:`grade_question`; built here when absent);
    ``lecture()`` the references for the lecture's numbers, or ``None`` when
    they are the student's own (an answer right for them is named
    ``lecture_numbers``). A number answer that agrees to fewer than
    :data:`~autograder.numeric.SIG_DIGITS` significant digits gets a note
    saying how many (named ``too_few_digits`` when it costs the part)."""
    part = q.part(part_name)
    base = dict(question=q.id, part=part_name, max_score=points)
    if is_missing(answer):
        return QuestionResult(score=0.0, status="missing", feedback=[MISSING], **base)
    if isinstance(answer, InvalidAnswer):    # rejected where it was collected (see protocol)
        return QuestionResult(score=0.0, status="invalid", feedback=[answer.message], **base)
    ok, status, message, value = _compare(part, answer, reference[part_name], policy)
    digits = _too_few_digits(part, value, reference[part_name])
    if ok:
        notes = [_digits_note(digits)] if digits else []
        return QuestionResult(score=points, status="correct", feedback=[message, *notes], **base)
    if status == "invalid":
        return QuestionResult(score=0.0, status="invalid", feedback=[message], **base)
    if status == "shape":
        return QuestionResult(score=points * policy.shape_credit,
                              status="partial" if policy.shape_credit else "wrong",
                              feedback=[message], details={"shape_only": True}, **base)
    if status == "partial":                  # a cost formula with only the right leading term
        return QuestionResult(score=points * policy.leading_term_credit,
                              status="partial" if policy.leading_term_credit else "wrong",
                              feedback=[message], details={"leading_term_only": True}, **base)
    if ecf_reference is not None and part_name in ecf_reference:
        ok_ecf, _, _, _ = _compare(part, answer, ecf_reference[part_name], policy)
        if ok_ecf:
            credit = points * policy.ecf_fraction
            return QuestionResult(score=credit, carried_forward=True,
                                  status="correct" if credit == points else
                                  ("partial" if credit else "wrong"),
                                  feedback=[CARRIED], **base)
    feedback, diagnosis = [message], None
    for mistake, wrong in (mistaken() if mistaken else _mistaken(q, params)):
        if part_name in wrong:
            hit, how, _, _ = _compare(part, answer, wrong[part_name], policy, strict=True)
            if hit or (part.kind == "order" and how == "partial"):   # the mistake's leading term
                diagnosis = mistake.id
                feedback.append(mistake.text)
                break
    if diagnosis is None and part.kind == "num":
        other = lecture() if lecture else None
        if other is not None and part_name in other and \
                _compare(part, answer, other[part_name], policy)[0]:
            diagnosis = LECTURE_NUMBERS.id
            feedback.append(LECTURE_NUMBERS.text)
        elif digits:
            diagnosis = TOO_FEW_DIGITS.id
            feedback.append(_digits_note(digits))
    return QuestionResult(score=0.0, status="wrong", feedback=feedback, diagnosis=diagnosis,
                          **base)


def _mistaken(q: Question, params: dict) -> list:
    return [(m, m.make(params)) for m in q.mistakes]


def _all_zero(value) -> bool:
    """Whether ``value`` is a numeric array (or number) of zeros only."""
    if isinstance(value, (str, bool)) or value is None:
        return False
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return False
    return arr.size > 0 and bool(np.all(arr == 0))


def _upstream(q: Question, all_answers: dict, params: dict, policy: Policy, references):
    """The student's earlier answers that ``q`` uses (``q.uses``, inside ``q``
    too), coerced to arrays in the reference's shape — or ``None`` when they
    all equal the true ones (then ECF adds nothing). An answer that is
    missing or unusable (invalid, another shape) is replaced by the true
    value, so the parts that follow from the *other* answers still carry
    forward; ``q.build(params, upstream)`` then always gets every name. So
    is an earlier *question's* answer that is trivially zero where the true
    value is not: zeros upstream would make a later question trivially
    "consistent", so they carry nothing forward (carried-forward credit
    cannot be gamed). Inside a question a zero may be honest work (a ReLU
    output after a wrong update is 0), and it was judged itself: it counts."""
    if not q.uses:
        return None
    from .questions import get_question
    values, differs = {}, False
    for ref_name in q.uses:
        qid, part_name = ref_name.rsplit(".", 1)
        earlier_q = get_question(f"{q.assignment}.{qid}")
        given = all_answers.get(qid, {}).get(part_name)
        true = references(earlier_q)[part_name]
        c = None if is_missing(given) else check_array(
            given, true, rtol=policy.rtol, atol=policy.atol, atol_scale=policy.atol_scale,
            shape_policy="lenient")
        trivial = qid != q.local_id and c is not None and c.aligned is not None \
            and _all_zero(c.aligned) and not _all_zero(true)
        if c is None or c.aligned is None or trivial:
            values[part_name] = np.array(true, dtype=np.float64)
            continue
        values[part_name] = c.aligned
        differs |= not c.ok
    return values if differs else None


def grade_question(q: Question, all_answers: dict, params: dict, policy,
                   points: dict[str, float], runner=None, seed: int = 0,
                   references=None) -> list[QuestionResult]:
    """One result per part of ``q``; ``all_answers`` maps ``"q1"`` → {part: value};
    function parts run through ``runner`` on hidden inputs drawn from ``seed``.
    ``policy`` is a :class:`Policy` or a function ``part name → Policy``;
    ``references(question)`` (memoised by :func:`grade_submission`) gives a
    question's reference answers, so each is built once per submission."""
    references = references or _reference_memo(params)
    policy_of = policy if callable(policy) else (lambda part: policy)
    answers = all_answers.get(q.local_id, {})
    if not isinstance(answers, dict):
        answers = {}
    reference = references(q)
    upstream = _upstream(q, all_answers, params, policy_of(None), references)
    mistaken = functools.cache(lambda: _mistaken(q, params))   # only wrong answers need them
    lecture = functools.cache(lambda: _lecture_reference(q, params))
    ecf_reference = None
    if upstream is not None and _from_lecture(q, upstream, params, policy_of(None), references):
        upstream = None                    # copied from the lecture: not the student's own work
    if upstream is not None:
        try:
            ecf_reference = q.build(params, upstream)
        except (ValueError, FloatingPointError, ArithmeticError):
            ecf_reference = None           # the student's values make no sense to rebuild from
    return [judge_fn_part(q, p, runner, float(points.get(p.name, 1.0)), seed, policy_of(p.name))
            if p.kind == "fn"
            else judge_part(q, p.name, answers.get(p.name), params, policy_of(p.name),
                            float(points.get(p.name, 1.0)), reference, ecf_reference, mistaken,
                            lecture)
            for p in q.parts]


def _from_lecture(q: Question, upstream: dict, params: dict, policy: Policy,
                  references) -> bool:
    """Whether one of the (wrong) earlier answers ``q`` carries forward is
    the lecture's number where the student has their own (then nothing is
    carried forward: copying the lecture earns no consistency)."""
    from .questions import get_question
    tol = dict(rtol=policy.rtol, atol=policy.atol, atol_scale=policy.atol_scale,
               shape_policy="lenient")
    for ref_name in q.uses:
        qid, part_name = ref_name.rsplit(".", 1)
        earlier = get_question(f"{q.assignment}.{qid}")
        if check_array(upstream[part_name], references(earlier)[part_name], **tol).ok:
            continue                       # right (or standing in for a missing answer)
        lecture = _lecture_reference(earlier, params)
        if lecture is not None and part_name in lecture and \
                check_array(upstream[part_name], lecture[part_name], **tol).ok:
            return True
    return False


def _lecture_reference(q: Question, params: dict) -> dict | None:
    """``q``'s references for the lecture's numbers, or ``None`` when
    ``params`` are the lecture's (nothing to tell apart) or they cannot be
    built."""
    from .variants import variant_params
    lecture = variant_params(q.assignment, None)
    if lecture == params:
        return None
    try:
        return q.reference(lecture)
    except (ValueError, KeyError, TypeError, ArithmeticError):
        return None


def _reference_memo(params: dict):
    """``question → reference answers``, each built once."""
    built: dict = {}

    def references(q: Question) -> dict:
        if q.id not in built:
            built[q.id] = q.reference(params)
        return built[q.id]
    return references


def policy_for(course, qid: str, part: str | None) -> Policy:
    """The :class:`Policy` ``course.yaml`` sets for one part of a question."""
    tol = course.tolerance_for(qid, part)
    return Policy(rtol=tol.rtol, atol=tol.atol, atol_scale=tol.atol_scale,
                  shape_policy=course.shape_policy_for(qid, part),
                  shape_credit=1.0 - course.shape_policy.penalty,
                  ecf=course.ecf.policy, ecf_credit=course.ecf.fraction,
                  leading_term_credit=course.order.leading_term_fraction,
                  formula_time_limit=course.formula.time_limit_s, language=course.language,
                  tolerance_set=tol != course.tolerance)


def variant_of(course, assignment: str, student_id: str | None) -> tuple[dict, int]:
    """The student's parameters and the seed of their hidden inputs."""
    from .variants import variant_params, variant_seed
    course_key = course.course_id + course.variants.key()
    params = variant_params(assignment, student_id, course_id=course_key,
                            mode=course.variants.mode)
    seed = variant_seed(course_key, assignment, student_id or "lecture")
    return params, seed


def grade_submission(course, assignment: str, answers: dict, student_id: str | None,
                     runner=None, variant: tuple[dict, int] | None = None) -> AssignmentResult:
    """Judge one student's answers with everything ``course.yaml`` decides:
    their variant, points, tolerances, shape and ECF policies.
    ``variant``: ``(params, seed)`` when the caller has computed
    :func:`variant_of` already (the grading pipeline does, once)."""
    from .questions import questions_of
    params, seed = variant if variant is not None else variant_of(course, assignment, student_id)
    result = AssignmentResult(assignment=assignment, student=student_id or "",
                              variant_seed=seed)
    references = _reference_memo(params)
    from .formula import judging_deadline
    # one budget for all of the submission's formula reading and checking: the
    # course's time limit (each check also keeps its own formula limit)
    with judging_deadline(max(float(course.sandbox.wall_seconds),
                              float(course.formula.time_limit_s))):
        for q in questions_of(assignment):
            for r in grade_question(q, answers, params,
                                    lambda part, qid=q.id: policy_for(course, qid, part),
                                    part_points(course, q), runner, seed, references):
                result.add(r)
    return result


def part_points(course, q: Question) -> dict[str, float]:
    """Each part's points: from ``course.yaml``'s ``parts``, or the question's
    points split evenly — rounded so that they add up to the question's
    points exactly (three parts of 2 points: 0.666666667, 0.666666667,
    0.666666666), never a hair above them."""
    qc = course.question(q.id)
    if qc.parts:
        return {p.name: course.points(q.id, p.name) for p in q.parts}
    share = round(qc.points / len(q.parts), 9)
    points = {p.name: share for p in q.parts}
    points[q.parts[-1].name] = round(qc.points - share * (len(q.parts) - 1), 9)
    return points

"""``nngrade audit``: the course's check of its own grading, before release.

For every question of every assignment (or those asked for), for the
lecture's numbers and a sample of student variants, it builds answers —

* the **reference solution** (every reference answer; the functions'
  references from their :class:`~autograder.functions.FnSpec`, with the
  notebook's given functions, a module's ``GIVEN``),
* a **blank** submission,
* each **catalogued mistake**'s answers (a :class:`Mistake`'s wrong values in
  place of the reference's; a function mistake's wrong reference in place
  of the student's function) —

grades them through the production judging path
(:func:`autograder.judge.grade_question` with ``course.yaml``'s policies and
points, as :func:`autograder.judge.grade_submission` does), and checks:

* the reference earns every point, with no mistake named and nothing
  carried forward; the blank earns nothing;
* each mistake is **visible** in the variant (it changes at least one
  part by more than :data:`MARGIN` times the part's tolerance: numbers
  "well away from the tolerance") and **named**: every part it changes scores 0 with
  that mistake as the diagnosis — or, where the part follows from the
  mistake's own earlier wrong answers, earns ``ecf`` credit as course.yaml
  says (carried forward); a function mistake is named and costs points;
* each variant **keeps the question's point**: ``Question.keeps(params)``
  (A4: a hidden unit off, none near the kink) and ``FnSpec.keeps(cases)``
  on the hidden inputs (pooling: no ties unless the tie rule is judged).

:func:`run_audit` returns the rows; :func:`print_table` prints them; the
CLI exits non-zero when a row failed. Nothing here changes how a student
is graded.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np

from .functions import InProcessRunner, plan_calls
from .numeric import check_array

__all__ = ["AuditRow", "run_audit", "print_table", "reference_namespace", "SAMPLE_STUDENTS"]

#: the student ids whose variants the audit samples (besides the lecture's numbers)
SAMPLE_STUDENTS = ("audit-0001", "audit-0002", "audit-0003")
#: a mistake's change must exceed this many times the part's tolerance on at
#: least one part (a part it moves only a little, a second-order effect, is
#: listed in the detail but is no failure while another part shows it clearly)
MARGIN = 3.0


@dataclass
class AuditRow:
    """One check: ``question``, ``variant`` (``lecture`` or a student id),
    ``case`` (``reference``, ``blank``, ``keeps`` or a mistake id), ``ok``
    and ``detail`` (what failed, or what was checked)."""
    question: str
    variant: str
    case: str
    ok: bool
    detail: str = ""


class _NoCalls:
    """A runner for cases that judge no function part: every call 'not run'."""

    def run(self, plan):
        return {c["id"]: {"ok": False, "error": "not run by the audit"} for c in plan}


def reference_namespace(assignment: str) -> dict:
    """Every function the assignment's hidden checks call, as the reference
    solution defines it: each FnSpec's reference under the spec's name, and
    the functions the notebook gives (a question module's ``GIVEN``)."""
    from .questions import MODULES, questions_of, sync
    sync()
    ns: dict = {}
    for module in MODULES.get(assignment, ()):
        ns.update(getattr(importlib.import_module(f"autograder.questions.{module}"), "GIVEN", {}))
    for q in questions_of(assignment):
        for p in q.parts:
            if p.kind == "fn":
                ns.setdefault(p.fn.name, p.fn.reference)
    return ns


def _policy(course, q):
    from .judge import policy_for
    return lambda part, qid=q.id: policy_for(course, qid, part)


def _grade(course, q, answers, params, runner, seed, references):
    from .judge import grade_question, part_points
    return {r.part: r for r in grade_question(q, answers, params, _policy(course, q),
                                              part_points(course, q), runner, seed, references)}


def _far(course, q, part, wrong, ref) -> bool:
    """Whether ``wrong`` differs from ``ref`` by more than MARGIN × tolerance
    (numbers), or at all (formulas, choices)."""
    from .judge import _compare, policy_for
    kind = q.part(part).kind
    pol = policy_for(course, q.id, part)
    if kind == "num":
        try:
            c = check_array(wrong, ref, rtol=MARGIN * pol.rtol, atol=MARGIN * pol.atol,
                            atol_scale=MARGIN * pol.atol_scale, shape_policy="lenient")
        except (TypeError, ValueError):
            return True
        return not c.ok
    same, _, _, _ = _compare(q.part(part), wrong, ref, pol)
    return not same


def _changed(course, q, part, wrong, ref) -> bool:
    """Whether ``wrong`` is outside the tolerance of ``ref`` at all."""
    from .judge import _compare, policy_for
    same, status, _, _ = _compare(q.part(part), wrong, ref, policy_for(course, q.id, part))
    return not same and status != "shape"


def _audit_variant(course, assignment: str, student: str | None) -> list[AuditRow]:
    from .judge import _reference_memo, variant_of
    from .questions import questions_of
    params, seed = variant_of(course, assignment, student)
    variant = student or "lecture"
    references = _reference_memo(params)
    questions = questions_of(assignment)
    right = {q.local_id: dict(references(q)) for q in questions}
    ns = reference_namespace(assignment)
    ecf = course.ecf.credit
    rows: list[AuditRow] = []

    for q in questions:
        row = lambda case, ok, detail="": rows.append(  # noqa: E731
            AuditRow(q.id, variant, case, ok, detail))
        has_fn = any(p.kind == "fn" for p in q.parts)
        # -- the reference solution -----------------------------------------------------
        got = _grade(course, q, right, params, InProcessRunner(ns), seed, references)
        bad = [f"{p}: {r.score:g}/{r.max_score:g} {r.diagnosis or ''}".strip()
               for p, r in got.items()
               if abs(r.score - r.max_score) > 1e-9 or r.diagnosis or r.carried_forward]
        row("reference", not bad, "; ".join(bad) or "full marks")
        # -- a blank submission ---------------------------------------------------------
        blank = {k: {} for k in right}
        got = _grade(course, q, blank, params, InProcessRunner({}) if has_fn else _NoCalls(),
                     seed, references)
        bad = [p for p, r in got.items() if r.score != 0]
        row("blank", not bad, f"points for {bad}" if bad else "nothing earned")
        # -- what a variant must keep ---------------------------------------------------
        if q.keeps is not None:
            problem = q.keeps(params)
            row("keeps", problem is None, problem or "the question's point is kept")
        for p in q.parts:
            if p.kind == "fn" and p.fn.keeps is not None:
                cases = plan_calls(p.fn, np.random.default_rng(seed))
                problem = p.fn.keeps([c["args"] for c in cases if c["fn"] == p.fn.name])
                row(f"keeps:{p.name}", problem is None, problem or "hidden inputs keep the point")
        # -- each catalogued mistake ----------------------------------------------------
        for m in q.mistakes:
            rows.append(_audit_mistake(course, q, m, params, seed, references, right, variant, ecf))
        for p in q.parts:
            if p.kind == "fn":
                for m in p.fn.mistakes:
                    rows.append(_audit_fn_mistake(course, q, p, m.id, m.fn, ns, params, seed,
                                                  references, right, variant))
    return rows


def _audit_mistake(course, q, m, params, seed, references, right, variant, ecf) -> AuditRow:
    wrong = m.make(params)
    others = [(o.id, o.make(params)) for o in q.mistakes if o.id != m.id]
    ref = right[q.local_id]
    changed = [p for p, v in wrong.items() if p in ref and _changed(course, q, p, v, ref[p])]
    if not changed:
        return AuditRow(q.id, variant, m.id, False,
                        "invisible: the mistake's answers equal the reference in this variant")
    close = [p for p in changed if not _far(course, q, p, wrong[p], ref[p])]
    answers = {**right, q.local_id: {**ref, **{p: wrong[p] for p in wrong if p in ref}}}
    got = _grade(course, q, answers, params, _NoCalls(), seed, references)
    bad = []
    for p in changed:
        r = got[p]
        if r.carried_forward:
            if abs(r.score - r.max_score * ecf) > 1e-9:
                bad.append(f"{p}: carried forward for {r.score:g}, course.yaml says "
                           f"{r.max_score * ecf:g}")
        elif r.score != 0 or (r.diagnosis != m.id and not _same_answer(
                course, q, p, wrong[p], dict(others), r.diagnosis)):
            bad.append(f"{p}: {r.score:g}/{r.max_score:g}, named {r.diagnosis!r}")
    if close and len(close) == len(changed):
        bad.append(f"too close to the reference: every part it changes is within "
                   f"{MARGIN:g}× the tolerance ({close})")
    note = f" (within {MARGIN:g}× the tolerance: {close})" if close else ""
    return AuditRow(q.id, variant, m.id, not bad,
                    "; ".join(bad) or f"named on {changed}{note}")


def _same_answer(course, q, part, value, others: dict, named) -> bool:
    """Whether the mistake ``named`` gives ``value`` for ``part`` too (two
    mistakes that coincide on a part: naming either is right)."""
    other = others.get(named, {})
    return part in other and not _changed(course, q, part, value, other[part])


def _audit_fn_mistake(course, q, p, mid, wrong, ns, params, seed, references, right,
                      variant) -> AuditRow:
    got = _grade(course, q, right, params, InProcessRunner({**ns, p.fn.name: wrong}), seed,
                 references)[p.name]
    case = f"{mid} ({p.name})"
    if got.score >= got.max_score - 1e-9:
        return AuditRow(q.id, variant, case, False, "invisible: full marks on the hidden inputs")
    if got.diagnosis != mid:
        return AuditRow(q.id, variant, case, False, f"named {got.diagnosis!r}, "
                                                    f"{got.score:g}/{got.max_score:g}")
    return AuditRow(q.id, variant, case, True, f"named, {got.score:g}/{got.max_score:g}")


def run_audit(course, assignments=None, students=SAMPLE_STUDENTS) -> list[AuditRow]:
    """Audit ``assignments`` (default: all of ``course``) for the lecture's
    numbers and each of ``students``' variants (see the module docstring).
    A variant mode of ``lecture`` audits the lecture's numbers only."""
    from .questions import MODULES, sync
    sync()
    rows: list[AuditRow] = []
    variants: list = [None]
    if course.variants.mode == "per_student":
        variants += list(students)
    for assignment in assignments or list(course.assignments):
        if assignment not in MODULES:
            rows.append(AuditRow(assignment, "-", "questions", False, "no questions defined"))
            continue
        for student in variants:
            try:
                rows.extend(_audit_variant(course, assignment, student))
            except Exception as exc:  # noqa: BLE001 — an audit reports, it does not crash
                rows.append(AuditRow(assignment, student or "lecture", "error", False,
                                     f"{type(exc).__name__}: {exc}"))
    return rows


def print_table(rows: list[AuditRow], *, verbose: bool = False, out=None) -> None:
    """Print the failures (every row with ``verbose``) and a summary line."""
    import sys
    out = out or sys.stdout
    shown = rows if verbose else [r for r in rows if not r.ok]
    if shown:
        w_q = max(len(r.question) for r in shown)
        w_v = max(len(r.variant) for r in shown)
        w_c = max(len(r.case) for r in shown)
        print(f"{'question':<{w_q}}  {'variant':<{w_v}}  {'case':<{w_c}}  result  detail", file=out)
        for r in shown:
            print(f"{r.question:<{w_q}}  {r.variant:<{w_v}}  {r.case:<{w_c}}  "
                  f"{'ok' if r.ok else 'FAIL':<6}  {r.detail}", file=out)
    failed = sum(not r.ok for r in rows)
    questions = len({r.question for r in rows})
    print(f"audit: {len(rows)} checks over {questions} questions, {failed} failed / "
          f"审核：{questions} 道题共 {len(rows)} 项检查，{failed} 项未通过", file=out)

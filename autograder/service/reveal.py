"""What the service may show, and when: the ``reveal`` section of a check.

The rule is one general mechanism: **a part's reveal is given only once the
part is judged fully right** (``status == "correct"`` and full points), **or
once the student's due date has passed** (``course.yaml``'s ``due:`` with
their extension, :meth:`autograder.config.AssignmentConfig.due_for`): then
every part of the question reveals, right or not.  Before the due date a
part that is wrong, partial, missing or carried forward reveals nothing, so
a reveal can never be used to find an answer in time to submit it.  Nothing
of this ever sits in the student's install: the service computes it after
judging.

What a reveal holds comes from :data:`PROVIDERS`, functions
``provider(question, part, result, params, reference) -> dict | None``
(``reference()``: the question's references, built once) whose dicts are
merged (JSON-safe values).  The built-in ones:

* :func:`exact_answer` — the reference answer at full precision (an array
  as nested lists, a formula in canonical SymPy form, a choice), so a
  student who typed 0.2475 sees 0.24751…;
* :func:`question_hook` — a question may define an attribute ``reveal``,
  a callable ``reveal(params, part) -> {"markdown": …, …}`` (a worked
  solution, a derivation's steps, a plot as a data URL) that the question's
  author owns; the service calls it only for parts judged right.

"""
from __future__ import annotations

from typing import Any, Callable

__all__ = ["PROVIDERS", "reveal_for", "may_reveal", "exact_answer", "question_hook"]


def may_reveal(result, past_due: bool = False) -> bool:
    """A part's reveal is given when it is fully right on its own, or
    (``past_due``) once the student's due date has passed."""
    return past_due or (result.status == "correct" and not result.carried_forward
                        and result.score >= result.max_score > 0)


def _plain(value: Any) -> Any:
    import numpy as np
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    try:
        import sympy
        if isinstance(value, sympy.Basic):
            return sympy.sstr(value)
    except ImportError:
        pass
    return str(value)


def exact_answer(question, part, result, params: dict, reference) -> dict | None:
    if part.kind == "fn":
        return None
    return {"answer": _plain(reference()[part.name])}


def question_hook(question, part, result, params: dict, reference) -> dict | None:
    hook = getattr(question, "reveal", None)
    return hook(params, part.name) if callable(hook) else None


#: the reveal providers, in order (see the module docstring)
PROVIDERS: list[Callable] = [exact_answer, question_hook]


def reveal_for(question, results, params: dict, past_due: bool = False,
               references=None) -> dict[str, dict]:
    """``{part: reveal}`` for the parts of ``question`` judged right — for
    every part when ``past_due``.  ``references(question)`` gives its
    references (built once; by default ``question.reference(params)``)."""
    import functools

    from ..results import to_jsonable
    reference = functools.cache(lambda: (references or (lambda q: q.reference(params)))(question))
    out: dict[str, dict] = {}
    for r in results:
        if not may_reveal(r, past_due):
            continue
        part = question.part(r.part)
        entry: dict = {}
        for provider in PROVIDERS:
            try:
                got = provider(question, part, r, params, reference)
            except Exception:  # noqa: BLE001 — a broken hook loses its reveal, not the check
                got = None
            if got:
                entry.update(got)
        if entry:
            out[r.part] = to_jsonable(entry, where=f"reveal of {question.id}/{r.part}")
    return out

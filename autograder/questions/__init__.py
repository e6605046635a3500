"""The registry of question definitions, one module per assignment.

Modules are imported when their assignment is first asked for (the A1/A2
formula questions pull in SymPy, which grading A3 does not need);
``QUESTIONS`` (every question) imports them all.
"""
from __future__ import annotations

import importlib
import pkgutil
import re

from .base import Mistake, Part, Policy, Question

__all__ = ["QUESTIONS", "get_question", "questions_of", "Question", "Part", "Mistake", "Policy"]


def _modules_by_assignment() -> dict[str, tuple[str, ...]]:
    """``{"A1": ("a1", "a1_functions"), ...}``: assignment ``AN``'s questions
    live in the modules named ``aN`` or ``aN_<anything>`` (in name order)."""
    found: dict[str, list[str]] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        m = re.fullmatch(r"a(\d+)(_\w+)?", info.name)
        if m:
            found.setdefault(f"A{m.group(1)}", []).append(info.name)
    return {a: tuple(found[a]) for a in sorted(found, key=lambda a: int(a[1:]))}


#: the modules defining each assignment's questions, in question order
MODULES: dict[str, tuple[str, ...]] = _modules_by_assignment()

_loaded: dict[str, dict[str, Question]] = {}


def _assignment_questions(assignment: str) -> dict[str, Question]:
    found = _loaded.get(assignment)
    if found is None:
        found = {}
        for name in MODULES.get(assignment, ()):
            for q in importlib.import_module(f"{__name__}.{name}").QUESTIONS:
                if q.assignment != assignment:
                    raise RuntimeError(f"{name} defines {q.id}, not a question of {assignment}")
                found[q.id] = q
        _loaded[assignment] = found
    return found


def __getattr__(name: str):
    if name == "QUESTIONS":
        return {qid: q for a in MODULES for qid, q in _assignment_questions(a).items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_question(qid: str) -> Question:
    try:
        return _assignment_questions(qid.partition(".")[0])[qid]
    except KeyError:
        raise KeyError(f"unknown question {qid!r}; known: {sorted(__getattr__('QUESTIONS'))}") \
            from None


def questions_of(assignment: str) -> list[Question]:
    qs = list(_assignment_questions(assignment).values())
    if not qs:
        raise KeyError(f"no questions defined for assignment {assignment!r}")
    return qs

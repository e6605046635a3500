"""The registry of question definitions, one module per assignment."""
from __future__ import annotations

from . import a1, a1_functions, a2, a3, a4, a5, a6, a7, a8, a9
from .base import Mistake, Part, Policy, Question

__all__ = ["QUESTIONS", "get_question", "questions_of", "Question", "Part", "Mistake", "Policy"]

QUESTIONS: dict[str, Question] = {q.id: q for mod in (a1, a1_functions, a2, a3, a4, a5, a6, a7, a8, a9) for q in mod.QUESTIONS}


def get_question(qid: str) -> Question:
    try:
        return QUESTIONS[qid]
    except KeyError:
        raise KeyError(f"unknown question {qid!r}; known: {sorted(QUESTIONS)}") from None


def questions_of(assignment: str) -> list[Question]:
    qs = [q for q in QUESTIONS.values() if q.assignment == assignment]
    if not qs:
        raise KeyError(f"no questions defined for assignment {assignment!r}")
    return qs

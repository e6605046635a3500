"""The result model: one :class:`QuestionResult` per judged question (or part),
gathered in an :class:`AssignmentResult`.

Feedback is stored as :class:`~autograder.i18n.Message` objects (both
languages) and rendered only on output, so one result can feed a Chinese
feedback page and an English ``results.json``.  Plain strings are allowed for
feedback that has a single language (e.g. an instructor's comment).

Serialization is plain JSON: ``to_dict`` returns only ``dict``/``list``/
``str``/``int``/``float``/``bool``/``None`` (NumPy scalars and arrays are
converted, tuples become lists, non-finite floats become the strings
``"NaN"``, ``"Infinity"``, ``"-Infinity"``), and ``to_json`` is
``json.dumps(to_dict(...), allow_nan=False)``.  ``from_dict``/``from_json``
read it back; each feedback entry keeps both languages (``zh``, ``en``) next
to the rendered ``text``, so a round trip restores the Messages.

Scores are floats rounded to 1e-9 (:data:`SCORE_DIGITS`) when a result is
made and when totals are summed (with ``math.fsum``), so that 0.1 + 0.2 parts
add up to exactly 0.3 and totals are stable across runs and machines.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .i18n import Message, check_language

__all__ = ["QuestionResult", "AssignmentResult", "STATUSES", "SCORE_DIGITS",
           "round_score", "to_jsonable", "valid_text"]

#: statuses a question (or part) can end with
STATUSES = ("correct", "partial", "wrong", "invalid", "missing", "error", "timeout")
#: scores are rounded to this many decimal places
SCORE_DIGITS = 9


_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(text: str, limit: int | None = None) -> str:
    """``text`` cut to ``limit`` characters, every lone surrogate (which
    UTF-8 cannot hold: ``"\\ud800"`` from a student's ``print``) replaced by
    U+FFFD, so that it can always be written as UTF-8."""
    if limit is not None:
        text = text[:limit]
    return _SURROGATE.sub("\ufffd", text)


def round_score(x: Any) -> float:
    """``x`` as a plain float rounded to 1e-9 (``-0.0`` becomes ``0.0``)."""
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise TypeError(f"a score must be a real number, got {type(x).__name__}")
    value = float(x)
    if not math.isfinite(value):
        raise ValueError(f"a score must be finite, got {value}")
    value = round(value, SCORE_DIGITS)
    return value + 0.0 if value != 0 else 0.0


def to_jsonable(obj: Any, *, where: str = "details") -> Any:
    """A plain-JSON copy of ``obj``; raises ``TypeError`` naming the bad entry.

    dict keys must be strings (ints and NumPy integers are turned into
    strings); tuples and arrays become lists; NumPy scalars become Python
    ones; non-finite floats become ``"NaN"``/``"Infinity"``/``"-Infinity"``;
    a :class:`Message` becomes ``{"zh": ..., "en": ...}``.
    """
    if obj is None or type(obj) is bool or type(obj) is str:
        return obj
    if type(obj) is int:
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if type(obj) is float or isinstance(obj, np.floating):
        value = float(obj)
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(obj, Message):
        return {"zh": obj.zh, "en": obj.en}
    if type(obj) is np.ndarray:
        if obj.dtype.kind not in "biuf":
            raise TypeError(f"{where}: arrays of dtype {obj.dtype} cannot go into JSON")
        return [to_jsonable(v, where=where) for v in obj.tolist()] if obj.ndim else \
            to_jsonable(obj.item(), where=where)
    if type(obj) in (list, tuple):
        return [to_jsonable(v, where=f"{where}[{i}]") for i, v in enumerate(obj)]
    if type(obj) is dict:
        out = {}
        for k, v in obj.items():
            if type(k) is str:
                key = k
            elif type(k) is int or isinstance(k, np.integer):
                key = str(int(k))
            else:
                raise TypeError(f"{where}: dict key {k!r} is not a string")
            out[key] = to_jsonable(v, where=f"{where}.{key}")
        return out
    raise TypeError(f"{where}: a {type(obj).__name__} cannot go into JSON "
                    f"(use numbers, strings, lists, dicts)")


def _feedback_entry(item: Message | str, language: str) -> dict:
    if isinstance(item, Message):
        return {"zh": item.zh, "en": item.en, "text": item.render(language)}
    return {"text": item}


def _feedback_from(entry: Any) -> Message | str:
    if type(entry) is str:
        return entry
    if type(entry) is dict:
        if "zh" in entry and "en" in entry:
            return Message(zh=str(entry["zh"]), en=str(entry["en"]))
        if "text" in entry:
            return str(entry["text"])
    raise ValueError(f"feedback entry {entry!r} is neither a string nor "
                     f"{{'zh', 'en'}} / {{'text'}}")


@dataclass(kw_only=True)
class QuestionResult:
    """The outcome of one question, or of one part of it (keyword arguments only).

    ``question`` is a full id such as ``"A3.q2"``; ``part`` names a part
    (``"dW1"``) or is ``None`` for a question judged as a whole.  ``score``
    and ``max_score`` are rounded to 1e-9 and ``0 ≤ score ≤ max_score``.
    ``diagnosis`` is a mistake id (``"transposed_gradient"``) or ``None``;
    ``carried_forward`` says the credit came from judging against the
    student's own earlier answers.  ``details`` must be JSON-safe (it is
    converted on creation: NumPy values become plain ones).
    """

    question: str
    part: str | None = None
    score: float
    max_score: float
    status: str
    feedback: list[Message | str] = field(default_factory=list)
    diagnosis: str | None = None
    carried_forward: bool = False
    details: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if type(self.question) is not str or not self.question:
            raise ValueError(f"question must be a non-empty string like 'A3.q2', "
                             f"got {self.question!r}")
        if self.part is not None and (type(self.part) is not str or not self.part):
            raise ValueError(f"part must be None or a non-empty string, got {self.part!r}")
        if self.status not in STATUSES:
            raise ValueError(f"{self.label}: status must be one of {STATUSES}, "
                             f"got {self.status!r}")
        self.max_score = round_score(self.max_score)
        self.score = round_score(self.score)
        if self.max_score < 0:
            raise ValueError(f"{self.label}: max_score must be >= 0, got {self.max_score}")
        if not 0 <= self.score <= self.max_score:
            raise ValueError(f"{self.label}: score {self.score} is outside "
                             f"[0, {self.max_score}]")
        if isinstance(self.feedback, (Message, str)):
            self.feedback = [self.feedback]
        self.feedback = list(self.feedback)
        for item in self.feedback:
            if not isinstance(item, (Message, str)):
                raise TypeError(f"{self.label}: feedback entries must be Message or str, "
                                f"got {type(item).__name__}")
        if self.diagnosis is not None and type(self.diagnosis) is not str:
            raise TypeError(f"{self.label}: diagnosis must be a mistake id string or None")
        self.carried_forward = bool(self.carried_forward)
        if type(self.details) is not dict:
            raise TypeError(f"{self.label}: details must be a dict")
        self.details = to_jsonable(self.details, where=f"{self.label} details")

    @property
    def label(self) -> str:
        """``"A3.q2"`` or ``"A3.q2/dW1"``."""
        return f"{self.question}/{self.part}" if self.part else str(self.question)

    @property
    def full_marks(self) -> bool:
        return self.score == self.max_score

    def feedback_text(self, language: str = "zh+en", sep: str = "\n") -> str:
        check_language(language)
        return sep.join(item.render(language) if isinstance(item, Message) else item
                        for item in self.feedback)

    def to_dict(self, language: str = "zh+en") -> dict:
        check_language(language)
        return {
            "question": self.question,
            "part": self.part,
            "score": self.score,
            "max_score": self.max_score,
            "status": self.status,
            "feedback": [_feedback_entry(item, language) for item in self.feedback],
            "diagnosis": self.diagnosis,
            "carried_forward": self.carried_forward,
            "details": self.details,
        }

    def to_json(self, language: str = "zh+en", **dumps_kwargs) -> str:
        """JSON text that is always valid UTF-8 (see :func:`valid_text`)."""
        return valid_text(json.dumps(self.to_dict(language), ensure_ascii=False,
                                     allow_nan=False, **dumps_kwargs))

    @classmethod
    def from_dict(cls, data: dict) -> "QuestionResult":
        if type(data) is not dict:
            raise ValueError("a question result must be a JSON object")
        known = {"question", "part", "score", "max_score", "status", "feedback",
                 "diagnosis", "carried_forward", "details"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown keys in a question result: {sorted(unknown)}")
        for key in ("question", "score", "max_score", "status"):
            if key not in data:
                raise ValueError(f"a question result needs {key!r}")
        return cls(question=data["question"], part=data.get("part"),
                   score=data["score"], max_score=data["max_score"],
                   status=data["status"],
                   feedback=[_feedback_from(e) for e in data.get("feedback", [])],
                   diagnosis=data.get("diagnosis"),
                   carried_forward=bool(data.get("carried_forward", False)),
                   details=data.get("details", {}) or {})

    @classmethod
    def from_json(cls, text: str | bytes | dict) -> "QuestionResult":
        return cls.from_dict(text if isinstance(text, dict) else json.loads(text))


@dataclass
class AssignmentResult:
    """All the results of one student's submission of one assignment.

    ``variant_seed`` identifies the variant the student was judged on: the
    seed :func:`autograder.judge.variant_of` gives (an integer, also under
    the lecture's numbers, where it seeds the hidden inputs of function
    parts); ``None`` only where no grading set it.  ``score`` and
    ``max_score`` are sums over ``questions`` (each entry a question or a
    part), rounded to 1e-9.
    """

    assignment: str
    student: str
    variant_seed: int | str | None = None
    questions: list[QuestionResult] = field(default_factory=list)
    details: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if type(self.assignment) is not str or not self.assignment:
            raise ValueError(f"assignment must be a non-empty string, got {self.assignment!r}")
        if type(self.student) is not str:
            raise ValueError(f"student must be a string, got {self.student!r}")
        if isinstance(self.variant_seed, np.integer):
            self.variant_seed = int(self.variant_seed)
        if not (self.variant_seed is None or type(self.variant_seed) in (int, str)):
            raise TypeError(f"variant_seed must be an int, a string or None, "
                            f"got {type(self.variant_seed).__name__}")
        self.questions = list(self.questions)
        seen = set()
        for q in self.questions:
            if not isinstance(q, QuestionResult):
                raise TypeError(f"questions must hold QuestionResult objects, "
                                f"got {type(q).__name__}")
            if q.label in seen:
                raise ValueError(f"{self.assignment}: {q.label} appears twice")
            seen.add(q.label)
        if type(self.details) is not dict:
            raise TypeError("details must be a dict")
        self.details = to_jsonable(self.details, where=f"{self.assignment} details")

    def add(self, result: QuestionResult) -> None:
        if any(q.label == result.label for q in self.questions):
            raise ValueError(f"{self.assignment}: {result.label} appears twice")
        self.questions.append(result)

    @property
    def score(self) -> float:
        return round_score(math.fsum(q.score for q in self.questions))

    @property
    def max_score(self) -> float:
        return round_score(math.fsum(q.max_score for q in self.questions))

    def totals(self) -> dict[str, tuple[float, float]]:
        """``{question id: (score, max_score)}``, parts summed, in first-seen order."""
        scores: dict[str, list[float]] = {}
        maxes: dict[str, list[float]] = {}
        for q in self.questions:
            scores.setdefault(q.question, []).append(q.score)
            maxes.setdefault(q.question, []).append(q.max_score)
        return {k: (round_score(math.fsum(scores[k])), round_score(math.fsum(maxes[k])))
                for k in scores}

    def results_for(self, question: str) -> list[QuestionResult]:
        return [q for q in self.questions if q.question == question]

    def to_dict(self, language: str = "zh+en") -> dict:
        check_language(language)
        return {
            "assignment": self.assignment,
            "student": self.student,
            "variant_seed": self.variant_seed,
            "score": self.score,
            "max_score": self.max_score,
            "language": language,
            "questions": [q.to_dict(language) for q in self.questions],
            "details": self.details,
        }

    def to_json(self, language: str = "zh+en", **dumps_kwargs) -> str:
        """JSON text that is always valid UTF-8 (see :func:`valid_text`)."""
        return valid_text(json.dumps(self.to_dict(language), ensure_ascii=False,
                                     allow_nan=False, **dumps_kwargs))

    @classmethod
    def from_dict(cls, data: dict) -> "AssignmentResult":
        if type(data) is not dict:
            raise ValueError("an assignment result must be a JSON object")
        known = {"assignment", "student", "variant_seed", "score", "max_score",
                 "language", "questions", "details"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown keys in an assignment result: {sorted(unknown)}")
        for key in ("assignment", "student"):
            if key not in data:
                raise ValueError(f"an assignment result needs {key!r}")
        result = cls(assignment=data["assignment"], student=data["student"],
                     variant_seed=data.get("variant_seed"),
                     questions=[QuestionResult.from_dict(q)
                                for q in data.get("questions", [])],
                     details=data.get("details", {}) or {})
        for key in ("score", "max_score"):
            if key in data and round_score(data[key]) != getattr(result, key):
                raise ValueError(f"{key} {data[key]} does not match the sum of the "
                                 f"question results ({getattr(result, key)})")
        return result

    @classmethod
    def from_json(cls, text: str | bytes | dict) -> "AssignmentResult":
        return cls.from_dict(text if isinstance(text, dict) else json.loads(text))

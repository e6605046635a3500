"""Question definitions: PrairieLearn's ``generate(params)`` + ``grade``.

A :class:`Question` is the single place that says what a question expects:

* ``parts`` — the answer names and their kinds;
* ``build(params, upstream)`` — the reference answers, computed by
  ``nn_core`` (or its SymPy derivations) from the variant's ``params``. With
  ``upstream=None`` every intermediate comes from ``params``; with a dict of
  the student's own earlier answers (named in ``uses``) the reference is
  rebuilt from them — that is error carried forward;
* ``mistakes`` — typical wrong answers: :class:`~autograder.mistakes.Mistake`
  objects (id, name, hint) bound to the question with ``.with_make(make)``,
  ``make(params) -> {part: wrong value}`` transforming the reference.

Points, tolerances and policies are not here: they come from ``course.yaml``
through :class:`Policy` and the points table.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..config import schema_default
from ..i18n import Message, msg
from ..mistakes import Mistake

__all__ = ["Part", "Mistake", "Question", "Policy"]

KINDS = ("num", "sym", "order", "choice", "fn")


@dataclass(frozen=True)
class Part:
    """One answer of a question: ``name`` (as the student's variable), its
    ``kind`` and, for formulas, the ``symbols`` it may use (and their domain)."""
    name: str
    kind: str = "num"
    symbols: tuple[str, ...] = ()
    domain: dict | None = None
    label: Message | None = None
    fn: Any = None                      # an autograder.functions.FnSpec for kind "fn"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Part {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if (self.kind == "fn") != (self.fn is not None):
            raise ValueError(f"Part {self.name!r}: a FnSpec is given exactly for kind 'fn'")


@dataclass(frozen=True)
class Question:
    id: str                                   # "A3.q2"
    title: Message
    parts: tuple[Part, ...]
    build: Callable[[dict, dict | None], dict] | None
    uses: tuple[str, ...] = ()                # earlier answers ("q1.h") ECF rebuilds from
    mistakes: tuple[Mistake, ...] = ()
    #: what a variant must keep for the question to have its point:
    #: ``keeps(params)`` returns a problem (text) or ``None`` (``nngrade audit``)
    keeps: Callable[[dict], str | None] | None = None

    def __post_init__(self):
        for m in self.mistakes:               # a wrong one fails at import, not at grading
            if not isinstance(m, Mistake) or m.make is None:
                raise TypeError(f"{self.id}: a mistake is a Mistake with make (use "
                                f"MISTAKE.with_make(lambda p: {{...}})), got {m!r}")
        if len(set(p.name for p in self.parts)) != len(self.parts):
            raise ValueError(f"{self.id}: duplicate part names")

    @property
    def assignment(self) -> str:
        return self.id.split(".")[0]

    @property
    def local_id(self) -> str:
        return self.id.split(".", 1)[1]

    def part(self, name: str) -> Part:
        for p in self.parts:
            if p.name == name:
                return p
        raise KeyError(f"{self.id} has no part {name!r}; parts: {[p.name for p in self.parts]}")

    def reference(self, params: dict) -> dict:
        """The reference answers of the non-function parts."""
        return self.build(params, None) if self.build is not None else {}


@dataclass(frozen=True)
class Policy:
    """What ``course.yaml`` decides for judging.

    Grading always builds it from the course (:func:`autograder.judge.policy_for`).
    A ``Policy()`` made directly (tests, one-off judging without a course)
    has the course's defaults: every default below is
    :data:`autograder.config.SCHEMA`'s (rtol 0.005, atol 1e-6, ecf
    ``partial`` with fraction 0.5, shape penalty 1.0, …), the one place they
    are written. ``shape_credit`` is the credit kept (= 1 − ``shape_policy.penalty``)."""
    rtol: float = schema_default("tolerances.rtol")          # relative tolerance
    atol: float = schema_default("tolerances.atol")          # absolute tolerance
    #: absolute, in units of max |reference|
    atol_scale: float = schema_default("tolerances.atol_scale")
    shape_policy: str = schema_default("shape_policy.default")   # "strict" | "lenient"
    #: credit when only a length-1 axis differs (strict)
    shape_credit: float = 1.0 - schema_default("shape_policy.penalty")
    ecf: str = schema_default("ecf.policy")                  # "full" | "partial" | "none"
    #: credit for consistent work when ecf == "partial"
    ecf_credit: float = schema_default("ecf.fraction")
    #: cost formulas: right leading term only
    leading_term_credit: float = schema_default("order.leading_term_fraction")
    formula_time_limit: float = schema_default("formula.time_limit_s")
    language: str = schema_default("language")
    #: course.yaml sets a tolerance (profile or override) for this part or its
    #: question: then it also wins over a function part's FnSpec rtol/atol
    tolerance_set: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def ecf_fraction(self) -> float:
        return {"full": 1.0, "partial": self.ecf_credit, "none": 0.0}[self.ecf]


MISSING = msg("没有作答（答案变量不存在或仍为 None）。",
              "No answer given (the answer variable is missing or still None).")
CARRIED = msg("与你前面（有误的）答案一致：按前面的答案重新计算后，这一步是对的（误差传递给分）。",
              "Consistent with your earlier (wrong) answers: recomputed from them, this step "
              "is right (error carried forward).")


def is_missing(value: Any) -> bool:
    return value is None

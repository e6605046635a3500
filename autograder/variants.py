"""Per-student variants: each student's own numbers, derived from their id.

``variant_rng(course_id, assignment, student_id)`` seeds a generator from a
SHA-256 of the three strings, so the notebook (from the student's id) and
the grader (from the submission's owner) rebuild the same parameters on any
machine. Student id ``None`` — or a course in ``lecture`` mode — gives the
lecture's own numbers, which reproduce every value quoted in the catalogue.

An assignment's numbers live with its questions: the question module that
uses them (``autograder/questions/aN.py``, or a course's own ``questions_dir:``
module) defines ``VARIANTS = Variants(lecture=LECTURE, generate=_variant)``
— the lecture's numbers and the generator of a student's — and the registry
(:func:`autograder.questions.variants_of`) finds it. This module keeps the
mechanism (seeds, :func:`variant_params`) and the conditioning helpers the
generators share (:func:`decimals`).

What varies (the numeric parts only; formulas and hidden function inputs
do not):

* A1: the inputs of q2–q5; A3, A4: x, W, b, t;
* A2: ``L``, the number of sigmoid layers of q6 (lecture default 10: the
  lecture states no number);
* A5: q3's batch ``X, Y`` and parameters ``W1, b1, W2, b2``;
* A6: q4's layer width ``n``, depth ``L`` and batch ``B`` (lecture default
  n = 100, L = 10, B = 32: the lecture states no numbers);
* A8: q1's data and initial parameters, learning rate and number of steps
  (``X, y, W1_random, b1_random, W2_random, b2_random, lr, steps``) and
  q7's logistic unit and data seed (``W, b, seed``), in one flat dict.

A7 and A9 have no numbers worth varying (function parts on hidden inputs,
a formula part and a choice): no ``VARIANTS``, parameters ``{}``.

Generated numbers are *well conditioned*: short decimals, no unit dead by
accident (except where the question wants one, A4's second hidden unit), no
saturated sigmoid, no near-ties in max pooling, no output equal to its
target. Each generator draws until its conditions hold.
"""
from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Variants", "variant_seed", "variant_rng", "variant_params", "public_seed", "decimals"]

@dataclass(frozen=True)
class Variants:
    """An assignment's numbers: ``lecture``, the lecture's own (inputs, not
    answers, as the catalogue quotes them), and ``generate(rng) -> dict``, a
    student's (well conditioned; keys the questions read like the
    lecture's), drawn from the student's :func:`variant_rng`."""
    lecture: dict
    generate: Callable[[np.random.Generator], dict] | None = None


def variant_seed(course_id: str, assignment: str, student_id: str) -> int:
    """A 64-bit seed from ``(course, assignment, student)``; stable across runs."""
    for name, value in (("course_id", course_id), ("assignment", assignment),
                        ("student_id", student_id)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"variant_seed: {name} must be a non-empty string, got {value!r}")
    digest = hashlib.sha256("\x1f".join((course_id, assignment, student_id)).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def public_seed(course, assignment: str, student: str | None) -> int:
    """The seed of the inputs a notebook's public ``check`` (and its demo
    data, ``nb.public_seed``) uses for ``student`` (``None``: the lecture's):
    not the seed of the grading's hidden inputs."""
    return variant_seed(course.course_id + course.variants.key(), assignment,
                        f"{student or 'lecture'}#public")


def variant_rng(course_id: str, assignment: str, student_id: str) -> np.random.Generator:
    return np.random.default_rng(variant_seed(course_id, assignment, student_id))


def decimals(rng, shape, low, high, step=0.1, nonzero=True):
    """Multiples of ``step`` in [low, high] (0 excluded when ``nonzero``)."""
    grid = np.round(np.arange(low, high + step / 2, step), 10)
    if nonzero:
        grid = grid[np.abs(grid) > step / 2]
    return rng.choice(grid, size=shape)


def variant_params(assignment: str, student_id: str | None = None,
                   course_id: str = "nn-backprop", mode: str = "per_student") -> dict:
    """The parameters of ``assignment`` for ``student_id``: its question
    module's ``VARIANTS`` (:func:`autograder.questions.variants_of`).

    ``mode="lecture"`` or ``student_id=None`` gives the lecture's numbers;
    an assignment with no ``VARIANTS`` has no numeric variant (``{}``), one
    with no generator the lecture's numbers for everyone."""
    if mode not in ("lecture", "per_student"):
        raise ValueError(f"variant_params: mode must be 'lecture' or 'per_student', got {mode!r}")
    from .questions import variants_of
    variants = variants_of(assignment)
    if variants is None:
        return {}
    if mode == "lecture" or student_id is None or variants.generate is None:
        return copy.deepcopy(variants.lecture)
    return variants.generate(variant_rng(course_id, assignment, student_id))

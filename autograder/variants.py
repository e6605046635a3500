"""Per-student variants: each student's own numbers, derived from their id.

``variant_rng(course_id, assignment, student_id)`` seeds a generator from a
SHA-256 of the three strings, so the notebook (from the student's id) and
the grader (from the submission's owner) rebuild the same parameters on any
machine. Student id ``None`` — or a course in ``lecture`` mode — gives the
lecture's own numbers (:data:`LECTURE`), which reproduce every value quoted
in the catalogue. An assignment whose default numbers live in its question
module (A5's ``DEFAULTS``, A8's ``INIT_DEFAULTS`` and ``VARIANCE_DEFAULTS``)
has an empty lecture variant: the module's defaults apply.

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
a formula part and a choice).

Generated numbers are *well conditioned*: short decimals, no unit dead by
accident (except where the question wants one, A4's second hidden unit), no
saturated sigmoid, no near-ties in max pooling, no output equal to its
target. Each generator draws until its conditions hold.
"""
from __future__ import annotations

import copy
import hashlib
from typing import Callable

import numpy as np

from nn_core.activations import sigmoid

__all__ = ["LECTURE", "variant_seed", "variant_rng", "variant_params", "GENERATORS"]

#: The lecture's parameters (inputs, not answers) from the catalogue.
LECTURE: dict[str, dict] = {
    "A1": {"fxyz": {"x": -2.0, "y": 5.0, "z": -4.0},
           "J": {"a": 5.0, "b": 3.0, "c": 2.0, "h": 0.001},
           "neuron": {"w": [2.0, -3.0, -3.0], "x": [-1.0, -2.0]},
           "trace": {"x": 1.0, "w": 0.0, "b": 0.0}},
    "A3": {"x": [0.5, -1.5], "W1": [[0.4, -0.2], [-0.1, 0.3]], "b1": [0.1, -0.3],
           "W2": [[0.2, -0.5]], "b2": [0.05], "t": [0.3]},
    "A4": {"x": [0.2, 0.3], "y": [1.0], "W1": [[0.1, 0.4], [-0.5, 0.2]], "b1": [0.1, -0.1],
           "W2": [[0.6, 0.8]], "b2": [0.2], "lr": 1.0},
    "A2": {"L": 10},
    "A6": {"n": 100, "L": 10, "B": 32},
}


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


def _decimals(rng, shape, low, high, step=0.1, nonzero=True):
    """Multiples of ``step`` in [low, high] (0 excluded when ``nonzero``)."""
    grid = np.round(np.arange(low, high + step / 2, step), 10)
    if nonzero:
        grid = grid[np.abs(grid) > step / 2]
    return rng.choice(grid, size=shape)


def _a1(rng) -> dict:
    while True:
        x, y, z = _decimals(rng, 3, -5, 5, 1.0).tolist()
        if x + y != 0:
            break
    a, b, c = _decimals(rng, 3, 1, 6, 1.0).tolist()
    while True:
        w = _decimals(rng, 3, -3, 3, 1.0)
        xs = _decimals(rng, 2, -2, 2, 1.0)
        zn = w[0] * xs[0] + w[1] * xs[1] + w[2]
        if 0.5 <= abs(zn) <= 2.5:        # neither saturated nor at σ'(0)
            break
    tx, tw, tb = _decimals(rng, 3, -1, 1, 0.5, nonzero=False).tolist()
    return {"fxyz": {"x": x, "y": y, "z": z}, "J": {"a": a, "b": b, "c": c, "h": 0.001},
            "neuron": {"w": w.tolist(), "x": xs.tolist()},
            "trace": {"x": tx if tx else 1.0, "w": tw, "b": tb}}


def _a3(rng) -> dict:
    while True:
        x = _decimals(rng, 2, -2, 2, 0.5)
        W1 = _decimals(rng, (2, 2), -0.5, 0.5)
        b1 = _decimals(rng, 2, -0.3, 0.3)
        W2 = _decimals(rng, (1, 2), -0.6, 0.6)
        b2 = _decimals(rng, 1, -0.2, 0.2, 0.05)
        t = _decimals(rng, 1, -0.5, 0.5)
        z1 = W1 @ x + b1
        y = W2 @ sigmoid(z1) + b2
        if np.all(np.abs(z1) <= 2.5) and np.all(np.abs(z1) >= 0.05) and abs(y - t)[0] >= 0.1:
            return {"x": x.tolist(), "W1": W1.tolist(), "b1": b1.tolist(), "W2": W2.tolist(),
                    "b2": b2.tolist(), "t": t.tolist()}


def _a4(rng) -> dict:
    """ReLU everywhere; hidden unit 1 on, unit 2 off (the question wants one
    dead unit), both clearly away from the kink; the output on and short of
    the target."""
    while True:
        x = _decimals(rng, 2, 0.1, 0.5)
        W1 = _decimals(rng, (2, 2), -0.6, 0.6)
        b1 = _decimals(rng, 2, -0.2, 0.2)
        W2 = _decimals(rng, (1, 2), 0.1, 0.9)
        b2 = _decimals(rng, 1, 0.1, 0.3)
        z1 = W1 @ x + b1
        yhat = W2 @ np.maximum(z1, 0) + b2
        if z1[0] >= 0.05 and z1[1] <= -0.05 and 0.05 <= yhat[0] <= 0.8:
            return {"x": x.tolist(), "y": [1.0], "W1": W1.tolist(), "b1": b1.tolist(),
                    "W2": W2.tolist(), "b2": b2.tolist(), "lr": 1.0}


def _a2(rng) -> dict:
    """L ∈ 3…12 sigmoid layers (the bound 4^{−L} stays above 1e-8)."""
    return {"L": int(rng.integers(3, 13))}


def _a5(rng) -> dict:
    """A batch of n ∈ 3…6 rows with both labels; no saturated unit
    (|Z1|, |Z2| ≤ 2.5), so σ' and every mistake's change are visible."""
    while True:
        n = int(rng.integers(3, 7))
        X = _decimals(rng, (n, 3), -2, 2, 0.5)
        Y = rng.integers(0, 2, (n, 1)).astype(float)
        W1 = _decimals(rng, (4, 3), -0.5, 0.5)
        b1 = _decimals(rng, 4, -0.3, 0.3)
        W2 = _decimals(rng, (1, 4), -0.8, 0.8)
        b2 = _decimals(rng, 1, -0.2, 0.2)
        Z1 = X @ W1.T + b1
        Z2 = sigmoid(Z1) @ W2.T + b2
        if 0 < Y.sum() < n and np.abs(Z1).max() <= 2.5 and np.abs(Z2).max() <= 2.5:
            return {"X": X.tolist(), "Y": Y.tolist(), "W1": W1.tolist(), "b1": b1.tolist(),
                    "W2": W2.tolist(), "b2": b2.tolist()}


def _a6(rng) -> dict:
    """Width n, depth L, batch B; n > L so backward/forward = 2 − 1/L + 1/n ≠ 2."""
    return {"n": int(rng.choice([16, 20, 32, 50, 64, 100, 128])), "L": int(rng.integers(3, 13)),
            "B": int(rng.choice([8, 16, 32, 64, 100]))}


def _a8(rng) -> dict:
    """q1: four samples with unbalanced labels (so zero-initialised W2 moves at
    the first step), random hidden rows at least 0.2 apart (the symmetry is
    clearly broken), unsaturated units, lr ≠ 1 (so "lr not applied" shows);
    q7: the logistic unit's weights and the data seed."""
    while True:
        X = _decimals(rng, (4, 2), -1.5, 1.5, 0.5)
        y = np.zeros((4, 1))
        y[rng.choice(4, size=int(rng.choice([1, 3])), replace=False)] = 1.0
        W1 = _decimals(rng, (3, 2), -0.5, 0.5)
        b1 = _decimals(rng, 3, -0.2, 0.2, nonzero=False)
        gaps = [np.abs(W1[i] - W1[j]).max() for i in range(3) for j in range(i)]
        if min(gaps) >= 0.2 and np.abs(X @ W1.T + b1).max() <= 2.5:
            break
    init = {"X": X.tolist(), "y": y.tolist(), "W1_random": W1.tolist(), "b1_random": b1.tolist(),
            "W2_random": _decimals(rng, (1, 3), -0.6, 0.6).tolist(),
            "b2_random": _decimals(rng, 1, -0.2, 0.2, nonzero=False).tolist(),
            "lr": float(rng.choice([0.5, 0.8, 1.5])), "steps": int(rng.integers(3, 5))}
    variance = {"W": _decimals(rng, (1, 2), -1, 1).tolist(),
                "b": _decimals(rng, 1, -0.5, 0.5, nonzero=False).tolist(),
                "seed": int(rng.integers(0, 10_000))}
    return {**init, **variance}                 # q1's and q7's names are disjoint


GENERATORS: dict[str, Callable[[np.random.Generator], dict]] = {
    "A1": _a1, "A2": _a2, "A3": _a3, "A4": _a4, "A5": _a5, "A6": _a6, "A8": _a8}


def variant_params(assignment: str, student_id: str | None = None,
                   course_id: str = "nn-backprop", mode: str = "per_student") -> dict:
    """The parameters of ``assignment`` for ``student_id``.

    ``mode="lecture"`` or ``student_id=None`` gives the lecture's numbers;
    assignments with no generator have no numeric variant (empty dict or the
    lecture's)."""
    if mode not in ("lecture", "per_student"):
        raise ValueError(f"variant_params: mode must be 'lecture' or 'per_student', got {mode!r}")
    if mode == "lecture" or student_id is None or assignment not in GENERATORS:
        return copy.deepcopy(LECTURE.get(assignment, {}))
    return GENERATORS[assignment](variant_rng(course_id, assignment, student_id))


"""A3 — the 2-2-1 network of seed 003 (作业 1–2).

``z1 = W1 x + b1``, ``h = σ(z1)``, ``y = W2 h + b2``, ``L = ½(y − t)²``.
References come from ``nn_core``'s layers; error carried forward rebuilds
``h`` from the student's ``z1``, ``y`` from their ``h``, and the gradients
from their ``h`` and ``y``.
"""
from __future__ import annotations

import numpy as np

from nn_core.activations import ActivationLayer, sigmoid, sigmoid_grad
from nn_core.layers import Linear
from nn_core.losses import half_squared_error

from ..i18n import msg
from ..mistakes import (ACTIVATION_FOR_DERIVATIVE, DERIVATIVE_AT_ACTIVATION, DROPPED_HALF,
                        MISSING_ACTIVATION_DERIVATIVE, SIGN_ERROR, TRANSPOSED_GRADIENT)
from ..variants import Variants, decimals
from .base import Part, Question


def _layers(p):
    a = {k: np.asarray(v, dtype=np.float64) for k, v in p.items()}
    return a, Linear(2, 2, W=a["W1"], b=a["b1"]), ActivationLayer("sigmoid"), \
        Linear(2, 1, W=a["W2"], b=a["b2"])


def forward(p, up=None):
    """``z1, h, y``; with ``up``, ``h = σ(z1_student)`` and ``y = W2 h_student + b2``."""
    a, lin1, sig, lin2 = _layers(p)
    z1, _ = lin1.forward(a["x"])
    h, _ = sig.forward(up["z1"] if up else z1)
    y, _ = lin2.forward(up["h"] if up else h)
    return {"z1": z1, "h": h, "y": y}


def gradients(p, up=None, dz1_rule=None):
    """Backprop through nn_core's layers. ``up`` supplies the student's
    ``h`` and ``y``; ``dz1_rule(dh, h)`` replaces ``σ'(z1) ⊙ dh`` to model
    a mistake."""
    a, lin1, sig, lin2 = _layers(p)
    fw = forward(p)
    h = up["h"] if up else fw["h"]
    y = up["y"] if up else fw["y"]
    _, dy = half_squared_error(y, a["t"])
    dh, g2 = lin2.backward(dy, h)
    dz1 = sig.backward(dh, h)[0] if dz1_rule is None else dz1_rule(dh, h)
    _, g1 = lin1.backward(dz1, a["x"])
    return {"dW2": g2["W"], "db2": g2["b"], "dW1": g1["W"], "db1": g1["b"]}


def _scaled(p, factor):
    return {k: factor * v for k, v in gradients(p).items()}


def _transposed(p):
    g = gradients(p)
    return {"dW1": g["dW1"].T, "dW2": g["dW2"].T}


# -- the variant: the lecture's numbers and a student's ----------------------------------
#: the lecture's network, input and target (seed 003)
LECTURE = {"x": [0.5, -1.5], "W1": [[0.4, -0.2], [-0.1, 0.3]], "b1": [0.1, -0.3],
           "W2": [[0.2, -0.5]], "b2": [0.05], "t": [0.3]}


def _variant(rng) -> dict:
    while True:
        x = decimals(rng, 2, -2, 2, 0.5)
        W1 = decimals(rng, (2, 2), -0.5, 0.5)
        b1 = decimals(rng, 2, -0.3, 0.3)
        W2 = decimals(rng, (1, 2), -0.6, 0.6)
        b2 = decimals(rng, 1, -0.2, 0.2, 0.05)
        t = decimals(rng, 1, -0.5, 0.5)
        z1 = W1 @ x + b1
        y = W2 @ sigmoid(z1) + b2
        if np.all(np.abs(z1) <= 2.5) and np.all(np.abs(z1) >= 0.05) and abs(y - t)[0] >= 0.1:
            return {"x": x.tolist(), "W1": W1.tolist(), "b1": b1.tolist(), "W2": W2.tolist(),
                    "b2": b2.tolist(), "t": t.tolist()}


VARIANTS = Variants(lecture=LECTURE, generate=_variant)


Q1 = Question(
    id="A3.q1",
    title=msg("前向传播：z1、h、y", "Forward pass: z1, h, y"),
    parts=(Part("z1"), Part("h"), Part("y")),
    build=forward,
    uses=("q1.z1", "q1.h"),
)

Q2 = Question(
    id="A3.q2",
    title=msg("反向传播：∂L/∂W2、∂L/∂b2、∂L/∂W1、∂L/∂b1",
              "Backward pass: ∂L/∂W2, ∂L/∂b2, ∂L/∂W1, ∂L/∂b1"),
    parts=(Part("dW2"), Part("db2"), Part("dW1"), Part("db1")),
    build=gradients,
    uses=("q1.h", "q1.y"),
    mistakes=(
        TRANSPOSED_GRADIENT.with_make(_transposed),
        MISSING_ACTIVATION_DERIVATIVE.with_make(
            lambda p: gradients(p, dz1_rule=lambda dh, h: dh)),
        ACTIVATION_FOR_DERIVATIVE.with_make(
            lambda p: gradients(p, dz1_rule=lambda dh, h: dh * h)),
        DERIVATIVE_AT_ACTIVATION.with_make(
            lambda p: gradients(p, dz1_rule=lambda dh, h: dh * sigmoid_grad(h))),
        SIGN_ERROR.with_make(lambda p: _scaled(p, -1.0)),
        DROPPED_HALF.with_make(lambda p: _scaled(p, 2.0)),
    ),
)

QUESTIONS = (Q1, Q2)

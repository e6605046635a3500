"""A4 — one step of backprop with ReLU (seed 001 作业 1).

Every unit is ReLU, ``L = ½(y − ŷ)²``, learning rate η:
``z1 = W1 x + b1``, ``h = ReLU(z1)``, ``z2 = W2 h + b2``, ``ŷ = ReLU(z2)``.
q1 forward, q2 gradients, q3 the update ``θ' = θ − η ∂L/∂θ`` and the new
output and loss. Error carried forward: q2 from the student's ``z1`` and
``ŷ``; q3 from the student's gradients.
"""
from __future__ import annotations

import numpy as np

from nn_core.activations import ActivationLayer
from nn_core.layers import Linear
from nn_core.losses import half_squared_error
from nn_core.network import Network
from nn_core.optim import SGD

from ..i18n import msg
from ..mistakes import (DROPPED_HALF, GRADIENT_ASCENT, RELU_DERIVATIVE_WHEN_OFF, SIGN_ERROR,
                        TRANSPOSED_GRADIENT, UPDATED_BEFORE_ALL_GRADIENTS, Mistake)
from ..variants import Variants, decimals
from .base import Part, Question


# -- the mistakes A4's feedback names ----------------------------------------

WRONG_LEARNING_RATE = Mistake(
    "wrong_learning_rate",
    name=msg("更新用的学习率不是题目给的 η（例如用了 0.1）",
             "The update used another learning rate than the question's η (0.1, say)"),
    hint=msg("θ ← θ − η ∇L，η 用题目给出的值。",
             "θ ← θ − η ∇L with the η given."))

RELU_FOR_DERIVATIVE = Mistake(
    "relu_for_derivative",
    name=msg("反向传播中用了 ReLU(z) 本身代替它的导数",
             "ReLU(z) used in place of its derivative in the backward pass"),
    hint=msg("δ = ReLU'(z) ⊙ (Wᵀ δ_next)，ReLU'(z) = 1（z > 0），0（z ≤ 0）。",
             "δ = ReLU'(z) ⊙ (Wᵀ δ_next), with ReLU'(z) = 1 for z > 0 and 0 for z ≤ 0."))

PARAMS = ("W1", "b1", "W2", "b2")


def _arrays(p):
    return {k: np.asarray(v, dtype=np.float64) for k, v in p.items() if k != "lr"}


def network(theta) -> Network:
    return Network([Linear(2, 2, W=theta["W1"], b=theta["b1"]), ActivationLayer("relu"),
                    Linear(2, 1, W=theta["W2"], b=theta["b2"]), ActivationLayer("relu")],
                   "half_squared_error")


def forward(p, up=None):
    """``z1``, ``ŷ``, ``L``; with ``up`` (error carried forward inside q1)
    ``ŷ = ReLU(W2 ReLU(z1_student) + b2)`` and ``L = ½(y − ŷ_student)²``."""
    a = _arrays(p)
    net = network(a)
    z1, _ = net.layers[0].forward(a["x"])
    if up is None:
        y_hat = net.forward(a["x"])
        loss, _ = half_squared_error(y_hat, a["y"])
        return {"z1": z1, "y_hat": y_hat, "L": loss}
    h, _ = net.layers[1].forward(up["z1"])
    y_hat = net.layers[3].forward(net.layers[2].forward(h)[0])[0]
    loss, _ = half_squared_error(up["y_hat"], a["y"])
    return {"z1": z1, "y_hat": y_hat, "L": loss}


def gradients(p, up=None, relu_grad_off=0.0, relu_for_grad=False):
    """nn_core's backward pass; with ``up`` the caches hold the student's
    ``z1`` and ``ŷ``. ``relu_grad_off=1`` models "ReLU' = 1 for an off unit";
    ``relu_for_grad`` ReLU(z) multiplied in where ReLU'(z) belongs."""
    if relu_for_grad:
        return _relu_for_grad(p)
    a, net, z1, h, z2, dy = _forward_to_loss(p, up)
    dz2, _ = net.layers[3].backward(dy, z2)
    dh, g2 = net.layers[2].backward(dz2, h)
    dz1 = net.layers[1].backward(dh, z1)[0] + relu_grad_off * dh * (z1 <= 0)
    _, g1 = net.layers[0].backward(dz1, a["x"])
    return {"dW2": g2["W"], "db2": g2["b"], "dW1": g1["W"], "db1": g1["b"]}


def _forward_to_loss(p, up=None):
    """``(arrays, network, z1, h, z2, ∂L/∂ŷ)`` of the forward pass; with
    ``up``, the student's ``z1`` and ``ŷ`` in the caches."""
    a = _arrays(p)
    net = network(a)
    z1 = up["z1"] if up else net.layers[0].forward(a["x"])[0]
    h = np.maximum(z1, 0)
    z2 = net.layers[2].forward(h)[0]
    y_hat = up["y_hat"] if up else np.maximum(z2, 0)
    _, dy = half_squared_error(y_hat, a["y"])
    return a, net, z1, h, z2, dy


def _relu_for_grad(p):
    a, net, z1, h, z2, dy = _forward_to_loss(p)
    dz2 = np.maximum(z2, 0) * dy                       # ReLU(z2) for ReLU'(z2)
    dh, g2 = net.layers[2].backward(dz2, h)
    _, g1 = net.layers[0].backward(np.maximum(z1, 0) * dh, a["x"])
    return {"dW2": g2["W"], "db2": g2["b"], "dW1": g1["W"], "db1": g1["b"]}


def update(p, up=None, sign=1.0, stale_W2=False, lr=None):
    """``θ' = θ − η g`` with nn_core's SGD, then the new output and loss.

    ``up`` (error carried forward) gives the student's gradients (q2) and
    their own new parameters and output (q3): the new parameters follow
    from the student's gradients, ``ŷ'`` from the student's new parameters
    and ``L'`` from the student's ``ŷ'``. ``sign=-1`` models gradient
    ascent; ``stale_W2`` updating W2, b2 before computing the first layer's
    gradients (so they see the new W2); ``lr`` another learning rate than
    the question's η (a default such as 0.1 typed out of habit)."""
    a = _arrays(p)
    true_lr = float(p["lr"])
    lr = true_lr if lr is None else lr
    net = network(a)                     # the layers copy their parameters
    if up:
        g = {"dW1": up["dW1"], "db1": up["db1"], "dW2": up["dW2"], "db2": up["db2"]}
    else:
        g = gradients(p)
    if stale_W2:
        early = {**p, "W2": (a["W2"] - true_lr * g["dW2"]).tolist(),
                 "b2": (a["b2"] - true_lr * g["db2"]).tolist()}
        late = gradients(early)
        g = {**g, "dW1": late["dW1"], "db1": late["db1"]}
    grads = [{"W": sign * g["dW1"], "b": sign * g["db1"]}, {},
             {"W": sign * g["dW2"], "b": sign * g["db2"]}, {}]
    SGD(lr).step(net, grads)
    new = {"W1": net.layers[0].params["W"], "b1": net.layers[0].params["b"],
           "W2": net.layers[2].params["W"], "b2": net.layers[2].params["b"]}
    if up:                               # the student's own new parameters, where given
        net = network({k: up.get(k, new[k]) for k in PARAMS})
    y_new = net.forward(a["x"])
    L_new = half_squared_error((up or {}).get("y_hat_new", y_new), a["y"])[0]
    L_old = forward(p)["L"]
    return {**new, "y_hat_new": y_new, "L_new": L_new, "decreased": bool(L_new < L_old)}


def stale_gradients(p):
    """q2's first-layer gradients when W2 was updated before backpropagating
    into the first layer: δ1 = ReLU'(z1) ⊙ (W2'ᵀ δ2) with the new
    ``W2' = W2 − η dW2`` and the old δ2."""
    a, net, z1, h, z2, dy = _forward_to_loss(p)
    dz2, _ = net.layers[3].backward(dy, z2)
    _, g2 = net.layers[2].backward(dz2, h)
    W2_new = a["W2"] - float(p["lr"]) * g2["W"]
    late = Linear(2, 1, W=W2_new, b=a["b2"])
    dh, _ = late.backward(dz2, h)
    dz1 = net.layers[1].backward(dh, z1)[0]
    _, g1 = net.layers[0].backward(dz1, a["x"])
    return {"dW1": g1["W"], "db1": g1["b"]}


def _scaled(p, factor):
    return {k: factor * v for k, v in gradients(p).items()}


#: how far from the kink z = 0 every hidden unit's z1 must be in a variant
KINK_MARGIN = 0.05


def keeps_an_off_unit(p) -> str | None:
    """A4's point: one hidden unit off (ReLU' = 0 matters), every unit and the
    output clearly away from the kink, the output short of its target."""
    f = forward(p)
    z1, y_hat = np.asarray(f["z1"]), float(np.asarray(f["y_hat"]).reshape(-1)[0])
    if not np.any(z1 <= -KINK_MARGIN):
        return f"no hidden unit is off (z1 = {z1.tolist()})"
    if np.any(np.abs(z1) < KINK_MARGIN):
        return f"a hidden unit is within {KINK_MARGIN} of the kink (z1 = {z1.tolist()})"
    if not KINK_MARGIN <= y_hat < float(np.asarray(p["y"]).reshape(-1)[0]):
        return f"the output ŷ = {y_hat:g} is off or not short of the target"
    return None


# -- the variant: the lecture's numbers and a student's ----------------------------------
#: the lecture's network, input, target and learning rate (seed 001)
LECTURE = {"x": [0.2, 0.3], "y": [1.0], "W1": [[0.1, 0.4], [-0.5, 0.2]], "b1": [0.1, -0.1],
           "W2": [[0.6, 0.8]], "b2": [0.2], "lr": 1.0}


def _variant(rng) -> dict:
    """ReLU everywhere; hidden unit 1 on, unit 2 off (the question wants one
    dead unit), both clearly away from the kink; the output on and short of
    the target."""
    while True:
        x = decimals(rng, 2, 0.1, 0.5)
        W1 = decimals(rng, (2, 2), -0.6, 0.6)
        b1 = decimals(rng, 2, -0.2, 0.2)
        W2 = decimals(rng, (1, 2), 0.1, 0.9)
        b2 = decimals(rng, 1, 0.1, 0.3)
        z1 = W1 @ x + b1
        yhat = W2 @ np.maximum(z1, 0) + b2
        if z1[0] >= 0.05 and z1[1] <= -0.05 and 0.05 <= yhat[0] <= 0.8:
            return {"x": x.tolist(), "y": [1.0], "W1": W1.tolist(), "b1": b1.tolist(),
                    "W2": W2.tolist(), "b2": b2.tolist(), "lr": 1.0}


VARIANTS = Variants(lecture=LECTURE, generate=_variant)


Q1 = Question(
    id="A4.q1",
    title=msg("前向传播：z1、ŷ、L", "Forward pass: z1, ŷ, L"),
    parts=(Part("z1"), Part("y_hat"), Part("L")),
    build=forward,
    uses=("q1.z1", "q1.y_hat"),
)

Q2 = Question(
    id="A4.q2",
    title=msg("反向传播：各参数的梯度", "Backward pass: the gradients of every parameter"),
    parts=(Part("dW2"), Part("db2"), Part("dW1"), Part("db1")),
    build=gradients,
    uses=("q1.z1", "q1.y_hat"),
    mistakes=(
        RELU_DERIVATIVE_WHEN_OFF.with_make(lambda p: gradients(p, relu_grad_off=1.0)),
        TRANSPOSED_GRADIENT.with_make(
            lambda p: {k: v.T for k, v in gradients(p).items() if k in ("dW1", "dW2")}),
        SIGN_ERROR.with_make(lambda p: _scaled(p, -1.0)),
        DROPPED_HALF.with_make(lambda p: _scaled(p, 2.0)),
        UPDATED_BEFORE_ALL_GRADIENTS.with_make(stale_gradients),
        RELU_FOR_DERIVATIVE.with_make(lambda p: gradients(p, relu_for_grad=True)),
    ),
    keeps=keeps_an_off_unit,
)

#: learning rates a student may use instead of the question's η (habitual defaults)
OTHER_RATES = (0.1, 0.01)

Q3 = Question(
    id="A4.q3",
    title=msg("参数更新、更新后的输出与损失", "The update, the new output and loss"),
    parts=(Part("W1"), Part("b1"), Part("W2"), Part("b2"), Part("y_hat_new"), Part("L_new"),
           Part("decreased", kind="choice")),
    build=update,
    uses=("q2.dW1", "q2.db1", "q2.dW2", "q2.db2", "q3.W1", "q3.b1", "q3.W2", "q3.b2",
          "q3.y_hat_new"),
    mistakes=(
        GRADIENT_ASCENT.with_make(lambda p: update(p, sign=-1.0)),
        UPDATED_BEFORE_ALL_GRADIENTS.with_make(lambda p: update(p, stale_W2=True)),
        UPDATED_BEFORE_ALL_GRADIENTS.with_make(
            lambda p: update(p, {**gradients(p), **stale_gradients(p)})),
        *(WRONG_LEARNING_RATE.with_make(lambda p, r=r: update(p, lr=r)) for r in OTHER_RATES),
    ),
)

QUESTIONS = (Q1, Q2, Q3)

"""A5 — vectorized backprop for a batch (seed 004).

One hidden layer, sigmoid hidden and output units, the mean binary
cross-entropy ``J = −(1/n) Σ_i Σ_k [y log a + (1−y) log(1−a)]``, samples as
the rows of ``X``. Shapes (lecture: ``d0 = 3, d1 = 4, d2 = 1``)::

    X (n, d0)   Y (n, d2)   W1 (d1, d0)   b1 (d1,)   W2 (d2, d1)   b2 (d2,)

Student functions (q1, q2, q4; no Python loop over samples in q1, q2)::

    forward(X, W1, b1, W2, b2) -> (A1, A2)
        Z1 = X W1ᵀ + b1ᵀ, A1 = σ(Z1) (n, d1);  Z2 = A1 W2ᵀ + b2ᵀ, A2 = σ(Z2) (n, d2)
    cost(X, Y, W1, b1, W2, b2) -> J                       (a float)
    backward(X, Y, W1, b1, W2, b2) -> (dW1, db1, dW2, db2)
        dZ2 = (A2 − Y)/n, dW2 = dZ2ᵀ A1, db2 = dZ2ᵀ 1,
        dZ1 = dZ2 W2 ∘ σ'(Z1), dW1 = dZ1ᵀ X, db1 = dZ1ᵀ 1   (shapes of W1, b1, W2, b2)
    gradient_descent(X, Y, W1, b1, W2, b2, lr, epochs, batch_size)
            -> (W1, b1, W2, b2, J)
        ``epochs`` passes over the rows **in the given order** (no shuffling),
        cut into batches of ``batch_size`` rows (the last one may be shorter;
        ``batch_size = n`` is full-batch gradient descent, ``1`` stochastic);
        one step θ ← θ − lr·∇J_batch per batch, all gradients computed before
        any parameter changes; returns the final parameters and the final
        cost J on the whole of (X, Y). Must not modify its arguments.

``backward`` is also checked by finite differences of the student's own
``cost`` (with respect to W1). A wrong ``backward`` is diagnosed when it
equals one of :data:`BACKWARD_MISTAKES` (1/n missing, gradients transposed,
σ'(Z1) missing, σ(Z1) for σ'(Z1), σ' taken at A1); a ``cost`` without the
1/n and a ``gradient_descent`` with lr not applied are named too.

q3 (numbers): the per-sample gradients of W1 and the batched gradients —
the batched gradient is the mean of the per-sample ones — on the variant's
``X, Y, W1, b1, W2, b2`` (:func:`autograder.variants.variant_params`; the
lecture variant is :data:`LECTURE`).

q4's hidden cases train on small two-moons sets; on :data:`TRAIN_SET`
(stated in the notebook) the reference run reaches ``J <`` :data:`COST_THRESHOLD`.
References: ``nn_core`` layers, :class:`nn_core.network.Network` (batched
and one-sample paths) and :func:`nn_core.train.fit`.
"""
from __future__ import annotations

import numpy as np

from nn_core.activations import ActivationLayer, sigmoid, sigmoid_grad
from nn_core.data import two_class_2d
from nn_core.layers import Linear
from nn_core.losses import binary_cross_entropy
from nn_core.network import Network
from nn_core.optim import SGD
from nn_core.train import fit

from ..functions import FnSpec, GradCheck
from ..i18n import msg
from ..mistakes import (ACTIVATION_FOR_DERIVATIVE, DERIVATIVE_AT_ACTIVATION, DOUBLE_BATCH_MEAN,
                        LR_NOT_APPLIED, MISSING_ACTIVATION_DERIVATIVE, MISSING_BATCH_MEAN,
                        SIGN_ERROR, TRANSPOSED_GRADIENT)
from ..variants import Variants, decimals
from .base import Part, Question

PARAMS = ("W1", "b1", "W2", "b2")

#: q3's lecture-variant inputs (a student's variant replaces them): d0 = 3, d1 = 4, d2 = 1, n = 4.
LECTURE = {
    "X": [[0.5, -1.0, 2.0], [1.5, 0.0, -0.5], [-1.0, 2.0, 1.0], [0.0, 1.0, -2.0]],
    "Y": [[1.0], [0.0], [1.0], [0.0]],
    "W1": [[0.2, -0.4, 0.1], [0.5, 0.3, -0.2], [-0.3, 0.1, 0.4], [0.1, -0.2, -0.1]],
    "b1": [0.1, -0.2, 0.05, 0.0],
    "W2": [[0.6, -0.5, 0.3, 0.8]],
    "b2": [-0.1],
}

#: The data set and settings q4's notebook states (inputs, not answers).
TRAIN_SET = {"n": 100, "noise": 0.1, "seed": 0, "hidden": 6, "init_seed": 1,
             "lr": 2.0, "epochs": 300, "batch_size": 100}
COST_THRESHOLD = 0.35


def _params(p: dict) -> dict:
    return {k: np.asarray(v, dtype=np.float64) for k, v in {**LECTURE, **(p or {})}.items()}


def network(W1, b1, W2, b2, output_sigmoid=True) -> Network:
    """``Linear → σ → Linear → σ`` with the mean binary cross-entropy; with
    ``output_sigmoid=False`` the last σ is folded into the loss (from logits:
    its gradient is exactly (A2 − Y)/n)."""
    W1, b1, W2, b2 = (np.array(a, dtype=np.float64) for a in (W1, b1, W2, b2))
    layers = [Linear(W1.shape[1], W1.shape[0], W=W1, b=b1), ActivationLayer("sigmoid"),
              Linear(W2.shape[1], W2.shape[0], W=W2, b=b2)]
    if output_sigmoid:
        return Network(layers + [ActivationLayer("sigmoid")], "binary_cross_entropy")
    return Network(layers, "binary_cross_entropy_with_logits")


# -- function references --------------------------------------------------------
def forward_reference(X, W1, b1, W2, b2):
    net = network(W1, b1, W2, b2)
    z1, _ = net.layers[0].forward(X)
    a1, _ = net.layers[1].forward(z1)
    z2, _ = net.layers[2].forward(a1)
    a2, _ = net.layers[3].forward(z2)
    return a1, a2


def cost_reference(X, Y, W1, b1, W2, b2):
    _, a2 = forward_reference(X, W1, b1, W2, b2)
    return binary_cross_entropy(a2, Y)[0]


def backward_reference(X, Y, W1, b1, W2, b2):
    _, g = network(W1, b1, W2, b2, output_sigmoid=False).gradients(X, Y)
    return g[0]["W"], g[0]["b"], g[2]["W"], g[2]["b"]


def gd_reference(X, Y, W1, b1, W2, b2, lr, epochs, batch_size):
    net = network(W1, b1, W2, b2, output_sigmoid=False)
    fit(net, X, Y, SGD(float(lr)), int(epochs), batch_size=int(batch_size), shuffle=False)
    out = [net.layers[0].params["W"], net.layers[0].params["b"],
           net.layers[2].params["W"], net.layers[2].params["b"]]
    return (*out, net.loss_value(X, Y))


# -- hidden inputs -------------------------------------------------------------
SHAPES = ((5, 3, 4, 1), (1, 3, 4, 1), (12, 2, 6, 1), (7, 5, 3, 2))   # (n, d0, d1, d2)


def _net_args(rng, n, d0, d1, d2):
    X = rng.normal(0, 1, (n, d0))
    Y = (rng.random((n, d2)) < 0.5).astype(float)
    W1, W2 = rng.normal(0, 0.7, (d1, d0)), rng.normal(0, 0.7, (d2, d1))
    b1, b2 = rng.normal(0, 0.3, d1), rng.normal(0, 0.3, d2)
    return X, Y, W1, b1, W2, b2


def _forward_cases(rng):
    return [tuple(a for i, a in enumerate(_net_args(rng, *s)) if i != 1) for s in SHAPES]


def _loss_cases(rng):
    return [_net_args(rng, *s) for s in SHAPES]


def _gd_cases(rng):
    cases = []
    for n, d1, lr, epochs, batch in ((40, 5, 2.0, 60, 40), (30, 4, 1.0, 15, 8),
                                     (20, 3, 0.5, 5, 1)):
        X, y = two_class_2d(n, noise=0.15, rng=rng)
        W1, b1 = rng.normal(0, 1.0, (d1, 2)), rng.normal(0, 0.3, d1)
        W2, b2 = rng.normal(0, 1.0, (1, d1)), rng.normal(0, 0.3, 1)
        cases.append((X, y[:, None].astype(float), W1, b1, W2, b2, lr, epochs, batch))
    return cases


# -- catalogued mistakes of the functions (wrong references) ------------------------
def _backward_scaled(X, Y, W1, b1, W2, b2):
    """Every gradient n times too large: the 1/n of dZ2 = (A2 − Y)/n missing."""
    return tuple(len(X) * g for g in backward_reference(X, Y, W1, b1, W2, b2))


def _backward_transposed(X, Y, W1, b1, W2, b2):
    """dW = Xᵀ dZ (shape of Wᵀ) in place of dZᵀ X."""
    dW1, db1, dW2, db2 = backward_reference(X, Y, W1, b1, W2, b2)
    return dW1.T, db1, dW2.T, db2


def _backward_with(dz1_rule):
    """The backward pass with ``dZ1 = dz1_rule(dZ2 W2, A1)`` in place of
    ``dZ2 W2 ∘ σ'(Z1)``; the output layer's gradients stay right."""
    def wrong(X, Y, W1, b1, W2, b2):
        _, _, dW2, db2 = backward_reference(X, Y, W1, b1, W2, b2)
        A1, A2 = forward_reference(X, W1, b1, W2, b2)
        dZ1 = dz1_rule((A2 - np.asarray(Y)) / len(X) @ np.asarray(W2), A1)
        return dZ1.T @ np.asarray(X), dZ1.sum(axis=0), dW2, db2
    return wrong


BACKWARD_MISTAKES = (
    MISSING_BATCH_MEAN.with_fn(_backward_scaled),
    TRANSPOSED_GRADIENT.with_fn(_backward_transposed),
    MISSING_ACTIVATION_DERIVATIVE.with_fn(_backward_with(lambda dA1, A1: dA1)),
    ACTIVATION_FOR_DERIVATIVE.with_fn(_backward_with(lambda dA1, A1: dA1 * A1)),
    DERIVATIVE_AT_ACTIVATION.with_fn(_backward_with(lambda dA1, A1: dA1 * sigmoid_grad(A1))),
)

FORWARD = FnSpec("forward", _forward_cases, forward_reference)
COST = FnSpec("cost", _loss_cases, cost_reference,
              mistakes=(MISSING_BATCH_MEAN.with_fn(
                  lambda X, Y, *p: len(X) * cost_reference(X, Y, *p)),))
BACKWARD = FnSpec("backward", _loss_cases, backward_reference,
                  grad_check=GradCheck("cost", lambda args: list(args), 2,
                                       lambda args: np.array(1.0), lambda out: out[0]),
                  mistakes=BACKWARD_MISTAKES)
GRADIENT_DESCENT = FnSpec(
    "gradient_descent", _gd_cases, gd_reference, rtol=1e-6, atol=1e-8,
    mistakes=(LR_NOT_APPLIED.with_fn(lambda X, Y, W1, b1, W2, b2, lr, epochs, batch_size:
                                     gd_reference(X, Y, W1, b1, W2, b2, 1.0, epochs, batch_size)),))


# -- q3: numbers -----------------------------------------------------------------
def batch_gradients(p, up=None, scale=1.0, dz1_rule=None):
    """The batched gradients (nn_core's matrix path) and the per-sample
    gradients of W1 (nn_core's one-sample path, one row of X at a time).

    ``scale`` multiplies the batched gradients (n: the 1/n missing; 1/n: it
    applied twice; −1: a sign error); ``dz1_rule(dA1, A1)`` replaces
    ``dA1 ∘ σ'(Z1)`` to model a mistake in the hidden layer."""
    a = _params(p)
    net = network(*(a[k] for k in PARAMS), output_sigmoid=False)
    X, Y = a["X"], a["Y"]
    each = np.stack([net.gradients(X[i], Y[i])[1][0]["W"] for i in range(len(X))])
    if dz1_rule is None:
        _, g = net.gradients(X, Y)
        grads = {"dW1": g[0]["W"], "db1": g[0]["b"], "dW2": g[2]["W"], "db2": g[2]["b"]}
    else:
        A1 = sigmoid(X @ a["W1"].T + a["b1"])
        dZ2 = (sigmoid(A1 @ a["W2"].T + a["b2"]) - Y) / len(X)
        dZ1 = dz1_rule(dZ2 @ a["W2"], A1)
        grads = {"dW1": dZ1.T @ X, "db1": dZ1.sum(axis=0)}   # the parts the rule changes
        each = None
    out = {k: scale * v for k, v in grads.items()}
    if each is not None:
        out["dW1_each"] = each
    return out


def _transposed(p):
    g = batch_gradients(p)
    return {"dW1": g["dW1"].T, "dW2": g["dW2"].T, "dW1_each": g["dW1_each"].transpose(0, 2, 1)}


def _n(p):
    return len(_params(p)["X"])


# -- the variant: the lecture's numbers and a student's ----------------------------------
# (the lecture's numbers: :data:`LECTURE`, with q3's other settings above)
def _variant(rng) -> dict:
    """A batch of n ∈ 3…6 rows with both labels; no saturated unit
    (|Z1|, |Z2| ≤ 2.5), so σ' and every mistake's change are visible."""
    while True:
        n = int(rng.integers(3, 7))
        X = decimals(rng, (n, 3), -2, 2, 0.5)
        Y = rng.integers(0, 2, (n, 1)).astype(float)
        W1 = decimals(rng, (4, 3), -0.5, 0.5)
        b1 = decimals(rng, 4, -0.3, 0.3)
        W2 = decimals(rng, (1, 4), -0.8, 0.8)
        b2 = decimals(rng, 1, -0.2, 0.2)
        Z1 = X @ W1.T + b1
        Z2 = sigmoid(Z1) @ W2.T + b2
        if 0 < Y.sum() < n and np.abs(Z1).max() <= 2.5 and np.abs(Z2).max() <= 2.5:
            return {"X": X.tolist(), "Y": Y.tolist(), "W1": W1.tolist(), "b1": b1.tolist(),
                    "W2": W2.tolist(), "b2": b2.tolist()}


VARIANTS = Variants(lecture=LECTURE, generate=_variant)


# -- questions -------------------------------------------------------------------
Q1 = Question(
    id="A5.q1",
    title=msg("批量前向传播与代价 J（不对样本写 Python 循环）",
              "Batched forward pass and the cost J (no Python loop over samples)"),
    parts=(Part("forward", kind="fn", fn=FORWARD), Part("cost", kind="fn", fn=COST)),
    build=None,
)

Q2 = Question(
    id="A5.q2",
    title=msg("批量反向传播：dZ2 = (A2 − Y)/n, dW2 = dZ2ᵀA1, …",
              "Batched backward pass: dZ2 = (A2 − Y)/n, dW2 = dZ2ᵀA1, …"),
    parts=(Part("backward", kind="fn", fn=BACKWARD),),
    build=None,
)

Q3 = Question(
    id="A5.q3",
    title=msg("批量梯度等于逐样本梯度的平均", "The batched gradient is the mean of the per-sample gradients"),
    parts=(Part("dW1_each"), Part("dW1"), Part("db1"), Part("dW2"), Part("db2")),
    build=lambda p, up=None: batch_gradients(p),
    mistakes=(
        MISSING_BATCH_MEAN.with_make(
            lambda p: {k: v for k, v in batch_gradients(p, scale=_n(p)).items()
                       if k != "dW1_each"}),
        DOUBLE_BATCH_MEAN.with_make(
            lambda p: {k: v for k, v in batch_gradients(p, scale=1 / _n(p)).items()
                       if k != "dW1_each"}),
        TRANSPOSED_GRADIENT.with_make(_transposed),
        SIGN_ERROR.with_make(lambda p: {k: v for k, v in batch_gradients(p, scale=-1.0).items()
                                        if k != "dW1_each"}),
        MISSING_ACTIVATION_DERIVATIVE.with_make(
            lambda p: batch_gradients(p, dz1_rule=lambda dA1, A1: dA1)),
        ACTIVATION_FOR_DERIVATIVE.with_make(
            lambda p: batch_gradients(p, dz1_rule=lambda dA1, A1: dA1 * A1)),
    ),
)

Q4 = Question(
    id="A5.q4",
    title=msg("批量梯度下降（全批量、小批量、随机）", "Gradient descent: full-batch, mini-batch, stochastic"),
    parts=(Part("gradient_descent", kind="fn", fn=GRADIENT_DESCENT),),
    build=None,
)

QUESTIONS = (Q1, Q2, Q3, Q4)


def train_set():
    """q4's stated data set and initial parameters: ``X, Y, W1, b1, W2, b2``."""
    s = TRAIN_SET
    X, y = two_class_2d(s["n"], noise=s["noise"], rng=s["seed"])
    rng = np.random.default_rng(s["init_seed"])
    W1, b1 = rng.normal(0, 1.0, (s["hidden"], 2)), np.zeros(s["hidden"])
    W2, b2 = rng.normal(0, 1.0, (1, s["hidden"])), np.zeros(1)
    return X, y[:, None].astype(float), W1, b1, W2, b2

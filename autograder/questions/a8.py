"""A8 — training a network well (seeds 000, 001, 002, 003).

The network of q1 and q6 is A5's: ``Linear → σ → Linear → σ`` with the mean
binary cross-entropy, samples as rows, ``W1 (d1, d0)``, ``b1 (d1,)``,
``W2 (1, d1)``, ``b2 (1,)``, ``X (n, d0)``, ``y (n, 1)``.

Student functions (every one must leave its arguments unchanged)::

    weight_decay_step(W, b, dW, db, lr, lam) -> (W_new, b_new)          # q2
        W ← (1 − lr·lam) W − lr·dW,  b ← b − lr·db   (the bias is not decayed)
    dropout_train(a, p, u) -> out                                       # q3 "train"
        keep probability p; the mask keeps a where u < p (u: given uniform
        draws of a's shape, so the check is reproducible): out = a ⊙ [u < p]
    dropout_test(a, p) -> out                                           # q3 "test"
        seed 001's convention: out = p·a (same expectation as in training)
    dropout_inverted(a, p, u) -> out                                    # q3 "inverted"
        inverted dropout in training: out = a ⊙ [u < p] / p (test: identity)
    step_decay(t, lr0, factor, milestones) -> lr                        # q4 "step"
        lr_t = lr0 · factor^{#(milestones ≤ t)} (seed 003: ×0.1 at 30, 60, 90);
        t an array of epochs 0, 1, 2, …; lr the same shape
    linear_decay(t, lr0, lr_end, T) -> lr                               # q4 "linear"
        lr_t = lr0 + (lr_end − lr0)·min(t, T)/T
    inverse_time_decay(t, lr0, k) -> lr                                 # q4 "inv_t"
        lr_t = lr0 / (1 + k t)
    clip_gradient(g, threshold) -> g_clipped                            # q5
        if ‖g‖ > threshold: g ← threshold · g/‖g‖ (‖·‖ over all entries)
    sgd(X, y, X_val, y_val, W1, b1, W2, b2, lr, epochs, batch_size, patience, seed)
            -> (W1, b1, W2, b2, best_epoch)                             # q6 "sgd"
        seed 001 算法 2.1: rng = np.random.default_rng(seed); every epoch
        order = rng.permutation(n), batches order[i:i+batch_size]; one
        gradient step per batch; after each epoch the mean validation cost;
        stop when it has not decreased (strictly) for `patience` epochs;
        return the parameters of the epoch with the lowest validation cost
        and that epoch's index (0-based)
    solve_xor(X, y, X_test) -> labels                                   # q6 "xor"
        train a small network of your choice on the four points (X, y) and
        return its 0/1 predictions for X_test: all must be right
    digits_predict(X_train, y_train, X_test) -> labels                  # q6 "digits"
        train on the 8×8 digits (nn_core.data.digits) and return the
        predicted digits for X_test: accuracy ≥ DIGITS_ACCURACY

q1 and q7 are numbers: the lecture variant (:data:`LECTURE`) takes its
values from the module defaults :data:`INIT_DEFAULTS` and
:data:`VARIANCE_DEFAULTS`; a student's variant
(:func:`autograder.variants.variant_params`, one flat dict) replaces values
by name — q1's data, initial parameters, lr and steps (``X, y, W1_random,
b1_random, W2_random, b2_random, lr, steps``) and q7's unit and data seed
(``W, b, seed``); the two sets of names are disjoint, so a notebook may
write ``{**INIT_DEFAULTS, **params}`` and ``{**VARIANCE_DEFAULTS, **params}``.

Named mistakes of the functions: the bias decayed, or a step up the
gradient (q2); no test-time scaling, inverted dropout not divided by p
(q3); step decay one epoch late (q4); clipping each component (q5).

``digits`` is judged by accuracy: its :class:`~autograder.functions.FnSpec`
has a ``check`` that computes the accuracy of the returned labels, which
:func:`~autograder.functions.judge_function` applies instead of comparing
labels with the reference.
"""
from __future__ import annotations

import json
from functools import lru_cache

import numpy as np

from nn_core.activations import ActivationLayer, sigmoid
from nn_core.data import digits as load_digits
from nn_core.data import two_class_2d, xor
from nn_core.layers import Dropout, Linear
from nn_core.network import Network
from nn_core.optim import SGD, InverseTimeDecay, LinearDecay, StepDecay, clip_by_norm
from nn_core.train import fit

from ..functions import FnSpec, judge_function
from ..i18n import msg
from ..mistakes import (DOUBLE_BATCH_MEAN, GRADIENT_ASCENT, LR_NOT_APPLIED,
                        MISSING_ACTIVATION_DERIVATIVE, MISSING_BATCH_MEAN,
                        UPDATED_BEFORE_ALL_GRADIENTS, Mistake)
from ..numeric import InvalidAnswer, coerce_array
from ..variants import Variants, decimals
from .base import Part, Question


# -- the mistakes A8's feedback names ----------------------------------------

BIAS_DECAYED = Mistake(
    "bias_decayed",
    name=msg("偏置也做了权重衰减",
             "The bias was decayed too"),
    hint=msg("只衰减权重，W ← (1 − ηλ)W − η∇_W L，偏置 b ← b − η∇_b L。",
             "only weights decay, W ← (1 − ηλ)W − η∇_W L, while b ← b − η∇_b L."))

DROPOUT_TEST_NOT_SCALED = Mistake(
    "dropout_test_not_scaled",
    name=msg("测试时没有乘 p",
             "No test-time scaling"),
    hint=msg("按 seed 001 的约定（训练时以概率 p 保留），测试时输出为 p·a，"
             "期望才与训练时一致。",
             "with seed 001's convention (units kept with probability p in training) the "
             "test-time output is p·a, so the expectation matches training."))

DROPOUT_INVERTED_NOT_DIVIDED = Mistake(
    "dropout_inverted_not_divided",
    name=msg("inverted dropout 在训练时要除以 p",
             "Inverted dropout divides by p in training"),
    hint=msg("out = a ⊙ m / p（测试时不变）。",
             "out = a ⊙ m / p (and is the identity at test time)."))

SCHEDULE_OFF_BY_ONE = Mistake(
    "schedule_off_by_one",
    name=msg("阶梯衰减差了一个 epoch",
             "Step decay off by one epoch"),
    hint=msg("到达里程碑那一轮（t ≥ 30、60、90）就乘 0.1。",
             "the rate is multiplied by 0.1 from the milestone epoch itself (t ≥ 30, 60, 90)."))

CLIP_PER_COMPONENT = Mistake(
    "clip_per_component",
    name=msg("梯度裁剪是按整体范数缩放",
             "Gradient clipping rescales by the norm"),
    hint=msg("若 ‖g‖ > η，则 g ← η g/‖g‖（方向不变），不是逐个分量截断。",
             "if ‖g‖ > η then g ← η g/‖g‖ (same direction), not clipping each component."))


# -- a function spec judged by a custom check ---------------------------------------
# kept for the modules and tests that name them: the ``check`` field now
# lives on FnSpec itself and judge_function honours it
CheckedFnSpec = FnSpec
judge_checked = judge_function


def _array(value) -> np.ndarray | None:
    try:
        return coerce_array(value)
    except InvalidAnswer:
        return None


# -- q1: zero vs random initialisation ----------------------------------------------
INIT_DEFAULTS = {
    "X": [[0.5, 1.0], [-1.0, 0.5], [1.5, -0.5], [-0.5, -1.5]],
    "y": [[1.0], [0.0], [1.0], [1.0]],
    "W1_random": [[0.3, -0.2], [-0.4, 0.1], [0.2, 0.5]],
    "b1_random": [0.1, -0.1, 0.0],
    "W2_random": [[0.5, -0.3, 0.2]],
    "b2_random": [0.0],
    "lr": 0.5,
    "steps": 3,
}


def _init_params(p):
    """q1's numbers: :data:`INIT_DEFAULTS` (the lecture variant), each replaced
    by the variant's value of the same name (q7's names are other ones)."""
    return {k: (p or {}).get(k, v) for k, v in INIT_DEFAULTS.items()}


def _zero_init(p):
    W1 = np.asarray(p["W1_random"], dtype=np.float64)
    W2 = np.asarray(p["W2_random"], dtype=np.float64)
    return np.zeros_like(W1), np.zeros(W1.shape[0]), np.zeros_like(W2), np.zeros(W2.shape[0])


def _random_init(p):
    return tuple(np.asarray(p[k], dtype=np.float64)
                 for k in ("W1_random", "b1_random", "W2_random", "b2_random"))


def _a5_network(W1, b1, W2, b2) -> Network:
    W1, b1, W2, b2 = (np.array(a, dtype=np.float64) for a in (W1, b1, W2, b2))
    return Network([Linear(W1.shape[1], W1.shape[0], W=W1, b=b1), ActivationLayer("sigmoid"),
                    Linear(W2.shape[1], W2.shape[0], W=W2, b=b2)],
                   "binary_cross_entropy_with_logits")


def _params_of(net):
    return (net.layers[0].params["W"], net.layers[0].params["b"],
            net.layers[2].params["W"], net.layers[2].params["b"])


def trained(p, init):
    """``steps`` full-batch gradient steps with nn_core's SGD."""
    net = _a5_network(*init)
    X, y = np.asarray(p["X"], dtype=np.float64), np.asarray(p["y"], dtype=np.float64)
    fit(net, X, y, SGD(float(p["lr"])), int(p["steps"]), batch_size=None, shuffle=False)
    return _params_of(net)


def trained_by_hand(p, init, lr_factor=1.0, stale=False, dz1_rule=None):
    """The same loop written out, with switches for the catalogued mistakes:
    ``lr_factor`` (1/lr: lr not applied; −1: ascent; n: gradient summed),
    ``stale`` (W2, b2 updated before dW1 is computed), ``dz1_rule(dA1, A1)``
    (in place of dA1 ∘ σ'(Z1))."""
    X, y = np.asarray(p["X"], dtype=np.float64), np.asarray(p["y"], dtype=np.float64)
    lr = float(p["lr"]) * lr_factor
    W1, b1, W2, b2 = (a.copy() for a in init)
    rule = dz1_rule or (lambda dA1, A1: dA1 * A1 * (1 - A1))
    for _ in range(int(p["steps"])):
        A1 = sigmoid(X @ W1.T + b1)
        dZ2 = (sigmoid(A1 @ W2.T + b2) - y) / len(X)
        dW2, db2 = dZ2.T @ A1, dZ2.sum(axis=0)
        if stale:
            W2, b2 = W2 - lr * dW2, b2 - lr * db2
        dZ1 = rule(dZ2 @ W2, A1)
        W1, b1 = W1 - lr * (dZ1.T @ X), b1 - lr * dZ1.sum(axis=0)
        if not stale:
            W2, b2 = W2 - lr * dW2, b2 - lr * db2
    return W1, b1, W2, b2


def init_answers(p, up=None, **mistake):
    p = _init_params(p)
    run = (lambda init: trained_by_hand(p, init, **mistake)) if mistake else \
        (lambda init: trained(p, init))
    W1z, _, W2z, _ = run(_zero_init(p))
    W1r, _, _, _ = run(_random_init(p))
    return {"W1_zero": W1z, "W2_zero": W2z, "W1_random": W1r}


# -- q2–q5: function references ------------------------------------------------------
def weight_decay_reference(W, b, dW, db, lr, lam):
    W, b = np.array(W, dtype=np.float64), np.array(b, dtype=np.float64)
    net = Network([Linear(W.shape[1], W.shape[0], W=W, b=b)])
    SGD(float(lr), weight_decay=float(lam)).step(net, [{"W": np.asarray(dW), "b": np.asarray(db)}])
    return net.layers[0].params["W"], net.layers[0].params["b"]


class _GivenDraws:
    """A stand-in for ``np.random.Generator`` that hands out given draws, so
    nn_core's Dropout and ELM use the uniform numbers of the hidden case."""

    def __init__(self, *draws):
        self.draws = list(draws)

    def _next(self, shape):
        d = np.asarray(self.draws.pop(0), dtype=np.float64)
        if d.shape != tuple(int(k) for k in np.atleast_1d(shape)):
            raise ValueError(f"given draw has shape {d.shape}, asked for {shape}")
        return d

    def random(self, shape):
        return self._next(shape)

    def uniform(self, low, high, size):
        return self._next(size)


def dropout_train_reference(a, p, u):
    return Dropout(float(p), rng=_GivenDraws(u)).forward(np.asarray(a, dtype=np.float64))[0]


def dropout_test_reference(a, p):
    return Dropout(float(p)).forward(np.asarray(a, dtype=np.float64), train=False)[0]


def dropout_inverted_reference(a, p, u):
    return Dropout(float(p), inverted=True, rng=_GivenDraws(u)).forward(
        np.asarray(a, dtype=np.float64))[0]


def step_decay_reference(t, lr0, factor, milestones):
    s = StepDecay(lr0, factor, [int(m) for m in milestones])
    return np.array([s(int(e)) for e in np.asarray(t)])


def linear_decay_reference(t, lr0, lr_end, T):
    s = LinearDecay(lr0, lr_end, int(T))
    return np.array([s(int(e)) for e in np.asarray(t)])


def inverse_time_reference(t, lr0, k):
    s = InverseTimeDecay(lr0, k)
    return np.array([s(int(e)) for e in np.asarray(t)])


def clip_reference(g, threshold):
    g = np.array(g, dtype=np.float64)
    clip_by_norm([{"g": g}], float(threshold))
    return g


# -- hidden inputs -------------------------------------------------------------
SHAPES = ((4, 3), (1, 5), (6, 2), (3, 3))


def _decay_cases(rng):
    cases = []
    for out, inp in SHAPES:
        W, b = rng.normal(0, 1, (out, inp)), rng.normal(0, 1, out)
        cases.append((W, b, rng.normal(0, 1, (out, inp)), rng.normal(0, 1, out),
                      float(rng.choice([0.01, 0.1, 0.5])), float(rng.choice([0.01, 0.1, 1.0]))))
    return cases


ACT_SHAPES = ((8,), (4, 5), (3, 2, 4))


def _dropout_cases(rng, with_u=True):
    cases = []
    for shape in ACT_SHAPES:
        a = rng.normal(0, 1, shape)
        p = float(rng.choice([0.5, 0.8, 0.3]))
        cases.append((a, p, rng.random(shape)) if with_u else (a, p))
    return cases


def _epochs(rng):
    return np.concatenate([np.arange(0, 12), [29, 30, 31, 59, 60, 61, 89, 90, 91, 120],
                           rng.integers(0, 150, 5)]).astype(float)


def _step_cases(rng):
    return [(_epochs(rng), 0.1, 0.1, [30, 60, 90]),
            (_epochs(rng), float(rng.uniform(0.01, 1)), 0.5, [5, 10]),
            (np.arange(0, 40, dtype=float), 1.0, float(rng.uniform(0.2, 0.9)), [3, 17, 25])]


def _linear_cases(rng):
    return [(_epochs(rng), 0.1, 0.001, 100), (np.arange(0, 30, dtype=float), 1.0, 0.1, 10),
            (_epochs(rng), float(rng.uniform(0.1, 1)), 0.0, int(rng.integers(20, 80)))]


def _inv_cases(rng):
    return [(_epochs(rng), 0.1, 1.0), (np.arange(0, 30, dtype=float), 1.0, 0.5),
            (_epochs(rng), float(rng.uniform(0.1, 1)), float(rng.uniform(0.01, 0.2)))]


def _clip_cases(rng):
    cases = []
    for shape, scale in (((5,), 3.0), ((3, 4), 0.2), ((2, 3, 2), 1.0), ((7,), 0.5)):
        g = rng.normal(0, 1, shape)
        norm = float(np.linalg.norm(g))
        cases.append((g, norm * (0.5 if scale >= 1 else 2.0)))   # clipped, then not clipped
    return cases


# -- catalogued mistakes of the functions (wrong references) ------------------------
def _bias_decayed(W, b, dW, db, lr, lam):
    """The bias decayed like a weight: b ← (1 − ηλ)b − η∇_b L (nn_core's SGD
    with weight decay applied to b as if it were a weight column)."""
    W_new, _ = weight_decay_reference(W, b, dW, db, lr, lam)
    b = np.asarray(b, dtype=np.float64)
    col, _ = weight_decay_reference(b.reshape(-1, 1), np.zeros(b.size),
                                    np.asarray(db, dtype=np.float64).reshape(-1, 1),
                                    np.zeros(b.size), lr, lam)
    return W_new, col.reshape(b.shape)


def _decay_ascent(W, b, dW, db, lr, lam):
    """θ ← (1 − ηλ)θ + η∇L: a step up the gradient."""
    return weight_decay_reference(W, b, -np.asarray(dW), -np.asarray(db), lr, lam)


def _dropout_test_identity(a, p):
    """No test-time scaling (inverted dropout's test-time identity, from nn_core)."""
    return Dropout(float(p), inverted=True).forward(np.asarray(a, dtype=np.float64),
                                                    train=False)[0]


def _step_decay_late(t, lr0, factor, milestones):
    """The rate drops one epoch after each milestone (t > m instead of t ≥ m)."""
    return step_decay_reference(np.maximum(np.asarray(t) - 1, 0), lr0, factor, milestones)


def _clip_components(g, threshold):
    """Each component clipped to [−η, η] instead of rescaling by the norm."""
    return np.clip(np.asarray(g, dtype=np.float64), -float(threshold), float(threshold))


WEIGHT_DECAY = FnSpec("weight_decay_step", _decay_cases, weight_decay_reference,
                      mistakes=(BIAS_DECAYED.with_fn(_bias_decayed),
                                GRADIENT_ASCENT.with_fn(_decay_ascent)))
DROPOUT_TRAIN = FnSpec("dropout_train", _dropout_cases, dropout_train_reference)
DROPOUT_TEST = FnSpec("dropout_test", lambda rng: _dropout_cases(rng, with_u=False),
                      dropout_test_reference,
                      mistakes=(DROPOUT_TEST_NOT_SCALED.with_fn(_dropout_test_identity),))
DROPOUT_INVERTED = FnSpec("dropout_inverted", _dropout_cases, dropout_inverted_reference,
                          mistakes=(DROPOUT_INVERTED_NOT_DIVIDED.with_fn(dropout_train_reference),))
STEP = FnSpec("step_decay", _step_cases, step_decay_reference,
              mistakes=(SCHEDULE_OFF_BY_ONE.with_fn(_step_decay_late),))
LINEAR = FnSpec("linear_decay", _linear_cases, linear_decay_reference)
INV_T = FnSpec("inverse_time_decay", _inv_cases, inverse_time_reference)
CLIP = FnSpec("clip_gradient", _clip_cases, clip_reference,
              mistakes=(CLIP_PER_COMPONENT.with_fn(_clip_components),))


# -- q6: SGD with early stopping, XOR, digits ----------------------------------------
def sgd_reference(X, y, X_val, y_val, W1, b1, W2, b2, lr, epochs, batch_size, patience, seed):
    net = _a5_network(W1, b1, W2, b2)
    hist = fit(net, X, y, SGD(float(lr)), int(epochs), batch_size=int(batch_size),
               rng=np.random.default_rng(int(seed)), X_val=X_val, y_val=y_val,
               patience=int(patience))
    return (*_params_of(net), float(hist.best_epoch))


def _sgd_cases(rng):
    cases = []
    for n, n_val, d1, lr, epochs, batch, patience in ((60, 20, 4, 1.0, 40, 10, 3),
                                                      (30, 30, 8, 4.0, 60, 5, 2),
                                                      (25, 15, 3, 0.5, 10, 25, 5)):
        X, y = two_class_2d(n + n_val, noise=0.3, rng=rng)
        y = y[:, None].astype(float)
        W1, b1 = rng.normal(0, 1, (d1, 2)), rng.normal(0, 0.3, d1)
        W2, b2 = rng.normal(0, 1, (1, d1)), rng.normal(0, 0.3, 1)
        cases.append((X[:n], y[:n], X[n:], y[n:], W1, b1, W2, b2, lr, epochs, batch, patience,
                      int(rng.integers(0, 2**31 - 1))))
    return cases


def _xor_cases(rng):
    """The four XOR points in a random row order; labels XOR or its complement
    (XNOR); test points near the corners."""
    cases = []
    X0, y0 = xor()
    for flip in (False, True, False):
        order = rng.permutation(4)
        y = (1 - y0 if flip else y0)[order].astype(float)
        corners = rng.integers(0, 4, 12)
        X_test = X0[corners] + rng.uniform(-0.1, 0.1, (12, 2))
        cases.append((X0[order].astype(float), y, X_test))
    return cases


def xor_reference(X, y, X_test):
    """The label of each test point's corner under the case's rule."""
    X, y, X_test = np.asarray(X), np.asarray(y), np.asarray(X_test)
    nearest = np.argmin(((X_test[:, None, :] - X[None]) ** 2).sum(axis=2), axis=1)
    return y[nearest].astype(float)


DIGITS_ACCURACY = 0.9


@lru_cache(maxsize=1)
def _digit_labels() -> dict:
    X_train, y_train, X_test, y_test = load_digits(0.25, seed=0)
    X = np.vstack([X_train, X_test]).astype(np.float64)
    y = np.concatenate([y_train, y_test])
    return {row.tobytes(): int(label) for row, label in zip(X, y)}


def digits_labels(X_test) -> np.ndarray:
    """The true digit of each row of ``X_test`` (rows of the bundled set)."""
    table = _digit_labels()
    return np.array([table[np.asarray(r, dtype=np.float64).tobytes()] for r in X_test], dtype=float)


def _digits_cases(rng):
    X_train, y_train, X_test, _ = load_digits(0.25, seed=int(rng.integers(0, 2**31 - 1)))
    return [(X_train, y_train.astype(float), X_test)]


def digits_check(args, value):
    truth = digits_labels(args[2])
    got = _array(value)
    if got is None or got.shape != truth.shape:
        shape = None if got is None else got.shape
        return False, msg(f"应返回形状为 {truth.shape} 的标签数组，实际是 {shape}。",
                          f"should return an array of labels of shape {truth.shape}, got {shape}.")
    acc = float(np.mean(np.round(got) == truth))
    if acc >= DIGITS_ACCURACY:
        return True, None
    return False, msg(f"测试集准确率 {acc:.3f}，低于要求的 {DIGITS_ACCURACY}。",
                      f"test accuracy {acc:.3f}, below the required {DIGITS_ACCURACY}.")


SGD_SPEC = FnSpec("sgd", _sgd_cases, sgd_reference, rtol=1e-6, atol=1e-8)
XOR_SPEC = FnSpec("solve_xor", _xor_cases, xor_reference, rtol=0.0, atol=1e-9)
DIGITS_SPEC = CheckedFnSpec("digits_predict", _digits_cases,
                            lambda X_train, y_train, X_test: digits_labels(X_test),
                            rtol=0.0, atol=1e-9, check=digits_check)


# -- q7: gradient variance and batch size ---------------------------------------------
VARIANCE_DEFAULTS = {"n": 1000, "noise": 0.2, "seed": 0, "W": [[0.5, -0.3]], "b": [0.1],
                     "batch_sizes": [1, 4, 16, 64]}


def per_sample_gradients(p) -> np.ndarray:
    """``(N, 2)``: each sample's ∂L/∂W of the logistic unit σ(W x + b) (nn_core, one row at a time)."""
    key = json.dumps({k: np.asarray(p[k]).tolist() for k in ("n", "noise", "seed", "W", "b")},
                     sort_keys=True)
    return _per_sample_gradients(key).copy()


@lru_cache(maxsize=64)
def _per_sample_gradients(key: str) -> np.ndarray:
    """Computed once per variant (the reference and both mistakes need them)."""
    p = json.loads(key)
    X, y = two_class_2d(int(p["n"]), noise=p["noise"], rng=int(p["seed"]))
    net = Network([Linear(2, 1, W=np.array(p["W"], dtype=float), b=np.array(p["b"], dtype=float))],
                  "binary_cross_entropy_with_logits")
    return np.stack([net.gradients(X[i], y[i:i + 1].astype(float))[1][0]["W"].ravel()
                     for i in range(len(X))])


def variance_answers(p, up=None, mean_power=1):
    """``var[k] = E‖g_B − g‖²`` for a mini-batch of B = batch_sizes[k] rows drawn
    without replacement, ``g_B`` the batch's mean gradient (exact:
    ``tr Σ · (N − B)/(B (N − 1))``), and ``slope``: the least-squares slope of
    log var against log B (≈ −1: variance ∝ 1/B). ``mean_power = 0`` models
    the batch gradient summed (1/B missing), ``2`` divided by B² (1/B twice)."""
    p = {k: (p or {}).get(k, v) for k, v in VARIANCE_DEFAULTS.items()}
    G = per_sample_gradients(p)
    N = len(G)
    total = float(np.mean(np.sum((G - G.mean(axis=0)) ** 2, axis=1)))
    B = np.asarray(p["batch_sizes"], dtype=float)
    var = total * (N - B) / (B * (N - 1)) * B ** (2 * (1 - mean_power))
    slope = float(np.polyfit(np.log(B), np.log(var), 1)[0])
    return {"var": var, "slope": slope}


# -- the variant: the lecture's numbers and a student's ----------------------------------
#: the lecture's numbers of q1 and q7 (their names are disjoint), from
#: :data:`INIT_DEFAULTS` and :data:`VARIANCE_DEFAULTS`
LECTURE = {**INIT_DEFAULTS, **{k: VARIANCE_DEFAULTS[k] for k in ("W", "b", "seed")}}


def _variant(rng) -> dict:
    """q1: four samples with unbalanced labels (so zero-initialised W2 moves at
    the first step), random hidden rows at least 0.2 apart (the symmetry is
    clearly broken), unsaturated units, lr ≠ 1 (so "lr not applied" shows);
    q7: the logistic unit's weights and the data seed."""
    while True:
        X = decimals(rng, (4, 2), -1.5, 1.5, 0.5)
        y = np.zeros((4, 1))
        y[rng.choice(4, size=int(rng.choice([1, 3])), replace=False)] = 1.0
        W1 = decimals(rng, (3, 2), -0.5, 0.5)
        b1 = decimals(rng, 3, -0.2, 0.2, nonzero=False)
        gaps = [np.abs(W1[i] - W1[j]).max() for i in range(3) for j in range(i)]
        if min(gaps) >= 0.2 and np.abs(X @ W1.T + b1).max() <= 2.5:
            break
    init = {"X": X.tolist(), "y": y.tolist(), "W1_random": W1.tolist(), "b1_random": b1.tolist(),
            "W2_random": decimals(rng, (1, 3), -0.6, 0.6).tolist(),
            "b2_random": decimals(rng, 1, -0.2, 0.2, nonzero=False).tolist(),
            "lr": float(rng.choice([0.5, 0.8, 1.5])), "steps": int(rng.integers(3, 5))}
    variance = {"W": decimals(rng, (1, 2), -1, 1).tolist(),
                "b": decimals(rng, 1, -0.5, 0.5, nonzero=False).tolist(),
                "seed": int(rng.integers(0, 10_000))}
    return {**init, **variance}                 # q1's and q7's names are disjoint


VARIANTS = Variants(lecture=LECTURE, generate=_variant)


# -- questions -------------------------------------------------------------------
Q1 = Question(
    id="A8.q1",
    title=msg("零初始化的对称性：k 次更新后隐藏单元仍相同；随机初始化打破对称",
              "Zero initialisation: hidden units stay identical after k updates; "
              "random initialisation breaks the symmetry"),
    parts=(Part("W1_zero"), Part("W2_zero"), Part("W1_random")),
    build=init_answers,
    mistakes=(
        LR_NOT_APPLIED.with_make(lambda p: init_answers(
            p, lr_factor=1 / float(_init_params(p)["lr"]))),
        GRADIENT_ASCENT.with_make(lambda p: init_answers(p, lr_factor=-1.0)),
        MISSING_BATCH_MEAN.with_make(lambda p: init_answers(
            p, lr_factor=float(len(_init_params(p)["X"])))),
        UPDATED_BEFORE_ALL_GRADIENTS.with_make(lambda p: init_answers(p, stale=True)),
        MISSING_ACTIVATION_DERIVATIVE.with_make(
            lambda p: init_answers(p, dz1_rule=lambda dA1, A1: dA1)),
    ),
)

Q2 = Question(
    id="A8.q2",
    title=msg("L2 权重衰减：θ ← (1 − ηλ)θ − η∇L，偏置不衰减",
              "L2 weight decay: θ ← (1 − ηλ)θ − η∇L, the bias not decayed"),
    parts=(Part("weight_decay_step", kind="fn", fn=WEIGHT_DECAY),),
    build=None,
)

Q3 = Question(
    id="A8.q3",
    title=msg("Dropout：训练时的掩码、测试时乘 p、反向（inverted）dropout",
              "Dropout: the training mask, test-time scaling by p, inverted dropout"),
    parts=(Part("train", kind="fn", fn=DROPOUT_TRAIN), Part("test", kind="fn", fn=DROPOUT_TEST),
           Part("inverted", kind="fn", fn=DROPOUT_INVERTED)),
    build=None,
)

Q4 = Question(
    id="A8.q4",
    title=msg("学习率调度：阶梯衰减、线性衰减、1/t 衰减",
              "Learning-rate schedules: step, linear and 1/t decay"),
    parts=(Part("step", kind="fn", fn=STEP), Part("linear", kind="fn", fn=LINEAR),
           Part("inv_t", kind="fn", fn=INV_T)),
    build=None,
)

Q5 = Question(
    id="A8.q5",
    title=msg("梯度裁剪：若 ‖g‖ > η，则 g ← η g/‖g‖", "Gradient clipping: if ‖g‖ > η then g ← η g/‖g‖"),
    parts=(Part("clip_gradient", kind="fn", fn=CLIP),),
    build=None,
)

Q6 = Question(
    id="A8.q6",
    title=msg("小批量 SGD 与早停；解决 XOR；手写数字达到规定的测试准确率",
              "Mini-batch SGD with early stopping; solve XOR; reach the stated test accuracy "
              "on handwritten digits"),
    parts=(Part("sgd", kind="fn", fn=SGD_SPEC), Part("xor", kind="fn", fn=XOR_SPEC),
           Part("digits", kind="fn", fn=DIGITS_SPEC)),
    build=None,
)

Q7 = Question(
    id="A8.q7",
    title=msg("批量大小与梯度方差：方差按 1/B 下降", "Batch size and gradient variance: it falls like 1/B"),
    parts=(Part("var"), Part("slope")),
    build=variance_answers,
    mistakes=(
        MISSING_BATCH_MEAN.with_make(lambda p: variance_answers(p, mean_power=0)),
        DOUBLE_BATCH_MEAN.with_make(lambda p: variance_answers(p, mean_power=2)),
    ),
)

QUESTIONS = (Q1, Q2, Q3, Q4, Q5, Q6, Q7)

"""A9 — closed-form training and approximation (seeds 000, 002).

Student functions::

    elm_fit(X, T, W, b, ridge) -> beta                                 # q1
        extreme learning machine with the hidden weights given (drawn at
        random in the notebook, never trained): H = σ(X Wᵀ + b) (N, L),
        beta = H⁺ T (Moore–Penrose pseudo-inverse) when ridge = 0,
        beta = (HᵀH + ridge·I)⁻¹ HᵀT when ridge > 0.
        X (N, d), W (L, d), b (L,), T (N,) or (N, m) → beta (L,) or (L, m).
        With N < L and ridge = 0 the minimum-norm solution (what H⁺ gives).
    relu_interpolant(knots, values) -> (W1, b1, W2, b2)                  # q2
        a one-hidden-layer ReLU network g(x) = W2 ReLU(W1 x + b1) + b2 equal
        to the continuous piecewise-linear function through (knots[k],
        values[k]), continued linearly beyond both ends (seed 000, 万能逼近):
        W1 (L, 1), b1 (L,), W2 (1, L), b2 (1,).

q1's reference is :class:`nn_core.elm.ELM` fed the given W, b. q2 accepts
**any** network that computes the function (checked on the knots, between
them and beyond both ends with :func:`nn_core.elm.relu_net_eval`): its spec
has a ``check`` (see :class:`~autograder.functions.FnSpec`); its ``reference``
is :func:`nn_core.elm.relu_interpolant`'s construction (the lecture's: units
ReLU(x − x0), ReLU(x0 − x), ReLU(x − x_k)).
"""
from __future__ import annotations

import numpy as np

from nn_core.elm import ELM, relu_interpolant, relu_net_eval

from ..functions import FnSpec
from ..i18n import msg
from .a8 import CheckedFnSpec, _array, _GivenDraws
from .base import Part, Question


def elm_reference(X, T, W, b, ridge):
    W, b = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)
    elm = ELM(W.shape[0], "sigmoid", ridge=float(ridge))
    elm.rng = _GivenDraws(W, b)          # ELM.fit draws W, then b: hand it the given ones
    return elm.fit(np.asarray(X, dtype=np.float64), np.asarray(T, dtype=np.float64)).beta


def _well_conditioned(rng, N, d, L, limit=1e4):
    """``X, W, b`` whose hidden matrix has condition number below ``limit``."""
    while True:
        X = rng.uniform(-1, 1, (N, d))
        W, b = rng.uniform(-3, 3, (L, d)), rng.uniform(-2, 2, L)
        H = 1 / (1 + np.exp(-(X @ W.T + b)))
        if np.linalg.cond(H) < limit:
            return X, W, b


def _elm_cases(rng):
    cases = []
    for N, d, L, m, ridge in ((40, 3, 8, None, 0.0), (30, 2, 6, 2, 0.0), (50, 4, 10, 3, 0.1),
                              (25, 2, 5, None, 1.0), (5, 3, 8, None, 0.0)):
        X, W, b = _well_conditioned(rng, N, d, L)
        T = rng.normal(0, 1, N if m is None else (N, m))
        cases.append((X, T, W, b, ridge))
    return cases


ELM_SPEC = FnSpec("elm_fit", _elm_cases, elm_reference, rtol=1e-6, atol=1e-8)


# -- q2 ------------------------------------------------------------------------------
def _relu_cases(rng):
    cases = []
    for K in (1, 2, 4, 6):
        knots = np.cumsum(rng.uniform(0.3, 1.5, K + 1)) - 2.0
        cases.append((knots, rng.normal(0, 1, K + 1)))
    return cases


def relu_reference(knots, values):
    return relu_interpolant(knots, values)


def _target(knots, values, x):
    """The piecewise-linear function, continued linearly beyond both ends."""
    k, v = np.asarray(knots, dtype=np.float64), np.asarray(values, dtype=np.float64)
    y = np.interp(x, k, v)
    left, right = x < k[0], x > k[-1]
    y[left] = v[0] + (x[left] - k[0]) * (v[1] - v[0]) / (k[1] - k[0])
    y[right] = v[-1] + (x[right] - k[-1]) * (v[-1] - v[-2]) / (k[-1] - k[-2])
    return y


def relu_check(args, value):
    knots, values = np.asarray(args[0], dtype=np.float64), np.asarray(args[1], dtype=np.float64)
    if not isinstance(value, list) or len(value) != 4:
        return False, msg("应返回 (W1, b1, W2, b2) 四个数组。", "should return the four arrays (W1, b1, W2, b2).")
    arrays = [_array(v) for v in value]
    if any(a is None for a in arrays):
        return False, msg("返回值不是数值数组。", "the returned values are not numeric arrays.")
    W1, b1, W2, b2 = arrays
    L = W1.shape[0] if W1.ndim == 2 else -1
    if W1.shape != (L, 1) or b1.shape != (L,) or W2.shape != (1, L) or b2.shape != (1,):
        return False, msg(f"形状应为 W1 (L, 1)、b1 (L,)、W2 (1, L)、b2 (1,)，实际是 "
                          f"{W1.shape}、{b1.shape}、{W2.shape}、{b2.shape}。",
                          f"shapes should be W1 (L, 1), b1 (L,), W2 (1, L), b2 (1,); got "
                          f"{W1.shape}, {b1.shape}, {W2.shape}, {b2.shape}.")
    mids = (knots[:-1] + knots[1:]) / 2
    span = knots[-1] - knots[0]
    x = np.concatenate([knots, mids, knots[:-1] + 0.2 * np.diff(knots),
                        [knots[0] - span, knots[0] - 0.1, knots[-1] + 0.1, knots[-1] + span]])
    want = _target(knots, values, x)
    got = relu_net_eval(x, W1, b1, W2, b2)
    scale = 1e-7 * (1 + np.abs(want).max())
    bad = np.abs(got - want) > scale
    if not bad.any():
        return True, None
    i = int(np.argmax(bad))
    return False, msg(f"网络在 x = {x[i]:.3g} 处的值与分段线性函数不同。",
                      f"the network differs from the piecewise-linear function at x = {x[i]:.3g}.")


RELU_SPEC = CheckedFnSpec("relu_interpolant", _relu_cases, relu_reference, check=relu_check)


Q1 = Question(
    id="A9.q1",
    title=msg("极端学习机：随机隐藏层，β = H⁺T（可选岭项）",
              "Extreme learning machine: random hidden layer, β = H⁺T (optional ridge term)"),
    parts=(Part("elm_fit", kind="fn", fn=ELM_SPEC),),
    build=None,
)

Q2 = Question(
    id="A9.q2",
    title=msg("用 ReLU 网络精确表示分段线性函数（万能逼近）",
              "A ReLU network that equals a piecewise-linear function exactly (universal "
              "approximation)"),
    parts=(Part("relu_interpolant", kind="fn", fn=RELU_SPEC),),
    build=None,
)

QUESTIONS = (Q1, Q2)

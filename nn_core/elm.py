"""A9 — closed-form training and approximation (seeds 000, 002).

Extreme learning machine (seed 002, 极端学习机): a one-hidden-layer network
whose hidden weights are drawn at random and never trained,

    H = f(X Wᵀ + 1 bᵀ)        X (N, d), W (L, d), b (L,), H (N, L),

and whose output weights solve the least-squares problem ``min ‖Hβ − T‖``
in closed form with the Moore–Penrose pseudo-inverse,

    β = H⁺ T                               (minimum-norm solution)
    β = (HᵀH + λI)⁻¹ HᵀT                   (ridge, λ > 0; by a linear solve).

Universal approximation with ReLU (seed 000, 万能逼近定理): a continuous
piecewise-linear function through ``(x_0, y_0), …, (x_K, y_K)`` with slopes
``s_k = (y_{k+1} − y_k)/(x_{k+1} − x_k)`` is exactly

    g(x) = y_0 + s_0 ReLU(x − x_0) − s_0 ReLU(x_0 − x)
               + Σ_{k=1}^{K−1} (s_k − s_{k−1}) ReLU(x − x_k),

a one-hidden-layer ReLU network with K + 1 hidden units
(:func:`relu_interpolant`).
"""
from __future__ import annotations

import numpy as np

from ._checks import as_float_array
from .activations import get_activation

__all__ = ["ELM", "relu_interpolant", "relu_net_eval"]


class ELM:
    """Extreme learning machine with ``hidden`` = L random hidden units.

    ``activation``: a name in :data:`nn_core.activations.ACTIVATIONS` or a callable acting
    elementwise on an ``(N, L)`` array. ``ridge`` = λ ≥ 0. ``rng``: a
    ``np.random.Generator``, an int seed, or None (fresh, unseeded).

    Hidden parameters are drawn i.i.d. uniform on [−1, 1) (Huang et al.'s
    usual choice): ``W ~ U[−1, 1)^{L×d}``, ``b ~ U[−1, 1)^L``; scale the inputs
    to a similar range. After :meth:`fit`: ``W (L, d)``, ``b (L,)`` and
    ``beta (L, m)`` (``(L,)`` when ``T`` was 1-D).
    """

    def __init__(self, hidden: int, activation="sigmoid", ridge: float = 0.0, rng=None):
        if isinstance(hidden, bool) or not isinstance(hidden, (int, np.integer)) or hidden < 1:
            raise ValueError(f"ELM: hidden must be a positive int, got {hidden!r}")
        if callable(activation):
            self.f = activation
        else:
            try:
                self.f = get_activation(activation).f
            except ValueError as exc:
                raise ValueError(f"ELM: {exc}") from None
        ridge = np.asarray(ridge)
        if ridge.ndim != 0 or ridge.dtype.kind not in "iuf" or not np.isfinite(ridge) or ridge < 0:
            raise ValueError(f"ELM: ridge must be a finite number ≥ 0, got {ridge!r}")
        self.hidden, self.activation, self.ridge = int(hidden), activation, float(ridge)
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.W = self.b = self.beta = None

    def hidden_output(self, X) -> np.ndarray:
        """``H = f(X Wᵀ + b)``, shape ``(N, L)``."""
        if self.W is None:
            raise ValueError("ELM: call fit(X, T) before hidden_output/predict")
        X = as_float_array(X, "ELM", "X", dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.W.shape[1]:
            raise ValueError(f"ELM: X must have shape (N, {self.W.shape[1]}), got {X.shape}")
        H = np.asarray(self.f(X @ self.W.T + self.b), dtype=np.float64)
        if H.shape != (X.shape[0], self.hidden) or not np.isfinite(H).all():
            raise ValueError(f"ELM: activation gave shape {H.shape} (expected "
                             f"{(X.shape[0], self.hidden)}) or non-finite values")
        return H

    def fit(self, X, T) -> "ELM":
        """Draw ``W, b`` and solve for ``β``. ``X (N, d)``, ``T (N,)`` or ``(N, m)``."""
        X = as_float_array(X, "ELM", "X", dtype=np.float64)
        T = as_float_array(T, "ELM", "T", dtype=np.float64)
        if X.ndim != 2 or X.shape[0] < 1 or T.ndim not in (1, 2) or T.shape[0] != X.shape[0]:
            raise ValueError(f"ELM: fit needs X (N, d) and T (N,) or (N, m) with the same N, "
                             f"got X {X.shape} and T {T.shape}")
        self.W = self.rng.uniform(-1.0, 1.0, (self.hidden, X.shape[1]))
        self.b = self.rng.uniform(-1.0, 1.0, self.hidden)
        H = self.hidden_output(X)
        if self.ridge > 0:
            A = H.T @ H + self.ridge * np.eye(self.hidden)
            self.beta = np.linalg.solve(A, H.T @ T)
        else:
            self.beta = np.linalg.pinv(H) @ T
        return self

    def predict(self, X) -> np.ndarray:
        """``Y = H β``: ``(N, m)``, or ``(N,)`` when fitted on a 1-D ``T``."""
        return self.hidden_output(X) @ self.beta


def relu_interpolant(knots, values):
    """A one-hidden-layer ReLU network equal to the piecewise-linear interpolant.

    ``knots`` ``x_0 < … < x_K`` (K ≥ 1, strictly increasing), ``values`` ``y_k``.
    Returns ``W1 (K+1, 1)``, ``b1 (K+1,)``, ``W2 (1, K+1)``, ``b2 (1,)`` with
    ``g(x) = W2 ReLU(W1 x + b1) + b2`` through every point, linear between
    knots and continued linearly beyond both ends (formula in the module doc):
    unit 0 is ``ReLU(x − x_0)``, unit 1 ``ReLU(x_0 − x)``, unit k+1
    ``ReLU(x − x_k)`` for k = 1 … K−1.
    """
    x = as_float_array(knots, "relu_interpolant", "knots", dtype=np.float64)
    y = as_float_array(values, "relu_interpolant", "values", dtype=np.float64)
    if x.ndim != 1 or y.shape != x.shape or x.size < 2:
        raise ValueError(f"relu_interpolant: knots and values must be 1-D of the same length "
                         f"≥ 2, got shapes {x.shape} and {y.shape}")
    if not np.all(np.diff(x) > 0):
        raise ValueError("relu_interpolant: knots must be strictly increasing")
    s = np.diff(y) / np.diff(x)                                 # slopes s_0 … s_{K−1}
    W1 = np.concatenate([[1.0, -1.0], np.ones(x.size - 2)])[:, None]
    b1 = np.concatenate([[-x[0], x[0]], -x[1:-1]])
    W2 = np.concatenate([[s[0], -s[0]], np.diff(s)])[None, :]   # s_k − s_{k−1}
    b2 = np.array([y[0]])
    return W1, b1, W2, b2


def relu_net_eval(x, W1, b1, W2, b2) -> np.ndarray:
    """``y = W2 ReLU(W1 x + b1) + b2`` for a batch.

    ``x``: a scalar or ``(N,)`` (scalar inputs, needs ``W1 (L, 1)``) or
    ``(N, d)``. ``W1 (L, d)``, ``b1 (L,)``, ``W2 (m, L)``, ``b2 (m,)``.
    Returns ``(N, m)`` for 2-D ``x``; for scalar inputs with m = 1 the shape
    of ``x`` (``(N,)`` or 0-D).
    """
    where = "relu_net_eval"
    x = as_float_array(x, where, "x", dtype=np.float64)
    W1, b1, W2, b2 = (as_float_array(a, where, n, dtype=np.float64)
                      for a, n in zip((W1, b1, W2, b2), ("W1", "b1", "W2", "b2")))
    if W1.ndim != 2 or b1.shape != W1.shape[:1] or W2.ndim != 2 or W2.shape[1] != W1.shape[0] \
            or b2.shape != W2.shape[:1]:
        raise ValueError(f"{where}: need W1 (L, d), b1 (L,), W2 (m, L), b2 (m,), got "
                         f"{W1.shape}, {b1.shape}, {W2.shape}, {b2.shape}")
    scalar_in = x.ndim < 2
    X = x.reshape(-1, 1) if scalar_in else x
    if X.ndim != 2 or X.shape[1] != W1.shape[1]:
        raise ValueError(f"{where}: x has shape {x.shape} but W1 {W1.shape} expects "
                         f"{W1.shape[1]} features")
    Y = np.maximum(X @ W1.T + b1, 0.0) @ W2.T + b2
    return Y.reshape(x.shape) if scalar_in and W2.shape[0] == 1 else Y

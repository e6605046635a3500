"""Gradient checking by centered finite differences (CS231n's
``gradient_check.py``, with a per-parameter relative error).

``∂f/∂θ_i ≈ (f(θ + h e_i) − f(θ − h e_i)) / (2h)``; the error is
``|g − g̃| / max(|g|, |g̃|, tiny)`` elementwise, reported as its maximum.
Always run in float64: with h = 1e-6 the truncation error is O(h²) and the
rounding error O(ε/h) ≈ 1e-10, so a correct analytic gradient scores
≈ 1e-8 or better on well-scaled inputs.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["numerical_gradient", "numerical_gradient_array", "rel_error",
           "check_layer_gradients"]


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Gradient of the scalar ``f()`` w.r.t. the array ``x``, perturbed in place.

    ``f`` takes no arguments and reads ``x`` (a parameter array), so the same
    helper checks inputs and parameters alike. ``x`` is restored exactly.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        fp = float(f())
        x[i] = old - h
        fm = float(f())
        x[i] = old
        grad[i] = (fp - fm) / (2 * h)
        it.iternext()
    return grad


def numerical_gradient_array(f: Callable[[], np.ndarray], x: np.ndarray, dout: np.ndarray,
                             h: float = 1e-6) -> np.ndarray:
    """Vector–Jacobian product ``Σ_k dout_k ∂f_k/∂x`` by centered differences,
    for an array-valued ``f`` (checks a backward pass against its forward)."""
    return numerical_gradient(lambda: float(np.sum(f() * dout)), x, h)


def rel_error(a, b, tiny: float = 1e-300) -> float:
    """Maximum elementwise relative error ``|a−b| / max(|a|, |b|)``.

    Entries where both are (near) zero count as exact, so a correct zero
    gradient does not blow the ratio up.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes {a.shape} and {b.shape} differ")
    if a.size == 0:
        return 0.0
    num = np.abs(a - b)
    den = np.maximum(np.maximum(np.abs(a), np.abs(b)), tiny)
    err = np.where(num <= 1e-12, 0.0, num / den)
    return float(err.max())


def check_layer_gradients(layer, x: np.ndarray, rng=None, h: float = 1e-6) -> dict[str, float]:
    """Check ``layer.backward`` against finite differences of ``layer.forward``.

    Uses the scalar ``Σ out ⊙ dout`` with a random ``dout``; returns the
    relative error for the input (``"x"``) and for every parameter.
    Stochastic layers must be checked with a fixed mask (e.g. ``train=False``
    or a seeded layer).
    """
    rng = np.random.default_rng(0) if rng is None else rng
    out, cache = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    dx, grads = layer.backward(dout, cache)

    def scalar() -> float:
        return float(np.sum(layer.forward(x)[0] * dout))

    errors = {"x": rel_error(dx, numerical_gradient(scalar, x, h))}
    for name, p in layer.params.items():
        errors[name] = rel_error(grads[name], numerical_gradient(scalar, p, h))
    return errors

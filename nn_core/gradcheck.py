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


def _centered(f: Callable, x: np.ndarray, h: float, combine: Callable) -> np.ndarray:
    """``combine(f(x + h e_i), f(x − h e_i)) / (2h)`` for every index ``i``;
    ``x`` is perturbed in place and restored exactly."""
    grad = np.zeros(x.shape, dtype=np.float64)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        fp = f()
        x[i] = old - h
        fm = f()
        x[i] = old
        grad[i] = combine(fp, fm) / (2 * h)
    return grad


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Gradient of the scalar ``f()`` w.r.t. the array ``x``, perturbed in place.

    ``f`` takes no arguments and reads ``x`` (a parameter array), so the same
    helper checks inputs and parameters alike. ``x`` is restored exactly.
    """
    return _centered(f, x, h, lambda fp, fm: float(fp) - float(fm))


def numerical_gradient_array(f: Callable[[], np.ndarray], x: np.ndarray, dout: np.ndarray,
                             h: float = 1e-6) -> np.ndarray:
    """Vector–Jacobian product ``Σ_k dout_k ∂f_k/∂x`` by centered differences,
    for an array-valued ``f`` (checks a backward pass against its forward).

    Each output is differenced *before* it is weighted by ``dout``, so the
    rounding error scales with the outputs that ``x_i`` moves, not with the
    whole sum ``Σ f ⊙ dout``.
    """
    def snapshot() -> np.ndarray:   # a copy: f may return a view of x
        return np.array(f(), dtype=np.float64)

    return _centered(snapshot, x, h, lambda fp, fm: float(np.sum((fp - fm) * dout)))


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

    def output() -> np.ndarray:
        return layer.forward(x)[0]

    errors = {"x": rel_error(dx, numerical_gradient_array(output, x, dout, h))}
    for name, p in layer.params.items():
        errors[name] = rel_error(grads[name], numerical_gradient_array(output, p, dout, h))
    return errors

"""Gradient checking by centered finite differences (CS231n's
``gradient_check.py``, with a per-parameter relative error).

``∂f/∂θ_i ≈ (f(θ + h e_i) − f(θ − h e_i)) / (2h)``; the error is
``|g − g̃| / max(|g|, |g̃|, tiny)`` elementwise, reported as its maximum.
Best run in float64: with h = 1e-6 the truncation error is O(h²) and the
rounding error O(ε/h) ≈ 1e-10, so a correct analytic gradient scores
≈ 1e-8 or better on well-scaled inputs. :func:`check_layer_gradients`
picks the step from the dtype of each array it perturbs (:func:`step_for`:
1e-6 in float64, ε^{1/3} ≈ 5e-3 in float32, where 1e-6 would vanish in
rounding) and warns that a float32 check is only good to about 1e-2.
"""
from __future__ import annotations

from typing import Callable

import warnings

import numpy as np

__all__ = ["numerical_gradient", "numerical_gradient_array", "rel_error",
           "check_layer_gradients", "step_for", "LowPrecisionWarning"]


class LowPrecisionWarning(UserWarning):
    """A gradient check in less than float64: its errors are only rough."""


def step_for(x: np.ndarray) -> float:
    """The finite-difference step for an array of ``x``'s dtype: 1e-6 in
    float64; ``ε^{1/3}`` (balancing truncation and rounding) otherwise,
    e.g. ≈ 4.9e-3 in float32."""
    dtype = np.asarray(x).dtype
    if dtype == np.float64 or dtype.kind != "f":
        return 1e-6
    return float(np.finfo(dtype).eps) ** (1 / 3)


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


def check_layer_gradients(layer, x: np.ndarray, rng=None,
                          h: float | None = None) -> dict[str, float]:
    """Check ``layer.backward`` against finite differences of ``layer.forward``.

    Uses the scalar ``Σ out ⊙ dout`` with a random ``dout``; returns the
    relative error for the input (``"x"``) and for every parameter.
    Stochastic layers must be checked with a fixed mask (e.g. ``train=False``
    or a seeded layer). ``h=None`` picks the step per array by its dtype
    (:func:`step_for`); arrays in less than float64 also raise a
    :class:`LowPrecisionWarning` (a correct layer then scores ~1e-3, not
    ~1e-8). A layer whose ``forward`` does not return ``(out, cache)`` or
    whose ``backward`` does not return ``(dx, grads)`` raises a
    ``TypeError`` saying so.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    out, cache = _pair(layer.forward(x), layer, "forward", "(out, cache)")
    dout = rng.standard_normal(np.shape(out))
    dx, grads = _pair(layer.backward(dout, cache), layer, "backward", "(dx, grads)")
    if not isinstance(grads, dict):
        raise TypeError(f"{type(layer).__name__}.backward must return (dx, grads) with grads a "
                        f"dict of parameter gradients, got grads of type {type(grads).__name__}")
    arrays = {"x": x, **layer.params}
    low = sorted({str(np.asarray(a).dtype) for a in arrays.values()
                  if np.asarray(a).dtype.kind == "f" and np.asarray(a).dtype != np.float64})
    if low:
        warnings.warn(f"check_layer_gradients: {', '.join(low)} arrays; the finite differences "
                      f"use a step of {step_for(np.zeros(1, dtype=low[0])):.1g} and a correct "
                      f"layer's errors are only ~1e-3. Check in float64 "
                      f"(layer.astype(np.float64), x.astype(np.float64)) for a tight check.",
                      LowPrecisionWarning, stacklevel=2)

    def output() -> np.ndarray:
        return layer.forward(x)[0]

    errors = {"x": rel_error(dx, numerical_gradient_array(output, x, dout,
                                                          step_for(x) if h is None else h))}
    for name, p in layer.params.items():
        if name not in grads:
            raise TypeError(f"{type(layer).__name__}.backward returned no gradient for "
                            f"parameter {name!r} (grads has {sorted(grads)})")
        errors[name] = rel_error(grads[name], numerical_gradient_array(
            output, p, dout, step_for(p) if h is None else h))
    return errors


def _pair(result, layer, method: str, expected: str):
    """``result`` as the two values ``layer.<method>`` must return, or a
    ``TypeError`` naming the layer, the method and what it returned."""
    if isinstance(result, tuple) and len(result) == 2:
        return result
    got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
    raise TypeError(f"{type(layer).__name__}.{method} must return {expected}, got {got}")

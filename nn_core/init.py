"""Weight initializers (seed 001, 参数初始化).

Shapes follow the lectures: ``W^{(l)} ∈ R^{M_l × M_{l−1}}`` (out × in), so
``fan_in = M_{l−1}`` and ``fan_out = M_l``; for a conv kernel ``(F, C, K, K)``
``fan_in = C·K²`` and ``fan_out = F·K²``.

* ``zeros`` / ``constant(c)``: every unit identical — the symmetry that
  gradient descent cannot break (A8.1).
* ``gaussian(σ)``: ``W = σ · N(0, 1)``.
* ``uniform(r)``: ``W = 2r · U[0, 1) − r`` ∈ [−r, r).
* ``xavier``: Glorot uniform, ``r = √(6 / (fan_in + fan_out))``.
* ``he``: Gaussian with ``σ = √(2 / fan_in)`` (for ReLU units).
"""
from __future__ import annotations

import numpy as np

__all__ = ["fans", "initialize", "INITIALIZERS"]


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a dense ``(out, in)`` or conv ``(F, C, K, K)`` weight."""
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _zeros(shape, rng, dtype):
    return np.zeros(shape, dtype=dtype)


def _constant(shape, rng, dtype, value=0.0):
    return np.full(shape, value, dtype=dtype)


def _gaussian(shape, rng, dtype, sigma=0.01):
    return (sigma * rng.standard_normal(shape)).astype(dtype)


def _uniform(shape, rng, dtype, r=0.05):
    return (2 * r * rng.random(shape) - r).astype(dtype)


def _xavier(shape, rng, dtype):
    fan_in, fan_out = fans(shape)
    return _uniform(shape, rng, dtype, r=np.sqrt(6.0 / (fan_in + fan_out)))


def _he(shape, rng, dtype):
    fan_in, _ = fans(shape)
    return _gaussian(shape, rng, dtype, sigma=np.sqrt(2.0 / fan_in))


INITIALIZERS = {"zeros": _zeros, "constant": _constant, "gaussian": _gaussian,
                "uniform": _uniform, "xavier": _xavier, "he": _he}


def initialize(name: str, shape, rng=None, dtype=np.float64, **hyper) -> np.ndarray:
    """Draw a weight array of ``shape`` with initializer ``name``.

    ``hyper`` passes ``value`` (constant), ``sigma`` (gaussian) or ``r``
    (uniform). ``rng`` is a ``np.random.Generator`` (seeded for
    reproducibility).
    """
    if name not in INITIALIZERS:
        raise ValueError(f"initialize: unknown initializer {name!r}; "
                         f"choose one of {sorted(INITIALIZERS)}")
    rng = np.random.default_rng() if rng is None else rng
    try:
        return INITIALIZERS[name](tuple(shape), rng, dtype, **hyper)
    except TypeError as exc:
        raise ValueError(f"initialize({name!r}): bad hyper-parameters {hyper} ({exc})") from None

"""Batch normalization (training mode) as a forward/backward pair with a cache.

For a batch ``x (n, D)`` (samples as rows), per feature ``j``::

    μ_j = (1/n) Σ_i x_ij,   σ²_j = (1/n) Σ_i (x_ij − μ_j)²   (the biased variance)
    x̂_ij = (x_ij − μ_j) / √(σ²_j + ε),   y_ij = γ_j x̂_ij + β_j

Backward (CS231n's compact form), with ``g = ∂L/∂x̂ = γ ⊙ dout``::

    ∂L/∂x = (1/n) / √(σ² + ε) ⊙ (n g − Σ_i g − x̂ Σ_i (g ⊙ x̂))
    ∂L/∂γ = Σ_i dout ⊙ x̂,   ∂L/∂β = Σ_i dout

The ``− Σ_i g`` term is the mean's gradient (μ depends on every x_ij), the
``− x̂ Σ_i (g ⊙ x̂)`` term the variance's.
"""
from __future__ import annotations

import numpy as np

from ._checks import as_float_array, check_dout, check_ndim

__all__ = ["batchnorm_forward", "batchnorm_backward"]


def batchnorm_forward(x, gamma, beta, eps: float = 1e-5):
    """``(y, cache)`` for a batch ``x (n, D)``, ``gamma (D,)``, ``beta (D,)``."""
    x = as_float_array(x, "batchnorm_forward", "x")
    check_ndim(x, (2,), "batchnorm_forward", "x", "(n, D): samples as rows")
    gamma, beta = np.asarray(gamma, dtype=x.dtype), np.asarray(beta, dtype=x.dtype)
    mu = x.mean(axis=0)
    var = x.var(axis=0)                       # biased: 1/n, as in training
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - mu) * inv_std
    return gamma * xhat + beta, (xhat, inv_std, gamma)


def batchnorm_backward(dout, cache):
    """``(dx, dgamma, dbeta)`` from the upstream gradient and the forward's cache."""
    xhat, inv_std, gamma = cache
    dout = check_dout(dout, xhat.shape, "batchnorm")
    n = xhat.shape[0]
    g = dout * gamma
    dx = inv_std / n * (n * g - g.sum(axis=0) - xhat * (g * xhat).sum(axis=0))
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)

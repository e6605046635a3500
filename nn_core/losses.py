"""Loss functions ``loss(ŷ, y) -> (L, ∂L/∂ŷ)``.

Shapes (seeds 001, 004):

* ``ŷ`` of shape ``(C,)`` is **one sample**: ``L`` is that sample's loss,
  summed over its C output components (except ``mean_squared_error``,
  which averages them);
* ``ŷ`` of shape ``(n, C)`` is **a batch** with samples as rows: ``L`` is the
  **mean over the n rows** of the per-sample losses, so ``∂L/∂ŷ`` already
  contains the factor ``1/n`` (seed 004: ``dZ^{(2)} = (A^{(2)} − Y)/n``).

So the batch loss equals the mean of the one-sample losses of its rows, and
likewise for the gradients. ``L`` is a Python float; ``∂L/∂ŷ`` has the shape
and dtype of ``ŷ`` (float32 stays float32). Invalid input (NaN/inf, complex
or string arrays, mismatched shapes, class labels out of range) raises a
``ValueError`` naming the loss and the shapes.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ._checks import as_float_array, check_ndim, check_same_shape
from .activations import _log_softmax, _sigmoid, _softplus

__all__ = ["half_squared_error", "mean_squared_error", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "softmax_cross_entropy", "multiclass_hinge",
           "LOSSES", "get_loss"]


# -- validation helpers -------------------------------------------------------------
def _prediction(yhat, where: str, name: str = "prediction") -> np.ndarray:
    yhat = as_float_array(yhat, where, name)
    check_ndim(yhat, (1, 2), where, name, "((C,) for one sample or (n, C) for a batch)")
    if yhat.size == 0:
        raise ValueError(f"{where}: {name} of shape {yhat.shape} is empty")
    return yhat


def _same_shape_target(yhat, y, where: str, name: str = "prediction",
                       unit_interval: bool = False) -> np.ndarray:
    y = as_float_array(y, where, "target")
    check_same_shape(yhat, y, where, (name, "target"))
    if unit_interval and ((y < 0).any() or (y > 1).any()):
        raise ValueError(f"{where}: target of shape {y.shape} must lie in [0, 1]")
    return y.astype(yhat.dtype, copy=False)


def _labels(y, scores, where: str, name: str = "scores") -> np.ndarray:
    """Integer class labels of shape ``scores.shape[:-1]`` in ``[0, C)``."""
    y = np.asarray(y)
    want = scores.shape[:-1]
    C = scores.shape[-1]
    if y.shape != want:
        raise ValueError(f"{where}: labels of shape {y.shape} do not fit {name} of shape "
                         f"{scores.shape}; expected integer labels of shape {want}")
    if y.dtype.kind in "iu":
        labels = y
    elif y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all():
        labels = y.astype(np.intp)
    else:
        raise ValueError(f"{where}: labels of shape {y.shape} and dtype {y.dtype} must be "
                         f"integer class indices")
    if labels.size and (labels.min() < 0 or labels.max() >= C):
        raise ValueError(f"{where}: labels of shape {y.shape} must lie in [0, {C}) for "
                         f"{name} of shape {scores.shape}")
    return labels.astype(np.intp, copy=False)


def _rows(a: np.ndarray) -> np.ndarray:
    """View a ``(C,)`` sample as one row ``(1, C)``; a batch is unchanged."""
    return a.reshape(-1, a.shape[-1])


def _mean_rows(per_element: np.ndarray, n: int) -> float:
    """Sum of every entry / n, accumulated in float64."""
    return float(np.sum(per_element, dtype=np.float64) / n)


# -- regression ---------------------------------------------------------------------
def half_squared_error(yhat, y):
    r"""``L = ½ ‖ŷ − y‖² = ½ Σ_k (ŷ_k − y_k)²`` per sample; ``∂L/∂ŷ = ŷ − y``.

    A batch ``(n, C)``: ``L = (1/2n) Σ_i ‖ŷ_i − y_i‖²``, ``∂L/∂Ŷ = (Ŷ − Y)/n``.
    """
    where = "half_squared_error"
    yhat = _prediction(yhat, where)
    y = _same_shape_target(yhat, y, where)
    n = _rows(yhat).shape[0]
    diff = yhat - y
    return 0.5 * _mean_rows(diff * diff, n), diff / yhat.dtype.type(n)


def mean_squared_error(yhat, y):
    r"""``L = (1/N) Σ (ŷ − y)²`` over **all** N entries; ``∂L/∂ŷ = 2(ŷ − y)/N``.

    One sample ``(C,)``: the mean over its C components (N = C). A batch
    ``(n, C)``: the mean over every entry (N = nC), which is also the mean
    over rows of the per-sample values — PyTorch's ``mse_loss`` convention.
    """
    where = "mean_squared_error"
    yhat = _prediction(yhat, where)
    y = _same_shape_target(yhat, y, where)
    diff = yhat - y
    N = yhat.size
    return _mean_rows(diff * diff, N), diff * yhat.dtype.type(2.0 / N)


# -- binary classification ----------------------------------------------------------
def binary_cross_entropy(a, y, eps: float | None = None):
    r"""``L = −Σ_k [y_k log a_k + (1 − y_k) log(1 − a_k)]`` per sample, from
    probabilities ``a`` (e.g. sigmoid outputs); ``y ∈ [0, 1]``.

    ``∂L/∂a = (a − y) / (a(1 − a))``; through a sigmoid output this becomes
    ``∂L/∂z = a − y`` (seed 004). Batch: mean over rows (so ``/n``).

    ``a`` is clipped to ``[eps, 1 − eps]`` (``eps = 1e-12`` for float64,
    ``1e-7`` for float32) only to keep ``log(0)`` and the division finite when
    an output saturates at exactly 0 or 1; value and gradient formula are
    evaluated at the clipped ``a``. ``a`` outside ``[0, 1]`` is an error.
    """
    where = "binary_cross_entropy"
    a = _prediction(a, where, "probabilities")
    if (a < 0).any() or (a > 1).any():
        raise ValueError(f"{where}: probabilities of shape {a.shape} must lie in [0, 1] "
                         f"(use binary_cross_entropy_with_logits for logits)")
    y = _same_shape_target(a, y, where, "probabilities", unit_interval=True)
    if eps is None:
        eps = 1e-12 if a.dtype == np.float64 else 1e-7
    n = _rows(a).shape[0]
    ac = np.clip(a, eps, 1 - eps)
    per = -(y * np.log(ac) + (1 - y) * np.log1p(-ac))
    grad = (ac - y) / (ac * (1 - ac) * a.dtype.type(n))
    return _mean_rows(per, n), grad


def binary_cross_entropy_with_logits(z, y):
    r"""Binary cross-entropy of ``a = σ(z)`` from the logits ``z``, stably:
    ``L = Σ_k [max(z_k, 0) − z_k y_k + log(1 + e^{−|z_k|})]`` per sample
    (``= −Σ [y log σ(z) + (1 − y) log(1 − σ(z))]``); ``y ∈ [0, 1]``.

    ``∂L/∂z = σ(z) − y``. Batch: mean over rows (so ``/n``). Finite and exact
    for ``|z| = 1000``.
    """
    where = "binary_cross_entropy_with_logits"
    z = _prediction(z, where, "logits")
    y = _same_shape_target(z, y, where, "logits", unit_interval=True)
    n = _rows(z).shape[0]
    per = _softplus(z) - z * y                   # max(z,0) + log1p(e^{−|z|}) − z y
    return _mean_rows(per, n), (_sigmoid(z) - y) / z.dtype.type(n)


# -- multi-class classification -----------------------------------------------------
def softmax_cross_entropy(logits, y):
    r"""Cross-entropy of ``ŷ = softmax(x)`` from the logits ``x``:
    ``L = −Σ_k y_k log softmax(x)_k`` per sample, with the log-sum-exp trick.

    ``y`` is either integer class labels (shape ``()`` for one sample ``(C,)``,
    ``(n,)`` for a batch ``(n, C)``; ``L = −log softmax(x)_y``) or target
    probabilities / one-hot rows of the logits' shape.

    ``∂L/∂x = softmax(x) Σ_k y_k − y``, which is ``ŷ − y`` for one-hot or
    normalised targets (seeds 002, 004). Batch: mean over rows (so ``/n``).
    """
    where = "softmax_cross_entropy"
    x = _prediction(logits, where, "logits")
    X = _rows(x)
    n = X.shape[0]
    if np.shape(y) == x.shape:
        logp = _log_softmax(X)
        with np.errstate(under="ignore"):
            p = np.exp(logp)
        Y = _rows(_same_shape_target(x, y, where, "logits", unit_interval=True))
        value = -_mean_rows(Y * logp, n)
        grad = p * Y.sum(axis=1, keepdims=True) - Y
        return value, (grad / x.dtype.type(n)).reshape(x.shape)
    labels = _labels(y, x, where, "logits").reshape(-1)
    rows = np.arange(n)
    # Computed class-major, on Xᵀ (C, n) laid out contiguously: the row-wise
    # max and sums are then vectorized over the n samples (NumPy reduces a
    # short contiguous axis one row at a time, ~10× slower for (n, 10)).
    XT = X.T.copy()                               # (C, n), C order; x is not touched
    # log-sum-exp with each sample's maximum shifted out: s = x − max ≤ 0,
    # log softmax(x)_y = s_y − log Σ_k e^{s_k};  softmax = e^{s} / Σ_k e^{s_k}
    XT -= XT.max(axis=0)
    s_y = XT[labels, rows]
    with np.errstate(under="ignore"):
        e = np.exp(XT, out=XT)
    total = e.sum(axis=0)
    # both terms ≥ 0: no cancellation
    value = float(np.sum(np.log(total), dtype=np.float64) - np.sum(s_y, dtype=np.float64)) / n
    # ∂L/∂x = (softmax − onehot)/n, formed in place
    e /= total
    e[labels, rows] -= 1
    e /= x.dtype.type(n)
    return value, e.T.reshape(x.shape)


def multiclass_hinge(scores, y, delta: float = 1.0):
    r"""Multiclass SVM (hinge) loss, CS231n / seed 003:
    ``L = Σ_{j≠y} max(0, s_j − s_y + Δ)`` per sample, integer label ``y``.

    Subgradient: a margin ``m_j = s_j − s_y + Δ`` is *active* when ``m_j > 0``
    (a margin of exactly 0 counts as inactive); ``∂L/∂s_j = 1`` for active
    ``j ≠ y``, ``∂L/∂s_y = −#{active j}``, 0 otherwise. Batch: mean over rows
    (so ``/n``). PyTorch's ``multi_margin_loss`` is this value divided by C.
    """
    where = "multiclass_hinge"
    s = _prediction(scores, where, "scores")
    d = np.asarray(delta)
    if d.ndim != 0 or d.dtype.kind not in "biuf" or not np.isfinite(d):
        raise ValueError(f"{where}: delta must be a finite real scalar, got {delta!r}")
    labels = _labels(y, s, where, "scores").reshape(-1)
    S = _rows(s)
    n = S.shape[0]
    rows = np.arange(n)
    margins = S - S[rows, labels][:, None] + s.dtype.type(d)
    margins[rows, labels] = 0
    active = margins > 0
    value = _mean_rows(np.where(active, margins, 0), n)
    grad = active.astype(s.dtype)
    grad[rows, labels] = -active.sum(axis=1)
    return value, (grad / s.dtype.type(n)).reshape(s.shape)


# -- registry -----------------------------------------------------------------------
LOSSES: dict[str, Callable] = {f.__name__: f for f in [
    half_squared_error, mean_squared_error, binary_cross_entropy,
    binary_cross_entropy_with_logits, softmax_cross_entropy, multiclass_hinge]}


def get_loss(name_or_fn) -> Callable:
    """The loss named ``name_or_fn`` in :data:`LOSSES`, or the callable itself."""
    if isinstance(name_or_fn, str):
        if name_or_fn in LOSSES:
            return LOSSES[name_or_fn]
    elif callable(name_or_fn):
        return name_or_fn
    raise ValueError(f"get_loss: unknown loss {name_or_fn!r}; valid names: "
                     f"{', '.join(sorted(LOSSES))}")

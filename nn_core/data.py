"""Small data sets and batching for the exercises.

Conventions (seed 004): samples are rows, ``X (n, d)``; class labels are
integers ``y (n,)`` in ``0 … C−1`` (``one_hot`` makes the ``(n, C)`` target
matrix ``T``). Everything random takes ``rng`` — a ``np.random.Generator``
or an int seed — so a seed fixes the result.

* :func:`xor` — the four XOR points;
* :func:`two_class_2d` — two interleaved moons or two concentric circles;
* :func:`digits` — scikit-learn's bundled 8×8 handwritten digits (1797
  samples, 64 pixels, no download), pixels scaled to [0, 1], a stratified
  train/test split;
* :func:`one_hot`, :func:`train_val_split`, :func:`minibatches`.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ._checks import as_float_array

__all__ = ["xor", "two_class_2d", "digits", "one_hot", "train_val_split", "minibatches",
           "standardize"]


def _rng(rng, default=None) -> np.random.Generator:
    """A Generator from a Generator, an int seed, or None (→ ``default`` seed)."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(default if rng is None else rng)


def _fraction(f, where: str, name: str) -> float:
    f = np.asarray(f)
    if f.ndim != 0 or f.dtype.kind != "f" or not 0 < f < 1:
        raise ValueError(f"{where}: {name} must be a float in (0, 1), got {f!r}")
    return float(f)


def xor():
    """``X (4, 2)`` = the corners of the unit square, ``y (4,)`` = x₁ XOR x₂."""
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return X, np.array([0, 1, 1, 0])


def two_class_2d(n: int = 200, noise: float = 0.1, rng=0, kind: str = "moons"):
    """A 2-D two-class set: ``X (n, 2)`` float64, ``y (n,)`` in {0, 1}.

    ``kind="moons"``: class 0 on the upper half circle ``(cos t, sin t)``,
    class 1 on the shifted lower one ``(1 − cos t, 0.5 − sin t)``, ``t ∈ [0, π]``.
    ``kind="circles"``: class 0 on the unit circle, class 1 on radius 0.5.
    Gaussian noise of std ``noise`` is added; class 0 gets ⌈n/2⌉ points; the
    rows are shuffled. Deterministic given ``rng`` (default seed 0).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"two_class_2d: n must be an int ≥ 2, got {n!r}")
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"two_class_2d: noise must be a finite number ≥ 0, got {noise!r}")
    if kind not in ("moons", "circles"):
        raise ValueError(f"two_class_2d: kind must be 'moons' or 'circles', got {kind!r}")
    rng = _rng(rng)
    n0, n1 = n - n // 2, n // 2
    if kind == "moons":
        t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n1)
        P0 = np.column_stack([np.cos(t0), np.sin(t0)])
        P1 = np.column_stack([1 - np.cos(t1), 0.5 - np.sin(t1)])
    else:
        t0 = np.linspace(0, 2 * np.pi, n0, endpoint=False)
        t1 = np.linspace(0, 2 * np.pi, n1, endpoint=False)
        P0 = np.column_stack([np.cos(t0), np.sin(t0)])
        P1 = 0.5 * np.column_stack([np.cos(t1), np.sin(t1)])
    X = np.vstack([P0, P1]) + noise * rng.standard_normal((n, 2))
    y = np.concatenate([np.zeros(n0, dtype=np.int64), np.ones(n1, dtype=np.int64)])
    order = rng.permutation(n)
    return X[order], y[order]


@lru_cache(maxsize=1)
def _load_digits():
    from sklearn.datasets import load_digits
    d = load_digits()
    return d.data.astype(np.float64) / 16.0, d.target.astype(np.int64)


def _stratified_split(y: np.ndarray, fraction: float, rng: np.random.Generator):
    """Indices ``(keep, held_out)``: in each class ``round(fraction · n_c)`` held out
    (at least one when the class has two or more samples), both shuffled."""
    held = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(fraction * idx.size))
        if idx.size >= 2:
            k = min(max(k, 1), idx.size - 1)
        held.append(idx[:k])
    held = np.concatenate(held)
    keep = np.setdiff1d(np.arange(y.size), held)
    return rng.permutation(keep), rng.permutation(held)


def digits(test_fraction: float = 0.25, seed: int = 0, dtype=np.float64):
    """The 8×8 handwritten digits bundled with scikit-learn.

    Returns ``X_train, y_train, X_test, y_test``: ``X (n, 64)`` pixels scaled
    from 0…16 to [0, 1] in ``dtype``, ``y (n,)`` int64 digits 0–9. The split is
    stratified (each class contributes ``round(test_fraction · n_c)`` test
    samples) and depends only on ``seed``.
    """
    test_fraction = _fraction(test_fraction, "digits", "test_fraction")
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise ValueError(f"digits: dtype must be float32 or float64, got {dtype!r}")
    X, y = _load_digits()
    tr, te = _stratified_split(y, test_fraction, np.random.default_rng(seed))
    X = X.astype(dtype)
    return X[tr], y[tr].copy(), X[te], y[te].copy()


def one_hot(y, C: int, dtype=np.float64) -> np.ndarray:
    """``T (n, C)`` with ``T[i, y_i] = 1``; ``y`` integer labels in ``0 … C−1``."""
    y = np.asarray(y)
    if y.ndim == 1 and y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all():
        y = y.astype(np.int64)                   # 0.0, 1.0, … are accepted as labels
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(f"one_hot: y must be a 1-D array of integer labels, "
                         f"got shape {y.shape} dtype {y.dtype}")
    if isinstance(C, bool) or not isinstance(C, (int, np.integer)) or C < 1:
        raise ValueError(f"one_hot: C must be a positive int, got {C!r}")
    if y.size and (y.min() < 0 or y.max() >= C):
        raise ValueError(f"one_hot: labels must lie in 0…{C - 1}, got {y.min()}…{y.max()}")
    T = np.zeros((y.size, C), dtype=dtype)
    T[np.arange(y.size), y.astype(np.int64)] = 1
    return T


def train_val_split(X, y, val_fraction: float, rng=None, stratify: bool = False):
    """Random split into ``X_train, y_train, X_val, y_val``.

    ``round(val_fraction · n)`` rows (at least 1, at most n − 1) go to
    validation; with ``stratify=True`` (1-D class labels) the split is made
    per class. ``rng``: Generator or seed (None → seed 0).
    """
    val_fraction = _fraction(val_fraction, "train_val_split", "val_fraction")
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim < 1 or y.ndim < 1 or len(X) != len(y) or len(X) < 2:
        raise ValueError(f"train_val_split: X and y need the same number (≥ 2) of rows, "
                         f"got shapes {X.shape} and {y.shape}")
    rng = _rng(rng, 0)
    if stratify:
        if y.ndim != 1:
            raise ValueError(f"train_val_split: stratify needs 1-D labels, got shape {y.shape}")
        tr, va = _stratified_split(y, val_fraction, rng)
    else:
        n = len(X)
        k = min(max(int(round(val_fraction * n)), 1), n - 1)
        order = rng.permutation(n)
        va, tr = order[:k], order[k:]
    return X[tr], y[tr], X[va], y[va]


def minibatches(X, y, batch_size: int, rng=None, shuffle: bool = True):
    """Generator of ``(X_batch, y_batch)`` covering every row exactly once.

    Rows in a fresh random order when ``shuffle`` (``rng``: Generator or seed;
    None → unseeded), else in order; batches of ``batch_size`` rows, the last
    one shorter when ``batch_size`` does not divide n (it is kept). The
    arguments are checked at the call, before the first batch.
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim < 1 or y.ndim < 1 or len(X) != len(y):
        raise ValueError(f"minibatches: X and y need the same number of rows, "
                         f"got shapes {X.shape} and {y.shape}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"minibatches: batch_size must be a positive int, got {batch_size!r}")
    order = _rng(rng).permutation(len(X)) if shuffle else np.arange(len(X))
    batches = (order[i:i + batch_size] for i in range(0, len(X), batch_size))
    return ((X[idx], y[idx]) for idx in batches)


def standardize(X_train, *others, eps: float = 0.1):
    """Centre and scale features with the *training* statistics:
    ``x' = (x − μ_train) / (σ_train + eps)``; ``eps`` keeps constant pixels
    (σ = 0, common at the digits' borders) finite. Returns the scaled
    training array followed by each of ``others``.
    """
    X_train = as_float_array(X_train, "standardize", "X_train")
    mu, sd = X_train.mean(axis=0), X_train.std(axis=0) + eps
    return tuple((as_float_array(X, "standardize", "X") - mu) / sd for X in (X_train, *others))

"""Training loops (seed 001, 算法 2.1; seed 004's batch gradient descent).

``fit`` runs epochs of gradient descent over ``(X, y)``:

* ``batch_size=None`` — full-batch gradient descent (one step per epoch);
* ``batch_size=B`` — mini-batch SGD, the rows reshuffled every epoch;
* ``batch_size=1`` — stochastic gradient descent.

With a validation set and ``patience``, training stops early when the
validation loss has not improved for ``patience`` epochs, and the best
parameters seen are restored.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .network import Network

__all__ = ["History", "fit", "minibatch_indices"]


@dataclass
class History:
    """Per-epoch curves and where training stopped."""
    loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    best_epoch: int = -1
    stopped_early: bool = False


def minibatch_indices(n: int, batch_size: int | None, rng, shuffle: bool = True):
    """Index arrays covering ``range(n)`` once: a shuffled permutation cut
    into batches of ``batch_size`` (the last may be shorter)."""
    order = rng.permutation(n) if shuffle else np.arange(n)
    if batch_size is None or batch_size >= n:
        return [order]
    if batch_size < 1:
        raise ValueError(f"fit: batch_size must be ≥ 1 or None, got {batch_size}")
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def fit(net: Network, X, y, optimizer, epochs: int, batch_size: int | None = None,
        rng=None, X_val=None, y_val=None, patience: int | None = None,
        shuffle: bool = True, track_accuracy: bool = False,
        progress: Callable[[int, "History"], None] | None = None) -> History:
    """Train ``net`` in place; return the :class:`History` of the run.
    ``progress(epoch, history)`` is called after each epoch (e.g. to print)."""
    rng = np.random.default_rng(0) if rng is None else rng
    X = np.asarray(X)
    y = np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"fit: X has {len(X)} samples but y has {len(y)}")
    has_val = X_val is not None and y_val is not None
    if patience is not None and not has_val:
        raise ValueError("fit: early stopping (patience) needs X_val and y_val")
    hist = History()
    best, best_params, waited = np.inf, None, 0
    for epoch in range(epochs):
        optimizer.set_epoch(epoch)
        hist.lr.append(optimizer.lr)
        total = 0.0
        for idx in minibatch_indices(len(X), batch_size, rng, shuffle):
            value, grads = net.gradients(X[idx], y[idx])
            optimizer.step(net, grads)
            total += value * len(idx)
        hist.loss.append(total / len(X))
        if track_accuracy:
            hist.accuracy.append(net.accuracy(X, y))
        if progress is not None:
            progress(epoch, hist)
        if has_val:
            v = net.loss_value(X_val, y_val)
            hist.val_loss.append(v)
            if track_accuracy:
                hist.val_accuracy.append(net.accuracy(X_val, y_val))
            if v < best:
                best, waited, hist.best_epoch = v, 0, epoch
                if patience is not None:
                    best_params = net.get_params()
            elif patience is not None:
                waited += 1
                if waited >= patience:
                    hist.stopped_early = True
                    break
    if best_params is not None:
        net.set_params(best_params)
    return hist

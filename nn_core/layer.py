"""The layer protocol every trainable or fixed transformation follows.

Modelled on CS231n's ``layers.py``: a forward pass returns the output and an
explicit cache; the backward pass takes the upstream gradient and that cache
and returns the downstream gradient plus the parameter gradients.

Shapes: a layer accepts either **one sample** (the lecture's column vector
``a^{(l-1)}``, stored as a 1-D array of shape ``(M_{l-1},)``; for images
``(C, H, W)``) or **a batch** with samples as rows (``(n, M_{l-1})``;
images ``(n, C, H, W)``), as in seed 004's ``X ∈ R^{n×d}``.
"""
from __future__ import annotations

from typing import Any

import numpy as np


class Layer:
    """Base class: ``forward(x, train) -> (out, cache)``,
    ``backward(dout, cache) -> (dx, grads)``.

    ``params`` maps parameter names to arrays (updated in place by the
    optimizers); ``grads`` returned by :meth:`backward` has the same keys.
    ``decay`` names the parameters that L2 weight decay applies to (weights,
    never biases).
    """

    name: str = "layer"
    params: dict[str, np.ndarray]
    decay: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.params = {}

    def forward(self, x: np.ndarray, train: bool = True) -> tuple[np.ndarray, Any]:
        raise NotImplementedError

    def backward(self, dout: np.ndarray, cache: Any,
                 need_dx: bool = True) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        """Return ``(dx, grads)``; ``need_dx=False`` lets the first layer of a
        network skip computing a gradient nobody uses (returns ``None``)."""
        raise NotImplementedError

    def astype(self, dtype) -> "Layer":
        """Cast the parameters to ``dtype`` (float32 or float64) in place."""
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)
        return self

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}{tuple(v.shape)}" for k, v in self.params.items())
        return f"{type(self).__name__}({shapes})"

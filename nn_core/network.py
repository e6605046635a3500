"""A network: a sequence of layers and a loss, with two gradient paths.

* :meth:`Network.gradients_per_sample` — the lecture's loop (seed 001,
  算法 反向传播): for each sample ``x_i`` forward vector by vector, then
  ``δ^{(L)} = ∂L/∂z^{(L)}``, ``δ^{(l)} = f_l'(z^{(l)}) ⊙ (W^{(l+1)ᵀ} δ^{(l+1)})``,
  ``∂L/∂W^{(l)} = δ^{(l)} a^{(l−1)ᵀ}``, ``∂L/∂b^{(l)} = δ^{(l)}``; the batch
  gradient is the mean ``(1/n) Σ_i ∂L_i/∂θ``.
* :meth:`Network.gradients` — the matrix form (seed 004): rows of ``X``,
  ``dZ^{(L)} = (A^{(L)} − Y)/n`` folded into the loss gradient,
  ``dW = dZᵀ A_prev``, ``db = dZᵀ 1``, ``dA_prev = dZ W``.

Both return the mean loss and a list (one dict per layer) of gradients with
the same keys as each layer's ``params``; they agree to float64 rounding.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ._checks import as_float_array, validated_input
from .layer import Layer
from .losses import get_loss

__all__ = ["Network"]


class Network:
    """``layers`` applied in order, then ``loss(ŷ, y) -> (L, ∂L/∂ŷ)``.

    ``loss`` is a name from :data:`nn_core.losses.LOSSES` or a callable with
    that signature (one sample: 1-D ``ŷ``; a batch: rows, mean over rows).
    """

    def __init__(self, layers: Sequence[Layer], loss="half_squared_error"):
        if not layers:
            raise ValueError("Network: needs at least one layer")
        for i, layer in enumerate(layers):
            if not (hasattr(layer, "forward") and hasattr(layer, "backward")):
                raise ValueError(f"Network: layer {i} ({layer!r}) has no forward/backward")
        self.layers = list(layers)
        self.loss = get_loss(loss)

    # -- parameters ---------------------------------------------------------
    def parameters(self):
        """Yield ``(layer_index, name, array, decays)`` for every parameter."""
        for i, layer in enumerate(self.layers):
            for name, p in layer.params.items():
                yield i, name, p, name in getattr(layer, "decay", ())

    def get_params(self) -> list[dict[str, np.ndarray]]:
        """A deep copy of every layer's parameters (for early stopping)."""
        return [{k: v.copy() for k, v in layer.params.items()} for layer in self.layers]

    def set_params(self, params: list[dict[str, np.ndarray]]) -> None:
        """Copy ``params`` (as from :meth:`get_params`) back in place."""
        for layer, saved in zip(self.layers, params):
            for k, v in saved.items():
                layer.params[k][...] = v

    def astype(self, dtype) -> "Network":
        """Cast every parameter to ``dtype`` (float32 or float64)."""
        for layer in self.layers:
            layer.astype(dtype)
        return self

    @property
    def dtype(self):
        for _, _, p, _ in self.parameters():
            return p.dtype
        return np.dtype(np.float64)

    # -- forward / backward --------------------------------------------------
    def forward(self, X, train: bool = False) -> np.ndarray:
        """The network's output for one sample or a batch (no loss)."""
        out = X
        for layer in self.layers:
            out, _ = layer.forward(out, train)
        return out

    def _forward_backward(self, x, y, train: bool):
        """One forward and backward pass; ``x`` is checked once by the first
        layer, the arrays between layers are the core's own."""
        out, cache = self.layers[0].forward(x, train)
        caches = [cache]
        with validated_input():
            for layer in self.layers[1:]:
                out, cache = layer.forward(out, train)
                caches.append(cache)
        value, dout = self.loss(out, y)              # checks the targets y
        grads: list[dict] = [None] * len(self.layers)
        with validated_input():
            for i in range(len(self.layers) - 1, -1, -1):
                dout, grads[i] = self.layers[i].backward(dout, caches[i], need_dx=i > 0)
        return value, grads

    def gradients(self, X, y, train: bool = True):
        """Batched path: mean loss over the rows of ``X`` and its gradients
        (the first layer validates ``X``)."""
        return self._forward_backward(X, y, train)

    def gradients_per_sample(self, X, y, train: bool = True):
        """Per-sample path: loop over the rows of ``X`` one vector at a time,
        average the per-sample losses and gradients."""
        X = as_float_array(X, "Network", "X")
        y = np.asarray(y)
        if len(X) != len(y):
            raise ValueError(f"Network: X has {len(X)} samples but y has {len(y)}")
        n = len(X)
        total = 0.0
        acc = None
        for i in range(n):
            value, grads = self._forward_backward(X[i], y[i], train)
            total += value
            if acc is None:
                acc = grads
            else:
                for a, g in zip(acc, grads):
                    for k in a:
                        a[k] += g[k]
        for a in acc:
            for k in a:
                a[k] /= n
        return total / n, acc

    def loss_value(self, X, y, train: bool = False) -> float:
        """Mean loss on ``(X, y)`` (test mode by default)."""
        return float(self.loss(self.forward(X, train), y)[0])

    def predict(self, X) -> np.ndarray:
        """Class predictions: argmax of the outputs (threshold 0.5 for one output)."""
        out = self.forward(X, train=False)
        if out.shape[-1] == 1:
            return (out[..., 0] > 0.5).astype(int)
        return out.argmax(axis=-1)

    def accuracy(self, X, y) -> float:
        """Share of samples whose prediction equals the integer label ``y``."""
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] > 1:
            y = y.argmax(axis=1)
        return float(np.mean(self.predict(X) == y.reshape(-1)))

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Network([{inner}], loss={getattr(self.loss, '__name__', self.loss)})"

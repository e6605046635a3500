"""Dense-network layers as forward/backward pairs (CS231n's ``layers.py``).

Notation (seed 001): ``z^{(l)} = W^{(l)} a^{(l−1)} + b^{(l)}`` with
``W^{(l)} ∈ R^{M_l × M_{l−1}}``, error term ``δ^{(l)} = ∂L/∂z^{(l)}``.
Batches (seed 004) are rows: ``Z = X Wᵀ + bᵀ`` with ``X ∈ R^{n × M_{l−1}}``.
"""
from __future__ import annotations

import numpy as np

from ._checks import as_float_array, check_last_dim, check_ndim
from .init import initialize
from .layer import Layer
from .opcount import is_counting, record

__all__ = ["Linear", "Dropout"]

#: Output widths below this multiply by a contiguous copy of ``Wᵀ`` (see
#: :meth:`Linear.forward`).
_NARROW = 32


class Linear(Layer):
    """Affine layer ``z = W a + b``.

    Shapes: ``W (M_out, M_in)``, ``b (M_out,)``; input one sample ``(M_in,)``
    or a batch ``(n, M_in)``; output ``(M_out,)`` or ``(n, M_out)``.

    Backward, one sample: ``∂L/∂W = δ aᵀ``, ``∂L/∂b = δ``, ``∂L/∂a = Wᵀ δ``.
    Batch (rows): ``dW = dZᵀ X``, ``db = dZᵀ 1``, ``dX = dZ W`` — the sums
    over the batch are part of the matrix products.
    """

    name = "Linear"
    decay = ("W",)

    def __init__(self, in_features: int, out_features: int, init: str = "xavier",
                 rng=None, dtype=np.float64, W=None, b=None, **init_hyper):
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(f"Linear: sizes must be positive, got in={in_features}, "
                             f"out={out_features}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        if W is None:
            W = initialize(init, (out_features, in_features), rng, dtype, **init_hyper)
        W = as_float_array(W, "Linear", "W")
        b = np.zeros(out_features, dtype=W.dtype) if b is None else as_float_array(b, "Linear", "b")
        if W.shape != (out_features, in_features) or b.shape != (out_features,):
            raise ValueError(f"Linear: W must be ({out_features}, {in_features}) and b "
                             f"({out_features},), got {W.shape} and {b.shape}")
        # copies: training updates parameters in place, never the caller's arrays
        self.params = {"W": W.copy(), "b": b.astype(W.dtype)}

    def forward(self, x, train=True):
        x = as_float_array(x, self.name, "input")
        check_ndim(x, (1, 2), self.name, "input", "(M_in,) for one sample or (n, M_in) for a batch")
        check_last_dim(x, self.in_features, self.name)
        W, b = self.params["W"], self.params["b"]
        # BLAS reads Wᵀ in place (a transposed view, no copy) — except for a
        # narrow output (a classifier's C logits), where OpenBLAS is ~2× slower
        # on the transposed operand than on a contiguous copy of it (which
        # costs C·M_in entries, little next to the product)
        Wt = W.T if self.out_features >= _NARROW else W.T.copy()
        z = np.matmul(x, Wt)
        z += b
        if is_counting():
            rows = 1 if x.ndim == 1 else x.shape[0]
            m, k = self.out_features, self.in_features
            record("forward", mults=rows * m * k, adds=rows * m * (k - 1) + rows * m,
                   layer=self.name)
        return z, x

    def backward(self, dout, cache, need_dx=True):
        x = cache
        W = self.params["W"]
        if dout.shape[:-1] != x.shape[:-1] or dout.shape[-1] != self.out_features:
            raise ValueError(f"Linear.backward: upstream gradient shape {dout.shape} does not "
                             f"match the output shape {x.shape[:-1] + (self.out_features,)}")
        if x.ndim == 1:
            grads = {"W": np.outer(dout, x), "b": dout.copy()}
        else:
            # db = dZᵀ 1 as a BLAS matrix-vector product: faster than
            # dout.sum(axis=0), which NumPy adds up row by row on one core
            ones = np.ones(dout.shape[0], dtype=dout.dtype)
            db = np.matmul(ones, dout) if dout.dtype.kind == "f" else dout.sum(axis=0)
            grads = {"W": np.matmul(dout.T, x), "b": db}
        dx = np.matmul(dout, W) if need_dx else None
        if is_counting():
            rows = 1 if x.ndim == 1 else x.shape[0]
            m, k = self.out_features, self.in_features
            mults = rows * m * k + (rows * m * k if need_dx else 0)
            adds = (rows - 1) * m * k + (rows - 1) * m + (rows * k * (m - 1) if need_dx else 0)
            record("backward", mults=mults, adds=adds, layer=self.name)
        return dx, grads


class Dropout(Layer):
    """Dropout with **keep** probability ``p`` (seed 001: "该概率为保留概率").

    Training: ``u ~ Bernoulli(p)`` elementwise, ``a' = a ⊙ u``.

    * ``inverted=False`` (the lecture's form): at test time every activation
      is scaled by ``p`` so that ``E[a ⊙ u] = p a`` matches.
    * ``inverted=True``: training divides by ``p`` (``a' = a ⊙ u / p``) and
      test time is the identity.

    Either way the expected training output equals the test output.
    Backward: ``∂L/∂a = ∂L/∂a' ⊙ u`` (``/ p`` when inverted).
    """

    name = "Dropout"

    def __init__(self, p: float = 0.5, inverted: bool = False, rng=None):
        super().__init__()
        if not 0.0 < p <= 1.0:
            raise ValueError(f"Dropout: keep probability p must lie in (0, 1], got {p}")
        self.p, self.inverted = float(p), bool(inverted)
        self.rng = np.random.default_rng() if rng is None else rng

    def forward(self, x, train=True):
        x = as_float_array(x, self.name, "input")
        if train:
            mask = (self.rng.random(x.shape) < self.p).astype(x.dtype)
            if self.inverted:
                mask /= x.dtype.type(self.p)
            return x * mask, mask
        out = x if self.inverted else x * x.dtype.type(self.p)
        return out, None

    def backward(self, dout, cache, need_dx=True):
        mask = cache
        if mask is None:  # test mode
            return (dout if self.inverted else dout * dout.dtype.type(self.p)), {}
        return dout * mask, {}

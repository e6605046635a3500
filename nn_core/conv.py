"""Convolution and pooling layers (A7; seed 001 作业 (4)–(5), seed 003).

Notation (seed 001): layer ``l`` computes the *valid cross-correlation*

    z_{ij} = Σ_{u=0}^{K−1} Σ_{v=0}^{K−1} w_{uv} a_{i·s+u, j·s+v} + b,
    a^{(l)}_{ij} = f(z_{ij})

summed over the input channels as well.  With error terms
``δ_{ij} = ∂L/∂z_{ij}`` the gradients are

    ∂L/∂w_{uv} = Σ_{ij} δ_{ij} a_{i·s+u, j·s+v},      ∂L/∂b = Σ_{ij} δ_{ij},
    ∂L/∂a_{pq} = Σ_{u,v} w_{uv} δ_{(p−u)/s, (q−v)/s}   (terms outside the map,
                                                        or not integral, are 0)

and for ``s = 1`` the last line is the A7 recurrence: ``∂L/∂a`` is the *full
convolution* of ``δ`` with the 180°-rotated kernel (:func:`full_convolution`).

Shapes: images are ``(C, H, W)`` (one sample) or ``(n, C, H, W)`` (a batch);
kernels ``W (F, C, K, K)``, bias ``b (F,)``; outputs ``(F, OH, OW)`` or
``(n, F, OH, OW)`` with ``OH = ⌊(H + 2P − K)/s⌋ + 1`` (likewise ``OW``).

Implementation (fast, NumPy only, dtype kept: float32 stays float32):

* **im2col without an index array.**  A strided *view* of the zero-padded
  input, ``cols[n, c, u, v, i, j] = a_p[n, c, i·s+u, j·s+v]``, is the im2col
  matrix; one copy lays it out as ``(n, C·K·K, OH·OW)`` for the batched
  matrix product ``Z = W_{(F, CKK)} · cols`` (BLAS).  ``dW`` is the product
  ``δ · colsᵀ`` summed over the batch.
* **col2im** adds ``∂L/∂cols = Wᵀ δ`` back onto the padded input with K²
  vectorized slice additions (one per kernel offset ``(u, v)``), never
  ``np.add.at``.
* **pooling** gathers the windows once into a ``(K², n·C·OH·OW)`` array,
  takes the maximum and the first-maximum index there (the index is cached),
  and routes the gradient back with K² strided slice writes/additions.
* **work arrays.**  Temporaries that never leave one call (the im2col
  matrix, the gathered pooling windows) live in per-layer buffers that are
  reused while the shapes stay the same: on this class of machine touching
  fresh memory (page faults) costs more than the arithmetic itself.  The
  im2col matrix is therefore rebuilt in ``backward`` from the cached padded
  input instead of being cached.  (A consequence: one layer object must not
  run in two threads at once.)

Operation counts (A6 convention, see :mod:`nn_core.opcount`): :class:`Conv2D`
reports its multiplications and additions when counting is on
(:func:`conv2d_counts` gives the same numbers analytically).  Pooling and
:class:`Flatten` report nothing: comparisons and copies are neither
multiplications nor additions.  (The ÷K² of average pooling is a scaling
like the batch mean's 1/B and is not counted either.)
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._checks import as_float_array, check_dout, check_ndim
from .init import initialize
from .layer import Layer
from .opcount import is_counting, record

__all__ = ["Conv2D", "MaxPool2D", "AvgPool2D", "Flatten",
           "conv2d_naive", "full_convolution", "rot180", "conv2d_counts"]

_IMAGE_LAYOUT = "(C, H, W) for one sample or (n, C, H, W) for a batch"


# -- teaching / reference functions ---------------------------------------------
def rot180(w) -> np.ndarray:
    """The kernel rotated by 180°: ``rot180(w)_{uv} = w_{K−1−u, K−1−v}``
    (on the last two axes, so ``(F, C, K, K)`` kernels work too)."""
    w = np.asarray(w)
    return w[..., ::-1, ::-1].copy()


def conv2d_naive(a, w, stride: int = 1) -> np.ndarray:
    """Single-channel valid cross-correlation with explicit loops, exactly as
    the lecture writes it:

        z_{ij} = Σ_{u=0}^{K−1} Σ_{v=0}^{K−1} w_{uv} a_{i·s+u, j·s+v}

    ``a (H, W)``, ``w (K, K)`` → ``z (OH, OW)``, ``OH = ⌊(H − K)/s⌋ + 1``.
    No bias, no padding (pad ``a`` yourself).  Slow; for teaching and tests.
    """
    a = as_float_array(a, "conv2d_naive", "a")
    w = as_float_array(w, "conv2d_naive", "w")
    if a.ndim != 2 or w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"conv2d_naive: need a 2-D image and a square 2-D kernel, "
                         f"got a {a.shape} and w {w.shape}")
    K = w.shape[0]
    stride = _check_size("conv2d_naive: stride", stride)
    if a.shape[0] < K or a.shape[1] < K:
        raise ValueError(f"conv2d_naive: image {a.shape} is smaller than the kernel {w.shape}")
    OH, OW = (a.shape[0] - K) // stride + 1, (a.shape[1] - K) // stride + 1
    z = np.zeros((OH, OW), dtype=np.result_type(a, w))
    for i in range(OH):
        for j in range(OW):
            total = 0.0
            for u in range(K):
                for v in range(K):
                    total += w[u, v] * a[i * stride + u, j * stride + v]
            z[i, j] = total
    return z


def full_convolution(delta, w) -> np.ndarray:
    """The A7 recurrence for stride 1: ``δ^{(l)} = f'(z^{(l)}) ⊙ full_convolution(δ^{(l+1)}, w)``.

    Zero-pads ``δ (OH, OW)`` by ``K − 1`` on every side and cross-correlates
    with ``rot180(w)``:

        full_convolution(δ, w)_{pq} = Σ_{u,v} w_{uv} δ_{p−u, q−v}   (δ outside → 0)

    Result shape ``(OH + K − 1, OW + K − 1)``, i.e. the input's ``(H, W)``.
    """
    delta = as_float_array(delta, "full_convolution", "delta")
    w = as_float_array(w, "full_convolution", "w")
    if delta.ndim != 2 or w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"full_convolution: need a 2-D delta and a square 2-D kernel, "
                         f"got delta {delta.shape} and w {w.shape}")
    K = w.shape[0]
    return conv2d_naive(np.pad(delta, K - 1), rot180(w))


# -- analytic operation counts --------------------------------------------------
def _out_size(size: int, K: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - K) // stride + 1


def conv2d_counts(n: int, C: int, H: int, W: int, F: int, K: int, stride: int = 1,
                  padding: int = 0, need_dx: bool = True) -> dict:
    """Multiplications and additions of one :class:`Conv2D` forward + backward
    on ``n`` images ``(C, H, W)`` with ``F`` kernels ``K × K`` (A6 convention).

    With ``N = n·OH·OW`` output positions per kernel, ``R = C·K²`` (the
    receptive field) and ``OH = ⌊(H + 2P − K)/s⌋ + 1``:

    * forward ``z = Σ w a + b``: ``N·F·R`` mults; ``N·F·(R − 1)`` adds for the
      sums plus ``N·F`` for the bias.
    * ``∂L/∂W = Σ δ a`` over all ``N`` positions: ``N·F·R`` mults,
      ``(N − 1)·F·R`` adds; ``∂L/∂b = Σ δ``: ``(N − 1)·F`` adds.
    * ``∂L/∂a`` (if ``need_dx``): every product ``w·δ`` is one mult,
      ``N·F·R`` in all; each input cell sums its ``m`` contributions with
      ``m − 1`` adds, i.e. ``N·F·R − (#cells receiving ≥ 1 contribution)``.
      The cells are those of the *zero-padded* input ``(H + 2P, W + 2P)``
      (the backward pass accumulates there, then crops); per channel the
      windows cover ``(OH − 1)·min(s, K) + K`` rows (gaps when ``s > K``) and
      likewise columns, so the count is
      ``n·C·((OH−1)·min(s,K)+K)·((OW−1)·min(s,K)+K)``.

    Products with padding zeros are counted (the kernel performs them).
    :class:`Conv2D` records exactly these numbers when counting is on.
    Returns ``forward_mults, forward_adds, backward_mults, backward_adds``.
    """
    OH, OW = _out_size(H, K, stride, padding), _out_size(W, K, stride, padding)
    if OH < 1 or OW < 1:
        raise ValueError(f"conv2d_counts: image ({H}, {W}) with padding {padding} is "
                         f"smaller than the kernel {K}×{K}")
    N, R = n * OH * OW, C * K * K
    step = min(stride, K)
    covered = n * C * ((OH - 1) * step + K) * ((OW - 1) * step + K)
    dx_mults = N * F * R if need_dx else 0
    dx_adds = N * F * R - covered if need_dx else 0
    return {
        "forward_mults": N * F * R,
        "forward_adds": N * F * (R - 1) + N * F,
        "backward_mults": N * F * R + dx_mults,
        "backward_adds": (N - 1) * F * R + (N - 1) * F + dx_adds,
    }


# -- shared helpers -------------------------------------------------------------
def _image_input(x, where: str) -> tuple[np.ndarray, bool]:
    """Validate an image input; return it as a 4-D batch and whether it was one sample."""
    x = as_float_array(x, where, "input")
    check_ndim(x, (3, 4), where, "input", _IMAGE_LAYOUT)
    single = x.ndim == 3
    return (x[None] if single else x), single


def _check_size(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer ≥ {minimum}, got {value!r}")
    return int(value)


def _windows(x4: np.ndarray, K: int, s: int, OH: int, OW: int,
             writeable: bool = False) -> np.ndarray:
    """Strided view ``(n, C, K, K, OH, OW)`` with ``[.., u, v, i, j] = x[.., i·s+u, j·s+v]``."""
    sn, sc, sh, sw = x4.strides
    n, C = x4.shape[:2]
    return as_strided(x4, (n, C, K, K, OH, OW), (sn, sc, sh, sw, s * sh, s * sw),
                      writeable=writeable)


def _work(layer: Layer, key: str, shape: tuple, dtype) -> np.ndarray:
    """A reusable, uninitialised work array of the layer (see the module notes)."""
    work = layer.__dict__.setdefault("_work", {})
    arr = work.get(key)
    if arr is None or arr.shape != shape or arr.dtype != dtype:
        arr = work[key] = np.empty(shape, dtype=dtype)
    return arr


# -- convolution ----------------------------------------------------------------
class Conv2D(Layer):
    """2-D convolution layer (valid cross-correlation, optional zero padding).

    ``z[n, f, i, j] = Σ_c Σ_u Σ_v W[f, c, u, v] · a_p[n, c, i·s+u, j·s+v] + b[f]``
    where ``a_p`` is the input zero-padded by ``P`` on each side.

    Shapes: ``W (F, C, K, K)``, ``b (F,)``; input ``(C, H, W)`` or
    ``(n, C, H, W)``; output ``(F, OH, OW)`` or ``(n, F, OH, OW)``,
    ``OH = ⌊(H + 2P − K)/s⌋ + 1``.

    Backward (``δ = dout``): ``dW[f,c,u,v] = Σ_{n,i,j} δ[n,f,i,j] a_p[n,c,i·s+u,j·s+v]``,
    ``db[f] = Σ_{n,i,j} δ[n,f,i,j]``, and ``dx`` scatters
    ``W[f,c,u,v]·δ[n,f,i,j]`` onto ``a_p[n,c,i·s+u,j·s+v]`` (col2im), then
    crops the padding — for ``s = 1`` this is the full convolution of ``δ``
    with ``W`` (``δ`` zero-padded by ``K − 1``, cross-correlated with ``rot180(W)``).

    Cache (CS231n style): ``(x_shape, single, a_p)`` — the padded input
    ``(n, C, H + 2P, W + 2P)`` (the input itself when ``P = 0``).
    """

    name = "Conv2D"
    decay = ("W",)

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 stride: int = 1, padding: int = 0, init: str = "xavier", rng=None,
                 dtype=np.float64, W=None, b=None, **init_hyper):
        super().__init__()
        C = _check_size("Conv2D: in_channels", in_channels)
        F = _check_size("Conv2D: out_channels", out_channels)
        K = _check_size("Conv2D: kernel_size", kernel_size)
        self.stride = _check_size("Conv2D: stride", stride)
        self.padding = _check_size("Conv2D: padding", padding, minimum=0)
        self.in_channels, self.out_channels, self.kernel_size = C, F, K
        if W is None:
            W = initialize(init, (F, C, K, K), rng, dtype, **init_hyper)
        W = as_float_array(W, "Conv2D", "W")
        b = np.zeros(F, dtype=W.dtype) if b is None else as_float_array(b, "Conv2D", "b")
        if W.shape != (F, C, K, K) or b.shape != (F,):
            raise ValueError(f"Conv2D: W must be ({F}, {C}, {K}, {K}) and b ({F},), "
                             f"got {W.shape} and {b.shape}")
        # copies: training updates parameters in place, never the caller's arrays
        self.params = {"W": W.copy(), "b": b.astype(W.dtype)}

    def _out_hw(self, shape: tuple, single: bool = False) -> tuple[int, int]:
        """``(OH, OW)`` for an input batch shape, or a ValueError naming the
        shape as the caller gave it."""
        C, H, W = shape[1:]
        shape = shape[1:] if single else shape
        K, s, P = self.kernel_size, self.stride, self.padding
        if C != self.in_channels:
            raise ValueError(f"Conv2D: input of shape {shape} has {C} channels but "
                             f"in_channels={self.in_channels}")
        if H + 2 * P < K or W + 2 * P < K:
            raise ValueError(f"Conv2D: input of shape {shape} (padding {P}) is smaller "
                             f"than the {K}×{K} kernel")
        return (H + 2 * P - K) // s + 1, (W + 2 * P - K) // s + 1

    def _im2col(self, xp: np.ndarray, OH: int, OW: int) -> np.ndarray:
        """``cols (n, C·K·K, OH·OW)``, ``cols[n, (c,u,v), (i,j)] = a_p[n, c, i·s+u, j·s+v]``
        (written into the layer's work array)."""
        n, C = xp.shape[:2]
        K = self.kernel_size
        cols = _work(self, "cols", (n, C * K * K, OH * OW), xp.dtype)
        np.copyto(cols.reshape(n, C, K, K, OH, OW), _windows(xp, K, self.stride, OH, OW))
        return cols

    def forward(self, x, train=True):
        x4, single = _image_input(x, self.name)
        OH, OW = self._out_hw(x4.shape, single)
        n, C, H, W = x4.shape
        P, F = self.padding, self.out_channels
        Wt, b = self.params["W"], self.params["b"]
        if P:
            xp = np.zeros((n, C, H + 2 * P, W + 2 * P), dtype=x4.dtype)
            xp[:, :, P:P + H, P:P + W] = x4
        else:
            xp = x4
        cols = self._im2col(xp, OH, OW)
        z = np.matmul(Wt.reshape(F, -1), cols)            # (n, F, OH·OW)
        z += b[:, None]
        z = z.reshape(n, F, OH, OW)
        if is_counting():
            R = cols.shape[1]
            record("forward", mults=z.size * R, adds=z.size * (R - 1) + z.size,
                   layer=self.name)
        return (z[0] if single else z), (x4.shape, single, xp)

    def backward(self, dout, cache, need_dx=True):
        x_shape, single, xp = cache
        n, C, H, W = x_shape
        K, P, F = self.kernel_size, self.padding, self.out_channels
        OH, OW = self._out_hw(x_shape)
        d4 = check_dout(dout, (F, OH, OW) if single else (n, F, OH, OW), self.name)
        dq = np.ascontiguousarray(d4).reshape(n, F, OH * OW)   # δ as (n, F, OH·OW)
        Wt = self.params["W"]
        cols = self._im2col(xp, OH, OW)
        # dW[f, (c,u,v)] = Σ_n Σ_ij δ[n, f, ij] cols[n, (c,u,v), ij];  db[f] = Σ_n Σ_ij δ
        dW = np.matmul(dq, cols.transpose(0, 2, 1)).sum(axis=0).reshape(Wt.shape)
        db = dq.sum(axis=2).sum(axis=0)
        dx = None
        if need_dx:
            reuse = cols if cols.dtype == np.result_type(Wt, dq) else None
            dcols = np.matmul(Wt.reshape(F, -1).T, dq, out=reuse)   # Wᵀδ (n, CKK, OH·OW)
            dxp = self._col2im(dcols.reshape(n, C, K, K, OH, OW), xp.shape)
            dx = np.ascontiguousarray(dxp[:, :, P:P + H, P:P + W]) if P else dxp
            dx = dx[0] if single else dx
        if is_counting():
            mults = dq.size * cols.shape[1]                 # N·F·R for dW
            adds = (n * OH * OW - 1) * Wt.size + (n * OH * OW - 1) * F
            if need_dx:
                # run col2im on ones: how many (u,v) products reach each padded
                # input cell of one (image, channel); each also sums over F
                hits = self._col2im(np.ones((1, 1, K, K, OH, OW)), (1, 1) + xp.shape[2:])
                received = F * hits[hits > 0]
                mults += dq.size * cols.shape[1]
                adds += n * C * int(np.sum(received - 1))
            record("backward", mults=mults, adds=adds, layer=self.name)
        return dx, {"W": dW, "b": db}

    def _col2im(self, dcols6: np.ndarray, padded_shape: tuple) -> np.ndarray:
        """Add ``dcols6 (n, C, K, K, OH, OW)`` onto a zero image of ``padded_shape``:
        K² vectorized slice additions, one per kernel offset ``(u, v)``."""
        K, s = self.kernel_size, self.stride
        OH, OW = dcols6.shape[4:]
        dxp = np.zeros(padded_shape, dtype=dcols6.dtype)
        for u in range(K):
            for v in range(K):
                dxp[:, :, u:u + s * (OH - 1) + 1:s, v:v + s * (OW - 1) + 1:s] += dcols6[:, :, u, v]
        return dxp


# -- pooling --------------------------------------------------------------------
class _Pool2D(Layer):
    """Shared geometry of the K×K pooling layers (no parameters)."""

    name = "Pool2D"

    def __init__(self, kernel_size: int, stride: int | None = None):
        super().__init__()
        self.kernel_size = _check_size(f"{self.name}: kernel_size", kernel_size)
        self.stride = self.kernel_size if stride is None else \
            _check_size(f"{self.name}: stride", stride)

    def _setup(self, x):
        x4, single = _image_input(x, self.name)
        K, s = self.kernel_size, self.stride
        H, W = x4.shape[2:]
        if H < K or W < K:
            raise ValueError(f"{self.name}: input of shape {x4.shape[1:] if single else x4.shape}"
                             f" is smaller than the {K}×{K} pooling window")
        return x4, single, (H - K) // s + 1, (W - K) // s + 1

    def _route(self, shares, x_shape: tuple, OH: int, OW: int, dtype) -> np.ndarray:
        """Gradient w.r.t. the input from per-offset window gradients.

        ``shares(k)`` gives the ``(n, C, OH, OW)`` gradient that offset
        ``k = u·K + v`` of every window receives; it is written (disjoint
        windows, ``s ≥ K``) or added (overlapping windows, ``s < K``) onto the
        strided slice ``dx[.., u::s, v::s]`` — K² vectorized operations."""
        K, s = self.kernel_size, self.stride
        dx = np.zeros(x_shape, dtype=dtype)
        view = _windows(dx, K, s, OH, OW, writeable=True)
        for k in range(K * K):
            u, v = divmod(k, K)
            if s >= K:
                view[:, :, u, v] = shares(k)
            else:
                view[:, :, u, v] += shares(k)
        return dx

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride})"


class MaxPool2D(_Pool2D):
    """Max pooling over K×K windows with stride s (default s = K).

    ``out[.., i, j] = max_{u,v} x[.., i·s+u, j·s+v]``; input ``(C, H, W)`` or
    ``(n, C, H, W)``, output ``(C, OH, OW)`` / ``(n, C, OH, OW)`` with
    ``OH = ⌊(H − K)/s⌋ + 1`` (rows/columns that fit no window are dropped).

    Backward: each window's gradient goes entirely to its maximum; inputs in
    several windows (``s < K``) add up the gradients of every window they win.
    **Tie rule:** if a window holds several equal maxima, the *first one in
    row-major order* within the window (smallest ``u``, then smallest ``v``)
    receives all of the gradient, the others none (as ``np.argmax``).

    Cache: ``(x_shape, single, idx, OH, OW)`` with ``idx (n·C·OH·OW,)`` the
    offset ``u·K + v`` of each window's (first) maximum.
    """

    name = "MaxPool2D"

    def forward(self, x, train=True):
        x4, single, OH, OW = self._setup(x)
        K = self.kernel_size
        n, C = x4.shape[:2]
        # gather once: win[k, m] = value at offset k = u·K + v of window m
        win = _work(self, "windows", (K, K, n, C, OH, OW), x4.dtype)
        np.copyto(win, _windows(x4, K, self.stride, OH, OW).transpose(2, 3, 0, 1, 4, 5))
        win = win.reshape(K * K, -1)
        out = win[0].copy()
        for k in range(1, K * K):
            np.maximum(out, win[k], out=out)
        # first maximum (tie rule): idx = number of leading offsets that are
        # not the maximum — arithmetic only (masked assignment is slow in NumPy)
        idx = np.zeros(out.shape, dtype=np.uint8 if K * K < 256 else np.intp)
        before = np.ones(out.shape, dtype=bool)          # no maximum seen yet
        for k in range(K * K - 1):
            before &= win[k] != out
            idx += before
        out = out.reshape(n, C, OH, OW)
        return (out[0] if single else out), (x4.shape, single, idx, OH, OW)

    def backward(self, dout, cache, need_dx=True):
        x_shape, single, idx, OH, OW = cache
        n, C = x_shape[:2]
        d4 = check_dout(dout, (C, OH, OW) if single else (n, C, OH, OW), self.name)
        if not need_dx:
            return None, {}
        idx = idx.reshape(d4.shape)
        dx = self._route(lambda k: (idx == k) * d4, x_shape, OH, OW, d4.dtype)
        return (dx[0] if single else dx), {}


class AvgPool2D(_Pool2D):
    """Average pooling over K×K windows with stride s (default s = K).

    ``out[.., i, j] = (1/K²) Σ_{u,v} x[.., i·s+u, j·s+v]``; shapes as
    :class:`MaxPool2D`.  Backward spreads each window's gradient evenly:
    every input of the window receives ``dout/K²`` (overlaps add up).

    Cache: ``(x_shape, single, OH, OW)``.
    """

    name = "AvgPool2D"

    def forward(self, x, train=True):
        x4, single, OH, OW = self._setup(x)
        K = self.kernel_size
        view = _windows(x4, K, self.stride, OH, OW)
        out = view[:, :, 0, 0].copy()
        for u in range(K):
            for v in range(K):
                if u or v:
                    out += view[:, :, u, v]
        out *= out.dtype.type(1.0 / (K * K))
        return (out[0] if single else out), (x4.shape, single, OH, OW)

    def backward(self, dout, cache, need_dx=True):
        x_shape, single, OH, OW = cache
        n, C = x_shape[:2]
        d4 = check_dout(dout, (C, OH, OW) if single else (n, C, OH, OW), self.name)
        if not need_dx:
            return None, {}
        K = self.kernel_size
        share = d4 / (K * K)
        dx = self._route(lambda k: share, x_shape, OH, OW, share.dtype)
        return (dx[0] if single else dx), {}


class Flatten(Layer):
    """Reshape images to vectors for a following :class:`~nn_core.layers.Linear`.

    ``(n, C, H, W) → (n, C·H·W)`` (a batch) and ``(C, H, W) → (C·H·W,)``
    (one sample), in C order; backward reshapes the gradient back.
    Cache: the input shape.
    """

    name = "Flatten"

    def forward(self, x, train=True):
        x = as_float_array(x, self.name, "input")
        check_ndim(x, (3, 4), self.name, "input", _IMAGE_LAYOUT)
        out = x.reshape(-1) if x.ndim == 3 else x.reshape(x.shape[0], -1)
        return out, x.shape

    def backward(self, dout, cache, need_dx=True):
        shape = cache
        want = (int(np.prod(shape)),) if len(shape) == 3 else (shape[0], int(np.prod(shape[1:])))
        d = check_dout(dout, want, self.name)
        return (d.reshape(shape) if need_dx else None), {}

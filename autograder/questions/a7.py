"""A7 — backprop through convolution and pooling (seed 001 作业 4–5; seed 003).

Single-channel maps, stride 1 for the convolution, the lecture's "valid"
cross-correlation ``z_{ij} = Σ_{u,v} w_{uv} a_{i+u, j+v}`` (``a (H, W)``,
``w (K, K)``, ``z (H−K+1, W−K+1)``).

Student functions (the notebook also holds the forward functions the
gradient checks differentiate: ``conv_forward(a, w) -> z``,
``maxpool_forward(x, K, stride)``, ``avgpool_forward(x, K, stride)``; they
are given code or the student's own, and must be present when grading)::

    conv_delta(delta_next, w, fprime) -> delta            # q1 "delta", (H, W)
        δ^{(l)}_{ij} = f'(z^{(l)}_{ij}) Σ_{u,v} w_{uv} δ^{(l+1)}_{i−u, j−v}
        (terms outside the map are 0) = fprime ⊙ the full convolution of
        δ^{(l+1)} (OH, OW) with w, i.e. δ^{(l+1)} zero-padded by K − 1 and
        cross-correlated with rot180(w); fprime = f'(z^{(l)}) has shape (H, W)
    conv_dw(delta_next, a) -> dw                          # q1 "dw", (K, K)
        ∂L/∂w_{uv} = Σ_{ij} δ_{ij} a_{i+u, j+v},  K = H − OH + 1
    maxpool_backward(dout, x, K, stride) -> dx            # q2 "max_pool" / "overlap", x's shape
        each window's gradient goes to its maximum; overlapping windows
        (stride < K) add up; rows/columns no window covers get 0.
        Tie rule (stated in the notebook): the *first* maximum of the window
        in row-major order gets all of it (as ``np.argmax``).
    avgpool_backward(dout, x, K, stride) -> dx            # q2 "avg_pool"
        every cell of a window gets dout/K² (overlaps add up)

Named mistakes: ``conv_delta`` without the kernel rotation or without
f'(z); max pooling's gradient spread (÷K²) or copied over the window;
average pooling not divided by K²; overlapping windows overwriting each
other instead of adding up.

``OH = ⌊(H − K)/stride⌋ + 1`` (likewise OW) for pooling. Hidden inputs have
no near-ties in the pooling windows, except one case of ``max_pool`` that
has exact ties to judge the stated tie rule (never the case used by the
finite-difference check).

q1 also asks which recurrence is right (choice, :data:`RECURRENCE_OPTIONS`);
q3 (0 points, feedback only) the derivatives of the small symbolic case
(4×4 input, 2×2 kernel) obtained by differentiating the scalar
``L = Σ_{ij} δ_{ij} z_{ij}`` with SymPy.

References: :func:`nn_core.conv.full_convolution`, :class:`nn_core.conv.Conv2D`,
:class:`nn_core.conv.MaxPool2D`, :class:`nn_core.conv.AvgPool2D`.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from nn_core.conv import AvgPool2D, Conv2D, MaxPool2D, full_convolution, rot180
from nn_core.symbolic import conv as sym_conv
from nn_core.symbolic import derive

from ..functions import FnSpec, GradCheck
from ..i18n import msg
from ..mistakes import MISSING_ACTIVATION_DERIVATIVE, Mistake
from .base import Part, Question


# -- the mistakes A7's feedback names ----------------------------------------

CONV_NO_ROTATION = Mistake(
    "conv_no_rotation",
    name=msg("卷积反向传播没有把卷积核旋转 180°",
             "Convolution backward without rotating the kernel by 180°"),
    hint=msg("δ^(l) = f'(z^(l)) ⊙（δ^(l+1) 补 K − 1 圈零后与 rot180(W) 做互相关），"
             "即 δ^(l+1) 与 W 的全卷积。",
             "δ^(l) = f'(z^(l)) ⊙ (δ^(l+1) zero-padded by K − 1, cross-correlated with "
             "rot180(W)), i.e. the full convolution of δ^(l+1) with W."))

CONV_VALID_PADDING = Mistake(
    "conv_valid_padding",
    name=msg("卷积反向传播用了 valid 而不是 full 填充",
             "Convolution backward with valid instead of full padding"),
    hint=msg("δ^(l+1) 要先补 K − 1 圈零。",
             "pad δ^(l+1) with K − 1 zeros."))

MAXPOOL_SPREAD = Mistake(
    "maxpool_spread",
    name=msg("最大池化的梯度被分给了窗口中的每个位置",
             "Max-pooling gradient spread over the whole window"),
    hint=msg("它只流向最大值所在的位置。",
             "it goes only to the maximum."))

MAXPOOL_TIES = Mistake(
    "maxpool_ties",
    name=msg("池化窗口中有并列最大值时，梯度只给一个位置",
             "A max-pooling window with tied maxima sends its gradient to one cell only"),
    hint=msg("按行优先顺序的第一个最大值（与 np.argmax 相同，笔记本中的约定），"
             "不是每个并列的位置，也不是最后一个。",
             "the first maximum in row-major order (as np.argmax, the notebook's rule), not "
             "to every tied cell nor to the last one."))

AVGPOOL_NOT_DIVIDED = Mistake(
    "avgpool_not_divided",
    name=msg("平均池化的梯度没有除以 K²",
             "Average-pooling gradient not divided by K²"),
    hint=msg("窗口中每个位置得到 dout/K²。",
             "every cell of a window gets dout/K²."))

POOL_OVERLAP_OVERWRITTEN = Mistake(
    "pool_overlap_overwritten",
    name=msg("重叠的池化窗口（stride < K）的梯度被覆盖了",
             "Overlapping pooling windows (stride < K) overwrote each other"),
    hint=msg("同一位置从几个窗口得到的梯度要相加（+=）。",
             "a cell's gradients from several windows add up (+=)."))

#: q1's choice: the key is the answer the student gives.
RECURRENCE_OPTIONS = {
    "full_rot180": msg("δ^(l+1) 补 K−1 圈零（full 卷积），与旋转 180° 的卷积核做互相关，再乘 f'(z^(l))",
                       "pad δ^(l+1) with K−1 zeros (full convolution), cross-correlate with the "
                       "kernel rotated by 180°, multiply by f'(z^(l))"),
    "full": msg("δ^(l+1) 补 K−1 圈零，与（未旋转的）卷积核做互相关，再乘 f'(z^(l))",
                "pad δ^(l+1) with K−1 zeros, cross-correlate with the (unrotated) kernel, "
                "multiply by f'(z^(l))"),
    "valid_rot180": msg("δ^(l+1) 不补零（valid），与旋转 180° 的卷积核做互相关，再乘 f'(z^(l))",
                        "no padding (valid), cross-correlate δ^(l+1) with the kernel rotated by "
                        "180°, multiply by f'(z^(l))"),
    "valid": msg("δ^(l+1) 不补零，与（未旋转的）卷积核做互相关，再乘 f'(z^(l))",
                 "no padding, cross-correlate δ^(l+1) with the (unrotated) kernel, multiply by "
                 "f'(z^(l))"),
}
RECURRENCE = "full_rot180"


# -- references ------------------------------------------------------------------
def conv_delta_reference(delta_next, w, fprime):
    return np.asarray(fprime) * full_convolution(delta_next, w)


def conv_dw_reference(delta_next, a):
    a, delta_next = np.asarray(a, dtype=np.float64), np.asarray(delta_next, dtype=np.float64)
    K = a.shape[0] - delta_next.shape[0] + 1
    layer = Conv2D(1, 1, K, W=np.zeros((1, 1, K, K)))
    _, cache = layer.forward(a[None])
    _, grads = layer.backward(delta_next[None], cache)
    return grads["W"][0, 0]


def _pool_backward(layer_cls, dout, x, K, stride):
    layer = layer_cls(int(K), int(stride))
    _, cache = layer.forward(np.asarray(x, dtype=np.float64)[None])
    dx, _ = layer.backward(np.asarray(dout, dtype=np.float64)[None], cache)
    return dx[0]


def maxpool_backward_reference(dout, x, K, stride):
    return _pool_backward(MaxPool2D, dout, x, K, stride)


def avgpool_backward_reference(dout, x, K, stride):
    return _pool_backward(AvgPool2D, dout, x, K, stride)


def conv_forward_given(a, w):
    """The notebook's given ``conv_forward(a, w)``: the valid cross-correlation."""
    a, w = np.asarray(a, dtype=np.float64), np.asarray(w, dtype=np.float64)
    layer = Conv2D(1, 1, w.shape[0], W=w[None, None], b=np.zeros(1))
    return layer.forward(a[None])[0][0]


def _pool_forward_given(layer_cls):
    def forward(x, K, stride):
        return layer_cls(int(K), int(stride)).forward(np.asarray(x, dtype=np.float64)[None])[0][0]
    return forward


#: the functions the notebook gives (its locked cells define them), for
#: tools that need the reference solution's namespace (``nngrade audit``)
GIVEN = {"conv_forward": conv_forward_given, "maxpool_forward": _pool_forward_given(MaxPool2D),
         "avgpool_forward": _pool_forward_given(AvgPool2D)}


# -- hidden inputs -------------------------------------------------------------
def _conv_cases(rng):
    """``(delta_next, w, fprime)``; the first case (used by the gradient check
    against ``conv_forward``) has f' = 1 (a linear layer)."""
    cases = []
    for k, (H, W, K) in enumerate(((5, 5, 2), (6, 5, 3), (4, 7, 2), (6, 6, 3), (3, 3, 3))):
        delta = rng.normal(0, 1, (H - K + 1, W - K + 1))
        w = rng.normal(0, 1, (K, K))
        z = rng.normal(0, 1.5, (H, W))
        s = 1 / (1 + np.exp(-z))
        cases.append((delta, w, np.ones((H, W)) if k == 0 else s * (1 - s)))
    return cases


def _dw_cases(rng):
    return [(rng.normal(0, 1, (H - K + 1, W - K + 1)), rng.normal(0, 1, (H, W)))
            for H, W, K in ((5, 5, 2), (6, 5, 3), (4, 7, 2), (7, 7, 4), (3, 3, 1))]


def _distinct(rng, shape, gap=0.1):
    """Values with no near-ties: a random permutation of a grid ``gap`` apart, jittered."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * gap + rng.uniform(-gap / 4, gap / 4, n)).reshape(shape) - n * gap / 2


def _out(H, K, s):
    return (H - K) // s + 1


def _pool_case(rng, H, W, K, s, ties=False):
    x = _distinct(rng, (H, W))
    if ties:                                  # exact ties inside some windows
        x = np.round(rng.uniform(0, 3, (H, W)))
    return rng.normal(0, 1, (_out(H, K, s), _out(W, K, s))), x, K, s


def _maxpool_cases(rng):
    return [_pool_case(rng, *g) for g in ((4, 4, 2, 2), (6, 6, 3, 3), (5, 7, 2, 2), (6, 4, 2, 2))] \
        + [_pool_case(rng, 6, 6, 2, 2, ties=True)]


def _avgpool_cases(rng):
    return [_pool_case(rng, *g) for g in ((4, 4, 2, 2), (6, 6, 3, 3), (5, 7, 2, 2), (5, 5, 3, 1),
                                          (7, 6, 3, 2))]


def _overlap_cases(rng):
    return [_pool_case(rng, *g) for g in ((4, 4, 2, 1), (5, 5, 3, 1), (7, 6, 3, 2), (6, 7, 4, 2))]


def _pool_grad_check(forward):
    return GradCheck(forward, lambda args: [args[1], args[2], args[3]], 0, lambda args: args[0])


# -- catalogued mistakes of the functions (wrong references) ------------------------
def _delta_unrotated(delta_next, w, fprime):
    """No rotation: δ zero-padded and cross-correlated with w itself (the full
    convolution with rot180(w), which undoes the rotation)."""
    return np.asarray(fprime) * full_convolution(delta_next, rot180(np.asarray(w)))


def _delta_without_fprime(delta_next, w, fprime):
    """δ^{(l)} without the factor f'(z^{(l)})."""
    return full_convolution(delta_next, w)


def _maxpool_spread_evenly(dout, x, K, stride):
    """Each window's gradient spread over the window (÷K², like average pooling)."""
    return avgpool_backward_reference(dout, x, K, stride)


def _copied_over_window(dout, x, K, stride):
    """Each window's gradient copied to every cell of the window: max pooling
    spread without a maximum, or average pooling not divided by K²."""
    return int(K) ** 2 * avgpool_backward_reference(dout, x, K, stride)


def _maxpool_overwritten(dout, x, K, stride):
    """Max-pooling backward with ``dx[argmax] = dout`` (overlaps overwrite,
    windows in row-major order, the first maximum of each window)."""
    x, dout = np.asarray(x, dtype=np.float64), np.asarray(dout, dtype=np.float64)
    K, s = int(K), int(stride)
    dx = np.zeros_like(x)
    for i, j in np.ndindex(dout.shape):
        u, v = divmod(int(np.argmax(x[i * s:i * s + K, j * s:j * s + K])), K)
        dx[i * s + u, j * s + v] = dout[i, j]
    return dx


def _maxpool_tied(dout, x, K, stride, pick):
    """Max-pooling backward where ``pick(window)`` is the mask of the cells a
    window's gradient goes to (overlaps add up)."""
    x, dout = np.asarray(x, dtype=np.float64), np.asarray(dout, dtype=np.float64)
    K, s = int(K), int(stride)
    dx = np.zeros_like(x)
    for i, j in np.ndindex(dout.shape):
        window = x[i * s:i * s + K, j * s:j * s + K]
        dx[i * s:i * s + K, j * s:j * s + K] += pick(window) * dout[i, j]
    return dx


def _last_max(window):
    flat = window.reshape(-1)
    mask = np.zeros(flat.size)
    mask[flat.size - 1 - int(np.argmax(flat[::-1]))] = 1.0
    return mask.reshape(window.shape)


#: ties broken otherwise than by the stated rule: every tied cell, or the last one
TIES_BROKEN_OTHERWISE = (
    MAXPOOL_TIES.with_fn(lambda d, x, K, s: _maxpool_tied(d, x, K, s,
                                                          lambda w: (w == w.max()) * 1.0)),
    MAXPOOL_TIES.with_fn(lambda d, x, K, s: _maxpool_tied(d, x, K, s, _last_max)))

#: the gradient spread over the window: evenly, or copied to every cell
SPREAD_OVER_WINDOW = (MAXPOOL_SPREAD.with_fn(_maxpool_spread_evenly),
                      MAXPOOL_SPREAD.with_fn(_copied_over_window))

CONV_DELTA = FnSpec(
    "conv_delta", _conv_cases, conv_delta_reference,
    grad_check=GradCheck("conv_forward", lambda args: [np.full(np.shape(args[2]), 0.5), args[1]],
                         0, lambda args: args[0]),
    mistakes=(CONV_NO_ROTATION.with_fn(_delta_unrotated),
              MISSING_ACTIVATION_DERIVATIVE.with_fn(_delta_without_fprime)))
CONV_DW = FnSpec(
    "conv_dw", _dw_cases, conv_dw_reference,
    grad_check=GradCheck(
        "conv_forward",
        lambda args: [args[1], np.zeros((np.shape(args[1])[0] - np.shape(args[0])[0] + 1,) * 2)],
        1, lambda args: args[0]))
#: how far apart a window's largest two values must be, unless exactly tied on purpose
TIE_GAP = 1e-3


def _no_unwanted_ties(ties_wanted: bool):
    """``FnSpec.keeps`` for pooling: no window's two largest values closer
    than :data:`TIE_GAP` — except exact ties where the spec judges the tie
    rule, and never in the first case (the finite-difference check's)."""
    def keeps(cases):
        for n, (dout, x, K, s) in enumerate(cases):
            x, K, s = np.asarray(x, dtype=np.float64), int(K), int(s)
            for i, j in np.ndindex(np.shape(dout)):
                top = np.sort(x[i * s:i * s + K, j * s:j * s + K].reshape(-1))[-2:]
                gap = top[1] - top[0]
                if gap < TIE_GAP and not (ties_wanted and gap == 0 and n > 0):
                    return f"case {n}: window ({i}, {j}) has a {'tie' if gap == 0 else 'near-tie'}"
        return None
    return keeps


MAXPOOL = FnSpec("maxpool_backward", _maxpool_cases, maxpool_backward_reference,
                 grad_check=_pool_grad_check("maxpool_forward"),
                 mistakes=SPREAD_OVER_WINDOW + TIES_BROKEN_OTHERWISE,
                 keeps=_no_unwanted_ties(True))
AVGPOOL = FnSpec("avgpool_backward", _avgpool_cases, avgpool_backward_reference,
                 grad_check=_pool_grad_check("avgpool_forward"),
                 mistakes=(AVGPOOL_NOT_DIVIDED.with_fn(_copied_over_window),))
OVERLAP = FnSpec("maxpool_backward", _overlap_cases, maxpool_backward_reference,
                 grad_check=_pool_grad_check("maxpool_forward"),
                 mistakes=SPREAD_OVER_WINDOW + (
                     POOL_OVERLAP_OVERWRITTEN.with_fn(_maxpool_overwritten),),
                 keeps=_no_unwanted_ties(False))


# -- q3: the symbolic case ---------------------------------------------------------
SYM_H, SYM_K = 4, 2
SYM_OH = SYM_H - SYM_K + 1


def _grid(base, n):
    """The answers' symbols ``a00 … a33``, ``w00 … w11``, ``d00 … d22`` (indices from 0)."""
    return sp.Matrix(n, n, lambda i, j: sp.Symbol(f"{base}{i}{j}"))


A_SYM, W_SYM, D_SYM = _grid("a", SYM_H), _grid("w", SYM_K), _grid("d", SYM_OH)
SYMBOLS = tuple(str(s) for g in (A_SYM, W_SYM, D_SYM) for s in g)


def symbolic_case(p=None, up=None, rule=None):
    """``rule=None``: the derivatives of nn_core's derivation
    ``derive("conv_backward", H=4, K=2)`` — SymPy differentiates
    ``L = Σ_ij δ_ij z_ij`` and shows ``∂L/∂a`` is the full convolution of δ
    with w (δ zero-padded by K − 1, cross-correlated with rot180(w)) and
    ``∂L/∂w = a ⋆ δ`` — in the answers' symbols. Otherwise the derivatives a
    recurrence gives: ``"full_rot180"`` (the lecture's), ``"full"`` (no
    rotation) or ``"valid_rot180"`` (no padding)."""
    if rule is None:
        d = derive("conv_backward", H=SYM_H, K=SYM_K)
        ours = {**dict(zip(d.symbols["a"], A_SYM)), **dict(zip(d.symbols["w"], W_SYM)),
                **dict(zip(d.symbols["delta"], D_SYM))}
        dA, dW = d.results["dA"].xreplace(ours), d.results["dW"].xreplace(ours)
    else:
        ker = W_SYM if rule == "full" else sym_conv.rot180(W_SYM)
        img = D_SYM if rule == "valid_rot180" else sym_conv.pad(D_SYM, SYM_K - 1)
        dA, dW = sym_conv.xcorr(img, ker), None
    out = {"dL_da11": sp.expand(dA[1, 1]), "dL_da00": sp.expand(dA[0, 0])}
    if dW is not None:
        out["dL_dw01"] = sp.expand(dW[0, 1])
    return out


def _sym_part(name):
    return Part(name, kind="sym", symbols=SYMBOLS)


# -- questions -------------------------------------------------------------------
Q1 = Question(
    id="A7.q1",
    title=msg("卷积层的误差项递推与 ∂L/∂w", "The convolution's error-term recurrence and ∂L/∂w"),
    parts=(Part("recurrence", kind="choice",
                label=msg("选项：" + "；".join(f"{k}：{v.zh}" for k, v in RECURRENCE_OPTIONS.items()),
                          "Options: " + "; ".join(f"{k}: {v.en}"
                                                  for k, v in RECURRENCE_OPTIONS.items()))),
           Part("delta", kind="fn", fn=CONV_DELTA),
           Part("dw", kind="fn", fn=CONV_DW)),
    build=lambda p, up=None: {"recurrence": RECURRENCE},
    mistakes=(CONV_NO_ROTATION.with_make(lambda p: {"recurrence": "full"}),
              CONV_VALID_PADDING.with_make(lambda p: {"recurrence": "valid_rot180"})),
)

Q2 = Question(
    id="A7.q2",
    title=msg("池化层的反向传播：最大池化、平均池化、重叠窗口",
              "Backward through pooling: max, average, overlapping windows"),
    parts=(Part("max_pool", kind="fn", fn=MAXPOOL), Part("avg_pool", kind="fn", fn=AVGPOOL),
           Part("overlap", kind="fn", fn=OVERLAP)),
    build=None,
)

Q3 = Question(
    id="A7.q3",
    title=msg("用 SymPy 验证：4×4 输入、2×2 卷积核时递推式等于对标量 L 求导",
              "SymPy check: for a 4×4 input and a 2×2 kernel the recurrence equals "
              "differentiating the scalar L"),
    parts=(_sym_part("dL_da11"), _sym_part("dL_da00"), _sym_part("dL_dw01")),
    build=lambda p, up=None: symbolic_case(),
    mistakes=(CONV_NO_ROTATION.with_make(lambda p: symbolic_case(rule="full")),
              CONV_VALID_PADDING.with_make(lambda p: symbolic_case(rule="valid_rot180"))),
)

QUESTIONS = (Q1, Q2, Q3)

"""A7 — backpropagation through convolution and pooling (seed 001 作业 4–5, seed 003).

Scalar definition (valid cross-correlation, indices from 0):

    z^{(l+1)}_{ij} = Σ_{u=0}^{K−1} Σ_{v=0}^{K−1} w_{uv} a^{(l)}_{i+u, j+v}

With ``δ^{(l+1)}_{ij} = ∂L/∂z^{(l+1)}_{ij}`` the chain rule gives

    ∂L/∂a^{(l)}_{pq} = Σ_{u,v} w_{uv} δ^{(l+1)}_{p−u, q−v}   (outside the map: 0)
                     = (full convolution of δ^{(l+1)} with w)_{pq}
                     = valid cross-correlation of zero-padded δ^{(l+1)} with rot180(w),
    δ^{(l)} = f'(z^{(l)}) ⊙ ∂L/∂a^{(l)},      ∂L/∂w_{uv} = Σ_{ij} δ^{(l+1)}_{ij} a^{(l)}_{i+u, j+v}.

Pooling over K×K windows with stride s: max pooling sends each window's
gradient to its maximum (ties: the first in row-major order, as ``nn_core``),
average pooling spreads it as δ/K²; overlapping windows (s < K) add up.
Sizes are parameters: ``derive("conv_backward", H=5, K=3)``.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from .base import Derivation, Step
from .functions import step


def _grid(base: str, rows: int, cols: int) -> sp.Matrix:
    """Symbols ``base_{ij}`` indexed from 0, as in the convolution formulas."""
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{base}_{{{i}{j}}}"))


def xcorr(a: sp.Matrix, w: sp.Matrix, s: int = 1) -> sp.Matrix:
    """Valid cross-correlation ``Σ_{u,v} w_{uv} a_{i·s+u, j·s+v}``."""
    K = w.shape[0]
    OH, OW = (a.shape[0] - K) // s + 1, (a.shape[1] - K) // s + 1
    return sp.Matrix(OH, OW, lambda i, j: sum(w[u, v] * a[i * s + u, j * s + v]
                                              for u in range(K) for v in range(K)))


def rot180(w: sp.Matrix) -> sp.Matrix:
    K = w.shape[0]
    return sp.Matrix(K, K, lambda u, v: w[K - 1 - u, K - 1 - v])


def pad(d: sp.Matrix, p: int) -> sp.Matrix:
    return sp.Matrix(d.shape[0] + 2 * p, d.shape[1] + 2 * p,
                     lambda i, j: d[i - p, j - p] if p <= i < d.shape[0] + p
                     and p <= j < d.shape[1] + p else 0)


def _chain(delta: sp.Matrix, out: sp.Matrix, wrt: sp.Matrix) -> sp.Matrix:
    """``∂L/∂wrt_{pq} = Σ_{ij} δ_{ij} ∂out_{ij}/∂wrt_{pq}`` by differentiation."""
    return wrt.applyfunc(lambda x: sum(delta[k] * sp.diff(out[k], x) for k in range(len(out))))


@lru_cache(maxsize=None)
def conv_backward(H: int = 4, K: int = 2) -> Derivation:
    """From the scalar definition on an H×H map and a K×K kernel (symbolic
    weights): ``∂L/∂a^{(l)}`` is the full convolution of ``δ^{(l+1)}`` with the
    kernel, i.e. the valid cross-correlation of the zero-padded ``δ^{(l+1)}``
    with ``rot180(w)``; and ``∂L/∂w = a ⋆ δ``."""
    _fits(H, K)
    O = H - K + 1
    a, w, d, fp = _grid("a", H, H), _grid("w", K, K), _grid(r"\delta", O, O), _grid("f'", H, H)
    z = xcorr(a, w)
    dA = _chain(d, z, a)

    def full_entry(p, q):  # Σ_{u,v} w_{uv} δ_{p−u, q−v}, zero outside the map
        return sum(w[u, v] * d[p - u, q - v] for u in range(K) for v in range(K)
                   if 0 <= p - u < O and 0 <= q - v < O)

    full = sp.Matrix(H, H, full_entry)
    via_rot = xcorr(pad(d, K - 1), rot180(w))
    delta_prev = fp.multiply_elementwise(via_rot)
    dW = _chain(d, z, w)
    steps = [
        Step(z, f"标量定义：z_ij = Σ_u Σ_v w_uv a_(i+u, j+v)（{H}×{H} 输入，{K}×{K} 卷积核）。",
             f"Scalar definition: z_ij = Σ_u Σ_v w_uv a_(i+u, j+v) ({H}×{H} input, {K}×{K} kernel).",
             lhs="z^{(l+1)}"),
        Step(dA, "链式法则：∂L/∂a_pq = Σ_ij δ_ij ∂z_ij/∂a_pq，逐项求导。",
             "Chain rule: ∂L/∂a_pq = Σ_ij δ_ij ∂z_ij/∂a_pq, differentiated term by term.",
             lhs=r"\frac{\partial L}{\partial a^{(l)}}"),
        Step(full, "即 Σ_uv w_uv δ_(p−u, q−v)（图外的项为 0）：δ 与卷积核的全卷积。",
             "That is Σ_uv w_uv δ_(p−u, q−v) (terms outside the map are 0): the full "
             "convolution of δ with the kernel.", True, lhs=r"\frac{\partial L}{\partial a^{(l)}}"),
        Step(rot180(w), "卷积核旋转 180°。", "The kernel rotated by 180°.",
             lhs=r"\operatorname{rot180}(w)"),
        Step(via_rot, f"等价地：δ 四周补 {K - 1} 圈零，再与 rot180(w) 做有效互相关。",
             f"Equivalently: pad δ with {K - 1} rings of zeros and cross-correlate (valid) with "
             "rot180(w).", lhs=r"\frac{\partial L}{\partial a^{(l)}}"),
        Step(full, "与上面的全卷积相同。", "The same as the full convolution above.", True,
             lhs=r"\frac{\partial L}{\partial a^{(l)}}"),
        Step(delta_prev, "δ^{(l)} = f'(z^{(l)}) ⊙ ∂L/∂a^{(l)}。", "δ^{(l)} = f'(z^{(l)}) ⊙ ∂L/∂a^{(l)}.",
             lhs=r"\delta^{(l)}"),
        Step(dW, "权重梯度：∂L/∂w_uv = Σ_ij δ_ij ∂z_ij/∂w_uv。",
             "Weight gradient: ∂L/∂w_uv = Σ_ij δ_ij ∂z_ij/∂w_uv.",
             lhs=r"\frac{\partial L}{\partial w}"),
        Step(xcorr(a, d), "即 Σ_ij δ_ij a_(i+u, j+v)：a 与 δ 的有效互相关。",
             "That is Σ_ij δ_ij a_(i+u, j+v): the valid cross-correlation of a with δ.", True,
             lhs=r"\frac{\partial L}{\partial w}"),
    ]
    return Derivation(
        "conv_backward",
        {"zh": f"在 {H}×{H} 输入、{K}×{K} 符号卷积核上，从标量定义推导 ∂L/∂z^{{(l)}}，并证明它等于 δ^{{(l+1)}} "
               "与旋转 180° 的卷积核的全卷积；推导权重梯度。",
         "en": f"On a {H}×{H} input with a symbolic {K}×{K} kernel, derive ∂L/∂z^{{(l)}} from the "
               "scalar definition, show it is the full convolution of δ^{(l+1)} with the 180°-rotated "
               "kernel, and derive the weight gradient."},
        steps,
        {"z": z, "dA": full, "delta_prev": delta_prev, "dW": xcorr(a, d),
         "db": sp.Matrix([sum(d)])},
        {"a": a, "w": w, "delta": d, "fprime": fp},
        args={"z": ("a", "w"), "dA": ("delta", "w"), "delta_prev": ("delta", "w", "fprime"),
              "dW": ("a", "delta"), "db": ("delta",)})


def _fits(H: int, K: int) -> None:
    """A K×K kernel or window must fit in the H×H input."""
    if K > H:
        raise ValueError(f"a {K}×{K} kernel or window does not fit in a {H}×{H} input (K ≤ H)")


def _windows(H: int, K: int, s: int):
    _fits(H, K)
    O = (H - K) // s + 1
    return O, [[[(i * s + u, j * s + v) for u in range(K) for v in range(K)]
                for j in range(O)] for i in range(O)]


@lru_cache(maxsize=None)
def max_pool(H: int = 4, K: int = 2, stride: int = 2) -> Derivation:
    """``p_ij = max`` over window (i, j); ``∂p_ij/∂a_pq = 1`` if ``a_pq`` is the window's
    maximum, else 0, so ``∂L/∂a_pq = Σ_{windows ∋ pq} δ_ij [a_pq is their max]``."""
    a = _grid("a", H, H)
    O, win = _windows(H, K, stride)
    d = _grid(r"\delta", O, O)
    pooled = sp.Matrix(O, O, lambda i, j: sp.Max(*[a[c] for c in win[i][j]]))
    dA = _chain(d, pooled, a).applyfunc(lambda e: e.replace(sp.Heaviside, lambda x, *h: step(x)))

    def route(p, q):  # θ(x) = [x > 0]: a_pq beats the earlier cells, ties the later ones
        total = 0
        for i in range(O):
            for j in range(O):
                cells = win[i][j]
                if (p, q) in cells:
                    k = cells.index((p, q))
                    first = sp.Mul(*[step(a[p, q] - a[c]) for c in cells[:k]],
                                   *[1 - step(a[c] - a[p, q]) for c in cells[k + 1:]])
                    total += d[i, j] * first
        return total

    routed = sp.Matrix(H, H, route)
    lhs = r"\frac{\partial L}{\partial a}"
    steps = [
        Step(pooled, f"最大池化：{K}×{K} 窗口，步长 {stride}。",
             f"Max pooling: {K}×{K} windows, stride {stride}.", lhs="p"),
        Step(dA, "链式法则：∂L/∂a_pq = Σ_ij δ_ij ∂p_ij/∂a_pq；∂max/∂a_pq 是阶跃函数 θ(a_pq − 其余最大值)。",
             "Chain rule: ∂L/∂a_pq = Σ_ij δ_ij ∂p_ij/∂a_pq, and ∂max/∂a_pq is the step "
             "θ(a_pq − max of the others).", lhs=lhs),
        Step(routed, "即每个窗口的梯度全部交给其最大值（并列时交给行优先的第一个），其余为 0；"
                     "重叠窗口的梯度相加。",
             "So each window's gradient goes entirely to its maximum (on a tie, to the first in "
             "row-major order), the others get 0; overlapping windows add up.", True, lhs=lhs),
    ]
    return Derivation(
        "max_pool",
        {"zh": "最大池化层的误差如何反向传播？", "en": "How does the error propagate back through max pooling?"},
        steps, {"pooled": pooled, "dA": routed}, {"a": a, "delta": d},
        args={"pooled": ("a",)})


@lru_cache(maxsize=None)
def avg_pool(H: int = 4, K: int = 2, stride: int = 2) -> Derivation:
    """``p_ij = (1/K²) Σ`` over window (i, j) ⇒ ``∂L/∂a_pq = Σ_{windows ∋ pq} δ_ij / K²``."""
    a = _grid("a", H, H)
    O, win = _windows(H, K, stride)
    d = _grid(r"\delta", O, O)
    pooled = sp.Matrix(O, O, lambda i, j: sum(a[c] for c in win[i][j]) / K**2)
    spread = sp.Matrix(H, H, lambda p, q: sum(d[i, j] / K**2 for i in range(O) for j in range(O)
                                              if (p, q) in win[i][j]))
    lhs = r"\frac{\partial L}{\partial a}"
    steps = [
        Step(pooled, f"平均池化：{K}×{K} 窗口，步长 {stride}。",
             f"Average pooling: {K}×{K} windows, stride {stride}.", lhs="p"),
        Step(_chain(d, pooled, a), "链式法则：∂p_ij/∂a_pq = 1/K²（a_pq 在窗口内）。",
             "Chain rule: ∂p_ij/∂a_pq = 1/K² for a_pq in the window.", lhs=lhs),
        Step(spread, "每个窗口的梯度平均分给 K² 个输入（÷K²），重叠时相加。",
             "Each window's gradient is shared evenly by its K² inputs (÷K²); overlaps add up.",
             True, lhs=lhs),
    ]
    return Derivation(
        "avg_pool",
        {"zh": "平均池化层的误差如何反向传播？", "en": "How does the error propagate back through average pooling?"},
        steps, {"pooled": pooled, "dA": spread}, {"a": a, "delta": d},
        args={"pooled": ("a",), "dA": ("delta",)})


DERIVATIONS = {"conv_backward": conv_backward, "max_pool": max_pool, "avg_pool": avg_pool}

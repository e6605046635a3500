"""A6 — what backpropagation costs, as formulas (seed 001 作业 3).

Counting convention: :mod:`nn_core.opcount` (a product is one multiplication,
a sum of m numbers m − 1 additions; matrix products, bias additions, the
Hadamard product of the error term and the batch sums of the weight and bias
gradients are counted; f, f', the loss, ∂L/∂ŷ, the 1/B of a batch mean and the
parameter update are not; the first layer computes no ``W^{(1)ᵀ} δ^{(1)}``).

One layer ``m_in → m_out`` on a batch of B (``opcount_dense``):
forward ``B·m_out·m_in`` mults, ``B·m_out·(m_in − 1) + B·m_out`` adds;
backward ``B·m_out`` (⊙) ``+ B·m_out·m_in`` (δ aᵀ) ``+ B·m_in·m_out`` (Wᵀδ) mults,
``(B−1)·m_out·m_in + (B−1)·m_out + B·m_in·(m_out − 1)`` adds.

L layers of n → n (``opcount_network``), summed over l = 1 … L:
forward ``B L n²`` mults and ``B L n²`` adds;
backward ``B((2L − 1)n² + L n)`` mults (leading ``2 B L n²``, twice the forward)
and ``L(B−1)(n² + n) + (L−1) B n(n−1)`` adds.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from .base import Derivation, Step

KEYS = ("forward_mults", "forward_adds", "backward_mults", "backward_adds", "activations")
_TEX = {"forward_mults": r"\text{mults}_{\text{fwd}}", "forward_adds": r"\text{adds}_{\text{fwd}}",
        "backward_mults": r"\text{mults}_{\text{bwd}}", "backward_adds": r"\text{adds}_{\text{bwd}}",
        "activations": r"\text{activations}"}


def _dense(m_in, m_out, B, need_dx):
    """Per-layer counts; ``need_dx`` is 1 or 0 (or a symbolic indicator)."""
    return {
        "forward_mults": B * m_out * m_in,
        "forward_adds": B * m_out * (m_in - 1) + B * m_out,
        "backward_mults": B * m_out + B * m_out * m_in + need_dx * B * m_in * m_out,
        "backward_adds": (B - 1) * m_out * m_in + (B - 1) * m_out + need_dx * B * m_in * (m_out - 1),
        "activations": 2 * B * m_out,
    }


@lru_cache(maxsize=None)
def opcount_dense() -> Derivation:
    """Counts of one dense layer ``m_in → m_out`` (with its activation) on a batch of B."""
    m_in, m_out, B = sp.symbols("m_in m_out B", integer=True, positive=True)
    c = _dense(m_in, m_out, B, 1)
    c0 = _dense(m_in, m_out, B, 0)
    caps = {
        "forward_mults": ("前向 W a：每个输出 m_in 次乘法，共 B·m_out·m_in。",
                          "Forward W a: m_in mults per output, B·m_out·m_in in all."),
        "forward_adds": ("前向：每个输出 m_in − 1 次加法求和，再加偏置 1 次。",
                         "Forward: m_in − 1 adds per output sum, plus 1 for the bias."),
        "backward_mults": ("反向：f'(z) ⊙ (·) B·m_out，δ aᵀ B·m_out·m_in，Wᵀδ B·m_in·m_out。",
                           "Backward: f'(z) ⊙ (·) B·m_out, δ aᵀ B·m_out·m_in, Wᵀδ B·m_in·m_out."),
        "backward_adds": ("反向：dW、db 对批量求和 (B−1)·…，Wᵀδ 每个分量 m_out − 1 次加法。",
                          "Backward: the batch sums of dW, db, (B−1)·…, and m_out − 1 adds per "
                          "component of Wᵀδ."),
        "activations": ("f 与 f' 各 B·m_out 次（单独报告，不计入乘加）。",
                        "f and f' B·m_out times each (reported separately, not counted)."),
    }
    steps = []
    for k in KEYS:
        steps.append(Step(c[k], *caps[k], lhs=_TEX[k]))
        if k in ("forward_adds", "backward_mults"):
            steps.append(Step(sp.factor(c[k]), "合并。", "Collect.", True, lhs=_TEX[k]))
    results = dict(c)
    results.update({f"{k}_first_layer": c0[k] for k in ("backward_mults", "backward_adds")})
    return Derivation(
        "opcount_dense",
        {"zh": "一个全连接层（m_in → m_out，批量 B）前向与反向各需多少次乘法与加法？",
         "en": "How many multiplications and additions does one dense layer (m_in → m_out, "
               "batch B) cost forward and backward?"},
        steps, results, {"m_in": m_in, "m_out": m_out, "B": B})


def _leading(expr, n, L):
    """The terms of highest total degree in (n, L) — the leading term for large n and L."""
    poly = sp.Poly(sp.expand(expr), n, L)
    top = max(sum(m) for m in poly.monoms())
    return sp.Add(*[c * n**m[0] * L**m[1] for m, c in poly.terms() if sum(m) == top])


@lru_cache(maxsize=None)
def opcount_network() -> Derivation:
    """L layers of n → n on a batch of B: sums of the per-layer counts over l = 1 … L
    (no ``Wᵀδ`` in layer 1), their leading terms, and backward ≈ 2 × forward."""
    n, L, B = sp.symbols("n L B", integer=True, positive=True)
    l = sp.Symbol("l", integer=True, positive=True)
    need = sp.Piecewise((0, sp.Eq(l, 1)), (1, True))  # layer 1 skips W^{(1)ᵀ} δ^{(1)}
    per = _dense(n, n, B, need)
    totals = {}
    steps = []
    for k in KEYS:
        # Σ_{l=1}^{L} (terms every layer has) + Σ_{l=2}^{L} (the Wᵀδ terms)
        always, dx = _dense(n, n, B, 0)[k], _dense(n, n, B, 1)[k] - _dense(n, n, B, 0)[k]
        summed = sp.summation(always, (l, 1, L)) + sp.summation(dx, (l, 2, L))
        totals[k] = sp.factor(sp.expand(summed))
        steps += [
            Step(sp.Sum(per[k], (l, 1, L)), f"{k}：对 L 层求和（第 1 层不计算 Wᵀδ）。",
                 f"{k}: sum over the L layers (layer 1 computes no Wᵀδ).", lhs=_TEX[k]),
            Step(totals[k], "求和化简。", "Evaluate the sum.", True, lhs=_TEX[k]),
        ]
    lead = {k: _leading(totals[k], n, L) for k in KEYS}
    ratio = sp.limit(sp.limit(totals["backward_mults"] / totals["forward_mults"], n, sp.oo),
                     L, sp.oo)
    steps += [
        Step(lead["forward_mults"], "前向乘法的首项：≈ L n²（每个样本）。",
             "Leading term of the forward multiplications: ≈ L n² (per sample).",
             lhs=r"\operatorname{LT}(\text{mults}_{\text{fwd}})"),
        Step(lead["backward_mults"], "反向乘法的首项：≈ 2 L n²（δ 的 Wᵀδ 与 δ aᵀ 各约 n²）。",
             "Leading term of the backward multiplications: ≈ 2 L n² (Wᵀδ and δ aᵀ, about n² each).",
             lhs=r"\operatorname{LT}(\text{mults}_{\text{bwd}})"),
        Step(ratio, "n、L 很大时反向约为前向的 2 倍；批量 B 时所有计数 ×B（乘法）。",
             "For large n and L the backward pass costs about twice the forward; with a batch of "
             "B every multiplication count scales by B.",
             lhs=r"\lim \frac{\text{mults}_{\text{bwd}}}{\text{mults}_{\text{fwd}}}"),
    ]
    results = dict(totals)
    results.update({f"leading_{k}": v for k, v in lead.items()})
    results["backward_forward_ratio"] = ratio
    return Derivation(
        "opcount_network",
        {"zh": "L 层、每层 n 个输入 n 个神经元（sigmoid，平方误差），批量 B：前向与反向的乘法、加法次数及首项。",
         "en": "L layers, each with n inputs and n neurons (sigmoid, squared error), batch B: the "
               "forward and backward multiplications and additions, and their leading terms."},
        steps, results, {"n": n, "L": L, "B": B},
        args={"backward_forward_ratio": ()},
        index_values=[{n: 3, L: 2, B: 1}, {n: 4, L: 3, B: 5}, {n: 1, L: 1, B: 2}])


DERIVATIONS = {"opcount_dense": opcount_dense, "opcount_network": opcount_network}

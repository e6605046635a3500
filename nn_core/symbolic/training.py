"""A8 — training a network well (seeds 000, 001, 003).

* ``weight_decay``: ``L̃ = L + (λ/2)‖W‖²`` ⇒ ``∇L̃ = ∇L + λW`` and the SGD step
  ``W ← W − η∇L̃ = (1 − ηλ)W − η∇L``; a bias is not decayed: ``b ← b − η∇L``.
* ``dropout``: keep probability p, mask ``u ~ Bernoulli(p)``:
  ``E[a u] = p a`` = the test-time output ``p a`` (seed 001's scaling);
  inverted dropout ``E[a u / p] = a`` = the unscaled test output.
* ``zero_init_symmetry``: in the 2-2-1 net of A3, if the two hidden units have
  equal incoming weights and biases and equal outgoing weights (e.g. all zero),
  their gradients are equal, so every update keeps them equal.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from .backprop import _Dense
from .base import Derivation, Step
from .functions import sigma

DW2 = r"\frac{\partial L}{\partial w^{(2)}_{11}} - \frac{\partial L}{\partial w^{(2)}_{12}}"


@lru_cache(maxsize=None)
def weight_decay() -> Derivation:
    """``θ' = θ − η(∂L/∂θ + λθ) = (1 − ηλ)θ − η ∂L/∂θ`` for weights; ``b' = b − η ∂L/∂b``."""
    theta, g, eta, lam, L0 = sp.symbols(r"theta g eta lambda L_0")
    Lreg = L0 + g * theta + lam / 2 * theta**2   # L locally: ∂L/∂θ = g
    grad = sp.diff(Lreg, theta)
    update = theta - eta * grad
    steps = [
        Step(sp.Symbol("L") + lam / 2 * sp.Symbol(r"\|W\|^2"), "L2 正则化的目标函数。",
             "The L2-regularized objective.", lhs=r"\tilde{L}"),
        Step(grad, "对一个权重 θ 求导（记 g = ∂L/∂θ）：多出 λθ。",
             "Differentiate with respect to one weight θ (g = ∂L/∂θ): an extra λθ.",
             lhs=r"\frac{\partial \tilde{L}}{\partial \theta}"),
        Step(update, "梯度下降一步。", "One gradient-descent step.", lhs=r"\theta'"),
        Step((1 - eta * lam) * theta - eta * g, "整理：先把 θ 缩小 (1 − ηλ) 倍，再减去 ηg（权重衰减）。",
             "Collect: shrink θ by (1 − ηλ), then subtract ηg (weight decay).", True, lhs=r"\theta'"),
        Step(theta - eta * g, "偏置不衰减。", "A bias is not decayed.", lhs=r"b'"),
    ]
    return Derivation(
        "weight_decay",
        {"zh": "推导 L2 权重衰减的更新 θ ← (1 − ηλ)θ − η∇L（偏置不衰减）。",
         "en": "Derive the L2 weight-decay update θ ← (1 − ηλ)θ − η∇L (biases are not decayed)."},
        steps, {"update": (1 - eta * lam) * theta - eta * g, "bias_update": theta - eta * g,
                "regularized_grad": g + lam * theta},
        {"theta": theta, "g": g, "eta": eta, "lam": lam},
        args={"bias_update": ("theta", "g", "eta"), "regularized_grad": ("theta", "g", "lam")})


@lru_cache(maxsize=None)
def dropout() -> Derivation:
    """``E[a u] = Σ_{u∈{0,1}} P(u) a u = p a``; test time ``p a``; inverted ``E[a u/p] = a``."""
    a, p, u = sp.symbols("a p u")
    prob = {0: 1 - p, 1: p}
    expect = lambda e: sum(prob[k] * e.subs(u, k) for k in (0, 1))  # noqa: E731
    steps = [
        Step(sp.Sum(sp.Symbol("P(u)") * a * u, (u, 0, 1)), "训练时 a' = a·u，u ~ Bernoulli(p)（p 为保留概率）。",
             "Training: a' = a·u with u ~ Bernoulli(p) (p is the keep probability).",
             lhs=r"\mathbb{E}[a u]"),
        Step(expect(a * u), "(1 − p)·a·0 + p·a·1。", "(1 − p)·a·0 + p·a·1.", lhs=r"\mathbb{E}[a u]"),
        Step(p * a, "测试时不丢弃，把输出乘以 p：与训练时的期望相同。",
             "At test time nothing is dropped and the output is scaled by p: the same as the "
             "training expectation.", True, lhs=r"a_{\text{test}}"),
        Step(expect(a * u / p), "反向（inverted）dropout：训练时除以 p。",
             "Inverted dropout: divide by p during training.", lhs=r"\mathbb{E}[a u / p]"),
        Step(a, "于是测试时不需缩放。", "So test time needs no scaling.", True,
             lhs=r"a_{\text{test}}"),
    ]
    return Derivation(
        "dropout",
        {"zh": "证明 dropout 训练时的期望输出等于测试时按 p 缩放的输出（以及 inverted 形式）。",
         "en": "Show that dropout's expected training output equals the test output scaled by p "
               "(and the inverted form)."},
        steps,
        {"train_expectation": expect(a * u), "test_output": p * a,
         "inverted_train_expectation": expect(a * u / p), "inverted_test_output": a},
        {"a": a, "p": p}, args={"inverted_test_output": ("a",)})


@lru_cache(maxsize=None)
def zero_init_symmetry() -> Derivation:
    """A3's 2-2-1 net with symmetric hidden units ``W1 = [[c1, c2], [c1, c2]]``,
    ``b1 = (r, r)``, ``W2 = [s, s]``: the two rows of ∂L/∂W1 (and of ∂L/∂b1,
    and the two entries of ∂L/∂W2) are equal, so gradient descent keeps them
    equal forever; zero initialization is the special case c = r = s = 0."""
    net = _Dense((2, 2, 1), [sigma, None], ["x", "h", "y"], target="t")
    c1, c2, r, s, q = sp.symbols("c_1 c_2 r s q")
    W1, b1, W2, b2 = net.W[0], net.b[0], net.W[1], net.b[1]
    sym = {W1[0, 0]: c1, W1[1, 0]: c1, W1[0, 1]: c2, W1[1, 1]: c2, b1[0]: r, b1[1]: r,
           W2[0, 0]: s, W2[0, 1]: s, b2[0]: q}
    g = {k: net.full(e).xreplace(sym) for k, e in
         (("dW1", net.dW[0]), ("db1", net.db[0]), ("dW2", net.dW[1]), ("db2", net.db[1]))}
    zero = {c1: 0, c2: 0, r: 0, s: 0, q: 0}
    steps = [
        Step(sp.Matrix([[c1, c2], [c1, c2]]), "对称的初始化：两个隐藏单元的输入权重与偏置相同 …",
             "A symmetric start: both hidden units have the same incoming weights and bias …",
             lhs="W^{(1)}"),
        Step(sp.Matrix([[s, s]]), "… 输出权重也相同（全零初始化是 c = r = s = 0 的特例）。",
             "… and the same outgoing weight (zero initialization is c = r = s = 0).", lhs="W^{(2)}"),
        Step(g["dW1"], "反向传播得到的 ∂L/∂W^{(1)}。", "∂L/∂W^{(1)} by backpropagation.",
             lhs=r"\frac{\partial L}{\partial W^{(1)}}"),
        Step(g["dW1"][0, :] - g["dW1"][1, :], "两行之差 …", "The difference of its two rows …",
             lhs=r"\text{row}_1 - \text{row}_2"),
        Step(sp.zeros(1, 2), "… 恒为 0：两个单元得到相同的梯度。",
             "… is identically 0: both units receive the same gradient.", True,
             lhs=r"\text{row}_1 - \text{row}_2"),
        Step(sp.Matrix([g["dW2"][0, 0] - g["dW2"][0, 1]]), "输出权重的两个梯度之差 …",
             "The difference of the two outgoing-weight gradients …",
             lhs=DW2),
        Step(sp.zeros(1, 1), "… 也为 0。于是更新后仍然对称（归纳：k 次更新后亦然）。",
             "… is 0 as well. So the update keeps the symmetry (by induction, after k updates too).",
             True, lhs=DW2),
        Step(g["dW1"].xreplace(zero), "全零初始化时 ∂L/∂W^{(1)} = 0（因为 W^{(2)} = 0）：隐藏层根本不学习。",
             "With all-zero initialization ∂L/∂W^{(1)} = 0 (because W^{(2)} = 0): the hidden layer "
             "does not learn at first.", lhs=r"\left.\frac{\partial L}{\partial W^{(1)}}\right|_0"),
    ]
    return Derivation(
        "zero_init_symmetry",
        {"zh": "说明对称（例如全零）初始化时，两个隐藏单元永远得到相同的梯度。",
         "en": "Show that with a symmetric (e.g. all-zero) initialization the two hidden units "
               "always receive equal gradients."},
        steps, g, {"x": net.x, "c1": c1, "c2": c2, "r": r, "s": s, "q": q, "t": net.t})


DERIVATIONS = {"weight_decay": weight_decay, "dropout": dropout,
               "zero_init_symmetry": zero_init_symmetry}

"""A2.1–2, A2.6 — derivatives of the activation functions (seeds 000, 001, 002).

Definitions as in seed 002 (the branch ``x ≤ 0`` takes the γ form):

* ``σ(x) = 1/(1+e^{−x})``: ``σ' = σ(1−σ)``, ``σ'' = σ(1−σ)(1−2σ)``; ``max σ' = σ'(0) = 1/4``.
* ``tanh' = 1 − tanh²``.
* ``ReLU(x) = max(0, x)``: ``ReLU' = 1`` for ``x > 0``, ``0`` for ``x < 0``; at the kink
  the convention is ``ReLU'(0) = 0``.
* ``LeakyReLU(x) = x`` (x > 0), ``γx`` (x ≤ 0): derivative ``1`` / ``γ``.
* ``ELU(x) = x`` (x > 0), ``γ(eˣ − 1)`` (x ≤ 0): derivative ``1`` / ``γeˣ = ELU(x) + γ``.
* ``softplus(x) = log(1 + eˣ)``: derivative ``σ(x)``.
* ``PReLU_i(x) = x`` (x > 0), ``γ_i x`` (x ≤ 0): ``∂/∂γ_i = min(0, x)``.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from .base import Derivation, Step
from .functions import sigma, step

x = sp.Symbol("x", real=True)
gamma = sp.Symbol("gamma", positive=True)
DX = r"\frac{d}{dx}"


@lru_cache(maxsize=None)
def sigmoid() -> Derivation:
    """``σ'(x) = e^{−x}/(1+e^{−x})² = σ(1−σ)``; ``σ''(x) = σ(1−σ)(1−2σ)``;
    ``σ'' = 0 ⇔ σ = ½ ⇔ x = 0``, so ``max σ' = 1/4`` and L sigmoid layers scale a
    gradient by at most ``4^{−L}``."""
    s, L = sp.Symbol("s"), sp.Symbol("L", integer=True, positive=True)
    f = 1 / (1 + sp.exp(-x))
    d1, d2 = sp.diff(f, x), sp.diff(f, x, 2)
    g1, g2 = sigma(x) * (1 - sigma(x)), sigma(x) * (1 - sigma(x)) * (1 - 2 * sigma(x))
    s_star = sp.solve(sp.diff(s * (1 - s), s), s)[0]  # σ' = s(1−s) is largest at s = ½
    x_star = sp.log(s_star / (1 - s_star))             # x = σ^{−1}(s) = log(s/(1−s)) = 0
    max_grad = (s * (1 - s)).subs(s, s_star)
    steps = [
        Step(f, "定义。", "Definition.", lhs=r"\sigma(x)"),
        Step(d1, "商的求导法则。", "Quotient rule.", lhs=r"\sigma'(x)"),
        Step(g1, "因为 1 − σ(x) = e^{−x}/(1 + e^{−x})。",
             "Because 1 − σ(x) = e^{−x}/(1 + e^{−x}).", True, lhs=r"\sigma'(x)"),
        Step(s * (1 - s), "记 s = σ(x)：只用前向输出即可求导。",
             "With s = σ(x): the forward output alone gives the derivative.", True,
             lhs=r"\sigma'(x)"),
        Step(d2, "再求一次导。", "Differentiate once more.", lhs=r"\sigma''(x)"),
        Step(g2, "链式法则：(s(1 − s))' = s'(1 − 2s)。", "Chain rule: (s(1 − s))' = s'(1 − 2s).",
             True, lhs=r"\sigma''(x)"),
        Step(s * (1 - s) * (1 - 2 * s), "用 s = σ(x) 表示。", "In terms of s = σ(x).", True,
             lhs=r"\sigma''(x)"),
        Step(sp.Eq(s, s_star), "σ'' = 0 的内部解：1 − 2s = 0，即 σ(x) = ½，x = 0。",
             "The interior zero of σ'': 1 − 2s = 0, i.e. σ(x) = ½ at x = 0."),
        Step(sp.Eq(x, x_star), "对应的 x = σ^{−1}(½) = log(½/(1 − ½)) = 0。",
             "The corresponding x = σ^{−1}(½) = log(½/(1 − ½)) = 0."),
        Step(d1.subs(x, x_star), "σ' 在 x = 0 处取最大值。", "σ' is largest at x = 0.",
             lhs=r"\max_x \sigma'(x) = \sigma'(0)"),
        Step(max_grad, "= ½ · ½ = 1/4。", "= ½ · ½ = 1/4.", True,
             lhs=r"\max_x \sigma'(x)"),
        Step(max_grad**L, "L 层 sigmoid 的链式乘积至多缩放梯度 4^{−L}（梯度消失）。",
             "A chain of L sigmoid layers scales a gradient by at most 4^{−L} (vanishing gradients).",
             lhs=r"\prod_{l=1}^{L} \sigma'(z^{(l)}) \le"),
    ]
    return Derivation(
        "sigmoid",
        {"zh": "求 σ(x) = 1/(1 + e^{−x}) 的一阶、二阶导数（用 x 与用 σ 表示），以及 σ' 的最大值。",
         "en": "The first and second derivatives of σ(x) = 1/(1 + e^{−x}) (in x and in σ), "
               "and the largest value of σ'."},
        steps,
        {"sigmoid": sigma(x), "sigmoid_grad": g1, "sigmoid_grad_exp": d1,
         "sigmoid_grad2": g2, "sigmoid_grad2_exp": d2,
         "grad_in_s": s * (1 - s), "grad2_in_s": s * (1 - s) * (1 - 2 * s),
         "argmax_grad": x_star, "max_grad": max_grad, "chain_bound": max_grad**L},
        {"x": x, "s": s, "L": L},
        args={"grad_in_s": ("s",), "grad2_in_s": ("s",), "chain_bound": ("L",),
              "argmax_grad": (), "max_grad": (), **{k: ("x",) for k in (
                  "sigmoid", "sigmoid_grad", "sigmoid_grad_exp", "sigmoid_grad2",
                  "sigmoid_grad2_exp")}},
        definitions={s: sigma(x)})


@lru_cache(maxsize=None)
def tanh() -> Derivation:
    """``tanh'(x) = 4/(eˣ + e^{−x})² = 1 − tanh²(x)``."""
    a = sp.Symbol("a")
    f = (sp.exp(x) - sp.exp(-x)) / (sp.exp(x) + sp.exp(-x))
    steps = [
        Step(f, "定义。", "Definition.", lhs=r"\tanh(x)"),
        Step(sp.diff(f, x), "商的求导法则。", "Quotient rule.", lhs=r"\tanh'(x)"),
        Step(4 / (sp.exp(x) + sp.exp(-x))**2, "通分化简。", "Simplify.", True, lhs=r"\tanh'(x)"),
        Step(1 - sp.tanh(x)**2, "(eˣ + e^{−x})² − (eˣ − e^{−x})² = 4。",
             "(eˣ + e^{−x})² − (eˣ − e^{−x})² = 4.", True, lhs=r"\tanh'(x)"),
        Step(1 - a**2, "用输出 a = tanh(x) 表示。", "In terms of the output a = tanh(x).", True,
             lhs=r"\tanh'(x)"),
    ]
    return Derivation(
        "tanh", {"zh": "求 tanh 的导数。", "en": "The derivative of tanh."}, steps,
        {"tanh": sp.tanh(x), "tanh_grad": 1 - sp.tanh(x)**2, "grad_in_a": 1 - a**2},
        {"x": x, "a": a}, args={"grad_in_a": ("a",), "tanh": ("x",), "tanh_grad": ("x",)},
        definitions={a: sp.tanh(x)})


def _piecewise(pos, neg):
    return sp.Piecewise((pos, x > 0), (neg, True))


@lru_cache(maxsize=None)
def relu() -> Derivation:
    """``ReLU'(x) = 1`` (x > 0), ``0`` (x < 0); not differentiable at 0, where the
    convention (and ``nn_core``) uses ``ReLU'(0) = 0``."""
    f = _piecewise(x, 0)
    d = sp.diff(f, x)
    steps = [
        Step(f, "定义：ReLU(x) = max(0, x)。", "Definition: ReLU(x) = max(0, x).",
             lhs=r"\operatorname{ReLU}(x)"),
        Step(d, "分段求导；x = 0 处左右导数为 0 与 1，不可导，约定取 0。",
             "Differentiate each piece; at x = 0 the one-sided derivatives are 0 and 1, so it "
             "is not differentiable there and the convention takes 0.",
             lhs=r"\operatorname{ReLU}'(x)"),
        Step(step(x), "即单位阶跃 θ(x)（θ(0) = 0）。", "That is the unit step θ(x) (θ(0) = 0).", True,
             lhs=r"\operatorname{ReLU}'(x)"),
        Step(d.subs(x, 0), "约定值。", "The conventional value.", lhs=r"\operatorname{ReLU}'(0)"),
    ]
    return Derivation(
        "relu", {"zh": "求 ReLU 的导数（说明 x = 0 处的取值）。",
                 "en": "The derivative of ReLU (state its value at 0)."}, steps,
        {"relu": f, "relu_grad": d, "relu_grad_at_0": d.subs(x, 0)}, {"x": x},
        args={"relu_grad_at_0": ()})


@lru_cache(maxsize=None)
def leaky_relu() -> Derivation:
    """``LeakyReLU'(x) = 1`` (x > 0), ``γ`` (x ≤ 0)."""
    f = _piecewise(x, gamma * x)
    d = sp.diff(f, x)
    steps = [
        Step(f, "定义（seed 002）。", "Definition (seed 002).", lhs=r"\operatorname{LeakyReLU}(x)"),
        Step(d, "分段求导；x = 0 归入 x ≤ 0 一支，导数取 γ。",
             "Differentiate each piece; x = 0 belongs to the x ≤ 0 piece, so the derivative is γ.",
             lhs=r"\operatorname{LeakyReLU}'(x)"),
        Step(gamma + (1 - gamma) * step(x), "用阶跃函数写成一个式子：γ + (1 − γ) θ(x)。",
             "In one formula with the unit step: γ + (1 − γ) θ(x).", True,
             lhs=r"\operatorname{LeakyReLU}'(x)"),
    ]
    return Derivation(
        "leaky_relu", {"zh": "求 Leaky ReLU（斜率 γ）的导数。",
                       "en": "The derivative of Leaky ReLU with slope γ."}, steps,
        {"leaky_relu": f, "leaky_relu_grad": d}, {"x": x, "gamma": gamma})


@lru_cache(maxsize=None)
def elu() -> Derivation:
    """``ELU'(x) = 1`` (x > 0), ``γeˣ = ELU(x) + γ`` (x ≤ 0)."""
    f = _piecewise(x, gamma * (sp.exp(x) - 1))
    d = sp.diff(f, x)
    steps = [
        Step(f, "定义（seed 002）。", "Definition (seed 002).", lhs=r"\operatorname{ELU}(x)"),
        Step(d, "分段求导。", "Differentiate each piece.", lhs=r"\operatorname{ELU}'(x)"),
        Step(_piecewise(1, f.args[1][0] + gamma), "x ≤ 0 时 γeˣ = ELU(x) + γ。",
             "For x ≤ 0, γeˣ = ELU(x) + γ.", True, lhs=r"\operatorname{ELU}'(x)"),
    ]
    return Derivation(
        "elu", {"zh": "求 ELU（参数 γ）的导数。", "en": "The derivative of ELU with parameter γ."},
        steps, {"elu": f, "elu_grad": d}, {"x": x, "gamma": gamma})


@lru_cache(maxsize=None)
def softplus() -> Derivation:
    """``softplus'(x) = eˣ/(1 + eˣ) = σ(x)``."""
    f = sp.log(1 + sp.exp(x))
    steps = [
        Step(f, "定义。", "Definition.", lhs=r"\operatorname{softplus}(x)"),
        Step(sp.diff(f, x), "链式法则。", "Chain rule.", lhs=r"\operatorname{softplus}'(x)"),
        Step(sigma(x), "分子分母同除以 eˣ：正是 sigmoid。",
             "Divide numerator and denominator by eˣ: the sigmoid.", True,
             lhs=r"\operatorname{softplus}'(x)"),
    ]
    return Derivation(
        "softplus", {"zh": "求 softplus 的导数，说明它是 σ。",
                     "en": "The derivative of softplus; show it is σ."}, steps,
        {"softplus": f, "softplus_grad": sigma(x)}, {"x": x})


@lru_cache(maxsize=None)
def prelu() -> Derivation:
    """``∂PReLU_i/∂γ_i = 0`` (x > 0), ``x`` (x ≤ 0) ``= min(0, x)``; ``∂/∂x`` as Leaky ReLU."""
    g = sp.Symbol("gamma_i", positive=True)
    f = _piecewise(x, g * x)
    dg, dx = sp.diff(f, g), sp.diff(f, x)
    steps = [
        Step(f, "定义：第 i 个神经元有自己的斜率 γ_i（可学习）。",
             "Definition: unit i has its own learnable slope γ_i.", lhs=r"\operatorname{PReLU}_i(x)"),
        Step(dg, "对 γ_i 求导：只有 x ≤ 0 一支含 γ_i。",
             "Differentiate with respect to γ_i: only the x ≤ 0 piece contains γ_i.",
             lhs=r"\frac{\partial \operatorname{PReLU}_i}{\partial \gamma_i}"),
        Step(sp.Min(0, x), "即 min(0, x)。", "That is min(0, x).", True,
             lhs=r"\frac{\partial \operatorname{PReLU}_i}{\partial \gamma_i}"),
        Step(dx, "对 x 求导（同 Leaky ReLU）。", "With respect to x (as Leaky ReLU).",
             lhs=r"\frac{\partial \operatorname{PReLU}_i}{\partial x}"),
    ]
    return Derivation(
        "prelu", {"zh": "求 PReLU 对其斜率 γ_i 的导数。",
                  "en": "The derivative of PReLU with respect to its slope γ_i."}, steps,
        {"prelu": f, "prelu_grad_gamma": dg, "prelu_grad": dx}, {"x": x, "gamma": g},
        args={"prelu_grad_gamma": ("x",)})


DERIVATIONS = {"sigmoid": sigmoid, "tanh": tanh, "relu": relu, "leaky_relu": leaky_relu,
               "elu": elu, "softplus": softplus, "prelu": prelu}

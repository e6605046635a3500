"""A2.3–4 — output layers and their losses (seeds 001, 002, 004).

With ``s = softmax(x)``, ``s_j = e^{x_j} / Σ_k e^{x_k}``:

* ``∂ log s_i / ∂x_j = δ_ij − s_j`` (Jacobian ``I − 1 sᵀ``);
* ``∂ s_i / ∂x_j = s_i(δ_ij − s_j)`` (Jacobian ``diag(s) − s sᵀ``);
* ``L = −Σ_k y_k log s_k`` with ``Σ_k y_k = 1``: ``∂L/∂x = ŷ − y`` (ŷ = s);
* ``L = −[y log a + (1 − y) log(1 − a)]``, ``a = σ(z)``: ``∂L/∂z = a − y``;
* ``L = ½ Σ_k (ŷ_k − y_k)²``: ``∂L/∂ŷ = ŷ − y``.

The index form is derived for a symbolic number of classes K; the callables
are for a concrete K (default 3, ``derive(name, K=…)`` for others).
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from .base import Derivation, Step, vec
from .functions import sigma

Kn = sp.Symbol("K", integer=True, positive=True)
i, j, k, m = sp.symbols("i j k m", integer=True)
xi = sp.IndexedBase("x")
yi = sp.IndexedBase("y")
SUM = sp.Sum(sp.exp(xi[k]), (k, 1, Kn))
INDEX_CHECKS = [{Kn: 3, i: 1, j: 2}, {Kn: 3, i: 2, j: 2}, {Kn: 4, i: 4, j: 1}]


def _softmax(xv):
    total = sum(sp.exp(e) for e in xv)
    return sp.Matrix([sp.exp(e) / total for e in xv])


@lru_cache(maxsize=None)
def log_softmax(K: int = 3) -> Derivation:
    """``∂/∂x_j log softmax(x)_i = δ_ij − softmax(x)_j``."""
    x = vec("x", K)
    s = _softmax(x)
    logs = sp.Matrix([x[a] - sp.log(sum(sp.exp(e) for e in x)) for a in range(K)])
    jac = logs.jacobian(x)
    formula = sp.Matrix(K, K, lambda a, b: sp.KroneckerDelta(a, b) - s[b])
    general = xi[i] - sp.log(SUM)
    dgen = sp.diff(general, xi[j])
    lhs = r"\frac{\partial \log \operatorname{softmax}(x)_i}{\partial x_j}"
    steps = [
        Step(general, "log-softmax 的定义：log s_i = x_i − log Σ_k e^{x_k}。",
             "Definition: log s_i = x_i − log Σ_k e^{x_k}.", lhs=r"\log \operatorname{softmax}(x)_i"),
        Step(dgen, "对 x_j 求导：∂x_i/∂x_j = δ_ij，∂x_k/∂x_j = δ_kj。",
             "Differentiate with respect to x_j: ∂x_i/∂x_j = δ_ij, ∂x_k/∂x_j = δ_kj.", lhs=lhs),
        Step(sp.KroneckerDelta(i, j) - sp.exp(xi[j]) / SUM, "δ_kj 只留下 k = j 的一项。",
             "δ_kj keeps only the term k = j.", True, lhs=lhs),
        Step(sp.KroneckerDelta(i, j) - sp.Symbol(r"\operatorname{softmax}(x)_j"),
             "即 δ_ij − softmax(x)_j。", "That is δ_ij − softmax(x)_j.", lhs=lhs),
        Step(jac, f"K = {K} 时逐项求导得到的 Jacobian。",
             f"The Jacobian by direct differentiation for K = {K}.",
             lhs=r"\frac{\partial \log s}{\partial x}"),
        Step(formula, "与公式 δ_ij − s_j（即 I − 1 sᵀ）一致。",
             "It matches δ_ij − s_j, i.e. I − 1 sᵀ.", True, lhs=r"\frac{\partial \log s}{\partial x}"),
    ]
    return Derivation(
        "log_softmax",
        {"zh": "求 log softmax(x)_i 对 x_j 的梯度，并写出 Jacobian。",
         "en": "The gradient of log softmax(x)_i with respect to x_j, and the Jacobian."},
        steps, {"log_softmax": logs, "softmax": s, "jacobian": formula}, {"x": x},
        index_values=INDEX_CHECKS)


@lru_cache(maxsize=None)
def softmax_jacobian(K: int = 3) -> Derivation:
    """``∂s_i/∂x_j = s_i(δ_ij − s_j)``, i.e. ``J = diag(s) − s sᵀ``."""
    x = vec("x", K)
    s = _softmax(x)
    jac = s.jacobian(x)
    formula = sp.diag(*s) - s * s.T
    general = sp.exp(xi[i]) / SUM
    sgen = lambda a: sp.exp(xi[a]) / SUM  # noqa: E731
    lhs = r"\frac{\partial s_i}{\partial x_j}"
    steps = [
        Step(general, "softmax 的定义。", "Definition of softmax.", lhs="s_i"),
        Step(sp.diff(general, xi[j]), "商的求导法则。", "Quotient rule.", lhs=lhs),
        Step(sgen(i) * sp.KroneckerDelta(i, j) - sgen(i) * sgen(j), "整理：s_i δ_ij − s_i s_j。",
             "Collect: s_i δ_ij − s_i s_j.", True, lhs=lhs),
        Step(jac, f"K = {K} 时逐项求导。", f"Direct differentiation for K = {K}.",
             lhs=r"\frac{\partial s}{\partial x}"),
        Step(formula, "即 diag(s) − s sᵀ（不是 diag(s)）。",
             "That is diag(s) − s sᵀ (not diag(s)).", True, lhs=r"\frac{\partial s}{\partial x}"),
    ]
    return Derivation(
        "softmax_jacobian",
        {"zh": "求 softmax 的 Jacobian。", "en": "The Jacobian of softmax."},
        steps, {"softmax": s, "jacobian": formula}, {"x": x}, index_values=INDEX_CHECKS)


@lru_cache(maxsize=None)
def softmax_cross_entropy(K: int = 3) -> Derivation:
    """``L = −Σ_k y_k log softmax(x)_k`` ⇒ ``∂L/∂x_j = s_j Σ_k y_k − y_j = ŷ_j − y_j``."""
    x, y = vec("x", K), vec("y", K)
    s = _softmax(x)
    lse = sp.log(sum(sp.exp(e) for e in x))
    L = -sum(y[a] * (x[a] - lse) for a in range(K))
    grad = sp.Matrix([L]).jacobian(x).T
    general = -sp.Sum(yi[k] * (xi[k] - sp.log(sp.Sum(sp.exp(xi[m]), (m, 1, Kn)))), (k, 1, Kn))
    lhs = r"\frac{\partial L}{\partial x_j}"
    sj = sp.exp(xi[j]) / sp.Sum(sp.exp(xi[m]), (m, 1, Kn))
    steps = [
        Step(general, "交叉熵与 log-softmax。", "Cross-entropy of the log-softmax.", lhs="L"),
        Step(sp.diff(general, xi[j]), "对 logit x_j 求导。", "Differentiate with respect to the logit x_j.",
             lhs=lhs),
        Step(sj * sp.Sum(yi[k], (k, 1, Kn)) - yi[j], "整理：s_j Σ_k y_k − y_j。",
             "Collect: s_j Σ_k y_k − y_j.", True, lhs=lhs),
        Step(grad, f"K = {K}：逐项求导。", f"K = {K}: direct differentiation.",
             lhs=r"\frac{\partial L}{\partial x}"),
        Step(s * sum(y) - y, "同一形式 s Σ_k y_k − y。", "The same form s Σ_k y_k − y.", True,
             lhs=r"\frac{\partial L}{\partial x}"),
        Step(s - y, "y 是概率向量（Σ_k y_k = 1）：∂L/∂x = ŷ − y。",
             "y is a probability vector (Σ_k y_k = 1): ∂L/∂x = ŷ − y.", True,
             lhs=r"\frac{\partial L}{\partial x}"),
    ]
    return Derivation(
        "softmax_cross_entropy",
        {"zh": "证明 softmax 与交叉熵组合在 logit 处的梯度为 ŷ − y。",
         "en": "Show that softmax followed by cross-entropy has gradient ŷ − y at the logits."},
        steps, {"loss": L, "grad": s - y, "softmax": s}, {"x": x, "y": y},
        args={"softmax": ("x",)},
        definitions={y[K - 1]: 1 - sum(y[:K - 1])}, index_values=INDEX_CHECKS)


@lru_cache(maxsize=None)
def sigmoid_bce() -> Derivation:
    """``L = −[y log a + (1−y) log(1−a)]``, ``a = σ(z)``:
    ``∂L/∂a = (a − y)/(a(1 − a))``, ``∂a/∂z = a(1 − a)``, so ``∂L/∂z = a − y``."""
    a, y, z = sp.symbols("a y z")
    L = -(y * sp.log(a) + (1 - y) * sp.log(1 - a))
    dLda = sp.diff(L, a)
    steps = [
        Step(L, "二元交叉熵。", "Binary cross-entropy.", lhs="L"),
        Step(dLda, "对 a 求导。", "Differentiate with respect to a.", lhs=r"\frac{\partial L}{\partial a}"),
        Step((a - y) / (a * (1 - a)), "通分。", "Common denominator.", True,
             lhs=r"\frac{\partial L}{\partial a}"),
        Step(dLda * a * (1 - a), "链式法则：∂a/∂z = σ'(z) = a(1 − a)。",
             "Chain rule: ∂a/∂z = σ'(z) = a(1 − a).", lhs=r"\frac{\partial L}{\partial z}"),
        Step(a - y, "a(1 − a) 约去。", "The factor a(1 − a) cancels.", True,
             lhs=r"\frac{\partial L}{\partial z}"),
        Step(sp.diff(L.subs(a, sigma(z)), z), "核对：直接对 z 求导（a = σ(z)）。",
             "Check: differentiate directly in z (a = σ(z)).", True,
             lhs=r"\frac{\partial L}{\partial z}"),
    ]
    return Derivation(
        "sigmoid_bce",
        {"zh": "证明 sigmoid 输出与二元交叉熵组合在 z 处的梯度为 a − y。",
         "en": "Show that a sigmoid output with binary cross-entropy has gradient a − y at z."},
        steps,
        {"loss": L, "dL_da": (a - y) / (a * (1 - a)), "loss_logits": L.subs(a, sigma(z)),
         "dL_dz": sigma(z) - y},
        {"a": a, "y": y, "z": z},
        args={"loss": ("a", "y"), "dL_da": ("a", "y"), "loss_logits": ("z", "y"),
              "dL_dz": ("z", "y")},
        definitions={a: sigma(z)})


@lru_cache(maxsize=None)
def half_squared_error(K: int = 1) -> Derivation:
    """``L = ½ Σ_k (ŷ_k − y_k)²`` ⇒ ``∂L/∂ŷ = ŷ − y``."""
    yh, y = vec(r"\hat{y}", K), vec("y", K)
    L = sum((yh[a] - y[a])**2 for a in range(K)) / 2
    steps = [
        Step(L, "平方误差（带 ½）。", "Squared error with the ½.", lhs="L"),
        Step(sp.Matrix([L]).jacobian(yh).T, "求导。", "Differentiate.",
             lhs=r"\frac{\partial L}{\partial \hat{y}}"),
        Step(yh - y, "½ 与指数 2 相消。", "The ½ cancels the exponent 2.", True,
             lhs=r"\frac{\partial L}{\partial \hat{y}}"),
    ]
    return Derivation(
        "half_squared_error",
        {"zh": "L = ½‖ŷ − y‖² 对 ŷ 的梯度。", "en": "The gradient of L = ½‖ŷ − y‖² with respect to ŷ."},
        steps, {"loss": L, "grad": yh - y}, {"yhat": yh, "y": y})


DERIVATIONS = {"log_softmax": log_softmax, "softmax_jacobian": softmax_jacobian,
               "softmax_cross_entropy": softmax_cross_entropy, "sigmoid_bce": sigmoid_bce,
               "half_squared_error": half_squared_error}

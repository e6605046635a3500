"""A1 — computational graphs and the chain rule (seeds 000, 002, 003).

* ``chain_rule_uv``: ``z = u² + v²``, ``u = xy``, ``v = x/y`` →
  ``∂z/∂x = 2xy² + 2x/y²``, ``∂z/∂y = 2x²y − 2x²/y³``.
* ``graph_add_mul``: ``f = (x + y) z`` through ``q = x + y``.
* ``graph_J``: ``J = 3(a + bc)`` through ``u = bc``, ``v = a + u``.
* ``sigmoid_neuron``: ``f = σ(w₀x₀ + w₁x₁ + w₂)`` with the gate shortcut
  ``∂f/∂s = (1 − f) f``.
* ``autodiff_trace``: ``h1 = xw, h2 = h1 + b, h3 = −h2, h4 = e^{h3},
  h5 = h4 + 1, h6 = 1/h5`` and the product of local derivatives.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from .base import Derivation, Step
from .functions import sigma


@lru_cache(maxsize=None)
def chain_rule_uv() -> Derivation:
    """``z = u² + v²``, ``u = xy``, ``v = x/y``:
    ``∂z/∂x = ∂z/∂u·∂u/∂x + ∂z/∂v·∂v/∂x``, likewise for y."""
    x, y, u, v = sp.symbols("x y u v")
    z = u**2 + v**2
    defs = {u: x * y, v: x / y}
    dx_chain = 2 * u * y + 2 * v / y
    dy_chain = 2 * u * x + 2 * v * (-x / y**2)
    dzdx = 2 * x * y**2 + 2 * x / y**2
    dzdy = 2 * x**2 * y - 2 * x**2 / y**3
    direct = sp.expand(z.subs(defs))
    steps = [
        Step(z, "定义：z 依赖于中间变量 u = xy 与 v = x/y。",
             "Definition: z depends on the intermediates u = xy and v = x/y.", lhs="z"),
        Step(direct, "代入 u、v 得到 z 关于 x、y 的表达式。",
             "Substituting u and v gives z in x and y.", True, lhs="z"),
        Step(dx_chain, "链式法则：∂z/∂x = ∂z/∂u·∂u/∂x + ∂z/∂v·∂v/∂x，其中 ∂u/∂x = y，∂v/∂x = 1/y。",
             "Chain rule: ∂z/∂x = ∂z/∂u·∂u/∂x + ∂z/∂v·∂v/∂x with ∂u/∂x = y, ∂v/∂x = 1/y.",
             lhs=r"\frac{\partial z}{\partial x}"),
        Step(dzdx, "代入 u = xy、v = x/y。", "Substitute u = xy, v = x/y.", True,
             lhs=r"\frac{\partial z}{\partial x}"),
        Step(sp.diff(direct, x), "核对：直接对 z(x, y) 求导得到同一结果。",
             "Check: differentiating z(x, y) directly gives the same.", True,
             lhs=r"\frac{\partial z}{\partial x}"),
        Step(dy_chain, "链式法则：∂u/∂y = x，∂v/∂y = −x/y²。",
             "Chain rule with ∂u/∂y = x, ∂v/∂y = −x/y².",
             lhs=r"\frac{\partial z}{\partial y}"),
        Step(dzdy, "代入 u、v。", "Substitute u and v.", True,
             lhs=r"\frac{\partial z}{\partial y}"),
        Step(sp.diff(direct, y), "核对：直接求导。", "Check: direct differentiation.", True,
             lhs=r"\frac{\partial z}{\partial y}"),
    ]
    return Derivation(
        "chain_rule_uv",
        {"zh": "设 z = u² + v²，u = xy，v = x/y，用链式法则求 ∂z/∂x 与 ∂z/∂y。",
         "en": "Let z = u² + v², u = xy, v = x/y. Find ∂z/∂x and ∂z/∂y by the chain rule."},
        steps, {"z": direct, "dz_dx": dzdx, "dz_dy": dzdy}, {"x": x, "y": y},
        definitions=defs)


@lru_cache(maxsize=None)
def graph_add_mul() -> Derivation:
    """``f = q z`` with ``q = x + y``: ``∂f/∂x = ∂f/∂q·∂q/∂x = z``, ``∂f/∂y = z``, ``∂f/∂z = q``.

    The add gate distributes the upstream gradient, the multiply gate swaps
    its inputs."""
    x, y, z, q = sp.symbols("x y z q")
    defs = {q: x + y}
    f = q * z
    steps = [
        Step(x + y, "前向：加法节点 q = x + y。", "Forward: the add node q = x + y.", lhs="q"),
        Step(f, "前向：乘法节点 f = q z。", "Forward: the multiply node f = q z.", lhs="f"),
        Step((x + y) * z, "展开。", "Expanded.", True, lhs="f"),
        Step(z, "乘法门交换输入：∂f/∂q = z（上游梯度），∂f/∂z = q。",
             "The multiply gate swaps its inputs: ∂f/∂q = z (the upstream gradient), ∂f/∂z = q.",
             lhs=r"\frac{\partial f}{\partial q}"),
        Step(z * 1, "加法门分发：∂f/∂x = ∂f/∂q · ∂q/∂x = z · 1。",
             "The add gate distributes: ∂f/∂x = ∂f/∂q · ∂q/∂x = z · 1.", True,
             lhs=r"\frac{\partial f}{\partial x}"),
        Step(sp.diff((x + y) * z, x), "核对：直接求导。", "Check: direct differentiation.", True,
             lhs=r"\frac{\partial f}{\partial x}"),
        Step(q, "∂f/∂z = q = x + y。", "∂f/∂z = q = x + y.", lhs=r"\frac{\partial f}{\partial z}"),
        Step(sp.diff((x + y) * z, z), "核对：直接求导。", "Check: direct differentiation.", True,
             lhs=r"\frac{\partial f}{\partial z}"),
    ]
    return Derivation(
        "graph_add_mul",
        {"zh": "f(x, y, z) = (x + y) z：前向计算 q、f，反向求 ∂f/∂x、∂f/∂y、∂f/∂z。",
         "en": "f(x, y, z) = (x + y) z: forward q and f, backward ∂f/∂x, ∂f/∂y, ∂f/∂z."},
        steps,
        {"q": x + y, "f": (x + y) * z, "df_dx": z, "df_dy": z, "df_dz": x + y,
         "local_dq_dx": sp.Integer(1), "local_dq_dy": sp.Integer(1),
         "local_df_dq": z, "local_df_dz": x + y},
        {"x": x, "y": y, "z": z}, definitions=defs)


@lru_cache(maxsize=None)
def graph_J() -> Derivation:
    """``J = 3v``, ``v = a + u``, ``u = bc``: ``dJ/da = 3``, ``dJ/db = 3c``, ``dJ/dc = 3b``."""
    a, b, c, u, v = sp.symbols("a b c u v")
    defs = {v: a + u, u: b * c}
    J = 3 * (a + b * c)
    steps = [
        Step(b * c, "前向：u = bc。", "Forward: u = bc.", lhs="u"),
        Step(a + u, "前向：v = a + u。", "Forward: v = a + u.", lhs="v"),
        Step(3 * v, "前向：J = 3v。", "Forward: J = 3v.", lhs="J"),
        Step(J, "展开。", "Expanded.", True, lhs="J"),
        Step(sp.Integer(3) * 1, "dJ/da = dJ/dv · dv/da = 3 · 1。",
             "dJ/da = dJ/dv · dv/da = 3 · 1.", lhs=r"\frac{dJ}{da}"),
        Step(3 * 1 * c, "dJ/db = dJ/dv · dv/du · du/db = 3 · 1 · c。",
             "dJ/db = dJ/dv · dv/du · du/db = 3 · 1 · c.", lhs=r"\frac{dJ}{db}"),
        Step(sp.diff(J, b), "核对：直接求导。", "Check: direct differentiation.", True,
             lhs=r"\frac{dJ}{db}"),
        Step(3 * 1 * b, "dJ/dc = dJ/dv · dv/du · du/dc = 3 · 1 · b。",
             "dJ/dc = dJ/dv · dv/du · du/dc = 3 · 1 · b.", lhs=r"\frac{dJ}{dc}"),
        Step(sp.diff(J, c), "核对：直接求导。", "Check: direct differentiation.", True,
             lhs=r"\frac{dJ}{dc}"),
    ]
    return Derivation(
        "graph_J",
        {"zh": "J(a, b, c) = 3(a + bc)，u = bc，v = a + u：求 u、v、J 与 dJ/da、dJ/db、dJ/dc。",
         "en": "J(a, b, c) = 3(a + bc) with u = bc, v = a + u: find u, v, J and "
               "dJ/da, dJ/db, dJ/dc."},
        steps,
        {"u": b * c, "v": a + b * c, "J": J, "dJ_da": sp.Integer(3), "dJ_db": 3 * c,
         "dJ_dc": 3 * b},
        {"a": a, "b": b, "c": c}, definitions=defs)


@lru_cache(maxsize=None)
def sigmoid_neuron() -> Derivation:
    """``f = σ(s)``, ``s = w₀x₀ + w₁x₁ + w₂``; gate shortcut ``∂f/∂s = (1 − f) f``,
    so ``∂f/∂w₀ = (1−f) f x₀``, ``∂f/∂x₀ = (1−f) f w₀``, … , ``∂f/∂w₂ = (1−f) f``."""
    w0, w1, w2, x0, x1, s = sp.symbols("w_0 w_1 w_2 x_0 x_1 s")
    defs = {s: w0 * x0 + w1 * x1 + w2}
    f_exp = 1 / (1 + sp.exp(-s))
    f = sigma(s)
    gate = (1 - f) * f
    grads = {"df_dw0": gate * x0, "df_dx0": gate * w0, "df_dw1": gate * x1,
             "df_dx1": gate * w1, "df_dw2": gate}
    steps = [
        Step(f_exp, "神经元：f = 1/(1 + e^{−s})，s = w₀x₀ + w₁x₁ + w₂。",
             "The neuron: f = 1/(1 + e^{−s}), s = w₀x₀ + w₁x₁ + w₂.", lhs="f"),
        Step(sp.diff(f_exp, s), "对 s 求导。", "Differentiate with respect to s.",
             lhs=r"\frac{\partial f}{\partial s}"),
        Step(gate, "sigmoid 门的捷径：σ'(s) = (1 − σ(s)) σ(s)，只需前向的输出 f。",
             "The sigmoid-gate shortcut: σ'(s) = (1 − σ(s)) σ(s) needs only the forward output f.",
             True, lhs=r"\frac{\partial f}{\partial s}"),
        Step(grads["df_dw0"], "乘法门：∂s/∂w₀ = x₀。", "Multiply gate: ∂s/∂w₀ = x₀.",
             lhs=r"\frac{\partial f}{\partial w_0}"),
        Step(sp.diff(f_exp.subs(defs), w0), "核对：直接求导。", "Check: direct differentiation.",
             True, lhs=r"\frac{\partial f}{\partial w_0}"),
        Step(grads["df_dx0"], "∂s/∂x₀ = w₀。", "∂s/∂x₀ = w₀.", lhs=r"\frac{\partial f}{\partial x_0}"),
        Step(sp.diff(f_exp.subs(defs), x0), "核对。", "Check.", True,
             lhs=r"\frac{\partial f}{\partial x_0}"),
        Step(grads["df_dw2"], "偏置：∂s/∂w₂ = 1。", "Bias: ∂s/∂w₂ = 1.",
             lhs=r"\frac{\partial f}{\partial w_2}"),
        Step(sp.diff(f_exp.subs(defs), w2), "核对。", "Check.", True,
             lhs=r"\frac{\partial f}{\partial w_2}"),
    ]
    results = {"f": f.subs(defs), **{k: e.subs(defs) for k, e in grads.items()}}
    return Derivation(
        "sigmoid_neuron",
        {"zh": "sigmoid 神经元 f = 1/(1 + e^{−(w₀x₀ + w₁x₁ + w₂)})：求 f 及其对各 w、x 的梯度。",
         "en": "Sigmoid neuron f = 1/(1 + e^{−(w₀x₀ + w₁x₁ + w₂)}): f and its gradients "
               "with respect to every w and x."},
        steps, results, {"w0": w0, "w1": w1, "w2": w2, "x0": x0, "x1": x1}, definitions=defs)


@lru_cache(maxsize=None)
def autodiff_trace() -> Derivation:
    """Reverse-mode trace of ``f(x; w, b) = 1/(exp(−(wx + b)) + 1)``:
    ``∂f/∂w = (−1/h5²)·1·e^{h3}·(−1)·1·x = x σ(wx+b)(1 − σ(wx+b))``."""
    x, w, b = sp.symbols("x w b")
    h = sp.symbols("h1:7")
    defs = {h[0]: x * w, h[1]: h[0] + b, h[2]: -h[1], h[3]: sp.exp(h[2]), h[4]: h[3] + 1,
            h[5]: 1 / h[4]}
    local = {"dh6_dh5": -1 / h[4]**2, "dh5_dh4": sp.Integer(1), "dh4_dh3": sp.exp(h[2]),
             "dh3_dh2": sp.Integer(-1), "dh2_dh1": sp.Integer(1), "dh2_db": sp.Integer(1),
             "dh1_dw": x, "dh1_dx": w}
    f = 1 / (sp.exp(-(w * x + b)) + 1)
    chain_w = (local["dh6_dh5"] * local["dh5_dh4"] * local["dh4_dh3"] * local["dh3_dh2"]
               * local["dh2_dh1"] * local["dh1_dw"])
    chain_b = (local["dh6_dh5"] * local["dh5_dh4"] * local["dh4_dh3"] * local["dh3_dh2"]
               * local["dh2_db"])
    s = sigma(w * x + b)
    def frac(top, bottom):
        return rf"\frac{{\partial {top}}}{{\partial {bottom}}}"

    tex = {k: frac(*(v.replace("h", "h_") for v in k[1:].split("_d"))) for k in local}
    steps = [Step(sp.Eq(hk, defs[hk]), f"前向：{hk}。", f"Forward: {hk}.") for hk in h]
    steps += [Step(local[k], f"局部导数 {k}。", f"Local derivative {k}.", lhs=tex[k]) for k in local]
    steps += [
        Step(chain_w, "反向：沿路径 h6 → h5 → … → h1 → w 将局部导数相乘。",
             "Backward: multiply the local derivatives along h6 → h5 → … → h1 → w.",
             lhs=r"\frac{\partial f}{\partial w}"),
        Step(x * sp.exp(-(w * x + b)) / (sp.exp(-(w * x + b)) + 1)**2, "代入前向的值。",
             "Substitute the forward values.", True, lhs=r"\frac{\partial f}{\partial w}"),
        Step(x * s * (1 - s), "即 x σ(wx + b)(1 − σ(wx + b))；x=1, w=0, b=0 时为 1·½·½ = 0.25。",
             "That is x σ(wx + b)(1 − σ(wx + b)); at x=1, w=0, b=0 it is 1·½·½ = 0.25.", True,
             lhs=r"\frac{\partial f}{\partial w}"),
        Step(sp.diff(f, w), "核对：直接求导。", "Check: direct differentiation.", True,
             lhs=r"\frac{\partial f}{\partial w}"),
        Step(chain_b, "对 b：路径 h6 → … → h2 → b。", "For b: the path h6 → … → h2 → b.",
             lhs=r"\frac{\partial f}{\partial b}"),
        Step(s * (1 - s), "即 σ(1 − σ)；在 x=1, w=0, b=0 处为 0.25。",
             "That is σ(1 − σ); 0.25 at x=1, w=0, b=0.", True, lhs=r"\frac{\partial f}{\partial b}"),
    ]
    full = dict(defs)

    def ev(e):  # express in x, w, b
        for _ in range(6):
            e = e.subs(full)
        return e

    results = {f"h{k + 1}": ev(hk) for k, hk in enumerate(h)}
    results.update({k: ev(e) for k, e in local.items()})
    results["df_dw"] = x * s * (1 - s)
    results["df_db"] = s * (1 - s)
    return Derivation(
        "autodiff_trace",
        {"zh": "f(x; w, b) = 1/(exp(−(wx + b)) + 1) 分解为 h1…h6：求每个局部导数及 ∂f/∂w、∂f/∂b。",
         "en": "f(x; w, b) = 1/(exp(−(wx + b)) + 1) split into h1…h6: every local derivative "
               "and ∂f/∂w, ∂f/∂b."},
        steps, results, {"x": x, "w": w, "b": b}, definitions=defs)


DERIVATIONS = {"chain_rule_uv": chain_rule_uv, "graph_add_mul": graph_add_mul,
               "graph_J": graph_J, "sigmoid_neuron": sigmoid_neuron,
               "autodiff_trace": autodiff_trace}

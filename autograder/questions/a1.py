"""A1 — computational graphs and the chain rule (seeds 000, 002, 003).

q1 (formulas in x and y): ``z = u² + v²``, ``u = xy``, ``v = x/y``; the
references are ``∂z/∂x`` and ``∂z/∂y`` differentiated by SymPy from the
definitions in :func:`nn_core.symbolic.derive` ``("chain_rule_uv")``, and the
catalogued mistakes are the chain rule ``∂z/∂x = Σ_{w∈{u,v}} ∂z/∂w·∂w/∂x``
evaluated with one piece changed (inner derivatives dropped, the v path
dropped, the sign of ``∂v/∂y = −x/y²`` flipped).

The numeric parts are computed by ``nn_core.graph``'s scalar engine on the
variant's inputs: forward values, gradients (the upstream gradient ∂f/∂node
of each input), and the finite-difference check of J.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from nn_core.graph import autodiff_trace, example_J, example_fxyz, sigmoid_neuron
from nn_core.symbolic import derive

from ..i18n import msg
from ..mistakes import ACTIVATION_FOR_DERIVATIVE, CHAIN_RULE_MISSING_INNER, SIGN_ERROR, Mistake
from ..variants import Variants, decimals
from .base import Part, Question


# -- the mistakes A1's feedback names ----------------------------------------

CHAIN_RULE_MISSING_PATH = Mistake(
    "chain_rule_missing_path",
    name=msg("漏掉了一条路径",
             "A path is missing"),
    hint=msg("z 经 u 和 v 两条路径依赖 x、y，偏导数是各路径之和：∂z/∂x = ∂z/∂u·∂u/∂x + "
             "∂z/∂v·∂v/∂x。",
             "z depends on x and y through both u and v, and the partial derivative sums the "
             "paths: ∂z/∂x = ∂z/∂u·∂u/∂x + ∂z/∂v·∂v/∂x."))

QUOTIENT_RULE_SIGN = Mistake(
    "quotient_rule_sign",
    name=msg("商的导数符号错了",
             "Sign error in the quotient's derivative"),
    hint=msg("∂(x/y)/∂y = −x/y²，所以 ∂z/∂y = 2u·x + 2v·(−x/y²)。",
             "∂(x/y)/∂y = −x/y², so ∂z/∂y = 2u·x + 2v·(−x/y²)."))


# -- q1: the chain rule through u = xy, v = x/y (SymPy) ---------------------------
@lru_cache(maxsize=None)
def _uv():
    """``(z(u, v), {u: xy, v: x/y}, x, y)`` from the lecture's derivation."""
    d = derive("chain_rule_uv")
    return d.steps[0].value, dict(d.definitions), d.symbols["x"], d.symbols["y"]


def chain_rule(wrt: str, inner: bool = True, paths=("u", "v"), flip=()) -> sp.Expr:
    """``∂z/∂wrt = Σ_{w ∈ paths} ∂z/∂w · ∂w/∂wrt`` by SymPy, in x and y.

    The switches model the catalogued mistakes: ``inner=False`` drops the
    inner derivatives ∂w/∂wrt, ``paths=("u",)`` drops the v path, ``flip``
    names the intermediates whose inner derivative changes sign."""
    z, defs, x, y = _uv()
    var = {"x": x, "y": y}[wrt]
    total = sp.Integer(0)
    for w in (s for s in defs if s.name in paths):
        local = sp.diff(defs[w], var) if inner else sp.Integer(1)
        total += sp.diff(z, w) * (-local if w.name in flip else local)
    return sp.simplify(total.subs(defs))


def dz(p=None, up=None):
    """The references: z(x, y) = z(u(x, y), v(x, y)) differentiated directly."""
    z, defs, x, y = _uv()
    direct = z.subs(defs)
    return {"dzdx": sp.diff(direct, x), "dzdy": sp.diff(direct, y)}


def fxyz(p, up=None):
    f, n = example_fxyz(**p["fxyz"])
    return {"q": n["q"].data, "f": f.data, "dfdx": n["x"].grad, "dfdy": n["y"].grad,
            "dfdz": n["z"].grad}


def J(p, up=None):
    c = p["J"]
    out, n = example_J(c["a"], c["b"], c["c"])
    moved, _ = example_J(c["a"], c["b"] + c["h"], c["c"], backward=False)
    return {"u": n["u"].data, "v": n["v"].data, "J": out.data, "dJda": n["a"].grad,
            "dJdb": n["b"].grad, "dJdc": n["c"].grad, "J_fd": moved.data}


def neuron(p, up=None):
    f, n = sigmoid_neuron(p["neuron"]["w"], p["neuron"]["x"], shortcut=True)
    return {"f": f.data, **{f"d{k}": n[k].grad for k in ("w0", "x0", "w1", "x1", "w2")}}


TRACE_LOCAL = ("dh1_dw", "dh2_dh1", "dh3_dh2", "dh4_dh3", "dh5_dh4", "dh6_dh5")


def trace(p, up=None):
    """Local derivatives of h1…h6 (from the engine's recorded local
    gradients) and ∂f/∂w, ∂f/∂b."""
    t = p["trace"]
    f, n = autodiff_trace(t["x"], t["w"], t["b"])

    def local(child, parent):
        node = n[child]
        return next(g for par, g in zip(node.parents, node.local_grads) if par is n[parent])
    pairs = (("h1", "w"), ("h2", "h1"), ("h3", "h2"), ("h4", "h3"), ("h5", "h4"), ("h6", "h5"))
    out = {name: local(c, par) for name, (c, par) in zip(TRACE_LOCAL, pairs)}
    return {**out, "dfdw": n["w"].grad, "dfdb": n["b"].grad}


def _negated(build, parts):
    return lambda p: {k: -v for k, v in build(p).items() if k in parts}


# -- the variant: the lecture's numbers and a student's ----------------------------------
#: the lecture's inputs of q2–q5 (seeds 000, 002, 003)
LECTURE = {"fxyz": {"x": -2.0, "y": 5.0, "z": -4.0},
           "J": {"a": 5.0, "b": 3.0, "c": 2.0, "h": 0.001},
           "neuron": {"w": [2.0, -3.0, -3.0], "x": [-1.0, -2.0]},
           "trace": {"x": 1.0, "w": 0.0, "b": 0.0}}


def _variant(rng) -> dict:
    while True:
        x, y, z = decimals(rng, 3, -5, 5, 1.0).tolist()
        if x + y != 0:
            break
    a, b, c = decimals(rng, 3, 1, 6, 1.0).tolist()
    while True:
        w = decimals(rng, 3, -3, 3, 1.0)
        xs = decimals(rng, 2, -2, 2, 1.0)
        zn = w[0] * xs[0] + w[1] * xs[1] + w[2]
        if 0.5 <= abs(zn) <= 2.5:        # neither saturated nor at σ'(0)
            break
    tx, tw, tb = decimals(rng, 3, -1, 1, 0.5, nonzero=False).tolist()
    return {"fxyz": {"x": x, "y": y, "z": z}, "J": {"a": a, "b": b, "c": c, "h": 0.001},
            "neuron": {"w": w.tolist(), "x": xs.tolist()},
            "trace": {"x": tx if tx else 1.0, "w": tw, "b": tb}}


VARIANTS = Variants(lecture=LECTURE, generate=_variant)


Q1 = Question(
    id="A1.q1",
    title=msg("链式法则：z = u² + v²，u = xy，v = x/y，求 ∂z/∂x 与 ∂z/∂y",
              "The chain rule: z = u² + v², u = xy, v = x/y; find ∂z/∂x and ∂z/∂y"),
    parts=(Part("dzdx", kind="sym", symbols=("x", "y")),
           Part("dzdy", kind="sym", symbols=("x", "y"))),
    build=dz,
    mistakes=(
        CHAIN_RULE_MISSING_INNER.with_make(
            lambda p: {"dzdx": chain_rule("x", inner=False), "dzdy": chain_rule("y", inner=False)}),
        CHAIN_RULE_MISSING_PATH.with_make(
            lambda p: {"dzdx": chain_rule("x", paths=("u",)),
                       "dzdy": chain_rule("y", paths=("u",))}),
        QUOTIENT_RULE_SIGN.with_make(lambda p: {"dzdy": chain_rule("y", flip=("v",))}),
    ),
)
Q2 = Question(
    id="A1.q2", title=msg("f(x,y,z) = (x+y)z 的前向与反向", "Forward and backward of f(x,y,z) = (x+y)z"),
    parts=tuple(Part(n) for n in ("q", "f", "dfdx", "dfdy", "dfdz")), build=fxyz,
    mistakes=(SIGN_ERROR.with_make(_negated(fxyz, ("dfdx", "dfdy", "dfdz"))),),
)
Q3 = Question(
    id="A1.q3", title=msg("J(a,b,c) = 3(a+bc) 与有限差分检验", "J(a,b,c) = 3(a+bc) and the finite-difference check"),
    parts=tuple(Part(n) for n in ("u", "v", "J", "dJda", "dJdb", "dJdc", "J_fd")), build=J,
    mistakes=(SIGN_ERROR.with_make(_negated(J, ("dJda", "dJdb", "dJdc"))),),
)
Q4 = Question(
    id="A1.q4", title=msg("sigmoid 神经元的梯度", "Gradients of the sigmoid neuron"),
    parts=tuple(Part(n) for n in ("f", "dw0", "dx0", "dw1", "dx1", "dw2")), build=neuron,
    mistakes=(ACTIVATION_FOR_DERIVATIVE.with_make(
        lambda p: {k: v / (1 - neuron(p)["f"]) for k, v in neuron(p).items() if k != "f"}),),
)
Q5 = Question(
    id="A1.q5", title=msg("自动微分的计算轨迹 h1…h6", "The autodiff trace h1…h6"),
    parts=tuple(Part(n) for n in (*TRACE_LOCAL, "dfdw", "dfdb")), build=trace,
)

QUESTIONS = (Q1, Q2, Q3, Q4, Q5)

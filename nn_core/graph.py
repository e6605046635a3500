"""A1 — a scalar computational-graph engine (seeds 000, 002, 003).

micrograd's economy: every operation computes its value **and** its local
gradients ``∂node/∂parent`` in one place; ``backward`` then applies the chain
rule in reverse topological order,

    ∂f/∂parent  +=  ∂f/∂node · ∂node/∂parent       (downstream = upstream × local),

where ``∂f/∂node`` (``node.grad``) is the node's *upstream* gradient (上游梯度)
and ``∂node/∂parent`` its *local* gradient (局部梯度). The ``+=`` is the copy
gate: a node used twice collects the sum of the gradients of its uses.

The four gate patterns of seed 000 fall out of the local gradients:
add ``(1, 1)`` distributes, mul ``(b, a)`` swaps the multiplier, copy adds,
max ``(1, 0)`` or ``(0, 1)`` routes to the larger input (on a tie, to the first
operand). ``relu'(0) = 0``, as in the rest of :mod:`nn_core`.

A number mixed into an expression (``3 * v``, ``h4 + 1``) becomes a constant
leaf; :func:`trace_table` hides constants unless asked. Every value must be a
finite real number: a non-numeric or non-finite input, an overflow, ``log``
of a non-positive number or a division by zero raises ``ValueError`` naming
the node.
"""
from __future__ import annotations

import itertools
import math
import numbers

import numpy as np

__all__ = ["Value", "trace_table", "format_table", "example_fxyz", "example_J",
           "sigmoid_neuron", "autodiff_trace", "gate_backward", "GATES"]

_ids = itertools.count()       # creation order = a forward (topological) order


def _real(x, where: str) -> float:
    """``x`` as a finite Python float, or a ValueError naming ``where``."""
    if isinstance(x, np.ndarray) and x.ndim == 0:
        x = x[()]
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real):
        raise ValueError(f"{where}: data must be a real number, got {type(x).__name__} {x!r}")
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"{where}: data is {x}, not a finite number")
    return x


def _lift(x, node: "Value") -> "Value":
    """A number combined with ``node`` becomes a constant leaf."""
    if isinstance(x, Value):
        return x
    try:
        return Value(x, _op="const")
    except ValueError as exc:
        raise ValueError(f"graph: operand combined with {node.name}: {exc}") from None


def _apply(op: str, parents: tuple, forward, local) -> "Value":
    """The node ``op(parents)``: value ``forward()``, local grads ``local(value)``."""
    def at():
        return ", ".join(f"{p.name} = {p.data:g}" for p in parents)
    try:
        out = forward()
        if isinstance(out, complex):
            raise ValueError("the result is complex")
        grads = tuple(float(g) for g in local(out))
    except (OverflowError, ZeroDivisionError, ValueError, TypeError) as exc:
        raise ValueError(f"graph: {op} node is undefined at {at()} ({exc})") from None
    if not math.isfinite(out) or not all(map(math.isfinite, grads)):
        raise ValueError(f"graph: {op} node at {at()} gives value {out} and local gradients "
                         f"{grads}: not all finite")
    return Value(out, _parents=parents, _local=grads, _op=op)


def _sigmoid(x: float) -> float:
    """Stable ``σ(x) = 1/(1+e^{−x})``: only ``e^{−|x|}`` is ever computed."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


class Value:
    """A scalar node of a computational graph.

    Attributes: ``data`` (forward value), ``grad`` (``∂f/∂node`` after
    ``f.backward()``), ``label``, ``op`` (``""`` for an input, ``"const"`` for
    a lifted number), ``parents`` (input nodes, in operand order) and
    ``local_grads`` (``∂node/∂parent`` for each parent, same order).
    """

    def __init__(self, data, label: str = "", *, _parents=(), _local=(), _op: str = ""):
        self.label = str(label)
        self.data = _real(data, f"Value {self.label!r}" if self.label else "Value")
        self.grad = 0.0
        self.parents = tuple(_parents)
        self.local_grads = tuple(_local)
        self.op = _op
        self._id = next(_ids)

    @property
    def name(self) -> str:
        """The label, else the value of a constant, else ``<op>``."""
        if self.label:
            return self.label
        return f"{self.data:g}" if self.op == "const" else f"<{self.op or 'input'}>"

    def named(self, label: str) -> "Value":
        """Set the label and return the node (``q = (x + y).named("q")``)."""
        self.label = str(label)
        return self

    def __repr__(self):
        return f"Value({self.name!r}, data={self.data:.6g}, grad={self.grad:.6g})"

    # -- binary gates: value and local gradients side by side ---------------------
    def __add__(self, other):             # ∂(a+b)/∂a = 1, ∂/∂b = 1
        other = _lift(other, self)
        return _apply("+", (self, other), lambda: self.data + other.data, lambda o: (1, 1))

    def __sub__(self, other):             # ∂(a−b)/∂a = 1, ∂/∂b = −1
        other = _lift(other, self)
        return _apply("-", (self, other), lambda: self.data - other.data, lambda o: (1, -1))

    def __mul__(self, other):             # ∂(ab)/∂a = b, ∂/∂b = a
        other = _lift(other, self)
        a, b = self.data, other.data
        return _apply("*", (self, other), lambda: a * b, lambda o: (b, a))

    def __truediv__(self, other):         # ∂(a/b)/∂a = 1/b, ∂/∂b = −a/b²
        other = _lift(other, self)
        a, b = self.data, other.data
        return _apply("/", (self, other), lambda: a / b, lambda o: (1 / b, -a / b**2))

    def max(self, other):
        """``max(a, b)``; local ``(1, 0)`` if ``a ≥ b`` else ``(0, 1)`` — a tie routes
        the gradient to the first operand."""
        other = _lift(other, self)
        first = self.data >= other.data
        return _apply("max", (self, other), lambda: max(self.data, other.data),
                      lambda o: (1, 0) if first else (0, 1))

    def __radd__(self, other):
        return _lift(other, self) + self

    def __rsub__(self, other):
        return _lift(other, self) - self

    def __rmul__(self, other):
        return _lift(other, self) * self

    def __rtruediv__(self, other):
        return _lift(other, self) / self

    # -- unary gates ---------------------------------------------------------------
    def __pow__(self, k):                 # ∂xᵏ/∂x = k xᵏ⁻¹ (k a number)
        if isinstance(k, Value):
            raise ValueError(f"graph: {self.name} ** {k.name}: the exponent must be a number "
                             f"(write exp(k * log(x)) for a variable exponent)")
        k = _real(k, f"graph: exponent of {self.name}")
        x = self.data
        return _apply(f"**{k:g}", (self,), lambda: x ** k,
                      lambda o: (k * x ** (k - 1) if k != 0 else 0.0,))

    def __neg__(self):                    # ∂(−x)/∂x = −1
        return _apply("neg", (self,), lambda: 0.0 - self.data, lambda o: (-1,))   # no −0.0

    def exp(self):                        # ∂eˣ/∂x = eˣ
        return _apply("exp", (self,), lambda: math.exp(self.data), lambda o: (o,))

    def log(self):                        # ∂ln x/∂x = 1/x, x > 0
        def forward():
            if self.data <= 0:
                raise ValueError("log needs a positive input")
            return math.log(self.data)
        return _apply("log", (self,), forward, lambda o: (1 / self.data,))

    def sigmoid(self):                    # σ' = σ(1 − σ), from the output alone
        return _apply("sigmoid", (self,), lambda: _sigmoid(self.data), lambda s: (s * (1 - s),))

    def tanh(self):                       # tanh' = 1 − tanh²
        return _apply("tanh", (self,), lambda: math.tanh(self.data), lambda t: (1 - t * t,))

    def relu(self):                       # relu' = 1 for x > 0, 0 for x ≤ 0
        return _apply("relu", (self,), lambda: max(self.data, 0.0),
                      lambda o: (1.0 if self.data > 0 else 0.0,))

    # -- reverse mode ----------------------------------------------------------------
    def nodes(self) -> list["Value"]:
        """Every node this one depends on (itself included), in forward order."""
        seen, stack = {id(self): self}, [self]
        while stack:
            for p in stack.pop().parents:
                if id(p) not in seen:
                    seen[id(p)] = p
                    stack.append(p)
        return sorted(seen.values(), key=lambda v: v._id)   # parents are created first

    def backward(self, grad: float = 1.0) -> None:
        """Set ``node.grad = ∂self/∂node`` (times ``grad``) for every node of the graph.

        Grads of the graph are zeroed first, so calling twice does not double them.
        """
        order = self.nodes()
        for v in order:
            v.grad = 0.0
        self.grad = _real(grad, f"backward of {self.name}: upstream gradient")
        for v in reversed(order):
            for p, local in zip(v.parents, v.local_grads):
                p.grad += v.grad * local                     # copy gate: +=


# -- tables --------------------------------------------------------------------------
def _atomic(name: str) -> bool:
    """No operator outside parentheses (a leading unary minus is fine)."""
    depth = 0
    for i, ch in enumerate(name):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and i > 0 and ch in "+-*/ ":
            return False
    return True


def _expr(v: Value, name) -> str:
    """``"q * z"``, ``"exp(h3)"``, ``"1 / (1+exp(-s))"``: the node's formula."""
    args = [p.name if p.op == "const" else name[id(p)] for p in v.parents]
    if v.op in ("+", "-", "*", "/", "neg") or v.op.startswith("**"):
        args = [a if p.op == "const" or _atomic(a) else f"({a})" for a, p in zip(args, v.parents)]
    if not v.op:
        return "input"
    if v.op == "const":
        return "constant"
    if v.op in ("+", "-", "*", "/"):
        return f"{args[0]} {v.op} {args[1]}"
    if v.op.startswith("**"):
        return f"{args[0]}{v.op}"
    if v.op == "neg":
        return f"-{args[0]}"
    return f"{v.op}({', '.join(args)})"


def trace_table(output: Value, constants: bool = False) -> list[dict]:
    """One row per node of ``output``'s graph, in forward order.

    Row keys: ``node`` (label; ``_k`` for an unlabeled node, ``label_k`` for a
    repeated label, k the position in forward order), ``op``, ``expr``,
    ``value``, ``upstream`` (``∂f/∂node`` = ``node.grad``: run
    ``output.backward()`` first), ``inputs`` (parent names), ``local``
    (``∂node/∂input`` per input) and ``downstream`` (``upstream · local`` per
    input: that input's share of ``∂f/∂input``). Constant leaves are left out
    of the rows and of ``inputs``/``local`` unless ``constants=True``.
    """
    if not isinstance(output, Value):
        raise ValueError(f"trace_table: output must be a Value, got {type(output).__name__}")
    order = output.nodes()
    name, used = {}, set()
    for k, v in enumerate(order):
        n = v.label or (v.name if v.op == "const" else f"_{k}")
        name[id(v)] = n if n not in used else f"{n}_{k}"   # repeated labels made unique
        used.add(name[id(v)])
    rows = []
    for v in order:
        if v.op == "const" and not constants:
            continue
        keep = [(p, g) for p, g in zip(v.parents, v.local_grads)
                if constants or p.op != "const"]
        rows.append({"node": name[id(v)], "op": v.op or "input", "expr": _expr(v, name),
                     "value": v.data, "upstream": v.grad,
                     "inputs": tuple(name[id(p)] for p, _ in keep),
                     "local": tuple(g for _, g in keep),
                     "downstream": tuple(v.grad * g for _, g in keep)})
    return rows


def format_table(rows: list[dict], digits: int = 4) -> str:
    """Plain-text table of :func:`trace_table` rows (numbers to ``digits`` significant)."""
    num = lambda x: f"{x:.{digits}g}"                      # noqa: E731
    head = ("node", "= expression", "value", "upstream ∂f/∂node",
            "local ∂node/∂input", "downstream ∂f/∂input")
    body = [(r["node"], r["expr"], num(r["value"]), num(r["upstream"]),
             ", ".join(f"{i}: {num(g)}" for i, g in zip(r["inputs"], r["local"])),
             ", ".join(f"{i}: {num(g)}" for i, g in zip(r["inputs"], r["downstream"])))
            for r in rows]
    width = [max(len(str(c)) for c in col) for col in zip(head, *body)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, width)).rstrip()  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in width])] + [line(b) for b in body])


# -- the lectures' graphs -------------------------------------------------------------
def _inputs(**kw) -> dict[str, Value]:
    return {k: Value(v, k) for k, v in kw.items()}


def example_fxyz(x=-2.0, y=5.0, z=-4.0, backward: bool = True):
    """``f(x, y, z) = (x + y) z`` as ``q = x + y``, ``f = q z`` (seed 000 例1, seed 003).

    Returns ``(f, nodes)``; at (−2, 5, −4): q = 3, f = −12,
    ∂f/∂x = ∂f/∂y = z = −4, ∂f/∂z = q = 3.
    """
    n = _inputs(x=x, y=y, z=z)
    n["q"] = (n["x"] + n["y"]).named("q")
    n["f"] = (n["q"] * n["z"]).named("f")
    if backward:
        n["f"].backward()
    return n["f"], n


def example_J(a=5.0, b=3.0, c=2.0, backward: bool = True):
    """``J = 3(a + bc)`` as ``u = bc``, ``v = a + u``, ``J = 3v`` (seed 002).

    Returns ``(J, nodes)``; at (5, 3, 2): u = 6, v = 11, J = 33,
    dJ/da = 3, dJ/db = 3c = 6, dJ/dc = 3b = 9.
    """
    n = _inputs(a=a, b=b, c=c)
    n["u"] = (n["b"] * n["c"]).named("u")
    n["v"] = (n["a"] + n["u"]).named("v")
    n["J"] = (3 * n["v"]).named("J")
    if backward:
        n["J"].backward()
    return n["J"], n


def sigmoid_neuron(w=(2.0, -3.0, -3.0), x=(-1.0, -2.0), shortcut: bool = False,
                   backward: bool = True):
    """``f = 1/(1 + e^{−(w0·x0 + w1·x1 + w2)})`` (seed 003's 例).

    ``shortcut=False``: one gate per primitive op, ``w0x0 = w0·x0``,
    ``w1x1 = w1·x1``, ``w0x0+w1x1``, ``s = … + w2``, ``-s``, ``exp(-s)``,
    ``1+exp(-s)``, ``f = 1/(1+exp(-s))``. ``shortcut=True``: one sigmoid gate
    ``f = σ(s)`` with local gradient ``σ(s)(1 − σ(s)) = (1 − f) f``.
    Returns ``(f, nodes)``; at the default: f ≈ 0.731, ∂f/∂w0 ≈ −0.197,
    ∂f/∂x0 ≈ 0.393, ∂f/∂w1 ≈ −0.393, ∂f/∂x1 ≈ −0.590, ∂f/∂w2 ≈ 0.197.
    """
    if len(w) != 3 or len(x) != 2:
        raise ValueError(f"sigmoid_neuron: needs w = (w0, w1, w2) and x = (x0, x1), "
                         f"got {len(w)} weights and {len(x)} inputs")
    n = _inputs(w0=w[0], x0=x[0], w1=w[1], x1=x[1], w2=w[2])
    n["w0x0"] = (n["w0"] * n["x0"]).named("w0x0")
    n["w1x1"] = (n["w1"] * n["x1"]).named("w1x1")
    n["w0x0+w1x1"] = (n["w0x0"] + n["w1x1"]).named("w0x0+w1x1")
    n["s"] = (n["w0x0+w1x1"] + n["w2"]).named("s")
    if shortcut:
        n["f"] = n["s"].sigmoid().named("f")
    else:
        n["-s"] = (-n["s"]).named("-s")
        n["exp(-s)"] = n["-s"].exp().named("exp(-s)")
        n["1+exp(-s)"] = (n["exp(-s)"] + 1).named("1+exp(-s)")
        n["f"] = (1 / n["1+exp(-s)"]).named("f")
    if backward:
        n["f"].backward()
    return n["f"], n


def autodiff_trace(x=1.0, w=0.0, b=0.0, backward: bool = True):
    """``f(x; w, b) = 1/(exp(−(wx + b)) + 1)`` as h1 = xw, h2 = h1 + b, h3 = −h2,
    h4 = exp(h3), h5 = h4 + 1, h6 = 1/h5 (seed 002).

    Local derivatives: ∂h1/∂x = w, ∂h1/∂w = x, ∂h2/∂h1 = ∂h2/∂b = 1,
    ∂h3/∂h2 = −1, ∂h4/∂h3 = e^{h3}, ∂h5/∂h4 = 1, ∂h6/∂h5 = −1/h5².
    Returns ``(h6, nodes)``; at (1, 0, 0): ∂f/∂w = ∂f/∂b = 0.25.
    """
    n = _inputs(x=x, w=w, b=b)
    n["h1"] = (n["x"] * n["w"]).named("h1")
    n["h2"] = (n["h1"] + n["b"]).named("h2")
    n["h3"] = (-n["h2"]).named("h3")
    n["h4"] = n["h3"].exp().named("h4")
    n["h5"] = (n["h4"] + 1).named("h5")
    n["h6"] = (1 / n["h5"]).named("h6")
    if backward:
        n["h6"].backward()
    return n["h6"], n


GATES = ("add", "mul", "copy", "max")


def gate_backward(kind: str, inputs, upstream):
    """Input gradients of one gate of seed 000, computed by the engine.

    * ``"add"``, inputs ``(x, y)``, upstream ``g``: ``(g, g)`` — distributor;
    * ``"mul"``, inputs ``(x, y)``: ``(g·y, g·x)`` — swap multiplier;
    * ``"max"``, inputs ``(x, y)``: ``(g, 0)`` if ``x ≥ y`` else ``(0, g)`` — router;
    * ``"copy"``, inputs ``(x,)``, upstream ``(g1, g2, …)`` (one gradient per
      use of x): ``(g1 + g2 + …,)`` — gradient adder.

    Returns a tuple of floats, one per input.
    """
    if kind not in GATES:
        raise ValueError(f"gate_backward: unknown gate {kind!r}; choose one of {GATES}")
    inputs = tuple(np.atleast_1d(np.asarray(inputs, dtype=object)).tolist())
    need = 1 if kind == "copy" else 2
    if len(inputs) != need:
        raise ValueError(f"gate_backward({kind!r}): needs {need} input(s), got {len(inputs)}")
    xs = [Value(v, f"{kind} input {i}") for i, v in enumerate(inputs)]
    if kind == "copy":
        ups = np.atleast_1d(np.asarray(upstream, dtype=object)).tolist()
        if len(ups) < 1:
            raise ValueError("gate_backward('copy'): needs one upstream gradient per use")
        gs = [Value(g, f"copy upstream {k}") for k, g in enumerate(ups)]
        out = gs[0] * xs[0]                    # Σ_k g_k·x uses x once per branch
        for g in gs[1:]:
            out = out + g * xs[0]
        out.backward()
    else:
        out = {"add": xs[0] + xs[1], "mul": xs[0] * xs[1], "max": xs[0].max(xs[1])}[kind]
        out.backward(_real(upstream, f"gate_backward({kind!r}): upstream"))
    return tuple(v.grad for v in xs)

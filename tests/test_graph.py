"""The scalar computational-graph engine (A1).

The lecture numbers below are typed from docs/exercises.md (A1) and
seed 003's slides — an independent reference, not output of the code under
test. Random expressions are checked against PyTorch autograd and finite
differences.
"""
import math

import numpy as np
import pytest
import torch

from nn_core.gradcheck import numerical_gradient
from nn_core.graph import (GATES, Value, autodiff_trace, example_fxyz, example_J, format_table,
                           gate_backward, sigmoid_neuron, trace_table)


def rows_by_node(out, **kw):
    return {r["node"]: r for r in trace_table(out, **kw)}


# -- the lectures' numbers -------------------------------------------------------------
def test_fxyz_forward_backward_and_table():
    f, n = example_fxyz()
    assert n["q"].data == 3 and f.data == -12
    assert (n["x"].grad, n["y"].grad, n["z"].grad) == (-4, -4, 3)
    rows = rows_by_node(f)
    assert rows["q"]["local"] == (1, 1) and rows["q"]["upstream"] == -4     # ∂f/∂q = z
    assert rows["f"]["inputs"] == ("q", "z") and rows["f"]["local"] == (-4, 3)
    assert rows["x"]["upstream"] == -4 and rows["z"]["upstream"] == 3


def test_J_forward_backward_and_finite_difference():
    J, n = example_J()
    assert (n["u"].data, n["v"].data, J.data) == (6, 11, 33)
    assert (n["a"].grad, n["b"].grad, n["c"].grad) == (3, 6, 9)
    assert n["u"].grad == 3 and n["v"].grad == 3                           # dJ/du, dJ/dv
    J2, n2 = example_J(b=3.001)
    assert n2["u"].data == pytest.approx(6.002) and n2["v"].data == pytest.approx(11.002)
    assert J2.data == pytest.approx(33.006, abs=1e-9)
    assert (J2.data - J.data) / 0.001 == pytest.approx(n["b"].grad, rel=1e-6)


@pytest.mark.parametrize("shortcut", [False, True])
def test_sigmoid_neuron_lecture_values(shortcut):
    f, n = sigmoid_neuron(shortcut=shortcut)
    assert round(f.data, 3) == 0.731
    expected = {"w0": -0.197, "x0": 0.393, "w1": -0.393, "x1": -0.590, "w2": 0.197}
    for k, g in expected.items():
        assert round(n[k].grad, 3) == g, k
    if shortcut:                                # one gate, local σ(1 − σ) = (1 − f) f
        assert n["f"].op == "sigmoid"
        assert n["f"].local_grads == pytest.approx(((1 - f.data) * f.data,), rel=1e-15)
    else:                                       # seed 003: the slide's gate-by-gate numbers
        rows = rows_by_node(f)
        assert round(rows["f"]["local"][0], 2) == -0.53                  # −1/1.37²
        assert round(rows["1+exp(-s)"]["upstream"], 2) == -0.53
        assert round(rows["exp(-s)"]["downstream"][0], 1) == -0.2        # −0.53 · e^{−1}
        assert round(rows["-s"]["downstream"][0], 1) == 0.2              # −0.2 · (−1)
        assert [round(g, 1) for g in rows["s"]["downstream"]] == [0.2, 0.2]
        assert [round(g, 1) for g in rows["w0x0"]["downstream"]] == [-0.2, 0.4]


def test_sigmoid_neuron_primitive_and_shortcut_agree():
    f1, n1 = sigmoid_neuron((0.3, -1.2, 0.7), (2.0, 0.5))
    f2, n2 = sigmoid_neuron((0.3, -1.2, 0.7), (2.0, 0.5), shortcut=True)
    assert f1.data == pytest.approx(f2.data, rel=1e-15)
    for k in ("w0", "x0", "w1", "x1", "w2"):
        assert n1[k].grad == pytest.approx(n2[k].grad, rel=1e-14)


def test_autodiff_trace_local_derivatives():
    f, n = autodiff_trace()
    rows = rows_by_node(f)
    assert [n[f"h{k}"].data for k in range(1, 7)] == [0, 0, 0, 1, 2, 0.5]
    assert rows["h1"]["inputs"] == ("x", "w") and rows["h1"]["local"] == (0, 1)   # w, x
    assert rows["h2"]["local"] == (1, 1)
    assert rows["h3"]["local"] == (-1,)
    assert rows["h4"]["local"] == (1,)                                              # e^{h3}
    assert rows["h5"]["inputs"] == ("h4",) and rows["h5"]["local"] == (1,)
    assert rows["h6"]["inputs"] == ("h5",) and rows["h6"]["local"] == (-0.25,)      # −1/h5²
    assert n["w"].grad == 0.25 and n["b"].grad == 0.25
    # the product of local derivatives along h6 → … → h1 → w
    assert math.prod([-0.25, 1, 1, -1, 1, 1]) == n["w"].grad


# -- the four gates (seed 000) ----------------------------------------------------------
def test_gate_patterns():
    assert gate_backward("add", (3.0, -7.0), 2.5) == (2.5, 2.5)
    assert gate_backward("mul", (3.0, -7.0), 2.0) == (-14.0, 6.0)
    assert gate_backward("max", (3.0, -7.0), 2.0) == (2.0, 0.0)
    assert gate_backward("max", (-7.0, 3.0), 2.0) == (0.0, 2.0)
    assert gate_backward("max", (1.0, 1.0), 2.0) == (2.0, 0.0)       # tie: first operand
    assert gate_backward("copy", 4.0, (1.5, -0.5, 2.0)) == (3.0,)
    assert GATES == ("add", "mul", "copy", "max")
    with pytest.raises(ValueError, match="unknown gate"):
        gate_backward("div", (1, 2), 1)
    with pytest.raises(ValueError, match="needs 2"):
        gate_backward("mul", (1,), 1)
    with pytest.raises(ValueError, match="mul input 1"):
        gate_backward("mul", (1, float("nan")), 1)


def test_node_used_twice_accumulates():
    x, y = Value(3.0, "x"), Value(-2.0, "y")
    a = x * y
    f = a * x + a                      # x used by two gates, a used twice
    f.backward()
    assert x.grad == 2 * 3 * -2 + -2   # ∂(x²y + xy)/∂x = 2xy + y
    assert y.grad == 9 + 3             # x² + x
    f.backward()                       # grads are reset, not doubled
    assert x.grad == -14
    z = Value(1.5, "z")
    s = z * z
    s.backward()
    assert z.grad == 3.0
    assert s.parents == (z, z) and s.local_grads == (1.5, 1.5)


def test_relu_max_and_stable_sigmoid_conventions():
    x = Value(0.0, "x")
    r = x.relu()
    r.backward()
    assert r.data == 0 and x.grad == 0                 # relu'(0) = 0
    lo, hi = Value(-800.0, "lo"), Value(800.0, "hi")
    s_lo, s_hi = lo.sigmoid(), hi.sigmoid()
    assert s_lo.data == 0.0 and s_hi.data == 1.0       # no overflow
    assert Value(-30.0).sigmoid().data == pytest.approx(math.exp(-30) / (1 + math.exp(-30)),
                                                        rel=1e-15)


@pytest.mark.parametrize("bad", ["a", None, True, float("nan"), float("inf"), 1 + 2j, [1.0]])
def test_non_numeric_or_non_finite_input_names_the_node(bad):
    with pytest.raises(ValueError, match="'w0'"):
        Value(bad, "w0")


def test_undefined_operations_name_the_node():
    z = Value(0.0, "zed")
    for make in (lambda: z.log(), lambda: 1 / z, lambda: z ** -1, lambda: z ** 0.5,
                 lambda: Value(-8.0, "zed") ** (1 / 3), lambda: Value(1000.0, "zed").exp(),
                 lambda: Value(1e200, "zed") * 1e200):
        with pytest.raises(ValueError, match="zed"):
            make()
    with pytest.raises(ValueError, match="exponent"):
        Value(2.0, "zed") ** Value(3.0)
    with pytest.raises(ValueError, match="trace_table"):
        trace_table(3.0)


# -- tables ------------------------------------------------------------------------------
def check_chain_rule_in_table(out):
    rows = trace_table(out, constants=True)
    index = {r["node"]: i for i, r in enumerate(rows)}
    total = {r["node"]: 0.0 for r in rows}
    for i, r in enumerate(rows):
        assert all(index[p] < i for p in r["inputs"])                   # forward order
        for p, up_times_local, local in zip(r["inputs"], r["downstream"], r["local"]):
            assert up_times_local == r["upstream"] * local
            total[p] += up_times_local
    for r in rows[:-1]:                   # upstream(parent) = Σ upstream(child)·local
        assert r["upstream"] == pytest.approx(total[r["node"]], rel=1e-14, abs=1e-15)
    assert rows[-1]["upstream"] == 1.0 and rows[-1]["node"] == (out.label or rows[-1]["node"])


def test_table_rows_obey_the_chain_rule():
    for build in (example_fxyz, example_J, autodiff_trace, sigmoid_neuron):
        check_chain_rule_in_table(build()[0])
    x, y = Value(0.7, "x"), Value(-1.3, "y")
    f = (x * y + x.exp()) * (y - x).tanh() + x
    f.backward()
    check_chain_rule_in_table(f)


def test_format_table_lists_every_node():
    f, n = sigmoid_neuron()
    rows = trace_table(f)
    text = format_table(rows, digits=3)
    lines = text.splitlines()
    assert len(lines) == len(rows) + 2
    assert "upstream" in lines[0] and "local" in lines[0]
    for r, line in zip(rows, lines[2:]):
        assert line.startswith(r["node"])
    assert "1 / (1+exp(-s))" in text and "-0.534" in text and "0.731" in text


# -- random expressions vs PyTorch autograd and finite differences ------------------------
BINARY = ["+", "-", "*", "/", "max"]
UNARY = ["neg", "exp", "log", "sigmoid", "tanh", "relu", "pow2", "pow3", "pow0.5", "pow-1",
         "add_c", "mul_c", "c_div"]


def apply(op, a, b, c, lib):
    """One step of a program on Values (lib='value') or tensors (lib='torch')."""
    T = lib == "torch"
    return {
        "+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b,
        "max": lambda: torch.maximum(a, b) if T else a.max(b),
        "neg": lambda: -a, "exp": lambda: a.exp(), "log": lambda: a.log(),
        "sigmoid": lambda: a.sigmoid(), "tanh": lambda: a.tanh(),
        "relu": lambda: torch.relu(a) if T else a.relu(),
        "pow2": lambda: a ** 2, "pow3": lambda: a ** 3, "pow0.5": lambda: a ** 0.5,
        "pow-1": lambda: a ** -1, "add_c": lambda: a + c, "mul_c": lambda: c * a,
        "c_div": lambda: c / a,
    }[op]()


def acceptable(op, a, b, out):
    """Keep values moderate and away from kinks and singularities."""
    if abs(out) > 1e3:
        return False
    return {"/": abs(b) > 0.3, "max": abs(a - b) > 1e-3, "exp": a < 4, "log": a > 0.1,
            "relu": abs(a) > 1e-3, "pow0.5": a > 0.1, "pow-1": abs(a) > 0.3,
            "c_div": abs(a) > 0.3}.get(op, True)


def random_program(rng, n_leaves=4, n_ops=16):
    leaves = rng.uniform(-2, 2, n_leaves)
    vals = [float(v) for v in leaves]
    prog = []
    while len(prog) < n_ops:
        op = rng.choice(BINARY + UNARY)
        i, j = rng.integers(len(vals), size=2)          # reuse: nodes get used twice
        c = float(rng.uniform(0.5, 2.0))
        try:
            out = apply(op, Value(vals[i]), Value(vals[j]), c, "value").data
        except ValueError:
            continue
        if acceptable(op, vals[i], vals[j], out):
            prog.append((op, int(i), int(j), c))
            vals.append(out)
    return leaves, prog


def run(prog, leaves, lib):
    nodes = list(leaves)
    for op, i, j, c in prog:
        nodes.append(apply(op, nodes[i], nodes[j], c, lib))
    return nodes[-1] + nodes[-2] * nodes[-3] + nodes[len(leaves)]


def test_random_expressions_match_torch_and_finite_differences():
    rng = np.random.default_rng(2024)
    for _ in range(40):
        leaves, prog = random_program(rng)
        xs = [Value(v, f"x{k}") for k, v in enumerate(leaves)]
        out = run(prog, xs, "value")
        out.backward()
        ours = np.array([x.grad for x in xs])

        ts = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in leaves]
        tout = run(prog, ts, "torch")
        tout.backward()
        ref = np.array([0.0 if t.grad is None else t.grad.item() for t in ts])
        assert out.data == pytest.approx(tout.item(), rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)

        arr = leaves.copy()
        fd = numerical_gradient(lambda: run(prog, [Value(v) for v in arr], "value").data, arr)
        np.testing.assert_allclose(ours, fd, rtol=1e-5, atol=1e-6)
        check_chain_rule_in_table(out)

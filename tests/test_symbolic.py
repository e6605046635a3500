"""The SymPy derivations: structure, worked steps, lecture values, timing.

Agreement with the numeric core is in ``test_symbolic_core.py``. Expected
lecture numbers are typed from docs/exercises.md.
"""
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import sympy as sp

from nn_core.symbolic import DERIVATIONS, Derivation, Step, derive

NAMES = sorted(DERIVATIONS)
# sizes other than the defaults, to show the symbolic cases are parametrised
VARIANTS = [("log_softmax", {"K": 5}), ("softmax_jacobian", {"K": 2}),
            ("softmax_cross_entropy", {"K": 4}), ("half_squared_error", {"K": 3}),
            ("conv_backward", {"H": 5, "K": 3}), ("max_pool", {"H": 4, "K": 2, "stride": 1}),
            ("max_pool", {"H": 5, "K": 3, "stride": 2}), ("avg_pool", {"H": 5, "K": 3, "stride": 1}),
            ("backprop_recurrences", {"activation": "sigmoid"})]
ALL = [(n, {}) for n in NAMES] + VARIANTS


def test_timing_import_and_all_derivations():
    """A fresh interpreter imports the package, runs every derivation and builds every
    callable; the budget is generous so the test is not timing-flaky."""
    code = textwrap.dedent("""
        import time
        t0 = time.perf_counter()
        import nn_core.symbolic as S
        t1 = time.perf_counter()
        ds = [S.derive(k) for k in S.DERIVATIONS]
        t2 = time.perf_counter()
        for d in ds:
            for r in d.results:
                d.callable(r)
        t3 = time.perf_counter()
        ds = [S.derive(k) for k in S.DERIVATIONS]   # cached
        t4 = time.perf_counter()
        print(t1 - t0, t2 - t1, t3 - t2, t4 - t3)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    t_import, t_derive, t_callables, t_cached = map(float, out.split())
    print(f"\nnn_core.symbolic: import {t_import:.2f} s, all {len(NAMES)} derivations "
          f"{t_derive:.2f} s, all callables {t_callables:.2f} s, cached re-derive "
          f"{t_cached * 1e3:.2f} ms")
    assert t_import + t_derive < 20              # hang guards, not speed requirements
    assert t_import + t_derive + t_callables < 30
    assert all(derive(k) is derive(k) for k in DERIVATIONS)           # cached


@pytest.mark.parametrize("name", NAMES)
def test_structure(name):
    d = derive(name)
    assert isinstance(d, Derivation) and d.name == name
    assert derive(name) is d                                   # cached
    assert d.statement["zh"].strip() and d.statement["en"].strip()
    assert d.steps and all(isinstance(s, Step) for s in d.steps)
    assert all(s.caption_zh.strip() and s.caption_en.strip() for s in d.steps)
    assert d.results
    for k, e in d.results.items():
        assert isinstance(e, (sp.Basic, sp.MatrixBase)), (k, type(e))
        assert set(d.arg_names(k)) <= set(d.symbols)
        assert callable(d.callable(k)) and d.callable(k) is d.callable(k)


@pytest.mark.parametrize("name,sizes", ALL)
def test_steps_render_to_latex(name, sizes):
    d = derive(name, **sizes)
    tex = d.latex()
    assert len(tex) == len(d.steps)
    assert all(isinstance(t, str) and t.strip() for t in tex)
    assert all(t.count("{") == t.count("}") for t in tex)
    for lang in ("zh", "en"):
        md = d.worked_solution(lang)
        assert d.statement[lang] in md and md.count("$$") == 2 * len(d.steps)


@pytest.mark.parametrize("name,sizes", ALL)
def test_claimed_equalities_hold(name, sizes):
    d = derive(name, **sizes)
    assert d.check_steps() == []


def test_most_derivations_claim_and_check_equalities():
    claims = {n: sum(s.claims_equal for s in derive(n).steps) for n in NAMES}
    assert sum(claims.values()) >= 60
    assert all(claims.values()), claims


def test_a_false_claim_is_caught():
    x, y = sp.symbols("x y")
    X = sp.IndexedBase("X")
    n = sp.Symbol("n", integer=True, positive=True)
    i = sp.Symbol("i", integer=True)
    cases = [
        [Step(x**2, "", "a"), Step(2 * x, "", "b", True)],                      # calculus slip
        [Step(sp.Matrix([[x, y]]), "", "a"), Step(sp.Matrix([[y, x]]), "", "b", True)],
        [Step(sp.Matrix([x, y]), "", "a"), Step(sp.Matrix([[x, y]]), "", "b", True)],  # shape
        [Step(sp.Sum(X[i], (i, 0, n - 1)) / n, "", "a"),
         Step(sp.Sum(X[i], (i, 0, n - 1)), "", "b", True)],                     # 1/n dropped
        [Step(sp.Piecewise((1, x > 0), (0, True)), "", "a"), Step(sp.Integer(1), "", "b", True)],
    ]
    for steps in cases:
        d = Derivation("bad", {"zh": "", "en": ""}, steps, {}, {})
        assert len(d.check_steps()) == 1


# -- lecture values (docs/exercises.md) ------------------------------------------------------
def test_a1_chain_rule_formulas():
    d = derive("chain_rule_uv")
    x, y = d.symbols["x"], d.symbols["y"]
    assert sp.simplify(d.results["dz_dx"] - (2 * x * y**2 + 2 * x / y**2)) == 0
    assert sp.simplify(d.results["dz_dy"] - (2 * x**2 * y - 2 * x**2 / y**3)) == 0


def test_a1_graph_values():
    d = derive("graph_add_mul")
    vals = {k: float(d.callable(k)(-2, 5, -4)) for k in ("q", "f", "df_dx", "df_dy", "df_dz")}
    assert vals == {"q": 3, "f": -12, "df_dx": -4, "df_dy": -4, "df_dz": 3}
    d = derive("graph_J")
    vals = {k: float(d.callable(k)(5, 3, 2)) for k in ("u", "v", "J", "dJ_da", "dJ_db", "dJ_dc")}
    assert vals == {"u": 6, "v": 11, "J": 33, "dJ_da": 3, "dJ_db": 6, "dJ_dc": 9}
    assert d.callable("J")(5, 3.001, 2) == pytest.approx(33.006, abs=1e-12)


def test_a1_sigmoid_neuron_values():
    d = derive("sigmoid_neuron")
    at = dict(w0=2, w1=-3, w2=-3, x0=-1, x1=-2)
    got = {k: float(d.callable(k)(**at)) for k in d.results}
    want = {"f": 0.731, "df_dw0": -0.197, "df_dx0": 0.393, "df_dw1": -0.393,
            "df_dx1": -0.590, "df_dw2": 0.197}
    for k, v in want.items():
        assert got[k] == pytest.approx(v, abs=5e-4), k


def test_a1_autodiff_trace_values():
    d = derive("autodiff_trace")
    assert d.results["df_dw"].subs({d.symbols["x"]: 1, d.symbols["w"]: 0, d.symbols["b"]: 0}) \
        == sp.Rational(1, 4)
    assert float(d.callable("df_dw")(1, 0, 0)) == 0.25
    assert float(d.callable("df_db")(1, 0, 0)) == 0.25
    local = {k: float(d.callable(k)(1, 0, 0)) for k in
             ("dh6_dh5", "dh5_dh4", "dh4_dh3", "dh3_dh2", "dh2_dh1", "dh1_dw")}
    assert local == {"dh6_dh5": -0.25, "dh5_dh4": 1, "dh4_dh3": 1, "dh3_dh2": -1,
                     "dh2_dh1": 1, "dh1_dw": 1}


def test_a2_sigmoid_max_grad_and_forms():
    d = derive("sigmoid")
    assert d.results["max_grad"] == sp.Rational(1, 4)
    assert d.results["argmax_grad"] == 0
    L = d.symbols["L"]
    assert sp.simplify(d.results["chain_bound"] - 4**(-L)) == 0
    x, s = d.symbols["x"], d.symbols["s"]
    e = sp.exp(-x)
    assert sp.simplify((d.results["sigmoid_grad"] - e / (1 + e)**2).rewrite(sp.exp)
                       .replace(d.results["sigmoid"].func, lambda t: 1 / (1 + sp.exp(-t)))) == 0
    assert sp.expand(d.results["grad2_in_s"] - s * (1 - s) * (1 - 2 * s)) == 0
    grid = np.linspace(-10, 10, 20001)
    assert d.callable("sigmoid_grad")(grid).max() == pytest.approx(0.25, abs=1e-12)


def test_a2_relu_value_at_zero_and_softplus_is_sigma():
    assert derive("relu").results["relu_grad_at_0"] == 0
    d = derive("softplus")
    assert d.results["softplus_grad"] == derive("sigmoid").results["sigmoid"]


def test_a2_output_layer_formulas():
    d = derive("sigmoid_bce")
    a, y = d.symbols["a"], d.symbols["y"]
    assert sp.simplify(sp.diff(d.results["loss"], a) - d.results["dL_da"]) == 0
    d = derive("softmax_cross_entropy", K=3)
    x, yv = d.symbols["x"], d.symbols["y"]
    s = d.results["softmax"]
    assert sp.simplify(d.results["grad"] - (s - yv)) == sp.zeros(3, 1)


def test_a3_lecture_values():
    d = derive("a3_network")
    args = dict(x=[0.5, -1.5], W1=[[0.4, -0.2], [-0.1, 0.3]], b1=[0.1, -0.3], W2=[[0.2, -0.5]],
                b2=[0.05], t=[0.3])
    fwd = {k: args[k] for k in d.arg_names("z1")}
    np.testing.assert_allclose(d.callable("z1")(**fwd), [0.6, -0.8], atol=1e-12)
    np.testing.assert_allclose(d.callable("h")(**fwd), [0.645656, 0.310026], atol=5e-7)
    np.testing.assert_allclose(d.callable("y")(**fwd), [0.0241185], atol=5e-8)
    np.testing.assert_allclose(d.callable("dW2")(**args), [[-0.178125, -0.085530]], atol=5e-7)
    np.testing.assert_allclose(d.callable("db2")(**args), [-0.275882], atol=5e-7)
    np.testing.assert_allclose(d.callable("dW1")(**args),
                               [[-0.006312, 0.018935], [0.014753, -0.044260]], atol=5e-7)
    np.testing.assert_allclose(d.callable("db1")(**args), [-0.012623, 0.029507], atol=5e-7)


def test_a4_lecture_values():
    d = derive("a4_relu_network")
    args = dict(x=[0.2, 0.3], W1=[[0.1, 0.4], [-0.5, 0.2]], b1=[0.1, -0.1], W2=[[0.6, 0.8]],
                b2=[0.2], y=[1.0], eta=1.0)

    def call(k):
        return d.callable(k)(**{a: args[a] for a in d.arg_names(k)})

    np.testing.assert_allclose(call("z1"), [0.24, -0.14], atol=1e-12)
    np.testing.assert_allclose(call("yhat"), [0.344], atol=1e-12)
    assert call("loss") == pytest.approx(0.215168, abs=1e-12)
    np.testing.assert_allclose(call("dW2"), [[-0.15744, 0]], atol=1e-12)
    np.testing.assert_allclose(call("db2"), [-0.656], atol=1e-12)
    np.testing.assert_allclose(call("dW1"), [[-0.07872, -0.11808], [0, 0]], atol=1e-12)
    np.testing.assert_allclose(call("db1"), [-0.3936, 0], atol=1e-12)
    np.testing.assert_allclose(call("yhat_new"), [1.374671], atol=5e-7)
    assert call("loss_new") == pytest.approx(0.070189, abs=5e-7)
    assert call("loss_new") < call("loss")


def test_a6_counts_and_leading_terms():
    d = derive("opcount_network")
    n, L, B = (d.symbols[k] for k in "nLB")
    r = d.results
    assert sp.expand(r["forward_mults"] - B * L * n**2) == 0
    assert sp.expand(r["backward_mults"] - B * ((2 * L - 1) * n**2 + L * n)) == 0
    assert sp.expand(r["backward_adds"].subs(B, 1) - (L - 1) * n * (n - 1)) == 0
    assert sp.expand(r["leading_forward_mults"] - B * L * n**2) == 0
    assert sp.expand(r["leading_backward_mults"] - 2 * B * L * n**2) == 0
    assert r["backward_forward_ratio"] == 2


def test_a8_formulas():
    d = derive("weight_decay")
    th, g, eta, lam = (d.symbols[k] for k in ("theta", "g", "eta", "lam"))
    assert sp.expand(d.results["update"] - (th - eta * (g + lam * th))) == 0
    d = derive("dropout")
    assert sp.expand(d.results["train_expectation"] - d.results["test_output"]) == 0
    assert sp.simplify(d.results["inverted_train_expectation"] - d.symbols["a"]) == 0
    d = derive("zero_init_symmetry")
    dW1 = d.results["dW1"]
    assert sp.simplify(dW1[0, :] - dW1[1, :]) == sp.zeros(1, 2)
    assert sp.simplify(d.results["dW2"][0, 0] - d.results["dW2"][0, 1]) == 0


@pytest.mark.parametrize("name, options, match", [
    ("conv_backward", {"Q": 3}, r"unknown option\(s\) Q; it takes H=4, K=2"),
    ("sigmoid", {"K": 3}, "unknown option.*it takes no options"),
    ("conv_backward", {"H": 0}, "H must be an integer from 1 to 8, got 0"),
    ("conv_backward", {"H": 100}, "H must be an integer from 1 to 8, got 100"),   # would not finish
    ("conv_backward", {"H": 2.5}, "H must be an integer"),
    ("log_softmax", {"K": True}, "K must be an integer"),
    ("backprop_recurrences", {"width": 5}, "width must be an integer from 1 to 4"),
    ("backprop_recurrences", {"activation": 3}, "activation must be a string"),
    ("backprop_recurrences", {"activation": "nope"}, "activation='nope' gives no valid case"),
    ("conv_backward", {"H": 2, "K": 3}, r"H=2, K=3 gives no valid case \(a 3×3 kernel"),
    ("max_pool", {"H": 3, "K": 4}, "does not fit in a 3×3 input"),
])
def test_bad_options_name_the_derivation_and_what_it_takes(name, options, match):
    with pytest.raises(ValueError, match=match) as info:
        derive(name, **options)
    assert f"derive({name!r})" in str(info.value)


def test_show_derivation_takes_the_sizes_of_another_case(capsys):
    """Students can look at a case of their own size; the text is derive()'s."""
    from autograder.notebook import show_derivation
    show_derivation("conv_backward", H=5, K=3)
    out = capsys.readouterr().out
    assert "5×5 input, 3×3 kernel" in out and "4×4 input" not in out
    assert derive("conv_backward", H=5, K=3).worked_solution("en") in out
    with pytest.raises(ValueError, match="unknown option"):
        show_derivation("conv_backward", size=5)


def test_unknown_name_is_a_clear_error():
    with pytest.raises(KeyError, match="unknown derivation"):
        derive("no_such_thing")
    with pytest.raises(KeyError, match="no result"):
        derive("relu").callable("nope")

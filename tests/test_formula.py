"""Formula answers: the safe parser, equivalence checking and bilingual messages.

A broad table per course formula question (A1.1, A2.1–A2.4, A6): equal forms
are accepted, typical wrong forms rejected with a counterexample; hostile
strings are refused quickly without running code; the time limit holds.
"""
from __future__ import annotations

import os
import time

import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

from autograder import formula
from autograder.formula import (FUNCTIONS, FormulaError, FormulaResult, check_formula,
                                parse_formula)
from autograder.i18n import LANGUAGES, Message, check_language, msg

x, y = sp.symbols("x y")

# ------------------------------------------------------------------ the course's formulas

SIG1 = "sigmoid(x)*(1 - sigmoid(x))"
SIG2 = "sigmoid(x)*(1 - sigmoid(x))*(1 - 2*sigmoid(x))"
A11_X = "2*x*y**2 + 2*x/y**2"
A11_Y = "2*x**2*y - 2*x**2/y**3"

# (reference, symbols, equal forms, wrong forms, check_formula options)
CASES = {
    "A2.1 sigmoid'": (SIG1, ["x"], [
        "sigmoid(x)*(1-sigmoid(x))", "exp(-x)/(1+exp(-x))^2", "e^(-x)/(1+e^(-x))**2",
        "σ(x)(1−σ(x))", "1/(2+2cosh(x))", "e^{−x}/(1+e^{−x})²", "σ(x) - σ(x)^2",
        "e^x/(1+e^x)^2", "1/(e^(x/2)+e^(-x/2))^2", "sigmoid(x)sigmoid(-x)",
    ], [
        "sigmoid(x)", "sigmoid(x)*(1+sigmoid(x))", "exp(-x)/(1+exp(-x))",
        "σ(x)^2", "1/(1+cosh(x))", "-σ(x)(1-σ(x))",
    ], {}),
    "A2.1 sigmoid''": (SIG2, ["x"], [
        "σ(x)(1-σ(x))(1-2σ(x))", "σ(x) - 3σ(x)^2 + 2σ(x)^3",
        "e^(-x)(e^(-x)-1)/(1+e^(-x))^3", "(e^(-2x) - e^(-x))/(1+e^(-x))^3",
        "sigmoid(x)sigmoid(-x)(sigmoid(-x) - sigmoid(x))",
    ], [
        "σ(x)(1-σ(x))", "σ(x)(1-σ(x))(1+2σ(x))", "σ(x)^2(1-σ(x))",
        "-σ(x)(1-σ(x))(1-2σ(x))", "σ(x)(1-σ(x))(1-σ(x))",
    ], {}),
    "A2.2 tanh'": ("1 - tanh(x)^2", ["x"], [
        "1-tanh(x)^2", "sech(x)^2", "4/(e^x+e^-x)^2", "1/cosh(x)^2",
        "(1-tanh(x))(1+tanh(x))", "4e^(2x)/(e^(2x)+1)^2",
    ], [
        "1+tanh(x)^2", "tanh(x)^2", "sech(x)", "1-tanh(x)", "2/(e^x+e^-x)^2",
    ], {}),
    "A2.2 softplus'": ("sigmoid(x)", ["x"], [
        "σ(x)", "1/(1+e^-x)", "e^x/(1+e^x)", "exp(x)/(exp(x)+1)", "1 - sigmoid(-x)",
    ], [
        "e^x", "log(1+e^x)", "1/(1+e^x)", "softplus(x)",
    ], {}),
    "A2.2 ReLU'": ("heaviside(x)", ["x"], [
        "step(x)", "where(x > 0, 1, 0)", "(sign(x)+1)/2", "max(0, sign(x))",
    ], [
        "relu(x)", "1", "heaviside(-x)", "where(x > 0, 0, 1)",
    ], {}),
    "A2.2 Leaky ReLU'": ("where(x > 0, 1, gamma)", ["x", "gamma"], [
        "heaviside(x) + gamma*heaviside(-x)", "heaviside(x) + γ heaviside(-x)",
        "(1-γ)step(x) + γ", "where(x >= 0, 1, γ)", "where(-x < 0, 1, gamma)",
        "leaky_relu(x, gamma)/x",
    ], [
        "heaviside(x)", "where(x > 0, 1, 0)", "where(x > 0, gamma, 1)", "gamma",
        "heaviside(x) + gamma",
    ], {"domain": {"gamma": (0.01, 0.3)}}),
    "A2.2 ELU'": ("where(x > 0, 1, gamma*exp(x))", ["x", "gamma"], [
        "heaviside(x) + gamma*exp(x)*heaviside(-x)", "where(x > 0, 1, γ e^x)",
        "where(x > 0, 1, elu(x, γ) + γ)", "step(x) + step(-x)(elu(x, gamma) + gamma)",
    ], [
        "where(x > 0, 1, gamma)", "where(x > 0, 1, gamma*(e^x - 1))", "heaviside(x)",
        "where(x > 0, x, gamma*exp(x))",
    ], {"domain": {"gamma": (0.5, 2.0)}}),
    "A2.2 PReLU d/dγ": ("where(x > 0, 0, x)", ["x", "γ"], [
        "min(0, x)", "x heaviside(-x)", "x - relu(x)", "(x - abs(x))/2",
    ], [
        "where(x > 0, 0, 1)", "x", "γ x heaviside(-x)", "max(0, x)",
    ], {}),
    "A2.3 log-softmax": ("delta(i,j) - softmax_j", ["i", "j", "softmax_j"], [
        "δ(i,j) - softmax_j", "-softmax_j + delta(i, j)", "delta(j,i) - softmax_j",
    ], [
        "-softmax_j",                                   # the catalogued missing δ_ij
        "delta(i,j) + softmax_j", "delta(i,j)*(1 - softmax_j)", "softmax_j - delta(i,j)",
    ], {"domain": {"softmax_j": (0.01, 0.99)}}),
    "A1.1 dz/dx": (A11_X, ["x", "y"], [
        "2xy^2 + 2x/y^2", "2*x*(y**2 + 1/y**2)", "2x(y^4+1)/y^2", "2xy² + 2x/y²",
        "2x y^2 + 2 x y^-2", "(2xy^4 + 2x)/y^2", "2·x·y² + 2·x·y⁻²", "2x·[y^2 + y^(-2)]",
    ], [
        "2xy^2 - 2x/y^2",                               # sign error
        "xy^2 + x/y^2",                                 # missing factor 2
        "2xy + 2x/y", "2x^2y - 2x^2/y^3", "2xy^2 + 2x/y",
    ], {}),
    "A1.1 dz/dy": (A11_Y, ["x", "y"], [
        "2x^2y - 2x^2/y^3", "2x^2(y - y^-3)", "2x^2(y^4-1)/y^3", "2x²y − 2x²/y³",
        "2*x**2*y - 2*x**2*y**(-3)",
    ], [
        "2x^2y + 2x^2/y^3",                             # sign error
        "x^2y - x^2/y^3",                               # missing factor 2
        "2x^2y - 2x^2/y^2", "2xy^2 + 2x/y^2",
    ], {}),
    "A6 backward multiplications": ("2*L*n**2", ["L", "n"], [
        "2Ln^2", "2 L n²", "L n^2 + L n^2", "n(2n)L",
    ], [
        "Ln^2",                                         # a missing backward term
        "2Ln", "2L^2n",                                 # off by a factor
    ], {"domain": {"L": [1, 2, 3, 4, 5], "n": [2, 3, 8, 16]}}),
}


def _cases(kind):
    for name, (ref, syms, good, bad, opts) in CASES.items():
        for ans in (good if kind == "good" else bad):
            yield pytest.param(ref, syms, ans, opts, id=f"{name}: {ans}")


@pytest.mark.parametrize("ref, syms, answer, opts", list(_cases("good")))
def test_equal_forms_are_accepted(ref, syms, answer, opts):
    r = check_formula(answer, ref, syms, **opts)
    assert r.status == "correct", r.message
    assert r.correct and r.counterexample is None
    assert r.method in ("numeric", "symbolic", "numeric+symbolic")
    assert isinstance(r.parsed, sp.Expr)


@pytest.mark.parametrize("ref, syms, answer, opts", list(_cases("bad")))
def test_wrong_forms_are_rejected_with_a_counterexample(ref, syms, answer, opts):
    r = check_formula(answer, ref, syms, **opts)
    assert r.status == "wrong", r.message
    assert not r.correct and r.method == "numeric"
    ce = r.counterexample
    assert set(ce["point"]) == {str(s) for s in parse_formula(ref, syms).free_symbols
                                | r.parsed.free_symbols}
    # the counterexample is real: evaluate both at the reported point
    table = {s: sp.Symbol(s) for s in syms}
    subs = {table[k]: sp.Float(repr(v), 30) if isinstance(v, float) else v
            for k, v in ce["point"].items()}
    ref_value = complex(parse_formula(ref, syms).xreplace(subs).evalf(30))
    assert ref_value.real == pytest.approx(ce["reference"], rel=1e-9, abs=1e-12)
    for k, v in ce["point"].items():
        assert f"{k} = " in r.message
    assert "expected value is" not in r.message              # the reference is not quoted


def test_sigmoid_bce_gradient_against_a_sympy_reference():
    """A2.4: the reference is derived by SymPy (nn_core's sigma), the answers are typed."""
    from nn_core.symbolic.functions import sigma
    z, t = sp.symbols("z y")
    loss = -(t * sp.log(sigma(z)) + (1 - t) * sp.log(1 - sigma(z)))
    ref = sp.diff(loss, z)
    opts = {"domain": {"y": (0.0, 1.0)}}
    for good in ["sigmoid(z) - y", "1/(1+e^-z) - y", "-(y(1-σ(z)) - (1-y)σ(z))"]:
        assert check_formula(good, ref, ["z", "y"], **opts).correct, good
    for bad in ["y - sigmoid(z)", "sigmoid(z)", "sigmoid(z)(1-sigmoid(z)) - y"]:
        assert check_formula(bad, ref, ["z", "y"], **opts).status == "wrong", bad


# ------------------------------------------------------------------ SymPy objects

def test_sympy_objects_as_answers_and_references():
    s = 1 / (1 + sp.exp(-x))
    assert check_formula(sp.exp(-x) / (1 + sp.exp(-x)) ** 2, SIG1, ["x"]).correct
    assert check_formula(SIG1, s * (1 - s), [x]).correct
    assert check_formula(s, s * (1 - s), [x]).status == "wrong"
    # undefined functions called sigmoid / nn_core's sigma are read as the sigmoid
    f = sp.Function("sigmoid")
    assert check_formula(f(x) * (1 - f(x)), "e^-x/(1+e^-x)^2", ["x"]).correct
    from nn_core.symbolic.functions import sigma, step
    assert check_formula(sigma(x) * (1 - sigma(x)), SIG1, ["x"]).correct
    assert check_formula("heaviside(x)", step(x), ["x"]).correct
    # a symbol with other assumptions is the declared symbol of the same name
    assert check_formula(sp.Symbol("x", real=True) ** 2, "x^2", ["x"]).correct
    # plain numbers are formulas too
    assert check_formula(0, "x - x", ["x"]).correct
    assert check_formula(2.5, "5/2", ["x"]).correct


@pytest.mark.parametrize("answer, fragment", [
    (sp.Symbol("z") ** 2, "unknown name"),
    (sp.Matrix([x]), "matrix"),
    (sp.Eq(x, 1), "give a formula"),
    (None, "give a formula"),
    (True, "give a formula"),
    (b"x", "bytes"),
    ([x], "give a formula"),
    (float("nan"), "not finite"),
])
def test_bad_sympy_or_python_objects_are_invalid(answer, fragment):
    r = check_formula(answer, "x^2", ["x"], language="en")
    assert r.status == "invalid" and not r.correct and r.parsed is None
    assert fragment in r.message


# ------------------------------------------------------------------ the parser

@pytest.mark.parametrize("text, expected", [
    ("2xy", 2 * x * y), ("2(x+1)", 2 * (x + 1)), ("(x+1)(x-1)", (x + 1) * (x - 1)),
    ("x y", x * y), ("x^2y", x ** 2 * y), ("2^-x", 2 ** -x), ("-x^2", -x ** 2),
    ("x^y^2", x ** (y ** 2)), ("x**2", x ** 2), ("x²", x ** 2), ("x³y", x ** 3 * y),
    ("1.5e-3 x", sp.Rational(3, 2000) * x), ("0.5x", x / 2), (".5", sp.Rational(1, 2)),
    ("x−y", x - y), ("x·y", x * y), ("x×y", x * y), ("x÷y", x / y), ("（x）", x),
    ("√x", sp.sqrt(x)), ("√(x+1)", sp.sqrt(x + 1)), ("e^x", sp.exp(x)), ("pi x", sp.pi * x),
    ("π", sp.pi), ("2xexp(y)", 2 * x * sp.exp(y)), ("xsin(y)", x * sp.sin(y)),
    ("ln(x)", sp.log(x)), ("log(x, 2)", sp.log(x, 2)), ("abs(x)", sp.Abs(x)),
    ("max(x, y, 0)", sp.Max(x, y, 0)), ("relu(x)", sp.Max(0, x)),
    ("softplus(x)", sp.log(1 + sp.exp(x))), ("σ(x)", 1 / (1 + sp.exp(-x))),
    ("heaviside(x)", sp.Heaviside(x, 0)), ("x_{1}", sp.Symbol("x_1")),
    (r"\sigma(x) \cdot 2", 2 / (1 + sp.exp(-x))), ("x - - x", 2 * x), ("--x", x),
    ("+x", x), ("[x + 1]*{x - 1}", (x + 1) * (x - 1)), ("sqrt(4)", 2),
])
def test_parse_forms(text, expected):
    syms = ["x", "y", "x_1"]
    assert sp.simplify(parse_formula(text, syms) - expected) == 0


def test_names_are_split_into_declared_symbols_longest_first():
    assert parse_formula("w0x", ["w0", "x", "w"]) == sp.Symbol("w0") * x
    # backtracking: "ab" would leave "c"; a + bc works
    assert parse_formula("abc", ["a", "ab", "bc"]) == sp.Symbol("a") * sp.Symbol("bc")
    gamma = sp.Symbol("gamma")
    assert parse_formula("γx", ["gamma", "x"]) == gamma * x            # Greek alias
    assert parse_formula("gamma_i", ["γ_i"]) == sp.Symbol("γ_i")
    # a declared symbol wins over a function or a constant of the same name
    assert parse_formula("σ(x+1)", ["σ", "x"]) == sp.Symbol("σ") * (x + 1)
    assert parse_formula("e", ["e"]) == sp.Symbol("e")
    assert parse_formula("delta(i, j)", ["i", "j"]) == sp.KroneckerDelta(*sp.symbols("i j"))


def test_assumptions_and_symbol_objects():
    yp = parse_formula("sqrt(y^2)", ["y"], assumptions={"y": {"positive": True}})
    assert yp == sp.Symbol("y", positive=True)
    k = sp.Symbol("k", integer=True)
    assert parse_formula("2k", [k]) == 2 * k
    assert parse_formula("x y", "x y") == x * y


def test_function_whitelist_can_be_restricted_or_extended():
    assert "sigmoid" in FUNCTIONS and "exp" in FUNCTIONS
    with pytest.raises(FormulaError, match="unknown function 'sigmoid'"):
        parse_formula("sigmoid(x)", ["x"], functions=["exp"])
    cube = parse_formula("cube(x)", ["x"], functions={"cube": lambda a: a ** 3})
    assert cube == x ** 3
    with pytest.raises(ValueError):
        parse_formula("x", ["x"], functions=["eval"])


@pytest.mark.parametrize("text, fragment", [
    ("", "empty"), ("   ", "empty"), ("()", "empty brackets"), ("exp()", "takes 1"),
    ("foo", "unknown name 'foo'"), ("x1", "Did you mean x_1"), ("Pi^x", "Did you mean pi"),
    ("foo(x)", "unknown function 'foo'"), ("sin x", "needs parentheses"),
    ("x[0]", "indexing"), ("(x+1)[0]", "indexing"), ("x.real", "attribute"),
    ("'x'", "quotes"), ('"x"', "quotes"), ("x = 1", "'='"), ("x,y", "comma"),
    ("x > 0", "comparison"), ("1/2x", "ambiguous"), ("2 3", "two numbers"),
    ("(x", "not closed"), ("x)", "unmatched"), ("(x]", "unmatched"),
    ("x +", "end of the formula"), ("* x", "unexpected '*'"), ("x $ y", "'$'"),
    ("sigmoid(x, x)", "takes 1"), ("delta(x)", "takes 2"), ("where(x, 1, 2)", "comparison"),
    ("if", "keyword"), ("None", "keyword"), ("x**1001", "exponent"),
    ("10^999*10^999", "too large"), ("(10^200+7)^(1/3)", "roots"), ("9" * 1001, "too large"),
    ("1e5000", "too large"), ("x^x^x^x^x^x^x^x^x^x^x^x", "'^'"), ("_x", "'_'"),
])
def test_invalid_formulas_give_a_clear_message(text, fragment):
    with pytest.raises(FormulaError) as info:
        parse_formula(text, ["x", "x_1"])
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value.message, Message)
    assert fragment in info.value.message.en
    assert info.value.message.zh and info.value.message.zh != info.value.message.en


# ------------------------------------------------------------------ hostile input

#: A hang detector, not a speed requirement (speed belongs in benchmarks/):
#: a parse that runs this long is stuck (runaway backtracking, a huge power).
HANG_S = 10.0

HOSTILE = [
    "__import__('os').system('touch {pwned}')",
    "().__class__.__bases__",
    "().__class__.__bases__[0].__subclasses__()",
    "x.__class__",
    "open('/etc/passwd')",
    "open('/etc/passwd').read()",
    "lambda: 1",
    "(lambda: __import__('os'))()",
    "[x for x in y]",
    "{x: 1}",
    "exec('1')",
    "eval('1')",
    "getattr(x, 'y')",
    "import os",
    "9**9**9**9",
    "10^10^10",
    "2^(2^(2^(2^(2^2))))",
    "(" * 10000 + "x" + ")" * 10000,
    "(" * 101 + "x" + ")" * 101,
    "sin(" * 101 + "x" + ")" * 101,
    "x" * 100000,
    "-" * 3000 + "x",
    "",
    "   \n\t",
    "'x'*10",
    "x; import os",
    "x # comment",
    "f'{x}'",
    "\\x00",
    "x\x00",
]


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: repr(t)[:40])
def test_hostile_strings_are_refused_without_running_code_or_hanging(text, tmp_path):
    pwned = tmp_path / "pwned"
    text = text.replace("{pwned}", str(pwned))
    t0 = time.monotonic()
    r = check_formula(text, "x^2", ["x", "y"], language="en")
    assert time.monotonic() - t0 < HANG_S
    assert r.status == "invalid" and not r.correct and r.parsed is None
    assert r.message.startswith("Your formula could not be read: ")
    assert len(r.message) > len("Your formula could not be read: ") + 5
    t0 = time.monotonic()
    with pytest.raises(FormulaError):
        parse_formula(text, ["x", "y"])
    assert time.monotonic() - t0 < HANG_S
    assert not pwned.exists()


@pytest.mark.parametrize("answer", [None, b"x^2", 3j, object(), ["x"], {"x": 1}])
def test_non_formula_objects_are_invalid(answer):
    r = check_formula(answer, "x^2", ["x"])
    assert r.status == "invalid"


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="xy0123456789.+-*/^()[]{}, eσ·²_abcdefglmnoprstw<>= '", max_size=60))
def test_any_text_parses_or_fails_cleanly_without_hanging(text):
    _parses_or_fails_cleanly(text)


def _parses_or_fails_cleanly(text: str) -> None:
    """``text`` gives an expression in x, y or a bilingual FormulaError, and
    no input makes the parser hang."""
    t0 = time.monotonic()
    try:
        e = parse_formula(text, ["x", "y"])
    except FormulaError as exc:
        assert exc.message.en and exc.message.zh
    else:
        assert isinstance(e, sp.Expr)
        assert e.free_symbols <= {x, y}
    assert time.monotonic() - t0 < HANG_S


def test_reference_errors_raise_and_bad_options_raise():
    with pytest.raises(FormulaError):
        check_formula("x", "x +", ["x"])
    with pytest.raises(ValueError, match="language"):
        check_formula("x", "x", ["x"], language="fr")
    with pytest.raises(ValueError, match="not a declared symbol"):
        check_formula("x", "x", ["x"], domain={"z": (0, 1)})
    with pytest.raises(ValueError, match="low < high"):
        check_formula("x", "x + 0*x", ["x"], domain={"x": (1, 0)})
    with pytest.raises(ValueError, match="invalid symbol name"):
        check_formula("x", "x", ["__class__"])
    with pytest.raises(ValueError, match="time_limit"):
        check_formula("x", "x", ["x"], time_limit=0)


# ------------------------------------------------------------------ numeric policy

def test_undefined_answer_where_the_reference_is_defined_is_wrong():
    r = check_formula("2log(x)", "log(x^2)", ["x"], language="en")
    assert r.status == "wrong" and r.counterexample["answer"] is None
    assert r.counterexample["point"]["x"] < 0 and "undefined" in r.message
    # points outside the reference's domain are skipped
    assert check_formula("log(x^2)", "2log(x)", ["x"]).correct
    assert check_formula("sqrt(y^2)", "y", ["y"], domain={"y": (0.5, 2)}).correct
    assert check_formula("sqrt(y^2)", "y", ["y"]).status == "wrong"


def test_counterexample_names_only_the_symbols_that_matter():
    r = check_formula("x + 1", "x", ["x", "y", "z"], language="en")
    assert set(r.counterexample["point"]) == {"x"} and "y =" not in r.message
    r = check_formula("1", "2", ["x"], language="en")
    assert r.counterexample["point"] == {} and "at any point" in r.message


def test_grades_are_reproducible():
    a = check_formula("2xy^2 + 2x/y", A11_X, ["x", "y"])
    b = check_formula("2xy^2 + 2x/y", A11_X, ["x", "y"])
    assert a.counterexample == b.counterexample and a.message == b.message


def test_an_undecidable_check_is_undecided():
    r = check_formula("log(-1 - x^2)", "log(-1 - x^2)*1 + 0*sqrt(-1-x^2)", ["x"])
    assert r.status in ("correct", "undecided")
    f = sp.Function("g")
    r = check_formula(f(x) + x, f(x) + 2 * x - x, [x])            # same tree after SymPy
    assert r.correct
    r = check_formula(sp.cos(f(x)) ** 2, 1 - sp.sin(f(x)) ** 2, [x])
    assert r.correct and r.method == "symbolic"
    r = check_formula(sp.exp(f(x)), 1 + f(x), [x])
    assert r.status == "undecided" and not r.correct and r.counterexample is None


# ------------------------------------------------------------------ time limit

SLOW = ("((x+y+z+1)^2 - (x+y+z)^2)^30 + sech(x)^2", "(2x+2y+2z+1)^30 + 1 - tanh(x)^2")


def test_slow_simplification_is_cut_off_and_numbers_decide():
    t0 = time.monotonic()
    r = check_formula(*SLOW, ["x", "y", "z"], time_limit=1.0)
    assert time.monotonic() - t0 < 1.0 + 0.5
    assert r.status == "correct" and r.points == 20
    assert r.method in ("numeric", "numeric+symbolic")
    t0 = time.monotonic()
    wrong = check_formula(SLOW[0] + " + 1e-6", SLOW[1], ["x", "y", "z"], time_limit=1.0)
    assert time.monotonic() - t0 < 1.0 and wrong.status == "wrong"


def _children() -> set[int]:
    path = f"/proc/{os.getpid()}/task/{os.getpid()}/children"
    with open(path) as fh:
        return {int(p) for p in fh.read().split()}


@pytest.mark.skipif(not os.path.exists(f"/proc/{os.getpid()}/task"), reason="needs /proc")
def test_the_worker_process_is_killed_at_the_deadline():
    before = _children()

    def forever():
        yield ("numeric", "equal", 20, None)
        while True:
            time.sleep(0.01)
    t0 = time.monotonic()
    items = formula._run_limited(forever, 0.3)
    assert 0.3 <= time.monotonic() - t0 < 1.0
    assert items == [("numeric", "equal", 20, None)]
    assert _children() == before


def test_thread_fallback_where_fork_is_unavailable(monkeypatch):
    monkeypatch.setattr(formula, "_can_fork", lambda: False)
    assert check_formula("sech(x)^2", "1 - tanh(x)^2", ["x"]).correct
    assert check_formula("sech(x)", "1 - tanh(x)^2", ["x"]).status == "wrong"

    def slow():
        time.sleep(1.0)                 # the abandoned thread ends by itself soon after
        yield ("numeric", "equal", 20, None)
    t0 = time.monotonic()
    assert formula._run_limited(slow, 0.2) == []
    assert time.monotonic() - t0 < 0.9


# ------------------------------------------------------------------ messages

def test_messages_in_each_language():
    for answer, status in [("σ(x)(1-σ(x))", "correct"), ("σ(x)", "wrong"), ("σ(", "invalid")]:
        zh = check_formula(answer, SIG1, ["x"], language="zh")
        en = check_formula(answer, SIG1, ["x"], language="en")
        both = check_formula(answer, SIG1, ["x"], language="zh+en")
        assert zh.status == en.status == both.status == status
        assert not any("a" <= ch <= "z" for ch in zh.message.split("：")[0])
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh.message)
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in en.message)
        assert both.message == zh.message + "\n" + en.message
        assert both.feedback.render("en") == en.message
    assert "Correct" in check_formula("sech(x)^2", "1-tanh(x)^2", ["x"], language="en").message
    wrong = check_formula("σ(x)", SIG1, ["x"], language="zh")
    assert wrong.message.startswith("不正确") and "x = " in wrong.message
    # the reference's value is quoted only on request
    ref = f"{wrong.counterexample['reference']:.6g}"
    assert ref not in wrong.message
    shown = check_formula("σ(x)", SIG1, ["x"], language="en", show_expected=True)
    assert shown.message.endswith(f"(The expected value is {ref}.)")


def test_i18n_message():
    m = msg("第 {n} 题", "question {n}")
    assert m.format(n=3) == Message("第 3 题", "question 3")
    assert m.format(n=3).render("zh") == "第 3 题"
    assert m.format(n=3).render("en") == "question 3"
    assert m.format(n=3).render("zh+en") == "第 3 题\nquestion 3"
    assert str(m.format(n=1)) == "第 1 题\nquestion 1"
    assert msg("{a}。", "{a}.").format(a=msg("好", "good")) == Message("好。", "good.")
    assert msg("甲", "a") + msg("乙", "b") == Message("甲乙", "ab")
    assert LANGUAGES == ("zh", "en", "zh+en") and check_language("en") == "en"
    with pytest.raises(ValueError, match="'zh', 'en', 'zh\\+en'"):
        m.render("de")
    with pytest.raises(Exception):
        m.zh = "x"                                               # frozen


def test_result_fields():
    r = check_formula("2x^2y - 2x^2/y^3", A11_Y, ["x", "y"])
    assert isinstance(r, FormulaResult)
    assert (r.correct, r.status, r.counterexample) == (True, "correct", None)
    assert r.parsed == 2 * x ** 2 * y - 2 * x ** 2 / y ** 3
    assert r.points in (0, 20)


# ------------------------------------------------------------------ SymPy's printed names

_i, _j, _g, _s = sp.symbols("i j gamma softmax_j")
_xr = sp.Symbol("x", real=True)
SSTR_CASES = [   # (SymPy expression a student may hold, its symbols)
    (sp.Heaviside(x), "x"), (sp.Heaviside(x, 0), "x"), (sp.Heaviside(-x) * x, "x"),
    (sp.KroneckerDelta(_i, _j) - _s, "i j softmax_j"), (sp.Abs(x) / 2, "x"),
    (sp.Max(0, x), "x"), (sp.Min(0, x), "x"), (sp.Max(x, y, 1), "x y"),
    (sp.exp(-x) / (1 + sp.exp(-x)) ** 2, "x"), (sp.sech(x) ** 2, "x"), (sp.E * x, "x"),
    (sp.E ** 2 + x, "x"), (sp.sqrt(x ** 2 + 1), "x"), (sp.log(1 + sp.exp(x)), "x"),
    (sp.Piecewise((1, x > 0), (_g, True)), "x gamma"),
    (sp.Piecewise((1, x > 0), (_g * sp.exp(x), True)), "x gamma"),
    (sp.Piecewise((0, (x > 0) & (x < 1)), (1, True)), "x"),
    (sp.Piecewise((x, sp.Eq(y, 1) | (x < 0)), (y, True)), "x y"),
    (sp.Piecewise((x, sp.Ne(y, 1)), (-x, True)), "x y"),
    (sp.diff(sp.Max(0, x), x), "x"), (sp.diff(sp.Abs(_xr), _xr), "x"),
    (sp.diff(sp.Piecewise((x, x > 0), (_g * x, x <= 0)), x), "x gamma"),
    (sp.tanh(x).diff(x), "x"), (sp.Float("1.0e-20") * x + sp.Rational(1, 4), "x"),
    (sp.sign(x) * sp.cosh(y), "x y"),
]


@pytest.mark.parametrize("expr, syms", SSTR_CASES, ids=lambda v: sp.sstr(v) if isinstance(
    v, sp.Basic) else v)
def test_what_sympy_prints_reads_back_as_the_same_formula(expr, syms):
    """A SymPy answer crosses processes as ``sympy.sstr(expr)``; the parser
    reads the names sstr prints and gets an equal formula back."""
    text = sp.sstr(expr)
    parsed = parse_formula(text, syms.split())
    r = check_formula(text, expr, syms.split())
    assert r.status == "correct", (text, r.message)
    if not expr.has(sp.Piecewise) and not expr.atoms(sp.Float):   # floats are read exactly
        assert sp.srepr(parsed) == sp.srepr(parse_formula(expr, syms.split())), text


def test_sympy_heaviside_keeps_its_value_at_zero_and_the_course_step_is_zero_there():
    assert parse_formula("Heaviside(0)", []) == sp.Rational(1, 2)
    assert parse_formula("Heaviside(0, 0)", []) == 0 == parse_formula("heaviside(0)", [])
    assert parse_formula("E", []) == sp.E == parse_formula("e", [])
    assert parse_formula("E", ["E"]) == sp.Symbol("E")          # a declared symbol wins


@pytest.mark.parametrize("text, fragment", [
    ("Piecewise(x, x > 0)", "expected '('"), ("Piecewise((1, x), (0, True))", "comparison"),
    ("Piecewise()", "expected '('"), ("Piecewise((1, x > 0) (0, True))", "expected ')'"),
    ("(x > 0) & (x < 1)", "unexpected '>'"), ("x & y", "unexpected '&'"), ("x | y", "'|'"),
    ("True", "keyword"), ("where(x < 1/0, 1, 0)", "cannot compare"),
    ("Piecewise((x, x < 1/0))", "cannot compare"), ("Eq(x, 1)", "unknown function 'Eq'"),
    ("KroneckerDelta(x)", "takes 2"), ("Heaviside(x, 0, 1)", "takes 1–2"),
])
def test_piecewise_and_conditions_give_clear_messages(text, fragment):
    with pytest.raises(FormulaError) as info:
        parse_formula(text, ["x", "y"])
    assert fragment in info.value.message.en and info.value.message.zh


def test_conditions_nested_in_brackets_parse_without_blowing_up():
    deep = "where(" + "(" * 95 + "x" + ")" * 95 + " > 0, 1, 0)"
    t0 = time.monotonic()
    assert parse_formula(deep, ["x"]) == sp.Piecewise((1, x > 0), (0, True))
    conds = "where(" + " & ".join(["(x > 0)"] * 180) + ", 1, 0)"
    assert parse_formula(conds, ["x"]) == sp.Piecewise((1, x > 0), (0, True))
    assert time.monotonic() - t0 < HANG_S            # exponential backtracking would hang


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="xy01+-*/()<>=&|, ", max_size=40).map(lambda t: f"where({t}, 1, 0)")
       | st.text(alphabet="xy01+-*/()<>=&|, ", max_size=40).map(lambda t: f"Piecewise(({t}))")
       | st.text(alphabet="xyTrueFalsEqN01()<>&|, ", max_size=40).map(lambda t: f"Piecewise((x, {t}))"))
def test_any_condition_parses_or_fails_cleanly_without_hanging(text):
    _parses_or_fails_cleanly(text)


# ------------------------------------------------------------------ defined names

def test_defined_names_stand_for_their_expression():
    defs = {"a": "sigmoid(z)"}
    for good in ("a - y", "sigmoid(z) - y", "a(1-a)(a-y)/(a(1-a))", sp.Symbol("a") - sp.Symbol("y")):
        assert check_formula(good, "sigmoid(z) - y", ["z", "y"], definitions=defs).correct, good
    r = check_formula("y - a", "sigmoid(z) - y", ["z", "y"], definitions=defs)
    assert r.status == "wrong" and set(r.counterexample["point"]) <= {"z", "y"}
    # SymPy definitions, several names for one symbol, and parse_formula
    yj = sp.Symbol("yhat_j")
    names = {"yhat": yj, "ŷ": yj, "s_j": yj}
    for good in ("yhat - y_j", "ŷ - y_j", "s_j - y_j", "yhat_j - y_j"):
        assert check_formula(good, "yhat_j - y_j", ["yhat_j", "y_j"], definitions=names).correct
    assert parse_formula("a^2", ["z"], definitions=defs) == 1 / (1 + sp.exp(-sp.Symbol("z"))) ** 2


def test_bad_definitions_raise():
    with pytest.raises(ValueError, match="both a declared symbol"):
        check_formula("x", "x", ["x"], definitions={"x": "2"})
    with pytest.raises(ValueError, match="invalid defined name"):
        check_formula("x", "x", ["x"], definitions={"_a": "x"})
    with pytest.raises(ValueError, match="must map"):
        check_formula("x", "x", ["x"], definitions=["a"])
    with pytest.raises(FormulaError):
        check_formula("x", "x", ["x"], definitions={"a": "__import__('os')"})


# ------------------------------------------------------------------ cost formulas

from autograder.formula import check_order, leading_term  # noqa: E402

BACKWARD = "(2L - 1)n^2 + L n"
NL = ["n", "L"]


@pytest.mark.parametrize("answer, status", [
    ("2Ln^2 - n^2 + Ln", "correct"), ("L(2n^2 + n) - n^2", "correct"), ("n(2Ln - n + L)", "correct"),
    ("2Ln^2", "partial"), ("2L n^2 + 7", "partial"), ("2Ln^2 - n^2", "partial"),
    ("Ln^2", "wrong"), ("2Ln", "wrong"), ("2 L^2 n^2", "wrong"), ("2Ln^2 log(n)", "wrong"),
    ("2^n", "wrong"), ("O(Ln^2)", "invalid"), ("", "invalid"),
])
def test_check_order(answer, status):
    r = check_order(answer, BACKWARD, NL, domain={"n": list(range(1, 50)), "L": list(range(1, 20))})
    assert r.status == status, (answer, r.message)
    assert r.correct == (status == "correct")
    if status == "partial":
        assert "leading term (2*L*n**2)" in r.feedback.en and "首项正确" in r.feedback.zh
        assert "convention" in r.feedback.en


def test_leading_term():
    n, L = sp.symbols("n L")
    assert leading_term((2 * L - 1) * n**2 + L * n, [n, L]) == 2 * L * n**2
    assert leading_term(n**2 + n, [n, L]) == n**2
    assert leading_term(n * sp.log(n), [n, L]) is None
    assert leading_term(n**20, [n, L]) is None                # not a plausible count
    assert leading_term(sp.Integer(0), [n, L]) is None


def test_check_order_stops_at_the_time_limit():
    t0 = time.monotonic()
    r = check_order("(n+L+1)^1000", BACKWARD, NL, time_limit=1.0)
    assert r.status in ("wrong", "undecided") and time.monotonic() - t0 < 3.5


# ------------------------------------------------------------------ warm workers

@pytest.fixture
def warm_pool():
    """Formula checks judged by warm workers (as the check service runs them)."""
    from autograder.formula_pool import use_workers
    pool = use_workers(2, wait=300)               # a hang detector, not a speed limit
    assert pool.started >= 1, "no formula worker started"
    yield pool
    use_workers(0)


def _verdict(r: FormulaResult):
    return (r.status, r.method, r.points, r.counterexample, r.message,
            None if r.parsed is None else sp.srepr(r.parsed))


@pytest.mark.skipif(not formula._can_fork(), reason="workers replace forked children (Linux)")
def test_warm_workers_give_the_forked_childs_verdicts(warm_pool):
    cases = [(ans, ref, syms, opts) for _name, (ref, syms, good, bad, opts) in CASES.items()
             for ans in (good[:2] + bad[:2])]
    cases += [("x^2 +", "x^2", ["x"], {}),                                 # invalid
              ("delta(i,j) - s_j", "KroneckerDelta(i, j) - s_j", ["i", "j", "s_j"], {}),
              ("a - y", "sigmoid(z) - y", ["z", "y"], {"definitions": {"a": "sigmoid(z)"}}),
              (sp.exp(-sp.Symbol("x")), "exp(-x)", ["x"], {})]              # a SymPy answer
    served = warm_pool.served
    pooled = [_verdict(check_formula(a, r, s, **o)) for a, r, s, o in cases]
    assert warm_pool.served > served                # the workers judged them
    from autograder.formula_pool import use_workers
    use_workers(0)                                  # the same checks, a fork each
    forked = [_verdict(check_formula(a, r, s, **o)) for a, r, s, o in cases]
    assert pooled == forked
    # and the verdicts are the known ones (CASES: good first, then bad)
    statuses = [v[0] for v in pooled]
    assert statuses[-4:] == ["invalid", "correct", "correct", "correct"]
    for k, (_name, (_ref, _syms, good, bad, _opts)) in enumerate(CASES.items()):
        assert statuses[4 * k:4 * k + 4] == ["correct"] * len(good[:2]) + ["wrong"] * len(bad[:2])


@pytest.mark.skipif(not formula._can_fork(), reason="workers replace forked children (Linux)")
def test_a_worker_past_the_deadline_is_killed_and_replaced(warm_pool):
    # its mere parsing takes far longer than the limit (see test_hostile_class)
    slow = "max(" + ", ".join(f"{k}x-{k}y" for k in range(1, 200)) + ")"
    pids = {w.proc.pid for w in warm_pool._idle}
    r = check_formula(slow, "x - y", ["x", "y"], time_limit=0.5)
    assert r.status == "undecided" and not r.correct
    assert warm_pool.killed == 1
    for pid in pids - {w.proc.pid for w in warm_pool._idle}:     # the killed one is gone
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    warm_pool.warm(wait=300)                        # a fresh worker takes its place
    assert len(warm_pool._idle) == warm_pool.size
    assert check_formula("sigmoid(x)(1-sigmoid(x))", "exp(-x)/(1+exp(-x))^2", ["x"]).correct


def test_a_question_function_that_cannot_be_sent_is_judged_in_a_fork(warm_pool):
    served = warm_pool.served
    r = check_formula("f2(x)", "2*x", ["x"], functions={"f2": lambda v: 2 * v})
    assert r.correct
    bad = check_formula("f2(x)", "3*x", ["x"], functions={"f2": lambda v: 2 * v})
    assert bad.status == "wrong"
    assert warm_pool.served == served               # a lambda is not pickled to a worker


def test_numbers_decide_first_a_proof_only_when_they_cannot():
    r = check_formula("sigmoid(x)(1-sigmoid(x))", "exp(-x)/(1+exp(-x))^2", ["x"])
    assert r.correct and r.method == "numeric" and r.points == 20
    # an undefined function has no numbers: only simplification can accept it
    f = sp.Function("f")
    x = sp.Symbol("x")
    r = check_formula(2 * f(x) - f(x), f(x), ["x"])
    assert r.correct and r.method == "symbolic"

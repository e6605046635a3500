"""A1.q1, A2 and A6 through the production path (grade_submission with
course.yaml): reference answers earn full marks for the lecture and per-student
variants, equal formula forms are accepted and wrong ones rejected (a broad
table per formula part), catalogued mistakes are named, cost formulas get
full / leading-term / no credit.

The expected values come from nn_core (its activations, its operation
counts), from SymPy, or from finite differences — never from the judged
code's own output.
"""
from dataclasses import replace

import numpy as np
import pytest
import sympy as sp

import nn_core.activations as act
from autograder.config import load_course
from autograder.functions import InProcessRunner, judge_function
from autograder.judge import grade_question, grade_submission, judge_part, policy_for, variant_of
from autograder.mistakes import mistake as catalogued
from autograder.protocol import from_wire, to_wire
from autograder.questions import a1, a2, a6, get_question, questions_of
from autograder.questions.base import Policy
from nn_core.opcount import dense_counts, network_counts
from nn_core.symbolic import derive

#: the tolerances and credits these tests are written for (stated, not Policy()'s defaults)
POLICY_1E4 = Policy(rtol=1e-4, atol=1e-6, atol_scale=1e-6, shape_credit=0.5, ecf="full")

COURSE = load_course("course.yaml")
STUDENTS = [None, "alice", "bob", "s042"]


# ---------------------------------------------------------------------------------------
# reference implementations of the function parts


def count_ops_from_dense_counts(layer_sizes, batch):
    """nn_core's analytic counts (not the instrumented run the judge uses)."""
    c = network_counts(list(layer_sizes), batch)
    return c["forward_mults"], c["forward_adds"], c["backward_mults"], c["backward_adds"]


NN_CORE = {"log_softmax_jacobian": act.log_softmax_jacobian, "sigmoid": act.sigmoid,
           "log_softmax": act.log_softmax, "count_ops": count_ops_from_dense_counts}


def np_sigmoid(x):
    """Written from the lecture: σ(x) = 1/(1+e^{−x}) = e^{x}/(1+e^{x}), whichever cannot overflow."""
    x = np.asarray(x, dtype=float)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def np_log_softmax(x):
    m = np.max(x, axis=-1, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))


def np_log_softmax_jacobian(x):
    s = np.exp(np_log_softmax(x))
    return np.eye(len(x)) - s[None, :]                  # J_ij = δ_ij − s_j


def np_count_ops(layer_sizes, batch):
    """The convention, stated in the notebook, written out layer by layer."""
    B, fm = batch, [0, 0, 0, 0]
    for l in range(1, len(layer_sizes)):
        k, m = layer_sizes[l - 1], layer_sizes[l]
        fm[0] += B * m * k
        fm[1] += B * m * (k - 1) + B * m
        fm[2] += B * m + B * m * k + (B * k * m if l > 1 else 0)
        fm[3] += (B - 1) * m * k + (B - 1) * m + (B * k * (m - 1) if l > 1 else 0)
    return tuple(fm)


NUMPY = {"log_softmax_jacobian": np_log_softmax_jacobian, "sigmoid": np_sigmoid,
         "log_softmax": np_log_softmax, "count_ops": np_count_ops}


def references(assignment, params, wire=False):
    out = {}
    for q in questions_of(assignment):
        ref = {k: v for k, v in q.reference(params).items() if q.part(k).kind != "fn"}
        if wire:                                   # what crosses from the notebook: sstr text
            ref = {k: from_wire(to_wire(v, q.part(k).kind)) for k, v in ref.items()}
        out[q.local_id] = ref
    return out


def is_fn(r):
    return get_question(r.question).part(r.part).kind == "fn"


# ---------------------------------------------------------------------------------------
# reference answers earn full marks


@pytest.mark.parametrize("wire", [False, True], ids=["sympy", "wire"])
@pytest.mark.parametrize("student", STUDENTS)
@pytest.mark.parametrize("assignment", ["A2", "A6"])
def test_reference_answers_earn_full_marks(assignment, student, wire):
    params, _ = variant_of(COURSE, assignment, student)
    for namespace in (NN_CORE, NUMPY):
        result = grade_submission(COURSE, assignment, references(assignment, params, wire),
                                  student, InProcessRunner(namespace))
        assert result.questions
        for r in result.questions:
            assert r.score == pytest.approx(r.max_score), (r.label, r.feedback_text("en"))
            assert r.diagnosis is None and r.status == "correct"
        assert result.max_score == pytest.approx(COURSE.max_score(assignment))
        if wire:
            break                                   # functions do not cross as text


@pytest.mark.parametrize("student", STUDENTS)
def test_a1_q1_references_earn_full_marks(student):
    params, _ = variant_of(COURSE, "A1", student)
    for wire in (False, True):
        result = grade_submission(COURSE, "A1", references("A1", params, wire), student)
        mine = result.results_for("A1.q1")
        assert [r.part for r in mine] == ["dzdx", "dzdy"]
        assert all(r.score == r.max_score and r.diagnosis is None for r in mine)


def test_a1_q1_reference_is_the_derivation_of_the_lecture():
    d = derive("chain_rule_uv")
    ref = a1.Q1.reference({})
    assert sp.simplify(ref["dzdx"] - d.results["dz_dx"]) == 0
    assert sp.simplify(ref["dzdy"] - d.results["dz_dy"]) == 0
    # and the chain rule written as a sum over the paths gives the same
    assert sp.simplify(a1.chain_rule("x") - ref["dzdx"]) == 0
    assert sp.simplify(a1.chain_rule("y") - ref["dzdy"]) == 0


def test_a2_numbers_agree_with_nn_core():
    """relu_at_0 is nn_core's ReLU'(0); max σ' is the largest value of nn_core's
    σ' on a fine grid (at 0); bound = (max σ')^L."""
    ref = a2.Q2.reference({})
    assert float(ref["relu_at_0"]) == float(act.relu_grad(np.array(0.0)))
    grid = np.linspace(-10, 10, 200001)
    top = act.sigmoid_grad(grid).max()
    for student in STUDENTS:
        params, _ = variant_of(COURSE, "A2", student)
        r = a2.Q6.reference(params)
        assert r["max_dsigmoid"] == pytest.approx(top, rel=1e-12)
        assert r["bound"] == pytest.approx(top ** params["L"], rel=1e-12)


def test_a2_bound_is_judged_relatively():
    """4^{−L} is far below the default atol: course.yaml gives `bound` a relative tolerance."""
    params, _ = variant_of(COURSE, "A2", None)
    good = a2.Q6.reference(params)["bound"]
    for answer, ok in ((good * 1.001, True), (0.0, False), (good * 1.1, False), (good * 4, False)):
        answers = {"q6": {"max_dsigmoid": 0.25, "bound": answer}}
        r = {x.part: x for x in grade_submission(COURSE, "A2", answers, None).results_for("A2.q6")}
        assert (r["bound"].status == "correct") == ok, answer


def test_a6_reference_formulas_are_nn_core_counts():
    f = a6.cost_formulas()
    n, L = a6.N, a6.L
    for nv in (1, 2, 5, 9, 30):
        for Lv in (1, 2, 4, 11):
            at = {n: nv, L: Lv}
            net = network_counts([nv] * (Lv + 1), 1)
            layer = dense_counts(nv, nv, 1)
            assert f["forward_mul"].subs(at) == net["forward_mults"]
            assert f["backward_mul"].subs(at) == net["backward_mults"]
            assert f["layer_mul"].subs(at) == layer["forward_mults"]
            assert f["layer_add"].subs(at) == layer["forward_adds"]
            assert f["grad_mul"].subs(at) == dense_counts(nv, nv, 1, need_dx=False,
                                                          activation=False)["backward_mults"]
            assert f["delta_mul"].subs(at) == (layer["backward_mults"] - f["grad_mul"].subs(at))
    # and they are nn_core.symbolic's sums at B = 1
    d = derive("opcount_network")
    B = d.symbols["B"]
    for key, part in (("forward_mults", "forward_mul"), ("backward_mults", "backward_mul")):
        sym = d.results[key].subs(B, 1).subs({d.symbols["n"]: n, d.symbols["L"]: L})
        assert sp.expand(sym - f[part]) == 0


def test_a6_numbers_are_counted_while_the_network_runs():
    for student in STUDENTS:
        params, _ = variant_of(COURSE, "A6", student)
        n, L, B = params["n"], params["L"], params["B"]
        r = a6.Q4.reference(params)
        one, many = network_counts([n] * (L + 1), 1), network_counts([n] * (L + 1), B)
        mults = lambda c: c["forward_mults"] + c["backward_mults"]        # noqa: E731
        assert r["batch_scale"] == pytest.approx(mults(many) / mults(one), rel=1e-12) == B
        assert r["ratio"] == pytest.approx(one["backward_mults"] / one["forward_mults"], rel=1e-12)
        assert 1.5 < r["ratio"] < 2.1 and r["ratio"] != 2


# ---------------------------------------------------------------------------------------
# formula parts: equal forms accepted, wrong ones rejected (and named)

nx, ny = sp.symbols("x y")
GOOD = {
    ("A1.q1", "dzdx"): ["2xy^2 + 2x/y^2", "2x(y^2 + y^-2)", "2x(y^4+1)/y^2", "2*x*y**2 + 2*x*y**(-2)",
                        "2(xy)y + 2(x/y)(1/y)", "2x y² + 2x/y²", 2 * nx * ny**2 + 2 * nx / ny**2],
    ("A1.q1", "dzdy"): ["2x^2y - 2x^2/y^3", "2x^2(y^4-1)/y^3", "2(xy)x + 2(x/y)(-x/y^2)",
                        "2x²(y − y⁻³)", sp.diff((nx * ny)**2 + (nx / ny)**2, ny)],
    ("A2.q1", "dsigmoid"): ["σ(x)(1−σ(x))", "e^{-x}/(1+e^{-x})^2", "exp(x)/(1+exp(x))^2",
                            "sigmoid(x)sigmoid(-x)", "1/(2+2cosh(x))", "sech(x/2)^2/4",
                            "sigma(x) - sigma(x)^2"],
    ("A2.q1", "d2sigmoid"): ["σ(x)(1-σ(x))(1-2σ(x))", "σ(x) - 3σ(x)^2 + 2σ(x)^3",
                             "e^(-x)(e^(-x)-1)/(1+e^(-x))^3", "-sinh(x/2)/(4cosh(x/2)^3)",
                             "-tanh(x/2) sigmoid(x)(1-sigmoid(x))"],
    ("A2.q2", "tanh"): ["1-tanh(x)^2", "sech(x)^2", "1/cosh(x)^2", "4/(e^x+e^-x)^2",
                        "(1-tanh(x))(1+tanh(x))", "4e^(2x)/(e^(2x)+1)^2", "4σ(2x)(1-σ(2x))"],
    ("A2.q2", "relu"): ["heaviside(x)", "step(x)", "where(x > 0, 1, 0)", "Heaviside(x)",
                        "Piecewise((1, x > 0), (0, True))", "(sign(x)+1)/2", "max(0, sign(x))"],
    ("A2.q2", "relu_at_0"): [0, 0.0, np.float64(0.0), sp.Integer(0)],     # a number part
    ("A2.q2", "leaky_relu"): ["where(x > 0, 1, gamma)", "heaviside(x) + γ heaviside(-x)",
                              "(1-γ)step(x) + γ", "Piecewise((1, x > 0), (gamma, True))",
                              "leaky_relu(x, γ)/x", "where(x <= 0, γ, 1)"],
    ("A2.q2", "elu"): ["where(x > 0, 1, γ e^x)", "heaviside(x) + gamma exp(x) heaviside(-x)",
                       "where(x > 0, 1, elu(x, γ) + γ)", "Piecewise((1, x > 0), (gamma*exp(x), True))"],
    ("A2.q2", "softplus"): ["σ(x)", "1/(1+e^-x)", "e^x/(1+e^x)", "1 - sigmoid(-x)", "sigmoid(x)"],
    ("A2.q2", "prelu"): ["min(0, x)", "x heaviside(-x)", "x - relu(x)", "(x - abs(x))/2",
                         "Min(0, x)", "where(x > 0, 0, x)", "Piecewise((0, x > 0), (x, True))"],
    ("A2.q3", "grad"): ["delta(i,j) - softmax_j", "δ(i,j) − s_j", "KroneckerDelta(i, j) - softmax_j",
                        "-softmax_j + delta(j, i)", "delta(i, j)(1 - s_j) - (1 - delta(i, j)) s_j"],
    ("A2.q4", "softmax_ce"): ["yhat_j - y_j", "ŷ - y", "ŷ_j − y_j", "s_j - y_j", "softmax_j - y_j",
                              "-(y_j - yhat_j)"],
    ("A2.q4", "sigmoid_bce"): ["a - y", "sigmoid(z) - y", "1/(1+e^-z) - y",
                               "-(y(1-σ(z)) - (1-y)σ(z))", "a(1-a)·(a-y)/(a(1-a))"],
}
BAD = {   # (answer, the mistake it is named as, or None)
    ("A1.q1", "dzdx"): [("2xy + 2x/y", "chain_rule_missing_inner"), ("2xy^2", "chain_rule_missing_path"),
                        ("2xy^2 - 2x/y^2", None), ("xy^2 + x/y^2", None)],
    ("A1.q1", "dzdy"): [("2x^2y + 2x^2/y^3", "quotient_rule_sign"), ("2x^2y", "chain_rule_missing_path"),
                        ("2xy + 2x/y", "chain_rule_missing_inner"), ("x^2y - x^2/y^3", None)],
    ("A2.q1", "dsigmoid"): [("sigmoid(x)", "function_for_derivative"),
                            ("-e^(-x)/(1+e^(-x))^2", "chain_rule_missing_inner"), ("σ(x)^2", None)],
    ("A2.q1", "d2sigmoid"): [("1 - 2σ(x)", "chain_rule_missing_inner"),
                             ("σ(x)(1-σ(x))(1+2σ(x))", None), ("σ(x)(1-σ(x))", None)],
    ("A2.q2", "tanh"): [("1+tanh(x)^2", None), ("tanh(x)^2", None), ("sech(x)", None),
                        ("1 - tanh(x)", None)],
    ("A2.q2", "relu"): [("1", "relu_derivative_when_off"), ("relu(x)", "function_for_relu_derivative"),
                        ("max(0, x)", "function_for_relu_derivative"), ("heaviside(-x)", None)],
    ("A2.q2", "relu_at_0"): [(1, "relu_derivative_when_off"), (1.0, "relu_derivative_when_off"),
                             (0.5, None)],
    ("A2.q2", "leaky_relu"): [("heaviside(x)", "negative_branch_derivative"), ("gamma", None),
                              ("where(x > 0, gamma, 1)", None),
                              ("where(x > 0, 1, gamma*x)", "negative_branch_derivative")],
    ("A2.q2", "elu"): [("where(x > 0, 1, γ(e^x - 1))", "negative_branch_derivative"),
                       ("where(x > 0, 1, gamma)", None), ("heaviside(x)", None)],
    ("A2.q2", "softplus"): [("1/(1+e^x)", "chain_rule_missing_inner"), ("log(1+e^x)", None),
                            ("e^x", None)],
    ("A2.q2", "prelu"): [("where(x > 0, 1, γ_i)", "wrong_variable"), ("x", None), ("max(0, x)", None)],
    ("A2.q3", "grad"): [("-softmax_j", "log_softmax_missing_delta"),
                        ("1 - softmax_j", "log_softmax_missing_delta"), ("delta(i,j) + softmax_j", None),
                        ("softmax_j - delta(i,j)", None), ("delta(i,j)(1-softmax_j)", None)],
    ("A2.q4", "softmax_ce"): [("y_j - yhat_j", "output_gradient_sign"), ("yhat_j", None),
                              ("yhat_j(1-yhat_j) - y_j", None)],
    ("A2.q4", "sigmoid_bce"): [("y - a", "output_gradient_sign"),
                               ("(a-y)/(a(1-a))", "bce_gradient_at_output"), ("a", None),
                               ("a(1-a) - y", None)],
}


def _judge(qid, part, answer):
    q = get_question(qid)
    params, _ = variant_of(COURSE, q.assignment, None)
    ref = q.reference(params)
    return judge_part(q, part, answer, params, policy_for(COURSE, qid, part),
                      COURSE.points(qid, part), ref, None)


@pytest.mark.parametrize("qid,part,answer",
                         [(q, p, a) for (q, p), answers in GOOD.items() for a in answers],
                         ids=lambda v: str(v))
def test_equal_forms_are_accepted(qid, part, answer):
    r = _judge(qid, part, answer)
    assert r.status == "correct" and r.score == r.max_score, r.feedback_text("en")
    assert r.diagnosis is None


@pytest.mark.parametrize("qid,part,answer,mistake",
                         [(q, p, a, m) for (q, p), answers in BAD.items() for a, m in answers],
                         ids=lambda v: str(v))
def test_wrong_forms_are_rejected_and_catalogued_ones_named(qid, part, answer, mistake):
    r = _judge(qid, part, answer)
    assert r.status == "wrong" and r.score == 0, r.feedback_text("en")
    assert r.diagnosis == mistake
    if mistake:
        text = r.feedback_text("zh+en")
        assert catalogued(mistake).text.zh in text and catalogued(mistake).text.en in text


def test_every_formula_part_has_a_table():
    parts = {(q.id, p.name) for a in ("A1", "A2") for q in questions_of(a) for p in q.parts
             if p.kind == "sym"}
    number_part = ("A2.q2", "relu_at_0")                # asked and judged as a number
    assert get_question(number_part[0]).part(number_part[1]).kind == "num"
    assert parts | {number_part} == set(GOOD) == set(BAD)
    assert all(len(v) >= 3 for v in GOOD.values()) and all(len(v) >= 3 for v in BAD.values())


@pytest.mark.parametrize("name,result,part", [
    ("relu", "relu_grad", "relu"), ("leaky_relu", "leaky_relu_grad", "leaky_relu"),
    ("elu", "elu_grad", "elu"), ("prelu", "prelu_grad_gamma", "prelu"),
    ("softplus", "softplus_grad", "softplus"), ("tanh", "tanh_grad", "tanh"),
])
def test_sympy_answers_from_nn_core_cross_the_wire(name, result, part):
    """A student's SymPy object (Piecewise, nn_core's σ, …) sent as sstr text is accepted."""
    expr = derive(name).results[result]
    wire = from_wire(to_wire(expr, "sym"))
    assert isinstance(wire, str)
    assert _judge("A2.q2", part, wire).status == "correct", wire


def test_sympy_functions_students_differentiate_themselves():
    x, g = sp.symbols("x gamma")
    cases = [("relu", sp.diff(sp.Max(0, x), x)),                         # Heaviside(x)
             ("tanh", sp.diff(sp.tanh(x), x)),
             ("leaky_relu", sp.diff(sp.Piecewise((x, x > 0), (g * x, True)), x)),
             ("prelu", sp.diff(sp.Piecewise((x, x > 0), (sp.Symbol("gamma_i") * x, True)),
                               sp.Symbol("gamma_i"))),
             ("softplus", sp.diff(sp.log(1 + sp.exp(x)), x))]
    for part, expr in cases:
        assert _judge("A2.q2", part, sp.sstr(expr)).status == "correct", (part, sp.sstr(expr))
    i, j, s = sp.symbols("i j softmax_j")
    assert _judge("A2.q3", "grad", sp.sstr(sp.KroneckerDelta(i, j) - s)).status == "correct"


# ---------------------------------------------------------------------------------------
# cost formulas: exact → full, leading term only → course fraction, wrong → 0

ORDER = {   # part: (exact forms, leading-term-only forms, wrong forms with their mistake)
    "layer_mul": (["n^2", "n·n"], ["n^2 + n", "n^2 - 1"], [("n", "count_n_for_n2"), ("2n^2", None)]),
    "layer_add": (["n^2", "n(n-1) + n"], ["n(n-1)", "n^2 - n"], [("n", "count_n_for_n2"),
                                                                 ("n^3", None)]),
    "forward_mul": (["L n^2", "n^2 L"], ["Ln^2 + Ln", "L n^2 + 1"], [("Ln", "count_n_for_n2"),
                                                                     ("L^2 n^2", None)]),
    "delta_mul": (["n^2 + n", "n(n+1)"], ["n^2", "n^2 + 2n"], [("2n", "count_n_for_n2"),
                                                              ("n", None)]),
    "grad_mul": (["n^2"], ["n^2 + n", "n(n-1)"], [("n", "count_n_for_n2"), ("2n^2", None)]),
    "backward_mul": (["(2L-1)n^2 + Ln", "2Ln^2 - n^2 + nL", "L(2n^2 + n) - n^2"],
                     ["2Ln^2", "2L n^2 + L n", "2Ln^2 + 3"],
                     [("Ln^2", "count_missing_backward_term"),
                      ("Ln^2 + Ln", "count_missing_backward_term"), ("(3L - 1)n", "count_n_for_n2"),
                      ("4Ln^2", None)]),
}


def _order_results(part, answer):
    q = a6.Q1 if part in a6.Q1_PARTS else a6.Q2
    answers = {q.local_id: {**q.reference({}), part: answer}}
    return {r.part: r for r in grade_submission(COURSE, "A6", answers, None).results_for(q.id)}[part]


@pytest.mark.parametrize("part", list(ORDER))
def test_cost_formula_credit(part):
    exact, leading, wrong = ORDER[part]
    fraction = COURSE.order.leading_term_fraction
    for answer in exact:
        r = _order_results(part, answer)
        assert r.status == "correct" and r.score == r.max_score, (answer, r.feedback_text("en"))
    for answer in leading:
        r = _order_results(part, answer)
        assert r.status == "partial", (answer, r.feedback_text("en"))
        assert r.score == pytest.approx(fraction * r.max_score) and r.diagnosis is None
        assert "leading term" in r.feedback_text("en") and "首项" in r.feedback_text("zh")
        assert "convention" in r.feedback_text("en")
    for answer, mistake in wrong:
        r = _order_results(part, answer)
        assert r.status == "wrong" and r.score == 0, (answer, r.feedback_text("en"))
        assert r.diagnosis == mistake, answer


def test_leading_term_credit_follows_the_policy():
    q = a6.Q2
    answers = {"q2": {**q.reference({}), "backward_mul": "2Ln^2"}}
    for credit in (0.25, 0.0):
        res = {r.part: r for r in grade_question(q, answers, {}, replace(POLICY_1E4, leading_term_credit=credit),
                                                 {"backward_mul": 2.0})}
        r = res["backward_mul"]
        assert r.score == pytest.approx(2.0 * credit)
        assert r.status == ("partial" if credit else "wrong")
        assert all(res[p].status == "correct" for p in ("delta_mul", "grad_mul"))


def test_cost_formula_that_is_not_a_polynomial_gets_no_part_credit():
    for answer in ("2L n^2 log(n)", "2^n", "O(L n^2)", ""):
        r = _order_results("backward_mul", answer)
        assert r.score == 0 and r.status in ("wrong", "invalid"), answer


# ---------------------------------------------------------------------------------------
# function parts of A2 and A6


def _fn(spec, namespace, seed=0):
    return judge_function(spec, np.random.default_rng(seed), InProcessRunner(namespace))


@pytest.mark.parametrize("spec", [a2.JACOBIAN, a2.SIGMOID, a2.LOG_SOFTMAX, a6.COUNT_OPS],
                         ids=lambda s: s.name)
def test_function_parts_pass_with_nn_core_and_numpy(spec):
    for namespace in (NN_CORE, NUMPY):
        for seed in (0, 1):
            v = _fn(spec, namespace, seed)
            assert v.passed == v.total >= 4 and v.diagnosis is None, [m.en for m in v.messages]
    shapes = {tuple(np.shape(a) for a in case) for case in spec.cases(np.random.default_rng(0))}
    assert len(shapes) >= 2


def test_naive_versions_fail_the_extreme_inputs_with_a_message():
    def naive_sigmoid(x):
        with np.errstate(all="ignore"):
            return np.exp(x) / (1 + np.exp(x))                # nan at +1000

    def naive_log_softmax(x):
        with np.errstate(all="ignore"):
            e = np.exp(x)
            return np.log(e / e.sum(axis=-1, keepdims=True))
    for spec, fn in ((a2.SIGMOID, naive_sigmoid), (a2.LOG_SOFTMAX, naive_log_softmax)):
        v = _fn(spec, {spec.name: fn})
        assert v.passed < v.total and v.messages
        assert spec.name in " ".join(m.en for m in v.messages)


def test_jacobian_gradient_check_uses_the_students_log_softmax():
    # the transposed Jacobian fails the hidden cases and the finite differences
    v = _fn(a2.JACOBIAN, {**NUMPY, "log_softmax_jacobian": lambda x: np_log_softmax_jacobian(x).T})
    assert any("numerical gradient" in m.en for m in v.messages)
    assert v.diagnosis == "jacobian_transposed"
    # without the student's log_softmax the gradient check cannot run
    v = _fn(a2.JACOBIAN, {"log_softmax_jacobian": np_log_softmax_jacobian})
    assert v.passed == v.total - 1 and any("log_softmax" in m.en for m in v.messages)


def test_count_ops_reference_is_what_the_network_actually_does():
    rng = np.random.default_rng(3)
    for sizes, batch in a6.COUNT_OPS.cases(rng):
        counted = tuple(a6.count_ops_reference(sizes, batch))
        assert counted == count_ops_from_dense_counts(sizes, batch) == np_count_ops(sizes, batch)


def test_count_ops_may_return_a_tuple_a_list_or_an_array():
    for wrap in (tuple, list, np.array):
        v = _fn(a6.COUNT_OPS, {"count_ops": lambda s, b, w=wrap: w(np_count_ops(s, b))})
        assert v.passed == v.total, wrap


def test_grade_submission_names_function_mistakes_of_a2_and_a6():
    params, _ = variant_of(COURSE, "A6", "alice")
    answers = references("A6", params)

    def no_wt_delta(sizes, batch):                       # W^{(l+1)ᵀ}δ^{(l+1)} not counted
        f = list(np_count_ops(sizes, batch))
        for l in range(2, len(sizes)):
            f[2] -= batch * sizes[l - 1] * sizes[l]
            f[3] -= batch * sizes[l - 1] * (sizes[l] - 1)
        return tuple(f)
    result = grade_submission(COURSE, "A6", answers, "alice",
                              InProcessRunner({**NUMPY, "count_ops": no_wt_delta}))
    r = result.results_for("A6.q3")[0]
    assert r.score < r.max_score and r.diagnosis == "count_missing_backward_term"
    assert catalogued("count_missing_backward_term").text.en in r.feedback_text("en")


def test_a2_bound_carries_forward_the_students_own_maximum():
    """bound = (max σ')^L: a wrong maximum used consistently earns the bound
    (course ecf: full), and the wrong maximum itself is still named."""
    from autograder.config import load_course
    from autograder.judge import grade_submission, variant_of
    course = load_course("course.yaml")
    params, _ = variant_of(course, "A2", "bob")
    result = grade_submission(course, "A2", {"q6": {"max_dsigmoid": 0.5,
                                                    "bound": 0.5 ** params["L"]}}, "bob")
    q6 = {q.part: q for q in result.questions if q.question == "A2.q6"}
    assert q6["max_dsigmoid"].score == 0 and q6["max_dsigmoid"].diagnosis == "function_for_derivative"
    assert q6["bound"].carried_forward and q6["bound"].score == q6["bound"].max_score

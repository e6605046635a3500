"""A2 (autograder/questions/a2.py): derivatives of the activations, the
log-softmax Jacobian, stable sigmoid / log-softmax, the vanishing-gradient bound.

* the references of every variant earn full marks (through grade_assignment,
  and through grade_submission with course.yaml, as SymPy objects and as the
  text that crosses from the notebook), every catalogued mistake is named;
* the numbers agree with nn_core; the formula parts accept a broad table of
  equal forms and reject (and name) wrong ones;
* the function parts pass with nn_core and with NumPy written from the
  lecture; naive (unstable) versions and a transposed Jacobian fail and are named.

Expected values come from nn_core, SymPy, finite differences or plain NumPy
written here, never from the question module's own output.
"""
import numpy as np
import pytest
import sympy as sp

import nn_core.activations as act
from autograder.functions import InProcessRunner, judge_function
from autograder.judge import grade_question, grade_submission, part_points, policy_for, variant_of
from autograder.protocol import from_wire, to_wire
from autograder.questions import a2, get_question, questions_of
from nn_core.activations import log_softmax, sigmoid
from nn_core.symbolic import derive
from question_checks import (BAD, COURSE, GOOD, STUDENTS, _fn, _judge,
                             check_function_part_passes_with_nn_core_and_numpy,
                             check_student_written_mistake_is_named, standard_tests,
                             student_mistake_ids)
from question_impls import NUMPY, np_log_softmax_jacobian

# ---------------------------------------------------------------------------------------
# the standard tests (question_checks.standard_tests), then this module's own


globals().update(standard_tests("A2", function_mistakes=True, formulas=True,
                                through_course=True))


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


# ---------------------------------------------------------------------------------------
# formula parts: equal forms accepted, wrong ones rejected (and named)


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
# function parts


@pytest.mark.parametrize("spec", [a2.JACOBIAN, a2.SIGMOID, a2.LOG_SOFTMAX], ids=lambda s: s.name)
def test_function_parts_pass_with_nn_core_and_numpy(spec):
    check_function_part_passes_with_nn_core_and_numpy(spec)


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


def test_one_minus_softmax_jacobian_is_named():
    from autograder.questions.a2 import JACOBIAN

    def one_minus(x):
        x = np.asarray(x, dtype=float)
        s = np.exp(x - x.max()) / np.exp(x - x.max()).sum()
        return np.ones((x.size, x.size)) - s[None, :]

    def log_softmax(x):
        x = np.asarray(x, dtype=float)
        return x - x.max() - np.log(np.exp(x - x.max()).sum())
    v = judge_function(JACOBIAN, np.random.default_rng(0),
                       InProcessRunner({"log_softmax_jacobian": one_minus,
                                        "log_softmax": log_softmax}))
    assert v.passed < v.total and v.diagnosis == "log_softmax_missing_delta"


# A2.q5: a naive sigmoid / log-softmax overflows at ±1000 (issue 16)

def _judge_functions(course, qid, namespace, seed=0):
    q = get_question(qid)
    return {r.part: r for r in grade_question(
        q, {}, {}, lambda part: policy_for(course, q.id, part), part_points(course, q),
        InProcessRunner(namespace), seed)}


def naive_sigmoid(x):
    return 1 / (1 + np.exp(-np.asarray(x, dtype=float)))


def naive_log_softmax(x):
    x = np.asarray(x, dtype=float)
    return x - np.log(np.sum(np.exp(x), axis=-1, keepdims=True))


def test_naive_sigmoid_loses_the_stable_part_and_is_named():
    # its values are right at ±1000 in float64 (1/(1+inf) = 0): only the overflow shows
    with np.errstate(all="ignore"):
        assert naive_sigmoid(-1000.0) == 0.0 and naive_sigmoid(1000.0) == 1.0
    by = _judge_functions(COURSE, "A2.q5", {"sigmoid": naive_sigmoid, "log_softmax": naive_log_softmax})
    for part in ("sigmoid", "log_softmax"):
        assert by[part].score == 0.0, by[part].feedback_text("en")
        assert by[part].diagnosis == "numerically_unstable"
        text = by[part].feedback_text("zh+en")
        assert "numerically stable" in text and "数值不稳定" in text


def test_stable_functions_keep_full_marks():
    by = _judge_functions(COURSE, "A2.q5", {"sigmoid": sigmoid, "log_softmax": log_softmax})
    assert all(r.score == r.max_score and r.diagnosis is None for r in by.values())


# ---------------------------------------------------------------------------------------
# catalogued mistakes of the function parts: a function made with the mistake is named
# as it, a correct one never is, one written as a student would write it is named


STUDENT_MISTAKES = [   # (spec, the student's function, the mistake it must be named as)
    (a2.JACOBIAN, lambda x: np_log_softmax_jacobian(x).T, "jacobian_transposed"),
    (a2.JACOBIAN, lambda x: np_log_softmax_jacobian(x) - np.eye(len(x)), "log_softmax_missing_delta"),
]


@pytest.mark.parametrize("spec,fn,mistake", STUDENT_MISTAKES,
                         ids=student_mistake_ids(STUDENT_MISTAKES))
def test_student_written_mistakes_are_named(spec, fn, mistake):
    check_student_written_mistake_is_named(spec, fn, mistake)

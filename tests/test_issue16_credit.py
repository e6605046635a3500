"""Issue 16, wrong or missing credit: A2.q5's stability, course.yaml's
tolerance for function parts, error carried forward inside A4.q1 and A4.q3,
a STUDENT_ID typed without quotes, one way of splitting points.

Expected values come from plain NumPy written here (never from the
question modules under test)."""
from pathlib import Path

import numpy as np
import pytest

from autograder.config import load_course, parse_course
from autograder.functions import InProcessRunner
from autograder.judge import grade_question, part_points, policy_for
from autograder.questions import get_question
from autograder.questions.base import Policy
from autograder.variants import variant_params
from nn_core.activations import log_softmax, sigmoid
from test_judge import grade_assignment

#: the tolerances and credits these tests are written for (stated, not Policy()'s defaults)
POLICY_1E4 = Policy(rtol=1e-4, atol=1e-6, atol_scale=1e-6, shape_credit=0.5, ecf="full")

ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(ROOT / "course.yaml")


def _judge(course, qid, namespace, seed=0):
    q = get_question(qid)
    return {r.part: r for r in grade_question(
        q, {}, {}, lambda part: policy_for(course, q.id, part), part_points(course, q),
        InProcessRunner(namespace), seed)}


# -- A2.q5: a naive sigmoid / log-softmax overflows at ±1000 ------------------------------

def naive_sigmoid(x):
    return 1 / (1 + np.exp(-np.asarray(x, dtype=float)))


def naive_log_softmax(x):
    x = np.asarray(x, dtype=float)
    return x - np.log(np.sum(np.exp(x), axis=-1, keepdims=True))


def test_naive_sigmoid_loses_the_stable_part_and_is_named():
    # its values are right at ±1000 in float64 (1/(1+inf) = 0): only the overflow shows
    with np.errstate(all="ignore"):
        assert naive_sigmoid(-1000.0) == 0.0 and naive_sigmoid(1000.0) == 1.0
    by = _judge(COURSE, "A2.q5", {"sigmoid": naive_sigmoid, "log_softmax": naive_log_softmax})
    for part in ("sigmoid", "log_softmax"):
        assert by[part].score == 0.0, by[part].feedback_text("en")
        assert by[part].diagnosis == "numerically_unstable"
        text = by[part].feedback_text("zh+en")
        assert "numerically stable" in text and "数值不稳定" in text


def test_stable_functions_keep_full_marks():
    by = _judge(COURSE, "A2.q5", {"sigmoid": sigmoid, "log_softmax": log_softmax})
    assert all(r.score == r.max_score and r.diagnosis is None for r in by.values())


# -- tolerance: function applies to function parts ------------------------------------------

def _course_with_function_rtol(rtol: str):
    text = (ROOT / "course.yaml").read_text(encoding="utf-8")
    old = "    function:              # outputs of the student's own code vs the reference\n" \
          "      rtol: 1.0e-6\n"
    assert old in text
    return parse_course(text.replace(old, old.replace("1.0e-6", rtol)))


def test_course_function_profile_sets_function_parts_tolerance():
    def off_by_20_percent(x):                         # stable, but 1.2 × σ(x)
        return 1.2 * sigmoid(x)
    ns = {"sigmoid": off_by_20_percent, "log_softmax": log_softmax}
    loose = _judge(_course_with_function_rtol("0.5"), "A2.q5", ns)["sigmoid"]
    strict = _judge(COURSE, "A2.q5", ns)["sigmoid"]
    assert loose.score == loose.max_score
    assert strict.score < strict.max_score


def test_fn_spec_tolerance_is_only_a_default():
    from autograder.judge import fn_tolerance
    assert fn_tolerance(None) is None and fn_tolerance(Policy()) is None
    tol = fn_tolerance(policy_for(COURSE, "A2.q5", "sigmoid"))
    assert tol == {"rtol": 1e-6, "atol": 1e-9, "atol_scale": 1e-8}


# -- error carried forward in A4 --------------------------------------------------------------

def relu(z):
    return np.maximum(z, 0.0)


def _a4_by_hand(p, z1=None):
    """The forward pass written out here (not a4.forward)."""
    x, W1, b1 = np.array(p["x"]), np.array(p["W1"]), np.array(p["b1"])
    W2, b2, y = np.array(p["W2"]), np.array(p["b2"]), np.array(p["y"])
    z1 = W1 @ x + b1 if z1 is None else z1
    y_hat = relu(W2 @ relu(z1) + b2)
    return z1, y_hat, 0.5 * float(np.sum((y - y_hat) ** 2))


@pytest.mark.parametrize("student", [None, "alice", "s042"])
def test_a4_q1_carries_the_students_own_z1_forward(student):
    p = variant_params("A4", student)
    z1_true, _, _ = _a4_by_hand(p)
    z1 = z1_true + np.array([0.3, 0.0])             # a wrong z1, the off unit still off
    _, y_hat, L = _a4_by_hand(p, z1)
    r = grade_assignment("A4", {"q1": {"z1": z1, "y_hat": y_hat, "L": L}}, p, POLICY_1E4)
    by = {x.part: x for x in r.questions if x.question == "A4.q1"}
    assert by["z1"].score == 0
    for part in ("y_hat", "L"):
        assert by[part].carried_forward and by[part].score == by[part].max_score


@pytest.mark.parametrize("student", [None, "bob"])
def test_a4_q3_carries_the_students_own_weights_forward(student):
    p = variant_params("A4", student)
    x, y, lr = np.array(p["x"]), np.array(p["y"]), float(p["lr"])
    # the student's q2: off by a factor 0.9 (wrong); q3 consistent with it, but W2 miscopied
    z1, y_hat, _ = _a4_by_hand(p)
    h, W2x = relu(z1), np.array(p["W2"])
    d2 = (y_hat - y) * ((W2x @ h + np.array(p["b2"])) > 0)     # δ2 = ReLU'(z2) (ŷ − y)
    d1 = (z1 > 0) * (W2x.T @ d2)
    g = {"dW2": 0.9 * np.outer(d2, h), "db2": 0.9 * d2, "dW1": 0.9 * np.outer(d1, x),
         "db1": 0.9 * d1}
    W1n = np.array(p["W1"]) - lr * g["dW1"]
    b1n = np.array(p["b1"]) - lr * g["db1"]
    W2n = W2x - lr * g["dW2"] + np.array([[0.05, 0.0]])          # a slip in W2
    b2n = np.array(p["b2"]) - lr * g["db2"]
    y_new = relu(W2n @ relu(W1n @ x + b1n) + b2n)                 # from the student's weights
    L_new = 0.5 * float(np.sum((y - y_new) ** 2))
    answers = {"q2": g, "q3": {"W1": W1n, "b1": b1n, "W2": W2n, "b2": b2n,
                               "y_hat_new": y_new, "L_new": L_new}}
    r = grade_assignment("A4", answers, p, POLICY_1E4)
    by = {x.part: x for x in r.questions if x.question == "A4.q3"}
    for part in ("W1", "b1", "b2", "y_hat_new", "L_new"):
        assert by[part].carried_forward and by[part].score == by[part].max_score, part
    assert by["W2"].score == 0 and not by["W2"].carried_forward     # no credit for itself


# -- STUDENT_ID typed as a number ----------------------------------------------------------------

@pytest.fixture
def course_env(monkeypatch):
    monkeypatch.setenv("NNGRADE_COURSE", str(ROOT / "course.yaml"))
    monkeypatch.delenv("NNGRADE_STUDENT", raising=False)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    monkeypatch.delenv("NNGRADE_MODE", raising=False)


def test_numeric_student_id_is_the_students_id(course_env, capsys):
    from autograder.notebook import setup
    s = setup("A3", 2023012345)
    out = capsys.readouterr().out
    assert s.student == "2023012345"
    assert s.params == variant_params("A3", "2023012345", course_id=COURSE.course_id
                                      + COURSE.variants.key())
    assert s.params != variant_params("A3", None)
    assert "No student id" not in out and "未填写学号" not in out


@pytest.mark.parametrize("bad", [2023012345.0, ["2023012345"], True])
def test_other_student_id_types_are_refused_loudly(course_env, bad):
    from autograder.notebook import setup
    with pytest.raises(TypeError) as err:
        setup("A3", bad)
    assert "STUDENT_ID" in str(err.value) and "学号" in str(err.value)


# -- one way of splitting points -------------------------------------------------------------------

def test_all_zero_results_split_points_as_the_judge_does():
    from autograder.grading import all_zero as _all_zero
    result = _all_zero(COURSE, "A8", "s1", "无", "none", "error", {})
    for qid in ("A8.q1", "A8.q7"):
        q = get_question(qid)
        want = part_points(COURSE, q)
        got = {r.part: r.max_score for r in result.questions if r.question == qid}
        assert got == want
        assert sum(got.values()) == pytest.approx(COURSE.points(qid), abs=1e-12)
    shares = {r.max_score for r in result.questions if r.question == "A8.q1"}
    assert all(round(s, 9) == s for s in shares)

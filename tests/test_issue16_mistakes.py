"""Issue 16, mistakes not named: each wrong answer is computed here by hand
(plain NumPy loops), never by the question modules, and must be named."""
import numpy as np
import pytest

from autograder.functions import InProcessRunner, judge_function
from autograder.questions.base import Policy
from autograder.variants import variant_params
from test_judge import grade_assignment

POLICY = Policy(rtol=0.005, atol=1e-6, atol_scale=1e-4,      # course.yaml's default
                shape_credit=0.5, ecf="full")


def relu(z):
    return np.maximum(z, 0.0)


def a4_by_hand(p, lr=None, stale=False, relu_for_grad=False):
    x, y = np.array(p["x"]), np.array(p["y"])
    W1, b1, W2, b2 = (np.array(p[k]) for k in ("W1", "b1", "W2", "b2"))
    lr = p["lr"] if lr is None else lr
    z1 = W1 @ x + b1
    h = relu(z1)
    z2 = W2 @ h + b2
    y_hat = relu(z2)
    d2 = (y_hat - y) * (relu(z2) if relu_for_grad else (z2 > 0))
    g = {"dW2": np.outer(d2, h), "db2": d2}
    W2_for_back = W2 - p["lr"] * g["dW2"] if stale else W2
    d1 = (relu(z1) if relu_for_grad else (z1 > 0)) * (W2_for_back.T @ d2)
    g.update(dW1=np.outer(d1, x), db1=d1)
    new = {"W1": W1 - lr * g["dW1"], "b1": b1 - lr * g["db1"], "W2": W2 - lr * g["dW2"],
           "b2": b2 - lr * g["db2"]}
    return {"q1": {"z1": z1, "y_hat": y_hat, "L": 0.5 * float(np.sum((y - y_hat) ** 2))},
            "q2": g, "q3": new}


def named(result, qid):
    return {r.part: r for r in result.questions if r.question == qid}


@pytest.mark.parametrize("student", [None, "alice", "s042"])
def test_w2_updated_before_backprop_into_w1_is_named_in_q2(student):
    p = variant_params("A4", student)
    answers = a4_by_hand(p, stale=True)
    by = named(grade_assignment("A4", answers, p, POLICY), "A4.q2")
    for part in ("dW1", "db1"):
        assert by[part].score == 0 and by[part].diagnosis == "updated_before_all_gradients"
    assert by["dW2"].score == by["dW2"].max_score


@pytest.mark.parametrize("student", [None, "bob"])
def test_learning_rate_point_one_is_named(student):
    p = variant_params("A4", student)
    assert p["lr"] != 0.1
    answers = a4_by_hand(p, lr=0.1)
    by = named(grade_assignment("A4", answers, p, POLICY), "A4.q3")
    for part in ("W1", "b1", "W2", "b2"):
        assert by[part].score == 0 and by[part].diagnosis == "wrong_learning_rate", part


@pytest.mark.parametrize("student", [None, "carol"])
def test_relu_for_its_derivative_is_named(student):
    p = variant_params("A4", student)
    answers = a4_by_hand(p, relu_for_grad=True)
    by = named(grade_assignment("A4", answers, p, POLICY), "A4.q2")
    assert by["dW1"].score == 0 and by["dW1"].diagnosis == "relu_for_derivative"


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


def _pool_by_hand(dout, x, K, stride, tie):
    x, dout = np.asarray(x, dtype=float), np.asarray(dout, dtype=float)
    K, s = int(K), int(stride)
    dx = np.zeros_like(x)
    for i in range(dout.shape[0]):
        for j in range(dout.shape[1]):
            best = max(x[i * s + u, j * s + v] for u in range(K) for v in range(K))
            cells = [(u, v) for u in range(K) for v in range(K) if x[i * s + u, j * s + v] == best]
            for u, v in (cells if tie == "all" else cells[-1:]):
                dx[i * s + u, j * s + v] += dout[i, j]
    return dx


def _maxpool_forward(x, K, stride):
    x = np.asarray(x, dtype=float)
    K, s = int(K), int(stride)
    oh, ow = (x.shape[0] - K) // s + 1, (x.shape[1] - K) // s + 1
    return np.array([[x[i * s:i * s + K, j * s:j * s + K].max() for j in range(ow)]
                     for i in range(oh)])


@pytest.mark.parametrize("tie", ["all", "last"])
def test_ties_in_max_pooling_are_named(tie):
    from autograder.questions.a7 import MAXPOOL
    v = judge_function(MAXPOOL, np.random.default_rng(5), InProcessRunner({
        "maxpool_backward": lambda d, x, K, s: _pool_by_hand(d, x, K, s, tie),
        "maxpool_forward": _maxpool_forward}))
    assert v.passed == v.total - 1 and v.diagnosis == "maxpool_ties"


def test_two_significant_digits_are_named_with_their_count():
    p = variant_params("A4", None)
    right = a4_by_hand(p)["q1"]
    two = {"z1": right["z1"], "y_hat": np.array([float(f"{right['y_hat'][0]:.2g}")]),
           "L": float(f"{right['L']:.3g}")}
    by = named(grade_assignment("A4", {"q1": two}, p, POLICY), "A4.q1")
    assert by["y_hat"].score == 0 and by["y_hat"].diagnosis == "too_few_digits"
    assert "agrees to 2 significant digits; keep at least 4" in by["y_hat"].feedback_text("en")
    assert "2 位有效数字" in by["y_hat"].feedback_text("zh")
    # right within tolerance by luck: full credit, and a word about precision
    assert by["L"].score == by["L"].max_score
    assert "agrees to 3 significant digits" in by["L"].feedback_text("en")
    assert "significant" not in by["z1"].feedback_text("en")


def test_lecture_numbers_in_a_students_variant_are_named_and_not_carried():
    lecture, own = variant_params("A4", None), variant_params("A4", "alice")
    assert lecture != own
    answers = a4_by_hand(lecture)
    result = grade_assignment("A4", answers, own, POLICY)
    for qid in ("A4.q1", "A4.q2"):
        for r in named(result, qid).values():
            assert r.score == 0 and not r.carried_forward
            assert r.diagnosis == "lecture_numbers", (r.label, r.feedback_text("en"))
            assert "these are the lecture's numbers; yours are from your student id" in \
                r.feedback_text("en").lower()


def test_a_close_wrong_answer_is_not_called_a_rounding():
    """Only the reference rounded or cut off to few digits is named
    ``too_few_digits``; a wrong answer that happens to lie within a few
    percent is not (it was, once, for a shifted-label mistake in A5.q3)."""
    from autograder.numeric import rounded_digits
    r = np.array([0.123456, -2.71828])
    assert rounded_digits(np.array([0.12, -2.7]), r) == 2
    assert rounded_digits(np.array([0.1234, -2.718]), r) is None   # 4 digits: precise enough
    assert rounded_digits(np.array([0.12, -2.71828]), r) == 2      # one entry rounded
    assert rounded_digits(np.array([0.1249, -2.70]), r) is None    # close, not a rounding
    assert rounded_digits(np.array([0.13, -2.7]), r) is None       # 0.13 is no rounding of r

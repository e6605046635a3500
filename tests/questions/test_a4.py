"""A4 (autograder/questions/a4.py): one training step of the lecture's
2-2-1 ReLU network.

* the lecture's numbers are accepted, the references of every variant earn
  full marks, every catalogued mistake is named; wrong answers a student
  computes by hand (a stale W2, learning rate 0.1, ReLU for its derivative,
  two significant digits, the lecture's numbers in one's own variant) are
  named; errors are carried forward inside q1 and q3; the references of
  every variant are the training step written here by hand;
* nn_core's network reproduces the lecture's worked numbers;
* the variants keep exactly the second hidden unit off.

Expected values are typed from docs/exercises.md (the lecture slides) or
computed here in plain NumPy loops, never by the question module.
"""
import numpy as np
import pytest

from autograder.questions.base import Policy
from autograder.variants import variant_params
from nn_core.activations import ActivationLayer
from nn_core.layers import Linear
from nn_core.network import Network
from nn_core.optim import SGD
from question_checks import (POLICY, check_lecture_numbers_are_accepted,
                             check_references_equal_the_oracle, grade_assignment, references,
                             standard_tests)

#: course.yaml's default tolerances (the tests of mistakes found by hand, issue 16)
POLICY_COURSE = Policy(rtol=0.005, atol=1e-6, atol_scale=1e-4,
                       shape_credit=0.5, ecf="full")
#: the tolerances and credits these tests are written for (stated, not Policy()'s defaults)
POLICY_1E4 = Policy(rtol=1e-4, atol=1e-6, atol_scale=1e-6, shape_credit=0.5, ecf="full")

# ---------------------------------------------------------------------------------------
# lecture numbers, references of every variant, catalogued mistakes


def test_lecture_numbers_are_accepted():
    check_lecture_numbers_are_accepted("A4")


globals().update(standard_tests("A4"))


# ---------------------------------------------------------------------------------------
# mistakes computed by hand (plain NumPy loops), never by the question module

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
    by = named(grade_assignment("A4", answers, p, POLICY_COURSE), "A4.q2")
    for part in ("dW1", "db1"):
        assert by[part].score == 0 and by[part].diagnosis == "updated_before_all_gradients"
    assert by["dW2"].score == by["dW2"].max_score


@pytest.mark.parametrize("student", [None, "bob"])
def test_learning_rate_point_one_is_named(student):
    p = variant_params("A4", student)
    assert p["lr"] != 0.1
    answers = a4_by_hand(p, lr=0.1)
    by = named(grade_assignment("A4", answers, p, POLICY_COURSE), "A4.q3")
    for part in ("W1", "b1", "W2", "b2"):
        assert by[part].score == 0 and by[part].diagnosis == "wrong_learning_rate", part


@pytest.mark.parametrize("student", [None, "carol"])
def test_relu_for_its_derivative_is_named(student):
    p = variant_params("A4", student)
    answers = a4_by_hand(p, relu_for_grad=True)
    by = named(grade_assignment("A4", answers, p, POLICY_COURSE), "A4.q2")
    assert by["dW1"].score == 0 and by["dW1"].diagnosis == "relu_for_derivative"


def test_two_significant_digits_are_named_with_their_count():
    p = variant_params("A4", None)
    right = a4_by_hand(p)["q1"]
    two = {"z1": right["z1"], "y_hat": np.array([float(f"{right['y_hat'][0]:.2g}")]),
           "L": float(f"{right['L']:.3g}")}
    by = named(grade_assignment("A4", {"q1": two}, p, POLICY_COURSE), "A4.q1")
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
    result = grade_assignment("A4", answers, own, POLICY_COURSE)
    for qid in ("A4.q1", "A4.q2"):
        for r in named(result, qid).values():
            assert r.score == 0 and not r.carried_forward
            assert r.diagnosis == "lecture_numbers", (r.label, r.feedback_text("en"))
            assert "these are the lecture's numbers; yours are from your student id" in \
                r.feedback_text("en").lower()


@pytest.mark.parametrize("student", [None, "alice", "bob", "s042"])
def test_references_are_the_training_step_by_hand(student):
    """a4_by_hand (above, plain NumPy) is the oracle of q1, q2 and q3's weights."""
    check_references_equal_the_oracle("A4", student, a4_by_hand)


# ---------------------------------------------------------------------------------------
# error carried forward

def test_a4_update_carried_forward_from_wrong_gradients():
    params = variant_params("A4")
    answers = references("A4", params)
    grads = {k: np.asarray(v) * 1.1 for k, v in answers["q2"].items()}   # wrong gradients
    answers["q2"] = grads
    lr = params["lr"]
    answers["q3"].update({name: np.asarray(params[name]) - lr * grads["d" + name]
                          for name in ("W1", "b1", "W2", "b2")})
    from autograder.questions.a4 import update
    ecf = update(params, grads)
    answers["q3"].update(y_hat_new=ecf["y_hat_new"], L_new=ecf["L_new"])
    result = grade_assignment("A4", answers, params, POLICY)
    by = {r.label: r for r in result.questions}
    assert by["A4.q2/dW1"].score == 0
    for part in ("W1", "b1", "W2", "b2", "y_hat_new", "L_new"):
        assert by[f"A4.q3/{part}"].carried_forward, part


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


# ---------------------------------------------------------------------------------------
# the lecture's worked numbers reproduced by nn_core

def a4_network():
    return Network([Linear(2, 2, W=np.array([[0.1, 0.4], [-0.5, 0.2]]), b=np.array([0.1, -0.1])),
                    ActivationLayer("relu"),
                    Linear(2, 1, W=np.array([[0.6, 0.8]]), b=np.array([0.2])),
                    ActivationLayer("relu")], "half_squared_error")


def test_a4_forward_gradients_and_update():
    net = a4_network()
    X, Y = np.array([[0.2, 0.3]]), np.array([[1.0]])
    z1, _ = net.layers[0].forward(X[0])
    np.testing.assert_allclose(z1, [0.24, -0.14], atol=1e-12)
    np.testing.assert_allclose(net.forward(X[0]), [0.344], atol=1e-12)
    loss, grads = net.gradients(X, Y)
    assert loss == pytest.approx(0.215168, abs=1e-12)
    np.testing.assert_allclose(grads[2]["W"], [[-0.15744, 0.0]], atol=1e-12)
    np.testing.assert_allclose(grads[2]["b"], [-0.656], atol=1e-12)
    np.testing.assert_allclose(grads[0]["W"], [[-0.07872, -0.11808], [0.0, 0.0]], atol=1e-12)
    np.testing.assert_allclose(grads[0]["b"], [-0.3936, 0.0], atol=1e-12)
    SGD(lr=1.0).step(net, grads)
    y_new = net.forward(X[0])
    assert y_new[0] == pytest.approx(1.374671, abs=5e-7)
    new_loss = net.loss_value(X, Y)
    assert new_loss == pytest.approx(0.070189, abs=5e-7)
    assert new_loss < loss


# ---------------------------------------------------------------------------------------
# variants

def test_a4_variants_keep_exactly_the_second_unit_off():
    for i in range(200):
        p = {k: np.array(v) for k, v in variant_params("A4", f"s{i}").items()}
        z1 = p["W1"] @ p["x"] + p["b1"]
        assert z1[0] >= 0.05 and z1[1] <= -0.05
        yhat = p["W2"] @ np.maximum(z1, 0) + p["b2"]
        assert 0.05 <= yhat[0] < p["y"][0]

"""A3 (autograder/questions/a3.py): forward and backward pass of the
lecture's 2-2-1 sigmoid network.

* the lecture's numbers are accepted, the references of every variant earn
  full marks, every catalogued mistake is named, an error is carried forward;
* the references of every variant are the forward and backward pass written
  here in NumPy (itself checked by finite differences);
* nn_core's network reproduces the lecture's worked numbers (the oracle the
  references are checked against);
* the variants are well conditioned.

Expected values are typed from docs/exercises.md, which took them from the
lecture slides, or computed here in plain NumPy.
"""
from dataclasses import replace

import numpy as np
import pytest

from autograder.variants import variant_params
from nn_core.activations import ActivationLayer
from nn_core.layers import Linear
from nn_core.network import Network
from question_checks import (POLICY, check_lecture_numbers_are_accepted,
                             check_references_equal_the_oracle, grade_assignment, references,
                             standard_tests)

# ---------------------------------------------------------------------------------------
# lecture numbers, references of every variant, catalogued mistakes


def test_lecture_numbers_are_accepted():
    check_lecture_numbers_are_accepted("A3")


globals().update(standard_tests("A3"))


def test_a3_error_carried_forward():
    params = variant_params("A3")
    wrong_z1 = [0.5, -0.8]                          # a slip in z1
    import nn_core
    h_from_wrong = nn_core.sigmoid(np.array(wrong_z1))
    answers = references("A3", params)
    answers["q1"].update(z1=wrong_z1, h=h_from_wrong)
    # y from the student's own h:
    y_ecf = np.array(params["W2"]) @ h_from_wrong + np.array(params["b2"])
    answers["q1"]["y"] = y_ecf
    # gradients consistent with their h and y
    from autograder.questions.a3 import gradients
    answers["q2"] = gradients(params, {"h": h_from_wrong, "y": y_ecf})
    full = grade_assignment("A3", answers, params, replace(POLICY, ecf="full"))
    by = {r.label: r for r in full.questions}
    assert by["A3.q1/z1"].score == 0
    assert by["A3.q1/h"].carried_forward and by["A3.q1/h"].score == by["A3.q1/h"].max_score
    assert by["A3.q2/dW1"].carried_forward
    assert "carried forward" in by["A3.q2/dW1"].feedback_text("en")
    half = grade_assignment("A3", answers, params, replace(POLICY, ecf="partial", ecf_credit=0.5))
    assert {r.label: r.score for r in half.questions}["A3.q2/dW1"] == pytest.approx(
        0.5 * by["A3.q2/dW1"].max_score)
    none = grade_assignment("A3", answers, params, replace(POLICY, ecf="none"))
    assert {r.label: r.score for r in none.questions}["A3.q2/dW1"] == 0


def a3_by_hand(p):
    """The forward and backward pass of the lecture, L = ½(y − t)², written here."""
    x, W1, b1, W2, b2, t = (np.array(p[k], dtype=float) for k in ("x", "W1", "b1", "W2", "b2", "t"))
    z1 = W1 @ x + b1
    h = 1 / (1 + np.exp(-z1))
    y = W2 @ h + b2
    d2 = y - t                                       # ∂L/∂y
    d1 = (W2.T @ d2) * h * (1 - h)                   # σ'(z1) ⊙ W2ᵀ δ2
    return {"q1": {"z1": z1, "h": h, "y": y},
            "q2": {"dW2": np.outer(d2, h), "db2": d2, "dW1": np.outer(d1, x), "db1": d1}}


@pytest.mark.parametrize("student", [None, "alice", "bob", "s042"])
def test_references_are_the_forward_and_backward_pass_by_hand(student):
    check_references_equal_the_oracle("A3", student, a3_by_hand)


@pytest.mark.parametrize("student", [None, "alice"])
def test_gradients_by_hand_are_the_finite_differences_of_the_loss(student):
    """The oracle above checked itself: central differences of L in W1."""
    p = variant_params("A3", student)

    def loss(W1):
        h = 1 / (1 + np.exp(-(W1 @ np.array(p["x"]) + np.array(p["b1"]))))
        y = np.array(p["W2"]) @ h + np.array(p["b2"])
        return 0.5 * float(np.sum((y - np.array(p["t"])) ** 2))
    W1, eps = np.array(p["W1"], dtype=float), 1e-6
    fd = np.zeros_like(W1)
    for i in np.ndindex(W1.shape):
        e = np.zeros_like(W1)
        e[i] = eps
        fd[i] = (loss(W1 + e) - loss(W1 - e)) / (2 * eps)
    np.testing.assert_allclose(a3_by_hand(p)["q2"]["dW1"], fd, rtol=1e-6, atol=1e-10)


# ---------------------------------------------------------------------------------------
# the lecture's worked numbers reproduced by nn_core

def a3_network():
    W1 = np.array([[0.4, -0.2], [-0.1, 0.3]])
    b1 = np.array([0.1, -0.3])
    W2 = np.array([[0.2, -0.5]])
    b2 = np.array([0.05])
    return Network([Linear(2, 2, W=W1, b=b1), ActivationLayer("sigmoid"),
                    Linear(2, 1, W=W2, b=b2)], "half_squared_error")


def test_a3_forward():
    net = a3_network()
    x = np.array([0.5, -1.5])
    z1, _ = net.layers[0].forward(x)
    h, _ = net.layers[1].forward(z1)
    y = net.forward(x)
    np.testing.assert_allclose(z1, [0.6, -0.8], atol=1e-12)
    np.testing.assert_allclose(h, [0.645656, 0.310026], atol=5e-7)
    np.testing.assert_allclose(y, [0.0241185], atol=5e-8)


@pytest.mark.parametrize("path", ["gradients", "gradients_per_sample"])
def test_a3_gradients(path):
    net = a3_network()
    X, T = np.array([[0.5, -1.5]]), np.array([[0.3]])
    _, grads = getattr(net, path)(X, T)
    np.testing.assert_allclose(grads[2]["W"], [[-0.178125, -0.085530]], atol=5e-7)
    np.testing.assert_allclose(grads[2]["b"], [-0.275882], atol=5e-7)
    np.testing.assert_allclose(grads[0]["W"], [[-0.006312, 0.018935], [0.014753, -0.044260]],
                               atol=5e-7)
    np.testing.assert_allclose(grads[0]["b"], [-0.012623, 0.029507], atol=5e-7)


# ---------------------------------------------------------------------------------------
# variants

def test_a3_variants_are_well_conditioned():
    for i in range(200):
        p = {k: np.array(v) for k, v in variant_params("A3", f"s{i}").items()}
        z1 = p["W1"] @ p["x"] + p["b1"]
        y = p["W2"] @ (1 / (1 + np.exp(-z1))) + p["b2"]
        assert np.all(np.abs(z1) <= 2.5) and np.all(np.abs(z1) >= 0.05)
        assert abs(y - p["t"])[0] >= 0.1

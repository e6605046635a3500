"""A5 (autograder/questions/a5.py): a 3-4-1 sigmoid network on a batch —
forward, cost, backward, gradient descent.

* the references of every variant earn full marks, every catalogued mistake
  is named (through grade_assignment, and q3 alone through grade_question);
* the function parts: a correct implementation written from the lecture
  passes every hidden check, a typical wrong one fails with a message;
* training reaches the stated threshold; the batched gradient is the mean of
  the per-sample ones; the variants are well conditioned.

Expected values come from plain NumPy written from the lecture's formulas
(question_impls.py) or nn_core, never from the question module's own output.
"""
import numpy as np
import pytest

from autograder.judge import grade_question
from autograder.questions import a5
from autograder.variants import variant_params
from question_checks import (POLICY, check_student_written_mistake_is_named, standard_tests,
                             student_mistake_ids)
from question_impls import WRONG, backward, forward, gradient_descent, sigmoid

# ---------------------------------------------------------------------------------------
# the standard tests (question_checks.standard_tests), then this module's own


globals().update(standard_tests("A5", a5, questions=True, functions=a5, function_mistakes=True))


def test_a5_batched_gradient_is_the_mean_of_the_per_sample_gradients():
    ref = a5.Q3.reference({})
    assert np.allclose(ref["dW1_each"].mean(axis=0), ref["dW1"], rtol=1e-12, atol=1e-15)
    # and a student's own loop over samples is accepted
    p = a5._params({})
    each = np.stack([backward(p["X"][i:i + 1], p["Y"][i:i + 1], p["W1"], p["b1"], p["W2"],
                              p["b2"])[0] for i in range(len(p["X"]))])
    dW1, db1, dW2, db2 = backward(p["X"], p["Y"], p["W1"], p["b1"], p["W2"], p["b2"])
    answers = {"q3": {"dW1_each": each, "dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}}
    results = grade_question(a5.Q3, answers, {}, POLICY, {})
    assert all(r.score == r.max_score for r in results)


# ---------------------------------------------------------------------------------------
# function parts


def test_a5_training_reaches_the_stated_threshold():
    X, Y, W1, b1, W2, b2 = a5.train_set()
    s = a5.TRAIN_SET
    *_, J = a5.gd_reference(X, Y, W1, b1, W2, b2, s["lr"], s["epochs"], s["batch_size"])
    assert J < a5.COST_THRESHOLD < a5.cost_reference(X, Y, W1, b1, W2, b2)
    *_, J_student = gradient_descent(X, Y, W1, b1, W2, b2, s["lr"], s["epochs"], s["batch_size"])
    assert J_student == pytest.approx(J, rel=1e-9)


# ---------------------------------------------------------------------------------------
# variants

def test_a5_variants_are_well_conditioned():
    from nn_core.activations import sigmoid
    for i in range(100):
        p = {k: np.array(v) for k, v in variant_params("A5", f"s{i}").items()}
        assert p["X"].shape[1] == 3 and p["W1"].shape == (4, 3) and p["W2"].shape == (1, 4)
        Z1 = p["X"] @ p["W1"].T + p["b1"]
        Z2 = sigmoid(Z1) @ p["W2"].T + p["b2"]
        assert np.abs(Z1).max() <= 2.5 and np.abs(Z2).max() <= 2.5
        assert 0 < p["Y"].sum() < len(p["Y"])


# ---------------------------------------------------------------------------------------
# catalogued mistakes of the function parts: a function made with the mistake is named
# as it, a correct one never is, one written as a student would write it is named


def backward_hidden(rule):
    def wrong(X, Y, W1, b1, W2, b2):
        A1, A2 = forward(X, W1, b1, W2, b2)
        dZ2 = (A2 - Y) / len(X)
        dZ1 = rule(dZ2 @ W2, A1)
        return dZ1.T @ X, dZ1.sum(axis=0), dZ2.T @ A1, dZ2.sum(axis=0)
    return wrong


STUDENT_MISTAKES = [   # (spec, the student's function, the mistake it must be named as)
    (a5.BACKWARD, WRONG["backward"], "missing_batch_mean"),
    (a5.BACKWARD, lambda X, Y, *p: tuple(g.T if g.ndim == 2 else g for g in backward(X, Y, *p)),
     "transposed_gradient"),
    (a5.BACKWARD, backward_hidden(lambda dA1, A1: dA1), "missing_activation_derivative"),
    (a5.BACKWARD, backward_hidden(lambda dA1, A1: dA1 * A1), "activation_for_derivative"),
    (a5.BACKWARD, backward_hidden(lambda dA1, A1: dA1 * sigmoid(A1) * (1 - sigmoid(A1))),
     "derivative_at_activation"),
    (a5.COST, WRONG["cost"], "missing_batch_mean"),
    (a5.GRADIENT_DESCENT, WRONG["gradient_descent"], "lr_not_applied"),
]


@pytest.mark.parametrize("spec,fn,mistake", STUDENT_MISTAKES,
                         ids=student_mistake_ids(STUDENT_MISTAKES))
def test_student_written_mistakes_are_named(spec, fn, mistake):
    check_student_written_mistake_is_named(spec, fn, mistake)

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
from question_checks import (POLICY, check_catalogued_mistake_of_the_question_is_diagnosed,
                             check_correct_implementation_passes_every_hidden_check,
                             check_every_catalogued_mistake_is_diagnosed,
                             check_reference_answers_earn_full_marks_and_no_diagnosis,
                             check_references_earn_full_marks_and_no_diagnosis,
                             check_typical_wrong_implementation_fails_with_a_message, fn_parts,
                             judged_questions, mistake_cases, question_mistake_cases)
from question_impls import WRONG, backward, forward, gradient_descent, sigmoid
from question_checks import (check_correct_function_is_never_diagnosed,
                             check_function_made_with_the_mistake_is_diagnosed_as_it,
                             check_student_written_mistake_is_named, fn_mistake_cases,
                             fn_specs_with_mistakes, student_mistake_ids)

# ---------------------------------------------------------------------------------------
# references of every variant, catalogued mistakes


@pytest.mark.parametrize("student", [None, "alice", "bob", "s042"])
def test_reference_answers_earn_full_marks_and_no_diagnosis(student):
    check_reference_answers_earn_full_marks_and_no_diagnosis("A5", student)


@pytest.mark.parametrize("student", [None, "alice", "carol"])
@pytest.mark.parametrize("qid,mistake_id", mistake_cases("A5"))
def test_every_catalogued_mistake_is_diagnosed(qid, mistake_id, student):
    check_every_catalogued_mistake_is_diagnosed(qid, mistake_id, student)


@pytest.mark.parametrize("student", [None, "alice"])
@pytest.mark.parametrize("q", judged_questions(a5), ids=lambda q: q.id)
def test_question_references_earn_full_marks_and_no_diagnosis(q, student):
    check_references_earn_full_marks_and_no_diagnosis(q, student)


@pytest.mark.parametrize("q,mistake", question_mistake_cases(a5))
def test_question_catalogued_mistakes_are_diagnosed(q, mistake):
    check_catalogued_mistake_of_the_question_is_diagnosed(q, mistake)


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


@pytest.mark.parametrize("q,part", fn_parts(a5))
def test_correct_implementations_pass_every_hidden_check(q, part):
    check_correct_implementation_passes_every_hidden_check(part)


@pytest.mark.parametrize("q,part", fn_parts(a5))
def test_typical_wrong_implementations_fail_with_a_message(q, part):
    check_typical_wrong_implementation_fails_with_a_message(part)


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


@pytest.mark.parametrize("spec,k", fn_mistake_cases("A5"))
def test_a_function_made_with_the_mistake_is_diagnosed_as_it(spec, k):
    check_function_made_with_the_mistake_is_diagnosed_as_it(spec, k)


@pytest.mark.parametrize("spec", list(fn_specs_with_mistakes("A5").values()), ids=lambda s: s.name)
def test_correct_functions_are_never_diagnosed(spec):
    check_correct_function_is_never_diagnosed(spec)


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

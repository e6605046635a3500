"""Function parts of A1.q6, A5, A7, A8, A9 taken together: every part has
several hidden cases that follow the seed (backward ones a gradient check),
grade_question runs them through the runner, the check field replaces
equality, inputs cannot be mutated to pass, and the questions' mistakes and
parts agree with the catalogue and course.yaml.

What is about one question module (its references, its mistakes, its function
parts with a correct and a typical wrong implementation) is in
tests/questions/test_aN.py; the implementations are in question_impls.py.
"""
import numpy as np
import pytest

from autograder.functions import InProcessRunner, judge_function
from autograder.judge import grade_question
from autograder.questions import a1_functions, a5, a7, a8, a9
from autograder.questions.a8 import judge_checked
from autograder.questions.base import Policy
from question_impls import CORRECT, WRONG, _wrong_relu, gradient_descent

MODULES = (a1_functions, a5, a7, a8, a9)
ALL_QUESTIONS = [q for m in MODULES for q in m.QUESTIONS]
POLICY = Policy(rtol=1e-4, atol=1e-6, atol_scale=1e-6, shape_credit=0.5, ecf="full")
STATISTICAL = Policy(rtol=0.25, atol=1e-6, atol_scale=1e-6, shape_credit=0.5, ecf="full")          # course.yaml's "statistical" profile


def policy_for(q):
    return STATISTICAL if q.id == "A8.q7" else POLICY


# ---------------------------------------------------------------------------------------
# correct implementations, written from the lecture formulas


def fn_parts():
    return [(q, p) for q in ALL_QUESTIONS for p in q.parts if p.kind == "fn"]


FN_PARTS = [pytest.param(q, p, id=f"{q.id}/{p.name}") for q, p in fn_parts()]


def judge(spec, namespace, seed=0):
    return judge_checked(spec, np.random.default_rng(seed), InProcessRunner(namespace))


# ---------------------------------------------------------------------------------------
# function parts


def test_every_function_part_has_several_hidden_cases_and_backward_ones_a_gradient_check():
    names = {}
    for q, part in fn_parts():
        cases = part.fn.cases(np.random.default_rng(0))
        names[part.fn.name] = part.fn
        if part.fn.name != "digits_predict":
            assert len(cases) >= 3, part.name
            shapes = {tuple(np.shape(a) for a in c) for c in cases}
            assert len(shapes) >= 2 or part.fn.name in ("sgd", "solve_xor"), part.name
    for name in ("backward", "conv_delta", "conv_dw", "maxpool_backward", "avgpool_backward"):
        assert names[name].grad_check is not None, name


def test_hidden_inputs_follow_the_seed():
    for q, part in fn_parts():
        if part.fn.name == "digits_predict":
            continue
        a = part.fn.cases(np.random.default_rng(5))
        b = part.fn.cases(np.random.default_rng(5))
        c = part.fn.cases(np.random.default_rng(6))
        flat = lambda cs: np.concatenate([np.ravel(np.asarray(x, dtype=float))  # noqa: E731
                                          for case in cs for x in case])
        assert np.array_equal(flat(a), flat(b))
        assert not np.array_equal(flat(a), flat(c)), part.name


def test_grade_question_runs_function_parts_through_the_runner():
    """The production path (judge_function via grade_question) on every part,
    the accuracy-threshold and any-network parts included."""
    runner = InProcessRunner(CORRECT)
    for q in ALL_QUESTIONS:
        answers = {q.local_id: dict(q.reference({}))}
        for r in grade_question(q, answers, {}, policy_for(q), {}, runner, seed=3):
            assert r.score == r.max_score, (r.label, r.feedback_text("en"))


def test_check_field_replaces_equality_with_the_reference():
    # relu_interpolant: the lecture's own construction and a reordered/rescaled
    # network that computes the same function both pass; digits is judged by
    # accuracy, not by equality of labels.
    from nn_core.elm import relu_interpolant as canonical
    rng = lambda: np.random.default_rng(0)                                   # noqa: E731
    assert judge_function(a9.RELU_SPEC, rng(), InProcessRunner({"relu_interpolant": canonical})).fraction == 1
    assert judge_function(a9.RELU_SPEC, rng(), InProcessRunner(CORRECT)).fraction == 1
    assert judge_function(a9.RELU_SPEC, rng(), InProcessRunner({"relu_interpolant": _wrong_relu})).fraction < 1
    truth = {"digits_predict": lambda X_train, y_train, X_test: a8.digits_labels(X_test)}
    assert judge_function(a8.DIGITS_SPEC, rng(), InProcessRunner(truth)).fraction == 1
    assert a8.DIGITS_SPEC.check is not None and a9.RELU_SPEC.check is not None


def test_backward_without_rotation_also_fails_the_gradient_check():
    v = judge(a7.CONV_DELTA, {**CORRECT, "conv_delta": WRONG["conv_delta"]})
    assert any("numerical gradient" in m.en for m in v.messages)
    v = judge(a5.BACKWARD, {**CORRECT, "backward": WRONG["backward"]})      # 1/n missing
    assert v.passed == 1 and any("numerical gradient" in m.en for m in v.messages)  # n = 1 only


def test_functions_cannot_pass_by_mutating_their_inputs():
    def vandal(X, Y, W1, b1, W2, b2, lr, epochs, batch_size):
        out = gradient_descent(X, Y, W1, b1, W2, b2, lr, epochs, batch_size)
        W1[...] = out[0]                                # "return" through the argument
        return out
    v = judge(a5.GRADIENT_DESCENT, {**CORRECT, "gradient_descent": vandal})
    assert v.passed == v.total


# ---------------------------------------------------------------------------------------
# numeric, choice and formula parts


def test_all_mistake_ids_are_catalogued_and_every_question_exposed():
    from autograder.mistakes import mistake
    ids = {q.id for q in ALL_QUESTIONS}
    assert {"A1.q6", "A5.q1", "A5.q2", "A5.q3", "A5.q4", "A7.q1", "A7.q2", "A8.q1", "A8.q2",
            "A8.q3", "A8.q4", "A8.q5", "A8.q6", "A8.q7", "A9.q1", "A9.q2"} <= ids
    for q in ALL_QUESTIONS:
        for m in q.mistakes:
            assert (mistake(m.id).name, mistake(m.id).hint) == (m.name, m.hint)


def test_course_yaml_parts_agree_with_the_definitions():
    from autograder.config import load_course
    course = load_course("course.yaml")
    for q in ALL_QUESTIONS:
        qc = course.question(q.id)
        if qc.parts:
            assert set(qc.parts) == {p.name for p in q.parts}, q.id

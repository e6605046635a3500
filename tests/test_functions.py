"""Judging student functions: hidden inputs, copies, finite differences."""
import numpy as np

from autograder.functions import FnSpec, GradCheck, InProcessRunner, judge_function, plan_calls
from nn_core.activations import log_softmax, sigmoid, sigmoid_grad


def cases(rng):
    return [(rng.standard_normal(5),), (rng.standard_normal((3, 4)),), (1000 * rng.standard_normal(6),)]


LOG_SOFTMAX = FnSpec("log_softmax", cases, log_softmax)


def test_correct_function_passes_every_case():
    v = judge_function(LOG_SOFTMAX, np.random.default_rng(0),
                       InProcessRunner({"log_softmax": log_softmax}))
    assert (v.passed, v.total) == (3, 3) and not v.messages


def test_naive_function_fails_the_extreme_case_and_says_which_shape():
    def naive(x):
        with np.errstate(all="ignore"):
            e = np.exp(x)
            return np.log(e / e.sum(axis=-1, keepdims=True))
    v = judge_function(LOG_SOFTMAX, np.random.default_rng(0), InProcessRunner({"log_softmax": naive}))
    assert v.passed == 2 and v.total == 3
    assert "(6,)" in v.messages[0].en


def test_mutating_inputs_cannot_fool_the_check():
    def cheat(x):
        out = log_softmax(x)
        x[...] = 0            # vandalise the input
        return out
    seen = []

    def spy(x):
        seen.append(x.copy())
        return log_softmax(x)
    rng = np.random.default_rng(1)
    plan = plan_calls(LOG_SOFTMAX, rng)
    InProcessRunner({"log_softmax": cheat}).run(plan)
    InProcessRunner({"log_softmax": spy}).run(plan)
    assert all(np.abs(s).max() > 0 for s in seen)


def test_errors_missing_functions_and_hostile_outputs_are_reported_as_data():
    class Liar:
        def __eq__(self, other):
            return True

        def __array__(self, *a, **k):
            raise SystemExit("should never be called")
    runner = InProcessRunner({"log_softmax": lambda x: Liar()})
    v = judge_function(LOG_SOFTMAX, np.random.default_rng(0), runner)
    assert v.passed == 0 and v.messages
    v = judge_function(LOG_SOFTMAX, np.random.default_rng(0), InProcessRunner({}))
    assert v.passed == 0 and "not defined" in v.messages[0].en
    v = judge_function(LOG_SOFTMAX, np.random.default_rng(0),
                       InProcessRunner({"log_softmax": lambda x: 1 / 0}))
    assert "ZeroDivisionError" in v.messages[0].en


SIG_BACKWARD = FnSpec(
    "sigmoid_backward",
    lambda rng: [(rng.standard_normal(4), rng.standard_normal(4)),
                 (rng.standard_normal((2, 3)), rng.standard_normal((2, 3)))],
    lambda dout, x: dout * sigmoid_grad(x),
    grad_check=GradCheck("sigmoid_forward", lambda args: [args[1]], 0, lambda args: args[0]))


def test_backward_checked_against_the_students_own_forward():
    good = {"sigmoid_forward": sigmoid, "sigmoid_backward": lambda d, x: d * sigmoid_grad(x)}
    v = judge_function(SIG_BACKWARD, np.random.default_rng(0), InProcessRunner(good))
    assert (v.passed, v.total) == (3, 3)
    # σ'(z) taken as σ(z): wrong against the reference and against finite differences
    bad = {**good, "sigmoid_backward": lambda d, x: d * sigmoid(x)}
    v = judge_function(SIG_BACKWARD, np.random.default_rng(0), InProcessRunner(bad))
    assert v.passed == 0 and any("numerical gradient" in m.en for m in v.messages)


def test_list_arguments_are_copies_too():
    """A function that mutates a list argument (layer sizes) cannot change
    what the reference sees."""
    spec = FnSpec("total", lambda rng: [([1, 2, 3],), ([4, 5],), ([6],)], lambda sizes: float(sum(sizes)))

    def vandal(sizes):
        out = sum(sizes)
        sizes.append(1000)
        sizes[0] = -1
        return out
    v = judge_function(spec, np.random.default_rng(0), InProcessRunner({"total": vandal}))
    assert (v.passed, v.total) == (3, 3) and v.diagnosis is None


def test_a_backward_output_of_the_wrong_structure_is_reported_not_raised():
    bad = {"sigmoid_forward": sigmoid, "sigmoid_backward": lambda d, x: d * sigmoid_grad(x)}
    spec = FnSpec(SIG_BACKWARD.name, SIG_BACKWARD.cases, SIG_BACKWARD.reference,
                  grad_check=GradCheck("sigmoid_forward", lambda args: [args[1]], 0,
                                       lambda args: args[0], lambda out: np.ones((7, 7)) @ out))
    v = judge_function(spec, np.random.default_rng(0), InProcessRunner(bad))
    assert v.passed == v.total - 1
    assert any("wrong structure" in m.en for m in v.messages)

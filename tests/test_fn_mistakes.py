"""Mistake diagnosis for function parts.

An FnSpec lists its catalogued mistakes as ``(id, wrong reference)``; a
student function whose every failing hidden case returns what a wrong
reference returns is diagnosed as that mistake — in ``FnVerdict.diagnosis``
and, through the judge, in ``QuestionResult.diagnosis`` and the feedback.
Wrong functions that match no mistake, or that raise, are not diagnosed;
the diagnosis reaches the result and crosses from another process.

That each catalogued mistake of a question module is named, that its correct
functions never are, and that a student's own version of the mistake is named
is tested in tests/questions/test_aN.py.  The student-style wrong
implementations are written independently (plain NumPy from the lecture
formulas, with one step done wrong); they are not the wrong references themselves.
"""
import json

import numpy as np
import pytest

from autograder.functions import FnSpec, InProcessRunner, diagnose, judge_function, plan_calls
from autograder.judge import grade_question
from autograder.mistakes import Mistake, mistake
from autograder.questions import QUESTIONS, a5, a7, a8
from autograder.questions.base import Policy
from question_impls import CORRECT, NUMPY, WRONG

#: the tolerances and credits these tests are written for (stated, not Policy()'s defaults)
POLICY_1E4 = Policy(rtol=1e-4, atol=1e-6, atol_scale=1e-6, shape_credit=0.5, ecf="full")

STUDENT = {**CORRECT, **NUMPY}                     # correct functions of every assignment


def judge(spec, namespace, seed=0):
    return judge_function(spec, np.random.default_rng(seed), InProcessRunner(namespace))


def specs_with_mistakes():
    seen = {}
    for q in QUESTIONS.values():
        for p in q.parts:
            if p.kind == "fn" and p.fn.mistakes:
                seen[(q.id, p.name)] = p.fn
    return seen


SPECS = specs_with_mistakes()


def test_the_assignments_have_function_mistakes():
    names = {spec.name for spec in SPECS.values()}
    assert {"backward", "cost", "gradient_descent", "conv_delta", "maxpool_backward",
            "avgpool_backward", "weight_decay_step", "dropout_test", "dropout_inverted",
            "step_decay", "clip_gradient", "log_softmax_jacobian", "count_ops"} <= names
    for spec in SPECS.values():
        for m in spec.mistakes:
            assert isinstance(m, Mistake) and mistake(m.id).name == m.name and callable(m.fn)


# ---------------------------------------------------------------------------------------
# wrong implementations that are no catalogued mistake


@pytest.mark.parametrize("spec,fn", [
    (a8.LINEAR, WRONG["linear_decay"]),                       # no catalogued mistake
    (a7.CONV_DW, WRONG["conv_dw"]),
    (a5.BACKWARD, lambda X, Y, W1, b1, W2, b2: (0 * W1, 0 * b1, 0 * W2, 0 * b2)),
    (a8.WEIGHT_DECAY, lambda W, b, dW, db, lr, lam: ((1 - lam) * W - lr * dW, b - lr * db)),
], ids=["linear_decay", "conv_dw", "zeros", "decay-without-lr"])
def test_wrong_functions_matching_no_mistake_are_not_diagnosed(spec, fn):
    v = judge(spec, {**STUDENT, spec.name: fn})
    assert v.passed < v.total and v.diagnosis is None


def test_a_function_that_raises_on_some_case_is_not_diagnosed():
    def flaky(X, Y, W1, b1, W2, b2):
        if len(X) == 12:
            raise RuntimeError("boom")
        return WRONG["backward"](X, Y, W1, b1, W2, b2)
    v = judge(a5.BACKWARD, {**STUDENT, "backward": flaky})
    assert v.passed < v.total and v.diagnosis is None
    assert any("RuntimeError" in m.en for m in v.messages)


def test_only_some_failures_matching_a_mistake_is_not_that_mistake():
    def mixed(dout, x, K, stride):                 # ÷K² forgotten only for K = 3
        dx = CORRECT["avgpool_backward"](dout, x, K, stride)
        return dx * K ** 2 if K == 3 else dx * 2
    v = judge(a7.AVGPOOL, {**STUDENT, "avgpool_backward": mixed})
    assert v.passed < v.total and v.diagnosis is None


def test_a_wrong_reference_that_raises_does_not_match():
    spec = FnSpec("f", lambda rng: [(np.ones(3),), (np.ones(4),)], lambda x: x,
                  mistakes=(mistake("sign_error").with_fn(lambda x: 1 / 0),
                            mistake("dropped_half").with_fn(lambda x: 2 * x)))
    v = judge(spec, {"f": lambda x: 2 * x})
    assert v.passed == 0 and v.diagnosis == "dropped_half"


def test_fnspec_checks_its_mistakes():
    with pytest.raises(KeyError, match="unknown mistake id"):
        mistake("no_such_mistake")
    with pytest.raises(ValueError, match=r"with_fn"):
        FnSpec("f", lambda rng: [], lambda x: x, mistakes=("sign_error",))
    with pytest.raises(ValueError, match=r"with_fn"):        # the older (id, callable) pair
        FnSpec("f", lambda rng: [], lambda x: x, mistakes=(("sign_error", lambda x: -x),))
    with pytest.raises(ValueError, match=r"with_fn"):       # a mistake of numbers, not functions
        FnSpec("f", lambda rng: [], lambda x: x,
               mistakes=(mistake("sign_error").with_make(lambda p: {}),))


# ---------------------------------------------------------------------------------------
# through the judge, and out of process


def test_the_judge_puts_the_diagnosis_in_the_result_and_feedback():
    q = next(q for q in QUESTIONS.values() if q.id == "A5.q2")
    runner = InProcessRunner({**STUDENT, "backward": WRONG["backward"]})
    (r,) = grade_question(q, {}, {}, POLICY_1E4, {"backward": 6.0}, runner, seed=0)
    assert r.diagnosis == "missing_batch_mean" and 0 < r.score < r.max_score
    assert r.status == "partial"                           # the n = 1 case is right
    text = r.feedback_text("zh+en")
    named = mistake("missing_batch_mean").text
    assert named.zh in text and named.en in text
    assert json.loads(r.to_json())["diagnosis"] == "missing_batch_mean"
    (ok,) = grade_question(q, {}, {}, POLICY_1E4, {"backward": 6.0}, InProcessRunner(STUDENT), seed=0)
    assert ok.diagnosis is None and ok.score == ok.max_score


class PlainDataRunner:
    """What the sandbox hands back: the plan's results through JSON (plain
    lists), turned back into arrays — no Python object of the student's."""

    def __init__(self, namespace):
        self.inner = InProcessRunner(namespace)

    def run(self, plan):
        def plain(v):
            if not v["ok"]:
                return v
            many = isinstance(v["value"], list)
            value = [np.asarray(x).tolist() for x in v["value"]] if many else \
                np.asarray(v["value"]).tolist()
            return {"ok": True, "many": many, "value": value}
        wire = json.loads(json.dumps({k: plain(v) for k, v in self.inner.run(plan).items()}))
        return {k: v if not v["ok"] else {"ok": True, "value": [np.asarray(x) for x in v["value"]]
                                          if v["many"] else np.asarray(v["value"])}
                for k, v in wire.items()}


def test_diagnosis_works_on_plain_data_from_another_process():
    v = judge_function(a8.CLIP, np.random.default_rng(0),
                       PlainDataRunner({"clip_gradient": WRONG["clip_gradient"]}))
    assert v.diagnosis == "clip_per_component"
    plan = plan_calls(a8.CLIP, np.random.default_rng(0))
    results = InProcessRunner({"clip_gradient": WRONG["clip_gradient"]}).run(plan)
    failed = [(c, results[c["id"]]["value"]) for c in plan
              if not np.allclose(results[c["id"]]["value"], a8.clip_reference(*c["args"]))]
    assert failed and diagnose(a8.CLIP, failed) == "clip_per_component"

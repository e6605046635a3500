"""A7 (autograder/questions/a7.py): backpropagation through convolution and
pooling.

* every catalogued mistake is named (through grade_assignment, and each
  question alone); the references of q1 and q3 earn full marks;
* the function parts: a correct implementation written from the lecture
  passes every hidden check, a typical wrong one fails with a message; max
  pooling's tie rule and overlapping windows, a valid-padded backward;
* q3's symbolic case is SymPy's derivative of L, and forgetting the 180°
  rotation or the zero padding is named.

Expected values come from plain NumPy written from the lecture
(question_impls.py, loops written here) or SymPy, never from the question
module's own output.
"""
import numpy as np
import pytest

from autograder.functions import InProcessRunner, judge_function
from autograder.judge import grade_question
from autograder.questions import a7
from question_checks import (POLICY, check_student_written_mistake_is_named, judge, standard_tests,
                             student_mistake_ids)
from question_impls import CORRECT, WRONG, _maxpool_no_overlap_sum, _maxpool_ties_to_all, correlate

# ---------------------------------------------------------------------------------------
# the standard tests (question_checks.standard_tests), then this module's own


globals().update(standard_tests("A7", a7, references=False, questions=True, functions=a7,
                                function_mistakes=True))


def test_a7_recurrence_choice_options_and_symbolic_case():
    assert a7.RECURRENCE in a7.RECURRENCE_OPTIONS
    for m in a7.Q1.mistakes:
        assert m.make({})["recurrence"] in a7.RECURRENCE_OPTIONS
    # the lecture's recurrence equals differentiating L (what q3 shows)
    assert a7.symbolic_case(rule="full_rot180") == {k: v for k, v in a7.symbolic_case().items()
                                                    if k != "dL_dw01"}
    results = grade_question(a7.Q3, {"q3": {"dL_da11": "w00d11 + w01 d10 + w10*d01 + w11*d00",
                                            "dL_da00": "d00 w00",
                                            "dL_dw01": "a01d00+a02d01+a03d02+a11d10+a12d11+a13d12"
                                                       "+a21d20+a22d21+a23d22"}},
                             {}, POLICY, {})
    assert all(r.status == "correct" for r in results), [r.feedback_text("en") for r in results]


@pytest.mark.parametrize("mistake, answers", [
    ("conv_no_rotation", {"dL_da11": "d00*w00 + d01*w01 + d10*w10 + d11*w11"}),
    # δ not padded: the output starts at a_11's window, so "a_00" gets a_11's four terms
    ("conv_valid_padding", {"dL_da00": "d00*w11 + d01*w10 + d10*w01 + d11*w00"}),
])
def test_a7_symbolic_case_names_the_recurrence_mistakes(mistake, answers):
    """A hand derivation that forgets the 180° rotation, or the zero padding,
    is wrong and the feedback names that mistake (the reference is SymPy's
    derivative of L, the mistaken forms the recurrence without the step)."""
    no_points = {p.name: 0.0 for p in a7.Q3.parts}       # course.yaml: q3 is worth 0
    results = {r.part: r for r in grade_question(a7.Q3, {"q3": answers}, {}, POLICY, no_points)}
    for part in answers:
        r = results[part]
        assert r.status == "wrong" and r.diagnosis == mistake, r.feedback_text("en")
        assert r.score == r.max_score == 0


# ---------------------------------------------------------------------------------------
# function parts


@pytest.mark.parametrize("wrong,expect_passed", [(_maxpool_ties_to_all, "all but the tie case"),
                                                 (_maxpool_no_overlap_sum, "overlap fails")])
def test_max_pool_tie_rule_and_overlaps(wrong, expect_passed):
    v = judge(a7.MAXPOOL, {**CORRECT, "maxpool_backward": wrong})
    o = judge(a7.OVERLAP, {**CORRECT, "maxpool_backward": wrong})
    if wrong is _maxpool_ties_to_all:       # distinct values everywhere except the tie case
        assert v.passed == v.total - 1 and o.passed == o.total
    else:                                   # non-overlapping windows are unaffected
        assert v.passed == v.total and o.passed < o.total


def test_valid_padding_in_conv_backward_is_reported_with_shapes():
    def valid(d, w, fp):
        return correlate(d, w[::-1, ::-1])
    v = judge(a7.CONV_DELTA, {**CORRECT, "conv_delta": valid})
    assert v.passed == 0 and any("shape" in m.en for m in v.messages)


# ties in max pooling written by hand (issue 16)

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


# ---------------------------------------------------------------------------------------
# catalogued mistakes of the function parts: a function made with the mistake is named
# as it, a correct one never is, one written as a student would write it is named


def conv_delta_without_fprime(delta_next, w, fprime):
    K = w.shape[0]
    return correlate(np.pad(delta_next, K - 1), w[::-1, ::-1])


STUDENT_MISTAKES = [   # (spec, the student's function, the mistake it must be named as)
    (a7.CONV_DELTA, WRONG["conv_delta"], "conv_no_rotation"),
    (a7.CONV_DELTA, conv_delta_without_fprime, "missing_activation_derivative"),
    (a7.MAXPOOL, WRONG["maxpool_backward"], "maxpool_spread"),              # copied to the window
    (a7.MAXPOOL, lambda d, x, K, s: CORRECT["avgpool_backward"](d, x, K, s), "maxpool_spread"),
    (a7.OVERLAP, WRONG["maxpool_backward"], "maxpool_spread"),
    (a7.OVERLAP, _maxpool_no_overlap_sum, "pool_overlap_overwritten"),
    (a7.AVGPOOL, WRONG["avgpool_backward"], "avgpool_not_divided"),
]


@pytest.mark.parametrize("spec,fn,mistake", STUDENT_MISTAKES,
                         ids=student_mistake_ids(STUDENT_MISTAKES))
def test_student_written_mistakes_are_named(spec, fn, mistake):
    check_student_written_mistake_is_named(spec, fn, mistake)

"""A8 (autograder/questions/a8.py): training in practice — initialisation,
weight decay, dropout, schedules, clipping, early stopping, the variance of
mini-batch gradients.

* the references of every variant earn full marks, every catalogued mistake
  is named (through grade_assignment, and each question alone);
* the function parts: a correct implementation written from the lecture
  passes every hidden check, a typical wrong one fails with a message;
  early stopping restores the best epoch, digits are judged by accuracy;
* zero initialisation keeps the hidden units identical; a sampled variance
  estimate is accepted; the variants keep the lessons visible.

Expected values come from plain NumPy written from the lecture
(question_impls.py) or nn_core, never from the question module's own output.
"""
import numpy as np
import pytest

from autograder.judge import grade_question
from autograder.questions import a8
from autograder.variants import variant_params
from question_impls import WRONG
from question_checks import (STATISTICAL, check_student_written_mistake_is_named, standard_tests,
                             student_mistake_ids)

# ---------------------------------------------------------------------------------------
# the standard tests (question_checks.standard_tests), then this module's own


globals().update(standard_tests("A8", a8, questions=True, functions=a8, function_mistakes=True))


def test_a8_zero_init_keeps_hidden_units_identical_random_init_does_not():
    ref = a8.Q1.reference({})
    assert np.abs(ref["W1_zero"]).max() > 0
    assert np.allclose(ref["W1_zero"], ref["W1_zero"][0]) and np.allclose(ref["W2_zero"],
                                                                           ref["W2_zero"][0, 0])
    rows = ref["W1_random"]
    assert min(np.abs(rows[i] - rows[j]).max() for i in range(3) for j in range(i)) > 0.05
    # the mistakes' loop equals nn_core's when no mistake is switched on
    p = a8._init_params({})
    for init in (a8._zero_init(p), a8._random_init(p)):
        for x, y in zip(a8.trained(p, init), a8.trained_by_hand(p, init)):
            assert np.allclose(x, y, rtol=1e-12, atol=1e-15)


def test_a8_sampled_variance_estimate_is_accepted():
    """What a student does: sample many mini-batches, measure the spread."""
    p = a8.VARIANCE_DEFAULTS
    G = a8.per_sample_gradients(p)
    g = G.mean(axis=0)
    rng = np.random.default_rng(0)
    var = [np.mean([np.sum((G[rng.choice(len(G), B, replace=False)].mean(axis=0) - g) ** 2)
                    for _ in range(600)]) for B in p["batch_sizes"]]
    slope = np.polyfit(np.log(p["batch_sizes"]), np.log(var), 1)[0]
    results = grade_question(a8.Q7, {"q7": {"var": var, "slope": slope}}, {}, STATISTICAL, {})
    assert all(r.score == r.max_score for r in results), [r.feedback_text("en") for r in results]
    assert a8.Q7.reference({})["slope"] == pytest.approx(-1, abs=0.05)


# ---------------------------------------------------------------------------------------
# function parts


def test_sgd_cases_stop_early_and_restore_the_best_epoch():
    from nn_core.optim import SGD
    from nn_core.train import fit
    stopped = 0
    for case in a8._sgd_cases(np.random.default_rng(0)):
        X, y, Xv, yv, W1, b1, W2, b2, lr, epochs, batch, patience, seed = case
        hist = fit(a8._a5_network(W1, b1, W2, b2), X, y, SGD(lr), epochs, batch_size=batch,
                   rng=np.random.default_rng(seed), X_val=Xv, y_val=yv, patience=patience)
        stopped += hist.stopped_early
        assert hist.best_epoch < len(hist.loss)
    assert stopped >= 1


def test_digits_accuracy_is_computed_from_the_returned_labels():
    rng = np.random.default_rng(0)
    args = list(a8._digits_cases(rng)[0])
    truth = a8.digits_labels(args[2])
    ok, _ = a8.digits_check(args, truth)
    assert ok
    wrong = truth.copy()
    wrong[: int(0.2 * len(wrong))] = (wrong[: int(0.2 * len(wrong))] + 1) % 10
    ok, m = a8.digits_check(args, wrong)
    assert not ok and "accuracy" in m.en
    ok, m = a8.digits_check(args, truth[:-1])
    assert not ok and "shape" in m.en


# ---------------------------------------------------------------------------------------
# variants

def test_a8_variants_keep_the_lessons_visible():
    """Zero initialisation: every hidden unit identical but moved; random
    initialisation: the rows differ; every catalogued mistake changes q1's
    and q7's answers (so it can be named)."""
    from autograder.questions import a8
    for i in range(25):
        p = variant_params("A8", f"s{i}")
        ref = a8.Q1.reference(p)
        W1z = ref["W1_zero"]
        assert np.abs(W1z).max() > 5e-4 and np.allclose(W1z, W1z[0])
        rows = ref["W1_random"]
        assert min(np.abs(rows[a] - rows[b]).max() for a in range(3) for b in range(a)) > 0.1
        assert p["lr"] != 1.0 and set(p) == set(a8.INIT_DEFAULTS) | {"W", "b", "seed"}
        for m in a8.Q1.mistakes:
            wrong = m.make(p)
            assert any(not np.allclose(wrong[k], ref[k], rtol=1e-3, atol=1e-6) for k in wrong), m.id
    ref = a8.Q7.reference(variant_params("A8", "alice"))
    assert ref["slope"] == pytest.approx(-1, abs=0.05)


# ---------------------------------------------------------------------------------------
# catalogued mistakes of the function parts: a function made with the mistake is named
# as it, a correct one never is, one written as a student would write it is named


STUDENT_MISTAKES = [   # (spec, the student's function, the mistake it must be named as)
    (a8.WEIGHT_DECAY, WRONG["weight_decay_step"], "bias_decayed"),
    (a8.WEIGHT_DECAY, lambda W, b, dW, db, lr, lam: ((1 - lr * lam) * W + lr * dW, b + lr * db),
     "gradient_ascent"),
    (a8.DROPOUT_TEST, WRONG["dropout_test"], "dropout_test_not_scaled"),
    (a8.DROPOUT_INVERTED, WRONG["dropout_inverted"], "dropout_inverted_not_divided"),
    (a8.STEP, WRONG["step_decay"], "schedule_off_by_one"),
    (a8.CLIP, WRONG["clip_gradient"], "clip_per_component"),
]


@pytest.mark.parametrize("spec,fn,mistake", STUDENT_MISTAKES,
                         ids=student_mistake_ids(STUDENT_MISTAKES))
def test_student_written_mistakes_are_named(spec, fn, mistake):
    check_student_written_mistake_is_named(spec, fn, mistake)

"""A6 (autograder/questions/a6.py): operation counts of a dense network,
as cost formulas (order parts) and as a counting function.

* the references of every variant earn full marks (through grade_assignment
  and through grade_submission with course.yaml), every catalogued mistake is
  named;
* the reference formulas are nn_core's counts and nn_core.symbolic's sums; the
  numbers are counted while nn_core's network runs;
* cost formulas: exact → full, leading term only → the course's fraction,
  wrong → 0 (and named);
* count_ops passes with nn_core and with the convention written out layer by
  layer; a count that forgets Wᵀδ is named.

Expected values come from nn_core (its operation counts), SymPy or plain
Python written here, never from the question module's own output.
"""
from dataclasses import replace

import numpy as np
import pytest
import sympy as sp

from autograder.functions import InProcessRunner
from autograder.judge import grade_question, grade_submission, variant_of
from autograder.mistakes import mistake as catalogued
from autograder.questions import a6
from autograder.questions.base import Policy
from autograder.variants import variant_params
from nn_core.opcount import dense_counts, network_counts
from nn_core.symbolic import derive
from question_checks import (COURSE, POLICY, STUDENTS, _fn,
                             check_function_part_passes_with_nn_core_and_numpy,
                             check_student_written_mistake_is_named, grade_assignment, references,
                             standard_tests, student_mistake_ids, wire_references)
from question_impls import NUMPY, count_ops_from_dense_counts, np_count_ops

#: the tolerances and credits these tests are written for (stated, not Policy()'s defaults)
POLICY_1E4 = Policy(rtol=1e-4, atol=1e-6, atol_scale=1e-6, shape_credit=0.5, ecf="full")

# ---------------------------------------------------------------------------------------
# the standard tests (question_checks.standard_tests), then this module's own


globals().update(standard_tests("A6", function_mistakes=True, through_course=True))


def test_a6_reference_formulas_are_nn_core_counts():
    f = a6.cost_formulas()
    n, L = a6.N, a6.L
    for nv in (1, 2, 5, 9, 30):
        for Lv in (1, 2, 4, 11):
            at = {n: nv, L: Lv}
            net = network_counts([nv] * (Lv + 1), 1)
            layer = dense_counts(nv, nv, 1)
            assert f["forward_mul"].subs(at) == net["forward_mults"]
            assert f["backward_mul"].subs(at) == net["backward_mults"]
            assert f["layer_mul"].subs(at) == layer["forward_mults"]
            assert f["layer_add"].subs(at) == layer["forward_adds"]
            assert f["grad_mul"].subs(at) == dense_counts(nv, nv, 1, need_dx=False,
                                                          activation=False)["backward_mults"]
            assert f["delta_mul"].subs(at) == (layer["backward_mults"] - f["grad_mul"].subs(at))
    # and they are nn_core.symbolic's sums at B = 1
    d = derive("opcount_network")
    B = d.symbols["B"]
    for key, part in (("forward_mults", "forward_mul"), ("backward_mults", "backward_mul")):
        sym = d.results[key].subs(B, 1).subs({d.symbols["n"]: n, d.symbols["L"]: L})
        assert sp.expand(sym - f[part]) == 0


def test_a6_numbers_are_counted_while_the_network_runs():
    for student in STUDENTS:
        params, _ = variant_of(COURSE, "A6", student)
        n, L, B = params["n"], params["L"], params["B"]
        r = a6.Q4.reference(params)
        one, many = network_counts([n] * (L + 1), 1), network_counts([n] * (L + 1), B)
        mults = lambda c: c["forward_mults"] + c["backward_mults"]        # noqa: E731
        assert r["batch_scale"] == pytest.approx(mults(many) / mults(one), rel=1e-12) == B
        assert r["ratio"] == pytest.approx(one["backward_mults"] / one["forward_mults"], rel=1e-12)
        assert 1.5 < r["ratio"] < 2.1 and r["ratio"] != 2


# ---------------------------------------------------------------------------------------
# cost formulas: exact → full, leading term only → course fraction, wrong → 0

ORDER = {   # part: (exact forms, leading-term-only forms, wrong forms with their mistake)
    "layer_mul": (["n^2", "n·n"], ["n^2 + n", "n^2 - 1"], [("n", "count_n_for_n2"), ("2n^2", None)]),
    "layer_add": (["n^2", "n(n-1) + n"], ["n(n-1)", "n^2 - n"], [("n", "count_n_for_n2"),
                                                                 ("n^3", None)]),
    "forward_mul": (["L n^2", "n^2 L"], ["Ln^2 + Ln", "L n^2 + 1"], [("Ln", "count_n_for_n2"),
                                                                     ("L^2 n^2", None)]),
    "delta_mul": (["n^2 + n", "n(n+1)"], ["n^2", "n^2 + 2n"], [("2n", "count_n_for_n2"),
                                                              ("n", None)]),
    "grad_mul": (["n^2"], ["n^2 + n", "n(n-1)"], [("n", "count_n_for_n2"), ("2n^2", None)]),
    "backward_mul": (["(2L-1)n^2 + Ln", "2Ln^2 - n^2 + nL", "L(2n^2 + n) - n^2"],
                     ["2Ln^2", "2L n^2 + L n", "2Ln^2 + 3"],
                     [("Ln^2", "count_missing_backward_term"),
                      ("Ln^2 + Ln", "count_missing_backward_term"), ("(3L - 1)n", "count_n_for_n2"),
                      ("4Ln^2", None)]),
}


def _order_results(part, answer):
    q = a6.Q1 if part in a6.Q1_PARTS else a6.Q2
    answers = {q.local_id: {**q.reference({}), part: answer}}
    return {r.part: r for r in grade_submission(COURSE, "A6", answers, None).results_for(q.id)}[part]


@pytest.mark.parametrize("part", list(ORDER))
def test_cost_formula_credit(part):
    exact, leading, wrong = ORDER[part]
    fraction = COURSE.order.leading_term_fraction
    for answer in exact:
        r = _order_results(part, answer)
        assert r.status == "correct" and r.score == r.max_score, (answer, r.feedback_text("en"))
    for answer in leading:
        r = _order_results(part, answer)
        assert r.status == "partial", (answer, r.feedback_text("en"))
        assert r.score == pytest.approx(fraction * r.max_score) and r.diagnosis is None
        assert "leading term" in r.feedback_text("en") and "首项" in r.feedback_text("zh")
        assert "convention" in r.feedback_text("en")
    for answer, mistake in wrong:
        r = _order_results(part, answer)
        assert r.status == "wrong" and r.score == 0, (answer, r.feedback_text("en"))
        assert r.diagnosis == mistake, answer


def test_leading_term_credit_follows_the_policy():
    q = a6.Q2
    answers = {"q2": {**q.reference({}), "backward_mul": "2Ln^2"}}
    for credit in (0.25, 0.0):
        res = {r.part: r for r in grade_question(q, answers, {}, replace(POLICY_1E4, leading_term_credit=credit),
                                                 {"backward_mul": 2.0})}
        r = res["backward_mul"]
        assert r.score == pytest.approx(2.0 * credit)
        assert r.status == ("partial" if credit else "wrong")
        assert all(res[p].status == "correct" for p in ("delta_mul", "grad_mul"))


def test_cost_formula_that_is_not_a_polynomial_gets_no_part_credit():
    for answer in ("2L n^2 log(n)", "2^n", "O(L n^2)", ""):
        r = _order_results("backward_mul", answer)
        assert r.score == 0 and r.status in ("wrong", "invalid"), answer


def test_order_parts_partial_credit_and_mistakes_through_grade_assignment():
    params = variant_params("A6")
    answers = references("A6", params)
    answers["q1"]["forward_mul"] = "L n^2 + L n"          # right leading term only
    answers["q2"]["backward_mul"] = "L n^2"                # Wᵀδ forgotten
    res = {r.label: r for r in grade_assignment("A6", answers, params,
                                                replace(POLICY, leading_term_credit=0.5)).questions}
    fwd, bwd = res["A6.q1/forward_mul"], res["A6.q2/backward_mul"]
    assert fwd.status == "partial" and fwd.score == pytest.approx(0.5 * fwd.max_score)
    assert fwd.details.get("leading_term_only") and fwd.diagnosis is None
    assert bwd.status == "wrong" and bwd.diagnosis == "count_missing_backward_term"
    assert res["A6.q1/layer_mul"].status == "correct"


# ---------------------------------------------------------------------------------------
# count_ops, a function part


@pytest.mark.parametrize("spec", [a6.COUNT_OPS], ids=lambda s: s.name)
def test_function_parts_pass_with_nn_core_and_numpy(spec):
    check_function_part_passes_with_nn_core_and_numpy(spec)


def test_count_ops_reference_is_what_the_network_actually_does():
    rng = np.random.default_rng(3)
    for sizes, batch in a6.COUNT_OPS.cases(rng):
        counted = tuple(a6.count_ops_reference(sizes, batch))
        assert counted == count_ops_from_dense_counts(sizes, batch) == np_count_ops(sizes, batch)


def test_count_ops_may_return_a_tuple_a_list_or_an_array():
    for wrap in (tuple, list, np.array):
        v = _fn(a6.COUNT_OPS, {"count_ops": lambda s, b, w=wrap: w(np_count_ops(s, b))})
        assert v.passed == v.total, wrap


def test_grade_submission_names_function_mistakes_of_a2_and_a6():
    params, _ = variant_of(COURSE, "A6", "alice")
    answers = wire_references("A6", params)

    def no_wt_delta(sizes, batch):                       # W^{(l+1)ᵀ}δ^{(l+1)} not counted
        f = list(np_count_ops(sizes, batch))
        for l in range(2, len(sizes)):
            f[2] -= batch * sizes[l - 1] * sizes[l]
            f[3] -= batch * sizes[l - 1] * (sizes[l] - 1)
        return tuple(f)
    result = grade_submission(COURSE, "A6", answers, "alice",
                              InProcessRunner({**NUMPY, "count_ops": no_wt_delta}))
    r = result.results_for("A6.q3")[0]
    assert r.score < r.max_score and r.diagnosis == "count_missing_backward_term"
    assert catalogued("count_missing_backward_term").text.en in r.feedback_text("en")


# ---------------------------------------------------------------------------------------
# catalogued mistakes of the function parts: a function made with the mistake is named
# as it, a correct one never is, one written as a student would write it is named


def count_ops_without_hadamard(layer_sizes, batch):
    f = list(np_count_ops(layer_sizes, batch))
    f[2] -= batch * sum(layer_sizes[1:])
    return tuple(f)


def count_ops_without_wt_delta(layer_sizes, batch):
    f = list(np_count_ops(layer_sizes, batch))
    for l in range(2, len(layer_sizes)):
        f[2] -= batch * layer_sizes[l - 1] * layer_sizes[l]
        f[3] -= batch * layer_sizes[l - 1] * (layer_sizes[l] - 1)
    return tuple(f)


STUDENT_MISTAKES = [   # (spec, the student's function, the mistake it must be named as)
    (a6.COUNT_OPS, count_ops_without_wt_delta, "count_missing_backward_term"),
    (a6.COUNT_OPS, count_ops_without_hadamard, "missing_activation_derivative"),
]


@pytest.mark.parametrize("spec,fn,mistake", STUDENT_MISTAKES,
                         ids=student_mistake_ids(STUDENT_MISTAKES))
def test_student_written_mistakes_are_named(spec, fn, mistake):
    check_student_written_mistake_is_named(spec, fn, mistake)

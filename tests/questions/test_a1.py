"""A1 (autograder/questions/a1.py and a1_functions.py): the chain rule on
paper and in code.

* the lecture's numbers are accepted, the references of every variant earn
  full marks, and every catalogued mistake is named (through grade_assignment);
* A1.q1's reference is SymPy's derivation of the lecture's function, its equal
  forms are accepted and its wrong ones rejected (and named);
* A1.q4's reference is the central differences of the sigmoid neuron;
* A1.q6's backward functions: a correct implementation written from the
  lecture passes every hidden check, a typical wrong one fails with a message;
* the variants keep the sigmoid neuron unsaturated.

Expected values come from the lecture (docs/exercises.md), SymPy, nn_core or
plain NumPy written here, never from the question modules under test.
"""
import numpy as np
import pytest
import sympy as sp

from autograder.judge import grade_submission, variant_of
from autograder.questions import a1, a1_functions
from autograder.variants import variant_params
from nn_core.symbolic import derive
from question_checks import (COURSE, STUDENTS, check_lecture_numbers_are_accepted, standard_tests,
                             wire_references)

# ---------------------------------------------------------------------------------------
# lecture numbers, references of every variant, catalogued mistakes


def test_lecture_numbers_are_accepted():
    check_lecture_numbers_are_accepted("A1")


globals().update(standard_tests("A1", functions=a1_functions, formulas=True))


# ---------------------------------------------------------------------------------------
# A1.q1: the chain rule, a formula

@pytest.mark.parametrize("student", STUDENTS)
def test_a1_q1_references_earn_full_marks(student):
    params, _ = variant_of(COURSE, "A1", student)
    for wire in (False, True):
        result = grade_submission(COURSE, "A1", wire_references("A1", params, wire), student)
        mine = result.results_for("A1.q1")
        assert [r.part for r in mine] == ["dzdx", "dzdy"]
        assert all(r.score == r.max_score and r.diagnosis is None for r in mine)


def test_a1_q1_reference_is_the_derivation_of_the_lecture():
    d = derive("chain_rule_uv")
    ref = a1.Q1.reference({})
    assert sp.simplify(ref["dzdx"] - d.results["dz_dx"]) == 0
    assert sp.simplify(ref["dzdy"] - d.results["dz_dy"]) == 0
    # and the chain rule written as a sum over the paths gives the same
    assert sp.simplify(a1.chain_rule("x") - ref["dzdx"]) == 0
    assert sp.simplify(a1.chain_rule("y") - ref["dzdy"]) == 0


# ---------------------------------------------------------------------------------------
# A1.q4: the sigmoid neuron f = σ(w0·x0 + w1·x1 + w2)


def neuron_by_finite_differences(w, x, h=1e-6):
    """f and its central differences in w0, x0, w1, x1, w2, written here."""
    def f(v):
        w0, x0, w1, x1, w2 = v
        return 1 / (1 + np.exp(-(w0 * x0 + w1 * x1 + w2)))
    v = np.array([w[0], x[0], w[1], x[1], w[2]], dtype=float)
    grads = [(f(v + h * e) - f(v - h * e)) / (2 * h) for e in np.eye(5)]
    return f(v), dict(zip(("dw0", "dx0", "dw1", "dx1", "dw2"), grads))


@pytest.mark.parametrize("student", [None, "alice", "bob", "s042"])
def test_a1_q4_reference_is_the_finite_differences_of_the_neuron(student):
    p = variant_params("A1", student)["neuron"]
    ref = a1.Q4.reference(variant_params("A1", student))
    f, grads = neuron_by_finite_differences(p["w"], p["x"])
    assert ref["f"] == pytest.approx(f, rel=1e-12)
    for part, g in grads.items():
        assert ref[part] == pytest.approx(g, rel=1e-6, abs=1e-9), part


# ---------------------------------------------------------------------------------------
# A1.q6 (a1_functions.py): backward functions of the gates


# ---------------------------------------------------------------------------------------
# variants

def test_a1_sigmoid_neuron_not_saturated():
    for i in range(200):
        p = variant_params("A1", f"s{i}")["neuron"]
        z = p["w"][0] * p["x"][0] + p["w"][1] * p["x"][1] + p["w"][2]
        assert 0.5 <= abs(z) <= 2.5

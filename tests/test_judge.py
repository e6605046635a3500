"""The judging engine: lecture numbers (A1, A3, A4), references of every
variant, mistakes of every question, error carried forward, bad answers,
cost formulas' part credit."""
from dataclasses import replace

import numpy as np
import pytest

from autograder.judge import grade_question
from autograder.questions import QUESTIONS, get_question, questions_of
from autograder.questions.base import Policy
from autograder.results import AssignmentResult
from autograder.variants import variant_params


def grade_assignment(assignment: str, answers: dict, params: dict, policy: Policy
                     ) -> AssignmentResult:
    """Every question of ``assignment`` judged as ``grade_submission`` judges
    them (:func:`~autograder.judge.grade_question`, in order), with the
    ``policy`` given here instead of course.yaml's and 1 point per part."""
    result = AssignmentResult(assignment=assignment, student="")
    for q in questions_of(assignment):
        for r in grade_question(q, answers, params, policy, {}):
            result.add(r)
    return result


# The catalogue's numbers (docs/exercises.md, from the lecture slides).
LECTURE_ANSWERS = {
    "A1": {"q2": {"q": 3, "f": -12, "dfdx": -4, "dfdy": -4, "dfdz": 3},
           "q3": {"u": 6, "v": 11, "J": 33, "dJda": 3, "dJdb": 6, "dJdc": 9, "J_fd": 33.006},
           "q5": {"dfdw": 0.25, "dfdb": 0.25}},
    "A3": {"q1": {"z1": [0.6, -0.8], "h": [0.645656, 0.310026], "y": [0.0241185]},
           "q2": {"dW2": [[-0.178125, -0.085530]], "db2": [-0.275882],
                  "dW1": [[-0.006312, 0.018935], [0.014753, -0.044260]],
                  "db1": [-0.012623, 0.029507]}},
    "A4": {"q1": {"z1": [0.24, -0.14], "y_hat": [0.344], "L": 0.215168},
           "q2": {"dW2": [[-0.15744, 0]], "db2": [-0.656],
                  "dW1": [[-0.07872, -0.11808], [0, 0]], "db1": [-0.3936, 0]},
           "q3": {"y_hat_new": [1.374671], "L_new": 0.070189, "decreased": "yes"}},
}
POLICY = Policy(rtol=1e-4, atol=1e-6, atol_scale=1e-6, shape_credit=0.5, ecf="full")


@pytest.mark.parametrize("assignment", ["A1", "A3", "A4"])
def test_lecture_numbers_are_accepted(assignment):
    answers = LECTURE_ANSWERS[assignment]
    result = grade_assignment(assignment, answers, variant_params(assignment), POLICY)
    for r in result.questions:
        if r.part in answers.get(r.question.split(".")[1], {}):
            assert r.status == "correct", (r.label, r.feedback_text("en"))


def references(assignment, params):
    return {q.local_id: dict(q.reference(params)) for q in questions_of(assignment)}


@pytest.mark.parametrize("student", [None, "alice", "bob", "s042"])
@pytest.mark.parametrize("assignment", ["A1", "A2", "A3", "A4", "A5", "A6", "A8"])
def test_reference_answers_earn_full_marks_and_no_diagnosis(assignment, student):
    params = variant_params(assignment, student)
    result = grade_assignment(assignment, references(assignment, params), params, POLICY)
    judged = [r for r in result.questions if not is_fn(r)]
    assert judged and all(r.score == r.max_score for r in judged)
    assert all(r.diagnosis is None and not r.carried_forward for r in judged)


def is_fn(result):
    return get_question(result.question).part(result.part).kind == "fn"


MISTAKE_CASES = [(q.id, m.id) for q in QUESTIONS.values() for m in q.mistakes]


@pytest.mark.parametrize("student", [None, "alice", "carol"])
@pytest.mark.parametrize("qid,mistake_id", MISTAKE_CASES)
def test_every_catalogued_mistake_is_diagnosed(qid, mistake_id, student):
    q = get_question(qid)
    params = variant_params(q.assignment, student)
    mistake = next(m for m in q.mistakes if m.id == mistake_id)
    wrong = mistake.make(params)
    answers = references(q.assignment, params)
    answers[q.local_id].update(wrong)
    result = grade_assignment(q.assignment, answers, params, POLICY)
    mine = result.results_for(qid)
    hit = [r for r in mine if r.part in wrong and r.diagnosis == mistake_id]
    assert hit, [(r.part, r.status, r.diagnosis) for r in mine]
    for r in hit:
        assert r.score < r.max_score
        text = r.feedback_text("zh+en")
        assert mistake.text.zh in text and mistake.text.en in text


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


def test_a4_update_carried_forward_from_wrong_gradients():
    params = variant_params("A4")
    answers = references("A4", params)
    grads = {k: np.asarray(v) * 1.1 for k, v in answers["q2"].items()}   # wrong gradients
    answers["q2"] = grads
    lr = params["lr"]
    answers["q3"].update({name: np.asarray(params[name]) - lr * grads["d" + name]
                          for name in ("W1", "b1", "W2", "b2")})
    from autograder.questions.a4 import update
    ecf = update(params, grads)
    answers["q3"].update(y_hat_new=ecf["y_hat_new"], L_new=ecf["L_new"])
    result = grade_assignment("A4", answers, params, POLICY)
    by = {r.label: r for r in result.questions}
    assert by["A4.q2/dW1"].score == 0
    for part in ("W1", "b1", "W2", "b2", "y_hat_new", "L_new"):
        assert by[f"A4.q3/{part}"].carried_forward, part


@pytest.mark.parametrize("bad", [None, "0.6", [np.nan, 1], [1 + 2j, 0], {"a": 1}, object()])
def test_bad_answers_get_no_credit_and_a_message(bad):
    params = variant_params("A3")
    answers = references("A3", params)
    answers["q1"]["z1"] = bad
    result = grade_assignment("A3", answers, params, POLICY)
    r = {x.label: x for x in result.questions}["A3.q1/z1"]
    assert r.score == 0 and r.status in ("missing", "invalid")
    assert r.feedback_text("en")


def test_column_vector_for_vector_is_reported_and_policy_decides():
    params = variant_params("A3")
    answers = references("A3", params)
    answers["q1"]["z1"] = np.asarray(answers["q1"]["z1"]).reshape(2, 1)
    strict = {x.label: x for x in grade_assignment("A3", answers, params,
                                                   replace(POLICY, shape_credit=0.5)).questions}
    assert strict["A3.q1/z1"].score == pytest.approx(0.5 * strict["A3.q1/z1"].max_score)
    assert "(2, 1)" in strict["A3.q1/z1"].feedback_text("en")
    lenient = {x.label: x for x in grade_assignment("A3", answers, params,
                                                    replace(POLICY, shape_policy="lenient")).questions}
    assert lenient["A3.q1/z1"].score == lenient["A3.q1/z1"].max_score


def test_course_yaml_and_question_definitions_agree():
    from autograder.config import load_course
    course = load_course("course.yaml")
    for q in QUESTIONS.values():
        qc = course.question(q.id)            # every defined question is in course.yaml
        if qc.parts:
            assert set(qc.parts) == {p.name for p in q.parts}, q.id


@pytest.mark.parametrize("assignment", ["A1", "A2", "A3", "A4", "A5", "A6", "A8"])
def test_grade_submission_with_the_course_file(assignment):
    from autograder.config import load_course
    from autograder.judge import grade_submission, variant_of
    course = load_course("course.yaml")
    params, seed = variant_of(course, assignment, "alice")
    assert variant_of(course, assignment, "alice") == (params, seed)
    answers = references(assignment, params)
    result = grade_submission(course, assignment, answers, "alice")
    judged = [r for r in result.questions if not is_fn(r)]
    assert judged and all(r.score == r.max_score for r in judged)
    assert result.max_score == pytest.approx(sum(
        course.points(q.id) for q in questions_of(assignment)))
    # another student's answers are wrong for alice's variant (per_student mode)
    if course.variants.mode == "per_student":
        other, _ = variant_of(course, assignment, "bob")
        wrong = grade_submission(course, assignment, references(assignment, other), "alice")
        assert sum(r.score for r in wrong.questions if not is_fn(r)) < sum(
            r.max_score for r in wrong.questions if not is_fn(r))


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


def test_registry_loads_an_assignment_on_demand():
    """``questions_of``/``get_question`` import only that assignment's
    modules, and give the same questions, in the same order, as the whole
    registry; a module defining another assignment's question is refused."""
    import subprocess
    import sys
    code = ("import sys\n"
            "from autograder.questions import questions_of, get_question\n"
            "ids = [q.id for q in questions_of('A3')]\n"
            "assert get_question('A4.q1').assignment == 'A4'\n"
            "print(ids, sorted(m for m in sys.modules if m.startswith('autograder.questions.a')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ("['A3.q1', 'A3.q2'] ['autograder.questions.a3', "
                                  "'autograder.questions.a4']")
    import autograder.questions as registry
    for aid in registry.MODULES:
        assert [q.id for q in questions_of(aid)] == \
            [qid for qid, q in QUESTIONS.items() if q.assignment == aid]
    with pytest.raises(KeyError, match="A0.q1"):
        get_question("A0.q1")


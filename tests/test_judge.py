"""The judging engine: bad answers, shapes, course.yaml and the question
definitions, grade_submission with the course file, the registry.

The lecture numbers, references and catalogued mistakes of each question
module are checked in tests/questions/test_aN.py (through question_checks.py)."""
from dataclasses import replace

import numpy as np
import pytest

from autograder.questions import QUESTIONS, get_question, questions_of
from autograder.variants import variant_params
from question_checks import POLICY, grade_assignment, is_fn, references


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

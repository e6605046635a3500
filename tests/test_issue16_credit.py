"""Issue 16, wrong or missing credit: course.yaml's tolerance for function
parts, a STUDENT_ID typed without quotes, one way of splitting points.
(A2.q5's stability and the error carried forward inside A4.q1 and A4.q3 are
tested in tests/questions/test_a2.py and test_a4.py.)

Expected values come from plain NumPy written here (never from the
question modules under test)."""
from pathlib import Path

import pytest

from autograder.config import load_course, parse_course
from autograder.functions import InProcessRunner
from autograder.judge import grade_question, part_points, policy_for
from autograder.questions import get_question
from autograder.questions.base import Policy
from autograder.variants import variant_params
from nn_core.activations import log_softmax, sigmoid

ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(ROOT / "course.yaml")


def _judge(course, qid, namespace, seed=0):
    q = get_question(qid)
    return {r.part: r for r in grade_question(
        q, {}, {}, lambda part: policy_for(course, q.id, part), part_points(course, q),
        InProcessRunner(namespace), seed)}


# -- tolerance: function applies to function parts ------------------------------------------

def _course_with_function_rtol(rtol: str):
    text = (ROOT / "course.yaml").read_text(encoding="utf-8")
    old = "    function:              # outputs of the student's own code vs the reference\n" \
          "      rtol: 1.0e-6\n"
    assert old in text
    return parse_course(text.replace(old, old.replace("1.0e-6", rtol)))


def test_course_function_profile_sets_function_parts_tolerance():
    def off_by_20_percent(x):                         # stable, but 1.2 × σ(x)
        return 1.2 * sigmoid(x)
    ns = {"sigmoid": off_by_20_percent, "log_softmax": log_softmax}
    loose = _judge(_course_with_function_rtol("0.5"), "A2.q5", ns)["sigmoid"]
    strict = _judge(COURSE, "A2.q5", ns)["sigmoid"]
    assert loose.score == loose.max_score
    assert strict.score < strict.max_score


def test_fn_spec_tolerance_is_only_a_default():
    from autograder.judge import fn_tolerance
    assert fn_tolerance(None) is None and fn_tolerance(Policy()) is None
    tol = fn_tolerance(policy_for(COURSE, "A2.q5", "sigmoid"))
    assert tol == {"rtol": 1e-6, "atol": 1e-9, "atol_scale": 1e-8}


# -- STUDENT_ID typed as a number ----------------------------------------------------------------

@pytest.fixture
def course_env(monkeypatch):
    monkeypatch.setenv("NNGRADE_COURSE", str(ROOT / "course.yaml"))
    monkeypatch.delenv("NNGRADE_STUDENT", raising=False)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    monkeypatch.delenv("NNGRADE_MODE", raising=False)


def test_numeric_student_id_is_the_students_id(course_env, capsys):
    from autograder.notebook import setup
    s = setup("A3", 2023012345)
    out = capsys.readouterr().out
    assert s.student == "2023012345"
    assert s.params == variant_params("A3", "2023012345", course_id=COURSE.course_id
                                      + COURSE.variants.key())
    assert s.params != variant_params("A3", None)
    assert "No student id" not in out and "未填写学号" not in out


@pytest.mark.parametrize("bad", [2023012345.0, ["2023012345"], True])
def test_other_student_id_types_are_refused_loudly(course_env, bad):
    from autograder.notebook import setup
    with pytest.raises(TypeError) as err:
        setup("A3", bad)
    assert "STUDENT_ID" in str(err.value) and "学号" in str(err.value)


# -- one way of splitting points -------------------------------------------------------------------

def test_all_zero_results_split_points_as_the_judge_does():
    from autograder.grading import all_zero as _all_zero
    result = _all_zero(COURSE, "A8", "s1", "无", "none", "error", {})
    for qid in ("A8.q1", "A8.q7"):
        q = get_question(qid)
        want = part_points(COURSE, q)
        got = {r.part: r.max_score for r in result.questions if r.question == qid}
        assert got == want
        assert sum(got.values()) == pytest.approx(COURSE.points(qid), abs=1e-12)
    shares = {r.max_score for r in result.questions if r.question == "A8.q1"}
    assert all(round(s, 9) == s for s in shares)

"""The notebook ↔ grader protocol: answer names, plain-data wire form."""
import numpy as np
import pytest
import sympy

from autograder.config import load_course
from autograder.judge import grade_submission, variant_of
from autograder.protocol import (answer_names, answers_from_wire, collect_answers,
                                 function_names, to_wire)
from autograder.questions import questions_of


@pytest.fixture(scope="module")
def course():
    return load_course("course.yaml")


def test_answer_names_follow_question_and_part():
    names = answer_names("A3")
    assert names["q1"]["z1"] == "q1_z1" and names["q2"]["dW1"] == "q2_dW1"


def test_function_names_include_gradient_check_forwards():
    assert {"forward", "backward", "cost", "gradient_descent"} <= set(function_names("A5"))


def test_wire_round_trip_grades_like_the_raw_answers(course):
    params, _ = variant_of(course, "A4", "alice")
    ns = {f"{q.local_id}_{k}": v for q in questions_of("A4") for k, v in q.reference(params).items()}
    ns["q1_L"] = "0.2"                       # text where a number is expected
    ns["q1_z1"] = np.asarray(ns["q1_z1"]).tolist()
    result = grade_submission(course, "A4", answers_from_wire(collect_answers(ns, "A4")), "alice")
    bad = [r for r in result.questions if r.status != "correct"]
    assert [(r.question, r.part, r.status) for r in bad] == [("A4.q1", "L", "invalid")]
    assert "string" in bad[0].feedback_text("en")


def test_wire_entries_are_plain():
    class Liar:
        def __eq__(self, other):
            return True
    assert to_wire(Liar(), "num")["type"] == "invalid"
    assert to_wire(None, "num") == {"type": "missing"}
    x = sympy.Symbol("x")
    assert to_wire(sympy.exp(-x), "sym") == {"type": "text", "value": "exp(-x)"}
    assert to_wire(True, "choice") == {"type": "bool", "value": True}
    arr = to_wire([[1, 2]], "num")["value"]
    assert type(arr) is np.ndarray and arr.dtype == np.float64 and arr.shape == (1, 2)

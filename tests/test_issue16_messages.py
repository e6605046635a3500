"""Issue 16, messages and layout of the public check and function feedback."""
import time
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from autograder.functions import InProcessRunner, judge_function
from nn_core.activations import log_softmax, sigmoid

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def session(monkeypatch):
    monkeypatch.setenv("NNGRADE_COURSE", str(ROOT / "course.yaml"))
    for var in ("NNGRADE_STUDENT", "JUPYTERHUB_USER", "NNGRADE_MODE"):
        monkeypatch.delenv(var, raising=False)
    from autograder import notebook

    def start(assignment, student=""):
        return notebook.setup(assignment, student)
    return start


def test_an_endless_loop_is_stopped_with_a_bilingual_message(session, capsys, monkeypatch):
    from autograder import notebook
    session("A2")
    monkeypatch.setattr(notebook, "CHECK_TIME_LIMIT_S", 1.0)
    give_up = time.monotonic() + 60          # without a limit the check would take 60 s

    def endless(x):
        while time.monotonic() < give_up:
            pass
        return np.zeros(np.shape(x))
    capsys.readouterr()
    points = notebook.check("A2.q5", {"sigmoid": endless, "log_softmax": log_softmax})
    out = capsys.readouterr().out
    assert isinstance(points, float) and points < 3.0
    assert "time limit of 1 s ran out" in out and "时间上限 1 秒用完了" in out
    assert time.monotonic() < give_up         # stopped, not waited out


def test_question_ids_this_assignment_and_a_clear_error(session, capsys):
    from autograder import notebook
    session("A2")
    ns = {"sigmoid": sigmoid, "log_softmax": log_softmax}
    assert notebook.check("q5", ns) == notebook.check(5, ns) == notebook.check("A2.q5", ns) == 3.0
    for bad in ("A3.q3", "q9", 2.5):
        with pytest.raises(ValueError) as err:
            notebook.check(bad, ns)
        text = str(err.value)
        assert '"A2.q1"' in text and '"A2.q6"' in text and "A3.q1" not in text
        assert "没有题目" in text and "has no question" in text


def test_a_misspelled_answer_variable_is_suggested(session, capsys):
    from autograder import notebook
    session("A2")
    capsys.readouterr()
    notebook.check("A2.q6", {"q6_Max_dsigmoid": 0.25, "q6_bound_": 1.0})
    out = capsys.readouterr().out
    assert "did you mean q6_Max_dsigmoid?" in out and "q6_max_dsigmoid" in out
    assert "did you mean q6_bound_?" in out and "你是不是写成了" in out


def test_a_function_that_is_not_callable_is_said_so_in_both_languages():
    from autograder.questions.a2 import SIGMOID
    v = judge_function(SIGMOID, np.random.default_rng(0), InProcessRunner({"sigmoid": 3}))
    assert v.passed == 0
    assert "sigmoid is not a function (its type is int)" in v.messages[0].en
    assert "不是函数" in v.messages[0].zh and "not" not in v.messages[0].zh
    v = judge_function(SIGMOID, np.random.default_rng(0), InProcessRunner({}))
    assert "未定义" in v.messages[0].zh and "not defined" not in v.messages[0].zh


def test_a_given_cell_not_run_is_named():
    from autograder.questions.a7 import CONV_DELTA, conv_delta_reference
    v = judge_function(CONV_DELTA, np.random.default_rng(0),
                       InProcessRunner({"conv_delta": conv_delta_reference}))
    assert v.passed == v.total - 1
    text = " ".join(m.en for m in v.messages)
    assert "Run the cell that defines conv_forward" in text
    assert "运行定义 conv_forward 的单元格" in " ".join(m.zh for m in v.messages)


def test_function_feedback_shows_numbers_by_value():
    from autograder.questions.a7 import MAXPOOL
    v = judge_function(MAXPOOL, np.random.default_rng(0),
                       InProcessRunner({"maxpool_backward": lambda d, x, K, s: np.zeros(np.shape(x)),
                                        "maxpool_forward": lambda x, K, s: x}))
    first = v.messages[0].en
    assert "(4, 4), 2, 2)" in first and "()" not in first


def test_relu_at_0_is_a_number_and_sympy_numbers_are_numbers(session):
    from autograder.judge import grade_question, part_points, policy_for
    from autograder.questions import get_question
    s = session("A2")
    q2, q6 = get_question("A2.q2"), get_question("A2.q6")

    def judge(q, answers):
        return {r.part: r for r in grade_question(
            q, {q.local_id: answers}, s.params, lambda p: policy_for(s.course, q.id, p),
            part_points(s.course, q))}
    half = judge(q2, {"relu_at_0": 0.5})["relu_at_0"]
    assert half.score == 0 and "formula" not in half.feedback_text("en")
    text = judge(q2, {"relu_at_0": "0"})["relu_at_0"]
    assert text.status == "invalid" and "text" in text.feedback_text("en")
    assert judge(q2, {"relu_at_0": sp.Integer(0)})["relu_at_0"].status == "correct"
    assert judge(q6, {"max_dsigmoid": sp.Rational(1, 4)})["max_dsigmoid"].status == "correct"


def test_the_same_mistake_is_explained_once_and_the_table_is_left_aligned(session, capsys,
                                                                          monkeypatch):
    from autograder import notebook
    from autograder.mistakes import SIGN_ERROR
    s = session("A4")
    p = s.params
    x, y, lr = np.array(p["x"]), np.array(p["y"]), p["lr"]
    W1, b1, W2, b2 = (np.array(p[k]) for k in ("W1", "b1", "W2", "b2"))
    z1 = W1 @ x + b1
    h = np.maximum(z1, 0)
    z2 = W2 @ h + b2
    d2 = (np.maximum(z2, 0) - y) * (z2 > 0)
    d1 = (z1 > 0) * (W2.T @ d2)
    ns = {"q2_dW2": -np.outer(d2, h), "q2_db2": -d2, "q2_dW1": -np.outer(d1, x), "q2_db1": -d1}
    capsys.readouterr()
    notebook.check("A4.q2", ns)
    out = capsys.readouterr().out
    assert out.count(SIGN_ERROR.text.en) == 1
    assert out.count("The same mistake as in dW2 above") == 3
    captured = []

    class Spy(notebook.CheckReport):
        def __init__(self, text, html_text):
            captured.append(html_text)
            super().__init__(text, html_text)
    monkeypatch.setattr(notebook, "CheckReport", Spy)
    notebook.check("A4.q2", ns)
    assert captured and "text-align:left" in captured[0]
    assert "text-align:right" not in captured[0]

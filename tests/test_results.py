"""autograder.results: the result model and its plain-JSON form."""
import json

import numpy as np
import pytest

from autograder.i18n import msg
from autograder.results import (STATUSES, AssignmentResult, QuestionResult, round_score,
                                to_jsonable)


def _walk(obj):
    """Every value in a decoded JSON tree, recursively."""
    yield obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert type(k) is str
            yield from _walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v)


def _sample() -> AssignmentResult:
    a = AssignmentResult(assignment="A3", student="s001", variant_seed=np.int64(123456789))
    a.add(QuestionResult(question="A3.q1", part="z1", score=np.float64(1.0), max_score=1,
                         status="correct", feedback=[msg("正确。", "correct.")]))
    a.add(QuestionResult(question="A3.q1", part="h", score=0.5, max_score=np.int32(1),
                         status="partial", carried_forward=True,
                         feedback=[msg("与你的 z1 一致。", "consistent with your z1."),
                                   "instructor note"],
                         details={"max_error": np.float32(0.25), "shape": (2,),
                                  "given": np.array([0.5, 0.25]), "ok": np.bool_(True),
                                  "n": np.int64(3), 7: "int key"}))
    a.add(QuestionResult(question="A3.q2", part="dW1", score=0, max_score=3, status="wrong",
                         diagnosis="transposed_gradient",
                         feedback=[msg("梯度被转置了。", "the gradient is transposed.")],
                         details={"given_shape": [2, 1], "worst": float("nan")}))
    a.add(QuestionResult(question="A3.q2", part="db1", score=0, max_score=1,
                         status="missing"))
    return a


def test_json_round_trip():
    a = _sample()
    text = a.to_json("zh+en")
    b = AssignmentResult.from_json(text)
    assert b == a
    assert b.to_json("zh+en") == text
    assert AssignmentResult.from_json(json.loads(text)) == a
    q = a.questions[1]
    assert QuestionResult.from_json(q.to_json("en")) == q


def test_json_is_plain():
    a = _sample()
    data = a.to_dict("zh")
    again = json.loads(json.dumps(data, allow_nan=False))
    assert again == data
    for value in _walk(data):
        assert value is None or type(value) in (dict, list, str, int, float, bool), type(value)
    assert data["variant_seed"] == 123456789 and type(data["variant_seed"]) is int
    h = data["questions"][1]
    assert h["details"] == {"max_error": 0.25, "shape": [2], "given": [0.5, 0.25],
                            "ok": True, "n": 3, "7": "int key"}
    assert data["questions"][2]["details"]["worst"] == "NaN"


def test_feedback_rendered_in_each_language_and_kept_bilingual():
    q = _sample().questions[1]
    zh, en, both = (q.to_dict(lang)["feedback"][0] for lang in ("zh", "en", "zh+en"))
    assert zh["text"] == "与你的 z1 一致。"
    assert en["text"] == "consistent with your z1."
    assert both["text"] == "与你的 z1 一致。\nconsistent with your z1."
    assert zh["zh"] == en["zh"] and zh["en"] == en["en"]
    assert q.to_dict("en")["feedback"][1] == {"text": "instructor note"}
    assert q.feedback_text("en") == "consistent with your z1.\ninstructor note"
    assert "一致" in q.to_json("zh")  # not \u-escaped
    with pytest.raises(ValueError):
        q.to_dict("fr")


def test_totals():
    a = _sample()
    assert a.score == 1.5 and a.max_score == 6.0
    assert a.totals() == {"A3.q1": (1.5, 2.0), "A3.q2": (0.0, 4.0)}
    assert [q.label for q in a.results_for("A3.q2")] == ["A3.q2/dW1", "A3.q2/db1"]
    data = a.to_dict()
    assert data["score"] == 1.5 and data["max_score"] == 6.0


def test_scores_rounded_and_sums_stable():
    parts = [QuestionResult(question="A1.q1", part=f"p{i}", score=0.1, max_score=0.1,
                            status="correct") for i in range(10)]
    a = AssignmentResult("A1", "x", None, parts)
    assert a.score == 1.0 and a.max_score == 1.0
    assert QuestionResult(question="A1.q1", score=0.1 + 0.2, max_score=0.3,
                          status="correct").score == 0.3
    assert round_score(-0.0) == 0.0 and str(round_score(-1e-12)) == "0.0"
    assert round_score(np.float32(0.5)) == 0.5


def test_validation():
    with pytest.raises(ValueError):
        QuestionResult(question="A1.q1", score=2, max_score=1, status="correct")
    with pytest.raises(ValueError):
        QuestionResult(question="A1.q1", score=-1, max_score=1, status="wrong")
    with pytest.raises(ValueError):
        QuestionResult(question="A1.q1", score=0, max_score=1, status="bogus")
    with pytest.raises(ValueError):
        QuestionResult(question="A1.q1", score=float("nan"), max_score=1, status="wrong")
    with pytest.raises(TypeError):
        QuestionResult(question="A1.q1", score=0, max_score=1, status="wrong",
                       details={"x": object()})
    with pytest.raises(TypeError):
        QuestionResult(question="A1.q1", score=0, max_score=1, status="wrong",
                       details={"x": np.array(["a"])})
    with pytest.raises(TypeError):
        QuestionResult(question="A1.q1", score=0, max_score=1, status="wrong",
                       feedback=[3])
    a = _sample()
    with pytest.raises(ValueError):
        a.add(QuestionResult(question="A3.q1", part="z1", score=0, max_score=1,
                             status="wrong"))
    bad = a.to_dict()
    bad["score"] = 99
    with pytest.raises(ValueError):
        AssignmentResult.from_dict(bad)
    bad = a.to_dict()
    bad["questions"][0]["surprise"] = 1
    with pytest.raises(ValueError):
        AssignmentResult.from_dict(bad)


def test_every_status_round_trips():
    for status in STATUSES:
        q = QuestionResult(question="A9.q1", score=0, max_score=5, status=status)
        assert QuestionResult.from_json(q.to_json()) == q


def test_to_jsonable_helpers():
    assert to_jsonable({"a": (1, np.float64(2.5), [np.inf, -np.inf])}) == \
        {"a": [1, 2.5, ["Infinity", "-Infinity"]]}
    assert to_jsonable(msg("中", "en")) == {"zh": "中", "en": "en"}
    assert to_jsonable(np.array(3.0)) == 3.0


def test_question_result_is_keyword_only():
    with pytest.raises(TypeError):
        QuestionResult("A3.q2", "dW1", 1.0, 2.0, "partial")

"""Issue 17, item 1: a mistake is one object — id, name and hint as fields,
the same class for number, formula and function parts — defined by the
question module that names it (or once, in ``autograder/mistakes.py``, when
several do). Nothing joins a mistake's text and splits it again."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from autograder import mistakes
from autograder.functions import FnSpec, InProcessRunner
from autograder.i18n import msg
from autograder.judge import grade_question
from autograder.mistakes import SIGN_ERROR, Mistake, catalogue, known_mistake
from autograder.questions import QUESTIONS, Part, Question
from autograder.questions.base import Policy
from autograder.reports.export import gradescope_results
from autograder.reports.feedback import render_feedback
from autograder.results import AssignmentResult, QuestionResult

ROOT = Path(__file__).resolve().parents[1]

#: what the student saw for these mistakes before issue 17 (the old catalogue's
#: "name：hint" strings, copied here so that the texts cannot drift)
SEEN = {
    "sign_error": ("符号错误：∂L/∂y = y − t（不是 t − y）；梯度下降是 θ ← θ − η∇L。",
                   "Sign error: ∂L/∂y = y − t (not t − y); gradient descent is θ ← θ − η∇L."),
    "lecture_numbers": (
        "这是用课堂上的数字算出的答案；你的数字由你的学号决定：请用笔记本开头打印出的你自己的数字。",
        "These are the lecture's numbers; yours are from your student id: use your own numbers, "
        "printed at the top of the notebook."),
    "conv_no_rotation": (
        "卷积反向传播没有把卷积核旋转 180°：δ^(l) = f'(z^(l)) ⊙（δ^(l+1) 补 K − 1 圈零后与 "
        "rot180(W) 做互相关），即 δ^(l+1) 与 W 的全卷积。",
        "Convolution backward without rotating the kernel by 180°: δ^(l) = f'(z^(l)) ⊙ "
        "(δ^(l+1) zero-padded by K − 1, cross-correlated with rot180(W)), i.e. the full "
        "convolution of δ^(l+1) with W."),
    "clip_per_component": (
        "梯度裁剪是按整体范数缩放：若 ‖g‖ > η，则 g ← η g/‖g‖（方向不变），不是逐个分量截断。",
        "Gradient clipping rescales by the norm: if ‖g‖ > η then g ← η g/‖g‖ (same "
        "direction), not clipping each component."),
}


def _bound_mistakes():
    """Every mistake a question binds: ``(question id, where, Mistake)``."""
    for q in QUESTIONS.values():
        for m in q.mistakes:
            yield q.id, "question", m
        for p in q.parts:
            if p.kind == "fn":
                for m in p.fn.mistakes:
                    yield q.id, p.name, m


def test_questions_bind_mistake_objects_of_one_class():
    seen = list(_bound_mistakes())
    assert len(seen) > 70
    for qid, where, m in seen:
        assert type(m) is Mistake, (qid, where, m)
        if where == "question":
            assert m.make is not None and m.fn is None, (qid, m.id)
        else:
            assert m.fn is not None and m.make is None, (qid, where, m.id)
        known = known_mistake(m.id)
        assert known is not None and (known.name, known.hint) == (m.name, m.hint)


def test_every_mistake_has_a_name_and_a_hint_in_both_languages():
    every = catalogue()
    assert len(every) >= 42
    for mid, m in every.items():
        assert m.id == mid and re.fullmatch(r"[a-z][a-z0-9_]*", mid)
        for text in (m.name.zh, m.name.en, m.hint.zh, m.hint.en):
            assert text.strip() and text == text.strip(), (mid, text)
        assert not m.name.zh.endswith(("：", "。")) and not m.name.en.endswith((":", ".")), mid
        assert re.search(r"[\u4e00-\u9fff]", m.name.zh + m.hint.zh), mid     # Chinese, really


def _ids_in(text: str) -> set[str]:
    return set(re.findall(r'diagnosis ?==? ?"([a-z_0-9]+)"', text))


def test_every_mistake_id_referenced_anywhere_resolves():
    """The ids tests expect, the ids the docs list and the ids the code
    names are all catalogued (the registry filled from the question modules)."""
    every = catalogue()
    referenced = set()
    for path in [*(ROOT / "tests").rglob("*.py"), *(ROOT / "autograder").rglob("*.py")]:
        referenced |= _ids_in(path.read_text(encoding="utf-8"))
    referenced -= {"leaky_sign_flipped"}         # a test course's own (test_course_questions)
    assert {"sign_error", "lecture_numbers", "too_few_digits", "numerically_unstable"} <= referenced
    table = (ROOT / "docs" / "exercises.md").read_text(encoding="utf-8") \
        .split("## Mistakes the feedback names")[1]
    first_column = [row.split("|")[1] for row in table.split("\n## ")[0].splitlines()
                    if row.startswith("| `")]
    listed = {mid for cell in first_column for mid in re.findall(r"`([a-z][a-z0-9_]+)`", cell)}
    assert not referenced - set(every), sorted(referenced - set(every))
    assert listed == _builtin_ids()                     # the table lists them all


def _builtin_ids() -> set[str]:
    """The ids of the mistakes the toolkit's own modules define."""
    import importlib
    from autograder.questions import _BUILTIN
    modules = [mistakes] + [importlib.import_module(f"autograder.questions.{name}")
                            for names in _BUILTIN.values() for name in names]
    return {v.id for mod in modules for v in vars(mod).values() if isinstance(v, Mistake)}


def test_the_one_line_text_is_what_students_saw_before():
    for mid, (zh, en) in SEEN.items():
        m = known_mistake(mid)
        assert (m.text.zh, m.text.en) == (zh, en), mid


def test_numeric_and_function_parts_name_a_mistake_alike():
    """A number part and a function part, each with SIGN_ERROR: both results
    carry the id and the student's one-line text."""
    fn = FnSpec("f", lambda rng: [(rng.normal(size=3),), (rng.normal(size=4),)], lambda x: 2 * x,
                mistakes=(SIGN_ERROR.with_fn(lambda x: -2 * x),))
    q = Question(id="A3.qtest", title=msg("测试", "test"),
                 parts=(Part("y"), Part("f", kind="fn", fn=fn)),
                 build=lambda p, up=None: {"y": 2.0},
                 mistakes=(SIGN_ERROR.with_make(lambda p: {"y": -2.0}),))
    results = grade_question(q, {"qtest": {"y": -2.0}}, {}, Policy(), {"y": 1.0, "f": 1.0},
                             InProcessRunner({"f": lambda x: -2 * np.asarray(x)}))
    assert [r.diagnosis for r in results] == ["sign_error", "sign_error"]
    zh, en = SEEN["sign_error"]
    for r in results:
        assert r.score == 0
        assert zh in r.feedback_text("zh") and en in r.feedback_text("en")


def test_pages_show_the_name_and_the_hint_from_the_fields():
    r = AssignmentResult(assignment="A3", student="zoe", variant_seed=1)
    r.add(QuestionResult(question="A3.q2", part="dW2", score=0, max_score=1, status="wrong",
                         diagnosis="sign_error", feedback=[msg("不对。", "wrong."),
                                                           known_mistake("sign_error").text]))
    page = render_feedback(r, language="en")
    assert '<div class="mk-name" lang="en">Sign error</div>' in page
    assert "∂L/∂y = y − t (not t − y); gradient descent is θ ← θ − η∇L." in page
    assert page.count("∂L/∂y = y − t (not t − y)") == 1          # not again in the feedback
    zh = render_feedback(r, language="zh")
    assert '<div class="mk-name" lang="zh-CN">符号错误</div>' in zh
    out = gradescope_results(r, language="en")["tests"][0]["output"]
    assert "Named mistake: Sign error — ∂L/∂y = y − t (not t − y)" in out
    assert out.count("∂L/∂y = y − t (not t − y)") == 1


def test_unknown_or_contradicting_mistakes_fail_at_import():
    with pytest.raises(KeyError, match="unknown mistake id"):
        mistakes.mistake("no_such_mistake")
    with pytest.raises(ValueError, match="already catalogued"):
        Mistake("sign_error", name=msg("别的", "Other"), hint=msg("别的。", "other."))
    with pytest.raises(TypeError, match="with_make"):
        Question(id="A3.qx", title=msg("x", "x"), parts=(Part("y"),), build=None,
                 mistakes=(SIGN_ERROR,))                           # not bound to the question
    with pytest.raises(TypeError, match="hint"):
        Mistake("no_hint_here", name=msg("名", "Name"), hint=msg("", "hint"))
    with pytest.raises(ValueError, match="not both"):
        Mistake("sign_error", SIGN_ERROR.name, SIGN_ERROR.hint, make=lambda p: {},
                fn=lambda x: x)
    assert known_mistake("no_such_mistake") is None


def test_one_kind_of_mistake_object_only():
    """A function part's mistakes are ``Mistake`` objects bound with
    ``with_fn``; the older ``(id, callable)`` pair is refused at import."""
    with pytest.raises(ValueError, match="with_fn"):
        FnSpec("f", lambda rng: [(np.ones(3),)], lambda x: x,
               mistakes=(("sign_error", lambda x: -x),))
    with pytest.raises(ValueError, match="with_fn"):
        FnSpec("f", lambda rng: [(np.ones(3),)], lambda x: x, mistakes=(SIGN_ERROR,))
    (m,) = FnSpec("f", lambda rng: [(np.ones(3),)], lambda x: x,
                  mistakes=(SIGN_ERROR.with_fn(lambda x: -x),)).mistakes
    assert type(m) is Mistake and m.id == "sign_error" and m.fn(2) == -2


SPLITS = re.compile(r"""\.(r?partition|r?split)\(\s*(["'])(：|: )\2""")


def test_no_code_splits_mistake_text_again():
    """Name and hint are fields; nothing re-splits a joined text ("：" / ": ")."""
    offenders = []
    for folder in ("autograder", "student", "examples", "nn_core"):
        for path in (ROOT / folder).rglob("*.py"):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if SPLITS.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, offenders
    assert SPLITS.search('m.zh.partition("：")') and SPLITS.search("t.split(': ')")

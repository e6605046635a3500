"""``nngrade audit`` over the whole course (this is how CI runs it), and
that it fails on a degenerate variant, an invisible or unnamed mistake."""
import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder import audit
from autograder.config import load_course
from autograder.questions import QUESTIONS, _assignment_questions, get_question

ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(ROOT / "course.yaml")


@pytest.fixture(scope="module")
def whole_course():
    return audit.run_audit(COURSE)


def test_the_whole_course_passes_its_audit(whole_course):
    failed = [r for r in whole_course if not r.ok]
    assert not failed, "\n".join(f"{r.question} {r.variant} {r.case}: {r.detail}" for r in failed)


def test_the_audit_covers_every_question_variant_and_mistake(whole_course):
    seen = {(r.question, r.variant, r.case) for r in whole_course}
    variants = ["lecture", *audit.SAMPLE_STUDENTS]
    for qid, q in QUESTIONS.items():
        for v in variants:
            assert (qid, v, "reference") in seen and (qid, v, "blank") in seen
            for m in q.mistakes:
                assert (qid, v, m.id) in seen
            for p in q.parts:
                if p.kind == "fn":
                    for m in p.fn.mistakes:
                        assert (qid, v, f"{m.id} ({p.name})") in seen
    assert ("A4.q2", "audit-0001", "keeps") in seen
    assert ("A7.q2", "lecture", "keeps:max_pool") in seen


def _replace_question(monkeypatch, qid, **changes):
    q = get_question(qid)
    table = _assignment_questions(q.assignment)
    monkeypatch.setitem(table, qid, dataclasses.replace(q, **changes))


def test_a_variant_without_an_off_unit_fails(monkeypatch):
    from autograder.questions import a4
    from autograder.variants import Variants

    def all_on(rng):
        return {"x": [0.2, 0.3], "y": [1.0], "W1": [[0.1, 0.4], [0.5, 0.2]], "b1": [0.1, 0.1],
                "W2": [[0.6, 0.8]], "b2": [0.2], "lr": 1.0}
    monkeypatch.setattr(a4, "VARIANTS", Variants(lecture=a4.LECTURE, generate=all_on))
    rows = audit.run_audit(COURSE, ["A4"], ("someone",))
    bad = {(r.question, r.case) for r in rows if not r.ok and r.variant == "someone"}
    assert ("A4.q2", "keeps") in bad
    assert ("A4.q2", "relu_derivative_when_off") in bad          # invisible without it
    assert all(r.ok for r in rows if r.variant == "lecture")


def test_an_invisible_or_misnamed_mistake_fails(monkeypatch):
    from autograder.questions.a3 import gradients
    from autograder.mistakes import DROPPED_HALF, SIGN_ERROR
    q = get_question("A3.q2")
    _replace_question(monkeypatch, "A3.q2", mistakes=q.mistakes + (
        SIGN_ERROR.with_make(lambda p: gradients(p)),                 # equals the reference
        DROPPED_HALF.with_make(lambda p: {k: -v for k, v in gradients(p).items()}),
    ))
    rows = [r for r in audit.run_audit(COURSE, ["A3"], ()) if r.question == "A3.q2"]
    failures = [r.detail for r in rows if not r.ok]
    assert any("invisible" in d for d in failures)
    assert any("named 'sign_error'" in d for d in failures)


def test_cli_audit_exits_non_zero_on_a_failure(monkeypatch):
    from autograder.cli import main
    ok = CliRunner().invoke(main, ["audit", "A3", "--course", str(ROOT / "course.yaml")])
    assert ok.exit_code == 0, ok.output
    assert "0 failed" in ok.output and "项未通过" in ok.output
    from autograder.questions.a3 import gradients
    from autograder.mistakes import SIGN_ERROR
    q = get_question("A3.q2")
    _replace_question(monkeypatch, "A3.q2", mistakes=q.mistakes + (
        SIGN_ERROR.with_make(lambda p: gradients(p)),))
    bad = CliRunner().invoke(main, ["audit", "A3", "--course", str(ROOT / "course.yaml")])
    assert bad.exit_code == 1 and "FAIL" in bad.output and "invisible" in bad.output

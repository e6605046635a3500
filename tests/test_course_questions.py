"""A course's own questions outside the package (issue 17, item 2).

``questions_dir:`` in ``course.yaml`` names a folder of question modules the
instructor writes; they are loaded by the same registry, checked against
``course.yaml``, graded in the sandbox like the built-in ones — and the
graded child can neither import nor read them.
"""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml

from autograder import authoring as au
from autograder.config import ConfigError, check_questions, load_course

REPO = Path(__file__).resolve().parents[1]

#: a tiny external question: ``leaky(x)`` = Leaky ReLU with slope 0.1, from nn_core
QUESTION_MODULE = textwrap.dedent('''
    """A10 — the course's own question (a test fixture)."""
    import numpy as np

    from autograder.functions import FnSpec
    from autograder.i18n import msg
    from autograder.mistakes import Mistake
    from autograder.questions import Part, Question
    from nn_core.activations import leaky_relu

    from .helpers import cases          # a sibling module: relative imports work

    LEAKY_SIGN_FLIPPED = Mistake(       # the course's own mistake, defined as built-in ones are
        "leaky_sign_flipped",
        name=msg("符号反了", "The sign is flipped"),
        hint=msg("x > 0 时 f(x) = x，x ≤ 0 时 f(x) = 0.1x。", "f(x) = x for x > 0, 0.1x for x ≤ 0."))

    LEAKY = FnSpec("leaky", cases, lambda x: leaky_relu(np.asarray(x, dtype=float), 0.1),
                   mistakes=(LEAKY_SIGN_FLIPPED.with_fn(
                       lambda x: -leaky_relu(np.asarray(x, dtype=float), 0.1)),))
    QUESTIONS = (Question(id="A10.q1", title=msg("Leaky ReLU", "Leaky ReLU"),
                          parts=(Part("leaky", kind="fn", fn=LEAKY),), build=None),)
''')
HELPERS = "def cases(rng):\n    return [(rng.normal(0, 1, (n,)),) for n in (3, 5, 8)]\n"


def make_course(root: Path, questions_dir: str = "my_questions") -> Path:
    """``root/course.yaml`` = the repository's course plus A10 from ``root/<questions_dir>``."""
    root.mkdir(parents=True, exist_ok=True)
    folder = root / "my_questions"
    folder.mkdir(exist_ok=True)
    (folder / "a10.py").write_text(QUESTION_MODULE, encoding="utf-8")
    (folder / "helpers.py").write_text(HELPERS, encoding="utf-8")
    data = yaml.safe_load((REPO / "course.yaml").read_text(encoding="utf-8"))
    data["questions_dir"] = questions_dir
    data["sandbox"]["cpu_seconds"] = data["sandbox"]["wall_seconds"] = 60
    data["assignments"] = {"A10": {
        "title": {"zh": "自定义", "en": "Our own"}, "notebook": "A10_own.ipynb",
        "questions": {"q1": {"points": 2, "tolerance": "function"}}}}
    path = root / "course.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def notebook(body: str, extra: str = ""):
    cells = au.header("A10", "自定义", "Our own", "自定义题目。", "Our own question.", {"q1": 2})
    cells += [au.answer("A10.q1", "def leaky(x):\n    ### BEGIN SOLUTION\n" + body +
                        "\n    ### END SOLUTION"),
              au.given("A10_probe", extra or "pass"),
              au.tests("A10.q1", 2)]
    return au.notebook(cells)


def test_course_questions_are_loaded_by_the_registry(tmp_path):
    from autograder import questions as registry
    course = load_course(make_course(tmp_path / "c"))
    assert course.questions_dir == str((tmp_path / "c" / "my_questions").resolve())
    check_questions(course)                       # course.yaml and the folder agree
    qs = registry.questions_of("A10")
    assert [q.id for q in qs] == ["A10.q1"]
    assert any(m.startswith("_course_") and m.endswith(".a10") for m in registry.MODULES["A10"])
    assert registry.get_question("A10.q1") is qs[0]
    assert registry.questions_of("A3")             # the built-in ones are still there
    from autograder.audit import run_audit
    rows = run_audit(course, ["A10"], ())
    assert rows and all(r.ok for r in rows), [r for r in rows if not r.ok]
    assert any(r.case.startswith("leaky_sign_flipped") for r in rows)


def test_course_questions_bring_their_own_variants(tmp_path):
    """A course module's ``VARIANTS`` gives its assignment's numbers, like a
    built-in module's: the lecture's for ``None``, a student's drawn from
    their seed."""
    from autograder.judge import variant_of
    from autograder.variants import variant_params
    path = make_course(tmp_path / "c")
    module_file = path.parent / "my_questions" / "a10.py"
    module_file.write_text(module_file.read_text(encoding="utf-8") + textwrap.dedent('''
        from autograder.variants import Variants
        VARIANTS = Variants(lecture={"k": 2.0},
                            generate=lambda rng: {"k": float(rng.integers(3, 9))})
    '''), encoding="utf-8")
    course = load_course(path)
    assert variant_params("A10") == {"k": 2.0}
    drawn = [variant_params("A10", f"s{i}")["k"] for i in range(20)]
    assert all(3.0 <= k <= 8.0 for k in drawn) and len(set(drawn)) > 1
    assert variant_params("A10", "s1") == variant_params("A10", "s1")
    params, _ = variant_of(course, "A10", "s1")
    assert 3.0 <= params["k"] <= 8.0
    assert variant_params("A7", "s1") == {}           # still no numbers for A7


def test_missing_question_folder_is_named(tmp_path):
    path = make_course(tmp_path / "c", questions_dir="nowhere")
    with pytest.raises(ConfigError, match=r"course\.yaml:\d+: questions_dir: no folder"):
        check_questions(load_course(path))
    load_course(make_course(tmp_path / "ok"))       # leave a valid folder registered last


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox needs Linux")
def test_external_question_graded_in_sandbox_and_hidden_from_child(tmp_path):
    from autograder.grading import grade_notebook
    path = make_course(tmp_path / "c")
    course = load_course(path)
    module_file = Path(course.questions_dir) / "a10.py"
    from autograder import questions as registry
    registry.questions_of("A10")
    package = "autograder.questions." + registry.MODULES["A10"][-1].rpartition(".")[0]
    probe = (f"for _name in ({package!r} + '.a10', {package!r}, 'autograder.questions'):\n"
             f"    try:\n"
             f"        __import__(_name)\n"
             f"        print('IMPORTED', _name)\n"
             f"    except ImportError as _e:\n"
             f"        print('REFUSED', _name)\n"
             f"try:\n"
             f"    print('READ', open({str(module_file)!r}).read()[:80])\n"
             f"except OSError:\n"
             f"    print('DENIED')\n")
    graded = {}
    for name, body, extra in (
            ("right", "    return np.where(x > 0, x, 0.1 * x)", ""),
            ("sign", "    return -np.where(x > 0, x, 0.1 * x)", ""),
            ("spy", "    return np.where(x > 0, x, 0.1 * x)", probe)):
        nb_path = tmp_path / f"{name}.ipynb"
        nbformat.write(notebook(body, extra), nb_path)
        graded[name] = grade_notebook(course, "A10", nb_path, name)
    assert graded["right"].score == 2.0
    assert graded["sign"].score == 0.0
    part = graded["sign"].questions[0]
    assert part.diagnosis == "leaky_sign_flipped"
    assert "The sign is flipped: f(x) = x for x > 0" in part.feedback_text("en")
    assert graded["spy"].score == 2.0
    import json
    text = json.dumps(graded["spy"].to_dict(), ensure_ascii=False)
    assert "IMPORTED" not in text and text.count("REFUSED") == 3 and "DENIED" in text, text[:3000]
    assert "QUESTIONS" not in text
    assert np.isfinite(graded["right"].score)

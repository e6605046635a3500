"""autograder.config: the real course.yaml, and broken copies of it."""
from pathlib import Path

import pytest

from autograder.config import (ConfigError, Course, Tolerance, find_course_file,
                               load_course, parse_course)
from autograder.i18n import Message

COURSE = Path(__file__).resolve().parents[1] / "course.yaml"
TEXT = COURSE.read_text(encoding="utf-8")

# question counts per assignment, from docs/exercises.md
CATALOGUE = {"A1": 6, "A2": 6, "A3": 2, "A4": 3, "A5": 4, "A6": 4, "A7": 3, "A8": 7, "A9": 2}


@pytest.fixture(scope="module")
def course() -> Course:
    return load_course(COURSE)


def test_real_course_has_every_question(course):
    assert course.course_id == "nn-backprop"
    assert course.language in ("zh", "en", "zh+en")
    assert list(course.assignments) == list(CATALOGUE)
    for aid, n in CATALOGUE.items():
        a = course.assignment(aid)
        assert list(a.questions) == [f"q{i}" for i in range(1, n + 1)]
        assert course.question_ids(aid) == [f"{aid}.q{i}" for i in range(1, n + 1)]
        assert a.notebook.startswith(aid + "_") and a.notebook.endswith(".ipynb")
        assert isinstance(a.title, Message) and a.title.zh and a.title.en
        assert a.points in (10, 20), (aid, a.points)
        assert course.max_score(aid) == a.points
        for q in a.questions.values():
            assert q.full_id == f"{aid}.{q.id}"
            if q.parts:
                assert abs(sum(p.points for p in q.parts.values()) - q.points) < 1e-9
    assert course.assignment("A3").notebook == "A3_two_layer_network.ipynb"


def test_real_course_parts(course):
    assert list(course.question("A1.q2").parts) == ["q", "f", "dfdx", "dfdy", "dfdz"]
    assert list(course.question("A3.q1").parts) == ["z1", "h", "y"]
    assert list(course.question("A3.q2").parts) == ["dW2", "db2", "dW1", "db1"]
    assert list(course.question("A4.q1").parts) == ["z1", "y_hat", "L"]
    assert list(course.question("A4.q3").parts) == ["W1", "b1", "W2", "b2", "y_hat_new",
                                                     "L_new", "decreased"]
    assert course.points("A3.q2", "dW1") > 0
    assert course.points("A7.q3") == 0  # feedback only: the derivatives by hand, then SymPy


def test_real_course_policies(course):
    assert course.shape_policy.default in ("strict", "lenient")
    assert 0 <= course.shape_policy.penalty <= 1
    assert course.ecf.policy in ("full", "partial", "none")
    assert 0 <= course.ecf.credit <= 1
    assert course.variants.mode in ("lecture", "per_student")
    assert course.formula.time_limit_s > 0 and course.formula.samples >= 1
    assert 0 <= course.order.leading_term_fraction <= 1
    sb = course.sandbox
    assert sb.wall_seconds >= sb.cpu_seconds > 0 and sb.memory_mb > 0 and sb.processes > 0
    assert sb.output_kb > 0 and sb.file_kb >= 0
    assert course.gradebook_url == "sqlite:///gradebook.db"


def test_tolerance_resolution(course):
    default = course.tolerance
    assert course.tolerance_for("A3.q2", "dW1") == default
    fn = course.tolerance_profiles["function"]
    assert fn.rtol < default.rtol
    assert course.tolerance_for("A2.q3", "jacobian") == fn      # part override
    assert course.tolerance_for("A2.q3", "grad") == default
    assert course.tolerance_for("A1.q6") == fn                  # question override
    assert course.tolerance_for("A1.q6", "max") == fn           # inherited by parts
    assert set(default.as_kwargs()) == {"rtol", "atol", "atol_scale"}


def test_lookup_errors_are_clear(course):
    with pytest.raises(KeyError, match="A10"):
        course.assignment("A10")
    with pytest.raises(KeyError, match="A3.q9"):
        course.question("A3.q9")
    with pytest.raises(KeyError, match="dW9"):
        course.points("A3.q2", "dW9")


def test_defaults_for_a_minimal_file():
    c = parse_course("course_id: c1\nassignments:\n  X1:\n    title: {zh: 甲, en: X}\n"
                     "    notebook: X1.ipynb\n    questions: {q1: 2}\n")
    assert c.language == "zh+en" and c.gradebook_url == "sqlite:///gradebook.db"
    assert c.ecf.policy == "partial" and c.variants.mode == "lecture"
    assert c.question("X1.q1").points == 2 and c.question("X1.q1").parts == {}
    assert c.tolerance == Tolerance(0.005, 1e-6, 0.0)
    assert c.shape_policy_for("X1.q1") == "strict"


def test_one_place_for_the_defaults():
    """A Policy() made directly, the config dataclasses and a course.yaml
    that says nothing agree: all take their numbers from SCHEMA."""
    from autograder.config import (ECFPolicy, FormulaSettings, OrderSettings, SandboxLimits,
                                   ShapePolicy, schema_default)
    from autograder.judge import policy_for
    from autograder.questions.base import Policy
    c = parse_course("course_id: c1\nassignments:\n  X1:\n    title: {zh: 甲, en: X}\n"
                     "    notebook: X1.ipynb\n    questions: {q1: 2}\n")
    assert policy_for(c, "X1.q1", None) == Policy()
    p = Policy()
    assert (p.rtol, p.atol, p.atol_scale) == (0.005, 1e-6, 0.0)
    assert (p.ecf, p.ecf_credit, p.shape_policy, p.shape_credit) == ("partial", 0.5, "strict", 0.0)
    assert (p.leading_term_credit, p.formula_time_limit, p.language) == (0.5, 2.0, "zh+en")
    assert ECFPolicy() == c.ecf and ShapePolicy() == c.shape_policy
    assert FormulaSettings() == c.formula and OrderSettings() == c.order
    assert SandboxLimits() == c.sandbox
    assert schema_default("sandbox.memory_mb") == 2048 and schema_default("variants.secret_env") is None
    with pytest.raises(KeyError):
        schema_default("tolerances.nothing")


def test_exponent_without_dot_is_a_number():
    text = TEXT.replace("rtol: 0.005", "rtol: 5e-3", 1)
    assert parse_course(text).tolerance.rtol == 0.005


@pytest.mark.parametrize("edit", [("", ""), ("rtol: 0.005", "rtol: 5e-3"),
                                  ("points: 4", "points: '4'")])
def test_libyaml_and_python_parsers_agree(monkeypatch, edit):
    """course.yaml is read with libyaml's parser where PyYAML has it; the
    pure-Python parser (the fallback) gives the same course, or the same error."""
    import yaml
    import autograder.config as config
    if not getattr(yaml, "__with_libyaml__", False):
        pytest.skip("PyYAML without libyaml")
    text = TEXT.replace(*edit, 1)
    out = {}
    for loader in (yaml.CSafeLoader, yaml.SafeLoader):
        monkeypatch.setattr(config, "_Loader", loader)
        try:
            out[loader] = parse_course(text)
        except ConfigError as exc:
            out[loader] = str(exc)
    assert out[yaml.CSafeLoader] == out[yaml.SafeLoader]


def test_ecf_credit():
    base = TEXT.replace("ecf:\n  policy: full\n", "ecf:\n  policy: partial\n  fraction: 0.3\n")
    assert parse_course(base).ecf.credit == 0.3
    assert parse_course(TEXT.replace("policy: full", "policy: none")).ecf.credit == 0.0


def test_variant_key_reads_secret_from_environment():
    text = TEXT.replace("salt: nn-backprop-2025", "salt: s\n  secret_env: NNGRADE_SECRET")
    v = parse_course(text).variants
    assert v.key({}) == "s"
    assert v.key({"NNGRADE_SECRET": "k"}) == "s\x00k"


def test_find_course_file(tmp_path):
    (tmp_path / "course.yaml").write_text("x", encoding="utf-8")
    (tmp_path / "exercises").mkdir()
    assert find_course_file(tmp_path / "exercises") == tmp_path / "course.yaml"


def test_find_course_file_is_the_one_finder(tmp_path, monkeypatch):
    """NNGRADE_COURSE (notebooks), several starts in turn (the CLI: the
    graded folder, then the working directory), a student install's course."""
    course_dir, other, nowhere = tmp_path / "c", tmp_path / "o", tmp_path / "n"
    for d in (course_dir / "exercises", other, nowhere / "deep", tmp_path / "cfg"):
        d.mkdir(parents=True)
    (course_dir / "course.yaml").write_text("x", encoding="utf-8")
    (other / "course.yaml").write_text("y", encoding="utf-8")
    monkeypatch.setenv("NNGRADE_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("NNGRADE_COURSE", str(other / "course.yaml"))
    assert find_course_file(course_dir / "exercises") == course_dir / "course.yaml"
    assert find_course_file(course_dir / "exercises", env=True) == other / "course.yaml"
    monkeypatch.delenv("NNGRADE_COURSE")
    assert find_course_file(nowhere / "deep", other) == other / "course.yaml"
    assert find_course_file(course_dir, other) == course_dir / "course.yaml"
    with pytest.raises(FileNotFoundError, match="looked in .*deep"):
        find_course_file(nowhere / "deep")
    (tmp_path / "cfg" / "course.yaml").write_text("z", encoding="utf-8")
    assert find_course_file(nowhere / "deep", installed=True) == tmp_path / "cfg" / "course.yaml"
    assert find_course_file(course_dir, installed=True) == course_dir / "course.yaml"


# --------------------------------------------------------------------------
# broken copies: ConfigError naming the file, the key path and the line

def _line_of(text: str, needle: str) -> int:
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) == 1, (needle, hits)
    return hits[0]


def _broken(tmp_path, old, new, count=1):
    assert old in TEXT
    text = TEXT.replace(old, new, count)
    path = tmp_path / "course.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_course(path)
    err = info.value
    assert isinstance(err, ValueError)
    assert str(path) in str(err) and f":{err.line}:" in str(err)
    return err, text


def test_unknown_key(tmp_path):
    err, text = _broken(tmp_path, "  atol_scale: 1.0e-4\n", "  atol_scale: 1.0e-4\n  rtoll: 3\n")
    assert err.key == "tolerances.rtoll" and "tolerances.rtoll" in str(err)
    assert err.line == _line_of(text, "rtoll")
    assert "unknown key" in str(err) and "'rtol'" in str(err)


def test_unknown_key_in_an_assignment(tmp_path):
    err, text = _broken(tmp_path, "    notebook: A5_vectorized_backprop.ipynb\n",
                        "    notebook: A5_vectorized_backprop.ipynb\n    due: tomorrow\n")
    assert err.key == "assignments.A5.due" and err.line == _line_of(text, "due: tomorrow")


def test_negative_points(tmp_path):
    err, text = _broken(tmp_path, "parts: {dW2: 2, db2: 1, dW1: 3, db1: 1}",
                        "parts: {dW2: 2, db2: 1, dW1: -3, db1: 1}")
    assert err.key == "assignments.A3.questions.q2.parts.dW1.points"
    assert err.line == _line_of(text, "dW1: -3")
    assert ">= 0" in str(err) and "-3" in str(err)


def test_negative_question_points(tmp_path):
    err, text = _broken(tmp_path, "      q3: 4 ", "      q3: -4 ")
    assert err.key == "assignments.A5.questions.q3.points"
    assert err.line == _line_of(text, "q3: -4")


def test_bad_language(tmp_path):
    err, text = _broken(tmp_path, "language: zh+en", "language: fr")
    assert err.key == "language" and err.line == _line_of(text, "language: fr")
    assert "'zh+en'" in str(err) and "'fr'" in str(err)


def test_bad_ecf_policy(tmp_path):
    err, text = _broken(tmp_path, "  policy: full", "  policy: most")
    assert err.key == "ecf.policy" and err.line == _line_of(text, "policy: most")
    assert "'partial'" in str(err)


def test_ecf_fraction_out_of_range(tmp_path):
    err, text = _broken(tmp_path, "  policy: full", "  policy: partial\n  fraction: 1.5")
    assert err.key == "ecf.fraction" and err.line == _line_of(text, "fraction: 1.5")


def test_yaml_syntax_error(tmp_path):
    err, text = _broken(tmp_path, "course_id: nn-backprop", "course_id: 'nn-backprop")
    assert "YAML syntax" in str(err) and err.line is not None
    err, text = _broken(tmp_path, "    notebook: A4_relu_backprop_step.ipynb\n",
                        "    notebook: A4_relu_backprop_step.ipynb\n   oops: [1, 2\n")
    assert "YAML syntax" in str(err)
    assert err.line in (_line_of(text, "oops"), _line_of(text, "oops") + 1)


def test_tab_indentation(tmp_path):
    err, text = _broken(tmp_path, "  A3:\n", "\tA3:\n")
    assert err.line == _line_of(text, "\tA3:")


def test_missing_assignments(tmp_path):
    err, _ = _broken(tmp_path, TEXT[TEXT.index("assignments:"):], "")
    assert err.key == "assignments" and "required" in str(err)


def test_empty_assignments(tmp_path):
    err, text = _broken(tmp_path, TEXT[TEXT.index("assignments:"):], "assignments: {}\n")
    assert err.key == "assignments" and err.line == _line_of(text, "assignments: {}")


def test_missing_notebook(tmp_path):
    err, text = _broken(tmp_path, "    notebook: A8_training_well.ipynb\n", "")
    assert err.key == "assignments.A8.notebook" and err.line == _line_of(text, "  A8:")


def test_wrong_type(tmp_path):
    err, text = _broken(tmp_path, "memory_mb: 2048", "memory_mb: lots")
    assert err.key == "sandbox.memory_mb" and "integer" in str(err)
    assert err.line == _line_of(text, "memory_mb: lots")


def test_parts_must_add_up(tmp_path):
    err, text = _broken(tmp_path, "      q1:                  # num: forward pass\n",
                        "      q1:\n        points: 5   # wrong total\n")
    assert err.key == "assignments.A3.questions.q1.points"
    assert err.line == _line_of(text, "wrong total") and "add up to 3" in str(err)


def test_unknown_tolerance_profile(tmp_path):
    err, text = _broken(tmp_path, "tolerance: slides", "tolerance: slidez")
    assert err.key == "assignments.A1.questions.q4.tolerance.profile"
    assert err.line == _line_of(text, "slidez")


def test_bad_question_id_and_duplicate(tmp_path):
    err, text = _broken(tmp_path, "      q7: {", "      question7: {")
    assert err.key == "assignments.A8.questions.question7"
    assert err.line == _line_of(text, "question7")
    err, text = _broken(tmp_path, "  A9:\n", "  A1:\n")
    assert err.key == "assignments.A1" and "twice" in str(err)
    assert err.line == len(text[:text.rindex("  A1:\n")].splitlines()) + 1


def test_notebook_name_cannot_be_a_path(tmp_path):
    err, text = _broken(tmp_path, "notebook: A9_closed_form_approximation.ipynb",
                        "notebook: ../../etc/passwd")
    assert err.key == "assignments.A9.notebook" and err.line == _line_of(text, "passwd")


def test_python_tags_are_not_constructed(tmp_path):
    err, text = _broken(tmp_path, "course_id: nn-backprop",
                        "course_id: !!python/object/apply:os.system ['echo hi']")
    assert err.key == "course_id" and err.line == _line_of(text, "os.system")


def test_not_a_mapping_and_empty(tmp_path):
    for content, line in (("", 1), ("- 1\n- 2\n", 1), ("# only a comment\n", 1)):
        path = tmp_path / "c.yaml"
        path.write_text(content, encoding="utf-8")
        with pytest.raises(ConfigError) as info:
            load_course(path)
        assert info.value.line == line


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_course(tmp_path / "nope.yaml")


def test_policy_for_one_part(course):
    """What grading compares one part with (judge.policy_for): course.yaml's
    tolerance and shape policy for it."""
    from autograder.judge import policy_for
    p = policy_for(course, "A3.q2", "dW1")
    assert (p.rtol, p.atol, p.atol_scale) == tuple(course.tolerance_for("A3.q2", "dW1")
                                                   .as_kwargs().values())
    assert p.shape_policy == course.shape_policy.default

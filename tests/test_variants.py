"""Variants: reproducible, distinct per student, well conditioned, and the
default variant is the lecture's."""
import json

import numpy as np
import pytest

from autograder.questions import a3
from autograder.variants import variant_params, variant_seed


def test_default_variant_is_the_lecture():
    assert variant_params("A3") == a3.LECTURE
    assert variant_params("A3", "alice", mode="lecture") == a3.LECTURE
    p = variant_params("A3")
    p["x"][0] = 99                       # a copy: the table itself is untouched
    assert a3.LECTURE["x"][0] == 0.5


@pytest.mark.parametrize("assignment,min_distinct", [
    ("A1", 28), ("A3", 28), ("A4", 28), ("A5", 28), ("A6", 24), ("A8", 28), ("A2", 8)])
def test_reproducible_distinct_and_json_safe(assignment, min_distinct):
    a = variant_params(assignment, "alice")
    assert a == variant_params(assignment, "alice")
    assert json.loads(json.dumps(a)) == a
    others = [variant_params(assignment, f"s{i:03d}") for i in range(30)]
    distinct = {json.dumps(o, sort_keys=True) for o in others}
    assert len(distinct) >= min_distinct          # A2 varies one small integer, L
    assert variant_params(assignment, "alice", course_id="other-course") != a


def test_seed_depends_on_every_field_and_rejects_blank():
    s = variant_seed("c", "A3", "alice")
    assert s != variant_seed("c", "A3", "bob")
    assert s != variant_seed("c", "A4", "alice")
    assert s != variant_seed("d", "A3", "alice")
    with pytest.raises(ValueError, match="student_id"):
        variant_seed("c", "A3", "")
    with pytest.raises(ValueError, match="mode"):
        variant_params("A3", "alice", mode="random")


def test_lecture_variants_of_the_numeric_questions():
    """A2's L and A6's sizes (the lecture states no numbers); A5 and A8 use
    their question modules' defaults, which reproduce the course's numbers."""
    from autograder.questions import a5, a8
    assert variant_params("A2") == {"L": 10} and variant_params("A6") == {"n": 100, "L": 10, "B": 32}
    assert variant_params("A5") == a5.LECTURE and variant_params("A8") == a8.LECTURE
    lecture = a5._params(variant_params("A5"))
    assert all(np.array_equal(lecture[k], np.asarray(v)) for k, v in a5.LECTURE.items())
    assert lecture["X"].shape == (4, 3) and lecture["b2"].tolist() == [-0.1]
    assert a8._init_params(variant_params("A8")) == a8.INIT_DEFAULTS
    lecture8 = variant_params("A8")
    assert (lecture8["lr"], lecture8["steps"], lecture8["seed"]) == (0.5, 3, 0)
    assert lecture8["W"] == [[0.5, -0.3]] and lecture8["b"] == [0.1]
    for a in ("A7", "A9"):                  # nothing worth varying
        assert variant_params(a, "alice") == {}


def test_a2_and_a6_variants_are_in_range():
    for i in range(100):
        assert 3 <= variant_params("A2", f"s{i}")["L"] <= 12
        p = variant_params("A6", f"s{i}")
        assert p["n"] > p["L"] >= 3 and p["B"] >= 8

"""Variants: reproducible, distinct per student, well conditioned, and the
default variant is the lecture's."""
import json

import numpy as np
import pytest

from autograder.variants import LECTURE, variant_params, variant_seed


def test_default_variant_is_the_lecture():
    assert variant_params("A3") == LECTURE["A3"]
    assert variant_params("A3", "alice", mode="lecture") == LECTURE["A3"]
    p = variant_params("A3")
    p["x"][0] = 99                       # a copy: the table itself is untouched
    assert LECTURE["A3"]["x"][0] == 0.5


@pytest.mark.parametrize("assignment", ["A1", "A3", "A4"])
def test_reproducible_distinct_and_json_safe(assignment):
    a = variant_params(assignment, "alice")
    assert a == variant_params(assignment, "alice")
    assert json.loads(json.dumps(a)) == a
    others = [variant_params(assignment, f"s{i:03d}") for i in range(30)]
    distinct = {json.dumps(o, sort_keys=True) for o in others}
    assert len(distinct) >= 28
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


def test_a3_variants_are_well_conditioned():
    for i in range(200):
        p = {k: np.array(v) for k, v in variant_params("A3", f"s{i}").items()}
        z1 = p["W1"] @ p["x"] + p["b1"]
        y = p["W2"] @ (1 / (1 + np.exp(-z1))) + p["b2"]
        assert np.all(np.abs(z1) <= 2.5) and np.all(np.abs(z1) >= 0.05)
        assert abs(y - p["t"])[0] >= 0.1


def test_a4_variants_keep_exactly_the_second_unit_off():
    for i in range(200):
        p = {k: np.array(v) for k, v in variant_params("A4", f"s{i}").items()}
        z1 = p["W1"] @ p["x"] + p["b1"]
        assert z1[0] >= 0.05 and z1[1] <= -0.05
        yhat = p["W2"] @ np.maximum(z1, 0) + p["b2"]
        assert 0.05 <= yhat[0] < p["y"][0]


def test_a1_sigmoid_neuron_not_saturated():
    for i in range(200):
        p = variant_params("A1", f"s{i}")["neuron"]
        z = p["w"][0] * p["x"][0] + p["w"][1] * p["x"][1] + p["w"][2]
        assert 0.5 <= abs(z) <= 2.5

"""autograder.numeric: safe coercion, tolerance rule, shape policy, messages."""
import math
import warnings
from fractions import Fraction

import numpy as np
import pytest

from autograder.i18n import Message
from autograder.numeric import (MAX_DEPTH, Check, InvalidAnswer, check_array,
                                coerce_array, within_tolerance)

TOL = dict(rtol=1e-3, atol=1e-6)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", PendingDeprecationWarning)
    MATRIX = np.matrix([[0.6, -0.8]])


def check(answer, reference, **kw):
    return check_array(answer, reference, **{**TOL, **kw})


# --------------------------------------------------------------------------
# accepted forms

@pytest.mark.parametrize("answer", [
    [0.6, -0.8], (0.6, -0.8), np.array([0.6, -0.8]), np.array([0.6, -0.8], dtype=np.float32),
    [np.float64(0.6), np.float32(-0.8)], (0.6, np.array(-0.8)),
    [np.array(0.6), -0.8],
])
def test_vector_forms_accepted(answer):
    c = check(answer, [0.6, -0.8], name="z1")
    assert c.ok and c.status == "correct"
    assert c.value.dtype == np.float64 and c.value.shape == (2,)
    assert c.given_shape == c.expected_shape == (2,)
    assert c.max_error is not None and c.max_error < 1e-6


@pytest.mark.parametrize("answer", [3, 3.0, True + 2, np.int64(3), np.float32(3.0),
                                    np.float16(3.0), np.uint8(3), np.array(3), [3.0]])
def test_scalar_forms_accepted(answer):
    c = check(answer, 3.0, shape_policy="lenient")
    assert c.ok and c.status == "correct"


def test_ints_and_bools_promoted():
    assert coerce_array(True).dtype == np.float64
    assert coerce_array([True, False]).tolist() == [1.0, 0.0]
    assert coerce_array(np.array([1, 2], dtype=np.int8)).dtype == np.float64
    assert check([[1, 0], [0, 1]], np.eye(2)).ok
    assert check(np.array([True, False]), [1.0, 0.0]).ok


def test_nested_lists_and_matrices():
    ref = [[-0.006312, 0.018935], [0.014753, -0.044260]]
    assert check(ref, np.array(ref)).ok
    assert check(tuple(tuple(r) for r in ref), ref).ok
    assert check([np.array(r) for r in ref], ref).ok


def test_coerce_makes_a_copy():
    a = np.array([1.0, 2.0])
    out = coerce_array(a)
    out[0] = 99
    assert a[0] == 1.0
    c = check(a, [1.0, 2.0])
    c.value[1] = 7
    assert a[1] == 2.0


def test_empty_arrays():
    assert check([], np.zeros(0)).ok
    assert check(np.zeros((2, 0)), np.zeros((2, 0))).ok


# --------------------------------------------------------------------------
# tolerance rule: |a - r| <= atol + atol_scale * max|r| + rtol * |r|

def test_tolerance_boundary_relative():
    # exactly on the boundary passes (as typed in decimal), just beyond fails
    assert check_array(1.1, 1.0, rtol=0.1, atol=0.0).ok
    assert check_array(0.9, 1.0, rtol=0.1, atol=0.0).ok
    assert not check_array(1.1 + 1e-9, 1.0, rtol=0.1, atol=0.0).ok
    assert not check_array(0.9 - 1e-9, 1.0, rtol=0.1, atol=0.0).ok


def test_tolerance_boundary_absolute():
    assert check_array(1e-3, 0.0, rtol=0.5, atol=1e-3).ok
    assert not check_array(1.001e-3, 0.0, rtol=0.5, atol=1e-3).ok
    assert check_array(-1e-3, 0.0, rtol=0.5, atol=1e-3).ok


def test_tolerance_is_elementwise_relative():
    # rtol scales with each entry, not with the array: 1.0005 ok, 0.0015 vs 0.001 not
    ref = [1.0, 0.001]
    assert check_array([1.0005, 0.001], ref, rtol=1e-3, atol=0).ok
    c = check_array([1.0, 0.0015], ref, rtol=1e-3, atol=0)
    assert not c.ok and c.n_wrong == 1 and c.worst_index == (1,)


def test_atol_scale_is_relative_to_largest_entry():
    # a zero entry next to an entry of 0.157 (a dead ReLU unit's gradient)
    ref = [-0.15744, 0.0]
    assert not check_array([-0.15744, 1e-5], ref, rtol=1e-3, atol=0).ok
    assert check_array([-0.15744, 1e-5], ref, rtol=1e-3, atol=0, atol_scale=1e-4).ok
    assert not check_array([-0.15744, 2e-5], ref, rtol=1e-3, atol=0, atol_scale=1e-4).ok


def test_zero_tolerance_exact():
    assert check_array([3, 4], [3.0, 4.0], rtol=0, atol=0).ok
    assert not check_array([3, 4.000001], [3.0, 4.0], rtol=0, atol=0).ok


def test_within_tolerance_agrees_with_isclose():
    rng = np.random.default_rng(0)
    r = rng.normal(size=500)
    a = r + rng.normal(scale=1e-3, size=500)
    ok, _ = within_tolerance(a, r, rtol=1e-3, atol=1e-4)
    expected = np.isclose(a, r, rtol=1e-3, atol=1e-4)
    # only entries within a few ulps of the boundary may differ
    assert (ok == expected).mean() > 0.99


def test_max_error_and_message_do_not_reveal_reference():
    c = check([0.5, -0.8], [0.6, -0.8], name="z1")
    assert c.status == "wrong" and not c.ok
    assert math.isclose(c.max_error, 0.1)
    assert "0.6" not in c.message.en and "0.6" not in c.message.zh
    assert "1 of 2" in c.message.en and "[0]" in c.message.en
    assert c.message.en.startswith("z1: ")


def test_bad_tolerance_arguments_raise():
    with pytest.raises(ValueError):
        check_array(1, 1, rtol=-1, atol=0)
    with pytest.raises(TypeError):
        check_array(1, 1, rtol="0.1", atol=0)
    with pytest.raises(ValueError):
        check_array(1, 1, rtol=0.1, atol=0, shape_policy="loose")
    with pytest.raises(ValueError):
        check_array(1, float("nan"), rtol=0.1, atol=0)


# --------------------------------------------------------------------------
# shapes

@pytest.mark.parametrize("given", [(2, 1), (1, 2)])
def test_column_or_row_for_vector_strict(given):
    c = check(np.array([0.6, -0.8]).reshape(given), [0.6, -0.8], name="z1",
              shape_policy="strict")
    assert not c.ok and c.status == "shape"
    assert c.given_shape == given and c.expected_shape == (2,)
    for text in (c.message.en, c.message.zh):
        assert str(given) in text and "(2,)" in text
    assert c.aligned.shape == (2,) and c.value.shape == given


@pytest.mark.parametrize("given", [(2, 1), (1, 2)])
def test_column_or_row_for_vector_lenient(given):
    c = check(np.array([0.6, -0.8]).reshape(given), [0.6, -0.8], shape_policy="lenient")
    assert c.ok and c.status == "correct"
    for text in (c.message.en, c.message.zh):
        assert str(given) in text and "(2,)" in text


def test_one_element_array_for_scalar():
    strict = check(np.array([[0.344]]), 0.344)
    assert strict.status == "shape" and "(1, 1)" in strict.message.en and "()" in strict.message.en
    lenient = check(np.array([0.344]), 0.344, shape_policy="lenient")
    assert lenient.ok and lenient.aligned.shape == ()
    assert check(0.344, [0.344], shape_policy="lenient").ok


def test_compatible_shape_wrong_values_is_wrong_under_both_policies():
    for policy in ("strict", "lenient"):
        c = check([[0.6], [0.8]], [0.6, -0.8], shape_policy=policy)
        assert c.status == "wrong" and not c.ok
        assert "(2, 1)" in c.message.en and "(2,)" in c.message.en


def test_incompatible_shape_is_wrong_and_names_both():
    ref = np.arange(6.0).reshape(2, 3)
    c = check(ref.T, ref, shape_policy="lenient", name="dW1")
    assert c.status == "wrong" and not c.ok
    assert c.given_shape == (3, 2) and c.expected_shape == (2, 3)
    assert "(3, 2)" in c.message.en and "(2, 3)" in c.message.en
    assert "(3, 2)" in c.message.zh and "(2, 3)" in c.message.zh
    assert "transposed" in c.message.en
    assert c.value.shape == (3, 2)  # kept for mistake diagnosis
    c = check([1.0, 2.0, 3.0], [1.0, 2.0])
    assert c.status == "wrong" and "(3,)" in c.message.en and "(2,)" in c.message.en


# --------------------------------------------------------------------------
# invalid answers: clear message, no credit, no student code run

class Tricky:
    """Every hook NumPy or Python might call records that it was called."""

    def __init__(self):
        self.called = []

    def __array__(self, *a, **k):
        self.called.append("__array__")
        return np.array([0.6, -0.8])

    def __float__(self):
        self.called.append("__float__")
        return 0.6

    def __eq__(self, other):
        self.called.append("__eq__")
        return True

    def __hash__(self):
        self.called.append("__hash__")
        return 0

    def __len__(self):
        self.called.append("__len__")
        return 2

    def __getitem__(self, i):
        self.called.append("__getitem__")
        return 0.6

    def __iter__(self):
        self.called.append("__iter__")
        return iter([0.6, -0.8])

    @property
    def __array_interface__(self):
        self.called.append("__array_interface__")
        return np.array([0.6, -0.8]).__array_interface__


class TrickyFloat(float):
    def __float__(self):
        raise AssertionError("called")

    def __eq__(self, other):
        raise AssertionError("called")

    __hash__ = float.__hash__


class TrickyList(list):
    def __iter__(self):
        raise AssertionError("called")

    def __len__(self):
        raise AssertionError("called")


class TrickyArray(np.ndarray):
    def __array_ufunc__(self, *a, **k):
        raise AssertionError("called")


class Meta(type):
    @property
    def __name__(cls):
        raise AssertionError("called")

    def __eq__(cls, other):
        raise AssertionError("called")

    __hash__ = type.__hash__


class WithMeta(metaclass=Meta):
    pass


def _assert_invalid(c: Check, *words):
    assert isinstance(c, Check)
    assert not c.ok and c.status == "invalid"
    assert c.value is None and c.max_error is None
    assert isinstance(c.message, Message) and c.message.zh and c.message.en
    assert c.message.zh != c.message.en
    for w in words:
        assert w.lower() in c.message.en.lower(), (w, c.message.en)


@pytest.mark.parametrize("answer,words", [
    (float("nan"), ["NaN"]),
    ([0.6, float("nan")], ["NaN", "[1]"]),
    (np.array([[0.0, np.inf]]), ["infinity", "[0, 1]"]),
    (float("-inf"), ["infinity"]),
    (1 + 2j, ["complex"]),
    (np.complex128(1), ["complex"]),
    (np.array([1 + 0j, 2]), ["complex"]),
    (np.array([0.6, None], dtype=object), ["object"]),
    (np.array([0.6, -0.8], dtype=object), ["object"]),
    ("0.6", ["string"]),
    (b"0.6", ["string"]),
    (np.str_("0.6"), ["string"]),
    (np.array(["0.6", "-0.8"]), ["strings"]),
    (None, ["None"]),
    ([[1.0, 2.0], [3.0]], ["ragged", "(2,)", "(1,)"]),
    ([1.0, [2.0]], ["ragged"]),
    ({"z1": [0.6, -0.8]}, ["dict"]),
    ({0.6, -0.8}, ["not accepted"]),
    (Fraction(3, 5), ["Fraction"]),
    (np.ma.masked_array([0.6, -0.8]), ["subclass"]),
    (MATRIX, ["subclass"]),
    (np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]), ["not numeric"]),
    (10 ** 400, ["too large"]),
    (np.longdouble("1e400") if np.finfo(np.longdouble).max > 1e400 else float("inf"),
     ["infinity"]),
    ([0.6, "x"], ["string"]),
    ([0.6, None], ["None"]),
])
def test_invalid_answers(answer, words):
    _assert_invalid(check(answer, [0.6, -0.8], shape_policy="lenient"), *words)


def test_invalid_message_both_languages_and_prefixed_with_name():
    c = check(None, 1.0, name="dW2")
    assert c.message.en.startswith("dW2: ") and c.message.zh.startswith("dW2：")
    assert "None" in c.message.zh
    assert c.message.render("zh+en") == c.message.zh + "\n" + c.message.en
    assert c.reason == "none"


def test_custom_object_hooks_never_called():
    obj = Tricky()
    _assert_invalid(check(obj, [0.6, -0.8], shape_policy="lenient"), "Tricky")
    _assert_invalid(check([obj, obj], [0.6, -0.8], shape_policy="lenient"))
    _assert_invalid(check([0.6, obj], [0.6, -0.8], shape_policy="lenient"))
    assert obj.called == []


def test_subclass_tricks_never_called():
    _assert_invalid(check(TrickyFloat(0.6), 0.6), "subclass")
    _assert_invalid(check(TrickyList([0.6, -0.8]), [0.6, -0.8]), "subclass")
    arr = np.array([0.6, -0.8]).view(TrickyArray)
    _assert_invalid(check(arr, [0.6, -0.8]), "subclass")
    _assert_invalid(check(WithMeta(), 0.6), "not accepted")


def test_cyclic_and_deep_lists_rejected():
    cyc = []
    cyc.append(cyc)
    _assert_invalid(check(cyc, [0.0]), "nested")
    deep = 1.0
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    _assert_invalid(check(deep, 1.0), "nested")
    very_deep = 1.0
    for _ in range(100_000):
        very_deep = [very_deep]
    _assert_invalid(check(very_deep, 1.0), "nested")


def test_coerce_array_raises_invalid_answer():
    with pytest.raises(InvalidAnswer) as info:
        coerce_array("abc")
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value.message, Message) and info.value.reason == "string"
    assert coerce_array(2).shape == ()


def test_no_warnings_on_overflowing_difference(recwarn):
    c = check_array(1e308, -1e308, rtol=1e-3, atol=0)
    assert c.status == "wrong"
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


# --------------------------------------------------------------------------
# the course's tolerances against the catalogue's quoted (rounded) numbers

def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _check_options(course, qid: str, part: str) -> dict:
    """check_array's options for one part, as grading sets them (judge.policy_for)."""
    from autograder.judge import policy_for
    p = policy_for(course, qid, part)
    return {"rtol": p.rtol, "atol": p.atol, "atol_scale": p.atol_scale,
            "shape_policy": p.shape_policy}


def _course():
    from pathlib import Path

    from autograder.config import load_course
    return load_course(Path(__file__).resolve().parents[1] / "course.yaml")


def test_course_tolerances_accept_quoted_lecture_values_and_reject_mistakes():
    course = _course()
    # A3: the 2-2-1 sigmoid network, computed here; quoted to 6 decimals
    x, t = np.array([0.5, -1.5]), 0.3
    W1, b1 = np.array([[0.4, -0.2], [-0.1, 0.3]]), np.array([0.1, -0.3])
    W2, b2 = np.array([0.2, -0.5]), 0.05
    h = _sigmoid(W1 @ x + b1)
    y = W2 @ h + b2
    d2 = y - t
    d1 = W2 * d2 * h * (1 - h)
    refs = {"dW2": d2 * h, "db2": d2, "dW1": np.outer(d1, x), "db1": d1}
    quoted = {"dW2": [-0.178125, -0.085530], "db2": -0.275882,
              "dW1": [[-0.006312, 0.018935], [0.014753, -0.044260]],
              "db1": [-0.012623, 0.029507]}
    for part, ref in refs.items():
        opts = _check_options(course, "A3.q2", part)
        assert check_array(quoted[part], ref, **opts).ok, part
        assert not check_array(2 * np.asarray(quoted[part]), ref, **opts).ok  # ½ dropped
        assert not check_array(-np.asarray(quoted[part]), ref, **opts).ok     # sign
    assert check_array(refs["dW1"].T, refs["dW1"], **_check_options(course, "A3.q2", "dW1")
                       ).status == "wrong"                                   # transposed
    # A1.q4: the slides round to two decimals
    z = 2 * -1 + -3 * -2 + -3
    f = _sigmoid(z)
    g = f * (1 - f)
    ref = np.array([-1 * g, 2 * g, -2 * g, -3 * g, g])          # w0, x0, w1, x1, w2
    slides = np.array([-0.20, 0.39, -0.39, -0.59, 0.20])
    three = np.array([-0.197, 0.393, -0.393, -0.590, 0.197])
    for part, i in zip(["dw0", "dx0", "dw1", "dx1", "dw2"], range(5)):
        opts = _check_options(course, "A1.q4", part)
        assert check_array(slides[i], ref[i], **opts).ok, part
        assert check_array(three[i], ref[i], **opts).ok, part
    assert check_array(0.731, f, **_check_options(course, "A1.q4", "f")).ok
    # A4: a dead ReLU unit's zero gradient entries
    opts = _check_options(course, "A4.q2", "dW1")
    ref = np.array([[-0.07872, -0.11808], [0.0, 0.0]])
    assert check_array([[-0.07872, -0.11808], [0, 0]], ref, **opts).ok
    assert not check_array([[-0.07872, -0.11808], [-0.07872, -0.11808]], ref, **opts).ok


# --------------------------------------------------------------------------
# properties

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_finite, min_size=3, max_size=3), min_size=1, max_size=4))
def test_property_lists_equal_their_array(rows):
    ref = np.array(rows)
    assert check_array(rows, ref, rtol=0, atol=0).ok
    assert np.array_equal(coerce_array(rows), ref)
    assert check_array(ref.tolist(), ref, rtol=1e-12, atol=0).status == "correct"


@settings(max_examples=60, deadline=None)
@given(_finite, st.floats(min_value=1e-6, max_value=0.5))
def test_property_relative_tolerance(r, rtol):
    a_in = r + 0.5 * rtol * abs(r)
    a_out = r + 1.5 * rtol * abs(r) + 1e-300
    assert check_array(a_in, r, rtol=rtol, atol=0).ok
    if r != 0:
        assert not check_array(a_out, r, rtol=rtol, atol=0).ok

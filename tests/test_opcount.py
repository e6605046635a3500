"""Instrumented operation counts equal the analytic formulas (A6)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from nn_core.models import mlp
from nn_core.opcount import counting, dense_counts, network_counts, record


@settings(max_examples=20, deadline=None)
@given(sizes=st.lists(st.integers(1, 9), min_size=2, max_size=5), batch=st.integers(1, 6))
def test_instrumented_counts_equal_analytic(sizes, batch):
    rng = np.random.default_rng(0)
    net = mlp(sizes, activation="sigmoid", output="sigmoid", loss="half_squared_error", rng=rng)
    X = rng.standard_normal((batch, sizes[0]))
    Y = rng.random((batch, sizes[-1]))
    with counting() as c:
        net.gradients(X, Y)
    assert c.as_dict() == network_counts(sizes, batch)


def test_per_sample_path_counts_scale_with_batch():
    rng = np.random.default_rng(0)
    net = mlp([5, 5, 5, 5], activation="sigmoid", output="sigmoid", loss="half_squared_error", rng=rng)
    x = rng.standard_normal((1, 5))
    with counting() as one:
        net.gradients_per_sample(x, rng.random((1, 5)))
    with counting() as four:
        net.gradients_per_sample(rng.standard_normal((4, 5)), rng.random((4, 5)))
    assert four.forward_mults == 4 * one.forward_mults
    assert four.backward_mults == 4 * one.backward_mults


@pytest.mark.parametrize("L,n", [(1, 3), (3, 4), (5, 10)])
def test_a6_closed_forms(L, n):
    """L layers of n → n, B = 1: the closed forms stated in A6's convention."""
    c = network_counts([n] * (L + 1), batch=1)
    assert c["forward_mults"] == L * n * n
    assert c["forward_adds"] == L * n * n
    assert c["backward_mults"] == (2 * L - 1) * n * n + L * n
    assert c["backward_adds"] == (L - 1) * n * (n - 1)
    big = network_counts([n] * (L + 1), batch=7)
    assert big["forward_mults"] == 7 * c["forward_mults"]
    assert big["backward_mults"] == 7 * c["backward_mults"]


def test_counting_off_records_nothing_and_bad_pass_is_named():
    record("forward", mults=5)          # outside a block: ignored
    with counting() as c:
        with pytest.raises(ValueError, match="forward' or 'backward"):
            record("sideways", mults=1)
    assert c.mults == 0
    assert dense_counts(3, 2, 1, need_dx=False)["backward_adds"] == 0

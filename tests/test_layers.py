"""Linear and Dropout layers: gradient check, PyTorch agreement, dropout's
expectation under both conventions."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from nn_core.gradcheck import check_layer_gradients, rel_error
from nn_core.layers import Dropout, Linear


@settings(max_examples=25, deadline=None)
@given(m_in=st.integers(1, 8), m_out=st.integers(1, 8), n=st.integers(0, 6), seed=st.integers(0, 2**31))
def test_linear_gradient_check(m_in, m_out, n, seed):
    rng = np.random.default_rng(seed)
    lin = Linear(m_in, m_out, rng=rng)
    lin.params["b"] = rng.standard_normal(m_out)
    x = rng.standard_normal((n, m_in)) if n else rng.standard_normal(m_in)
    errors = check_layer_gradients(lin, x, rng, h=1e-3)   # affine: no truncation error
    assert max(errors.values()) < 1e-7, errors


def test_linear_matches_torch(rng):
    torch = pytest.importorskip("torch")
    lin = Linear(5, 4, rng=rng)
    lin.params["b"] = rng.standard_normal(4)
    x = rng.standard_normal((6, 5))
    dout = rng.standard_normal((6, 4))
    out, cache = lin.forward(x)
    dx, grads = lin.backward(dout, cache)
    tx = torch.tensor(x, requires_grad=True)
    tW = torch.tensor(lin.params["W"], requires_grad=True)
    tb = torch.tensor(lin.params["b"], requires_grad=True)
    tout = torch.nn.functional.linear(tx, tW, tb)
    tout.backward(torch.tensor(dout))
    assert rel_error(out, tout.detach().numpy()) < 1e-12
    assert rel_error(dx, tx.grad.numpy()) < 1e-10
    assert rel_error(grads["W"], tW.grad.numpy()) < 1e-10
    assert rel_error(grads["b"], tb.grad.numpy()) < 1e-10


def test_linear_one_sample_is_lecture_outer_product(rng):
    lin = Linear(3, 2, rng=rng)
    a = rng.standard_normal(3)
    delta = rng.standard_normal(2)
    _, cache = lin.forward(a)
    dx, grads = lin.backward(delta, cache)
    np.testing.assert_allclose(grads["W"], delta[:, None] * a[None, :])   # δ aᵀ
    np.testing.assert_allclose(dx, lin.params["W"].T @ delta)              # Wᵀ δ
    np.testing.assert_array_equal(grads["b"], delta)


@pytest.mark.parametrize("inverted", [False, True])
def test_dropout_expectation_matches_test_time(inverted):
    rng = np.random.default_rng(0)
    p = 0.3
    drop = Dropout(p, inverted=inverted, rng=rng)
    x = rng.standard_normal(50)
    samples = np.stack([drop.forward(x, train=True)[0] for _ in range(20000)])
    test_out = drop.forward(x, train=False)[0]
    expected = p * x if not inverted else x
    np.testing.assert_allclose(test_out, expected)
    se = samples.std(axis=0) / np.sqrt(len(samples))
    assert np.all(np.abs(samples.mean(axis=0) - test_out) < 5 * se + 1e-12)


def test_dropout_backward_uses_the_mask():
    rng = np.random.default_rng(1)
    drop = Dropout(0.5, inverted=True, rng=rng)
    x = rng.standard_normal((4, 6))
    out, mask = drop.forward(x)
    dx, _ = drop.backward(np.ones_like(x), mask)
    np.testing.assert_array_equal(dx, (out != 0) / 0.5)
    kept = Dropout(0.5, rng=rng)
    out, mask = kept.forward(x)
    np.testing.assert_array_equal(kept.backward(np.ones_like(x), mask)[0], out != 0)
    with pytest.raises(ValueError, match="keep probability"):
        Dropout(0.0)


def test_layers_own_their_parameters():
    from nn_core.conv import Conv2D
    from nn_core.network import Network
    from nn_core.optim import SGD
    W, b = np.ones((2, 3)), np.zeros(2)
    net = Network([Linear(3, 2, W=W, b=b)], "half_squared_error")
    _, grads = net.gradients(np.ones((1, 3)), np.full((1, 2), 5.0))
    SGD(0.1).step(net, grads)
    assert (W == 1).all() and (b == 0).all()            # the caller's arrays are untouched
    assert not np.allclose(net.layers[0].params["W"], 1)
    K = np.ones((1, 1, 2, 2))
    conv = Conv2D(1, 1, 2, W=K)
    conv.params["W"] += 1
    assert (K == 1).all()


@pytest.mark.parametrize("m_out", [3, 31, 32, 70])          # both sides of layers._NARROW
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_wide_and_narrow_outputs_match_torch(m_out, dtype, rng):
    """Narrow outputs multiply by a contiguous copy of Wᵀ, wide ones by the
    transposed view: both are ``x Wᵀ + b`` and keep the dtype."""
    torch = pytest.importorskip("torch")
    lin = Linear(45, m_out, rng=rng, dtype=dtype)
    lin.params["b"] = rng.standard_normal(m_out).astype(dtype)
    W0 = lin.params["W"].copy()
    x = rng.standard_normal((17, 45)).astype(dtype)
    dout = rng.standard_normal((17, m_out)).astype(dtype)
    out, cache = lin.forward(x)
    dx, grads = lin.backward(dout, cache)
    assert out.dtype == dx.dtype == grads["W"].dtype == grads["b"].dtype == dtype
    np.testing.assert_array_equal(lin.params["W"], W0)        # never written
    tx = torch.tensor(x, requires_grad=True)
    tW = torch.tensor(W0, requires_grad=True)
    tb = torch.tensor(lin.params["b"], requires_grad=True)
    (torch.nn.functional.linear(tx, tW, tb) * torch.tensor(dout)).sum().backward()
    ref = torch.nn.functional.linear(tx, tW, tb).detach().numpy()
    for ours, theirs in [(out, ref), (dx, tx.grad.numpy()), (grads["W"], tW.grad.numpy()),
                         (grads["b"], tb.grad.numpy())]:
        if dtype == np.float64:
            assert rel_error(ours, theirs) < 1e-12
        else:   # float32: rounding relative to the entries' scale
            np.testing.assert_allclose(ours, theirs, rtol=1e-5,
                                       atol=1e-5 * np.abs(theirs).max())

"""Convolution, pooling and flatten layers (A7): gradients, PyTorch agreement,
the lecture's recurrence, the max-pooling tie rule, dtypes, validation and
operation counts.

References are independent of the code under test: PyTorch autograd, centered
finite differences, explicit loops written here, and hand-derived counts.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as tF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nn_core.conv import (AvgPool2D, Conv2D, Flatten, MaxPool2D, conv2d_counts,
                          conv2d_naive, full_convolution, rot180)
from nn_core.gradcheck import check_layer_gradients
from nn_core.opcount import counting

torch.set_num_threads(1)
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def conv_cases(draw):
    """(n, C, H, W, F, K, stride, padding, seed) with the image at least K after padding."""
    K = draw(st.integers(1, 3))
    padding = draw(st.integers(0, 1))
    stride = draw(st.integers(1, 2))
    lo = max(1, K - 2 * padding)
    H = draw(st.integers(lo, lo + 4))
    W = draw(st.integers(lo, lo + 4))
    return (draw(st.integers(1, 2)), draw(st.integers(1, 3)), H, W, draw(st.integers(1, 3)),
            K, stride, padding, draw(st.integers(0, 2**32 - 1)))


@st.composite
def pool_cases(draw):
    """(n, C, H, W, K, stride or None, seed); stride < K gives overlapping windows."""
    K = draw(st.integers(1, 3))
    stride = draw(st.one_of(st.none(), st.integers(1, 3)))
    return (draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(K, K + 5)),
            draw(st.integers(K, K + 5)), K, stride, draw(st.integers(0, 2**32 - 1)))


def make_conv(C, F, K, stride, padding, rng, dtype=np.float64):
    layer = Conv2D(C, F, K, stride=stride, padding=padding, rng=rng, dtype=dtype)
    layer.params["b"] = rng.standard_normal(F).astype(dtype)
    return layer


def distinct_values(shape, rng, gap=0.01):
    """Entries that differ pairwise by at least ``gap`` (no near-ties for max pooling)."""
    return (rng.permutation(int(np.prod(shape))) * gap - 1.0).reshape(shape)


# -- gradient checks (finite differences, float64) -----------------------------
@SETTINGS
@given(conv_cases())
def test_conv_gradcheck(case):
    n, C, H, W, F, K, s, p, seed = case
    rng = np.random.default_rng(seed)
    layer = make_conv(C, F, K, s, p, rng)
    x = rng.standard_normal((n, C, H, W))
    # the output is linear in each of x, W, b: centered differences are exact up
    # to rounding, so a moderate h keeps the rounding error far below 1e-7
    errors = check_layer_gradients(layer, x, rng, h=1e-3)
    assert set(errors) == {"x", "W", "b"}
    assert max(errors.values()) < 1e-7, errors


@SETTINGS
@given(pool_cases())
def test_maxpool_gradcheck(case):
    n, C, H, W, K, s, seed = case
    rng = np.random.default_rng(seed)
    x = distinct_values((n, C, H, W), rng)           # gaps of 0.01 ≫ h: no kink crossed
    errors = check_layer_gradients(MaxPool2D(K, s), x, rng, h=1e-4)
    assert errors["x"] < 1e-7, errors


@SETTINGS
@given(pool_cases())
def test_avgpool_gradcheck(case):
    n, C, H, W, K, s, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, C, H, W))
    errors = check_layer_gradients(AvgPool2D(K, s), x, rng, h=1e-3)
    assert errors["x"] < 1e-7, errors


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 4, 5)])
def test_flatten_gradcheck_and_shapes(shape, rng):
    x = rng.standard_normal(shape)
    out, _ = Flatten().forward(x)
    want = (shape[0], 3 * 4 * 5) if len(shape) == 4 else (3 * 4 * 5,)
    assert out.shape == want
    np.testing.assert_array_equal(out.ravel(), x.ravel())     # C order
    assert check_layer_gradients(Flatten(), x, rng, h=1e-3)["x"] < 1e-7   # linear: exact


# -- agreement with PyTorch autograd (float64) ---------------------------------
def torch_grads(fn, *arrays, dout):
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


@SETTINGS
@given(conv_cases())
def test_conv_matches_torch(case):
    n, C, H, W, F, K, s, p, seed = case
    rng = np.random.default_rng(seed)
    layer = make_conv(C, F, K, s, p, rng)
    x = rng.standard_normal((n, C, H, W))
    z, cache = layer.forward(x)
    dout = rng.standard_normal(z.shape)
    dx, grads = layer.backward(dout, cache)
    z_t, (dx_t, dW_t, db_t) = torch_grads(
        lambda a, w, b: tF.conv2d(a, w, b, stride=s, padding=p),
        x, layer.params["W"], layer.params["b"], dout=dout)
    for ours, ref in ((z, z_t), (dx, dx_t), (grads["W"], dW_t), (grads["b"], db_t)):
        assert ours.shape == ref.shape
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10)


@SETTINGS
@given(pool_cases())
def test_pools_match_torch(case):
    n, C, H, W, K, s, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, C, H, W))            # continuous: ties have probability 0
    stride = K if s is None else s
    for layer, fn in ((MaxPool2D(K, s), lambda a: tF.max_pool2d(a, K, stride)),
                      (AvgPool2D(K, s), lambda a: tF.avg_pool2d(a, K, stride))):
        out, cache = layer.forward(x)
        dout = rng.standard_normal(out.shape)
        dx, grads = layer.backward(dout, cache)
        out_t, (dx_t,) = torch_grads(fn, x, dout=dout)
        assert grads == {} and out.shape == out_t.shape
        np.testing.assert_allclose(out, out_t, rtol=0, atol=1e-10)
        np.testing.assert_allclose(dx, dx_t, rtol=0, atol=1e-10)


@pytest.mark.parametrize("K,stride", [(3, 1), (3, 2), (2, 1), (4, 2)])
def test_overlapping_pooling_accumulates(K, stride, rng):
    x = rng.standard_normal((2, 3, 9, 10))
    for layer, fn in ((MaxPool2D(K, stride), tF.max_pool2d), (AvgPool2D(K, stride), tF.avg_pool2d)):
        out, cache = layer.forward(x)
        dout = rng.standard_normal(out.shape)
        dx, _ = layer.backward(dout, cache)
        _, (dx_t,) = torch_grads(lambda a: fn(a, K, stride), x, dout=dout)
        np.testing.assert_allclose(dx, dx_t, rtol=0, atol=1e-10)
        # nothing is lost or invented: the gradient mass is conserved
        np.testing.assert_allclose(dx.sum(), dout.sum(), rtol=1e-12, atol=1e-12)


# -- the lecture's formulas ----------------------------------------------------
def loops_valid_xcorr(a, w, s=1):
    """z_ij = Σ_u Σ_v w_uv a_{i·s+u, j·s+v}, written out independently here."""
    K = w.shape[0]
    OH, OW = (a.shape[0] - K) // s + 1, (a.shape[1] - K) // s + 1
    return np.array([[np.sum(w * a[i * s:i * s + K, j * s:j * s + K]) for j in range(OW)]
                     for i in range(OH)])


def loops_recurrence(delta, w):
    """Σ_{u,v} w_uv δ_{i−u, j−v}, terms outside the map are 0 (seed 001, 作业 (4))."""
    K = w.shape[0]
    H, W = delta.shape[0] + K - 1, delta.shape[1] + K - 1
    out = np.zeros((H, W))
    for i in range(H):
        for j in range(W):
            for u in range(K):
                for v in range(K):
                    if 0 <= i - u < delta.shape[0] and 0 <= j - v < delta.shape[1]:
                        out[i, j] += w[u, v] * delta[i - u, j - v]
    return out


def test_rot180(rng):
    w = rng.standard_normal((3, 3))
    r = rot180(w)
    for u in range(3):
        for v in range(3):
            assert r[u, v] == w[2 - u, 2 - v]
    np.testing.assert_array_equal(rot180(np.arange(24.).reshape(2, 1, 3, 4))[1, 0],
                                  np.rot90(np.arange(12., 24.).reshape(3, 4), 2))


@pytest.mark.parametrize("H,W,K,s", [(5, 5, 3, 1), (6, 4, 2, 1), (7, 8, 3, 2), (4, 4, 1, 1)])
def test_conv2d_naive_matches_references(H, W, K, s, rng):
    a, w = rng.standard_normal((H, W)), rng.standard_normal((K, K))
    z = conv2d_naive(a, w, stride=s)
    np.testing.assert_allclose(z, loops_valid_xcorr(a, w, s), rtol=0, atol=1e-12)
    z_t = tF.conv2d(torch.tensor(a)[None, None], torch.tensor(w)[None, None], stride=s)
    np.testing.assert_allclose(z, z_t.numpy()[0, 0], rtol=0, atol=1e-12)
    # and Conv2D on one channel, one kernel, no bias
    layer = Conv2D(1, 1, K, stride=s, W=w[None, None])
    np.testing.assert_allclose(layer.forward(a[None, None])[0][0, 0], z, rtol=0, atol=1e-12)


@pytest.mark.parametrize("H,W,K", [(5, 5, 3), (6, 7, 2), (4, 4, 4), (3, 5, 1)])
def test_dx_is_full_convolution_with_rotated_kernel(H, W, K, rng):
    """A7: at stride 1, ∂L/∂a is the full convolution of δ with rot180(w)."""
    a, w = rng.standard_normal((H, W)), rng.standard_normal((K, K))
    layer = Conv2D(1, 1, K, W=w[None, None])
    z, cache = layer.forward(a[None, None])
    delta = rng.standard_normal(z.shape)
    dx, _ = layer.backward(delta, cache)
    full = full_convolution(delta[0, 0], w)
    assert full.shape == (H, W)
    np.testing.assert_allclose(full, loops_recurrence(delta[0, 0], w), rtol=0, atol=1e-12)
    np.testing.assert_allclose(dx[0, 0], full, rtol=0, atol=1e-12)


def test_recurrence_through_relu(rng):
    """δ^{(l)} = f'(z^{(l)}) ⊙ full_convolution(δ^{(l+1)}, w^{(l+1)}), checked with torch."""
    x = rng.standard_normal((1, 1, 8, 8))
    w1, w2 = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    xt = torch.tensor(x)
    z1 = tF.conv2d(xt, torch.tensor(w1)[None, None]).requires_grad_()
    z2 = tF.conv2d(torch.relu(z1), torch.tensor(w2)[None, None])
    d2 = rng.standard_normal(z2.shape)
    z2.backward(torch.tensor(d2))
    fprime = (z1.detach().numpy()[0, 0] > 0).astype(float)
    delta1 = fprime * full_convolution(d2[0, 0], w2)
    np.testing.assert_allclose(delta1, z1.grad.numpy()[0, 0], rtol=0, atol=1e-12)


# -- max pooling tie rule --------------------------------------------------------
def test_maxpool_tie_rule_first_in_row_major_order():
    x = np.array([[[[1.0, 3.0, 5.0, 5.0],
                    [3.0, 2.0, 5.0, 5.0],
                    [0.0, 0.0, 7.0, 1.0],
                    [0.0, 9.0, 9.0, 9.0]]]])
    layer = MaxPool2D(2)
    out, cache = layer.forward(x)
    np.testing.assert_array_equal(out, [[[[3.0, 5.0], [9.0, 9.0]]]])
    dx, _ = layer.backward(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]), cache)
    want = np.zeros((4, 4))
    want[0, 1] = 10.0      # 1, 3 / 3, 2: two 3s, the first in row-major order is (0, 1)
    want[0, 2] = 20.0      # four equal 5s: the top-left one
    want[3, 1] = 30.0      # 0, 0 / 0, 9: the unique maximum
    want[3, 2] = 40.0      # 7, 1 / 9, 9: the first 9, at (3, 2)
    np.testing.assert_array_equal(dx[0, 0], want)


def test_maxpool_tie_rule_with_overlap():
    # stride 1, K = 2 on a constant row: every window's gradient goes to its top-left cell
    x = np.full((1, 1, 2, 4), 2.0)
    out, cache = MaxPool2D(2, 1).forward(x)
    dx, _ = MaxPool2D(2, 1).backward(np.ones(out.shape), cache)
    np.testing.assert_array_equal(dx[0, 0], [[1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]])


# -- one sample vs batch, dtypes --------------------------------------------------
def all_layers(rng, dtype=np.float64):
    conv = make_conv(3, 4, 3, 1, 1, np.random.default_rng(7), dtype)
    return [conv, make_conv(3, 2, 2, 2, 0, np.random.default_rng(8), dtype),
            MaxPool2D(2), MaxPool2D(3, 2), AvgPool2D(2), AvgPool2D(3, 1), Flatten()]


def test_one_sample_equals_batch_of_one(rng):
    x = rng.standard_normal((3, 7, 6))
    for layer in all_layers(rng):
        out1, c1 = layer.forward(x)
        outb, cb = layer.forward(x[None])
        assert out1.shape == outb.shape[1:]
        np.testing.assert_array_equal(out1, outb[0])
        dout = rng.standard_normal(out1.shape)
        dx1, g1 = layer.backward(dout, c1)
        dxb, gb = layer.backward(dout[None], cb)
        assert dx1.shape == x.shape
        np.testing.assert_allclose(dx1, dxb[0], rtol=0, atol=1e-14)
        for k in g1:
            np.testing.assert_allclose(g1[k], gb[k], rtol=0, atol=1e-14)


def test_float32_stays_float32_and_close_to_float64(rng):
    x64 = rng.standard_normal((2, 3, 8, 7))
    for l64, l32 in zip(all_layers(rng), all_layers(rng, np.float32)):
        for k in l64.params:
            assert l32.params[k].dtype == np.float32
            l32.params[k] = l64.params[k].astype(np.float32)
        out64, c64 = l64.forward(x64)
        out32, c32 = l32.forward(x64.astype(np.float32))
        assert out32.dtype == np.float32
        dout = rng.standard_normal(out64.shape)
        dx64, g64 = l64.backward(dout, c64)
        dx32, g32 = l32.backward(dout.astype(np.float32), c32)
        assert dx32.dtype == np.float32
        np.testing.assert_allclose(out32, out64, rtol=0, atol=1e-4)
        np.testing.assert_allclose(dx32, dx64, rtol=0, atol=1e-4)
        for k in g64:
            assert g32[k].dtype == np.float32
            np.testing.assert_allclose(g32[k], g64[k], rtol=1e-4, atol=1e-4)


def test_interleaved_forward_passes_keep_their_caches(rng):
    """Work arrays are reused between calls; caches must not be affected."""
    layer = make_conv(2, 3, 3, 1, 1, rng)
    xa, xb = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((2, 2, 6, 6))
    za, ca = layer.forward(xa)
    _, cb = layer.forward(xb)
    dout = rng.standard_normal(za.shape)
    dxa, ga = layer.backward(dout, ca)
    dxb, gb = layer.backward(dout, cb)
    for x, dx, g in ((xa, dxa, ga), (xb, dxb, gb)):
        _, (dx_t, dW_t, db_t) = torch_grads(
            lambda a, w, b: tF.conv2d(a, w, b, padding=1),
            x, layer.params["W"], layer.params["b"], dout=dout)
        np.testing.assert_allclose(dx, dx_t, rtol=0, atol=1e-10)
        np.testing.assert_allclose(g["W"], dW_t, rtol=0, atol=1e-10)
        np.testing.assert_allclose(g["b"], db_t, rtol=0, atol=1e-10)
    mp = MaxPool2D(2)
    oa, pa = mp.forward(xa)
    mp.forward(xb)
    dxa, _ = mp.backward(np.ones(oa.shape), pa)
    _, (dx_t,) = torch_grads(lambda a: tF.max_pool2d(a, 2), xa, dout=np.ones(oa.shape))
    np.testing.assert_array_equal(dxa, dx_t)


# -- validation ------------------------------------------------------------------
def re_shape(shape):
    """Regex for a shape tuple as NumPy prints it."""
    return r"\(" + r", ".join(str(d) for d in shape) + r"\)"


@pytest.mark.parametrize("make", [lambda: Conv2D(3, 2, 3), lambda: MaxPool2D(2),
                                  lambda: AvgPool2D(2), lambda: Flatten()])
@pytest.mark.parametrize("shape", [(8, 8), (1, 2, 3, 8, 8)])
def test_wrong_ndim_is_rejected(make, shape):
    layer = make()
    with pytest.raises(ValueError, match=rf"{layer.name}.*{re_shape(shape)}"):
        layer.forward(np.zeros(shape))


@pytest.mark.parametrize("make", [lambda: Conv2D(1, 2, 3), lambda: MaxPool2D(2),
                                  lambda: AvgPool2D(2), lambda: Flatten()])
def test_nan_is_rejected(make):
    layer = make()
    x = np.zeros((2, 1, 5, 5))
    x[1, 0, 2, 3] = np.nan
    with pytest.raises(ValueError, match=rf"{layer.name}.*{re_shape(x.shape)}.*NaN"):
        layer.forward(x)


def test_wrong_channel_count_is_rejected():
    with pytest.raises(ValueError, match=r"Conv2D.*\(2, 3, 8, 8\).*3 channels.*in_channels=1"):
        Conv2D(1, 4, 3).forward(np.zeros((2, 3, 8, 8)))
    with pytest.raises(ValueError, match=r"Conv2D.*\(2, 2, 2\).*2 channels"):
        Conv2D(1, 4, 3).forward(np.zeros((2, 2, 2)))


@pytest.mark.parametrize("layer,shape", [
    (Conv2D(1, 2, 5), (2, 1, 4, 9)),
    (Conv2D(1, 2, 5, padding=0), (1, 9, 4)),
    (MaxPool2D(3), (2, 1, 8, 2)),
    (AvgPool2D(4), (3, 3, 5)),
])
def test_image_smaller_than_kernel_is_rejected(layer, shape):
    with pytest.raises(ValueError, match=rf"{layer.name}.*{re_shape(shape)}.*smaller"):
        layer.forward(np.zeros(shape))


def test_padding_makes_a_small_image_valid(rng):
    x = rng.standard_normal((1, 1, 2, 2))
    layer = Conv2D(1, 1, 3, padding=1, rng=rng)
    _, (dx_t, _, _) = torch_grads(lambda a, w, b: tF.conv2d(a, w, b, padding=1),
                                  x, layer.params["W"], layer.params["b"],
                                  dout=np.ones((1, 1, 2, 2)))
    z, cache = layer.forward(x)
    assert z.shape == (1, 1, 2, 2)
    np.testing.assert_allclose(layer.backward(np.ones(z.shape), cache)[0], dx_t, atol=1e-12)


def test_bad_upstream_gradient_and_constructor_arguments():
    layer = Conv2D(1, 2, 3)
    _, cache = layer.forward(np.zeros((2, 1, 5, 5)))
    with pytest.raises(ValueError, match=r"Conv2D.backward.*\(2, 2, 2, 2\)"):
        layer.backward(np.zeros((2, 2, 2, 2)), cache)
    for bad in (lambda: Conv2D(0, 2, 3), lambda: Conv2D(1, 2, 3, stride=0),
                lambda: Conv2D(1, 2, 3, padding=-1), lambda: MaxPool2D(0),
                lambda: Conv2D(1, 2, 3, W=np.zeros((2, 1, 2, 2)))):
        with pytest.raises(ValueError):
            bad()


# -- operation counts -------------------------------------------------------------
def brute_force_counts(n, C, H, W, F, K, s, P, need_dx=True):
    """The A6 convention applied literally, by enumerating every product."""
    OH, OW = (H + 2 * P - K) // s + 1, (W + 2 * P - K) // s + 1
    outputs, R = n * F * OH * OW, C * K * K
    received = np.zeros((H + 2 * P, W + 2 * P), dtype=int)    # products per padded cell
    for i in range(OH):
        for j in range(OW):
            for u in range(K):
                for v in range(K):
                    received[i * s + u, j * s + v] += F        # one w·δ per kernel f
    fwd_m = outputs * R                                        # one product per (output, c, u, v)
    fwd_a = outputs * (R - 1) + outputs                        # sum of R terms + bias
    dW_m, dW_a = F * R * n * OH * OW, F * R * (n * OH * OW - 1)
    db_a = F * (n * OH * OW - 1)
    dx_m = n * C * int(received.sum()) if need_dx else 0
    dx_a = n * C * int(np.sum(received[received > 0] - 1)) if need_dx else 0
    return {"forward_mults": fwd_m, "forward_adds": fwd_a,
            "backward_mults": dW_m + dx_m, "backward_adds": dW_a + db_a + dx_a}


def test_conv2d_counts_by_hand():
    # n=C=F=1, 4×4 image, K=2: 9 outputs × 4 products; each sum of 4 → 3 adds + bias.
    # dW: 4 weights × 9 products, 8 adds each; db: 8 adds; dx: 36 products onto 16 cells.
    assert conv2d_counts(1, 1, 4, 4, 1, 2) == {
        "forward_mults": 36, "forward_adds": 36,
        "backward_mults": 72, "backward_adds": 32 + 8 + 20}


@SETTINGS
@given(conv_cases(), st.booleans())
def test_instrumented_counts_equal_formula(case, need_dx):
    n, C, H, W, F, K, s, p, seed = case
    rng = np.random.default_rng(seed)
    layer = make_conv(C, F, K, s, p, rng)
    x = rng.standard_normal((n, C, H, W))
    with counting() as c:
        z, cache = layer.forward(x)
        layer.backward(np.ones(z.shape), cache, need_dx=need_dx)
    want = conv2d_counts(n, C, H, W, F, K, stride=s, padding=p, need_dx=need_dx)
    got = c.as_dict()
    assert {k: got[k] for k in want} == want
    assert want == brute_force_counts(n, C, H, W, F, K, s, p, need_dx)


@pytest.mark.parametrize("K,s", [(2, 3), (3, 1), (3, 2), (2, 2)])
def test_counts_with_gaps_and_overlaps(K, s):
    assert conv2d_counts(2, 3, 9, 8, 4, K, s, 1) == brute_force_counts(2, 3, 9, 8, 4, K, s, 1)
    with counting() as c:
        layer = Conv2D(3, 4, K, stride=s, padding=1, rng=np.random.default_rng(0))
        z, cache = layer.forward(np.ones((2, 3, 9, 8)))
        layer.backward(np.ones(z.shape), cache)
    assert c.forward_mults == conv2d_counts(2, 3, 9, 8, 4, K, s, 1)["forward_mults"]
    assert c.backward_adds == conv2d_counts(2, 3, 9, 8, 4, K, s, 1)["backward_adds"]


def test_one_sample_counts_and_pooling_counts_nothing(rng):
    x = rng.standard_normal((2, 6, 6))
    with counting() as c:
        layer = Conv2D(2, 3, 3, rng=rng)
        z, cache = layer.forward(x)
        layer.backward(np.ones(z.shape), cache)
    assert c.as_dict() == {**conv2d_counts(1, 2, 6, 6, 3, 3), "activations": 0}
    with counting() as c:
        for pool in (MaxPool2D(2), AvgPool2D(2), Flatten()):
            out, cache = pool.forward(x)
            pool.backward(np.ones(out.shape), cache)
    assert c.mults == 0 and c.adds == 0

"""Losses ``loss(ŷ, y) -> (L, ∂L/∂ŷ)``, checked against independent
references: centred finite differences of the returned value, PyTorch
autograd (float64), mpmath closed forms and the lectures' numbers."""
import re
import warnings
from functools import partial

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from nn_core import losses as Lo
from nn_core.gradcheck import rel_error
from nn_core.losses import LOSSES, get_loss

FAST = settings(max_examples=20, deadline=None)


# -- independent references ---------------------------------------------------------
def fd_grad(f, x, h=1e-3):
    """Gradient of the scalar ``f(x)`` by the 4th-order centred stencil
    ``(8(f(x+h) − f(x−h)) − (f(x+2h) − f(x−2h))) / 12h``."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        v = {}
        for step in (2 * h, h, -h, -2 * h):
            xp = x.copy()
            xp[i] += step
            v[step] = float(f(xp))
        g[i] = (8 * (v[h] - v[-h]) - (v[2 * h] - v[-2 * h])) / (12 * h)
    return g


def onehot(labels, c):
    return np.eye(c)[labels]


def make_case(name, rng, shape, soft=False):
    """``(ŷ, y, kwargs, h)`` for a loss, inputs chosen clear of kinks and of
    the singularities of log: probabilities in [0.2, 0.8], hinge margins ≥ 0.06
    away from 0."""
    c = shape[-1]
    lead = shape[:-1]
    if name in ("half_squared_error", "mean_squared_error"):
        return rng.standard_normal(shape), rng.standard_normal(shape), {}, 1e-3
    if name == "binary_cross_entropy":
        y = rng.uniform(0, 1, shape) if soft else rng.integers(0, 2, shape).astype(float)
        return rng.uniform(0.2, 0.8, shape), y, {}, 1e-4
    if name == "binary_cross_entropy_with_logits":
        y = rng.uniform(0, 1, shape) if soft else rng.integers(0, 2, shape).astype(float)
        return rng.uniform(-4, 4, shape), y, {}, 1e-3
    labels = rng.integers(0, c, lead)
    if name == "softmax_cross_entropy":
        # soft targets: probability rows, sometimes not summing to 1 (∂L/∂x = s Σy − y)
        y = rng.dirichlet(np.ones(c), lead) * rng.choice([1.0, 0.6]) if soft else labels
        return rng.uniform(-2, 2, shape), y, {}, 1e-3
    if name == "multiclass_hinge":
        # scores k·0.37 + noise (k a permutation): margins 0.37(k_j − k_y) + noise + Δ,
        # |·| ≥ 0.11 − 0.04 for Δ = 1 and ≥ 0.13 − 0.04 for Δ = 0.5
        rows = int(np.prod(lead))
        k = np.stack([rng.permutation(c) for _ in range(rows)]).reshape(shape)
        s = 0.37 * k + rng.uniform(0, 0.02, shape) + rng.standard_normal(lead + (1,))
        return s, labels, {"delta": rng.choice([1.0, 0.5])}, 1e-3
    raise AssertionError(name)


def torch_loss(name, t, y, kwargs):
    """The same loss built from PyTorch primitives (mean over rows of a batch)."""
    import torch
    F = torch.nn.functional
    batch = t.ndim == 2

    def rowmean(per):            # per-element → sum over components, mean over rows
        per = per.sum(-1)
        return per.mean() if batch else per
    if name == "half_squared_error":
        return rowmean(0.5 * (t - y) ** 2)
    if name == "mean_squared_error":
        return F.mse_loss(t, y)
    if name == "binary_cross_entropy":
        return rowmean(F.binary_cross_entropy(t, y, reduction="none"))
    if name == "binary_cross_entropy_with_logits":
        return rowmean(F.binary_cross_entropy_with_logits(t, y, reduction="none"))
    if name == "softmax_cross_entropy":
        return F.cross_entropy(t, y)
    if name == "multiclass_hinge":      # torch divides the sum over j ≠ y by C
        return F.multi_margin_loss(t, y, margin=kwargs["delta"]) * t.shape[-1]
    raise AssertionError(name)


shape_st = st.tuples(st.integers(0, 6), st.integers(1, 6)).map(
    lambda nc: (nc[1],) if nc[0] == 0 else nc)     # n = 0 encodes one sample (C,)


# -- gradients against finite differences -------------------------------------------
@FAST
@given(shape=shape_st, seed=st.integers(0, 2**32 - 1), soft=st.booleans())
def test_every_loss_gradient_matches_finite_differences(shape, seed, soft):
    rng = np.random.default_rng(seed)
    for name, loss in LOSSES.items():
        yhat, y, kw, h = make_case(name, rng, shape, soft and name == "softmax_cross_entropy")
        value, grad = loss(yhat, y, **kw)
        assert isinstance(value, float) and grad.shape == yhat.shape
        num = fd_grad(lambda v: loss(v, y, **kw)[0], yhat, h)
        assert rel_error(grad, num) < 1e-7, (name, rel_error(grad, num))


# -- against PyTorch autograd -------------------------------------------------------
@FAST
@given(shape=shape_st, seed=st.integers(0, 2**32 - 1), soft=st.booleans())
def test_every_loss_agrees_with_torch(shape, seed, soft):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    for name, loss in LOSSES.items():
        yhat, y, kw, _ = make_case(name, rng, shape, soft)
        if name == "binary_cross_entropy":
            yhat = rng.uniform(0.02, 0.98, shape)
        value, grad = loss(yhat, y, **kw)
        t = torch.tensor(yhat, requires_grad=True)
        tl = torch_loss(name, t, torch.tensor(y), kw)
        tl.backward()
        assert abs(value - tl.item()) <= 1e-10 * max(abs(tl.item()), 1e-300), name
        assert rel_error(grad, t.grad.numpy()) <= 1e-10, (name, rel_error(grad, t.grad.numpy()))


# -- conventions, checked by closed forms -------------------------------------------
@FAST
@given(n=st.integers(1, 6), c=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_batch_is_mean_of_samples(n, c, seed):
    rng = np.random.default_rng(seed)
    for name, loss in LOSSES.items():
        yhat, y, kw, _ = make_case(name, rng, (n, c))
        value, grad = loss(yhat, y, **kw)
        per = [loss(yhat[i], y[i], **kw) for i in range(n)]
        assert value == pytest.approx(np.mean([p[0] for p in per]), rel=1e-13, abs=1e-15)
        np.testing.assert_allclose(grad, np.stack([p[1] for p in per]) / n,
                                   rtol=1e-13, atol=1e-16)


def test_closed_form_values():
    # A4 (seed 001): ŷ = 0.344, y = 1, L = ½(y − ŷ)² = 0.215168, ∂L/∂ŷ = −0.656
    v, g = Lo.half_squared_error(np.array([0.344]), np.array([1.0]))
    assert v == pytest.approx(0.215168, abs=1e-15) and g[0] == pytest.approx(-0.656, abs=1e-15)
    # MSE: one sample averages its components; a batch averages every entry
    v, g = Lo.mean_squared_error(np.array([1.0, 3.0]), np.array([0.0, 0.0]))
    assert v == 5.0 and g.tolist() == [1.0, 3.0]
    v, g = Lo.mean_squared_error(np.array([[1.0, 3.0], [0.0, 2.0]]), np.zeros((2, 2)))
    assert v == 3.5 and g.tolist() == [[0.5, 1.5], [0.0, 1.0]]
    # CS231n's SVM example (seed 003): per-sample 2.9, 0, 12.9
    scores = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
    for row, label, want in zip(scores, [0, 1, 2], [2.9, 0.0, 12.9]):
        assert Lo.multiclass_hinge(row, label)[0] == pytest.approx(want, abs=1e-12)
    v, g = Lo.multiclass_hinge(scores, [0, 1, 2])
    assert v == pytest.approx(15.8 / 3, abs=1e-12)
    np.testing.assert_allclose(g * 3, [[-1, 1, 0], [0, 0, 0], [1, 1, -2]], atol=1e-15)
    # seed 004: sigmoid + BCE gives ∂L/∂z = a − y; softmax + CE gives ŷ − y
    z, y = np.array([[0.3, -1.2]]), np.array([[1.0, 0.0]])
    a = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(Lo.binary_cross_entropy_with_logits(z, y)[1], a - y, rtol=1e-14)
    np.testing.assert_allclose(Lo.binary_cross_entropy(a, y)[1] * a * (1 - a), a - y, rtol=1e-12)
    x = np.array([1.0, 2.0, 0.5])
    s = np.exp(x) / np.exp(x).sum()
    v, g = Lo.softmax_cross_entropy(x, 1)
    assert v == pytest.approx(-np.log(s[1]), rel=1e-14)
    np.testing.assert_allclose(g, s - [0, 1, 0], rtol=1e-14)
    np.testing.assert_allclose(Lo.softmax_cross_entropy(x, np.array([0.0, 1.0, 0.0]))[1], g,
                               rtol=1e-14)
    np.testing.assert_allclose(Lo.softmax_cross_entropy(x, 1.0)[1], g, rtol=1e-14)


def test_hinge_zero_margin_is_inactive():
    v, g = Lo.multiclass_hinge(np.array([1.0, 0.0, -5.0]), 0)     # margin 0 − 1 + 1 = 0
    assert v == 0.0 and not g.any()
    v, g = Lo.multiclass_hinge(np.array([1.0, 0.0]), 0, delta=2.0)
    assert v == 1.0 and g.tolist() == [-1.0, 1.0]


# -- stability ---------------------------------------------------------------------
@pytest.mark.filterwarnings("error")
def test_stable_at_extremes():
    mpmath.mp.dps = 50
    z = np.array([[1000.0, -1000.0, 1000.0, -1000.0, -745.0, 30.0]])
    y = np.array([[1.0, 1.0, 0.0, 0.0, 1.0, 0.0]])
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0]])
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        vb, gb = Lo.binary_cross_entropy_with_logits(z, y)
        vc, gc = Lo.softmax_cross_entropy(logits, [1, 0])
        vp, gp = Lo.softmax_cross_entropy(logits, np.array([[0.5, 0.5, 0], [0, 0, 1.0]]))
        vs, gs = Lo.binary_cross_entropy(np.array([0.0, 1.0, 0.5]), np.array([1.0, 1.0, 0.0]))
    want = sum(float(mpmath.log1p(mpmath.exp(-v)) if t else mpmath.log1p(mpmath.exp(v)))
               for v, t in zip(z[0], y[0]))
    assert vb == pytest.approx(want, rel=1e-14)
    np.testing.assert_allclose(gb, [[0, -1, 1, 0, -1, 1 / (1 + np.exp(-30.0))]], rtol=1e-15)
    assert vc == pytest.approx((2000 + 2000) / 2, rel=1e-15)
    np.testing.assert_allclose(gc, [[0.5, -0.5, 0], [-0.5, 0, 0.5]], atol=1e-300)
    assert vp == pytest.approx((0.5 * 2000) / 2, rel=1e-15)
    for g in (gb, gc, gp, gs):
        assert np.isfinite(g).all()
    # probabilities saturated at 0/1 are clipped to [1e-12, 1 − 1e-12]: finite, large
    assert np.isfinite(vs) and vs == pytest.approx(-np.log(1e-12) - np.log(0.5), rel=1e-4)


# -- float32 --------------------------------------------------------------------------
def test_float32_preserved_and_accurate():
    rng = np.random.default_rng(7)
    for shape in ((5, 4), (4,)):
        for name, loss in LOSSES.items():
            yhat, y, kw, _ = make_case(name, rng, shape)
            v64, g64 = loss(yhat, y, **kw)
            y32 = y.astype(np.float32) if y.dtype.kind == "f" else y
            v32, g32 = loss(yhat.astype(np.float32), y32, **kw)
            assert g32.dtype == np.float32, name
            assert v32 == pytest.approx(v64, rel=1e-4, abs=1e-4)
            np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-4)
    big = np.array([[1000.0, -1000.0]], dtype=np.float32)
    v, g = Lo.softmax_cross_entropy(big, [1])
    assert v == pytest.approx(2000.0) and g.dtype == np.float32
    v, g = Lo.binary_cross_entropy(np.array([0.0, 1.0], np.float32), np.array([1.0, 0.0]))
    assert np.isfinite(v) and np.isfinite(g).all() and g.dtype == np.float32


# -- bad input ------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_bad_predictions_are_named(name):
    loss = LOSSES[name]
    target = {"softmax_cross_entropy": np.array([0, 1]), "multiclass_hinge": np.array([0, 1])}
    y = target.get(name, np.full((2, 3), 0.5))
    bad = {"NaN": np.array([[0.5, np.nan, 0.5], [0.5, 0.5, 0.5]]),
           "inf": np.array([[0.5, 0.5, 0.5], [np.inf, 0.5, 0.5]]),
           "complex": np.full((2, 3), 0.5 + 1j), "object": np.full((2, 3), None, dtype=object),
           "string": np.full((2, 3), "a")}
    for x in bad.values():
        with pytest.raises(ValueError, match=rf"^{name}\b.*\(2, 3\)"):
            loss(x, y)
    with pytest.raises(ValueError, match=rf"^{name}\b.*\(2, 3, 1\)"):
        loss(np.full((2, 3, 1), 0.5), y)
    with pytest.raises(ValueError, match=rf"^{name}\b.*\(\)"):
        loss(np.float64(0.5), y)
    with pytest.raises(ValueError, match=rf"^{name}\b.*\(0, 3\)"):
        loss(np.zeros((0, 3)), y[:0])
    # a target of the wrong shape
    with pytest.raises(ValueError, match=rf"^{name}\b.*\(2, 3\).*|^{name}\b.*\(3, 2\)"):
        loss(np.full((2, 3), 0.5), np.zeros((3, 2)))


@pytest.mark.parametrize("name", ["half_squared_error", "mean_squared_error",
                                  "binary_cross_entropy", "binary_cross_entropy_with_logits",
                                  "softmax_cross_entropy"])
def test_bad_targets_are_named(name):
    loss = LOSSES[name]
    yhat = np.full((2, 3), 0.5)
    for y in (np.array([[0.5, np.nan, 0.5], [0.5, 0.5, 0.5]]), np.full((2, 3), "x"),
              np.full((2, 3), 1j)):
        with pytest.raises(ValueError, match=rf"^{name}\b.*\(2, 3\)"):
            loss(yhat, y)
    with pytest.raises(ValueError, match=rf"^{name}\b.*\(2, 3\).*\(2, 4\)|^{name}\b.*\(2, 4\)"):
        loss(yhat, np.zeros((2, 4)))
    if name != "half_squared_error" and name != "mean_squared_error":
        with pytest.raises(ValueError, match=rf"^{name}\b.*\(2, 3\).*\[0, 1\]"):
            loss(yhat, np.full((2, 3), 1.5))


@pytest.mark.parametrize("name", ["softmax_cross_entropy", "multiclass_hinge"])
def test_bad_labels_are_named(name):
    loss = LOSSES[name]
    s = np.zeros((2, 3))
    for y in ([0, 3], [-1, 0], [0.5, 1.0], ["a", "b"], [0, np.nan]):
        with pytest.raises(ValueError, match=rf"^{name}\b.*\(2,\)"):
            loss(s, np.array(y))
    with pytest.raises(ValueError, match=rf"^{name}\b.*\(3,\).*\(2, 3\)"):
        loss(s, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=rf"^{name}\b.*\(3,\)"):
        loss(np.zeros(3), 3)
    loss(np.zeros(3), 2)        # one sample: a scalar label in range is fine


def test_bce_rejects_probabilities_outside_unit_interval():
    with pytest.raises(ValueError, match=r"binary_cross_entropy.*\(1, 2\).*logits"):
        Lo.binary_cross_entropy(np.array([[0.5, 1.5]]), np.array([[1.0, 0.0]]))


def test_registry():
    assert set(LOSSES) == {"half_squared_error", "mean_squared_error", "binary_cross_entropy",
                           "binary_cross_entropy_with_logits", "softmax_cross_entropy",
                           "multiclass_hinge"}
    for name, fn in LOSSES.items():
        assert get_loss(name) is fn and fn.__doc__
    custom = partial(Lo.multiclass_hinge, delta=2.0)
    assert get_loss(custom) is custom
    with pytest.raises(ValueError, match="get_loss.*'l1'.*" + ".*".join(sorted(LOSSES))):
        get_loss("l1")
    with pytest.raises(ValueError, match=re.escape("get_loss: unknown loss 3")):
        get_loss(3)
    with pytest.raises(ValueError, match="multiclass_hinge.*delta"):
        Lo.multiclass_hinge(np.zeros(3), 0, delta=np.nan)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("shape", [(7,), (1, 7), (6, 7), (300, 10)])
def test_softmax_cross_entropy_layouts_leave_logits_untouched(shape, order):
    """The label path works class-major on a copy: any memory layout of the
    logits gives the same value and gradient, and the logits are not changed."""
    rng = np.random.default_rng(3)
    x = np.asarray(rng.standard_normal(shape) * 5, order=order)
    y = rng.integers(0, shape[-1], size=shape[:-1])
    x0 = x.copy()
    v, g = Lo.softmax_cross_entropy(x, y)
    np.testing.assert_array_equal(x, x0)
    X, Y = x.reshape(-1, shape[-1]), np.reshape(y, -1)
    logp = X - X.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    assert v == pytest.approx(-logp[np.arange(len(Y)), Y].mean(), rel=1e-14)
    ref = np.exp(logp)
    ref[np.arange(len(Y)), Y] -= 1
    np.testing.assert_allclose(g, (ref / len(Y)).reshape(shape), rtol=1e-13, atol=1e-17)
    assert g.shape == x.shape and g.dtype == x.dtype

"""Activations, softmax and the activation layers, checked against
independent references: centred finite differences, PyTorch autograd
(float64), and closed-form math evaluated with mpmath at 50 digits."""
import re
import warnings

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from nn_core import activations as A
from nn_core.activations import ACTIVATIONS, ActivationLayer, Maxout, PReLU, get_activation
from nn_core.gradcheck import rel_error
from nn_core.opcount import counting

NAMES = sorted(ACTIVATIONS)
# hyper-parameters that are not the defaults, so γ really is exercised
HYPER = {"leaky_relu": {"gamma": 0.07}, "elu": {"gamma": 1.3}}
KINKED = {"relu", "leaky_relu", "elu"}   # kink (or second-derivative jump) at 0
FAST = settings(max_examples=15, deadline=None)
shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=3)


# -- independent references ---------------------------------------------------------
def fd_vjp(f, x, dout, h=1e-3):
    """``Σ_k dout_k ∂f_k/∂x_i`` by the 4th-order centred stencil
    ``(−f(x+2h) + 8f(x+h) − 8f(x−h) + f(x−2h)) / 12h``; each output array is
    differenced before the dot with ``dout``, so unchanged outputs cancel
    exactly (truncation O(h⁴), rounding O(ε|f|/h) per output)."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        vals = []
        for step in (2 * h, h, -h, -2 * h):
            xp = x.copy()
            xp[i] += step
            vals.append(np.asarray(f(xp), dtype=np.float64))
        diff = 8 * (vals[1] - vals[2]) - (vals[0] - vals[3])
        g[i] = np.sum(dout * diff) / (12 * h)
    return g


def fd_jacobian(f, x, h=1e-3):
    """Full Jacobian ``∂f(x)/∂x`` of shape ``f(x).shape + x.shape``."""
    out = np.asarray(f(x))
    J = np.zeros(out.shape + x.shape)
    for i in np.ndindex(out.shape):
        e = np.zeros(out.shape)
        e[i] = 1.0
        J[i] = fd_vjp(f, x, e, h)
    return J


def away_from_zero(rng, shape, lo=0.1, hi=3.5):
    """Entries with ``lo ≤ |z| ≤ hi``: clear of the kinks at 0."""
    return rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)


def distinct(rng, shape, spacing=0.1):
    """Entries pairwise at least ``spacing`` apart (no ties for max)."""
    size = int(np.prod(shape))
    return (rng.permutation(size) * spacing + rng.uniform(0, 0.2 * spacing, size)
            - size * spacing / 2).reshape(shape)


def torch_fn(name, hyper):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    g = hyper.get("gamma")
    return {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
            "leaky_relu": lambda t: F.leaky_relu(t, g if g is not None else 0.01),
            "elu": lambda t: F.elu(t, alpha=g if g is not None else 1.0),
            "softplus": F.softplus, "identity": lambda t: t * 1}[name]


def torch_value_and_grad(fn, x, dout=None):
    """``fn(x)`` and the vector–Jacobian product ``doutᵀ ∂fn/∂x`` by autograd."""
    torch = pytest.importorskip("torch")
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    y = fn(t)
    y.backward(torch.ones_like(y) if dout is None else torch.tensor(dout))
    return y.detach().numpy(), t.grad.numpy()


def assert_rel(a, b, tol):
    assert np.shape(a) == np.shape(b)
    assert rel_error(a, b) <= tol, rel_error(a, b)


# -- derivatives against finite differences -----------------------------------------
@FAST
@given(shape=shapes, seed=st.integers(0, 2**32 - 1))
def test_every_derivative_matches_finite_differences(shape, seed):
    rng = np.random.default_rng(seed)
    for name in NAMES:
        act, hyper = ACTIVATIONS[name], HYPER.get(name, {})
        z = away_from_zero(rng, shape) if name in KINKED else rng.uniform(-3.5, 3.5, shape)
        dout = rng.standard_normal(shape)
        num = fd_vjp(lambda v: act.f(v, **hyper), z, dout)
        assert_rel(dout * act.grad(z, **hyper), num, 1e-7)


@FAST
@given(shape=shapes, seed=st.integers(0, 2**32 - 1))
def test_prelu_derivatives_match_finite_differences(shape, seed):
    rng = np.random.default_rng(seed)
    z = away_from_zero(rng, shape)
    gamma = rng.uniform(-0.5, 0.5, shape[-1:])
    dout = rng.standard_normal(shape)
    assert_rel(dout * A.prelu_grad(z, gamma), fd_vjp(lambda v: A.prelu(v, gamma), z, dout), 1e-7)
    # ∂/∂γ elementwise: perturb a full-shape γ so each entry has its own slope
    gfull = np.broadcast_to(gamma, shape).copy()
    assert_rel(dout * A.prelu_grad_gamma(z, gfull),
               fd_vjp(lambda g: A.prelu(z, g), gfull, dout), 1e-7)


@FAST
@given(n=st.integers(0, 4), c=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_softmax_jacobians_match_finite_differences(n, c, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, (c,) if n == 0 else (n, c))
    for jac, f in ((A.softmax_jacobian, A.softmax), (A.log_softmax_jacobian, A.log_softmax)):
        J, num = jac(x), fd_jacobian(f, x)
        if n == 0:
            assert J.shape == (c, c)
            assert_rel(J, num, 1e-7)
        else:
            assert J.shape == (n, c, c)
            for b in range(n):          # rows are independent: off-diagonal blocks are 0
                assert_rel(J[b], num[b, :, b, :], 1e-7)
                others = np.delete(num[b], b, axis=1)
                assert np.abs(others).max(initial=0) == 0


def test_softmax_jacobian_closed_forms():
    x = np.array([0.5, -1.0, 2.0])
    s = np.exp(x) / np.exp(x).sum()
    np.testing.assert_allclose(A.softmax_jacobian(x), np.diag(s) - np.outer(s, s), rtol=1e-14)
    np.testing.assert_allclose(A.log_softmax_jacobian(x), np.eye(3) - s[None, :], rtol=1e-14)
    # the named mistakes: not diag(s), and the δ_ij term is present
    assert not np.allclose(A.softmax_jacobian(x), np.diag(s))
    np.testing.assert_allclose(A.softmax_jacobian(x).sum(axis=1), 0, atol=1e-15)


# -- layers against finite differences ----------------------------------------------
@FAST
@given(shape=shapes, seed=st.integers(0, 2**32 - 1))
def test_activation_layers_match_finite_differences(shape, seed):
    rng = np.random.default_rng(seed)
    for name in NAMES:
        layer = ActivationLayer(name, **HYPER.get(name, {}))
        x = away_from_zero(rng, shape) if name in KINKED else rng.uniform(-3.5, 3.5, shape)
        out, cache = layer.forward(x)
        assert out.shape == x.shape and layer.params == {}
        dout = rng.standard_normal(shape)
        dx, grads = layer.backward(dout, cache)
        assert grads == {}
        assert_rel(dx, fd_vjp(lambda v: layer.forward(v)[0], x, dout), 1e-7)


@FAST
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=3),
       seed=st.integers(0, 2**32 - 1))
def test_prelu_layer_matches_finite_differences(shape, seed):
    rng = np.random.default_rng(seed)
    axis = {1: 0, 2: 1, 3: 0, 4: 1}[len(shape)]
    layer = PReLU(shape[axis])
    layer.params["gamma"][:] = rng.uniform(-0.5, 0.5, shape[axis])
    x = away_from_zero(rng, shape)
    dout = rng.standard_normal(shape)
    out, cache = layer.forward(x)
    dx, grads = layer.backward(dout, cache)
    assert out.shape == x.shape and grads["gamma"].shape == (shape[axis],)
    assert_rel(dx, fd_vjp(lambda v: layer.forward(v)[0], x, dout), 1e-7)

    def with_gamma(g):
        old = layer.params["gamma"].copy()
        layer.params["gamma"][:] = g
        try:
            return layer.forward(x)[0]
        finally:
            layer.params["gamma"][:] = old
    assert_rel(grads["gamma"], fd_vjp(with_gamma, layer.params["gamma"].copy(), dout), 1e-7)
    assert "gamma" not in layer.decay


@FAST
@given(lead=hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3),
       m=st.integers(1, 3), k=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_maxout_matches_finite_differences(lead, m, k, seed):
    rng = np.random.default_rng(seed)
    x = distinct(rng, lead + (m * k,))
    layer = Maxout(k)
    out, cache = layer.forward(x)
    assert out.shape == lead + (m,)
    np.testing.assert_array_equal(out, x.reshape(lead + (m, k)).max(axis=-1))
    dout = rng.standard_normal(out.shape)
    dx, grads = layer.backward(dout, cache)
    assert grads == {} and dx.shape == x.shape
    assert_rel(dx, fd_vjp(lambda v: layer.forward(v)[0], x, dout), 1e-7)


def test_maxout_tie_rule_routes_to_first_maximum():
    layer = Maxout(3)
    x = np.array([[2.0, 2.0, 1.0, 3.0, 3.0, 3.0]])
    out, cache = layer.forward(x)
    np.testing.assert_array_equal(out, [[2.0, 3.0]])
    dx, _ = layer.backward(np.array([[1.0, 10.0]]), cache)
    np.testing.assert_array_equal(dx, [[1.0, 0, 0, 10.0, 0, 0]])


# -- against PyTorch autograd -------------------------------------------------------
@FAST
@given(shape=shapes, seed=st.integers(0, 2**32 - 1))
def test_activations_agree_with_torch(shape, seed):
    rng = np.random.default_rng(seed)
    for name in NAMES:
        for hyper in ({}, HYPER.get(name, {})):
            x = rng.uniform(-5, 5, shape)
            tv, tg = torch_value_and_grad(torch_fn(name, hyper), x)
            act = ACTIVATIONS[name]
            assert_rel(act.f(x, **hyper), tv, 1e-10)
            assert_rel(act.grad(x, **hyper), tg, 1e-10)
            dout = rng.standard_normal(shape)
            layer = ActivationLayer(name, **hyper)
            out, cache = layer.forward(x)
            _, tvjp = torch_value_and_grad(torch_fn(name, hyper), x, dout)
            assert_rel(out, tv, 1e-10)
            assert_rel(layer.backward(dout, cache)[0], tvjp, 1e-10)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu"])
def test_kink_conventions_agree_with_torch(name):
    """At z = 0 exactly: ReLU' = 0, LeakyReLU' = ELU' = γ (the z ≤ 0 branch)."""
    hyper = HYPER[name] if name in HYPER else {}
    x = np.array([-1.0, 0.0, 1.0])
    _, tg = torch_value_and_grad(torch_fn(name, hyper), x)
    np.testing.assert_array_equal(ACTIVATIONS[name].grad(x, **hyper), tg)


def test_prelu_kink_and_gamma_grad_agree_with_torch():
    torch = pytest.importorskip("torch")
    z = np.array([[-2.0, 0.0, 3.0], [0.0, -1.0, -0.5]])
    gamma = np.array([0.25, -0.1, 0.4])
    t, w = (torch.tensor(v, requires_grad=True) for v in (z, gamma))
    y = torch.nn.functional.prelu(t, w)
    y.backward(torch.ones_like(y))
    np.testing.assert_array_equal(A.prelu(z, gamma), y.detach().numpy())
    np.testing.assert_array_equal(A.prelu_grad(z, gamma), t.grad.numpy())
    np.testing.assert_allclose(A.prelu_grad_gamma(z, gamma).sum(axis=0), w.grad.numpy(),
                               rtol=1e-15)


@FAST
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=3),
       seed=st.integers(0, 2**32 - 1))
def test_prelu_layer_agrees_with_torch(shape, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    axis = {1: 0, 2: 1, 3: 0, 4: 1}[len(shape)]
    layer = PReLU(shape[axis])
    layer.params["gamma"][:] = rng.uniform(-0.5, 0.5, shape[axis])
    x = rng.uniform(-3, 3, shape)
    dout = rng.standard_normal(shape)
    out, cache = layer.forward(x)
    dx, grads = layer.backward(dout, cache)
    # torch's channel axis is dim 1: give one sample / one image a batch axis
    t = torch.tensor(x[None] if len(shape) in (1, 3) else x, requires_grad=True)
    w = torch.tensor(layer.params["gamma"], requires_grad=True)
    y = torch.nn.functional.prelu(t, w)
    y.backward(torch.tensor(dout[None] if len(shape) in (1, 3) else dout))
    assert_rel(out, y.detach().numpy().reshape(shape), 1e-10)
    assert_rel(dx, t.grad.numpy().reshape(shape), 1e-10)
    assert_rel(grads["gamma"], w.grad.numpy(), 1e-10)


@FAST
@given(n=st.integers(1, 4), m=st.integers(1, 3), k=st.integers(1, 4),
       seed=st.integers(0, 2**32 - 1))
def test_maxout_agrees_with_torch(n, m, k, seed):
    rng = np.random.default_rng(seed)
    x = distinct(rng, (n, m * k))
    dout = rng.standard_normal((n, m))
    tv, tg = torch_value_and_grad(lambda t: t.reshape(n, m, k).max(dim=-1).values, x, dout)
    layer = Maxout(k)
    out, cache = layer.forward(x)
    assert_rel(out, tv, 1e-10)
    assert_rel(layer.backward(dout, cache)[0], tg, 1e-10)


@FAST
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5),
       seed=st.integers(0, 2**32 - 1))
def test_softmax_family_agrees_with_torch(shape, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    x = rng.uniform(-6, 6, shape)
    dout = rng.standard_normal(shape)
    for ours, theirs in ((A.softmax, torch.softmax), (A.log_softmax, torch.log_softmax)):
        for axis in range(-len(shape), len(shape)):
            tv, _ = torch_value_and_grad(lambda t: theirs(t, dim=axis), x, dout)
            assert_rel(ours(x, axis=axis), tv, 1e-10)
    if len(shape) <= 2:
        for jac, f in ((A.softmax_jacobian, torch.softmax),
                       (A.log_softmax_jacobian, torch.log_softmax)):
            rows = x.reshape(-1, shape[-1])
            tj = np.stack([torch.autograd.functional.jacobian(
                lambda t: f(t, dim=-1), torch.tensor(r)).numpy() for r in rows])
            assert_rel(jac(x), tj.reshape(shape + shape[-1:]), 1e-10)


# -- stability at ±1000 ---------------------------------------------------------------
mpmath.mp.dps = 50


def _ref(fn, z):
    return np.array([float(fn(mpmath.mpf(float(v)))) for v in np.ravel(z)]).reshape(np.shape(z))


EXTREME = np.array([-1000.0, -745.0, -700.0, -40.0, -1e-9, 0.0, 1e-9, 40.0, 700.0, 1000.0])


@pytest.mark.filterwarnings("error")
def test_stable_elementwise_at_extremes():
    sig = lambda v: 1 / (1 + mpmath.exp(-v))                         # noqa: E731
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        s, ds, sp = A.sigmoid(EXTREME), A.sigmoid_grad(EXTREME), A.softplus(EXTREME)
        e, dt = A.elu(EXTREME), A.tanh_grad(EXTREME)
    for got in (s, ds, sp, e, dt):
        assert np.isfinite(got).all()
    assert s[0] == 0.0 and s[-1] == 1.0 and (s >= 0).all() and (ds >= 0).all()
    np.testing.assert_allclose(s, _ref(sig, EXTREME), rtol=1e-14, atol=0)
    np.testing.assert_allclose(ds, _ref(lambda v: sig(v) * sig(-v), EXTREME),
                               rtol=1e-13, atol=0)
    np.testing.assert_allclose(sp, _ref(lambda v: mpmath.log1p(mpmath.exp(v)), EXTREME),
                               rtol=1e-14, atol=0)
    np.testing.assert_allclose(dt, _ref(lambda v: mpmath.sech(v) ** 2, EXTREME),
                               rtol=1e-13, atol=0)
    np.testing.assert_allclose(e, _ref(lambda v: v if v > 0 else mpmath.exp(v) - 1, EXTREME),
                               rtol=1e-14, atol=0)


@pytest.mark.filterwarnings("error")
def test_stable_softmax_at_extremes():
    x = np.array([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -999.0], [1000.0, 1000.0, 1000.0]])

    def ref_log_softmax(row):
        lse = mpmath.log(sum(mpmath.exp(mpmath.mpf(v)) for v in row))
        return [float(mpmath.mpf(v) - lse) for v in row]
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        ls, s = A.log_softmax(x), A.softmax(x)
        J, LJ = A.softmax_jacobian(x), A.log_softmax_jacobian(x)
    ref = np.array([ref_log_softmax(r) for r in x])
    np.testing.assert_allclose(ls, ref, rtol=1e-14, atol=0)
    np.testing.assert_allclose(s, np.exp(ref), rtol=1e-14, atol=0)
    assert np.isfinite(J).all() and np.isfinite(LJ).all()


# -- closed-form facts ------------------------------------------------------------------
def test_relu_kink_and_sigmoid_maximum():
    assert A.relu_grad(0.0) == 0.0
    assert A.relu_grad(np.array([-0.0, 0.0]))[1] == 0.0
    assert A.leaky_relu_grad(0.0, gamma=0.2) == pytest.approx(0.2)
    assert A.elu_grad(0.0, gamma=0.5) == pytest.approx(0.5)
    assert A.sigmoid_grad(0.0) == 0.25
    grid = np.linspace(-10, 10, 20001)
    d = A.sigmoid_grad(grid)
    assert d.max() == 0.25 and grid[d.argmax()] == 0.0
    assert (d <= 0.25).all()
    np.testing.assert_allclose(A.softplus_grad(grid), 1 / (1 + np.exp(-grid)), rtol=1e-14)
    np.testing.assert_allclose(A.tanh_grad(grid), 1 / np.cosh(grid) ** 2, rtol=1e-12, atol=1e-17)


def test_lecture_values():
    """A1.4's sigmoid neuron, and the ELU definition of seed 002."""
    assert A.sigmoid(1.0) == pytest.approx(0.731, abs=5e-4)      # w·x + b = 1 in A1.4
    assert A.sigmoid_grad(1.0) == pytest.approx(0.1966, abs=1e-4)
    np.testing.assert_allclose(A.elu(np.array([-1.0, 2.0]), gamma=2.0),
                               [2 * (np.exp(-1) - 1), 2.0], rtol=1e-15)
    np.testing.assert_array_equal(A.leaky_relu(np.array([-2.0, 3.0]), 0.1), [-0.2, 3.0])


# -- float32 -----------------------------------------------------------------------------
def test_float32_preserved_and_accurate(rng):
    x64 = rng.uniform(-4, 4, (5, 6))
    x32 = x64.astype(np.float32)
    funcs = [(a.f, HYPER.get(a.name, {})) for a in ACTIVATIONS.values()]
    funcs += [(a.grad, HYPER.get(a.name, {})) for a in ACTIVATIONS.values()]
    funcs += [(f, {}) for f in (A.softmax, A.log_softmax, A.softmax_jacobian,
                                A.log_softmax_jacobian)]
    funcs += [(lambda z: A.prelu(z, np.full(6, 0.2)), {}),
              (lambda z: A.prelu_grad(z, np.full(6, 0.2)), {}), (A.prelu_grad_gamma, {})]
    for f, hyper in funcs:
        got, want = f(x32, **hyper), f(x64, **hyper)
        assert got.dtype == np.float32, f
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    big = np.array([-1000.0, 1000.0], dtype=np.float32)
    assert A.sigmoid(big).dtype == np.float32 and np.isfinite(A.softplus(big)).all()
    layers = [ActivationLayer(n, **HYPER.get(n, {})) for n in NAMES] + [PReLU(6), Maxout(2)]
    dout = rng.standard_normal((5, 6 // 2))
    for layer in layers:
        o32, c32 = layer.forward(x32)
        o64, c64 = layer.forward(x64)
        d = dout if isinstance(layer, Maxout) else rng.standard_normal((5, 6))
        g32, p32 = layer.backward(d.astype(np.float32), c32)
        g64, _ = layer.backward(d, c64)
        assert o32.dtype == g32.dtype == np.float32, layer
        np.testing.assert_allclose(o32, o64, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-4)


# -- bad input ----------------------------------------------------------------------------
BAD = {"NaN": np.array([[1.0, np.nan, 2.0]]), "inf": np.array([[1.0, -np.inf, 2.0]]),
       "complex": np.array([[1.0 + 2j, 0, 1]]), "object": np.array([[1.0, None, 2.0]], dtype=object),
       "string": np.array([["a", "b", "c"]])}
PUBLIC = ([getattr(A, n) for n in NAMES] + [getattr(A, n + "_grad") for n in NAMES]
          + [A.softmax, A.log_softmax, A.softmax_jacobian, A.log_softmax_jacobian,
             A.prelu_grad_gamma])


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_values_are_named(kind):
    x = BAD[kind]
    shape = re.escape(str(x.shape))
    for f in PUBLIC:
        with pytest.raises(ValueError, match=rf"^{f.__name__}\b.*{shape}"):
            f(x)
    for f in (A.prelu, A.prelu_grad):
        with pytest.raises(ValueError, match=rf"^{f.__name__}\b.*{shape}"):
            f(x, np.ones(3))
    for layer in [ActivationLayer(n) for n in NAMES] + [PReLU(3), Maxout(3)]:
        where = re.escape(layer.name)
        with pytest.raises(ValueError, match=rf"^{where}.*{shape}"):
            layer.forward(x)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"Maxout.*\(2, 5\)"):
        Maxout(2).forward(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"Maxout.*\(\)"):
        Maxout(2).forward(np.float64(1.0))
    with pytest.raises(ValueError, match=r"PReLU.*\(2, 5\).*expected 4"):
        PReLU(4).forward(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"PReLU.*\(3, 5, 2, 2\).*expected 4"):
        PReLU(4).forward(np.zeros((3, 5, 2, 2)))
    with pytest.raises(ValueError, match=r"PReLU.*\(1, 1, 1, 1, 4\)"):
        PReLU(4).forward(np.zeros((1, 1, 1, 1, 4)))
    with pytest.raises(ValueError, match=r"prelu.*\(5,\).*\(2, 3\)"):
        A.prelu(np.zeros((2, 3)), np.ones(5))
    with pytest.raises(ValueError, match=r"softmax_jacobian.*\(2, 2, 2\)"):
        A.softmax_jacobian(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"log_softmax_jacobian.*\(\)"):
        A.log_softmax_jacobian(np.float64(1.0))
    with pytest.raises(ValueError, match=r"softmax.*axis 2.*\(3, 4\)"):
        A.softmax(np.zeros((3, 4)), axis=2)
    with pytest.raises(ValueError, match=r"log_softmax.*\(3, 0\)"):
        A.log_softmax(np.zeros((3, 0)))
    layer = ActivationLayer("tanh")
    _, cache = layer.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"ActivationLayer\(tanh\).backward.*\(3, 2\)"):
        layer.backward(np.zeros((3, 2)), cache)
    _, cache = Maxout(2).forward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"Maxout.backward.*\(2, 4\).*\(2, 2\)"):
        Maxout(2).backward(np.zeros((2, 4)), cache)
    with pytest.raises(ValueError, match="float16"):
        A.sigmoid(np.zeros(3, dtype=np.float16))


def test_registry_and_hyper_parameters():
    for name, act in ACTIVATIONS.items():
        assert act.name == name and get_activation(name) is act and get_activation(act) is act
        assert act.formula and act.grad_formula and act.f.__doc__ and act.grad.__doc__
    with pytest.raises(ValueError, match="get_activation.*'swish'.*" + ".*".join(sorted(ACTIVATIONS))):
        get_activation("swish")
    with pytest.raises(ValueError, match="PReLU layer"):
        ActivationLayer("prelu")
    with pytest.raises(ValueError, match=r"ActivationLayer\(relu\).*gamma"):
        ActivationLayer("relu", gamma=0.1)
    with pytest.raises(ValueError, match="gamma"):
        ActivationLayer("elu", gamma=float("nan"))
    with pytest.raises(ValueError, match="leaky_relu.*gamma"):
        A.leaky_relu(np.ones(2), gamma=np.ones(2))
    with pytest.raises(ValueError, match="pieces"):
        Maxout(0)
    with pytest.raises(ValueError, match="num_units"):
        PReLU(0)
    layer = ActivationLayer("leaky_relu", gamma=0.2)
    np.testing.assert_array_equal(layer.forward(np.array([-1.0, 2.0]))[0], [-0.2, 2.0])
    assert "leaky_relu" in repr(layer) and "0.2" in repr(layer)
    assert PReLU(3, gamma_init=0.1).params["gamma"].tolist() == [0.1] * 3


def test_op_counts_for_activation_layers(rng):
    x = rng.standard_normal((4, 5))
    for name in ("sigmoid", "relu"):
        layer = ActivationLayer(name)
        with counting() as c:
            out, cache = layer.forward(x)
            layer.backward(np.ones_like(out), cache)
        assert c.as_dict() == {"forward_mults": 0, "forward_adds": 0, "backward_mults": 20,
                               "backward_adds": 0, "activations": 40}


def test_need_dx_false_skips_input_gradient(rng):
    x = rng.standard_normal((3, 4))
    for layer in (ActivationLayer("sigmoid"), Maxout(2)):
        out, cache = layer.forward(x)
        assert layer.backward(np.ones_like(out), cache, need_dx=False) == (None, {})
    layer = PReLU(4)
    out, cache = layer.forward(x)
    dx, grads = layer.backward(np.ones_like(out), cache, need_dx=False)
    assert dx is None and grads["gamma"].shape == (4,)


@pytest.mark.parametrize("dtypes", [(np.float64, np.float64), (np.float32, np.float32),
                                    (np.float32, np.float64), (np.float64, np.float32)])
def test_relu_layer_fast_path_equals_generic_formula(dtypes):
    """ReLU's layer multiplies by the mask z > 0 directly: the same values,
    dtype and signed zeros as ``dout * relu_grad(z)``, whatever the dtypes;
    the cache may be z (as the autograder passes it) or the output."""
    rng = np.random.default_rng(5)
    z = rng.standard_normal((40, 9)).astype(dtypes[0])
    z[0, :3] = 0.0
    dout = rng.standard_normal((40, 9)).astype(dtypes[1])
    layer = ActivationLayer("relu")
    a, cache = layer.forward(z)
    np.testing.assert_array_equal(a, A.relu(z))
    assert a.dtype == z.dtype
    for c in (cache, z, a):
        dx, _ = layer.backward(dout, c)
        ref = dout * A.relu_grad(c)
        assert dx.dtype == ref.dtype
        np.testing.assert_array_equal(dx, ref)
        np.testing.assert_array_equal(np.signbit(dx), np.signbit(ref))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (7,), (5, 300), (2, 3, 4, 26)])
def test_relu_equals_numpys_scalar_maximum_bit_for_bit(dtype, shape):
    """ReLU broadcasts a row of zeros instead of the scalar 0 (a faster NumPy
    loop): the values and signed zeros must be those of ``np.maximum(z, 0)``
    and of ``np.where(z > 0, z, 0)``, in the input's dtype and layout-free."""
    rng = np.random.default_rng(11)
    z = np.asarray(rng.standard_normal(shape)).astype(dtype)
    if z.ndim:
        z.reshape(-1)[:3] = [0.0, -0.0, 1e-30]
    for arr in (z, z.T):                                # C and F order
        for out in (A.relu(arr), ActivationLayer("relu").forward(arr)[0]):
            ref = np.maximum(arr, dtype(0))
            assert out.dtype == arr.dtype and out.shape == arr.shape
            np.testing.assert_array_equal(out, ref)
            np.testing.assert_array_equal(np.signbit(out), np.signbit(ref))
            np.testing.assert_array_equal(out, np.where(arr > 0, arr, dtype(0)))
    layer = ActivationLayer("relu")
    _, cache = layer.forward(z.T)
    dout = np.array(rng.standard_normal(z.T.shape), dtype=dtype, order="F")
    dx, _ = layer.backward(dout, cache)
    np.testing.assert_array_equal(dx, np.where(z.T > 0, dout, dtype(0)))

"""Extreme learning machine and the exact ReLU interpolant (A9)."""
import numpy as np
import pytest

from nn_core.elm import ELM, relu_interpolant, relu_net_eval


def smooth(X):
    return np.column_stack([np.sin(2 * X[:, 0]) * np.cos(X[:, 1]), 0.5 * X[:, 0] ** 2 - X[:, 1]])


def test_elm_fits_a_smooth_function():
    rng = np.random.default_rng(0)
    X, X_new = rng.uniform(-1, 1, (300, 2)), rng.uniform(-1, 1, (200, 2))
    elm = ELM(50, rng=1).fit(X, smooth(X))
    assert elm.W.shape == (50, 2) and elm.b.shape == (50,) and elm.beta.shape == (50, 2)
    assert np.abs(elm.predict(X_new) - smooth(X_new)).max() < 5e-3


def test_hidden_layer_is_random_uniform_and_seeded():
    X, T = np.ones((5, 3)), np.ones(5)
    a, b = ELM(400, rng=7).fit(X, T), ELM(400, rng=7).fit(X, T)
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_array_equal(a.beta, b.beta)
    assert a.W.min() >= -1 and a.W.max() < 1 and a.b.min() >= -1 and a.b.max() < 1
    assert abs(a.W.mean()) < 0.05 and a.W.std() == pytest.approx(1 / np.sqrt(3), rel=0.05)
    assert not np.array_equal(a.W, ELM(400, rng=8).fit(X, T).W)
    H = a.hidden_output(X)                                # H = σ(X Wᵀ + b)
    np.testing.assert_allclose(H, 1 / (1 + np.exp(-(X @ a.W.T + a.b))), rtol=1e-14)
    assert a.predict(X).shape == (5,)                     # 1-D T in, 1-D prediction out


@pytest.mark.parametrize("N, L", [(10, 20), (30, 20)])    # under- and over-determined
def test_beta_is_the_minimum_norm_least_squares_solution(N, L):
    rng = np.random.default_rng(N)
    X, T = rng.uniform(-1, 1, (N, 5)), rng.standard_normal((N, 2))
    elm = ELM(L, activation="tanh", rng=2).fit(X, T)
    H = elm.hidden_output(X)
    np.testing.assert_allclose(H, np.tanh(X @ elm.W.T + elm.b), rtol=1e-14)
    ref = np.linalg.lstsq(H, T, rcond=None)[0]
    np.testing.assert_allclose(elm.beta, ref, rtol=1e-9, atol=1e-10)


def test_ridge_matches_augmented_least_squares():
    rng = np.random.default_rng(3)
    X, T = rng.uniform(-1, 1, (40, 3)), rng.standard_normal((40, 2))
    lam = 0.3
    elm = ELM(25, ridge=lam, rng=4).fit(X, T)
    H = elm.hidden_output(X)
    # min ‖Hβ − T‖² + λ‖β‖²  ⇔  least squares on [H; √λ I] β = [T; 0]
    A = np.vstack([H, np.sqrt(lam) * np.eye(25)])
    B = np.vstack([T, np.zeros((25, 2))])
    np.testing.assert_allclose(elm.beta, np.linalg.lstsq(A, B, rcond=None)[0], rtol=1e-9,
                               atol=1e-12)


def test_callable_activation_and_validation():
    X, T = np.linspace(-1, 1, 12).reshape(6, 2), np.arange(6.0)
    elm = ELM(4, activation=np.sin, rng=0).fit(X, T)
    np.testing.assert_allclose(elm.hidden_output(X), np.sin(X @ elm.W.T + elm.b))
    with pytest.raises(ValueError, match=r"ELM.*\(6, 2\).*\(5,\)"):
        ELM(4).fit(X, T[:5])
    with pytest.raises(ValueError, match=r"ELM.*\(N, 2\).*\(3, 3\)"):
        elm.predict(np.ones((3, 3)))
    with pytest.raises(ValueError, match="ELM.*fit"):
        ELM(4).predict(X)
    with pytest.raises(ValueError, match="ELM.*NaN"):
        ELM(4).fit(np.full((6, 2), np.nan), T)
    for bad in ({"hidden": 0}, {"hidden": 3, "activation": "softsign"},
                {"hidden": 3, "ridge": -1.0}):
        with pytest.raises(ValueError, match="ELM"):
            ELM(**bad)


# -- universal approximation with ReLU: an exact piecewise-linear network -------------------
def test_relu_interpolant_is_exact_and_piecewise_linear():
    rng = np.random.default_rng(5)
    for K in (1, 2, 7):
        knots = np.sort(rng.choice(np.linspace(-5, 5, 201), K + 1, replace=False))
        values = rng.uniform(-3, 3, K + 1)
        W1, b1, W2, b2 = relu_interpolant(knots, values)
        assert W1.shape == (K + 1, 1) and b1.shape == (K + 1,)
        assert W2.shape == (1, K + 1) and b2.shape == (1,)
        np.testing.assert_allclose(relu_net_eval(knots, W1, b1, W2, b2), values, atol=1e-10)
        x = rng.uniform(knots[0], knots[-1], 500)
        np.testing.assert_allclose(relu_net_eval(x, W1, b1, W2, b2),
                                   np.interp(x, knots, values), atol=1e-10)
        # beyond the ends: the first and last pieces continue as straight lines
        s0 = (values[1] - values[0]) / (knots[1] - knots[0])
        s1 = (values[-1] - values[-2]) / (knots[-1] - knots[-2])
        left, right = knots[0] - rng.uniform(0, 3, 50), knots[-1] + rng.uniform(0, 3, 50)
        np.testing.assert_allclose(relu_net_eval(left, W1, b1, W2, b2),
                                   values[0] + s0 * (left - knots[0]), atol=1e-10)
        np.testing.assert_allclose(relu_net_eval(right, W1, b1, W2, b2),
                                   values[-1] + s1 * (right - knots[-1]), atol=1e-10)


def test_relu_net_eval_shapes_and_interpolant_validation():
    W1, b1, W2, b2 = relu_interpolant([0.0, 1.0, 3.0], [0.0, 2.0, 1.0])
    assert relu_net_eval(0.5, W1, b1, W2, b2).shape == ()
    assert float(relu_net_eval(0.5, W1, b1, W2, b2)) == pytest.approx(1.0)
    assert relu_net_eval(np.array([[0.5], [2.0]]), W1, b1, W2, b2).shape == (2, 1)
    with pytest.raises(ValueError, match="strictly increasing"):
        relu_interpolant([0.0, 2.0, 1.0], [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="same length"):
        relu_interpolant([0.0, 1.0], [0.0])
    with pytest.raises(ValueError, match="relu_net_eval"):
        relu_net_eval(np.ones((2, 2)), W1, b1, W2, b2)

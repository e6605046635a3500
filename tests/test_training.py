"""Training end to end: XOR, the digits set, early stopping, initializers."""
import numpy as np
import pytest

from nn_core.data import digits, standardize, xor
from nn_core.init import fans, initialize
from nn_core.models import mlp
from nn_core.optim import SGD, Adam
from nn_core.train import fit, minibatch_indices


def test_small_mlp_solves_xor():
    X, y = xor()
    y = np.asarray(y).reshape(len(X), -1)
    rng = np.random.default_rng(1)
    net = mlp([2, 4, 1], activation="tanh", output="sigmoid", loss="binary_cross_entropy", rng=rng)
    fit(net, X, y, Adam(0.05), epochs=500, rng=rng)
    pred = (net.forward(X)[:, 0] > 0.5).astype(int)
    np.testing.assert_array_equal(pred, y[:, 0].astype(int))


@pytest.mark.slow                           # trains on the digits: ~15 s each
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mlp_reaches_97_percent_on_digits(seed):
    rng = np.random.default_rng(seed)
    X_train, y_train, X_test, y_test = digits(seed=0)
    X_train, X_test = standardize(X_train, X_test)
    net = mlp([64, 256, 10], activation="relu", keep=0.8, rng=rng)
    fit(net, X_train, y_train, Adam(1e-3, weight_decay=1e-4), epochs=60, batch_size=32, rng=rng)
    assert net.accuracy(X_test, y_test) >= 0.97


def test_early_stopping_restores_best_params():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 5))
    y = rng.integers(0, 3, size=40)          # pure noise: validation loss soon rises
    Xv = rng.standard_normal((40, 5))
    yv = rng.integers(0, 3, size=40)
    net = mlp([5, 32, 3], rng=rng)
    hist = fit(net, X, y, SGD(0.5), epochs=300, rng=rng, X_val=Xv, y_val=yv, patience=5)
    assert hist.stopped_early
    assert len(hist.val_loss) == hist.best_epoch + 1 + 5
    assert net.loss_value(Xv, yv) == pytest.approx(min(hist.val_loss), rel=1e-12)


def test_minibatches_cover_each_sample_once():
    rng = np.random.default_rng(0)
    batches = minibatch_indices(23, 5, rng)
    assert [len(b) for b in batches] == [5, 5, 5, 5, 3]
    assert sorted(np.concatenate(batches).tolist()) == list(range(23))
    assert len(minibatch_indices(23, None, rng)) == 1
    with pytest.raises(ValueError, match="batch_size"):
        minibatch_indices(23, 0, rng)


def test_full_batch_and_stochastic_descent_both_lower_the_loss():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((30, 3))
    y = (X @ np.array([1.0, -2.0, 0.5]) > 0).astype(int)
    for bs in (None, 1, 8):
        net = mlp([3, 8, 2], rng=np.random.default_rng(0))
        before = net.loss_value(X, y)
        hist = fit(net, X, y, SGD(0.1), epochs=20, batch_size=bs, rng=rng)
        assert net.loss_value(X, y) < before
        assert len(hist.loss) == 20


def test_initializers():
    rng = np.random.default_rng(0)
    assert fans((300, 200)) == (200, 300)
    assert fans((8, 3, 5, 5)) == (75, 200)
    assert not initialize("zeros", (3, 4), rng).any()
    assert (initialize("constant", (3, 4), rng, value=0.7) == 0.7).all()
    g = initialize("gaussian", (400, 500), rng, sigma=0.2)
    assert g.std() == pytest.approx(0.2, rel=0.02)
    u = initialize("uniform", (400, 500), rng, r=0.3)
    assert u.min() >= -0.3 and u.max() < 0.3 and u.std() == pytest.approx(0.3 / np.sqrt(3), rel=0.02)
    x = initialize("xavier", (400, 500), rng)
    assert np.abs(x).max() <= np.sqrt(6 / 900)
    assert x.var() == pytest.approx(2 / 900, rel=0.03)
    h = initialize("he", (400, 500), rng)
    assert h.var() == pytest.approx(2 / 500, rel=0.03)
    assert initialize("he", (4, 5), rng, dtype=np.float32).dtype == np.float32
    with pytest.raises(ValueError, match="unknown initializer"):
        initialize("glorot_magic", (3, 3), rng)
    with pytest.raises(ValueError, match="hyper"):
        initialize("gaussian", (3, 3), rng, r=1)

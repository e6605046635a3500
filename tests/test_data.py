"""Data sets, splits and mini-batches."""
import numpy as np
import pytest
from sklearn.datasets import load_digits

from nn_core.data import digits, minibatches, one_hot, train_val_split, two_class_2d, xor


def test_xor():
    X, y = xor()
    assert X.shape == (4, 2) and y.shape == (4,)
    np.testing.assert_array_equal(y, np.logical_xor(X[:, 0], X[:, 1]).astype(int))


@pytest.mark.parametrize("kind", ["moons", "circles"])
def test_two_class_2d_shapes_balance_and_determinism(kind):
    X, y = two_class_2d(201, noise=0.1, rng=3, kind=kind)
    assert X.shape == (201, 2) and X.dtype == np.float64 and y.shape == (201,)
    assert np.bincount(y).tolist() == [101, 100]
    X2, y2 = two_class_2d(201, noise=0.1, rng=np.random.default_rng(3), kind=kind)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(X, two_class_2d(201, noise=0.1, rng=4, kind=kind)[0])
    assert np.array_equal(X, two_class_2d(201, noise=0.1, rng=3, kind=kind)[0])


def test_two_class_2d_geometry_without_noise():
    X, y = two_class_2d(100, noise=0.0, kind="moons")
    np.testing.assert_allclose(np.hypot(*X[y == 0].T), 1.0)                # upper half circle
    np.testing.assert_allclose(np.hypot(X[y == 1, 0] - 1, X[y == 1, 1] - 0.5), 1.0)
    assert (X[y == 0, 1] >= -1e-12).all() and (X[y == 1, 1] <= 0.5 + 1e-12).all()
    X, y = two_class_2d(100, noise=0.0, kind="circles")
    np.testing.assert_allclose(np.hypot(*X.T), np.where(y == 0, 1.0, 0.5))
    with pytest.raises(ValueError, match="kind"):
        two_class_2d(kind="spirals")


def test_digits_shapes_scaling_and_partition():
    X_tr, y_tr, X_te, y_te = digits()
    assert len(X_tr) + len(X_te) == 1797 and X_tr.shape[1] == X_te.shape[1] == 64
    assert X_tr.dtype == np.float64 and y_tr.dtype.kind == "i"
    assert X_tr.min() == 0.0 and X_tr.max() == 1.0 and X_te.max() <= 1.0
    # train ∪ test is exactly scikit-learn's set, each sample once
    ref = load_digits()
    mine = np.column_stack([np.vstack([X_tr, X_te]) * 16, np.concatenate([y_tr, y_te])])
    full = np.column_stack([ref.data, ref.target])
    sort = lambda A: A[np.lexsort(A.T[::-1])]                                  # noqa: E731
    np.testing.assert_array_equal(sort(mine), sort(full))


def test_digits_split_is_stratified_and_deterministic():
    X_tr, y_tr, X_te, y_te = digits(test_fraction=0.25, seed=0)
    counts = np.bincount(load_digits().target)
    np.testing.assert_array_equal(np.bincount(y_te, minlength=10), np.round(0.25 * counts))
    again = digits(test_fraction=0.25, seed=0)
    for a, b in zip((X_tr, y_tr, X_te, y_te), again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(y_te, digits(seed=1)[3])
    X32 = digits(test_fraction=0.5, seed=0, dtype=np.float32)[0]
    assert X32.dtype == np.float32 and len(X32) == 1797 - np.round(0.5 * counts).sum()
    with pytest.raises(ValueError, match="test_fraction"):
        digits(test_fraction=1.0)


def test_one_hot():
    T = one_hot(np.array([2, 0, 1, 2]), 3)
    np.testing.assert_array_equal(T, np.eye(3)[[2, 0, 1, 2]])
    np.testing.assert_array_equal(one_hot([1.0, 0.0], 2), [[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="0…2"):
        one_hot([0, 3], 3)
    with pytest.raises(ValueError, match="integer labels"):
        one_hot([0.5], 3)


def test_train_val_split_partitions_and_is_seeded():
    X, y = np.arange(40).reshape(20, 2), np.arange(20) % 4
    X_tr, y_tr, X_va, y_va = train_val_split(X, y, 0.25, np.random.default_rng(0))
    assert len(X_va) == 5 and len(X_tr) == 15
    assert sorted(np.concatenate([X_tr[:, 0], X_va[:, 0]]).tolist()) == list(range(0, 40, 2))
    np.testing.assert_array_equal(y_tr, (X_tr[:, 0] // 2) % 4)                 # rows stay paired
    np.testing.assert_array_equal(X_va, train_val_split(X, y, 0.25, 0)[2])
    _, _, _, y_va = train_val_split(X, y, 0.25, 0, stratify=True)
    assert np.bincount(y_va).tolist() == [1, 1, 1, 1]
    with pytest.raises(ValueError, match="same number"):
        train_val_split(X, y[:5], 0.25, 0)


def test_minibatches_cover_every_sample_once_per_epoch():
    X, y = np.arange(46).reshape(23, 2), np.arange(23)
    rng = np.random.default_rng(0)
    epochs = []
    for _ in range(3):
        batches = list(minibatches(X, y, 5, rng))
        assert [len(b) for b, _ in batches] == [5, 5, 5, 5, 3]                 # short batch kept
        order = np.concatenate([yb for _, yb in batches])
        assert sorted(order.tolist()) == list(range(23))
        for Xb, yb in batches:
            np.testing.assert_array_equal(Xb[:, 0], 2 * yb)
        epochs.append(order)
    assert not np.array_equal(epochs[0], epochs[1])                            # reshuffled
    in_order = np.concatenate([yb for _, yb in minibatches(X, y, 8, shuffle=False)])
    np.testing.assert_array_equal(in_order, np.arange(23))
    assert [len(b) for b, _ in minibatches(X, y, 100, 0)] == [23]
    with pytest.raises(ValueError, match="batch_size"):
        minibatches(X, y, 0, rng)                           # checked at the call
    with pytest.raises(ValueError, match="same number"):
        minibatches(X, y[:3], 2, rng)

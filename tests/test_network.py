"""The network's two gradient paths, checked against each other, against
finite differences and against PyTorch's autograd."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from nn_core.activations import ActivationLayer
from nn_core.gradcheck import numerical_gradient, rel_error
from nn_core.layers import Linear
from nn_core.models import mlp
from nn_core.network import Network

ACTS = ["sigmoid", "tanh", "softplus", "elu"]
# (loss, output activation, target kind)
HEADS = [("half_squared_error", None, "real"), ("mean_squared_error", "tanh", "real"),
         ("softmax_cross_entropy", None, "label"), ("binary_cross_entropy", "sigmoid", "binary"),
         ("binary_cross_entropy_with_logits", None, "binary"), ("multiclass_hinge", None, "label")]


def make_targets(kind, n, c, rng):
    if kind == "real":
        return rng.standard_normal((n, c))
    if kind == "label":
        return rng.integers(0, c, size=n)
    return (rng.random((n, c)) < 0.5).astype(float)


@settings(max_examples=25, deadline=None)
@given(depth=st.integers(1, 4), width=st.integers(1, 7), n=st.integers(1, 9),
       act=st.sampled_from(ACTS), head=st.sampled_from(HEADS), seed=st.integers(0, 2**31))
def test_per_sample_and_batched_paths_agree(depth, width, n, act, head, seed):
    rng = np.random.default_rng(seed)
    loss, out_act, kind = head
    c = 1 if kind == "binary" else 3
    sizes = [int(rng.integers(1, 6))] + [width] * (depth - 1) + [c]
    net = mlp(sizes, activation=act, output=out_act, loss=loss, rng=rng)
    X = rng.standard_normal((n, sizes[0]))
    y = make_targets(kind, n, c, rng)
    lb, gb = net.gradients(X, y)
    ls, gs = net.gradients_per_sample(X, y)
    assert abs(lb - ls) <= 1e-12 * max(1.0, abs(lb))
    for db, ds in zip(gb, gs):
        assert db.keys() == ds.keys()
        for k in db:
            scale = max(np.abs(db[k]).max(), 1e-300)
            assert np.abs(db[k] - ds[k]).max() <= 1e-12 * scale + 1e-15


@pytest.mark.parametrize("loss,out_act,kind", HEADS)
def test_network_gradient_check(loss, out_act, kind, rng):
    c = 1 if kind == "binary" else 3
    net = mlp([4, 5, c], activation="tanh", output=out_act, loss=loss, rng=rng)
    X = rng.standard_normal((6, 4))
    y = make_targets(kind, 6, c, rng)
    _, grads = net.gradients(X, y)
    for i, name, p, _ in net.parameters():
        num = numerical_gradient(lambda: net.gradients(X, y)[0], p)
        assert rel_error(grads[i][name], num) < 1e-7, (i, name)


def test_float32_network_matches_float64(rng):
    net64 = mlp([8, 16, 16, 4], activation="relu", rng=rng)
    X = rng.standard_normal((32, 8))
    y = rng.integers(0, 4, size=32)
    l64, g64 = net64.gradients(X, y)
    net32 = mlp([8, 16, 16, 4], activation="relu", rng=rng)
    net32.set_params(net64.get_params())
    net32.astype(np.float32)
    l32, g32 = net32.gradients(X.astype(np.float32), y)
    assert net32.dtype == np.float32
    assert abs(l32 - l64) < 1e-4 * max(1, abs(l64))
    for a, b in zip(g32, g64):
        for k in a:
            assert a[k].dtype == np.float32
            np.testing.assert_allclose(a[k], b[k], atol=1e-4, rtol=1e-4)


def test_mlp_step_matches_torch(rng):
    torch = pytest.importorskip("torch")
    net = mlp([7, 6, 5, 3], activation="sigmoid", rng=rng)
    X = rng.standard_normal((10, 7))
    y = rng.integers(0, 3, size=10)
    loss, grads = net.gradients(X, y)
    tp = [(torch.tensor(l.params["W"], requires_grad=True), torch.tensor(l.params["b"], requires_grad=True))
          for l in net.layers if isinstance(l, Linear)]
    h = torch.tensor(X)
    for j, (W, b) in enumerate(tp):
        h = h @ W.T + b
        if j < len(tp) - 1:
            h = torch.sigmoid(h)
    tl = torch.nn.functional.cross_entropy(h, torch.tensor(y))
    tl.backward()
    assert abs(loss - tl.item()) <= 1e-12
    linear_idx = [i for i, l in enumerate(net.layers) if isinstance(l, Linear)]
    for i, (W, b) in zip(linear_idx, tp):
        assert rel_error(grads[i]["W"], W.grad.numpy()) < 1e-10
        assert rel_error(grads[i]["b"], b.grad.numpy()) < 1e-10


def test_bad_input_is_named():
    net = mlp([3, 4, 2], rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"Linear.*\(5, 4\).*3 features"):
        net.gradients(np.zeros((5, 4)), np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match="NaN"):
        net.forward(np.array([[np.nan, 0, 0]]))
    with pytest.raises(ValueError, match=r"Linear.*\(1, 3\).*inf"):
        net.gradients(np.array([[np.inf, 0, 0]]), np.zeros(1, dtype=int))
    reg = mlp([3, 4, 2], loss="half_squared_error", rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="NaN"):
        reg.gradients(np.zeros((1, 3)), np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="dtype"):
        net.forward(np.array([["a", "b", "c"]]))
    with pytest.raises(ValueError, match="samples"):
        net.gradients_per_sample(np.zeros((5, 3)), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="Linear"):
        Linear(3, 2, W=np.zeros((3, 2)))


def test_layers_validate_dtype_and_ndim():
    lin = Linear(3, 2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"Linear.*\(2, 2, 3\)"):
        lin.forward(np.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match="complex"):
        lin.forward(np.zeros(3, dtype=complex))
    with pytest.raises(ValueError, match="Linear.backward"):
        out, cache = lin.forward(np.zeros((4, 3)))
        lin.backward(np.zeros((4, 5)), cache)


@settings(max_examples=15, deadline=None)
@given(c=st.integers(1, 3), f=st.integers(1, 4), k=st.integers(1, 3), pool=st.sampled_from(["max", "avg"]),
       stride=st.integers(1, 2), n=st.integers(1, 5), seed=st.integers(0, 2**31))
def test_conv_network_paths_agree(c, f, k, pool, stride, n, seed):
    from nn_core.conv import AvgPool2D, Conv2D, Flatten, MaxPool2D
    rng = np.random.default_rng(seed)
    size = 8
    conv = Conv2D(c, f, k, stride=stride, padding=1, rng=rng)
    conv.params["b"] = rng.standard_normal(f)
    out = (size + 2 - k) // stride + 1
    pooled = out // 2
    layers = [conv, ActivationLayer("tanh"), (MaxPool2D if pool == "max" else AvgPool2D)(2),
              Flatten(), Linear(f * pooled * pooled, 3, rng=rng)]
    net = Network(layers, "softmax_cross_entropy")
    X = rng.standard_normal((n, c, size, size))
    y = rng.integers(0, 3, size=n)
    lb, gb = net.gradients(X, y)
    ls, gs = net.gradients_per_sample(X, y)
    assert abs(lb - ls) <= 1e-12 * max(1.0, abs(lb))
    for db, ds in zip(gb, gs):
        for key in db:
            scale = max(np.abs(db[key]).max(), 1e-300)
            assert np.abs(db[key] - ds[key]).max() <= 1e-12 * scale + 1e-15

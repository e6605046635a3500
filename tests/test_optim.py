"""Optimizers, weight decay, clipping and schedules against PyTorch's
implementations and against the lecture formulas written out in the test."""
import numpy as np
import pytest

from nn_core.layers import Linear
from nn_core.network import Network
from nn_core.optim import (SGD, Adam, InverseTimeDecay, LinearDecay, Momentum, RMSprop,
                           StepDecay, clip_by_norm, global_norm)

torch = pytest.importorskip("torch")


def one_layer(rng):
    return Network([Linear(4, 3, rng=rng)], "half_squared_error")


def run_both(make_ours, make_torch, rng, steps=5):
    net = one_layer(rng)
    W = torch.tensor(net.layers[0].params["W"].copy(), requires_grad=True)
    b = torch.tensor(net.layers[0].params["b"].copy(), requires_grad=True)
    opt, topt = make_ours(), make_torch([W, b])
    for _ in range(steps):
        X = rng.standard_normal((5, 4))
        Y = rng.standard_normal((5, 3))
        _, grads = net.gradients(X, Y)
        opt.step(net, grads)
        topt.zero_grad()
        out = torch.tensor(X) @ W.T + b
        (0.5 * ((out - torch.tensor(Y)) ** 2).sum(1).mean()).backward()
        topt.step()
    return net, W.detach().numpy(), b.detach().numpy()


@pytest.mark.parametrize("name", ["sgd", "momentum", "rmsprop", "adam"])
def test_optimizers_match_torch(name, rng):
    ours = {"sgd": lambda: SGD(0.1), "momentum": lambda: Momentum(0.1, mu=0.9),
            "rmsprop": lambda: RMSprop(0.01, rho=0.9, eps=1e-8),
            "adam": lambda: Adam(0.01, beta1=0.9, beta2=0.999, eps=1e-8)}[name]
    theirs = {"sgd": lambda p: torch.optim.SGD(p, lr=0.1),
              # torch's momentum: v ← μv + g, θ ← θ − ηv  ≡ ours with v' = −ηv at constant η
              "momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
              # torch adds eps outside the sqrt, like ours
              "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-8),
              "adam": lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8)}[name]
    net, W, b = run_both(ours, theirs, rng)
    np.testing.assert_allclose(net.layers[0].params["W"], W, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(net.layers[0].params["b"], b, rtol=1e-12, atol=1e-14)


def test_weight_decay_is_lecture_formula_and_spares_bias(rng):
    net = one_layer(rng)
    W0, b0 = net.layers[0].params["W"].copy(), net.layers[0].params["b"].copy()
    X, Y = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    _, grads = net.gradients(X, Y)
    eta, lam = 0.1, 0.3
    SGD(eta, weight_decay=lam).step(net, grads)
    np.testing.assert_allclose(net.layers[0].params["W"], (1 - eta * lam) * W0 - eta * grads[0]["W"])
    np.testing.assert_allclose(net.layers[0].params["b"], b0 - eta * grads[0]["b"])


def test_weight_decay_equals_l2_penalty_gradient(rng):
    # (1 − ηλ)θ − η∇L  ==  θ − η∇(L + λ/2 ‖W‖²)  (torch's SGD weight_decay on W only)
    lam = 0.2
    ours = lambda: SGD(0.1, weight_decay=lam)
    theirs = lambda p: torch.optim.SGD([{"params": [p[0]], "weight_decay": lam},
                                        {"params": [p[1]], "weight_decay": 0.0}], lr=0.1)
    net, W, b = run_both(ours, theirs, rng)
    np.testing.assert_allclose(net.layers[0].params["W"], W, rtol=1e-12)
    np.testing.assert_allclose(net.layers[0].params["b"], b, rtol=1e-12)


def test_clip_by_norm(rng):
    grads = [{"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(3)}]
    flat = np.concatenate([grads[0]["W"].ravel(), grads[0]["b"]])
    norm = np.linalg.norm(flat)
    before = clip_by_norm(grads, norm / 2)
    assert before == pytest.approx(norm)
    assert global_norm(grads) == pytest.approx(norm / 2)
    np.testing.assert_allclose(np.concatenate([grads[0]["W"].ravel(), grads[0]["b"]]), flat / 2)
    small = [{"W": np.array([0.1, 0.2])}]
    clip_by_norm(small, 10.0)
    np.testing.assert_array_equal(small[0]["W"], [0.1, 0.2])
    with pytest.raises(ValueError, match="max_norm"):
        clip_by_norm(small, 0)


def test_schedules():
    step = StepDecay(1.0, 0.1, (30, 60, 90))
    assert [step(t) for t in (0, 29, 30, 59, 60, 90, 200)] == pytest.approx(
        [1, 1, 0.1, 0.1, 0.01, 0.001, 0.001])
    lin = LinearDecay(1.0, 0.0, 10)
    assert [lin(t) for t in (0, 5, 10, 20)] == pytest.approx([1, 0.5, 0, 0])
    inv = InverseTimeDecay(1.0, k=0.5)
    assert [inv(t) for t in (0, 2, 6)] == pytest.approx([1, 0.5, 0.25])
    opt = SGD(step)
    opt.set_epoch(45)
    assert opt.lr == pytest.approx(0.1)


def test_bad_optimizer_input(rng):
    net = one_layer(rng)
    with pytest.raises(ValueError, match="gradient dicts"):
        SGD(0.1).step(net, [])
    with pytest.raises(ValueError, match="shape"):
        SGD(0.1).step(net, [{"W": np.zeros((4, 3)), "b": np.zeros(3)}])
    with pytest.raises(ValueError, match="weight_decay"):
        SGD(0.1, weight_decay=-1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["sgd", "sgd_decay", "momentum", "adam"])
def test_chunked_in_place_updates_equal_whole_array_formulas(name, dtype, rng):
    """Parameters larger than the optimizers' chunk are updated chunk by chunk
    in place (no full-size temporaries); every entry must get exactly the
    value of the whole-array formula, bit for bit, over several steps."""
    from nn_core import optim
    shape = (257, 301)                      # > _CHUNK_BYTES in both dtypes, ragged last chunk
    assert np.prod(shape) * np.dtype(dtype).itemsize > optim._CHUNK_BYTES
    net = Network([Linear(shape[1], shape[0], rng=rng, dtype=dtype)], "half_squared_error")
    dt = np.dtype(dtype).type
    eta, lam, mu, b1, b2, eps = 0.05, 0.1, 0.9, 0.9, 0.999, 1e-8
    opt = {"sgd": SGD(eta), "sgd_decay": SGD(eta, weight_decay=lam),
           "momentum": Momentum(eta, mu=mu), "adam": Adam(eta, b1, b2, eps)}[name]
    W = net.layers[0].params["W"].copy()
    v = np.zeros_like(W)
    m, s = np.zeros_like(W), np.zeros_like(W)
    for t in range(1, 4):
        g = rng.standard_normal(shape).astype(dtype)
        grads = [{"W": g, "b": np.zeros(shape[0], dtype)}]
        g_before = g.copy()
        opt.step(net, grads)
        np.testing.assert_array_equal(g, g_before)          # gradients are not touched
        if name == "sgd":
            W -= dt(eta) * g
        elif name == "sgd_decay":
            W *= dt(1.0 - eta * lam)
            W -= dt(eta) * g
        elif name == "momentum":
            v *= dt(mu)
            v -= dt(eta) * g
            W += v
        else:
            m = m * dt(b1) + dt(1 - b1) * g
            s = s * dt(b2) + dt(1 - b2) * g * g
            mhat, shat = m / dt(1 - b1 ** t), s / dt(1 - b2 ** t)
            W -= dt(eta) * mhat / (np.sqrt(shat) + dt(eps))
        assert net.layers[0].params["W"].dtype == dtype
        np.testing.assert_array_equal(net.layers[0].params["W"], W)


def test_update_accepts_gradients_of_another_layout_or_dtype(rng):
    """Non-contiguous or integer gradients take the whole-array path."""
    net = Network([Linear(300, 250, rng=rng)], "half_squared_error")
    W0 = net.layers[0].params["W"].copy()
    gT = np.asfortranarray(rng.standard_normal((250, 300)))
    SGD(0.1).step(net, [{"W": gT, "b": np.zeros(250, dtype=int)}])
    np.testing.assert_array_equal(net.layers[0].params["W"], W0 - 0.1 * gT)
    SGD(0.5).step(net, [{"W": np.ones((250, 300), dtype=int), "b": np.zeros(250)}])
    np.testing.assert_array_equal(net.layers[0].params["W"], W0 - 0.1 * gT - 0.5)

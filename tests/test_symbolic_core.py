"""Every SymPy derivation's callable equals the numeric core at random points.

float64, ``rtol = 1e-10`` (plus ``atol = 1e-13`` for entries that are 0), at
moderate random inputs: scalars, networks with random parameters, random
feature maps for convolution and pooling.
"""
import numpy as np
import pytest

import nn_core.activations as A
import nn_core.losses as Ls
from nn_core import graph
from nn_core.activations import ActivationLayer
from nn_core.conv import AvgPool2D, Conv2D, MaxPool2D, conv2d_naive, full_convolution
from nn_core.layers import Dropout, Linear
from nn_core.network import Network
from nn_core.opcount import dense_counts, network_counts
from nn_core.optim import SGD
from nn_core.symbolic import derive

RTOL, ATOL = 1e-10, 1e-13


def close(got, want):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


@pytest.fixture
def rng():
    return np.random.default_rng(20240531)


# -- A2: activations -----------------------------------------------------------------
def test_sigmoid_and_its_derivatives(rng):
    torch = pytest.importorskip("torch")
    x = np.concatenate([rng.normal(0, 3, 500), [0.0]])
    d = derive("sigmoid")
    close(d.callable("sigmoid")(x), A.sigmoid(x))
    close(d.callable("sigmoid_grad")(x), A.sigmoid_grad(x))
    close(d.callable("sigmoid_grad_exp")(x), A.sigmoid_grad(x))
    close(d.callable("grad_in_s")(A.sigmoid(x)), A.sigmoid_grad(x))
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(torch.sigmoid(t).sum(), t, create_graph=True)
    (g2,) = torch.autograd.grad(g.sum(), t)
    close(d.callable("sigmoid_grad2")(x), g2.numpy())
    close(d.callable("sigmoid_grad2_exp")(x), g2.numpy())
    close(d.callable("grad2_in_s")(A.sigmoid(x)), g2.numpy())
    assert float(d.callable("max_grad")()) == A.sigmoid_grad(0.0) == 0.25


def test_elementwise_activations(rng):
    x = np.concatenate([rng.normal(0, 3, 500), [0.0]])
    gamma = rng.uniform(0.05, 2.0)
    d = derive("tanh")
    close(d.callable("tanh_grad")(x), A.tanh_grad(x))
    close(d.callable("grad_in_a")(A.tanh(x)), A.tanh_grad(x))
    d = derive("relu")
    close(d.callable("relu")(x), A.relu(x))
    close(d.callable("relu_grad")(x), A.relu_grad(x))
    assert float(d.callable("relu_grad_at_0")()) == A.relu_grad(0.0) == 0
    d = derive("leaky_relu")
    close(d.callable("leaky_relu")(x, gamma), A.leaky_relu(x, gamma=gamma))
    close(d.callable("leaky_relu_grad")(x, gamma), A.leaky_relu_grad(x, gamma=gamma))
    d = derive("elu")
    close(d.callable("elu")(x, gamma), A.elu(x, gamma=gamma))
    close(d.callable("elu_grad")(x, gamma), A.elu_grad(x, gamma=gamma))
    d = derive("softplus")
    close(d.callable("softplus")(x), A.softplus(x))
    close(d.callable("softplus_grad")(x), A.softplus_grad(x))
    d = derive("prelu")
    g = rng.uniform(0.05, 0.5, x.shape)
    close(d.callable("prelu")(x, g), A.prelu(x, g))
    close(d.callable("prelu_grad")(x, g), A.prelu_grad(x, g))
    close(d.callable("prelu_grad_gamma")(x), A.prelu_grad_gamma(x, g))


# -- A2: output layers ----------------------------------------------------------------
@pytest.mark.parametrize("K", [3, 5])
def test_softmax_jacobians(rng, K):
    for _ in range(20):
        x = rng.normal(0, 2, K)
        d = derive("log_softmax", K=K)
        close(d.callable("jacobian")(x), A.log_softmax_jacobian(x))
        close(d.callable("log_softmax")(x), A.log_softmax(x))
        close(d.callable("softmax")(x), A.softmax(x))
        d = derive("softmax_jacobian", K=K)
        close(d.callable("jacobian")(x), A.softmax_jacobian(x))


@pytest.mark.parametrize("K", [3, 4])
def test_softmax_cross_entropy(rng, K):
    d = derive("softmax_cross_entropy", K=K)
    for k in range(20):
        x = rng.normal(0, 2, K)
        y = rng.dirichlet(np.ones(K)) if k % 2 else np.eye(K)[rng.integers(K)]
        value, grad = Ls.softmax_cross_entropy(x, y)
        close(d.callable("grad")(x, y), grad)
        close(d.callable("loss")(x, y), value)


def test_sigmoid_bce_and_squared_error(rng):
    d = derive("sigmoid_bce")
    for _ in range(20):
        z, y = rng.normal(0, 2), rng.uniform()
        a = A.sigmoid(z)
        value, grad = Ls.binary_cross_entropy(np.array([a]), np.array([y]))
        close(d.callable("loss")(a, y), value)
        close(d.callable("dL_da")(a, y), grad[0])
        value, grad = Ls.binary_cross_entropy_with_logits(np.array([z]), np.array([y]))
        close(d.callable("loss_logits")(z, y), value)
        close(d.callable("dL_dz")(z, y), grad[0])
    for K in (1, 3):
        d = derive("half_squared_error", K=K)
        yh, y = rng.normal(size=K), rng.normal(size=K)
        value, grad = Ls.half_squared_error(yh, y)
        close(d.callable("loss")(yh, y), value)
        close(d.callable("grad")(yh, y), grad)


# -- A1: computational graphs ---------------------------------------------------------
def test_chain_rule_against_the_graph_engine(rng):
    d = derive("chain_rule_uv")
    for _ in range(20):
        xv, yv = rng.uniform(0.3, 2.0, 2) * rng.choice([-1, 1], 2)
        x, y = graph.Value(xv, "x"), graph.Value(yv, "y")
        u, v = x * y, x / y
        z = u * u + v * v
        z.backward()
        close(d.callable("z")(xv, yv), z.data)
        close(d.callable("dz_dx")(xv, yv), x.grad)
        close(d.callable("dz_dy")(xv, yv), y.grad)


def test_graph_examples(rng):
    dq, dj, dn, dt = (derive(k) for k in ("graph_add_mul", "graph_J", "sigmoid_neuron",
                                          "autodiff_trace"))
    for _ in range(20):
        x, y, z = rng.normal(0, 3, 3)
        f, n = graph.example_fxyz(x, y, z)
        for k, node in (("q", "q"), ("f", "f")):
            close(dq.callable(k)(x, y, z), n[node].data)
        for k, node in (("df_dx", "x"), ("df_dy", "y"), ("df_dz", "z")):
            close(dq.callable(k)(x, y, z), n[node].grad)
        close(dq.callable("local_df_dq")(x, y, z), n["f"].local_grads[0])
        close(dq.callable("local_df_dz")(x, y, z), n["f"].local_grads[1])

        a, b, c = rng.normal(0, 3, 3)
        J, n = graph.example_J(a, b, c)
        for k in ("u", "v", "J"):
            close(dj.callable(k)(a, b, c), n[k].data)
        for k in ("a", "b", "c"):
            close(dj.callable(f"dJ_d{k}")(a, b, c), n[k].grad)

        w, xx = rng.normal(0, 1.5, 3), rng.normal(0, 1.5, 2)
        args = dict(w0=w[0], w1=w[1], w2=w[2], x0=xx[0], x1=xx[1])
        for shortcut in (False, True):
            f, n = graph.sigmoid_neuron(tuple(w), tuple(xx), shortcut=shortcut)
            close(dn.callable("f")(**args), f.data)
            for k in ("w0", "x0", "w1", "x1", "w2"):
                close(dn.callable(f"df_d{k}")(**args), n[k].grad)

        xv, wv, bv = rng.normal(0, 1.5, 3)
        h6, n = graph.autodiff_trace(xv, wv, bv)
        for k in range(1, 7):
            close(dt.callable(f"h{k}")(xv, wv, bv), n[f"h{k}"].data)
        local = {"dh6_dh5": ("h6", 1),  # h6 = 1/h5: parents (const 1, h5)
                 "dh4_dh3": ("h4", 0), "dh3_dh2": ("h3", 0),
                 "dh2_dh1": ("h2", 0), "dh2_db": ("h2", 1), "dh1_dx": ("h1", 0),
                 "dh1_dw": ("h1", 1), "dh5_dh4": ("h5", 0)}
        for k, (node, i) in local.items():
            close(dt.callable(k)(xv, wv, bv), n[node].local_grads[i])
        close(dt.callable("df_dw")(xv, wv, bv), n["w"].grad)
        close(dt.callable("df_db")(xv, wv, bv), n["b"].grad)


# -- A3–A5: networks --------------------------------------------------------------------
def _params(rng, sizes):
    return [(rng.normal(0, 0.8, (sizes[l + 1], sizes[l])), rng.normal(0, 0.5, sizes[l + 1]))
            for l in range(len(sizes) - 1)]


@pytest.mark.parametrize("path", ["gradients", "gradients_per_sample"])
def test_a3_network(rng, path):
    d = derive("a3_network")
    for _ in range(10):
        (W1, b1), (W2, b2) = _params(rng, (2, 2, 1))
        x, t = rng.normal(size=2), rng.normal(size=1)
        net = Network([Linear(2, 2, W=W1, b=b1), ActivationLayer("sigmoid"),
                       Linear(2, 1, W=W2, b=b2)], "half_squared_error")
        loss, grads = getattr(net, path)(x[None], t[None])
        args = (x, W1, b1, W2, b2, t)
        close(d.callable("y")(*args), net.forward(x))
        close(d.callable("loss")(*args), loss)
        for k, (layer, p) in {"dW1": (0, "W"), "db1": (0, "b"), "dW2": (2, "W"),
                              "db2": (2, "b")}.items():
            close(d.callable(k)(*args), grads[layer][p])


def test_a4_relu_network_and_update(rng):
    d = derive("a4_relu_network")
    for _ in range(10):
        (W1, b1), (W2, b2) = _params(rng, (2, 2, 1))
        b2 = np.abs(b2) + 0.5                     # keep the output unit on, as in A4
        x, y, eta = rng.normal(size=2), rng.normal(size=1) + 1.0, rng.uniform(0.05, 1.0)
        net = Network([Linear(2, 2, W=W1.copy(), b=b1.copy()), ActivationLayer("relu"),
                       Linear(2, 1, W=W2.copy(), b=b2.copy()), ActivationLayer("relu")],
                      "half_squared_error")      # copies: the update works in place
        loss, grads = net.gradients(x[None], y[None])
        args = (x, W1, b1, W2, b2, y)
        close(d.callable("yhat")(*args[:5]), net.forward(x))
        close(d.callable("loss")(*args), loss)
        for k, (layer, p) in {"dW1": (0, "W"), "db1": (0, "b"), "dW2": (2, "W"),
                              "db2": (2, "b")}.items():
            close(d.callable(k)(*args), grads[layer][p])
        SGD(lr=eta).step(net, grads)
        close(d.callable("W1_new")(*args, eta), net.layers[0].params["W"])
        close(d.callable("b2_new")(*args, eta), net.layers[2].params["b"])
        close(d.callable("yhat_new")(*args, eta), net.forward(x))
        close(d.callable("loss_new")(*args, eta), net.loss_value(x[None], y[None]))


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_backprop_recurrences_on_a_3_layer_net(rng, activation):
    d = derive("backprop_recurrences", activation=activation)
    for _ in range(5):
        P = _params(rng, (2, 2, 2, 2))
        x, y = rng.normal(size=2), rng.normal(size=2)
        layers = []
        for W, b in P:
            layers += [Linear(2, 2, W=W, b=b), ActivationLayer(activation)]
        net = Network(layers, "half_squared_error")
        loss, grads = net.gradients(x[None], y[None])
        args = dict(x=x, y=y, **{f"W{l + 1}": P[l][0] for l in range(3)},
                    **{f"b{l + 1}": P[l][1] for l in range(3)})
        close(d.callable("loss")(**args), loss)
        close(d.callable("output")(**args), net.forward(x))
        for l in range(3):
            close(d.callable(f"dW{l + 1}")(**args), grads[2 * l]["W"])
            close(d.callable(f"db{l + 1}")(**args), grads[2 * l]["b"])


@pytest.mark.parametrize("n", [1, 4, 9])
def test_batched_formulas_equal_the_core_and_the_per_sample_mean(rng, n):
    d = derive("batched_backprop")
    (W1, b1), (W2, b2) = _params(rng, (3, 4, 1))
    X, Y = rng.normal(size=(n, 3)), (rng.random(n) < 0.5).astype(float)
    net = Network([Linear(3, 4, W=W1, b=b1), ActivationLayer("sigmoid"),
                   Linear(4, 1, W=W2, b=b2)], "binary_cross_entropy_with_logits")
    args = (X, Y, W1, b1, W2, b2)
    for path in ("gradients", "gradients_per_sample"):
        cost, grads = getattr(net, path)(X, Y[:, None])
        close(d.callable("cost")(*args), cost)
        for k, (layer, p) in {"dW1": (0, "W"), "db1": (0, "b"), "dW2": (2, "W"),
                              "db2": (2, "b")}.items():
            close(d.callable(k)(*args), grads[layer][p])


# -- A6: operation counts ---------------------------------------------------------------
def test_operation_counts_equal_the_core_convention():
    d = derive("opcount_network")
    keys = ("forward_mults", "forward_adds", "backward_mults", "backward_adds", "activations")
    for n in range(1, 7):
        for L in range(1, 5):
            for B in (1, 2, 5):
                want = network_counts((n,) * (L + 1), batch=B)
                for k in keys:
                    assert int(d.callable(k)(n, L, B)) == want[k], (k, n, L, B)
    d = derive("opcount_dense")
    for m_in, m_out, B in [(1, 1, 1), (3, 5, 1), (4, 2, 7), (6, 6, 3)]:
        want = dense_counts(m_in, m_out, B)
        for k in keys:
            assert int(d.callable(k)(m_in, m_out, B)) == want[k]
        first = dense_counts(m_in, m_out, B, need_dx=False)
        for k in ("backward_mults", "backward_adds"):
            assert int(d.callable(f"{k}_first_layer")(m_in, m_out, B)) == first[k]


# -- A7: convolution and pooling ----------------------------------------------------------
@pytest.mark.parametrize("H,K", [(4, 2), (5, 3)])
def test_conv_backward_on_random_maps(rng, H, K):
    d = derive("conv_backward", H=H, K=K)
    O = H - K + 1
    for _ in range(10):
        a, w = rng.normal(size=(H, H)), rng.normal(size=(K, K))
        delta, fprime = rng.normal(size=(O, O)), rng.uniform(0, 0.25, (H, H))
        layer = Conv2D(1, 1, K, W=w[None, None], b=np.zeros(1))
        z, cache = layer.forward(a[None])
        dx, grads = layer.backward(delta[None], cache)
        close(d.callable("z")(a, w), z[0])
        close(d.callable("z")(a, w), conv2d_naive(a, w))
        close(d.callable("dA")(delta, w), dx[0])
        close(d.callable("dA")(delta, w), full_convolution(delta, w))
        close(d.callable("delta_prev")(delta, w, fprime), fprime * full_convolution(delta, w))
        close(d.callable("dW")(a, delta), grads["W"][0, 0])
        close(d.callable("db")(delta), grads["b"])


@pytest.mark.parametrize("H,K,stride", [(4, 2, 2), (4, 2, 1), (5, 3, 2)])
def test_pooling_backward_on_random_maps(rng, H, K, stride):
    dmax, davg = derive("max_pool", H=H, K=K, stride=stride), derive("avg_pool", H=H, K=K,
                                                                      stride=stride)
    O = (H - K) // stride + 1
    for _ in range(10):
        a, delta = rng.normal(size=(H, H)), rng.normal(size=(O, O))
        for layer, d in ((MaxPool2D(K, stride), dmax), (AvgPool2D(K, stride), davg)):
            out, cache = layer.forward(a[None])
            dx, _ = layer.backward(delta[None], cache)
            close(d.callable("pooled")(a), out[0])
            close(d.callable("dA")(*((a, delta) if d is dmax else (delta,))), dx[0])


def test_max_pool_tie_rule_matches_the_core():
    d = derive("max_pool")
    a = np.array([[1.0, 1.0, 0.0, 2.0], [0.0, 1.0, 2.0, 2.0],
                  [3.0, 3.0, 3.0, 3.0], [-1.0, 5.0, 5.0, -1.0]])
    delta = np.array([[1.0, 2.0], [3.0, 4.0]])
    layer = MaxPool2D(2)
    _, cache = layer.forward(a[None])
    close(d.callable("dA")(a, delta), layer.backward(delta[None], cache)[0][0])


# -- A8: training ------------------------------------------------------------------------
def test_weight_decay_update_equals_sgd(rng):
    d = derive("weight_decay")
    for _ in range(10):
        W, b = rng.normal(size=(3, 2)), rng.normal(size=3)
        gW, gb = rng.normal(size=(3, 2)), rng.normal(size=3)
        eta, lam = rng.uniform(0.01, 0.5), rng.uniform(0, 0.1)
        net = Network([Linear(2, 3, W=W.copy(), b=b.copy())], "half_squared_error")
        SGD(lr=eta, weight_decay=lam).step(net, [{"W": gW.copy(), "b": gb.copy()}])
        close(d.callable("update")(W, gW, eta, lam), net.layers[0].params["W"])
        close(d.callable("bias_update")(b, gb, eta), net.layers[0].params["b"])


def test_dropout_expectation_equals_test_time_output(rng):
    d = derive("dropout")
    a = rng.normal(size=(4, 5))
    for p in (0.3, 0.5, 0.8):
        lecture, inverted = Dropout(p, rng=rng), Dropout(p, inverted=True, rng=rng)
        close(d.callable("test_output")(a, p), lecture.forward(a, train=False)[0])
        close(d.callable("inverted_test_output")(a), inverted.forward(a, train=False)[0])
        close(d.callable("train_expectation")(a, p), d.callable("test_output")(a, p))
        # the symbolic expectation against the core's masks (Monte Carlo, 4σ band)
        draws = 20000
        for layer, name in ((lecture, "train_expectation"), (inverted, "inverted_train_expectation")):
            mean = np.mean([layer.forward(a, train=True)[0] for _ in range(draws)], axis=0)
            sd = np.abs(a) * np.sqrt(p * (1 - p)) / (p if layer.inverted else 1) / np.sqrt(draws)
            assert np.all(np.abs(mean - d.callable(name)(a, p)) <= 4 * sd + 1e-12)


def test_zero_init_symmetry_matches_the_core(rng):
    d = derive("zero_init_symmetry")
    for k in range(6):
        c1, c2, r, s, q = (0.0,) * 5 if k == 0 else rng.normal(size=5)
        x, t = rng.normal(size=2), rng.normal(size=1)
        net = Network([Linear(2, 2, W=np.array([[c1, c2], [c1, c2]]), b=np.array([r, r])),
                       ActivationLayer("sigmoid"),
                       Linear(2, 1, W=np.array([[s, s]]), b=np.array([q]))], "half_squared_error")
        _, grads = net.gradients(x[None], t[None])
        args = (x, c1, c2, r, s, q, t)
        close(d.callable("dW1")(*args), grads[0]["W"])
        close(d.callable("db1")(*args), grads[0]["b"])
        close(d.callable("dW2")(*args), grads[2]["W"])
        assert np.array_equal(grads[0]["W"][0], grads[0]["W"][1])
        if k == 0:
            assert not grads[0]["W"].any()

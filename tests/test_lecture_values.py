"""The lecture's worked numbers (A3, A4 of the catalogue) reproduced by the core.

The expected values below are typed from docs/exercises.md, which
took them from the lecture slides — an independent reference, not output of
the code under test.
"""
import numpy as np
import pytest

from nn_core.activations import ActivationLayer
from nn_core.layers import Linear
from nn_core.network import Network
from nn_core.optim import SGD


def a3_network():
    W1 = np.array([[0.4, -0.2], [-0.1, 0.3]])
    b1 = np.array([0.1, -0.3])
    W2 = np.array([[0.2, -0.5]])
    b2 = np.array([0.05])
    return Network([Linear(2, 2, W=W1, b=b1), ActivationLayer("sigmoid"),
                    Linear(2, 1, W=W2, b=b2)], "half_squared_error")


def test_a3_forward():
    net = a3_network()
    x = np.array([0.5, -1.5])
    z1, _ = net.layers[0].forward(x)
    h, _ = net.layers[1].forward(z1)
    y = net.forward(x)
    np.testing.assert_allclose(z1, [0.6, -0.8], atol=1e-12)
    np.testing.assert_allclose(h, [0.645656, 0.310026], atol=5e-7)
    np.testing.assert_allclose(y, [0.0241185], atol=5e-8)


@pytest.mark.parametrize("path", ["gradients", "gradients_per_sample"])
def test_a3_gradients(path):
    net = a3_network()
    X, T = np.array([[0.5, -1.5]]), np.array([[0.3]])
    _, grads = getattr(net, path)(X, T)
    np.testing.assert_allclose(grads[2]["W"], [[-0.178125, -0.085530]], atol=5e-7)
    np.testing.assert_allclose(grads[2]["b"], [-0.275882], atol=5e-7)
    np.testing.assert_allclose(grads[0]["W"], [[-0.006312, 0.018935], [0.014753, -0.044260]],
                               atol=5e-7)
    np.testing.assert_allclose(grads[0]["b"], [-0.012623, 0.029507], atol=5e-7)


def a4_network():
    return Network([Linear(2, 2, W=np.array([[0.1, 0.4], [-0.5, 0.2]]), b=np.array([0.1, -0.1])),
                    ActivationLayer("relu"),
                    Linear(2, 1, W=np.array([[0.6, 0.8]]), b=np.array([0.2])),
                    ActivationLayer("relu")], "half_squared_error")


def test_a4_forward_gradients_and_update():
    net = a4_network()
    X, Y = np.array([[0.2, 0.3]]), np.array([[1.0]])
    z1, _ = net.layers[0].forward(X[0])
    np.testing.assert_allclose(z1, [0.24, -0.14], atol=1e-12)
    np.testing.assert_allclose(net.forward(X[0]), [0.344], atol=1e-12)
    loss, grads = net.gradients(X, Y)
    assert loss == pytest.approx(0.215168, abs=1e-12)
    np.testing.assert_allclose(grads[2]["W"], [[-0.15744, 0.0]], atol=1e-12)
    np.testing.assert_allclose(grads[2]["b"], [-0.656], atol=1e-12)
    np.testing.assert_allclose(grads[0]["W"], [[-0.07872, -0.11808], [0.0, 0.0]], atol=1e-12)
    np.testing.assert_allclose(grads[0]["b"], [-0.3936, 0.0], atol=1e-12)
    SGD(lr=1.0).step(net, grads)
    y_new = net.forward(X[0])
    assert y_new[0] == pytest.approx(1.374671, abs=5e-7)
    new_loss = net.loss_value(X, Y)
    assert new_loss == pytest.approx(0.070189, abs=5e-7)
    assert new_loss < loss

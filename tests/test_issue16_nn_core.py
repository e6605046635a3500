"""Issue 16, nn_core: gradient checks in float32, layers with the wrong
signature, the demo's progress."""
import warnings

import numpy as np
import pytest

from nn_core.gradcheck import LowPrecisionWarning, check_layer_gradients
from nn_core.layer import Layer
from nn_core.layers import Linear


def _linear(dtype):
    rng = np.random.default_rng(1)
    layer = Linear(4, 3, W=rng.standard_normal((3, 4)), b=rng.standard_normal(3)).astype(dtype)
    return layer, rng.standard_normal((5, 4)).astype(dtype)


def test_float32_linear_checks_within_its_precision_and_warns():
    layer, x = _linear(np.float32)
    with pytest.warns(LowPrecisionWarning, match="float32"):
        errors = check_layer_gradients(layer, x)
    assert max(errors.values()) < 2e-2, errors          # was 0.2–0.65 with h = 1e-6


def test_float64_linear_is_tight_and_silent():
    layer, x = _linear(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        errors = check_layer_gradients(layer, x)
    assert max(errors.values()) < 1e-6, errors


class OnlyOutput(Layer):
    def forward(self, x, train=True):
        return 2 * x                                    # no cache


class ThreeFromBackward(Layer):
    def forward(self, x, train=True):
        return 2 * x, x

    def backward(self, dout, cache, need_dx=True):
        return 2 * dout, {}, None


@pytest.mark.parametrize("layer,words", [(OnlyOutput(), "OnlyOutput.forward must return (out, cache)"),
                                         (ThreeFromBackward(), "ThreeFromBackward.backward must "
                                                               "return (dx, grads), got a tuple of 3")])
def test_a_wrong_signature_is_named(layer, words):
    with pytest.raises(TypeError, match=words.replace("(", r"\(").replace(")", r"\)")):
        check_layer_gradients(layer, np.ones((2, 3)))


def test_demo_prints_progress_every_epoch(capsys):
    from nn_core import demo
    demo.main(["--epochs", "2", "--hidden", "8"])
    out = capsys.readouterr().out
    assert "epoch   1/2" in out and "epoch   2/2" in out and "test accuracy" in out

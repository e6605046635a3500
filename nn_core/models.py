"""Builders for the networks the course uses."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .activations import ActivationLayer
from .layers import Dropout, Linear
from .network import Network

__all__ = ["mlp"]


def mlp(sizes: Sequence[int], activation: str = "relu", output: str | None = None,
        loss: str = "softmax_cross_entropy", init: str | None = None, rng=None,
        dtype=np.float64, keep: float | None = None) -> Network:
    """A fully connected network ``sizes = (M_0, M_1, …, M_L)``.

    Hidden layers are ``Linear`` + ``activation``; the output layer is
    ``Linear`` followed by ``output`` (an activation name) or nothing (logits,
    e.g. for ``softmax_cross_entropy``). ``init`` defaults to He for the
    ReLU family and Xavier otherwise. ``keep`` adds inverted dropout with
    that keep probability after every hidden activation.
    """
    if len(sizes) < 2:
        raise ValueError(f"mlp: need at least input and output sizes, got {list(sizes)}")
    rng = np.random.default_rng(0) if rng is None else rng
    if init is None:
        init = "he" if "relu" in activation or activation == "elu" else "xavier"
    layers = []
    for l in range(1, len(sizes)):
        layers.append(Linear(sizes[l - 1], sizes[l], init=init, rng=rng, dtype=dtype))
        if l < len(sizes) - 1:
            layers.append(ActivationLayer(activation))
            if keep is not None:
                layers.append(Dropout(keep, inverted=True, rng=rng))
        elif output is not None:
            layers.append(ActivationLayer(output))
    return Network(layers, loss)

"""A1.q6 — backward of the four gate patterns of seed 000 (function parts).

The student writes four functions; each works elementwise on scalars or on
arrays of any (common) shape and **returns a tuple** with one gradient per
input of the gate::

    add_backward(x, y, dout)  -> (dx, dy)   # add distributes:   (dout, dout)
    mul_backward(x, y, dout)  -> (dx, dy)   # mul swaps:          (dout·y, dout·x)
    max_backward(x, y, dout)  -> (dx, dy)   # max routes:         (dout, 0) if x ≥ y else (0, dout)
    copy_backward(douts)      -> dx         # copy adds:          Σ_k douts[k]

``x``, ``y``, ``dout`` have the same shape (scalars included); ``douts`` has
shape ``(k, *shape)``: the upstream gradients of the k branches that use
``x`` (one row per branch), and ``dx`` has ``shape`` (a scalar for
``douts`` of shape ``(k,)``).

References come from :func:`nn_core.graph.gate_backward` (the scalar
autodiff engine), applied element by element. Hidden inputs have no ties
in the max gate (the tie rule ``x ≥ y → x`` is the engine's, but it is not
judged here).
"""
from __future__ import annotations

import numpy as np

from nn_core.graph import gate_backward

from ..functions import FnSpec
from ..i18n import msg
from .base import Part, Question

SHAPES = ((), (5,), (3, 4), (2, 3, 2))


def _elementwise(kind, x, y, dout):
    x, y, dout = (np.asarray(v, dtype=np.float64) for v in (x, y, dout))
    dx, dy = np.empty(x.shape), np.empty(x.shape)
    for idx in np.ndindex(x.shape):
        dx[idx], dy[idx] = gate_backward(kind, (float(x[idx]), float(y[idx])), float(dout[idx]))
    return (float(dx), float(dy)) if x.ndim == 0 else (dx, dy)


def _copy_reference(douts):
    douts = np.asarray(douts, dtype=np.float64)
    out = np.empty(douts.shape[1:])
    for idx in np.ndindex(out.shape):
        (out[idx],) = gate_backward("copy", (1.0,), douts[(slice(None),) + idx].tolist())
    return float(out) if out.ndim == 0 else out



def _two_input_cases(rng, separated=False):
    cases = []
    for shape in SHAPES:
        x = rng.uniform(-3, 3, shape)
        y = rng.uniform(-3, 3, shape)
        if separated:                         # no near-ties: |x − y| ≥ 0.2
            gap = rng.uniform(0.2, 1.5, shape) * np.where(rng.random(shape) < 0.5, -1, 1)
            y = x + gap
        dout = rng.uniform(-3, 3, shape)
        if shape == ():
            x, y, dout = float(x), float(y), float(dout)
        cases.append((x, y, dout))
    return cases


def _copy_cases(rng):
    return [(rng.uniform(-3, 3, (k,) + shape),)
            for k, shape in ((2, ()), (3, ()), (2, (4,)), (3, (2, 3)), (4, (2, 2, 2)))]


ADD = FnSpec("add_backward", _two_input_cases, lambda x, y, d: _elementwise("add", x, y, d))
MUL = FnSpec("mul_backward", _two_input_cases, lambda x, y, d: _elementwise("mul", x, y, d))
MAX = FnSpec("max_backward", lambda rng: _two_input_cases(rng, separated=True),
             lambda x, y, d: _elementwise("max", x, y, d))
COPY = FnSpec("copy_backward", _copy_cases, _copy_reference)

Q6 = Question(
    id="A1.q6",
    title=msg("四种门的反向传播：加法分配、乘法交换、复制相加、最大值路由",
              "Backward of the gate patterns: add distributes, mul swaps, copy adds, max routes"),
    parts=(Part("add", kind="fn", fn=ADD), Part("mul", kind="fn", fn=MUL),
           Part("copy", kind="fn", fn=COPY), Part("max", kind="fn", fn=MAX)),
    build=None,
)

QUESTIONS = (Q6,)

"""Activation functions, their derivatives, softmax, and activation layers.

Notation (seeds 000–002): a unit computes ``a = f(z)``; ``f'(z)`` is the
derivative **with respect to z, evaluated at z**, so the backward pass of an
elementwise layer is the Hadamard product ``δ = ∂L/∂z = f'(z) ⊙ ∂L/∂a``.

Every function accepts any array shape (a 0-D scalar, one sample, a batch,
an image stack), keeps float32 as float32 and float64 as float64, and
rejects NaN/±inf, complex, object and string input with a ``ValueError``
that names the function and the shape.

Kink conventions (seed 002 puts ``z ≤ 0`` in the γ branch):

* ``ReLU'(0) = 0`` — a subgradient; ReLU is Leaky ReLU with ``γ = 0``;
* ``LeakyReLU'(0) = PReLU'(0) = γ`` and ``ELU'(0) = γ``.

These agree with PyTorch's autograd.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from ._checks import as_float_array, check_dout, check_ndim
from .layer import Layer
from .opcount import is_counting, record

__all__ = [
    "sigmoid", "sigmoid_grad", "tanh", "tanh_grad", "relu", "relu_grad",
    "leaky_relu", "leaky_relu_grad", "elu", "elu_grad", "softplus", "softplus_grad",
    "identity", "identity_grad", "prelu", "prelu_grad", "prelu_grad_gamma",
    "Activation", "ACTIVATIONS", "get_activation",
    "softmax", "log_softmax", "softmax_jacobian", "log_softmax_jacobian",
    "ActivationLayer", "PReLU", "Maxout",
]


# -- helpers -----------------------------------------------------------------------
def _hyper(value, where: str, name: str, dtype) -> np.generic:
    """A finite real scalar hyper-parameter, as a scalar of ``dtype``."""
    v = np.asarray(value)
    if v.ndim != 0 or v.dtype.kind not in "biuf" or not np.isfinite(v):
        raise ValueError(f"{where}: {name} must be a finite real scalar, got {value!r}")
    return dtype.type(v)


@lru_cache(maxsize=64)
def _zero_row(dtype: np.dtype, n: int) -> np.ndarray:
    """A read-only row of ``n`` zeros of ``dtype``."""
    row = np.zeros(n, dtype=dtype)
    row.flags.writeable = False
    return row


# -- raw kernels (no validation; z is a float32/float64 ndarray) -------------------
# Underflow (e.g. exp(−1000) → 0) is the correct rounding here, so it is silenced;
# no kernel can overflow: every exp takes a non-positive argument.
def _sigmoid(z):
    with np.errstate(under="ignore"):
        e = np.exp(-np.abs(z))                    # e^{−|z|} ∈ (0, 1]
        r = 1 / (1 + e)
        return np.where(z >= 0, r, e * r)         # 1/(1+e^{−z})  or  e^{z}/(1+e^{z})


def _sigmoid_grad(z):
    with np.errstate(under="ignore"):
        e = np.exp(-np.abs(z))
        return e / ((1 + e) * (1 + e))           # σ(1−σ), symmetric in z, no cancellation


def _tanh(z):
    return np.tanh(z)


def _tanh_grad(z):
    with np.errstate(under="ignore"):
        e = np.exp(-2 * np.abs(z))
        return 4 * e / ((1 + e) * (1 + e))       # sech²(z) = 1 − tanh²(z), no cancellation


def _relu(z):
    """``max(z, 0)``: the zero is a row broadcast along the last axis, not a
    scalar, so NumPy runs its vectorized two-array loop, 1.4–2× faster than
    its loop for a scalar operand (measured on float32 and float64, 512 to
    512,000 entries); the values, NaN and signed zeros included, are the same."""
    if z.ndim == 0:
        return np.maximum(z, z.dtype.type(0))
    return np.maximum(z, _zero_row(z.dtype, z.shape[-1]))


def _relu_grad(z):
    # [z > 0] written straight into a float array (no boolean temporary)
    return np.greater(z, z.dtype.type(0), out=np.empty_like(z))


def _leaky_relu(z, gamma=0.01):
    return np.where(z > 0, z, gamma * z)


def _leaky_relu_grad(z, gamma=0.01):
    return np.where(z > 0, 1, gamma).astype(z.dtype, copy=False)


def _elu(z, gamma=1.0):
    with np.errstate(under="ignore"):
        return np.where(z > 0, z, gamma * np.expm1(np.minimum(z, 0)))


def _elu_grad(z, gamma=1.0):
    with np.errstate(under="ignore"):
        return np.where(z > 0, 1, gamma * np.exp(np.minimum(z, 0))).astype(z.dtype, copy=False)


def _softplus(z):
    with np.errstate(under="ignore"):
        return np.log1p(np.exp(-np.abs(z))) + _relu(z)


def _identity(z):
    return z.copy()


def _identity_grad(z):
    return np.ones_like(z)


def _log_softmax(x, axis=-1):
    with np.errstate(under="ignore"):
        shifted = x - x.max(axis=axis, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _softmax(x, axis=-1):
    with np.errstate(under="ignore"):
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)


# -- public elementwise functions ------------------------------------------------
def sigmoid(z):
    r"""Logistic sigmoid ``σ(z) = 1 / (1 + e^{−z})``.

    Computed from ``e^{−|z|}`` (``1/(1+e^{−z})`` for ``z ≥ 0``,
    ``e^{z}/(1+e^{z})`` for ``z < 0``), so no exponential overflows:
    ``σ(1000) = 1``, ``σ(−1000) = 0`` (the exact value ``≈ e^{−1000}`` is below
    the smallest float), ``σ(−700) ≈ e^{−700}`` to full relative precision.
    """
    return _sigmoid(as_float_array(z, "sigmoid", "z"))


def sigmoid_grad(z):
    r"""``σ'(z) = σ(z)(1 − σ(z)) = e^{−|z|} / (1 + e^{−|z|})²``.

    Largest at ``z = 0`` where ``σ'(0) = 1/4`` (why a chain of L sigmoid
    layers scales a gradient by at most ``4^{−L}``); finite (→ 0) for large |z|.
    """
    return _sigmoid_grad(as_float_array(z, "sigmoid_grad", "z"))


def tanh(z):
    r"""``tanh(z) = (e^{z} − e^{−z}) / (e^{z} + e^{−z}) = 2σ(2z) − 1``."""
    return _tanh(as_float_array(z, "tanh", "z"))


def tanh_grad(z):
    r"""``tanh'(z) = 1 − tanh²(z) = sech²(z)``, computed as
    ``4e^{−2|z|} / (1 + e^{−2|z|})²`` to keep full relative accuracy for large |z|."""
    return _tanh_grad(as_float_array(z, "tanh_grad", "z"))


def relu(z):
    r"""``ReLU(z) = max(0, z)``."""
    return _relu(as_float_array(z, "relu", "z"))


def relu_grad(z):
    r"""``ReLU'(z) = 1`` for ``z > 0``, ``0`` for ``z ≤ 0``.

    At the kink ``z = 0`` the subgradient ``0`` is used (any value in
    [0, 1] is a subgradient); this makes ReLU exactly Leaky ReLU with γ = 0.
    """
    return _relu_grad(as_float_array(z, "relu_grad", "z"))


def leaky_relu(z, gamma: float = 0.01):
    r"""``LeakyReLU(z) = z`` for ``z > 0``, ``γ z`` for ``z ≤ 0`` (seed 002)."""
    z = as_float_array(z, "leaky_relu", "z")
    return _leaky_relu(z, _hyper(gamma, "leaky_relu", "gamma", z.dtype))


def leaky_relu_grad(z, gamma: float = 0.01):
    r"""``LeakyReLU'(z) = 1`` for ``z > 0``, ``γ`` for ``z ≤ 0`` (so ``f'(0) = γ``)."""
    z = as_float_array(z, "leaky_relu_grad", "z")
    return _leaky_relu_grad(z, _hyper(gamma, "leaky_relu_grad", "gamma", z.dtype))


def elu(z, gamma: float = 1.0):
    r"""``ELU(z) = z`` for ``z > 0``, ``γ(e^{z} − 1)`` for ``z ≤ 0`` (seed 002).

    Uses ``expm1`` for accuracy near 0; ``ELU(−1000) = −γ``.
    """
    z = as_float_array(z, "elu", "z")
    return _elu(z, _hyper(gamma, "elu", "gamma", z.dtype))


def elu_grad(z, gamma: float = 1.0):
    r"""``ELU'(z) = 1`` for ``z > 0``, ``γ e^{z} = ELU(z) + γ`` for ``z ≤ 0``
    (so ``f'(0) = γ``)."""
    z = as_float_array(z, "elu_grad", "z")
    return _elu_grad(z, _hyper(gamma, "elu_grad", "gamma", z.dtype))


def softplus(z):
    r"""``softplus(z) = log(1 + e^{z})``, computed stably as
    ``max(z, 0) + log1p(e^{−|z|})`` (``softplus(1000) = 1000``)."""
    return _softplus(as_float_array(z, "softplus", "z"))


def softplus_grad(z):
    r"""``softplus'(z) = e^{z} / (1 + e^{z}) = σ(z)``."""
    return _sigmoid(as_float_array(z, "softplus_grad", "z"))


def identity(z):
    r"""``f(z) = z`` (a linear output unit)."""
    return _identity(as_float_array(z, "identity", "z"))


def identity_grad(z):
    r"""``f'(z) = 1``."""
    return _identity_grad(as_float_array(z, "identity_grad", "z"))


def _prelu_args(z, gamma, where):
    z = as_float_array(z, where, "z")
    g = as_float_array(gamma, where, "gamma")
    try:
        shape = np.broadcast_shapes(z.shape, g.shape)
    except ValueError:
        shape = None
    if shape != z.shape:
        raise ValueError(f"{where}: gamma of shape {g.shape} does not broadcast to "
                         f"z of shape {z.shape}")
    return z, g.astype(z.dtype, copy=False)


def prelu(z, gamma):
    r"""``PReLU_i(z) = z`` for ``z > 0``, ``γ_i z`` for ``z ≤ 0`` (seed 002).

    ``gamma`` broadcasts against ``z`` (NumPy rules: a ``(M,)`` vector applies
    along the last axis); the :class:`PReLU` layer handles channel axes.
    """
    z, g = _prelu_args(z, gamma, "prelu")
    return np.where(z > 0, z, g * z)


def prelu_grad(z, gamma):
    r"""``∂PReLU_i/∂z = 1`` for ``z > 0``, ``γ_i`` for ``z ≤ 0`` (so ``f'(0) = γ_i``)."""
    z, g = _prelu_args(z, gamma, "prelu_grad")
    return np.where(z > 0, 1, g).astype(z.dtype, copy=False)


def prelu_grad_gamma(z, gamma=None):
    r"""``∂PReLU_i/∂γ_i = 0`` for ``z > 0``, ``z`` for ``z ≤ 0``, i.e. ``min(0, z)``,
    elementwise (not yet summed over samples; ``gamma`` is not needed)."""
    z = as_float_array(z, "prelu_grad_gamma", "z")
    return np.minimum(z, 0)


# -- the registry ----------------------------------------------------------------
@dataclass(frozen=True)
class Activation:
    """An elementwise activation: ``f(z, **hyper)`` and ``grad(z, **hyper) = f'(z)``.

    ``formula`` and ``grad_formula`` are LaTeX in the lectures' notation;
    ``hyper`` lists ``(name, default)`` pairs of the scalar hyper-parameters.
    ``from_output`` (optional) gives ``f'(z)`` from the output ``a = f(z)``
    (``a(1−a)`` for the sigmoid, ``1 − a²`` for tanh), so a layer may cache
    ``a`` instead of ``z``. ``kernel``/``grad_kernel`` are the unvalidated
    versions used by :class:`ActivationLayer` after it has checked its input.
    """
    name: str
    f: Callable
    grad: Callable
    formula: str
    grad_formula: str
    hyper: tuple = ()
    from_output: Callable | None = None
    kernel: Callable | None = None
    grad_kernel: Callable | None = None

    def __call__(self, z, **hyper):
        return self.f(z, **hyper)


ACTIVATIONS: dict[str, Activation] = {a.name: a for a in [
    Activation("sigmoid", sigmoid, sigmoid_grad,
               r"\sigma(z) = \frac{1}{1 + e^{-z}}",
               r"\sigma'(z) = \sigma(z)\,\bigl(1 - \sigma(z)\bigr)",
               from_output=lambda a: a * (1 - a), kernel=_sigmoid, grad_kernel=_sigmoid_grad),
    Activation("tanh", tanh, tanh_grad,
               r"\tanh(z) = \frac{e^{z} - e^{-z}}{e^{z} + e^{-z}}",
               r"\tanh'(z) = 1 - \tanh^2(z)",
               from_output=lambda a: 1 - a * a, kernel=_tanh, grad_kernel=_tanh_grad),
    Activation("relu", relu, relu_grad,
               r"\mathrm{ReLU}(z) = \max(0, z)",
               r"\mathrm{ReLU}'(z) = \begin{cases} 1 & z > 0 \\ 0 & z \le 0 \end{cases}",
               kernel=_relu, grad_kernel=_relu_grad),
    Activation("leaky_relu", leaky_relu, leaky_relu_grad,
               r"\mathrm{LeakyReLU}(z) = \begin{cases} z & z > 0 \\ \gamma z & z \le 0 \end{cases}",
               r"\mathrm{LeakyReLU}'(z) = \begin{cases} 1 & z > 0 \\ \gamma & z \le 0 \end{cases}",
               hyper=(("gamma", 0.01),), kernel=_leaky_relu, grad_kernel=_leaky_relu_grad),
    Activation("elu", elu, elu_grad,
               r"\mathrm{ELU}(z) = \begin{cases} z & z > 0 \\ \gamma (e^{z} - 1) & z \le 0 \end{cases}",
               r"\mathrm{ELU}'(z) = \begin{cases} 1 & z > 0 \\ \gamma e^{z} & z \le 0 \end{cases}",
               hyper=(("gamma", 1.0),), kernel=_elu, grad_kernel=_elu_grad),
    Activation("softplus", softplus, softplus_grad,
               r"\mathrm{softplus}(z) = \log(1 + e^{z})",
               r"\mathrm{softplus}'(z) = \frac{1}{1 + e^{-z}} = \sigma(z)",
               kernel=_softplus, grad_kernel=_sigmoid),
    Activation("identity", identity, identity_grad, r"f(z) = z", r"f'(z) = 1",
               kernel=_identity, grad_kernel=_identity_grad),
]}


def get_activation(name_or_obj) -> Activation:
    """The :class:`Activation` named ``name_or_obj`` (or the object itself)."""
    if isinstance(name_or_obj, Activation):
        return name_or_obj
    if isinstance(name_or_obj, str) and name_or_obj in ACTIVATIONS:
        return ACTIVATIONS[name_or_obj]
    hint = (" (PReLU has a learnable slope: use the PReLU layer)"
            if isinstance(name_or_obj, str) and name_or_obj.lower() == "prelu" else "")
    raise ValueError(f"get_activation: unknown activation {name_or_obj!r}{hint}; "
                     f"valid names: {', '.join(sorted(ACTIVATIONS))}")


# -- softmax ---------------------------------------------------------------------
def _softmax_input(x, where, axis=-1):
    x = as_float_array(x, where, "x")
    if x.ndim == 0 or not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{where}: axis {axis} is not valid for x of shape {x.shape}")
    if x.shape[axis] == 0:
        raise ValueError(f"{where}: x of shape {x.shape} has no entries along axis {axis}")
    return x


def softmax(x, axis: int = -1):
    r"""``softmax(x)_i = e^{x_i} / Σ_k e^{x_k}`` along ``axis``.

    Stable: ``max_k x_k`` is subtracted first, so every exponent is ≤ 0.
    """
    return _softmax(_softmax_input(x, "softmax", axis), axis)


def log_softmax(x, axis: int = -1):
    r"""``log softmax(x)_i = x_i − log Σ_k e^{x_k}``, via the log-sum-exp trick
    ``log Σ_k e^{x_k} = m + log Σ_k e^{x_k − m}`` with ``m = max_k x_k``
    (finite and accurate for entries of ±1000)."""
    return _log_softmax(_softmax_input(x, "log_softmax", axis), axis)


def _jacobian_input(x, where):
    x = _softmax_input(x, where)
    check_ndim(x, (1, 2), where, "x", "(C,) for one vector or (n, C) for a batch")
    return x


def softmax_jacobian(x):
    r"""Jacobian of ``s = softmax(x)``: ``∂s_i/∂x_j = s_i(δ_ij − s_j)``, i.e.
    ``J = diag(s) − s sᵀ`` (symmetric, rows sum to 0).

    ``x`` of shape ``(C,)`` gives ``(C, C)``; a batch ``(n, C)`` gives ``(n, C, C)``.
    """
    x = _jacobian_input(x, "softmax_jacobian")
    s = _softmax(x)
    eye = np.eye(x.shape[-1], dtype=x.dtype)
    return s[..., :, None] * (eye - s[..., None, :])


def log_softmax_jacobian(x):
    r"""Jacobian of ``log softmax(x)``: ``∂ log s_i/∂x_j = δ_ij − softmax(x)_j``,
    i.e. ``J = I − 1 sᵀ`` (every row is ``e_i − s``).

    ``x`` of shape ``(C,)`` gives ``(C, C)``; a batch ``(n, C)`` gives ``(n, C, C)``.
    """
    x = _jacobian_input(x, "log_softmax_jacobian")
    s = _softmax(x)
    eye = np.eye(x.shape[-1], dtype=x.dtype)
    return eye - s[..., None, :]


# -- layers ----------------------------------------------------------------------
class ActivationLayer(Layer):
    """Elementwise ``a = f(z)`` for a registered activation, any input shape.

    ``ActivationLayer("leaky_relu", gamma=0.1)``: hyper-parameters as in
    :data:`ACTIVATIONS`. Backward: ``δ = ∂L/∂z = f'(z) ⊙ ∂L/∂a``. The cache is
    the output ``a`` for the sigmoid (``f' = a(1−a)``) and tanh (``1 − a²``),
    and the input ``z`` otherwise. No parameters.

    Operation counts: forward ``z.size`` activation evaluations; backward
    ``z.size`` evaluations of ``f'`` and ``z.size`` multiplications (the
    Hadamard product).
    """

    def __init__(self, activation="relu", **hyper):
        super().__init__()
        self.activation = get_activation(activation)
        defaults = dict(self.activation.hyper)
        unknown = sorted(set(hyper) - set(defaults))
        if unknown:
            allowed = ", ".join(defaults) or "none"
            raise ValueError(f"ActivationLayer({self.activation.name}): unknown "
                             f"hyper-parameter(s) {unknown}; allowed: {allowed}")
        for k, v in hyper.items():
            _hyper(v, f"ActivationLayer({self.activation.name})", k, np.dtype(np.float64))
        self.hyper = {**defaults, **hyper}
        self.name = f"ActivationLayer({self.activation.name})"
        act = self.activation
        self._f = act.kernel or act.f
        self._grad = act.grad_kernel or act.grad
        # the core's own activations return f' as a new array, which backward
        # may then overwrite with f' ⊙ dout (one array fewer per step)
        self._fresh_grad = act.grad_kernel is not None

    def _hyper_for(self, dtype):
        return {k: dtype.type(v) for k, v in self.hyper.items()}

    def forward(self, x, train=True):
        z = as_float_array(x, self.name, "input")
        a = self._f(z, **self._hyper_for(z.dtype))
        if is_counting():
            record("forward", activations=z.size, layer=self.name)
        cache = a if self.activation.from_output is not None else z
        return a, cache

    def backward(self, dout, cache, need_dx=True):
        dout = check_dout(dout, cache.shape, self.name)
        if not need_dx:
            return None, {}
        if is_counting():
            record("backward", mults=cache.size, activations=cache.size, layer=self.name)
        if self.activation.from_output is not None:
            fprime = self.activation.from_output(cache)
        else:
            fprime = self._grad(cache, **self._hyper_for(cache.dtype))
        if self._fresh_grad and np.result_type(dout, fprime) == fprime.dtype:
            fprime *= dout          # δ = f'(z) ⊙ dout, the same values as dout * fprime
            return fprime, {}
        return dout * fprime, {}

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.hyper.items())
        return f"ActivationLayer({self.activation.name!r}{extra})"


class PReLU(Layer):
    """Parametric ReLU with one learnable slope per unit (seed 002):
    ``a_i = z_i`` for ``z_i > 0``, ``γ_i z_i`` for ``z_i ≤ 0``.

    ``γ`` has shape ``(num_units,)`` and applies along the feature axis: the
    last axis for ``(M,)`` and ``(n, M)`` inputs, the channel axis for
    ``(C, H, W)`` and ``(n, C, H, W)`` inputs.

    Backward: ``∂L/∂z = ∂L/∂a ⊙ (1 if z > 0 else γ)`` (``f'(0) = γ``) and
    ``∂L/∂γ_i = Σ ∂L/∂a ⊙ min(0, z)`` summed over the batch and spatial
    positions of unit/channel i. ``γ`` is not weight-decayed.

    Operation counts: forward ``z.size`` activations; backward ``z.size``
    activations, ``z.size`` multiplications for ``∂L/∂γ`` (plus ``z.size``
    for ``∂L/∂z`` when needed) and ``z.size − num_units`` additions.
    """

    name = "PReLU"
    decay = ()
    _AXIS = {1: 0, 2: 1, 3: 0, 4: 1}

    def __init__(self, num_units: int, gamma_init: float = 0.25, dtype=np.float64):
        super().__init__()
        if isinstance(num_units, bool) or not isinstance(num_units, (int, np.integer)) \
                or num_units < 1:
            raise ValueError(f"PReLU: num_units must be a positive integer, got {num_units!r}")
        self.num_units = int(num_units)
        g = _hyper(gamma_init, "PReLU", "gamma_init", np.dtype(dtype))
        self.params = {"gamma": np.full(self.num_units, g, dtype=dtype)}

    def _axis(self, x):
        check_ndim(x, (1, 2, 3, 4), self.name, "input",
                   "((M,), (n, M), (C, H, W) or (n, C, H, W))")
        axis = self._AXIS[x.ndim]
        if x.shape[axis] != self.num_units:
            raise ValueError(f"PReLU: input of shape {x.shape} has {x.shape[axis]} units on "
                             f"axis {axis}, expected {self.num_units}")
        return axis

    def _gamma(self, x, axis):
        shape = [1] * x.ndim
        shape[axis] = self.num_units
        return self.params["gamma"].astype(x.dtype, copy=False).reshape(shape)

    def forward(self, x, train=True):
        x = as_float_array(x, self.name, "input")
        axis = self._axis(x)
        out = np.where(x > 0, x, self._gamma(x, axis) * x)
        if is_counting():
            record("forward", activations=x.size, layer=self.name)
        return out, (x, axis)

    def backward(self, dout, cache, need_dx=True):
        x, axis = cache
        dout = check_dout(dout, x.shape, self.name)
        others = tuple(i for i in range(x.ndim) if i != axis)
        gamma = self.params["gamma"]
        dgamma = np.sum(dout * np.minimum(x, 0), axis=others).astype(gamma.dtype, copy=False)
        dx = dout * np.where(x > 0, 1, self._gamma(x, axis)) if need_dx else None
        if is_counting():
            record("backward", mults=x.size * (2 if need_dx else 1),
                   adds=x.size - self.num_units, activations=x.size, layer=self.name)
        return dx, {"gamma": dgamma}


class Maxout(Layer):
    """Maxout units (seed 000: ``max(w_1ᵀx + b_1, w_2ᵀx + b_2)``): each output
    is the maximum of ``k = pieces`` **consecutive** inputs.

    Input ``(..., m·k)`` (e.g. the output of a ``Linear`` with ``m·k`` units)
    → output ``(..., m)``, ``a_j = max_{0≤p<k} z_{j·k + p}``.

    Backward routes each ``∂L/∂a_j`` to the piece that attained the maximum;
    the other pieces get 0. Tie rule: if several pieces are equal maxima the
    **first** (lowest index) gets the whole gradient (``np.argmax``).
    """

    name = "Maxout"

    def __init__(self, pieces: int):
        super().__init__()
        if isinstance(pieces, bool) or not isinstance(pieces, (int, np.integer)) or pieces < 1:
            raise ValueError(f"Maxout: pieces must be a positive integer, got {pieces!r}")
        self.pieces = int(pieces)

    def forward(self, x, train=True):
        x = as_float_array(x, self.name, "input")
        k = self.pieces
        if x.ndim == 0 or x.shape[-1] == 0 or x.shape[-1] % k:
            raise ValueError(f"Maxout: input of shape {x.shape} must have a last axis that is a "
                             f"positive multiple of pieces={k}")
        groups = x.reshape(x.shape[:-1] + (x.shape[-1] // k, k))
        idx = np.argmax(groups, axis=-1)[..., None]          # first maximum on ties
        out = np.take_along_axis(groups, idx, axis=-1)[..., 0]
        return out, (idx, x.shape)

    def backward(self, dout, cache, need_dx=True):
        idx, shape = cache
        dout = check_dout(dout, idx.shape[:-1], self.name)
        if not need_dx:
            return None, {}
        dgroups = np.zeros(idx.shape[:-1] + (self.pieces,), dtype=dout.dtype)
        np.put_along_axis(dgroups, idx, dout[..., None], axis=-1)
        return dgroups.reshape(shape), {}

    def __repr__(self) -> str:
        return f"Maxout(pieces={self.pieces})"

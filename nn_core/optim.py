"""Optimizers, L2 weight decay, gradient clipping and learning-rate schedules.

All optimizers update the arrays in place, one step per call:
``opt.step(network, grads)`` with ``grads`` as returned by
:meth:`nn_core.network.Network.gradients`.

* SGD:        ``θ ← θ − η g``
* Momentum:   ``v ← μ v − η g``, ``θ ← θ + v``
* RMSprop:    ``r ← ρ r + (1−ρ) g²``, ``θ ← θ − η g / (√r + ε)``
* Adam:       ``m ← β₁m + (1−β₁)g``, ``v ← β₂v + (1−β₂)g²``,
              ``m̂ = m/(1−β₁ᵗ)``, ``v̂ = v/(1−β₂ᵗ)``, ``θ ← θ − η m̂/(√v̂ + ε)``

Weight decay (A8.2) is the lecture's ``θ ← (1 − ηλ) θ − η ∇L`` applied to
the weights only (each layer's ``decay`` names them; biases are never
decayed). For SGD it is exactly the gradient of ``L + (λ/2)‖W‖²``; for the
adaptive optimizers the shrink is applied the same decoupled way.

Gradient clipping by norm (seed 003): with ``‖g‖`` the norm over *all*
gradients, if ``‖g‖ > c`` then ``g ← c · g / ‖g‖``.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["SGD", "Momentum", "RMSprop", "Adam", "clip_by_norm", "global_norm",
           "StepDecay", "LinearDecay", "InverseTimeDecay", "Constant"]


def global_norm(grads) -> float:
    """``‖g‖₂`` over every array of every layer's gradient dict."""
    return math.sqrt(sum(float(np.vdot(g, g)) for d in grads for g in d.values()))


def clip_by_norm(grads, max_norm: float):
    """Rescale ``grads`` in place so their global norm is at most ``max_norm``.

    Returns the norm before clipping. ``g ← max_norm · g / ‖g‖`` when
    ``‖g‖ > max_norm``; unchanged otherwise.
    """
    if not max_norm > 0:
        raise ValueError(f"clip_by_norm: max_norm must be positive, got {max_norm}")
    norm = global_norm(grads)
    if norm > max_norm:
        scale = max_norm / norm
        for d in grads:
            for g in d.values():
                g *= g.dtype.type(scale)
    return norm


# -- learning-rate schedules (functions of the epoch t = 0, 1, 2, ...) --------
class Constant:
    """``η_t = η₀``."""

    def __init__(self, lr0: float):
        self.lr0 = float(lr0)

    def __call__(self, t: int) -> float:
        return self.lr0


class StepDecay(Constant):
    """``η_t = η₀ · factor^{#milestones ≤ t}`` (seed 003: ×0.1 at epochs 30, 60, 90)."""

    def __init__(self, lr0: float, factor: float = 0.1, milestones=(30, 60, 90)):
        super().__init__(lr0)
        self.factor, self.milestones = float(factor), tuple(sorted(milestones))

    def __call__(self, t: int) -> float:
        return self.lr0 * self.factor ** sum(t >= m for m in self.milestones)


class LinearDecay(Constant):
    """``η_t = η₀ + (η_end − η₀) · min(t, T)/T`` — straight line to ``η_end`` at ``T``."""

    def __init__(self, lr0: float, lr_end: float, total: int):
        super().__init__(lr0)
        if total < 1:
            raise ValueError(f"LinearDecay: total must be ≥ 1, got {total}")
        self.lr_end, self.total = float(lr_end), int(total)

    def __call__(self, t: int) -> float:
        return self.lr0 + (self.lr_end - self.lr0) * min(t, self.total) / self.total


class InverseTimeDecay(Constant):
    """``η_t = η₀ / (1 + k t)`` (1/t decay)."""

    def __init__(self, lr0: float, k: float = 1.0):
        super().__init__(lr0)
        self.k = float(k)

    def __call__(self, t: int) -> float:
        return self.lr0 / (1.0 + self.k * t)


# -- in-place updates without full-size temporaries -----------------------------
#: Large parameters are updated in chunks of this many bytes: the update's
#: temporaries (``η g`` and the like) then live in a small scratch buffer that
#: stays in cache instead of being full-size arrays written to and read back
#: from memory — a full-size ``η g`` costs more than the update itself.
_CHUNK_BYTES = 1 << 18


def _chunked(p, g, states=()):
    """``(start, stop)`` ranges over the flattened arrays, or ``None`` when the
    plain whole-array update should run instead (small or unusual arrays:
    non-contiguous, or a gradient of another dtype or layout)."""
    step = _CHUNK_BYTES // p.itemsize
    if (p.size <= step or not p.flags.c_contiguous or not isinstance(g, np.ndarray)
            or g.dtype != p.dtype or not g.flags.c_contiguous):
        return None
    return [(i, min(i + step, p.size)) for i in range(0, p.size, step)]


# -- optimizers ---------------------------------------------------------------
class SGD:
    """Plain gradient descent ``θ ← (1 − ηλ)θ − η g`` (λ only on weights).

    ``lr`` is a number or a schedule (called with the epoch set by
    :meth:`set_epoch`); ``clip_norm`` clips the global gradient norm first.
    """

    def __init__(self, lr=0.1, weight_decay: float = 0.0, clip_norm: float | None = None):
        self.schedule = lr if callable(lr) else Constant(lr)
        if weight_decay < 0:
            raise ValueError(f"{type(self).__name__}: weight_decay must be ≥ 0, got {weight_decay}")
        self.weight_decay = float(weight_decay)
        self.clip_norm = clip_norm
        self.epoch = 0
        self.t = 0
        self.state: dict = {}

    @property
    def lr(self) -> float:
        return self.schedule(self.epoch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def step(self, network, grads) -> None:
        """Apply one update to every parameter of ``network`` from ``grads``."""
        if len(grads) != len(network.layers):
            raise ValueError(f"{type(self).__name__}.step: {len(grads)} gradient dicts for "
                             f"{len(network.layers)} layers")
        if self.clip_norm is not None:
            clip_by_norm(grads, self.clip_norm)
        self.t += 1
        lr = self.lr
        for i, name, p, decays in network.parameters():
            g = grads[i][name]
            if g.shape != p.shape:
                raise ValueError(f"{type(self).__name__}.step: gradient of layer {i} '{name}' "
                                 f"has shape {g.shape}, parameter has {p.shape}")
            if decays and self.weight_decay:
                p *= p.dtype.type(1.0 - lr * self.weight_decay)
            self._update(p, g, lr, (i, name))

    def _scratch(self, dtype, count: int = 1) -> list[np.ndarray]:
        """``count`` reusable 1-D work arrays of ``_CHUNK_BYTES`` for ``dtype``."""
        work = self.__dict__.setdefault("_work", {})
        key = (np.dtype(dtype), count)
        if key not in work:
            n = _CHUNK_BYTES // np.dtype(dtype).itemsize
            work[key] = [np.empty(n, dtype=dtype) for _ in range(count)]
        return work[key]

    def _update(self, p, g, lr, key) -> None:
        a = p.dtype.type(lr)
        chunks = _chunked(p, g)
        if chunks is None:
            p -= a * g
            return
        # the same two roundings per entry as p −= η g, chunk by chunk
        pf, gf = p.reshape(-1), g.reshape(-1)
        (t,) = self._scratch(p.dtype)
        for i, j in chunks:
            tc = t[:j - i]
            np.multiply(gf[i:j], a, out=tc)
            np.subtract(pf[i:j], tc, out=pf[i:j])


class Momentum(SGD):
    """``v ← μ v − η g``, ``θ ← θ + v``."""

    def __init__(self, lr=0.1, mu: float = 0.9, **kw):
        super().__init__(lr, **kw)
        self.mu = float(mu)

    def _update(self, p, g, lr, key):
        v = self.state.get(key)
        if v is None:
            v = self.state[key] = np.zeros_like(p)
        mu, a = v.dtype.type(self.mu), v.dtype.type(lr)
        chunks = _chunked(p, g)
        if chunks is None or v.dtype != p.dtype:
            v *= mu
            v -= a * g
            p += v
            return
        pf, gf, vf = p.reshape(-1), g.reshape(-1), v.reshape(-1)
        (t,) = self._scratch(p.dtype)
        for i, j in chunks:
            tc, vc, pc = t[:j - i], vf[i:j], pf[i:j]
            vc *= mu
            np.multiply(gf[i:j], a, out=tc)
            vc -= tc
            pc += vc


class RMSprop(SGD):
    """``r ← ρ r + (1−ρ) g²``, ``θ ← θ − η g / (√r + ε)``."""

    def __init__(self, lr=0.001, rho: float = 0.9, eps: float = 1e-8, **kw):
        super().__init__(lr, **kw)
        self.rho, self.eps = float(rho), float(eps)

    def _update(self, p, g, lr, key):
        r = self.state.get(key)
        if r is None:
            r = self.state[key] = np.zeros_like(p)
        r *= r.dtype.type(self.rho)
        r += r.dtype.type(1 - self.rho) * g * g
        p -= p.dtype.type(lr) * g / (np.sqrt(r) + p.dtype.type(self.eps))


class Adam(SGD):
    """Adam with bias correction (Kingma & Ba): see the module docstring."""

    def __init__(self, lr=0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, **kw):
        super().__init__(lr, **kw)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def _update(self, p, g, lr, key):
        st = self.state.get(key)
        if st is None:
            st = self.state[key] = (np.zeros_like(p), np.zeros_like(p))
        m, v = st
        dt = p.dtype.type
        b1, b2, c1, c2 = (dt(self.beta1), dt(self.beta2), dt(1 - self.beta1),
                          dt(1 - self.beta2))
        k1, k2 = dt(1 - self.beta1 ** self.t), dt(1 - self.beta2 ** self.t)
        a, eps = dt(lr), dt(self.eps)
        chunks = _chunked(p, g)
        if chunks is None:
            m *= b1
            m += c1 * g
            v *= b2
            v += c2 * g * g
            mhat = m / k1
            vhat = v / k2
            p -= a * mhat / (np.sqrt(vhat) + eps)
            return
        # the same operations entry by entry, in cache-sized chunks
        pf, gf, mf, vf = p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1)
        t, u = self._scratch(p.dtype, 2)
        for i, j in chunks:
            tc, uc, gc, mc, vc = t[:j - i], u[:j - i], gf[i:j], mf[i:j], vf[i:j]
            mc *= b1
            np.multiply(gc, c1, out=tc)
            mc += tc
            vc *= b2
            np.multiply(gc, c2, out=tc)
            tc *= gc
            vc += tc
            np.divide(mc, k1, out=tc)                 # m̂
            tc *= a                                   # η m̂
            np.divide(vc, k2, out=uc)                 # v̂
            np.sqrt(uc, out=uc)
            uc += eps
            tc /= uc
            pc = pf[i:j]
            pc -= tc

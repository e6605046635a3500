"""Counting the arithmetic that backpropagation costs (A6).

Two views that must agree:

* **analytic** formulas (:func:`dense_counts`, :func:`network_counts`,
  :func:`conv2d_counts`) under the convention below, and
* an **instrumented** mode: inside ``with counting() as c:`` every layer of
  the core reports the multiplications and additions its kernels actually
  perform (from the shapes of the matmuls, Hadamard products and
  reductions it executes) via :func:`record`.

Counting convention (A6, stated in the question):

* A product of two numbers is one multiplication; summing m numbers costs
  m − 1 additions; a subtraction counts as an addition.
* Counted: matrix products (``W a``: M_l·M_{l−1} mults, M_l·(M_{l−1}−1) adds),
  bias additions (M_l adds), the Hadamard product ``f'(z) ⊙ (·)`` of the
  error term (M_l mults), and the sums over a batch in the weight and bias
  gradients ((B−1)·M_l·M_{l−1} and (B−1)·M_l adds).
* Not counted: evaluating f and f' (reported separately as
  ``activations``), the loss and ``∂L/∂ŷ`` (the backward pass starts from the
  given ``∂L/∂a^{(L)}``), the 1/B of a batch mean (folded into ∂L/∂ŷ), and
  the parameter update.
* The first layer's ``W^{(1)ᵀ} δ^{(1)}`` is not computed (nothing needs
  ``∂L/∂x``).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

__all__ = ["OpCounts", "counting", "record", "is_counting", "dense_counts", "network_counts"]


@dataclass
class OpCounts:
    """Multiplications, additions and activation evaluations, split by pass."""
    forward_mults: int = 0
    forward_adds: int = 0
    backward_mults: int = 0
    backward_adds: int = 0
    activations: int = 0
    by_layer: list = field(default_factory=list)

    @property
    def mults(self) -> int:
        return self.forward_mults + self.backward_mults

    @property
    def adds(self) -> int:
        return self.forward_adds + self.backward_adds

    def as_dict(self) -> dict:
        return {"forward_mults": self.forward_mults, "forward_adds": self.forward_adds,
                "backward_mults": self.backward_mults, "backward_adds": self.backward_adds,
                "activations": self.activations}


_active: list[OpCounts] = []


def is_counting() -> bool:
    """True inside a :func:`counting` block (layers skip the bookkeeping otherwise)."""
    return bool(_active)


def record(pass_: str, mults: int = 0, adds: int = 0, activations: int = 0,
           layer: str = "") -> None:
    """Add counts for one kernel call; ``pass_`` is ``"forward"`` or ``"backward"``."""
    if not _active:
        return
    c = _active[-1]
    if pass_ == "forward":
        c.forward_mults += int(mults)
        c.forward_adds += int(adds)
    elif pass_ == "backward":
        c.backward_mults += int(mults)
        c.backward_adds += int(adds)
    else:
        raise ValueError(f"opcount.record: pass must be 'forward' or 'backward', got {pass_!r}")
    c.activations += int(activations)
    if layer:
        c.by_layer.append((layer, pass_, int(mults), int(adds)))


@contextlib.contextmanager
def counting():
    """Count the operations the core performs inside the block."""
    c = OpCounts()
    _active.append(c)
    try:
        yield c
    finally:
        _active.pop()


# -- analytic formulas under the convention above --------------------------------
def dense_counts(m_in: int, m_out: int, batch: int = 1, need_dx: bool = True,
                 activation: bool = True) -> dict:
    """Counts for one ``Linear(m_in → m_out)`` (+ activation) on a batch of B.

    forward:  mults ``B·m_out·m_in``; adds ``B·m_out·(m_in−1) + B·m_out`` (bias)
    backward: ``δ = f'(z) ⊙ ∂L/∂a``: ``B·m_out`` mults (if ``activation``);
              ``dW = δᵀ A_prev``: ``B·m_out·m_in`` mults, ``(B−1)·m_out·m_in`` adds;
              ``db``: ``(B−1)·m_out`` adds;
              ``Wᵀδ`` (if ``need_dx``): ``B·m_in·m_out`` mults, ``B·m_in·(m_out−1)`` adds.
    """
    B, k, m = batch, m_in, m_out
    return {
        "forward_mults": B * m * k,
        "forward_adds": B * m * (k - 1) + B * m,
        "backward_mults": (B * m if activation else 0) + B * m * k + (B * k * m if need_dx else 0),
        "backward_adds": (B - 1) * m * k + (B - 1) * m + (B * k * (m - 1) if need_dx else 0),
        "activations": (2 * B * m) if activation else 0,
    }


def network_counts(sizes, batch: int = 1, activation: bool = True) -> dict:
    """Sum of :func:`dense_counts` over ``sizes = (M_0, …, M_L)``; the first
    layer computes no ``Wᵀδ``.

    For A6 (L layers of n → n, B = 1): forward ``L n²`` mults and ``L n²``
    adds; backward ``(2L − 1) n² + L n`` mults and ``(L − 1) n (n − 1)`` adds —
    leading terms ``L n²`` forward and ``2 L n²`` backward.
    """
    total = dict.fromkeys(("forward_mults", "forward_adds", "backward_mults",
                           "backward_adds", "activations"), 0)
    for l in range(1, len(sizes)):
        c = dense_counts(sizes[l - 1], sizes[l], batch, need_dx=l > 1, activation=activation)
        for key in total:
            total[key] += c[key]
    return total

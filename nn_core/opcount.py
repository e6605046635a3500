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

__all__ = ["OpCounts", "counting", "record", "is_counting"]


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

"""SymPy derivations of every lecture result, checked against the numeric core.

Each derivation is a cached function returning a :class:`~.base.Derivation`:
the statement (中文 / English), the worked steps (SymPy objects with
bilingual captions, ``latex()``), the final expressions (``results``) and
NumPy callables of them (``callable(name)``) for the autograder.

    >>> from nn_core.symbolic import derive
    >>> d = derive("chain_rule_uv")
    >>> d.results["dz_dx"]
    2*x*y**2 + 2*x/y**2
    >>> float(d.callable("dz_dx")(1.0, 2.0))
    8.5

Topics (one module each): :mod:`.chain_rule` (A1), :mod:`.activations` and
:mod:`.output_layers` (A2), :mod:`.backprop` (A3–A5), :mod:`.opcount` (A6),
:mod:`.conv` (A7), :mod:`.training` (A8). Sizes of the symbolic cases are
keyword arguments, e.g. ``derive("log_softmax", K=4)``.
"""
from __future__ import annotations

from . import activations, backprop, chain_rule, conv, opcount, output_layers, training
from .base import Derivation, Step

__all__ = ["DERIVATIONS", "derive", "Derivation", "Step"]

DERIVATIONS: dict = {}
for _module in (chain_rule, activations, output_layers, backprop, opcount, conv, training):
    for _name, _fn in _module.DERIVATIONS.items():
        if _name in DERIVATIONS:  # pragma: no cover - a programming error
            raise RuntimeError(f"nn_core.symbolic: duplicate derivation name {_name!r}")
        DERIVATIONS[_name] = _fn


def derive(name: str, **sizes) -> Derivation:
    """The derivation ``name`` (cached; ``sizes`` such as ``K=4`` pick another symbolic case)."""
    try:
        fn = DERIVATIONS[name]
    except KeyError:
        raise KeyError(f"nn_core.symbolic: unknown derivation {name!r}; "
                       f"choose one of {sorted(DERIVATIONS)}") from None
    return fn(**sizes)

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

import inspect

from . import activations, backprop, chain_rule, conv, opcount, output_layers, training
from .base import Derivation, Step

__all__ = ["DERIVATIONS", "derive", "options_of", "MAX_SIZE", "Derivation", "Step"]

DERIVATIONS: dict = {}
for _module in (chain_rule, activations, output_layers, backprop, opcount, conv, training):
    for _name, _fn in _module.DERIVATIONS.items():
        if _name in DERIVATIONS:  # pragma: no cover - a programming error
            raise RuntimeError(f"nn_core.symbolic: duplicate derivation name {_name!r}")
        DERIVATIONS[_name] = _fn


#: The largest size a symbolic case may take: an H×H map has H² symbols and
#: SymPy's work grows quickly with them (a size of 100 would not finish). A
#: derivation lowers it for its own options with a ``max_sizes`` attribute.
MAX_SIZE = 8


def options_of(name: str) -> dict:
    """The options (sizes and the like) of derivation ``name`` with their defaults."""
    fn = inspect.unwrap(DERIVATIONS[name])
    return {k: p.default for k, p in inspect.signature(fn).parameters.items()}


def derive(name: str, **options) -> Derivation:
    """The derivation ``name`` (cached); ``options`` such as ``K=4`` pick another
    symbolic case. Sizes are integers from 1 to :data:`MAX_SIZE` (or the
    derivation's own ``max_sizes``, where SymPy is slower); an unknown
    option, a bad size or sizes that give no valid case raise a ``ValueError``
    that names the derivation and the options it takes."""
    try:
        fn = DERIVATIONS[name]
    except KeyError:
        raise KeyError(f"nn_core.symbolic: unknown derivation {name!r}; "
                       f"choose one of {sorted(DERIVATIONS)}") from None
    if not options:
        return fn()
    allowed = options_of(name)
    takes = ", ".join(f"{k}={v!r}" for k, v in allowed.items()) or "no options"
    where = f"nn_core.symbolic: derive({name!r})"
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"{where}: unknown option(s) {', '.join(unknown)}; it takes {takes}")
    for key, value in options.items():
        top = getattr(fn, "max_sizes", {}).get(key, MAX_SIZE)
        if isinstance(allowed[key], int) and not (type(value) is int and 1 <= value <= top):
            raise ValueError(f"{where}: {key} must be an integer from 1 to {top}, "
                             f"got {value!r}")
        if isinstance(allowed[key], str) and not isinstance(value, str):
            raise ValueError(f"{where}: {key} must be a string, got {value!r}")
    try:
        return fn(**options)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        shown = ", ".join(f"{k}={v!r}" for k, v in options.items())
        raise ValueError(f"{where}: {shown} gives no valid case ({exc}); "
                         f"it takes {takes}") from None

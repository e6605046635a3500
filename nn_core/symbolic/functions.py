"""SymPy functions with the lectures' names, their derivatives, and NumPy twins.

* ``sigma(x)`` — the logistic sigmoid ``σ(x) = 1/(1 + e^{−x})`` with
  ``σ'(x) = σ(x)(1 − σ(x))`` built in, so derivatives of networks stay short.
* ``relu(x)`` — ``max(0, x)`` with ``relu'(x) = θ(x)``.
* ``step(x)`` — ``θ(x)``, the Heaviside step taking the value **0 at x = 0**
  (the convention for ReLU's kink). Its own class, not SymPy's
  ``Heaviside``, so ``lambdify`` prints it as one cheap NumPy call.

* ``f(x)`` — a *generic* activation with derivative ``fprime(x)`` = f'(x)
  (both undefined): a proof with f holds for every activation.
  :func:`stand_in` swaps in a concrete smooth pair for numeric checks.

``NUMERIC`` maps their names to NumPy implementations for ``lambdify``.
"""
from __future__ import annotations

import functools

import numpy as np
import sympy as sp

__all__ = ["sigma", "relu", "step", "f", "fprime", "maximum", "rowsum", "column", "nrows",
           "NUMERIC", "MODULES", "elementary", "stand_in"]


class sigma(sp.Function):  # noqa: N801 (SymPy functions are lower case)
    """The logistic sigmoid ``σ(x) = 1/(1+e^{−x})``; ``σ' = σ(1−σ)``."""

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return 1 / (1 + sp.exp(-x))
        return None

    def fdiff(self, argindex=1):
        s = sigma(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sp.exp(-x))

    def _latex(self, printer, exp=None):
        tex = r"\sigma\left(%s\right)" % printer._print(self.args[0])
        return tex if exp is None else r"%s^{%s}" % (tex, exp)


class relu(sp.Function):  # noqa: N801
    """``ReLU(x) = max(0, x)``; derivative ``θ(x)`` with ``θ(0) = 0``."""

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return sp.Max(0, x)
        return None

    def fdiff(self, argindex=1):
        return step(self.args[0])

    def _eval_rewrite_as_Piecewise(self, x, **kwargs):
        return sp.Piecewise((x, x > 0), (0, True))

    def _latex(self, printer, exp=None):
        tex = r"\operatorname{ReLU}\left(%s\right)" % printer._print(self.args[0])
        return tex if exp is None else r"%s^{%s}" % (tex, exp)


class step(sp.Function):  # noqa: N801
    """Heaviside step ``θ(x) = 1`` for ``x > 0``, ``0`` for ``x ≤ 0``; ``θ' = 0`` a.e."""

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return sp.Integer(1 if x > 0 else 0)
        return None

    def fdiff(self, argindex=1):
        return sp.Integer(0)

    def _eval_rewrite_as_Piecewise(self, x, **kwargs):
        return sp.Piecewise((1, x > 0), (0, True))

    def _latex(self, printer, exp=None):
        tex = r"\theta\left(%s\right)" % printer._print(self.args[0])
        return tex if exp is None else r"%s^{%s}" % (tex, exp)


class f(sp.Function):  # noqa: N801
    """A generic activation; ``f'`` is :class:`fprime`."""

    def fdiff(self, argindex=1):
        return fprime(self.args[0])


class fprime(sp.Function):  # noqa: N801
    """The derivative f' of the generic activation :class:`f`."""

    def _latex(self, printer, exp=None):
        tex = r"f'\left(%s\right)" % printer._print(self.args[0])
        return tex if exp is None else r"\left(%s\right)^{%s}" % (tex, exp)


def stand_in(expr):
    """Replace the generic ``f``, ``f'`` by ``sin x + x³/5`` and its derivative."""
    return expr.replace(f, lambda x: sp.sin(x) + x**3 / 5).replace(
        fprime, lambda x: sp.cos(x) + 3 * x**2 / 5)


class maximum(sp.Function):  # noqa: N801
    """Code generation only: an unevaluated ``max`` (SymPy's ``Max`` re-simplifies
    its arguments whenever it is rebuilt)."""


class rowsum(sp.Function):  # noqa: N801
    """Code generation only: ``Σ_i`` over the rows of a batch (a NumPy sum)."""


class column(sp.Function):  # noqa: N801
    """Code generation only: ``column(X, k) = X[:, k]``."""


class nrows(sp.Function):  # noqa: N801
    """Code generation only: ``nrows(X) = n``, the number of rows."""


def _np_sigmoid(x):
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=float)))


def _np_relu(x):
    return np.maximum(np.asarray(x, dtype=float), 0.0)


def _np_step(x):
    return (np.asarray(x, dtype=float) > 0).astype(float)


NUMERIC = {"sigma": _np_sigmoid, "relu": _np_relu, "step": _np_step,
           "maximum": lambda *a: functools.reduce(np.maximum, a),
           "rowsum": lambda e: np.sum(e, axis=0), "column": lambda X, k: X[:, int(k)],
           "nrows": lambda X: X.shape[0]}
MODULES = [NUMERIC, "numpy"]


def elementary(expr):
    """Rewrite ``σ``, ``ReLU``, ``θ`` into exp / Piecewise (for symbolic checks)."""
    return expr.replace(sigma, lambda x: 1 / (1 + sp.exp(-x))).replace(
        relu, lambda x: sp.Piecewise((x, x > 0), (0, True))).replace(
        step, lambda x: sp.Piecewise((1, x > 0), (0, True)))

"""The structured result every derivation returns.

A :class:`Derivation` holds

* ``statement`` — what is derived, ``{"zh": …, "en": …}``;
* ``steps`` — the worked solution, a list of :class:`Step` (a SymPy
  expression, equation or matrix with a caption in both languages, and
  whether it claims to equal the previous step);
* ``results`` — the final SymPy expressions, by name;
* ``symbols`` — the inputs, by name, in the order the callables take them
  (a Symbol, a Matrix of Symbols, or an IndexedBase);
* ``args`` — for a result that needs only some inputs, their names;
* ``definitions`` — intermediate symbols (``u = xy``, ``h_2 = h_1 + b``, …)
  that are substituted before two steps are compared;
* ``index_values`` — for steps written with symbolic sizes and indices
  (``K``, ``n``, ``i``, ``j``), the integer values to check them at
  (default: random sizes 2–4);
* ``program`` / ``compact`` — optional fast path for ``callable``: a result
  written in the intermediates (``compact[name]``) and the ordered
  assignments defining them (``program``, e.g. z, a forward then δ
  backward), lambdified as straight-line code instead of one huge
  expression. ``results`` always holds the expanded form.

``callable(name)`` lambdifies a result for NumPy (cached). Inputs and
outputs follow ``nn_core``'s shapes: a column vector is a 1-D array, any
other matrix a 2-D array (``W ∈ R^{out×in}``), an IndexedBase any array.
``check_steps()`` verifies every step that claims equality with the one
before it (symbolically when the difference is small, else numerically at
random points).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from .functions import MODULES, elementary, maximum, stand_in, step

__all__ = ["Step", "Derivation", "mat", "vec"]


@dataclass(frozen=True)
class Step:
    """One line of a worked solution: ``lhs = expr`` (``lhs`` optional).

    ``expr`` may be a SymPy expression, a matrix, or an ``Eq`` (then its
    left side is the ``lhs``). ``claims_equal``: this step's value equals
    the previous step's value (after substituting the definitions).
    """
    expr: Any
    caption_zh: str
    caption_en: str
    claims_equal: bool = False
    lhs: Any = None

    @property
    def value(self):
        return self.expr.rhs if isinstance(self.expr, sp.Equality) else self.expr

    def latex(self) -> str:
        if isinstance(self.expr, sp.Equality):
            lhs, rhs = self.expr.lhs, self.expr.rhs
        else:
            lhs, rhs = self.lhs, self.expr
        body = sp.latex(rhs)
        if lhs is None:
            return body
        left = lhs if isinstance(lhs, str) else sp.latex(lhs)
        relation = left.rstrip().endswith((r"\le", r"\ge", "<", ">", "="))   # lhs states its own relation
        return left + (" " if relation else " = ") + body


def mat(base: str, rows: int, cols: int, **assumptions) -> sp.Matrix:
    """``rows × cols`` matrix of symbols named ``base_{ij}`` (1-based, as in the lectures)."""
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{base}_{{{i + 1}{j + 1}}}",
                                                        **assumptions))


def vec(base: str, size: int, **assumptions) -> sp.Matrix:
    """Column vector of symbols ``base_{i}``, ``i = 1 … size``."""
    return sp.Matrix(size, 1, lambda i, _: sp.Symbol(f"{base}_{{{i + 1}}}", **assumptions))


def _lambdify_arg(sym):
    if isinstance(sym, sp.MatrixBase):
        return list(sym) if sym.shape[1] == 1 else sym.tolist()
    return sym


def _xrep(sym, mapping):
    return sym.xreplace(mapping) if isinstance(sym, (sp.MatrixBase, sp.Symbol)) else sym


def _needed(program, expr):
    """The assignments of ``program`` that ``expr`` depends on, in order."""
    need = set(expr.free_symbols)
    keep = []
    for sym, rhs in reversed(program):
        if sym in need:
            keep.append((sym, rhs))
            need |= rhs.free_symbols
    return keep[::-1]


def _atoms_to_dummies(expr):
    """Replace Indexed atoms (``X[i, k]``) by plain symbols for lambdify."""
    return expr.xreplace({a: sp.Dummy() for a in expr.atoms(sp.Indexed)})


@dataclass
class Derivation:
    name: str
    statement: dict
    steps: list
    results: dict
    symbols: dict
    args: dict = field(default_factory=dict)
    definitions: dict = field(default_factory=dict)
    index_values: list = field(default_factory=list)
    program: list = field(default_factory=list)
    compact: dict = field(default_factory=dict)
    _fns: dict = field(default_factory=dict, repr=False, compare=False)
    _safe: tuple | None = field(default=None, repr=False, compare=False)

    # -- callables -----------------------------------------------------------
    def arg_names(self, name: str) -> tuple[str, ...]:
        """The inputs ``callable(name)`` takes, in order."""
        return tuple(self.args.get(name, self.symbols))

    def callable(self, name: str):
        """NumPy function of the inputs :meth:`arg_names` returning ``results[name]``.

        Accepts positional or keyword arguments (the names in ``symbols``).
        """
        if name in self._fns:
            return self._fns[name]
        if name not in self.results:
            raise KeyError(f"{self.name}: no result {name!r}; have {sorted(self.results)}")
        expr = self.results[name]
        names = self.arg_names(name)
        safe, program = self._safe_names()
        arglist = [_lambdify_arg(_xrep(self.symbols[k], safe)) for k in names]
        if name in self.compact:
            target = self.compact[name].xreplace(safe)
            prog = _needed(program, target)
            raw = sp.lambdify(arglist, target, modules=MODULES, cse=lambda e: (prog, e),
                              dummify=False)
        else:
            raw = sp.lambdify(arglist, expr.xreplace(safe), modules=MODULES,
                              cse=not expr.has(sp.Sum), dummify=False)
        column = isinstance(expr, sp.MatrixBase) and expr.shape[1] == 1
        matrix = isinstance(expr, sp.MatrixBase)

        def fn(*a, **kw):
            bound = inspect.Signature(
                [inspect.Parameter(k, inspect.Parameter.POSITIONAL_OR_KEYWORD) for k in names]
            ).bind(*a, **kw)
            vals = [np.asarray(bound.arguments[k], dtype=float) for k in names]
            out = np.asarray(raw(*vals), dtype=float)
            if column:
                return out.reshape(-1)
            if not matrix:  # constants broadcast like the scalar inputs
                scalars = [v for k, v in zip(names, vals)
                           if not isinstance(self.symbols[k], (sp.MatrixBase, sp.IndexedBase))]
                if scalars:
                    out = out + np.zeros(np.broadcast(*scalars).shape)
            return out

        fn.__name__ = f"{self.name}_{name}"
        fn.__doc__ = f"{self.name}: {name}({', '.join(names)}) = {expr}"
        self._fns[name] = fn
        return fn

    def _safe_names(self):
        """Plain Python names for the inputs and intermediates (lambdify then
        needs no dummies) and the program rewritten in them; computed once."""
        if self._safe is None:
            inputs = [s for v in self.symbols.values()
                      for s in (list(v) if isinstance(v, sp.MatrixBase) else [v])
                      if isinstance(s, sp.Symbol)]
            safe = {s: sp.Symbol(f"_a{k}") for k, s in enumerate(inputs)}
            safe.update({sym: sp.Symbol(f"_t{k}") for k, (sym, _) in enumerate(self.program)})
            program = [(safe[sym], rhs.xreplace(safe)) for sym, rhs in self.program]
            self._safe = (safe, program)
        return self._safe

    # -- rendering -----------------------------------------------------------
    def latex(self) -> list[str]:
        """Every step as a LaTeX string (one per step)."""
        return [s.latex() for s in self.steps]

    def worked_solution(self, lang: str = "en") -> str:
        """Markdown: the statement, then each caption with its display formula."""
        lines = [self.statement[lang], ""]
        for s in self.steps:
            caption = s.caption_zh if lang == "zh" else s.caption_en
            lines += [caption, "", "$$" + s.latex() + "$$", ""]
        return "\n".join(lines)

    # -- verification ----------------------------------------------------------
    def expand(self, expr):
        """Substitute the definitions until no intermediate symbol is left."""
        for _ in range(len(self.definitions) + 1):
            # xreplace also reaches inside sums whose index the key uses (A1[i, j])
            new = expr.xreplace(self.definitions) if self.definitions else expr
            if new == expr:
                break
            expr = new
        return expr

    def check_steps(self, rng=None, points: int = 4, tol: float = 1e-9) -> list[str]:
        """Return the problems found (empty list: every claimed equality holds)."""
        rng = np.random.default_rng(0) if rng is None else rng
        problems = []
        for k in range(1, len(self.steps)):
            if not self.steps[k].claims_equal:
                continue
            a = self.expand(self.steps[k - 1].value)
            b = self.expand(self.steps[k].value)
            if not _equal(a, b, rng, points, tol, self.index_values):
                problems.append(f"{self.name}: step {k} ({self.steps[k].caption_en!r}) "
                                f"is not equal to step {k - 1}")
        return problems


def _sum_normal(expr):
    """Collect ``c · Σ_i f`` terms with equal limits into one sum ``Σ_i (c f)``
    (``c`` free of the index) and drop the sums whose summand expands to 0."""
    groups, rest = {}, []
    for term in sp.Add.make_args(sp.expand(expr)):
        sums = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.Sum)]
        if len(sums) == 1 and not ((term / sums[0]).free_symbols & set(sums[0].variables)):
            groups.setdefault(sums[0].limits, []).append(term / sums[0] * sums[0].function)
        else:
            rest.append(term)
    total = [sp.Sum(f, *lim) for lim, fs in groups.items() if (f := sp.expand(sp.Add(*fs))) != 0]
    return sp.Add(*rest, *total)


def _shape(e):
    return e.shape if isinstance(e, sp.MatrixBase) else ()


def _equal(a, b, rng, points, tol, index_values=()) -> bool:
    """``a == b``: by expansion, by collecting sums, by ``simplify`` (small
    expressions), else numerically at random points (sizes from ``index_values``)."""
    if _shape(a) != _shape(b):
        return False
    diff = sp.Matrix(a) - sp.Matrix(b) if _shape(a) else a - b
    zero = sp.zeros(*diff.shape) if _shape(a) else 0
    if not diff.has(sp.Max) and sp.expand(diff) == zero:   # expanding Max is slow
        return True
    if diff.has(sp.Sum):
        normal = diff.applyfunc(_sum_normal) if _shape(a) else _sum_normal(diff)
        if normal == zero:
            return True
    elif sp.count_ops(diff) <= 300 and not diff.has(sp.Max, sp.Min, step):  # else: slow
        try:
            if sp.simplify(elementary(diff)) == zero:
                return True
        except Exception:  # pragma: no cover - fall back to numbers
            pass
    both = sp.Matrix([a, b]) if not _shape(a) else sp.Matrix.vstack(sp.Matrix(a), sp.Matrix(b))
    both = stand_in(both)  # a generic activation f: check with a concrete one
    integer = [s for s in both.free_symbols if s.is_integer]
    if not integer:
        return _numeric_equal(both, rng, points, tol)
    subs_sets = [{s: v for s, v in d.items() if s in integer} for d in index_values] or \
        [{s: int(rng.integers(2, 5)) for s in integer} for _ in range(2)]
    return all(_numeric_equal(both.subs(d).doit(), rng, points, tol) for d in subs_sets)


def _numeric_equal(both, rng, points, tol) -> bool:
    """``both`` stacks the two sides: compare its top and bottom halves."""
    both = _atoms_to_dummies(both)
    both = both.replace(sp.Max, maximum)  # renaming would re-simplify every Max (slow)
    names = {s: sp.Symbol(f"_v{k}") for k, s in enumerate(sorted(both.free_symbols, key=str))}
    both = both.xreplace(names)          # plain names: lambdify needs no dummies (much faster)
    syms = list(names.values())
    f = sp.lambdify(syms, both, modules=MODULES, dummify=False)
    half = both.shape[0] // 2
    for _ in range(points):
        vals = rng.uniform(0.2, 1.8, len(syms)) * rng.choice([-1.0, 1.0], len(syms))
        out = np.asarray(f(*vals), dtype=complex)
        x, y = out[:half], out[half:]
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            vals = np.abs(vals)  # a domain problem (log of a negative): retry positive
            out = np.asarray(f(*vals), dtype=complex)
            x, y = out[:half], out[half:]
        if not np.allclose(x, y, rtol=tol, atol=tol):
            return False
    return True

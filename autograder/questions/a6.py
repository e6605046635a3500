"""A6 — what backpropagation costs: counting operations (seed 001 作业 3).

L layers, each with n inputs and n neurons, sigmoid units, squared error.
The counting convention is :mod:`nn_core.opcount`'s (the notebook states it):

* a product of two numbers is one multiplication; summing m numbers costs
  m − 1 additions; a subtraction counts as an addition;
* counted: matrix products (``W a``: n·n multiplications, n(n − 1)
  additions), bias additions (n), the Hadamard product ``f'(z) ⊙ (·)`` of
  the error term (n multiplications), the sums over a batch in the weight
  and bias gradients;
* not counted: evaluating f and f', the loss and ∂L/∂ŷ (the backward pass
  starts from ∂L/∂a^{(L)}), the 1/B of a batch mean, the parameter update;
  the first layer computes no ``W^{(1)ᵀ} δ^{(1)}`` (nothing needs ∂L/∂x).

Cost formulas (kind "order", symbols ``n`` and ``L``, one sample)::

    q1  layer_mul     multiplications of one layer's forward pass   z = W a + b
        layer_add     additions of one layer's forward pass (the sums of W a and the bias)
        forward_mul   multiplications of the whole forward pass
    q2  delta_mul     multiplications for a hidden layer's error term
                      δ^{(l)} = f'(z^{(l)}) ⊙ (W^{(l+1)ᵀ} δ^{(l+1)})
        grad_mul      multiplications for a layer's weight gradient δ^{(l)} a^{(l−1)ᵀ}
        backward_mul  multiplications of the whole backward pass

The exact count under the convention earns full credit, a polynomial with
only the right leading term (highest total degree in n, L) earns
``order.leading_term_fraction`` of the part (course.yaml). References are
polynomials fitted exactly (:func:`fit_count`: a rational linear solve on a
grid, checked at further points) to :func:`nn_core.opcount.dense_counts` and
:func:`nn_core.opcount.network_counts` — the convention's own code.

Student function (q3)::

    count_ops(layer_sizes, batch)
            -> (forward_mults, forward_adds, backward_mults, backward_adds)
        layer_sizes = [M_0, M_1, …, M_L] (a list of ints: the input size, then
        each layer's number of neurons); batch = B, the number of samples
        (rows of X) processed at once. Each layer is z = W a + b followed by
        the sigmoid; the counts of one forward and one backward pass (all
        gradients, no update) under the convention above: four integers in
        this order (a tuple; a list or an array of shape (4,) is accepted
        too). Judged exactly against the operations nn_core's reference
        network actually performs while it runs (:func:`nn_core.opcount.counting`).

q4 (numbers, for the variant's n, L and B): ``batch_scale`` — by what
factor the multiplications (forward + backward) grow when a batch of B
samples is processed instead of one (B); ``ratio`` — backward
multiplications / forward multiplications for one sample (exactly
2 − 1/L + 1/n, ≈ 2). Both from counts taken while the network runs.
"""
from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np
import sympy as sp

from nn_core.models import mlp
from nn_core.opcount import counting, dense_counts, network_counts

from ..functions import FnSpec
from ..i18n import msg
from ..mistakes import MISSING_ACTIVATION_DERIVATIVE, Mistake
from ..variants import Variants
from .base import Part, Question


# -- the mistakes A6's feedback names ----------------------------------------

COUNT_N_FOR_N2 = Mistake(
    "count_n_for_n2",
    name=msg("计数差了一个 n 的因子",
             "Count off by a factor n"),
    hint=msg("每层 W a 需要 n² 次乘法，而不是 n 次。",
             "W a costs n² multiplications per layer, not n."))

COUNT_MISSING_BACKWARD_TERM = Mistake(
    "count_missing_backward_term",
    name=msg("反向传播少算了一项",
             "A backward term is missing"),
    hint=msg("每层既要算误差项 W^(l+1)ᵀ δ^(l+1)，也要算权重梯度 δ a^(l−1)ᵀ。",
             "each layer computes both the error term W^(l+1)ᵀ δ^(l+1) and the weight "
             "gradient δ a^(l−1)ᵀ."))

N, L = sp.symbols("n L", integer=True, positive=True)
COUNT_KEYS = ("forward_mults", "forward_adds", "backward_mults", "backward_adds")


# -- fitting the convention's counts ------------------------------------------------------
def fit_count(count, variables=(N, L), degree: int = 3) -> sp.Expr:
    """The polynomial of degree ≤ ``degree`` in each of ``variables`` that
    equals ``count(*values)`` on the grid ``{1, …, degree + 1}^k`` (an exact
    rational solve), checked at points off the grid."""
    monomials = [sp.Mul(*[v**e for v, e in zip(variables, exps)])
                 for exps in itertools.product(range(degree + 1), repeat=len(variables))]
    grid = list(itertools.product(range(1, degree + 2), repeat=len(variables)))
    A = sp.Matrix([[m.subs(dict(zip(variables, pt))) for m in monomials] for pt in grid])
    b = sp.Matrix([sp.Integer(int(count(*pt))) for pt in grid])
    poly = sp.expand(sum(c * m for c, m in zip(A.LUsolve(b), monomials)))
    for pt in itertools.product((7, 11, 16), repeat=len(variables)):
        if poly.subs(dict(zip(variables, pt))) != count(*pt):       # pragma: no cover
            raise RuntimeError(f"fit_count: the counts are not a polynomial of degree {degree}")
    return poly


def _layer(key, **options):
    """One n → n layer's count ``key`` (B = 1), as a function of n."""
    return lambda n: dense_counts(n, n, 1, **options)[key]


def _network(key, per_layer=None):
    """L layers of n → n (B = 1): nn_core's network count ``key``, or the sum
    of ``per_layer(n)`` over the L layers."""
    if per_layer is None:
        return lambda n, L_: network_counts([n] * (L_ + 1), 1)[key]
    return lambda n, L_: L_ * per_layer(n)


@lru_cache(maxsize=None)
def cost_formulas() -> dict[str, sp.Expr]:
    """The six cost formulas, fitted to nn_core.opcount (see the module docstring)."""
    one = lambda f: fit_count(f, (N,))                                     # noqa: E731
    bm = "backward_mults"
    wt_delta = lambda n: _layer(bm)(n) - _layer(bm, need_dx=False)(n)      # noqa: E731  W^{(l+1)ᵀ}δ
    hadamard = lambda n: _layer(bm)(n) - _layer(bm, activation=False)(n)   # noqa: E731  f'(z) ⊙ ·
    return {
        "layer_mul": one(_layer("forward_mults")),
        "layer_add": one(_layer("forward_adds")),
        "forward_mul": fit_count(_network("forward_mults")),
        "delta_mul": one(lambda n: wt_delta(n) + hadamard(n)),
        "grad_mul": one(_layer(bm, need_dx=False, activation=False)),
        "backward_mul": fit_count(_network(bm)),
    }


def _n_for_n2(expr: sp.Expr) -> sp.Expr:
    """Each term's power of n lowered by one where it is ≥ 2 (n² counted as n)."""
    poly = sp.Poly(expr, N, L)
    return sp.Add(*[c * N**(a - 1 if a >= 2 else a) * L**b for (a, b), c in poly.terms()])


def _count_n_for_n2(parts):
    return lambda p: {k: _n_for_n2(cost_formulas()[k]) for k in parts}


def _backward_without_wt_delta(p=None):
    """The backward multiplications with no ``W^{(l+1)ᵀ} δ^{(l+1)}`` in any layer."""
    return {"backward_mul": fit_count(_network(
        "backward_mults", per_layer=_layer("backward_mults", need_dx=False)))}


def cost_answers(parts):
    return lambda p, up=None: {k: cost_formulas()[k] for k in parts}


# -- q3: the function -------------------------------------------------------------------------
def _network_for(sizes, batch, seed: int = 0):
    rng = np.random.default_rng(seed)
    net = mlp(sizes, activation="sigmoid", output="sigmoid", loss="half_squared_error", rng=rng)
    return net, rng.standard_normal((batch, sizes[0])), rng.random((batch, sizes[-1]))


def counted(layer_sizes, batch):
    """The operations nn_core's network ``Linear → σ → … → Linear → σ`` with
    the squared error performs in one forward and backward pass on a batch,
    counted while it runs (:class:`nn_core.opcount.OpCounts`)."""
    sizes = [int(m) for m in np.ravel(layer_sizes)]
    net, X, Y = _network_for(sizes, int(batch))
    with counting() as c:
        net.gradients(X, Y)
    return c


def count_ops_reference(layer_sizes, batch):
    """``[forward_mults, forward_adds, backward_mults, backward_adds]`` counted
    while nn_core's network runs (an array, so a student's tuple, list or
    array of the four counts all compare)."""
    c = counted(layer_sizes, batch)
    return np.array([getattr(c, k) for k in COUNT_KEYS], dtype=np.float64)


def _analytic(layer_sizes, batch, **options):
    """The convention's counts layer by layer (dense_counts), with ``options``
    (``need_dx``, ``activation``) applied to every layer — the mistakes."""
    sizes = [int(m) for m in np.ravel(layer_sizes)]
    total = dict.fromkeys(COUNT_KEYS, 0)
    for l in range(1, len(sizes)):
        c = dense_counts(sizes[l - 1], sizes[l], int(batch), **{"need_dx": l > 1, **options})
        for k in COUNT_KEYS:
            total[k] += c[k]
    return np.array([total[k] for k in COUNT_KEYS], dtype=np.float64)


def _count_cases(rng):
    cases = [([3, 4, 2], 1), ([5, 5, 5, 5], 3)]
    for _ in range(3):
        depth = int(rng.integers(2, 6))
        cases.append(([int(m) for m in rng.integers(1, 10, depth)], int(rng.integers(1, 7))))
    n, L_ = int(rng.integers(4, 12)), int(rng.integers(2, 6))
    cases.append(([n] * (L_ + 1), int(rng.integers(2, 9))))
    return cases


COUNT_OPS = FnSpec(
    "count_ops", _count_cases, count_ops_reference, rtol=0.0, atol=1e-9,
    mistakes=(COUNT_MISSING_BACKWARD_TERM.with_fn(lambda s, b: _analytic(s, b, need_dx=False)),
              MISSING_ACTIVATION_DERIVATIVE.with_fn(
                  lambda s, b: _analytic(s, b, activation=False))))


# -- q4: numbers -------------------------------------------------------------------------------
def _sizes(p):
    v = {**LECTURE, **(p or {})}
    return [int(v["n"])] * (int(v["L"]) + 1), int(v["B"])


def scaling(p=None, up=None):
    """``batch_scale`` = multiplications on a batch of B / on one sample and
    ``ratio`` = backward / forward multiplications, both counted while
    nn_core's network runs on the variant's n, L, B."""
    sizes, B = _sizes(p)
    one, many = counted(sizes, 1), counted(sizes, B)
    return {"batch_scale": many.mults / one.mults,
            "ratio": one.backward_mults / one.forward_mults}


def _ratio_without_wt_delta(p=None):
    sizes, _ = _sizes(p)
    fm, _, bm, _ = _analytic(sizes, 1, need_dx=False)
    return {"ratio": bm / fm}


# -- the variant: the lecture's numbers and a student's ----------------------------------
#: q4's width, depth and batch (the lecture states none: n = 100, L = 10, B = 32)
LECTURE = {"n": 100, "L": 10, "B": 32}


def _variant(rng) -> dict:
    """Width n, depth L, batch B; n > L so backward/forward = 2 − 1/L + 1/n ≠ 2."""
    return {"n": int(rng.choice([16, 20, 32, 50, 64, 100, 128])), "L": int(rng.integers(3, 13)),
            "B": int(rng.choice([8, 16, 32, 64, 100]))}


VARIANTS = Variants(lecture=LECTURE, generate=_variant)


# -- questions -----------------------------------------------------------------------------------
DOMAIN = {"n": list(range(1, 65)), "L": list(range(1, 33))}


def _order(name):
    return Part(name, kind="order", symbols=("n", "L"), domain=DOMAIN)


Q1_PARTS = ("layer_mul", "layer_add", "forward_mul")
Q2_PARTS = ("delta_mul", "grad_mul", "backward_mul")

Q1 = Question(
    id="A6.q1",
    title=msg("前向传播的代价：每层的乘法、加法次数与整个前向传播的乘法次数",
              "The cost of the forward pass: one layer's multiplications and additions, and the "
              "whole forward pass's multiplications"),
    parts=tuple(_order(k) for k in Q1_PARTS),
    build=cost_answers(Q1_PARTS),
    mistakes=(COUNT_N_FOR_N2.with_make(_count_n_for_n2(Q1_PARTS)),),
)

Q2 = Question(
    id="A6.q2",
    title=msg("反向传播的代价：误差项、权重梯度与整个反向传播的乘法次数",
              "The cost of the backward pass: multiplications for the error term, the weight "
              "gradient and the whole backward pass"),
    parts=tuple(_order(k) for k in Q2_PARTS),
    build=cost_answers(Q2_PARTS),
    mistakes=(COUNT_N_FOR_N2.with_make(_count_n_for_n2(Q2_PARTS)),
              COUNT_MISSING_BACKWARD_TERM.with_make(_backward_without_wt_delta)),
)

Q3 = Question(
    id="A6.q3",
    title=msg("count_ops：按约定统计前向与反向的乘法、加法次数",
              "count_ops: forward and backward multiplications and additions under the convention"),
    parts=(Part("count_ops", kind="fn", fn=COUNT_OPS),),
    build=None,
)

Q4 = Question(
    id="A6.q4",
    title=msg("批量 B 使计数乘以 B；反向约为前向的 2 倍",
              "A batch of B multiplies the counts by B; backward costs about twice the forward"),
    parts=(Part("batch_scale"), Part("ratio")),
    build=scaling,
    mistakes=(COUNT_MISSING_BACKWARD_TERM.with_make(_ratio_without_wt_delta),),
)

QUESTIONS = (Q1, Q2, Q3, Q4)

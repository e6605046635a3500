"""A2 — activation and output-layer derivatives (seeds 000, 001 作业(2), 002).

Formula parts (strings such as ``"σ(x)(1−σ(x))"`` or SymPy expressions; any
mathematically equal form is right). The symbols each may use::

    q1  dsigmoid, d2sigmoid     x                 σ'(x), σ''(x)
    q2  tanh, relu, softplus    x                 tanh'(x), ReLU'(x), softplus'(x)
        relu_at_0               (a number part)   ReLU'(0): a number (nn_core: 0)
        leaky_relu, elu         x, gamma (γ)      LeakyReLU'(x), ELU'(x)   (slope / parameter γ)
        prelu                   x, gamma_i (γ_i)  ∂PReLU_i(x)/∂γ_i
    q3  grad                    i, j, softmax_j   ∂ log softmax(x)_i / ∂x_j   (s_j = softmax_j;
                                                  Kronecker delta: delta(i, j) or δ(i, j))
    q4  softmax_ce              yhat_j, y_j       ∂L/∂x_j of L = −Σ_k y_k log softmax(x)_k,
                                                  ŷ = softmax(x), Σ_k y_k = 1  (also yhat, ŷ,
                                                  ŷ_j, s_j, softmax_j for ŷ_j and y for y_j)
        sigmoid_bce             z, y              ∂L/∂z of L = −[y log a + (1−y) log(1−a)],
                                                  a = σ(z)  (``a`` may be used for σ(z))

Piecewise derivatives (seed 002 puts x ≤ 0 in the γ branch) may be written
``where(x > 0, 1, gamma)`` or with ``heaviside``/``step``; the kink itself is
judged by ``relu_at_0`` only.

Every reference is differentiated by SymPy from the definitions in
:mod:`nn_core.symbolic` (``derive("sigmoid")``, ``derive("tanh")``, …), never
typed in; the catalogued mistakes are the same differentiations with one
step changed.

Student functions::

    log_softmax_jacobian(x) -> J        # q3 "jacobian"
        x of shape (K,); J of shape (K, K), J[i, j] = ∂ log softmax(x)_i / ∂x_j
        = δ_ij − softmax(x)_j. Judged on hidden inputs against nn_core and by
        finite differences of the student's own ``log_softmax`` (q5).
    sigmoid(x) -> a                     # q5 "sigmoid"
        σ(x) = 1/(1 + e^{−x}) elementwise, any shape (0-d included); finite
        and accurate for entries as large as ±1000.
    log_softmax(x) -> out               # q5 "log_softmax"
        log softmax along the last axis: x of shape (K,) or (n, K) (one row
        per sample), out of the same shape; finite and accurate for ±1000.

q6 (numbers): ``max_dsigmoid`` = max_x σ'(x) = 1/4 (SymPy: σ'' = 0 ⇔ σ = ½)
and ``bound`` = (max σ')^L, the most a chain of ``L`` sigmoid layers can
scale a gradient by; ``L`` is the variant's (``params["L"]``, lecture
default :data:`LECTURE`), stated in the notebook.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp

from nn_core.activations import log_softmax, log_softmax_jacobian, relu_grad, sigmoid
from nn_core.symbolic import derive
from nn_core.symbolic.functions import elementary

from ..functions import FnSpec, GradCheck
from ..i18n import msg
from ..mistakes import CHAIN_RULE_MISSING_INNER, RELU_DERIVATIVE_WHEN_OFF, Mistake
from ..variants import Variants
from .base import Part, Question


# -- the mistakes A2's feedback names ----------------------------------------

FUNCTION_FOR_DERIVATIVE = Mistake(
    "function_for_derivative",
    name=msg("给出的是函数本身（或它在极值点的值），不是导数",
             "That is the function itself (or its value at the maximum), not its derivative"),
    hint=msg("对 σ(z) = 1/(1 + e^{−z}) 用链式法则求导。",
             "differentiate σ(z) = 1/(1 + e^{−z}) with the chain rule."))

LOG_SOFTMAX_MISSING_DELTA = Mistake(
    "log_softmax_missing_delta",
    name=msg("log-softmax 的梯度漏了 δ_ij 项（或把它当成了恒为 1，写成 1 − softmax_j）",
             "The log-softmax gradient lacks the δ_ij term (or takes it as always 1, 1 − "
             "softmax_j)"),
    hint=msg("∂/∂x_j log softmax(x)_i = δ_ij − softmax(x)_j，i ≠ j 时 δ_ij = 0。",
             "∂/∂x_j log softmax(x)_i = δ_ij − softmax(x)_j, and δ_ij = 0 for i ≠ j."))

SOFTMAX_JACOBIAN_DIAG = Mistake(
    "softmax_jacobian_diag",
    name=msg("softmax 的雅可比矩阵只写了 diag(s)",
             "Softmax Jacobian given as diag(s) only"),
    hint=msg("应为 diag(s) − s sᵀ。",
             "it is diag(s) − s sᵀ."))

FUNCTION_FOR_RELU_DERIVATIVE = Mistake(
    "function_for_relu_derivative",
    name=msg("写的是 ReLU(x) = max(0, x) 本身，不是它的导数",
             "That is ReLU(x) = max(0, x) itself, not its derivative"),
    hint=msg("ReLU'(x) = 1（x > 0），0（x ≤ 0）。",
             "ReLU'(x) = 1 for x > 0, 0 for x ≤ 0."))

NEGATIVE_BRANCH_DERIVATIVE = Mistake(
    "negative_branch_derivative",
    name=msg("x ≤ 0 一支的导数不对",
             "The derivative on the x ≤ 0 branch is wrong"),
    hint=msg("按 seed 002 的定义，对那一支的表达式（Leaky ReLU 为 γx，ELU 为 γ(eˣ − 1)）求导。",
             "differentiate that branch of seed 002's definition (Leaky ReLU is γx there, ELU "
             "is γ(eˣ − 1))."))

WRONG_VARIABLE = Mistake(
    "wrong_variable",
    name=msg("求导的变量不对",
             "Differentiated with respect to the wrong variable"),
    hint=msg("这里要对斜率 γ_i 求导（把 x 看作常数），不是对 x 求导。",
             "the question asks for the derivative in the slope γ_i (x held fixed), not in x."))

JACOBIAN_TRANSPOSED = Mistake(
    "jacobian_transposed",
    name=msg("Jacobian 转置了",
             "Jacobian transposed"),
    hint=msg("J_ij = ∂y_i/∂x_j，第 i 行是第 i 个输出对各输入的导数。",
             "J_ij = ∂y_i/∂x_j — row i holds the derivatives of output i."))

OUTPUT_GRADIENT_SIGN = Mistake(
    "output_gradient_sign",
    name=msg("符号反了",
             "The sign is flipped"),
    hint=msg("预测值偏大时，损失对 logit 的梯度应为正（梯度下降才会把预测往下拉）。",
             "when the prediction is too large the loss's gradient at the logit must be "
             "positive (so that gradient descent pulls the prediction down)."))

BCE_GRADIENT_AT_OUTPUT = Mistake(
    "bce_gradient_at_output",
    name=msg("这是 ∂L/∂a，不是 ∂L/∂z",
             "That is ∂L/∂a, not ∂L/∂z"),
    hint=msg("还要用链式法则乘上 ∂a/∂z，再化简。",
             "multiply by ∂a/∂z (chain rule), then simplify."))


@dataclass(frozen=True)
class FormulaPart(Part):
    """A formula part whose answers may also use ``definitions``: names
    standing for expressions over the symbols (``a`` for ``σ(z)``), replaced
    before the comparison (see :func:`autograder.formula.check_formula`)."""
    definitions: dict | None = None


def _sym(name, *symbols, domain=None, definitions=None):
    return FormulaPart(name, kind="sym", symbols=symbols, domain=domain, definitions=definitions)


# -- q1: σ' and σ'' ------------------------------------------------------------------
@lru_cache(maxsize=None)
def _sigmoid():
    """``(σ(x) = 1/(1+e^{−x}), x)``: nn_core's σ written out in exp."""
    d = derive("sigmoid")
    return elementary(d.results["sigmoid"]), d.symbols["x"]


def sigmoid_derivatives(p=None, up=None):
    f, x = _sigmoid()
    return {"dsigmoid": sp.diff(f, x), "d2sigmoid": sp.diff(f, x, 2)}


def _sigmoid_inner_dropped(p=None):
    """The chain rule without its inner derivative: σ' as d/du (1+e^u)^{−1} at
    u = −x (the −1 of d(−x)/dx dropped), σ'' as d/ds[s(1−s)] at s = σ(x)
    (the factor σ'(x) dropped)."""
    f, x = _sigmoid()
    u, s = sp.Dummy("u"), sp.Dummy("s")
    outer = f.subs(-x, u)
    grad_in_s = derive("sigmoid").results["grad_in_s"]
    s_sym = derive("sigmoid").symbols["s"]
    return {"dsigmoid": sp.diff(outer, u).subs(u, -x),
            "d2sigmoid": sp.diff(grad_in_s.subs(s_sym, s), s).subs(s, f)}


# -- q2: the other activations ----------------------------------------------------------
def _defs():
    """The definitions (seed 002) and their symbols, from nn_core.symbolic."""
    get = {n: derive(n) for n in ("tanh", "relu", "leaky_relu", "elu", "softplus", "prelu")}
    return ({n: d.results[n] for n, d in get.items()},
            get["relu"].symbols["x"], get["leaky_relu"].symbols["gamma"],
            get["prelu"].symbols["gamma"])


def activation_derivatives(p=None, up=None):
    f, x, _, gamma_i = _defs()
    return {"tanh": sp.diff(f["tanh"], x), "relu": sp.diff(f["relu"], x),
            "relu_at_0": float(relu_grad(np.float64(0.0))),          # a number part
            "leaky_relu": sp.diff(f["leaky_relu"], x), "elu": sp.diff(f["elu"], x),
            "softplus": sp.diff(f["softplus"], x), "prelu": sp.diff(f["prelu"], gamma_i)}


def _relu_on_everywhere(p=None):
    """ReLU'(x) taken as its x > 0 value, 1, also where the unit is off."""
    f, x, _, _ = _defs()
    on = sp.diff(f["relu"], x).subs(x, 1)          # the derivative where the unit is on
    return {"relu": on, "relu_at_0": float(on)}


def _negative_branch_wrong(p=None):
    """Leaky ReLU's derivative with the γ branch's slope as 0 (ReLU's);
    ELU's with the branch's value γ(eˣ − 1) in place of its derivative."""
    f, x, gamma, _ = _defs()
    (pos, cond), (neg, _) = f["elu"].args
    return {"leaky_relu": sp.diff(f["leaky_relu"].subs(gamma, 0), x),
            "elu": sp.Piecewise((sp.diff(pos, x), cond), (neg, True))}


def _leaky_branch_underived(p=None):
    """Leaky ReLU's derivative with the γ branch left as it is, γx, not differentiated."""
    f, x, gamma, _ = _defs()
    (pos, cond), (neg, _) = f["leaky_relu"].args
    return {"leaky_relu": sp.Piecewise((sp.diff(pos, x), cond), (neg, True))}


def _relu_itself(p=None):
    """ReLU(x) = max(0, x) given where its derivative is asked."""
    f, _, _, _ = _defs()
    return {"relu": f["relu"]}


def _softplus_inner_dropped(p=None):
    """d/du log(u) at u = 1 + eˣ: the inner derivative eˣ dropped."""
    f, x, _, _ = _defs()
    u = sp.Dummy("u")
    outer, inner = f["softplus"].func, f["softplus"].args[0]
    return {"softplus": sp.diff(outer(u), u).subs(u, inner)}


def _prelu_in_x(p=None):
    f, x, _, _ = _defs()
    return {"prelu": sp.diff(f["prelu"], x)}


# -- q3: the log-softmax gradient ---------------------------------------------------------
K_SYMBOLIC = 3                                   # the concrete K SymPy differentiates at
SOFTMAX_J = sp.Symbol("softmax_j")
I, J = sp.symbols("i j")


def _at_probabilities(expr, xv, K=K_SYMBOLIC):
    """``expr`` at ``x = log p`` with ``Σ p = 1``, where ``softmax(x) = p``:
    the probabilities ``p_k`` are the softmax outputs."""
    p = sp.symbols(f"p1:{K + 1}", positive=True)
    at = expr.subs({xv[k]: sp.log(p[k]) for k in range(K)}).subs(p[-1], 1 - sum(p[:-1]))
    return sp.simplify(at), p


@lru_cache(maxsize=None)
def log_softmax_grad() -> sp.Expr:
    """``∂ log softmax(x)_i / ∂x_j`` in (i, j, softmax_j): SymPy's Jacobian of
    log softmax for K = 3, at ``x = log p`` (so ``softmax(x)_j = p_j``); its
    diagonal entry (i = j) and an off-diagonal one (i ≠ j) of column j = 1,
    joined by the Kronecker delta: ``δ_ij J_jj + (1 − δ_ij) J_ij``."""
    d = derive("log_softmax", K=K_SYMBOLIC)
    xv = d.symbols["x"]
    jac, p = _at_probabilities(d.results["log_softmax"].jacobian(xv), xv)
    diag, off = jac[0, 0], jac[1, 0]
    if not (diag.free_symbols | off.free_symbols) <= {p[0]}:   # pragma: no cover
        raise RuntimeError("log-softmax Jacobian: column j depends on more than softmax_j")
    delta = sp.KroneckerDelta(I, J)
    return sp.expand(delta * diag.subs(p[0], SOFTMAX_J)
                     + (1 - delta) * off.subs(p[0], SOFTMAX_J))


def log_softmax_answers(p=None, up=None):
    return {"grad": log_softmax_grad()}


# -- q4: gradients at the logits ---------------------------------------------------------------
YHAT_J, Y_J = sp.symbols("yhat_j y_j")


@lru_cache(maxsize=None)
def output_gradients():
    """``softmax_ce``: SymPy's ∂L/∂x_1 of ``L = −Σ_k y_k log softmax(x)_k`` (K = 3)
    at ``x = log p`` with ``y_3 = 1 − y_1 − y_2``, in ``ŷ_1 = p_1`` and ``y_1``;
    ``sigmoid_bce``: ∂L/∂z of ``L(σ(z), y)`` written out in exp."""
    d = derive("softmax_cross_entropy", K=K_SYMBOLIC)
    xv, yv = d.symbols["x"], d.symbols["y"]
    grad = sp.diff(d.results["loss"], xv[0]).subs(yv[-1], 1 - sum(yv[:-1]))
    grad, p = _at_probabilities(grad, xv)
    if not grad.free_symbols <= {p[0], yv[0]}:                 # pragma: no cover
        raise RuntimeError("softmax + cross-entropy: the gradient is not a function of ŷ_1, y_1")
    bce = derive("sigmoid_bce")
    z = bce.symbols["z"]
    return {"softmax_ce": grad.subs({p[0]: YHAT_J, yv[0]: Y_J}),
            "sigmoid_bce": sp.simplify(sp.diff(elementary(bce.results["loss_logits"]), z))}


def output_answers(p=None, up=None):
    return dict(output_gradients())


def _bce_at_output(p=None):
    """∂L/∂a of the binary cross-entropy, at a = σ(z): the factor ∂a/∂z missing."""
    bce = derive("sigmoid_bce")
    a = bce.symbols["a"]
    return {"sigmoid_bce": sp.diff(bce.results["loss"], a).subs(a, elementary(bce.definitions[a]))}


#: names an answer may use for ŷ_j and y_j, and for σ(z)
SOFTMAX_CE_NAMES = {"yhat": YHAT_J, "ŷ": YHAT_J, "ŷ_j": YHAT_J, "s_j": YHAT_J,
                    "softmax_j": YHAT_J, "y": Y_J}


# -- q6: vanishing gradients ------------------------------------------------------------
def chain_length(p) -> int:
    """The variant's number of sigmoid layers L."""
    return int((p or {}).get("L", LECTURE["L"]))


def vanishing(p=None, up=None):
    """``max σ'`` from SymPy (σ'' = 0 at σ = ½), and ``(max σ')^L``; with
    ``up`` (error carried forward) the bound from the student's own max."""
    d = derive("sigmoid")
    top = float(d.results["max_grad"])
    base = float(np.asarray(up["max_dsigmoid"]).reshape(-1)[0]) if up else top
    return {"max_dsigmoid": top, "bound": base ** chain_length(p)}


def _sigma_for_derivative(p=None):
    """σ(0) = ½ (the function at the argmax, not its derivative) and (½)^L."""
    top = float(sigmoid(np.float64(0.0)))
    return {"max_dsigmoid": top, "bound": top ** chain_length(p)}


# -- student functions ------------------------------------------------------------------
def _weights(K: int) -> np.ndarray:
    """The upstream gradient of the finite-difference check: (1, 2, …, K)."""
    return np.arange(1.0, K + 1.0)


def _jacobian_cases(rng):
    return [(rng.normal(0, 1, 4),), (rng.normal(0, 2, 2),), (rng.normal(0, 1, 3),),
            (rng.normal(0, 3, 7),), (20 * rng.normal(0, 1, 5),)]


def _transposed_jacobian(x):
    return log_softmax_jacobian(x).T


def _jacobian_without_delta(x):
    return log_softmax_jacobian(x) - np.eye(np.shape(x)[-1])


def _jacobian_one_minus(x):
    """``1 − softmax_j`` everywhere: δ_ij taken as 1 for every i, j."""
    return log_softmax_jacobian(x) - np.eye(np.shape(x)[-1]) + 1.0


JACOBIAN = FnSpec(
    "log_softmax_jacobian", _jacobian_cases, log_softmax_jacobian,
    grad_check=GradCheck("log_softmax", lambda args: [args[0]], 0,
                         lambda args: _weights(len(args[0])),
                         lambda out: _weights(len(out)) @ np.asarray(out, dtype=np.float64)),
    mistakes=(LOG_SOFTMAX_MISSING_DELTA.with_fn(_jacobian_without_delta),
              LOG_SOFTMAX_MISSING_DELTA.with_fn(_jacobian_one_minus),
              JACOBIAN_TRANSPOSED.with_fn(_transposed_jacobian)))

EXTREMES = np.array([-1000.0, -745.0, -40.0, -1.0, 0.0, 1.0, 40.0, 745.0, 1000.0])


def _sigmoid_cases(rng):
    return [(EXTREMES.copy(),), (rng.normal(0, 5, (3, 4)),), (rng.uniform(-1000, 1000, (2, 3, 2)),),
            (np.array(-1000.0),), (np.array(float(rng.normal(0, 2))),)]


def _log_softmax_cases(rng):
    return [(np.array([1000.0, 0.0, -1000.0]),),
            (np.array([[1000.0, 1000.0, 999.0], [-1000.0, -999.0, -1000.0]]),),
            (rng.normal(0, 3, (4, 5)),), (rng.normal(0, 1, 6),),
            (rng.uniform(-1000, 1000, (3, 4)),)]


SIGMOID = FnSpec("sigmoid", _sigmoid_cases, sigmoid, stable=True)
LOG_SOFTMAX = FnSpec("log_softmax", _log_softmax_cases, log_softmax, stable=True)


# -- the variant: the lecture's numbers and a student's ----------------------------------
#: q6's number of sigmoid layers (the lecture states none: 10)
LECTURE = {"L": 10}


def _variant(rng) -> dict:
    """L ∈ 3…12 sigmoid layers (the bound 4^{−L} stays above 1e-8)."""
    return {"L": int(rng.integers(3, 13))}


VARIANTS = Variants(lecture=LECTURE, generate=_variant)


# -- questions -------------------------------------------------------------------------
Q1 = Question(
    id="A2.q1",
    title=msg("sigmoid 的一阶与二阶导数 σ'(x)、σ''(x)", "The sigmoid's derivatives σ'(x) and σ''(x)"),
    parts=(_sym("dsigmoid", "x"), _sym("d2sigmoid", "x")),
    build=sigmoid_derivatives,
    mistakes=(
        FUNCTION_FOR_DERIVATIVE.with_make(lambda p: {"dsigmoid": _sigmoid()[0]}),
        CHAIN_RULE_MISSING_INNER.with_make(_sigmoid_inner_dropped),
    ),
)

Q2 = Question(
    id="A2.q2",
    title=msg("tanh、ReLU、Leaky ReLU、ELU、softplus 的导数与 PReLU 对 γ_i 的导数",
              "Derivatives of tanh, ReLU, Leaky ReLU, ELU and softplus; PReLU's with respect to γ_i"),
    parts=(_sym("tanh", "x"), _sym("relu", "x"), Part("relu_at_0"),     # a number
           _sym("leaky_relu", "x", "gamma", domain={"gamma": (0.01, 0.5)}),
           _sym("elu", "x", "gamma", domain={"gamma": (0.5, 2.0)}),
           _sym("softplus", "x"),
           _sym("prelu", "x", "gamma_i", domain={"gamma_i": (0.01, 0.5)})),
    build=activation_derivatives,
    mistakes=(
        RELU_DERIVATIVE_WHEN_OFF.with_make(_relu_on_everywhere),
        NEGATIVE_BRANCH_DERIVATIVE.with_make(_negative_branch_wrong),
        NEGATIVE_BRANCH_DERIVATIVE.with_make(_leaky_branch_underived),
        FUNCTION_FOR_RELU_DERIVATIVE.with_make(_relu_itself),
        CHAIN_RULE_MISSING_INNER.with_make(_softplus_inner_dropped),
        WRONG_VARIABLE.with_make(_prelu_in_x),
    ),
)

Q3 = Question(
    id="A2.q3",
    title=msg("log softmax 的梯度 ∂ log softmax(x)_i/∂x_j 与它的 Jacobian",
              "The gradient of log softmax(x)_i with respect to x_j, and its Jacobian"),
    parts=(_sym("grad", "i", "j", "softmax_j",          # i = j at half the points
                domain={"i": [1, 2], "j": [1, 2], "softmax_j": (0.01, 0.99)},
                definitions={"s_j": SOFTMAX_J}),
           Part("jacobian", kind="fn", fn=JACOBIAN)),
    build=log_softmax_answers,
    mistakes=(LOG_SOFTMAX_MISSING_DELTA.with_make(
                  lambda p: {"grad": log_softmax_grad().subs(sp.KroneckerDelta(I, J), 0)}),
              LOG_SOFTMAX_MISSING_DELTA.with_make(          # 1 − softmax_j: δ_ij as 1 always
                  lambda p: {"grad": log_softmax_grad().subs(sp.KroneckerDelta(I, J), 1)})),
)

Q4 = Question(
    id="A2.q4",
    title=msg("输出层在 logit 处的梯度：softmax + 交叉熵、sigmoid + 二元交叉熵",
              "Gradients at the logits: softmax + cross-entropy, sigmoid + binary cross-entropy"),
    parts=(_sym("softmax_ce", "yhat_j", "y_j", domain={"yhat_j": (0.01, 0.99), "y_j": (0.0, 1.0)},
                definitions=SOFTMAX_CE_NAMES),
           _sym("sigmoid_bce", "z", "y", domain={"y": (0.0, 1.0)},
                definitions={"a": "sigmoid(z)"})),
    build=output_answers,
    mistakes=(
        OUTPUT_GRADIENT_SIGN.with_make(lambda p: {k: -v for k, v in output_gradients().items()}),
        BCE_GRADIENT_AT_OUTPUT.with_make(_bce_at_output),
    ),
)

Q5 = Question(
    id="A2.q5",
    title=msg("数值稳定的 sigmoid 与 log-softmax（输入 ±1000 也有限且准确）",
              "Numerically stable sigmoid and log-softmax (finite and accurate at ±1000)"),
    parts=(Part("sigmoid", kind="fn", fn=SIGMOID), Part("log_softmax", kind="fn", fn=LOG_SOFTMAX)),
    build=None,
)

Q6 = Question(
    id="A2.q6",
    title=msg("梯度消失：σ' 的最大值，以及 L 层 sigmoid 对梯度的最大缩放倍数",
              "Vanishing gradients: the largest σ', and the most L sigmoid layers can scale a "
              "gradient by"),
    parts=(Part("max_dsigmoid"), Part("bound")),
    build=vanishing,
    uses=("q6.max_dsigmoid",),
    mistakes=(FUNCTION_FOR_DERIVATIVE.with_make(_sigma_for_derivative),),
)

QUESTIONS = (Q1, Q2, Q3, Q4, Q5, Q6)

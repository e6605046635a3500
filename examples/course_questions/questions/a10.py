"""A10 — batch normalization's backward pass (a course's own question).

The student writes ``batchnorm_backward(dout, x, gamma, eps) -> dx`` for
``y = γ x̂ + β``, ``x̂ = (x − μ)/√(σ² + ε)`` over a batch ``x (n, D)`` (σ² the
biased variance); the notebook gives ``batchnorm_forward(x, gamma, beta, eps)``.
Judged on hidden batches and by a gradient check against that forward.
Reference: :mod:`nn_core.batchnorm`.
"""
import numpy as np

from autograder.functions import FnSpec, GradCheck
from autograder.i18n import msg
from autograder.mistakes import add_mistakes
from autograder.questions import Part, Question
from nn_core.batchnorm import batchnorm_backward, batchnorm_forward

add_mistakes({
    "bn_missing_mean_term": msg(
        "漏掉了均值的梯度项：μ 依赖每个 x_i，dx 中要减去 Σ_i g_i（g = γ ⊙ dout）。",
        "The mean's gradient term is missing: μ depends on every x_i, so dx subtracts "
        "Σ_i g_i (g = γ ⊙ dout)."),
    "bn_missing_variance_term": msg(
        "漏掉了方差的梯度项：σ² 依赖每个 x_i，dx 中要减去 x̂ Σ_i (g_i x̂_i)。",
        "The variance's gradient term is missing: σ² depends on every x_i, so dx subtracts "
        "x̂ Σ_i (g_i x̂_i)."),
    "bn_variance_inconsistent": msg(
        "有偏/无偏方差用得不一致：前向用的是 σ² = (1/n) Σ (x − μ)²，反向也必须用 1/n（不是 1/(n − 1)）。",
        "Biased and unbiased variance mixed: the forward uses σ² = (1/n) Σ (x − μ)², so the "
        "backward must use 1/n too (not 1/(n − 1))."),
})


def _parts(dout, x, gamma, eps):
    """``x̂, 1/√(σ² + ε), g = γ ⊙ dout, n`` from nn_core's forward."""
    _, (xhat, inv_std, _) = batchnorm_forward(x, gamma, np.zeros_like(gamma), float(eps))
    return xhat, inv_std, np.asarray(dout) * np.asarray(gamma), xhat.shape[0]


def reference(dout, x, gamma, eps):
    _, cache = batchnorm_forward(x, gamma, np.zeros_like(gamma), float(eps))
    return batchnorm_backward(dout, cache)[0]


def _wrong(mean=1.0, variance=1.0, unbiased_std=False):
    """dx with the mean's / variance's term scaled (0: missing; n/(n−1): 1/(n−1) in σ²'s
    derivative), or x̂ and 1/√(σ² + ε) recomputed from the unbiased variance."""
    def dx(dout, x, gamma, eps):
        xhat, inv_std, g, n = _parts(dout, x, gamma, eps)
        if unbiased_std:
            inv_std = 1 / np.sqrt(np.var(x, axis=0, ddof=1) + eps)
            xhat = (x - np.mean(x, axis=0)) * inv_std
        v = n / (n - 1) if variance == "n/(n-1)" else variance
        return inv_std / n * (n * g - mean * g.sum(0) - v * xhat * (g * xhat).sum(0))
    return dx


def _cases(rng):
    """``(dout, x, gamma, eps)``: small batches, so 1/n and 1/(n − 1) differ clearly."""
    return [(rng.normal(0, 1, (n, D)), rng.normal(rng.normal(0, 2, D), rng.uniform(0.5, 2, D), (n, D)),
             rng.uniform(0.5, 2, D), 1e-5) for n, D in ((4, 3), (5, 2), (3, 4), (8, 3), (6, 1))]


#: the notebook's given forward (for tools that need the solution's namespace: nngrade audit)
GIVEN = {"batchnorm_forward": lambda x, gamma, beta, eps: batchnorm_forward(x, gamma, beta, eps)[0]}

BACKWARD = FnSpec(
    "batchnorm_backward", _cases, reference,
    grad_check=GradCheck("batchnorm_forward",
                         lambda a: [a[1], a[2], np.zeros_like(a[2]), a[3]], 0, lambda a: a[0]),
    mistakes=(("bn_missing_mean_term", _wrong(mean=0.0)),
              ("bn_missing_variance_term", _wrong(variance=0.0)),
              ("bn_variance_inconsistent", _wrong(variance="n/(n-1)")),
              ("bn_variance_inconsistent", _wrong(unbiased_std=True))))

QUESTIONS = (Question(id="A10.q1", title=msg("批量归一化的反向传播", "Backward through batch normalization"),
                      parts=(Part("dx", kind="fn", fn=BACKWARD),), build=None),)


FORWARD_CELL = """def batchnorm_forward(x, gamma, beta, eps=1e-5):
    \"\"\"y = γ x̂ + β, x̂ = (x − μ)/√(σ² + ε), σ² = (1/n) Σ (x − μ)² (per column).\"\"\"
    x = np.asarray(x, dtype=float)
    return gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps) + beta"""

SOLUTION = """def batchnorm_backward(dout, x, gamma, eps=1e-5):
    \"\"\"∂L/∂x for y = batchnorm_forward(x, gamma, beta, eps) and dout = ∂L/∂y, all (n, D).\"\"\"
    ### BEGIN SOLUTION
    x, n = np.asarray(x, dtype=float), np.shape(x)[0]
    inv_std = 1 / np.sqrt(x.var(axis=0) + eps)
    xhat, g = (x - x.mean(axis=0)) * inv_std, dout * gamma
    return inv_std / n * (n * g - g.sum(axis=0) - xhat * (g * xhat).sum(axis=0))
    ### END SOLUTION"""


def notebook(points):
    """The source notebook (``python -m autograder.authoring``)."""
    from autograder import authoring as au
    return au.notebook(au.header("A10", "批量归一化", "Batch normalization", "批量归一化的反向传播。",
                                 "Backward through batch normalization.", points) + [
        au.given("A10_given", FORWARD_CELL),
        au.statement("A10_q1_statement",
                     "### 第 1 题\n实现 `batchnorm_backward`：对上面的前向传播求 ∂L/∂x（记得 μ 和 σ² 都依赖 x）。",
                     "### Question 1\nWrite `batchnorm_backward`: ∂L/∂x of the forward above "
                     "(mind that μ and σ² both depend on x)."),
        au.answer("A10.q1", SOLUTION), au.tests("A10.q1", points["q1"])])

"""A10 — batch normalization's backward pass ``batchnorm_backward(dout, x, gamma, eps) -> dx`` (y = γ x̂ + β),
on hidden batches and checked against the notebook's forward. Cells: ``solutions/A10_*.md``."""
import numpy as np

from autograder.functions import FnSpec, GradCheck
from autograder.i18n import msg
from autograder.mistakes import Mistake
from autograder.questions import Part, Question
from nn_core.batchnorm import batchnorm_backward, batchnorm_forward

M_MEAN = Mistake("bn_missing_mean_term", name=msg("漏掉了均值的梯度项", "The mean's gradient term is missing"),
                 hint=msg("μ 依赖每个 x_i，dx 要减去 Σ_i g_i（g = γ ⊙ dout）。", "μ depends on every x_i: − Σ_i g_i."))
M_VAR = Mistake("bn_missing_variance_term", name=msg("漏掉了方差的梯度项", "The variance's gradient term is missing"),
                hint=msg("σ² 依赖每个 x_i，dx 要减去 x̂ Σ_i g_i x̂_i。", "σ² depends on every x_i: − x̂ Σ_i g_i x̂_i."))
M_BIAS = Mistake("bn_variance_inconsistent", name=msg("有偏/无偏方差用得不一致", "Biased and unbiased variance mixed"),
                 hint=msg("前向的 σ² 用 1/n，反向也必须用 1/n。", "σ² uses 1/n, so must dx."))


def reference(dout, x, gamma, eps):
    return batchnorm_backward(dout, batchnorm_forward(x, gamma, 0 * gamma, eps)[1])[0]


def _wrong(mean=1, variance=1, ddof=0):
    """dx = (1/n)/√(σ² + ε) (n g − mean Σ g − variance x̂ Σ g x̂), σ² with ``ddof`` (None: n/(n − 1))."""
    def dx(dout, x, gamma, eps):
        n, inv_std = len(x), 1 / np.sqrt(np.var(x, axis=0, ddof=ddof) + eps)
        xhat, g = (x - x.mean(axis=0)) * inv_std, dout * gamma
        v = n / (n - 1) if variance is None else variance
        return inv_std / n * (n * g - mean * g.sum(0) - v * xhat * (g * xhat).sum(0))
    return dx


def _cases(rng):
    """``(dout, x, gamma, eps)``: small batches, so 1/n and 1/(n − 1) differ clearly."""
    return [(rng.normal(0, 1, (n, D)), rng.normal(rng.normal(0, 2, D), rng.uniform(0.5, 2, D), (n, D)),
             rng.uniform(0.5, 2, D), 1e-5) for n, D in ((4, 3), (5, 2), (3, 4), (8, 3), (6, 1))]


GIVEN = {"batchnorm_forward": lambda x, gamma, beta, eps: batchnorm_forward(x, gamma, beta, eps)[0]}  # audit
BACKWARD = FnSpec("batchnorm_backward", _cases, reference, grad_check=GradCheck(
    "batchnorm_forward", lambda a: [a[1], a[2], 0 * a[2], a[3]], 0, lambda a: a[0]),
    mistakes=(M_MEAN.with_fn(_wrong(mean=0)), M_VAR.with_fn(_wrong(variance=0)),
              M_BIAS.with_fn(_wrong(variance=None)), M_BIAS.with_fn(_wrong(ddof=1))))
QUESTIONS = (Question(id="A10.q1", title=msg("批量归一化的反向传播", "Backward through batch normalization"),
                      parts=(Part("dx", kind="fn", fn=BACKWARD),), build=None),)

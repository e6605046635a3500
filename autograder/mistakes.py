"""The catalogue of typical mistakes (exercises.md, "Mistakes to recognise").

Each entry names the mistake and points at the lecture formula, in Chinese
and English. Questions refer to mistakes by id and say *how* the mistake
transforms their reference (see :class:`autograder.questions.base.Mistake`);
the text lives here, once.
"""
from __future__ import annotations

from .i18n import Message, msg

__all__ = ["MISTAKES", "mistake_text"]

MISTAKES: dict[str, Message] = {
    "transposed_gradient": msg(
        "梯度转置了：权重梯度应为 ∂L/∂W = δ aᵀ（与 W 同形状），不是 a δᵀ。",
        "Gradient transposed: the weight gradient is ∂L/∂W = δ aᵀ (the shape of W), not a δᵀ."),
    "missing_activation_derivative": msg(
        "漏掉了激活函数的导数：δ^(l) = f'(z^(l)) ⊙ (W^(l+1)ᵀ δ^(l+1))，不是 W^(l+1)ᵀ δ^(l+1)。",
        "Activation derivative missing: δ^(l) = f'(z^(l)) ⊙ (W^(l+1)ᵀ δ^(l+1)), "
        "not W^(l+1)ᵀ δ^(l+1)."),
    "activation_for_derivative": msg(
        "把 σ(z) 当成了 σ'(z)：sigmoid 的导数是 σ'(z) = σ(z)(1 − σ(z))。",
        "σ(z) used in place of σ'(z): the sigmoid's derivative is σ'(z) = σ(z)(1 − σ(z))."),
    "derivative_at_activation": msg(
        "导数在 a 处求值了：应为 f'(z)（例如 σ'(z) = a(1 − a)），不是 f'(a)。",
        "Derivative evaluated at a instead of z: use f'(z) (e.g. σ'(z) = a(1 − a)), not f'(a)."),
    "sign_error": msg(
        "符号错误：∂L/∂y = y − t（不是 t − y）；梯度下降是 θ ← θ − η∇L。",
        "Sign error: ∂L/∂y = y − t (not t − y); gradient descent is θ ← θ − η∇L."),
    "dropped_half": msg(
        "丢掉了 ½(y − t)² 中的 ½：梯度被放大了一倍；∂/∂y ½(y − t)² = y − t。",
        "The ½ of ½(y − t)² was dropped, doubling the gradient: ∂/∂y ½(y − t)² = y − t."),
    "missing_batch_mean": msg(
        "漏掉了批量平均的 1/n：dZ^[2] = (A^[2] − Y)/n。",
        "The 1/n of the batch mean is missing: dZ^[2] = (A^[2] − Y)/n."),
    "double_batch_mean": msg(
        "批量平均的 1/n 用了两次：只在 dZ^[2] = (A^[2] − Y)/n 中除以 n。",
        "The 1/n of the batch mean was applied twice: divide by n once, in dZ^[2] = (A^[2] − Y)/n."),
    "lr_not_applied": msg(
        "更新时没有乘学习率：θ ← θ − η ∇L。",
        "The learning rate was not applied in the update: θ ← θ − η ∇L."),
    "gradient_ascent": msg(
        "沿梯度方向上升了：梯度下降是 θ ← θ − η ∇L，不是 θ + η ∇L。",
        "Gradient ascent: descent is θ ← θ − η ∇L, not θ + η ∇L."),
    "updated_before_all_gradients": msg(
        "在算完所有梯度之前就更新了参数：先用旧参数求出全部梯度，再统一更新。",
        "Parameters updated before all gradients were computed: compute every gradient "
        "with the old parameters, then update."),
    "relu_derivative_when_off": msg(
        "对未激活（z ≤ 0）的 ReLU 单元取了导数 1：ReLU'(z) = 0（z ≤ 0）。",
        "ReLU derivative taken as 1 for a unit that is off: ReLU'(z) = 0 for z ≤ 0."),
    "log_softmax_missing_delta": msg(
        "log-softmax 的梯度漏了 δ_ij 项：∂/∂x_j log softmax(x)_i = δ_ij − softmax(x)_j。",
        "The log-softmax gradient lacks the δ_ij term: "
        "∂/∂x_j log softmax(x)_i = δ_ij − softmax(x)_j."),
    "softmax_jacobian_diag": msg(
        "softmax 的雅可比矩阵只写了 diag(s)：应为 diag(s) − s sᵀ。",
        "Softmax Jacobian given as diag(s) only: it is diag(s) − s sᵀ."),
    "count_n_for_n2": msg(
        "计数差了一个 n 的因子：每层 W a 需要 n² 次乘法，而不是 n 次。",
        "Count off by a factor n: W a costs n² multiplications per layer, not n."),
    "count_missing_backward_term": msg(
        "反向传播少算了一项：每层既要算误差项 W^(l+1)ᵀ δ^(l+1)，也要算权重梯度 δ a^(l−1)ᵀ。",
        "A backward term is missing: each layer computes both the error term "
        "W^(l+1)ᵀ δ^(l+1) and the weight gradient δ a^(l−1)ᵀ."),
    "conv_no_rotation": msg(
        "卷积反向传播没有把卷积核旋转 180°：δ^(l) 是 δ^(l+1) 与 rot180(W) 的全卷积。",
        "Convolution backward without rotating the kernel by 180°: δ^(l) is the full "
        "convolution of δ^(l+1) with rot180(W)."),
    "conv_valid_padding": msg(
        "卷积反向传播用了 valid 而不是 full 填充：δ^(l+1) 要先补 K − 1 圈零。",
        "Convolution backward with valid instead of full padding: pad δ^(l+1) with K − 1 zeros."),
    "maxpool_spread": msg(
        "最大池化的梯度被分给了窗口中的每个位置：它只流向最大值所在的位置。",
        "Max-pooling gradient spread over the whole window: it goes only to the maximum."),
}


def mistake_text(mistake_id: str) -> Message:
    """The message for ``mistake_id`` (a ``KeyError`` names unknown ids)."""
    try:
        return MISTAKES[mistake_id]
    except KeyError:
        raise KeyError(f"unknown mistake id {mistake_id!r}; known: {sorted(MISTAKES)}") from None

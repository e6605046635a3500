"""The catalogue of typical mistakes (exercises.md, "Mistakes to recognise").

Each entry names the mistake and points at the lecture formula, in Chinese
and English. Questions refer to mistakes by id and say *how* the mistake
transforms their reference (see :class:`autograder.questions.base.Mistake`);
the text lives here, once.
"""
from __future__ import annotations

from .i18n import Message, msg

__all__ = ["MISTAKES", "mistake_text", "add_mistakes"]

MISTAKES: dict[str, Message] = {
    "lecture_numbers": msg(
        "这是用课堂上的数字算出的答案；你的数字由你的学号决定：请用笔记本开头打印出的你自己的数字。",
        "These are the lecture's numbers; yours are from your student id: use your own numbers, "
        "printed at the top of the notebook."),
    "too_few_digits": msg(
        "有效数字太少：按题目要求至少保留 4 位有效数字（或直接用 NumPy 计算）。",
        "Too few significant digits: keep at least 4, as the question asks (or compute with "
        "NumPy)."),
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
    "function_for_derivative": msg(
        "给出的是函数本身（或它在极值点的值），不是导数：对 σ(z) = 1/(1 + e^{−z}) 用链式法则求导。",
        "That is the function itself (or its value at the maximum), not its derivative: "
        "differentiate σ(z) = 1/(1 + e^{−z}) with the chain rule."),
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
    "wrong_learning_rate": msg(
        "更新用的学习率不是题目给的 η（例如用了 0.1）：θ ← θ − η ∇L，η 用题目给出的值。",
        "The update used another learning rate than the question's η (0.1, say): "
        "θ ← θ − η ∇L with the η given."),
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
        "log-softmax 的梯度漏了 δ_ij 项（或把它当成了恒为 1，写成 1 − softmax_j）："
        "∂/∂x_j log softmax(x)_i = δ_ij − softmax(x)_j，i ≠ j 时 δ_ij = 0。",
        "The log-softmax gradient lacks the δ_ij term (or takes it as always 1, "
        "1 − softmax_j): ∂/∂x_j log softmax(x)_i = δ_ij − softmax(x)_j, and δ_ij = 0 for i ≠ j."),
    "function_for_relu_derivative": msg(
        "写的是 ReLU(x) = max(0, x) 本身，不是它的导数：ReLU'(x) = 1（x > 0），0（x ≤ 0）。",
        "That is ReLU(x) = max(0, x) itself, not its derivative: ReLU'(x) = 1 for x > 0, "
        "0 for x ≤ 0."),
    "relu_for_derivative": msg(
        "反向传播中用了 ReLU(z) 本身代替它的导数：δ = ReLU'(z) ⊙ (Wᵀ δ_next)，"
        "ReLU'(z) = 1（z > 0），0（z ≤ 0）。",
        "ReLU(z) used in place of its derivative in the backward pass: "
        "δ = ReLU'(z) ⊙ (Wᵀ δ_next), with ReLU'(z) = 1 for z > 0 and 0 for z ≤ 0."),
    "maxpool_ties": msg(
        "池化窗口中有并列最大值时，梯度只给一个位置：按行优先顺序的第一个最大值（与 np.argmax 相同，"
        "笔记本中的约定），不是每个并列的位置，也不是最后一个。",
        "A max-pooling window with tied maxima sends its gradient to one cell only: the first "
        "maximum in row-major order (as np.argmax, the notebook's rule), not to every tied cell "
        "nor to the last one."),
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
    # -- A1.q1, A2: derivatives ----------------------------------------------------
    "chain_rule_missing_inner": msg(
        "链式法则漏乘了内层函数的导数：(f(g(x)))' = f'(g(x))·g'(x)；"
        "例如 ∂z/∂x = ∂z/∂u·∂u/∂x + ∂z/∂v·∂v/∂x。",
        "The chain rule's inner derivative is missing: (f(g(x)))' = f'(g(x))·g'(x); "
        "e.g. ∂z/∂x = ∂z/∂u·∂u/∂x + ∂z/∂v·∂v/∂x."),
    "chain_rule_missing_path": msg(
        "漏掉了一条路径：z 经 u 和 v 两条路径依赖 x、y，偏导数是各路径之和："
        "∂z/∂x = ∂z/∂u·∂u/∂x + ∂z/∂v·∂v/∂x。",
        "A path is missing: z depends on x and y through both u and v, and the partial "
        "derivative sums the paths: ∂z/∂x = ∂z/∂u·∂u/∂x + ∂z/∂v·∂v/∂x."),
    "quotient_rule_sign": msg(
        "商的导数符号错了：∂(x/y)/∂y = −x/y²，所以 ∂z/∂y = 2u·x + 2v·(−x/y²)。",
        "Sign error in the quotient's derivative: ∂(x/y)/∂y = −x/y², so "
        "∂z/∂y = 2u·x + 2v·(−x/y²)."),
    "negative_branch_derivative": msg(
        "x ≤ 0 一支的导数不对：按 seed 002 的定义，对那一支的表达式（Leaky ReLU 为 γx，ELU 为 γ(eˣ − 1)）求导。",
        "The derivative on the x ≤ 0 branch is wrong: differentiate that branch of seed 002's definition (Leaky ReLU is γx there, ELU is γ(eˣ − 1))."),
    "wrong_variable": msg(
        "求导的变量不对：这里要对斜率 γ_i 求导（把 x 看作常数），不是对 x 求导。",
        "Differentiated with respect to the wrong variable: the question asks for the derivative in the slope γ_i (x held fixed), not in x."),
    "jacobian_transposed": msg(
        "Jacobian 转置了：J_ij = ∂y_i/∂x_j，第 i 行是第 i 个输出对各输入的导数。",
        "Jacobian transposed: J_ij = ∂y_i/∂x_j — row i holds the derivatives of output i."),
    "output_gradient_sign": msg(
        "符号反了：预测值偏大时，损失对 logit 的梯度应为正（梯度下降才会把预测往下拉）。",
        "The sign is flipped: when the prediction is too large the loss's gradient at the logit must be positive (so that gradient descent pulls the prediction down)."),
    "bce_gradient_at_output": msg(
        "这是 ∂L/∂a，不是 ∂L/∂z：还要用链式法则乘上 ∂a/∂z，再化简。",
        "That is ∂L/∂a, not ∂L/∂z: multiply by ∂a/∂z (chain rule), then simplify."),
    "numerically_unstable": msg(
        "数值不稳定：计算中 exp 溢出（或出现 0 除、inf − inf），即使结果看起来对也不行。"
        "只对非正数取 exp：σ(x) 用 e^{−|x|}，log-softmax 先减去最大值 m：x − m − log Σ e^{x−m}。",
        "Not numerically stable: exp overflows while computing it (or a division by zero, "
        "inf − inf happens), even if the result looks right. Take exp of non-positive numbers "
        "only: e^{−|x|} for σ(x); for log-softmax subtract the maximum m first: "
        "x − m − log Σ e^{x−m}."),
    # -- A7: pooling ----------------------------------------------------------------
    "avgpool_not_divided": msg(
        "平均池化的梯度没有除以 K²：窗口中每个位置得到 dout/K²。",
        "Average-pooling gradient not divided by K²: every cell of a window gets dout/K²."),
    "pool_overlap_overwritten": msg(
        "重叠的池化窗口（stride < K）的梯度被覆盖了：同一位置从几个窗口得到的梯度要相加（+=）。",
        "Overlapping pooling windows (stride < K) overwrote each other: a cell's gradients "
        "from several windows add up (+=)."),
    # -- A8: training well ------------------------------------------------------------
    "bias_decayed": msg(
        "偏置也做了权重衰减：只衰减权重，W ← (1 − ηλ)W − η∇_W L，偏置 b ← b − η∇_b L。",
        "The bias was decayed too: only weights decay, W ← (1 − ηλ)W − η∇_W L, while "
        "b ← b − η∇_b L."),
    "dropout_test_not_scaled": msg(
        "测试时没有乘 p：按 seed 001 的约定（训练时以概率 p 保留），测试时输出为 p·a，"
        "期望才与训练时一致。",
        "No test-time scaling: with seed 001's convention (units kept with probability p in "
        "training) the test-time output is p·a, so the expectation matches training."),
    "dropout_inverted_not_divided": msg(
        "inverted dropout 在训练时要除以 p：out = a ⊙ m / p（测试时不变）。",
        "Inverted dropout divides by p in training: out = a ⊙ m / p (and is the identity at "
        "test time)."),
    "schedule_off_by_one": msg(
        "阶梯衰减差了一个 epoch：到达里程碑那一轮（t ≥ 30、60、90）就乘 0.1。",
        "Step decay off by one epoch: the rate is multiplied by 0.1 from the milestone epoch "
        "itself (t ≥ 30, 60, 90)."),
    "clip_per_component": msg(
        "梯度裁剪是按整体范数缩放：若 ‖g‖ > η，则 g ← η g/‖g‖（方向不变），不是逐个分量截断。",
        "Gradient clipping rescales by the norm: if ‖g‖ > η then g ← η g/‖g‖ (same "
        "direction), not clipping each component."),
}


def mistake_text(mistake_id: str) -> Message:
    """The message for ``mistake_id`` (a ``KeyError`` names unknown ids)."""
    try:
        return MISTAKES[mistake_id]
    except KeyError:
        raise KeyError(f"unknown mistake id {mistake_id!r}; known: {sorted(MISTAKES)}") from None


def add_mistakes(entries: dict[str, Message]) -> None:
    """Catalogue a course's own mistakes (a question module in the course's
    ``questions_dir`` calls this before defining its questions). An id the
    catalogue already holds with another text is an error."""
    for mistake_id, text in entries.items():
        if not isinstance(text, Message):
            raise TypeError(f"mistake {mistake_id!r}: give msg(zh, en), got {text!r}")
        if MISTAKES.get(mistake_id, text) != text:
            raise ValueError(f"mistake id {mistake_id!r} is already catalogued with another text")
        MISTAKES[mistake_id] = text

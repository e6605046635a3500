"""A3–A5 — backpropagation on small networks, fully symbolic in the parameters.

Notation (seed 001): ``z^{(l)} = W^{(l)} a^{(l−1)} + b^{(l)}``, ``a^{(l)} = f_l(z^{(l)})``,
``a^{(0)} = x``, ``W^{(l)} ∈ R^{M_l × M_{l−1}}``, ``δ^{(l)} = ∂L/∂z^{(l)}``.
The recurrences

    δ^{(L)} = f_L'(z^{(L)}) ⊙ ∂L/∂a^{(L)},
    δ^{(l)} = f_l'(z^{(l)}) ⊙ (W^{(l+1)ᵀ} δ^{(l+1)}),
    ∂L/∂W^{(l)} = δ^{(l)} a^{(l−1)ᵀ},   ∂L/∂b^{(l)} = δ^{(l)}

are written with named intermediates (``z``, ``a``, ``δ`` as symbols whose
definitions are kept) and each gradient is checked against differentiating the
loss directly in the parameters.

* ``a3_network``: the 2-2-1 net of A3 (sigmoid hidden ``h``, linear output ``y``,
  ``L = ½(y − t)²``).
* ``a4_relu_network``: A4's 2-2-1 ReLU net, ``L = ½(y − ŷ)²``, and one step of
  gradient descent with learning rate η.
* ``backprop_recurrences``: a 3-layer net of width 2 with a *generic* activation
  ``f`` (an undefined SymPy function with derivative ``f'``) and
  ``L = ½‖a^{(3)} − y‖²``; the proof is for any f, the callables use
  ``f = tanh`` (``derive(..., activation="sigmoid")`` for σ).
* ``batched_backprop``: seed 004's matrix formulas for n samples (rows of X),
  ``d0 = 3, d1 = 4, d2 = 1``, sigmoid units, mean binary cross-entropy, with n a
  symbol: the batched gradient equals the mean of the per-sample gradients.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from .base import Derivation, Step, mat, vec
from .functions import column, f, nrows, relu, rowsum, sigma

_s = sp.Symbol("s")


def _prime(f):
    """``e ↦ f'(e)`` (σ' = σ(1−σ), ReLU' = θ with θ(0) = 0, generic f ↦ f')."""
    if f is None:
        return lambda e: sp.Integer(1)
    d = sp.diff(f(_s), _s)
    return lambda e: d.subs(_s, e)


class _Dense:
    """A dense network with named intermediates.

    ``sizes = (M_0, …, M_L)``, ``acts[l]`` the SymPy function of layer l+1
    (``None`` = identity). ``names`` picks the lecture's letters for the
    activations (``("x", "h", "y")`` for A3) and the target.
    """

    def __init__(self, sizes, acts, act_names=None, target="y", mark=""):
        self.L = L = len(sizes) - 1
        self.sizes, self.acts = sizes, acts
        names = act_names or ["x"] + [f"a^{{({l})}}" for l in range(1, L + 1)]
        self.x = vec(names[0], sizes[0])
        self.W = [mat(f"w{mark}^{{({l})}}", sizes[l], sizes[l - 1]) for l in range(1, L + 1)]
        self.b = [vec(f"b{mark}^{{({l})}}", sizes[l]) for l in range(1, L + 1)]
        self.t = vec(target, sizes[-1])
        self.z = [vec(f"z{mark}^{{({l})}}", sizes[l]) for l in range(1, L + 1)]
        self.a = [self.x] + [vec(names[l] + mark, sizes[l]) for l in range(1, L + 1)]
        self.d = [vec(rf"\delta{mark}^{{({l})}}", sizes[l]) for l in range(1, L + 1)]
        self.defs = {}
        for l in range(L):
            zl = self.W[l] * self.a[l] + self.b[l]
            f = acts[l] or (lambda e: e)
            self.defs.update({self.z[l][i]: zl[i] for i in range(sizes[l + 1])})
            self.defs.update({self.a[l + 1][i]: f(self.z[l][i]) for i in range(sizes[l + 1])})
        out = self.a[L]
        self.loss = sum((out[i] - self.t[i])**2 for i in range(sizes[-1])) / 2
        # backward, in the named symbols
        self.delta_expr = [None] * L
        up = out - self.t                                              # ∂L/∂a^{(L)}
        for l in range(L - 1, -1, -1):
            fp = _prime(acts[l])
            if l < L - 1:
                up = self.W[l + 1].T * self.d[l + 1]
            self.delta_expr[l] = sp.Matrix([fp(self.z[l][i]) * up[i] for i in range(sizes[l + 1])])
            self.defs.update({self.d[l][i]: self.delta_expr[l][i] for i in range(sizes[l + 1])})
        self.dW = [self.d[l] * self.a[l].T for l in range(L)]
        self.db = [self.d[l] for l in range(L)]

    def full(self, expr):
        """Substitute every intermediate: an expression of x, W, b, y only."""
        if not hasattr(self, "_full_defs"):  # definitions in order: z, a forward; δ backward
            done = {}
            for l in range(self.L):
                for sym in (*self.z[l], *self.a[l + 1]):
                    done[sym] = self.defs[sym].xreplace(done)
            for l in range(self.L - 1, -1, -1):
                for sym in self.d[l]:
                    done[sym] = self.defs[sym].xreplace(done)
            self._full_defs = done
        return expr.xreplace(self._full_defs)

    def program(self, backward=True):
        """The intermediates as straight-line code: z, a forward, then δ backward."""
        order = [s for l in range(self.L) for s in (*self.z[l], *self.a[l + 1])]
        if backward:
            order += [s for l in range(self.L - 1, -1, -1) for s in self.d[l]]
        return [(s, self.defs[s]) for s in order]

    def direct(self, P):
        """``∂L/∂P`` by differentiating the loss in the parameters."""
        if not hasattr(self, "_loss_full"):
            self._loss_full = self.full(self.loss)
        return P.applyfunc(lambda p: sp.diff(self._loss_full, p))

    def symbols(self):
        out = {"x": self.x}
        for l in range(self.L):
            out[f"W{l + 1}"], out[f"b{l + 1}"] = self.W[l], self.b[l]
        return out

    def steps(self, act_tex, loss_tex="L"):
        L = self.L
        st = []
        for l in range(L):
            st.append(Step(self.W[l] * self.a[l] + self.b[l],
                           f"前向：第 {l + 1} 层的净输入 z = W a + b。",
                           f"Forward: layer {l + 1}'s net input z = W a + b.",
                           lhs=sp.latex(self.z[l].T) + "^T"))
            st.append(Step(self.z[l].applyfunc(self.acts[l] or (lambda e: e)),
                           f"前向：激活 {act_tex[l]}。", f"Forward: activation {act_tex[l]}.",
                           lhs=sp.latex(self.a[l + 1].T) + "^T"))
        st.append(Step(self.loss, "损失。", "The loss.", lhs=loss_tex))
        for l in range(L - 1, -1, -1):
            rule = ("δ^{(L)} = f'(z^{(L)}) ⊙ ∂L/∂a^{(L)}" if l == L - 1 else
                    "δ^{(l)} = f'(z^{(l)}) ⊙ (W^{(l+1)ᵀ} δ^{(l+1)})")
            st.append(Step(self.delta_expr[l], f"误差项：{rule}。", f"Error term: {rule}.",
                           lhs=sp.latex(self.d[l].T) + "^T"))
            for nm, disp, P in (("W", self.dW[l], self.W[l]), ("b", self.db[l], self.b[l])):
                rule = (f"δ^{{({l + 1})}} a^{{({l})}}ᵀ" if nm == "W" else f"δ^{{({l + 1})}}")
                lhs = rf"\frac{{\partial L}}{{\partial {nm}^{{({l + 1})}}}}"
                st.append(Step(disp, f"梯度 ∂L/∂{nm}^{{({l + 1})}} = {rule}。",
                               f"Gradient ∂L/∂{nm}^{{({l + 1})}} = {rule}.", lhs=lhs))
                st.append(Step(self.direct(P), "核对：直接对损失求导，结果相同。",
                               "Check: differentiating the loss directly gives the same.",
                               True, lhs=lhs))
        return st


@lru_cache(maxsize=None)
def a3_network() -> Derivation:
    """A3: ``z1 = W1 x + b1``, ``h = σ(z1)``, ``y = W2 h + b2``, ``L = ½(y − t)²``;
    ``δ2 = y − t``, ``∂L/∂W2 = δ2 hᵀ``, ``δ1 = σ'(z1) ⊙ W2ᵀ δ2``, ``∂L/∂W1 = δ1 xᵀ``."""
    net = _Dense((2, 2, 1), [sigma, None], ["x", "h", "y"], target="t")
    steps = net.steps(["h = σ(z^{(1)})", "y = z^{(2)}"])
    compact = {"z1": net.z[0], "h": net.a[1], "y": net.a[2], "loss": net.loss,
               "delta2": net.d[1], "delta1": net.d[0], "dW2": net.dW[1], "db2": net.db[1],
               "dW1": net.dW[0], "db1": net.db[0]}
    results = {k: net.full(e) for k, e in compact.items()}
    return Derivation(
        "a3_network",
        {"zh": "2-2-1 网络（sigmoid 隐藏层 h，线性输出 y，L = ½(y − t)²）：前向计算并用反向传播求全部梯度。",
         "en": "The 2-2-1 network (sigmoid hidden layer h, linear output y, L = ½(y − t)²): "
               "forward pass and every gradient by backpropagation."},
        steps, results, {**net.symbols(), "t": net.t}, definitions=net.defs,
        program=net.program(), compact=compact)


@lru_cache(maxsize=None)
def a4_relu_network() -> Derivation:
    """A4: ReLU everywhere, ``L = ½(y − ŷ)²``, then ``θ' = θ − η ∂L/∂θ`` and the new
    output ``ŷ'`` and loss ``L'``."""
    net = _Dense((2, 2, 1), [relu, relu], ["x", "h", r"\hat{y}"], target="y")
    eta = sp.Symbol("eta", positive=True)
    steps = net.steps(["h = ReLU(z^{(1)})", "ŷ = ReLU(z^{(2)})"])
    after = _Dense((2, 2, 1), [relu, relu], ["x", "h", r"\hat{y}"], target="y", mark="'")
    compact = {"z1": net.z[0], "h": net.a[1], "yhat": net.a[2], "loss": net.loss,
               "dW1": net.dW[0], "db1": net.db[0], "dW2": net.dW[1], "db2": net.db[1]}
    update = {}  # θ' = θ − η ∂L/∂θ, in the named symbols
    for l in range(2):
        compact[f"W{l + 1}_new"] = net.W[l] - eta * net.dW[l]
        compact[f"b{l + 1}_new"] = net.b[l] - eta * net.db[l]
        update.update(zip([*after.W[l], *after.b[l]],
                          [*compact[f"W{l + 1}_new"], *compact[f"b{l + 1}_new"]]))
    compact.update({"yhat_new": after.a[2], "loss_new": after.loss})
    steps += [
        Step(sp.Symbol(r"\theta") - eta * sp.Symbol(r"\frac{\partial L}{\partial \theta}"),
             "梯度下降一步（先求出全部梯度，再同时更新；A4 中 η = 1）。",
             "One gradient-descent step (all gradients first, then update together; η = 1 in A4).",
             lhs=r"\theta'"),
        Step(compact["W1_new"], "更新后的 W^{(1)}。", "The updated W^{(1)}.", lhs=r"W'^{(1)}"),
        Step(compact["W2_new"], "更新后的 W^{(2)}。", "The updated W^{(2)}.", lhs=r"W'^{(2)}"),
        Step(after.full(after.a[2]), "用更新后的参数重新前向计算输出。",
             "Recompute the output with the updated parameters.", lhs=r"\hat{y}'"),
    ]
    swap = {k: net.full(v) for k, v in update.items()}
    results = {k: net.full(e) for k, e in compact.items()}
    results["yhat_new"] = after.full(after.a[2]).xreplace(swap)
    results["loss_new"] = after.full(after.loss).xreplace(swap)
    forward = ("x", "W1", "b1", "W2", "b2")
    return Derivation(
        "a4_relu_network",
        {"zh": "全 ReLU 的 2-2-1 网络，L = ½(y − ŷ)²，学习率 η：一次反向传播与参数更新，并比较更新前后的损失。",
         "en": "The all-ReLU 2-2-1 network, L = ½(y − ŷ)², learning rate η: one backprop step, "
               "the update, and the loss before and after."},
        steps, results, {**net.symbols(), "y": net.t, "eta": eta},
        args={**{k: forward for k in ("z1", "h", "yhat")},
              **{k: forward + ("y",) for k in ("loss", "dW1", "db1", "dW2", "db2")}},
        definitions={**net.defs, **update},
        program=net.program() + list(update.items()) + after.program(backward=False),
        compact=compact)


_ACTS = {"tanh": sp.tanh, "sigmoid": sigma, "relu": relu}


@lru_cache(maxsize=None)
def backprop_recurrences(activation: str = "tanh", width: int = 2) -> Derivation:
    """The general recurrences on a 3-layer network of width ``width`` with a
    generic activation f; every ``∂L/∂W^{(l)}`` and ``∂L/∂b^{(l)}`` equals the
    direct derivative of ``L = ½‖a^{(3)} − y‖²``.  Results use ``f = activation``."""
    net = _Dense((width,) * 4, [f, f, f])
    steps = net.steps(["a = f(z)"] * 3)
    # the same recurrences with f = activation (same symbols) give the callables
    num = _Dense((width,) * 4, [_ACTS[activation]] * 3)
    compact = {"output": num.a[3], "loss": num.loss}
    for l in range(3):
        compact.update({f"delta{l + 1}": num.d[l], f"dW{l + 1}": num.dW[l],
                        f"db{l + 1}": num.db[l]})
    results = {k: num.full(e) for k, e in compact.items()}
    return Derivation(
        "backprop_recurrences",
        {"zh": "对任意激活函数 f 的三层网络，证明 δ^{(l)} = f'(z^{(l)}) ⊙ (W^{(l+1)ᵀ} δ^{(l+1)})、"
               "∂L/∂W^{(l)} = δ^{(l)} a^{(l−1)ᵀ}、∂L/∂b^{(l)} = δ^{(l)}（可调用结果取 f = "
               f"{activation}）。",
         "en": "For a 3-layer network with any activation f, prove δ^{(l)} = f'(z^{(l)}) ⊙ "
               "(W^{(l+1)ᵀ} δ^{(l+1)}), ∂L/∂W^{(l)} = δ^{(l)} a^{(l−1)ᵀ}, ∂L/∂b^{(l)} = δ^{(l)} "
               f"(the callables take f = {activation})."},
        steps, results, {**net.symbols(), "y": net.t}, definitions=net.defs,
        program=num.program(), compact=compact)


#: SymPy's time grows fast with the width here (5: ~8 s, 8: ~70 s on 2 cores)
backprop_recurrences.max_sizes = {"width": 4}


@lru_cache(maxsize=None)
def batched_backprop(d0: int = 3, d1: int = 4) -> Derivation:
    """Seed 004 for n samples (rows of ``X ∈ R^{n×d0}``, rows numbered i = 0 … n−1):

    ``Z1 = b1ᵀ + X W1ᵀ``, ``A1 = σ(Z1)``, ``Z2 = b2 + A1 W2ᵀ``, ``A2 = σ(Z2)``,
    ``J = −(1/n) Σ_i [y_i log A2_i + (1 − y_i) log(1 − A2_i)]``;
    ``dZ2 = (A2 − Y)/n``, ``db2 = dZ2ᵀ 1``, ``dW2 = dZ2ᵀ A1``,
    ``dZ1 = dZ2 W2 ∘ σ'(Z1)``, ``db1 = dZ1ᵀ 1``, ``dW1 = dZ1ᵀ X`` —
    each entry a sum over the rows, shown equal to ``(1/n) Σ_i ∂L_i/∂θ``.
    """
    n = sp.Symbol("n", integer=True, positive=True)
    i = sp.Symbol("i", integer=True, nonnegative=True)
    j_ = sp.Symbol("j", integer=True, nonnegative=True)
    X, Y = sp.IndexedBase("X"), sp.IndexedBase("Y")
    Z1, A1, A2, dZ1, dZ2 = (sp.IndexedBase(nm) for nm in ("Z^{[1]}", "A^{[1]}", "A^{[2]}",
                                                          "dZ^{[1]}", "dZ^{[2]}"))
    W1, b1 = mat("w^{[1]}", d1, d0), vec("b^{[1]}", d1)
    W2, b2 = mat("w^{[2]}", 1, d1), vec("b^{[2]}", 1)
    S = lambda e: sp.Sum(e, (i, 0, n - 1))  # noqa: E731 — a sum over the batch rows

    # sample i, fully explicit
    z1 = [b1[j] + sum(W1[j, k] * X[i, k] for k in range(d0)) for j in range(d1)]
    a1 = [sigma(e) for e in z1]
    a2 = sigma(b2[0] + sum(W2[0, j] * a1[j] for j in range(d1)))
    loss_i = -(Y[i] * sp.log(a2) + (1 - Y[i]) * sp.log(1 - a2))
    J = S(loss_i) / n
    params = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    # per-sample gradients (the one-sample formulas of seed 004)
    dz2_i = a2 - Y[i]
    dz1_i = [dz2_i * W2[0, j] * a1[j] * (1 - a1[j]) for j in range(d1)]
    per_sample = {"W2": sp.Matrix(1, d1, lambda _, j: dz2_i * a1[j]), "b2": sp.Matrix([dz2_i]),
                  "W1": sp.Matrix(d1, d0, lambda j, k: dz1_i[j] * X[i, k]),
                  "b1": sp.Matrix(d1, 1, lambda j, _: dz1_i[j])}
    # the batched (matrix) formulas, entry by entry, with named matrices
    defs = {Z1[i, j]: z1[j] for j in range(d1)}
    defs.update({A1[i, j]: sigma(Z1[i, j]) for j in range(d1)})
    defs[A2[i]] = sigma(b2[0] + sum(W2[0, j] * A1[i, j] for j in range(d1)))
    defs[dZ2[i]] = (A2[i] - Y[i]) / n
    defs.update({dZ1[i, j]: dZ2[i] * W2[0, j] * A1[i, j] * (1 - A1[i, j]) for j in range(d1)})
    batched = {"W2": sp.Matrix(1, d1, lambda _, j: S(dZ2[i] * A1[i, j])),
               "b2": sp.Matrix([S(dZ2[i])]),
               "W1": sp.Matrix(d1, d0, lambda j, k: S(dZ1[i, j] * X[i, k])),
               "b1": sp.Matrix(d1, 1, lambda j, _: S(dZ1[i, j]))}
    formula = {"W2": "dW^{[2]} = (dZ^{[2]})ᵀ A^{[1]}", "b2": "db^{[2]} = (dZ^{[2]})ᵀ 1",
               "W1": "dW^{[1]} = (dZ^{[1]})ᵀ X", "b1": "db^{[1]} = (dZ^{[1]})ᵀ 1"}
    steps = [
        Step(J, "n 个样本（X 的第 i 行，i = 0, …, n−1，与 NumPy 一致）的平均交叉熵代价。",
             "The mean cross-entropy cost over n samples (row i of X, i = 0, …, n−1 as in NumPy).",
             lhs=r"\mathcal{J}"),
        Step(sp.Eq(dZ2[i], (A2[i] - Y[i]) / n), "dZ^{[2]} = n^{−1}(A^{[2]} − Y)：输出层误差项（含 1/n）。",
             "dZ^{[2]} = n^{−1}(A^{[2]} − Y): the output error term, with the 1/n."),
        Step(sp.Eq(dZ1[i, j_], dZ2[i] * sp.IndexedBase("w^{[2]}")[j_] * A1[i, j_] * (1 - A1[i, j_])),
             "dZ^{[1]} = dZ^{[2]} W^{[2]} ∘ σ'(Z^{[1]})（广播）。",
             "dZ^{[1]} = dZ^{[2]} W^{[2]} ∘ σ'(Z^{[1]}) (broadcast)."),
    ]
    for nm in ("W2", "b2", "W1", "b1"):
        lhs = rf"d{nm[0]}^{{[{nm[1]}]}}"
        dli = rf"\frac{{\partial L_i}}{{\partial {nm[0]}^{{[{nm[1]}]}}}}"
        direct = params[nm].applyfunc(lambda p: sp.diff(loss_i, p))
        steps += [
            Step(per_sample[nm], f"样本 i 的梯度 ∂L_i/∂{nm}（单样本公式）。",
                 f"The gradient ∂L_i/∂{nm} of sample i (the one-sample formula).", lhs=dli),
            Step(direct, "核对：直接对 L_i 求导。", "Check: differentiate L_i directly.", True,
                 lhs=dli),
            Step(direct.applyfunc(lambda e: S(e) / n),
                 "求导是线性的：对任意 n，∂J/∂θ = (1/n) Σ_i ∂L_i/∂θ。",
                 "Differentiation is linear: for every n, ∂J/∂θ = (1/n) Σ_i ∂L_i/∂θ.",
                 lhs=rf"\frac{{\partial \mathcal{{J}}}}{{\partial {nm[0]}^{{[{nm[1]}]}}}}"),
            Step(per_sample[nm].applyfunc(lambda e: S(e) / n), "即逐样本梯度（单样本公式）的平均。",
                 "That is the mean of the per-sample gradients (one-sample formula).", True,
                 lhs=rf"\frac{{1}}{{n}}\sum_i {dli}"),
            Step(batched[nm], f"矩阵公式 {formula[nm]}：矩阵乘积就是对行 i 求和。",
                 f"The matrix formula {formula[nm]}: the matrix product is the sum over rows i.",
                 True, lhs=lhs),
        ]

    def full(e):
        while (new := e.xreplace(defs)) != e:
            e = new
        return e

    results = {f"d{nm}": full(batched[nm]) for nm in batched}
    results["cost"] = J
    # fast callables: row i of every matrix becomes a column array, Σ_i a NumPy sum
    Xl, Yl = X.label, Y.label
    row = {X[i, k]: sp.Symbol(f"X_col{k}") for k in range(d0)}
    row[Y[i]] = Yl
    row.update({key: sp.Symbol(f"row{m}") for m, key in enumerate(defs)})
    program = [(n, nrows(Xl))] + [(row[X[i, k]], column(Xl, k)) for k in range(d0)]
    program += [(row[key], defs[key].xreplace(row)) for key in defs]
    compact = {f"d{nm}": batched[nm].applyfunc(lambda e: rowsum(e.function.xreplace(row)))
               for nm in batched}
    compact["cost"] = rowsum(loss_i.xreplace(row)) / n
    return Derivation(
        "batched_backprop",
        {"zh": f"一个隐藏层（d0 = {d0}, d1 = {d1}, d2 = 1，sigmoid），n 个样本按行排成 X：证明向量化的反向传播"
               "公式等于逐样本梯度的平均（n 为符号）。",
         "en": f"One hidden layer (d0 = {d0}, d1 = {d1}, d2 = 1, sigmoid), n samples as the rows of X: "
               "the vectorized backward formulas equal the mean of the per-sample gradients "
               "(n symbolic)."},
        steps, results,
        {"X": X, "Y": Y, "W1": W1, "b1": b1, "W2": W2, "b2": b2, "n": n},
        args={k: ("X", "Y", "W1", "b1", "W2", "b2") for k in results},
        definitions=defs, index_values=[{n: 2, i: 0}, {n: 3, i: 2}, {n: 4, i: 1}],
        program=program, compact=compact)


DERIVATIONS = {"a3_network": a3_network, "a4_relu_network": a4_relu_network,
               "backprop_recurrences": backprop_recurrences,
               "batched_backprop": batched_backprop}

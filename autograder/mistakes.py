"""Mistakes the feedback names (docs/exercises.md, "Mistakes to recognise").

One kind of object for every part: a :class:`Mistake` has an ``id`` (what
results, gradebooks and tests store), a ``name`` and a ``hint`` (each
``msg(zh, en)``: what went wrong, and the lecture's formula that puts it
right) and how it transforms the reference — ``make(params) -> {part:
wrong answer}`` for number, formula and order parts, ``fn(*args)`` (the
wrong reference) for a function part. A question module defines its own
mistakes right after its imports and binds them to its parts::

    CONV_NO_ROTATION = Mistake("conv_no_rotation", name=msg(...), hint=msg(...))
    ... Question(..., mistakes=(CONV_NO_ROTATION.with_make(lambda p: {...}),))
    ... FnSpec(..., mistakes=(CONV_NO_ROTATION.with_fn(_delta_unrotated),))

This module holds the mistakes several assignments (or the judge itself)
name, once, and the catalogue: every mistake made registers its id, so one
id has one name and hint (a second text for an id fails at import), and
reports look texts up by id (:func:`known_mistake`), importing the
question modules when the id is not registered yet.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Callable

from .i18n import Message, msg

__all__ = ["Mistake", "mistake", "known_mistake", "mistake_name", "catalogue"]

_CATALOGUE: dict[str, "Mistake"] = {}


@dataclass(frozen=True)
class Mistake:
    """A named mistake: ``id``, ``name`` and ``hint`` (both ``msg(zh, en)``,
    neither empty), and at most one of ``make`` (number/formula parts:
    ``make(params)`` returns the wrong answers it produces for some parts,
    only those are compared) and ``fn`` (a function part: the wrong
    reference, called with the reference's arguments). Making one catalogues
    its id with its texts."""
    id: str
    name: Message
    hint: Message
    make: Callable[[dict], dict] | None = None
    fn: Callable[..., Any] | None = None

    def __post_init__(self):
        if not (isinstance(self.id, str) and re.fullmatch(r"[a-z][a-z0-9_]*", self.id)):
            raise ValueError(f"a mistake id is lower_snake_case, got {self.id!r}")
        for what in ("name", "hint"):
            text = getattr(self, what)
            if not (isinstance(text, Message) and text.zh.strip() and text.en.strip()):
                raise TypeError(f"mistake {self.id!r}: {what} must be msg(zh, en) with both "
                                f"texts, got {text!r}")
        if self.make is not None and self.fn is not None:
            raise ValueError(f"mistake {self.id!r}: give make (answers) or fn (a function), "
                             f"not both")
        for what in ("make", "fn"):
            if getattr(self, what) is not None and not callable(getattr(self, what)):
                raise TypeError(f"mistake {self.id!r}: {what} must be callable")
        _register(self)

    def with_make(self, make: Callable[[dict], dict]) -> "Mistake":
        """This mistake on a number/formula question: ``make(params)`` gives
        its wrong answers ``{part: value}``."""
        return dataclasses.replace(self, make=make, fn=None)

    def with_fn(self, fn: Callable[..., Any]) -> "Mistake":
        """This mistake on a function part: ``fn`` is the wrong reference."""
        return dataclasses.replace(self, make=None, fn=fn)

    @property
    def text(self) -> Message:
        """The mistake in one line, as plain-text feedback shows it
        (``name：hint`` / ``Name: hint``); pages show the fields apart."""
        return Message(f"{self.name.zh}：{self.hint.zh}", f"{self.name.en}: {self.hint.en}")


def _register(m: Mistake) -> None:
    known = _CATALOGUE.get(m.id)
    if known is None:
        _CATALOGUE[m.id] = m if m.make is None and m.fn is None else \
            Mistake(m.id, m.name, m.hint)
    elif (known.name, known.hint) != (m.name, m.hint):
        raise ValueError(f"mistake id {m.id!r} is already catalogued with another name or hint")


def mistake(mistake_id: str) -> Mistake:
    """The catalogued mistake ``mistake_id`` among those made so far (a
    question module names its mistakes at import, so an unknown id fails
    there); a ``KeyError`` names unknown ids."""
    try:
        return _CATALOGUE[mistake_id]
    except KeyError:
        raise KeyError(f"unknown mistake id {mistake_id!r}; known: {sorted(_CATALOGUE)}") from None


def _load_questions() -> None:
    """Import every question module (the built-in ones and the folders of
    the courses loaded so far): they register their mistakes. A module that
    fails to import is skipped here — grading reports it; a report then
    shows the bare id."""
    from . import questions
    questions.sync()
    for assignment in list(questions.MODULES):
        try:
            questions.questions_of(assignment)
        except Exception:  # noqa: BLE001 — see the docstring
            continue


def known_mistake(mistake_id: str | None) -> Mistake | None:
    """The catalogued mistake ``mistake_id`` for showing it (the question
    modules are imported if it is not registered yet), or ``None``."""
    if not mistake_id:
        return None
    if mistake_id not in _CATALOGUE:
        _load_questions()
    return _CATALOGUE.get(mistake_id)


def mistake_name(mistake_id: str) -> Message:
    """The name a report gives ``mistake_id``: its catalogued name, or the bare id."""
    known = known_mistake(mistake_id)
    return known.name if known is not None else Message(mistake_id, mistake_id)


def catalogue() -> dict[str, Mistake]:
    """Every catalogued mistake by id (after importing every question module)."""
    _load_questions()
    return dict(sorted(_CATALOGUE.items()))


# ==========================================================================
# the mistakes several assignments (or the judge itself) name

LECTURE_NUMBERS = Mistake(
    "lecture_numbers",
    name=msg("这是用课堂上的数字算出的答案；你的数字由你的学号决定",
             "These are the lecture's numbers; yours are from your student id"),
    hint=msg("请用笔记本开头打印出的你自己的数字。",
             "use your own numbers, printed at the top of the notebook."))

TOO_FEW_DIGITS = Mistake(
    "too_few_digits",
    name=msg("有效数字太少",
             "Too few significant digits"),
    hint=msg("按题目要求至少保留 4 位有效数字（或直接用 NumPy 计算）。",
             "keep at least 4, as the question asks (or compute with NumPy)."))

NUMERICALLY_UNSTABLE = Mistake(
    "numerically_unstable",
    name=msg("数值不稳定",
             "Not numerically stable"),
    hint=msg("计算中 exp 溢出（或出现 0 除、inf − inf），即使结果看起来对也不行。只对非正数取 "
             "exp：σ(x) 用 e^{−|x|}，log-softmax 先减去最大值 m：x − m − log Σ e^{x−m}。",
             "exp overflows while computing it (or a division by zero, inf − inf happens), "
             "even if the result looks right. Take exp of non-positive numbers only: e^{−|x|} "
             "for σ(x); for log-softmax subtract the maximum m first: x − m − log Σ e^{x−m}."))

TRANSPOSED_GRADIENT = Mistake(
    "transposed_gradient",
    name=msg("梯度转置了",
             "Gradient transposed"),
    hint=msg("权重梯度应为 ∂L/∂W = δ aᵀ（与 W 同形状），不是 a δᵀ。",
             "the weight gradient is ∂L/∂W = δ aᵀ (the shape of W), not a δᵀ."))

MISSING_ACTIVATION_DERIVATIVE = Mistake(
    "missing_activation_derivative",
    name=msg("漏掉了激活函数的导数",
             "Activation derivative missing"),
    hint=msg("δ^(l) = f'(z^(l)) ⊙ (W^(l+1)ᵀ δ^(l+1))，不是 W^(l+1)ᵀ δ^(l+1)。",
             "δ^(l) = f'(z^(l)) ⊙ (W^(l+1)ᵀ δ^(l+1)), not W^(l+1)ᵀ δ^(l+1)."))

ACTIVATION_FOR_DERIVATIVE = Mistake(
    "activation_for_derivative",
    name=msg("把 σ(z) 当成了 σ'(z)",
             "σ(z) used in place of σ'(z)"),
    hint=msg("sigmoid 的导数是 σ'(z) = σ(z)(1 − σ(z))。",
             "the sigmoid's derivative is σ'(z) = σ(z)(1 − σ(z))."))

DERIVATIVE_AT_ACTIVATION = Mistake(
    "derivative_at_activation",
    name=msg("导数在 a 处求值了",
             "Derivative evaluated at a instead of z"),
    hint=msg("应为 f'(z)（例如 σ'(z) = a(1 − a)），不是 f'(a)。",
             "use f'(z) (e.g. σ'(z) = a(1 − a)), not f'(a)."))

SIGN_ERROR = Mistake(
    "sign_error",
    name=msg("符号错误",
             "Sign error"),
    hint=msg("∂L/∂y = y − t（不是 t − y）；梯度下降是 θ ← θ − η∇L。",
             "∂L/∂y = y − t (not t − y); gradient descent is θ ← θ − η∇L."))

DROPPED_HALF = Mistake(
    "dropped_half",
    name=msg("丢掉了 ½(y − t)² 中的 ½",
             "The ½ of ½(y − t)² was dropped, doubling the gradient"),
    hint=msg("梯度被放大了一倍；∂/∂y ½(y − t)² = y − t。",
             "∂/∂y ½(y − t)² = y − t."))

MISSING_BATCH_MEAN = Mistake(
    "missing_batch_mean",
    name=msg("漏掉了批量平均的 1/n",
             "The 1/n of the batch mean is missing"),
    hint=msg("dZ^[2] = (A^[2] − Y)/n。",
             "dZ^[2] = (A^[2] − Y)/n."))

DOUBLE_BATCH_MEAN = Mistake(
    "double_batch_mean",
    name=msg("批量平均的 1/n 用了两次",
             "The 1/n of the batch mean was applied twice"),
    hint=msg("只在 dZ^[2] = (A^[2] − Y)/n 中除以 n。",
             "divide by n once, in dZ^[2] = (A^[2] − Y)/n."))

LR_NOT_APPLIED = Mistake(
    "lr_not_applied",
    name=msg("更新时没有乘学习率",
             "The learning rate was not applied in the update"),
    hint=msg("θ ← θ − η ∇L。",
             "θ ← θ − η ∇L."))

GRADIENT_ASCENT = Mistake(
    "gradient_ascent",
    name=msg("沿梯度方向上升了",
             "Gradient ascent"),
    hint=msg("梯度下降是 θ ← θ − η ∇L，不是 θ + η ∇L。",
             "descent is θ ← θ − η ∇L, not θ + η ∇L."))

UPDATED_BEFORE_ALL_GRADIENTS = Mistake(
    "updated_before_all_gradients",
    name=msg("在算完所有梯度之前就更新了参数",
             "Parameters updated before all gradients were computed"),
    hint=msg("先用旧参数求出全部梯度，再统一更新。",
             "compute every gradient with the old parameters, then update."))

RELU_DERIVATIVE_WHEN_OFF = Mistake(
    "relu_derivative_when_off",
    name=msg("对未激活（z ≤ 0）的 ReLU 单元取了导数 1",
             "ReLU derivative taken as 1 for a unit that is off"),
    hint=msg("ReLU'(z) = 0（z ≤ 0）。",
             "ReLU'(z) = 0 for z ≤ 0."))

CHAIN_RULE_MISSING_INNER = Mistake(
    "chain_rule_missing_inner",
    name=msg("链式法则漏乘了内层函数的导数",
             "The chain rule's inner derivative is missing"),
    hint=msg("(f(g(x)))' = f'(g(x))·g'(x)；例如 ∂z/∂x = ∂z/∂u·∂u/∂x + ∂z/∂v·∂v/∂x。",
             "(f(g(x)))' = f'(g(x))·g'(x); e.g. ∂z/∂x = ∂z/∂u·∂u/∂x + ∂z/∂v·∂v/∂x."))

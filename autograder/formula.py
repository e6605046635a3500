r"""Formula answers: a whitelist parser and an equivalence check.

Students type formulas as strings (``"2xy^2 + 2x/y^2"``, ``"σ(x)(1−σ(x))"``,
``"e^{-x}/(1+e^{-x})²"``) or give SymPy expressions. :func:`check_formula`
decides whether an answer equals the reference formula.

Safety
------
Parsing **never runs code**: no ``eval``, ``sympify`` or ``parse_expr`` of the
input. A small tokenizer and recursive-descent parser build the SymPy
expression node by node from a fixed vocabulary: numbers, the question's
declared symbols, the constants ``e`` (``E``) and ``pi``, the operators
``+ - * / ^ **`` and the functions in :data:`FUNCTIONS`. Anything else —
unknown names, ``.`` (attribute access), indexing, strings, keywords,
``lambda``, ``=`` … — is refused with a bilingual message. Resource bombs are
refused before they are built: input over :data:`MAX_LENGTH` characters,
brackets nested deeper than :data:`MAX_DEPTH`, numeric exponents over
:data:`MAX_EXPONENT` and numbers over :data:`MAX_DIGITS` digits
(``9**9**9**9``), roots of numbers over 100 digits and ``^`` chains over 10
long. The parser is iterative where chains can be long (``x+x+…``,
``- - - x``), so no input reaches Python's recursion limit.

What students may type
----------------------
* numbers ``2``, ``0.5``, ``1e-3``; ``e`` and ``pi``/``π`` (unless the
  question declares a symbol of that name);
* the declared symbols; a Greek name and its letter are the same symbol
  (``gamma`` = ``γ``, ``gamma_i`` = ``γ_i``); ``x_{1}`` is ``x_1``;
* ``+ - * / ^ **``, unary minus, brackets ``() [] {}`` (but ``[`` right
  after a name or a closing bracket is indexing, refused); ``−·×÷``,
  full-width characters and superscript digits (``x²``, ``y⁻³``) are
  normalised; ``\cdot``, ``\left``, ``\right`` and a ``\`` before a name are
  dropped;
  ``√x`` is ``sqrt(x)``;
* implicit multiplication: ``2xy`` (a run of letters is split into declared
  names, longest match first), ``2(x+1)``, ``(x+1)(x-1)``, ``x y``,
  ``2sigmoid(x)``. It binds like ``*``, and ``1/2x`` is refused as
  ambiguous (write ``1/(2x)`` or ``x/2``). ``x^2y`` is ``x²·y``;
* functions (:data:`FUNCTIONS`): ``exp log ln sqrt sin cos tan sinh cosh
  tanh sech abs sign max min sigmoid sigma σ relu softplus heaviside step
  elu leaky_relu delta δ where``. A declared symbol wins over a function of
  the same name (then ``γ(x+1)`` is ``γ·(x+1)``);
* piecewise formulas, two equivalent ways:
  ``heaviside(x) + gamma*heaviside(-x)`` (``heaviside``/``step`` is 0 at
  0, as for ReLU's kink), or ``where(x > 0, 1, gamma)`` (a comparison is only
  allowed as the first argument of ``where``);
* ``delta(i, j)`` is the Kronecker delta; ``i``/``j`` are then sampled as
  integers. A softmax output is written as a symbol the question declares
  (e.g. ``softmax_j`` or ``s_j``): ``delta(i,j) - softmax_j``;
* the names ``sympy.sstr`` prints, because a SymPy answer crosses from the
  notebook to the grader as that text: ``Heaviside(x)`` /
  ``Heaviside(x, h0)`` (SymPy's own value at 0), ``KroneckerDelta(i, j)``,
  ``Abs``, ``Max``, ``Min``, ``exp``, ``log``, ``sqrt``, ``sech``, …, the
  constant ``E``, and ``Piecewise((value, condition), …)`` whose conditions
  are comparisons, ``Eq(a, b)``, ``Ne(a, b)``, ``True``/``False``, joined by
  ``&`` and ``|`` in brackets (the same conditions ``where`` accepts);
* names a question *defines* (``definitions={"a": "sigmoid(z)"}``): they
  stand for their expression and are replaced before comparing, so ``a − y``
  and ``σ(z) − y`` are the same answer.

SymPy answers may use any SymPy expression over the declared symbols;
functions named ``sigma``/``sigmoid``, ``relu``, ``step``/``heaviside``,
``softplus`` (such as ``nn_core.symbolic.functions``'s) are rewritten into
the same elementary forms as the parser's. Other undefined functions (a
generic ``f``) cannot be evaluated, so only a symbolic proof can accept such
an answer; without one in time the status is ``"undecided"``.

Deciding equality
-----------------
Both sides are evaluated (30-digit arithmetic) at ``samples`` random points
of the domain (values rounded to 3 significant digits, so a student can
redo them by hand), seeded from the two formulas so a grade is
reproducible. Points where the reference is not a finite real number are
skipped; a point where they differ (relative tolerance ``rtol``) is a
counterexample and the answer is wrong. So is an answer undefined (or not
real) at 3 points where the reference is defined (``2log(x)`` for
``log(x²)``); fewer such points are taken as removable singularities and
skipped. When all points agree the answer is correct, and SymPy's
``simplify`` is tried too, to record a proof. All of this runs in a forked
child process killed at ``time_limit`` seconds, so no formula can hang the
grader (a thread is used where ``fork`` is unavailable).

Cost formulas
-------------
:func:`check_order` judges an operation count (a polynomial in, say, n and
L): equal to the reference → ``"correct"``; not equal but with the same
leading term (the terms of highest total degree: ``2Ln²`` for
``(2L − 1)n² + Ln``) → ``"partial"``, the message saying the leading term is
right but the exact count under the stated convention is not; otherwise as
:func:`check_formula`. The leading terms are compared in the same
time-limited child process.
"""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import keyword
import math
import numbers
import os
import queue
import random
import re
import select
import sys
import threading
import time
import unicodedata
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

import sympy as sp
from sympy.core.function import AppliedUndef

from .i18n import Message, check_language, msg

__all__ = ["FormulaError", "FormulaResult", "Function", "FUNCTIONS", "CONSTANTS",
           "MAX_LENGTH", "MAX_DEPTH", "MAX_EXPONENT", "MAX_DIGITS",
           "parse_formula", "check_formula", "check_order", "leading_term"]

MAX_LENGTH = 2000    #: longest formula string accepted (characters)
MAX_DEPTH = 100      #: deepest bracket nesting accepted
MAX_EXPONENT = 1000  #: largest |numeric exponent| accepted
MAX_DIGITS = 1000    #: largest number (in decimal digits) a numeric power may make

_ROOT_DIGITS = 100   # largest number (in digits) a fractional power may take a root of
_MAX_CHAIN = 10      # longest chain a^b^c^… accepted
_UNDEFINED_LIMIT = 3  # points where only the answer is undefined that make it wrong
_PREC = 30           # decimal digits used for numeric evaluation
_ATOL = 1e-14        # absolute slack, for values near 0


class FormulaError(ValueError):
    """A formula could not be read. ``.message`` is the bilingual :class:`Message`."""

    def __init__(self, message: Message):
        super().__init__(message.render("zh+en"))
        self.message = message

    def __reduce__(self):                # picklable across worker processes
        return type(self), (self.message,)


def _fail(zh: str, en: str, /, **kw) -> FormulaError:
    """A FormulaError from a message template and its fields (text fields
    made valid UTF-8: a student's lone surrogate is never quoted raw)."""
    from .results import valid_text
    kw = {k: valid_text(v) if isinstance(v, str) else v for k, v in kw.items()}
    return FormulaError(msg(zh, en).format(**kw))


def _shown(ch: str) -> str:
    """A character as a message may quote it: itself if printable, else ``U+XXXX``."""
    return ch if ch.isprintable() and not "\ud800" <= ch <= "\udfff" else f"U+{ord(ch):04X}"


# ---------------------------------------------------------------- vocabulary

@dataclass(frozen=True)
class Function:
    """A function students may call: its argument count and SymPy builder."""

    build: Callable[..., sp.Expr]
    min_args: int = 1
    max_args: int | None = 1   # None: any number


def _sigmoid(a):
    return 1 / (1 + sp.exp(-a))


def _heaviside(a):
    return sp.Heaviside(a, 0)        # 0 at 0, like ReLU's derivative in nn_core


def _sympy_heaviside(a, h0=None):
    """``Heaviside(x)`` / ``Heaviside(x, h0)`` exactly as SymPy prints them
    (``heaviside``/``step`` are the course's, 0 at 0)."""
    return sp.Heaviside(a) if h0 is None else sp.Heaviside(a, h0)


def _log(a, base=None):
    return sp.log(a) if base is None else sp.log(a, base)


def _sqrt(a):
    return _power(a, sp.Rational(1, 2))


def _piecewise(value_if_positive, otherwise, x):
    return sp.Piecewise((value_if_positive, x > 0), (otherwise, True))


F = Function
#: The function whitelist (name → :class:`Function`).
FUNCTIONS: dict[str, Function] = {
    "exp": F(sp.exp), "log": F(_log, 1, 2), "ln": F(sp.log), "sqrt": F(_sqrt),
    "sin": F(sp.sin), "cos": F(sp.cos), "tan": F(sp.tan),
    "sinh": F(sp.sinh), "cosh": F(sp.cosh), "tanh": F(sp.tanh), "sech": F(sp.sech),
    "abs": F(sp.Abs), "sign": F(sp.sign), "max": F(sp.Max, 1, None), "min": F(sp.Min, 1, None),
    "sigmoid": F(_sigmoid), "sigma": F(_sigmoid), "σ": F(_sigmoid),
    "relu": F(lambda x: sp.Max(0, x)),
    "softplus": F(lambda x: sp.log(1 + sp.exp(x))),
    "heaviside": F(_heaviside), "step": F(_heaviside),
    "elu": F(lambda x, g: _piecewise(x, g * (sp.exp(x) - 1), x), 2, 2),
    "leaky_relu": F(lambda x, g: _piecewise(x, g * x, x), 2, 2),
    "delta": F(sp.KroneckerDelta, 2, 2), "δ": F(sp.KroneckerDelta, 2, 2),
    "where": F(lambda cond, a, b: sp.Piecewise((a, cond), (b, True)), 3, 3),
    # the names ``sympy.sstr`` prints (a SymPy answer crosses processes as that text)
    "Heaviside": F(_sympy_heaviside, 1, 2), "KroneckerDelta": F(sp.KroneckerDelta, 2, 2),
    "Abs": F(sp.Abs), "Max": F(sp.Max, 1, None), "Min": F(sp.Min, 1, None),
    "Piecewise": F(lambda *pairs: sp.Piecewise(*pairs), 1, None),
}
del F

#: Functions whose arguments are read by a grammar of their own (conditions).
_SPECIAL = ("where", "Piecewise")

#: Constants usable unless a declared symbol has the same name (``E`` is how
#: ``sympy.sstr`` prints Euler's number).
CONSTANTS: dict[str, sp.Expr] = {"e": sp.E, "E": sp.E, "pi": sp.pi, "π": sp.pi}

# Functions a *SymPy* answer may carry under these class names (nn_core's own).
_SYMPY_ALIASES = {"sigma": _sigmoid, "sigmoid": _sigmoid, "σ": _sigmoid,
                  "relu": FUNCTIONS["relu"].build, "softplus": FUNCTIONS["softplus"].build,
                  "step": _heaviside, "heaviside": _heaviside, "theta": _heaviside}

_GREEK = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε",
          "zeta": "ζ", "eta": "η", "theta": "θ", "kappa": "κ", "lambda": "λ",
          "mu": "μ", "nu": "ν", "xi": "ξ", "rho": "ρ", "sigma": "σ", "tau": "τ",
          "phi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω"}
_GREEK_NAME = {v: k for k, v in _GREEK.items()}

_NAME_RE = re.compile(r"[^\W\d]\w*")


# ---------------------------------------------------------------- messages

M_CORRECT_BOTH = msg("正确：在 {n} 个随机点上与参考公式一致，且经符号化简证明等价。",
                     "Correct: agrees with the reference at {n} random points and "
                     "is proved equal by simplification.")
M_CORRECT_NUM = msg("正确：在 {n} 个随机点上与参考公式一致。",
                    "Correct: agrees with the reference at {n} random points.")
M_CORRECT_SYM = msg("正确：经符号化简证明与参考公式等价。",
                    "Correct: proved equal to the reference by simplification.")
M_WRONG = msg("不正确：在 {point} 处，你的公式等于 {answer}，与正确的值不同。",
              "Not correct: at {point} your formula gives {answer}, "
              "which is not the expected value.")
M_WRONG_UNDEF = msg("不正确：在 {point} 处你的公式没有定义（或不是实数），而正确的公式在这里有定义。",
                    "Not correct: at {point} your formula is undefined (or not real), "
                    "but the expected formula is defined there.")
M_EXPECTED = msg("（正确的值是 {reference}。）", " (The expected value is {reference}.)")
M_INVALID = msg("无法读取你的公式：{reason}", "Your formula could not be read: {reason}")
M_UNDECIDED = msg("未能在时限内判定你的公式是否正确；可以尝试化简后再提交，或询问助教。",
                  "Could not decide in time whether your formula is right; "
                  "try a simpler form, or ask a teaching assistant.")


# ---------------------------------------------------------------- tokenizer

_REPLACE = {"−": "-", "–": "-", "—": "-", "·": "*", "⋅": "*", "∙": "*", "×": "*",
            "∗": "*", "÷": "/", "（": "(", "）": ")", "［": "[", "］": "]",
            "｛": "{", "｝": "}", "，": ",", "\u3000": " "}
_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_OPEN, _CLOSE = ("(", "[", "{"), (")", "]", "}")

_TOKEN = re.compile(r"""
    (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[^\W\d]\w*)
  | (?P<op>\*\*|<=|>=|[-+*/^(),\[\]{}<>&|])
  | (?P<space>\s+)
""", re.VERBOSE)

_BAD_CHAR = {
    ".": ("不允许使用 “.”（属性访问）", "'.' (attribute access) is not allowed"),
    "'": ("不允许使用引号（字符串）", "quotes (strings) are not allowed"),
    '"': ("不允许使用引号（字符串）", "quotes (strings) are not allowed"),
    "=": ("只写等号右边的公式，不要写 “=”", "write only the formula, without '='"),
    ":": ("不允许使用 “:”（例如 lambda）", "':' is not allowed (e.g. lambda)"),
    ";": ("不允许使用 “;”", "';' is not allowed"),
}


@dataclass(frozen=True)
class _Tok:
    kind: str      # "num", "name", "op", "end"
    text: str
    pos: int


def _normalise(text: str) -> str:
    """Unicode and LaTeX-lite conveniences; purely textual, no evaluation."""
    for a, b in _REPLACE.items():
        text = text.replace(a, b)
    text = re.sub(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+", lambda m: "^(" + m.group().translate(_SUPERSCRIPT) + ")",
                  text)
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"\\(cdot|times)\b", "*", text)
    text = re.sub(r"\\(left|right)\b", "", text)
    text = re.sub(r"\\(?=[^\W\d])", "", text)          # \sigma → sigma, \exp → exp
    text = re.sub(r"_\{(\w+)\}", r"_\1", text)        # x_{1} → x_1
    text = re.sub(r"√\s*\(", "sqrt(", text)
    text = re.sub(r"√\s*(\w+)", r"sqrt(\1)", text)
    return text


def _tokenize(text: str) -> list[_Tok]:
    """Split ``text`` into tokens; refuse unknown characters and bad nesting."""
    toks, stack, i = [], [], 0
    while i < len(text):
        m = _TOKEN.match(text, i)
        if m is None:
            ch = text[i]
            zh, en = _BAD_CHAR.get(ch, (f"不允许使用字符 “{_shown(ch)}”",
                                        f"the character '{_shown(ch)}' is not allowed"))
            raise _fail("{zh}（位置 {p}）。", "{en} (position {p}).", zh=zh, en=en, p=i + 1)
        kind, tok = m.lastgroup, m.group()
        if kind == "op" and tok in _OPEN:
            stack.append(tok)
            if len(stack) > MAX_DEPTH:
                raise _fail("括号嵌套超过 {d} 层。", "brackets are nested more than {d} deep.",
                            d=MAX_DEPTH)
        elif kind == "op" and tok in _CLOSE:
            if not stack or _OPEN.index(stack.pop()) != _CLOSE.index(tok):
                raise _fail("括号不匹配（位置 {p} 的 “{t}”）。",
                            "unmatched bracket {t!r} at position {p}.", t=tok, p=i + 1)
        if kind == "num" and toks and toks[-1].kind == "num":
            raise _fail("两个数字连在一起（位置 {p}），请用 * 连接。",
                        "two numbers in a row at position {p}; join them with '*'.", p=i + 1)
        if kind == "name" and tok.startswith("_"):
            raise _fail("不允许使用以 “_” 开头的名称 “{t}”。", "names starting with '_' such as {t!r} "
                        "are not allowed.", t=tok)
        if kind != "space":
            toks.append(_Tok(kind, "^" if tok == "**" else tok, i))
        i = m.end()
    if stack:
        raise _fail("括号没有闭合。", "a bracket is not closed.")
    toks.append(_Tok("end", "", len(text)))
    return toks


# ---------------------------------------------------------------- parser

def _number(text: str) -> sp.Rational:
    mant, _, exp = text.lower().partition("e")
    if exp and abs(int(exp)) > MAX_EXPONENT or len(mant) > MAX_DIGITS:
        raise _fail("数字 {t} 太大或太小。", "the number {t} is too large or too small.",
                    t=_short(text))
    return sp.Rational(text)


def _coefficient(e: sp.Expr) -> sp.Expr:
    return e.as_coeff_Mul()[0] if e.is_Mul else e


def _too_large(c: sp.Expr, digits: int) -> bool:
    return c.is_Rational and max(abs(c.p), c.q) > 10 ** digits


def _checked(e: sp.Expr) -> sp.Expr:
    """``e`` unless its numeric coefficient has more than MAX_DIGITS digits."""
    if _too_large(_coefficient(e), MAX_DIGITS):
        raise _fail("公式中的数字太大或太小（超过 {m} 位）。",
                    "a number in the formula is too large or too small (over {m} digits).",
                    m=MAX_DIGITS)
    return e


def _power(base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
    """``base**exponent``, refusing numeric powers that would be huge or slow."""
    if exponent.is_Number:
        if abs(exponent) > MAX_EXPONENT:
            raise _fail("指数 {e} 太大（最多 {m}）。", "the exponent {e} is too large (at most {m}).",
                        e=_short(exponent), m=MAX_EXPONENT)
        c = _coefficient(base)
        if c.is_Rational and c != 0:
            digits = abs(math.log10(abs(c.p)) - math.log10(c.q)) * abs(float(exponent))
            if digits > MAX_DIGITS:
                raise _fail("数值 {b}^{e} 太大。", "the number {b}^{e} is too large.",
                            b=_short(c), e=_short(exponent))
            if not exponent.is_Integer and _too_large(c, _ROOT_DIGITS):
                raise _fail("不能对超过 {m} 位的数字开方。",
                            "roots of numbers over {m} digits are not supported.", m=_ROOT_DIGITS)
    return sp.Pow(base, exponent)


def _short(x: Any, n: int = 40) -> str:
    s = str(x)
    return s if len(s) <= n else s[:n] + "…"


_RELATIONS = {"<": sp.Lt, ">": sp.Gt, "<=": sp.Le, ">=": sp.Ge, "Eq": sp.Eq, "Ne": sp.Ne}


def _relation(op: str, left: sp.Expr, right: sp.Expr):
    """``left op right`` as a SymPy relation (a comparison with an infinite or
    complex side is refused)."""
    try:
        return _RELATIONS[op](left, right)
    except (TypeError, ValueError) as exc:
        raise _fail("无法比较：{e}", "cannot compare: {e}", e=_short(exc, 80)) from None


class _Parser:
    """Recursive descent over tokens; every node is built from the whitelist.

    Grammar (``implicit`` = juxtaposition)::

        sum     := term (("+" | "-") term)*
        term    := unary (("*" | "/") unary | implicit power)*
        unary   := ("+" | "-")* power
        power   := primary ("^" ("+" | "-")* primary)*      (right-assoc.)
        primary := number | name | function "(" args ")" | "(" sum ")"
    """

    def __init__(self, toks: list[_Tok], names: dict[str, sp.Expr],
                 functions: Mapping[str, Function]):
        self.toks, self.i = toks, 0
        self.names, self.functions = names, functions
        self.pending: list[tuple[str, Any]] = []   # pieces of a split name
        # longest candidates first, for splitting runs of letters
        self.candidates = sorted(set(names) | set(functions), key=len, reverse=True)

    # -- token helpers
    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def _next_is(self, text: str) -> bool:
        return self.toks[self.i + 1].text == text if self.i + 1 < len(self.toks) else False

    def _expect(self, text: str):
        if self.tok.text != text:
            raise self._unexpected(f"“{text}”", repr(text))
        self.i += 1

    def _unexpected(self, zh_want="", en_want="") -> FormulaError:
        t = self.tok
        what = (("公式结尾", "the end of the formula") if t.kind == "end"
                else (f"“{t.text}”", repr(t.text)))
        want_zh = f"，这里应为 {zh_want}" if zh_want else ""
        want_en = f"; expected {en_want}" if en_want else ""
        return _fail("位置 {p} 出现了意外的 {wz}{rz}。", "unexpected {we} at position {p}{re}.",
                     p=t.pos + 1, wz=what[0], we=what[1], rz=want_zh, re=want_en)

    def _starts_primary(self) -> bool:
        t = self.tok
        return bool(self.pending) or t.kind in ("num", "name") or t.text in _OPEN

    # -- grammar
    def parse(self) -> sp.Expr:
        if self.tok.kind == "end":
            raise _fail("公式是空的。", "the formula is empty.")
        e = self.sum()
        if self.tok.kind != "end":
            if self.tok.text == ",":
                raise _fail("逗号只能用来分隔函数参数（位置 {p}）。",
                            "a comma only separates function arguments (position {p}).",
                            p=self.tok.pos + 1)
            if self.tok.text in ("<", ">", "<=", ">="):
                raise _fail("比较（{t}）只能作为 where(...) 的第一个参数或 Piecewise 的条件。",
                            "a comparison ({t}) is only allowed as where(...)'s first argument "
                            "or as a Piecewise condition.",
                            t=self.tok.text)
            raise self._unexpected()
        return e

    def sum(self) -> sp.Expr:
        terms = [self.term()]
        while not self.pending and self.tok.text in ("+", "-"):
            sign = self.tok.text
            self.i += 1
            t = self.term()
            terms.append(-t if sign == "-" else t)
        return sp.Add(*terms)

    def term(self) -> sp.Expr:
        factors = [self.unary()]
        after_slash = False
        while True:
            t = self.tok
            if not self.pending and t.text in ("*", "/"):
                self.i += 1
                f = self.unary()
                factors.append(f if t.text == "*" else _power(f, sp.Integer(-1)))
                after_slash = t.text == "/"
            elif self._starts_primary():
                prev = self.toks[self.i - 1]
                indexing = prev.kind == "name" or prev.text in _CLOSE
                if t.text == "[" and not self.pending and indexing:
                    raise _fail("不允许下标或索引（位置 {p}）；带下标的变量写成 x_1。",
                                "indexing is not allowed (position {p}); write subscripted "
                                "names as x_1.", p=t.pos + 1)
                if after_slash:
                    raise _fail("“/” 后面的隐式乘法有歧义（位置 {p}）：请写 1/(2x) 或 x/2。",
                                "implicit multiplication after '/' is ambiguous (position {p}): "
                                "write 1/(2x) or x/2.", p=t.pos + 1)
                factors.append(self.power())
            else:
                return _checked(sp.Mul(*factors))

    def unary(self) -> sp.Expr:
        sign = 1
        while not self.pending and self.tok.text in ("+", "-"):
            sign = -sign if self.tok.text == "-" else sign
            self.i += 1
        e = self.power()
        return -e if sign < 0 else e

    def power(self) -> sp.Expr:
        operands = [(1, self.primary())]
        while not self.pending and self.tok.text == "^":
            self.i += 1
            sign = 1
            while self.tok.text in ("+", "-"):
                sign = -sign if self.tok.text == "-" else sign
                self.i += 1
            operands.append((sign, self.primary()))
            if len(operands) > _MAX_CHAIN:
                raise _fail("“^” 连续出现超过 {m} 次。", "more than {m} '^' in a row.", m=_MAX_CHAIN)
        sign, e = operands.pop()
        e = -e if sign < 0 else e
        while operands:                      # fold right: a^(b^c)
            sign, base = operands.pop()
            e = _power(base, e)
            e = -e if sign < 0 else e
        return e

    def primary(self) -> sp.Expr:
        if not self.pending and self.tok.kind == "name":
            self.pending = self._split(self.tok)
            self.i += 1
        if self.pending:
            kind, value = self.pending.pop(0)
            return self.call(value) if kind == "fn" else value
        t = self.tok
        if t.kind == "num":
            self.i += 1
            return _number(t.text)
        if t.text in _OPEN:
            close = _CLOSE[_OPEN.index(t.text)]
            self.i += 1
            if self.tok.text == close:
                raise _fail("空括号（位置 {p}）。", "empty brackets at position {p}.", p=t.pos + 1)
            e = self.sum()
            self._expect(close)
            return e
        raise self._unexpected("数字、变量或 “(”", "a number, a name or '('")

    def call(self, name: str) -> sp.Expr:
        fn = self.functions[name]
        self._expect("(")
        if name == "Piecewise" and fn is FUNCTIONS["Piecewise"]:
            args = self.pieces()
        else:
            args = [] if self.tok.text == ")" else \
                [self.condition() if name == "where" else self.sum()]
            while args and self.tok.text == ",":
                self.i += 1
                args.append(self.sum())
        self._expect(")")
        n = len(args)
        if n < fn.min_args or (fn.max_args is not None and n > fn.max_args):
            want = str(fn.min_args) if fn.min_args == fn.max_args else \
                f"{fn.min_args}–{fn.max_args or '∞'}"
            raise _fail("函数 {f} 需要 {w} 个参数，给了 {n} 个。",
                        "{f} takes {w} argument(s), got {n}.", f=name, w=want, n=n)
        try:
            return fn.build(*args)
        except FormulaError:
            raise
        except (TypeError, ValueError) as exc:
            raise _fail("无法计算 {f}(...)：{e}", "could not build {f}(...): {e}",
                        f=name, e=_short(exc, 80)) from None

    def pieces(self) -> list[tuple]:
        """``Piecewise``'s arguments as ``sympy.sstr`` prints them:
        ``(value, condition), (value, condition), …``."""
        pairs = []
        while True:
            self._expect("(")
            value = self.sum()
            self._expect(",")
            pairs.append((value, self.condition()))
            self._expect(")")
            if self.tok.text != ",":
                return pairs
            self.i += 1

    # conditions (``where``'s first argument, ``Piecewise``'s pieces):
    #   condition := conjunct ("|" conjunct)*
    #   conjunct  := atom ("&" atom)*
    #   atom      := True | False | Eq(sum, sum) | Ne(sum, sum) | "(" condition ")"
    #              | sum ("<" | ">" | "<=" | ">=") sum
    def condition(self):
        terms = [self.conjunct()]
        while self.tok.text == "|":
            self.i += 1
            terms.append(self.conjunct())
        return sp.Or(*terms) if len(terms) > 1 else terms[0]

    def conjunct(self):
        terms = [self.condition_atom()]
        while self.tok.text == "&":
            self.i += 1
            terms.append(self.condition_atom())
        return sp.And(*terms) if len(terms) > 1 else terms[0]

    def condition_atom(self):
        t = self.tok
        if t.kind == "name" and t.text in ("True", "False"):
            self.i += 1
            return sp.true if t.text == "True" else sp.false
        if t.kind == "name" and t.text in ("Eq", "Ne") and self._next_is("("):
            self.i += 2
            left = self.sum()
            self._expect(",")
            right = self.sum()
            self._expect(")")
            return _relation(t.text, left, right)
        if t.text == "(" and self._bracket_holds_condition():
            self.i += 1
            c = self.condition()
            self._expect(")")
            return c
        left = self.sum()
        op = self.tok.text
        if op not in ("<", ">", "<=", ">="):
            raise self._unexpected("比较符号 < > <= >=", "a comparison < > <= >=")
        self.i += 1
        return _relation(op, left, self.sum())

    def _bracket_holds_condition(self) -> bool:
        """Does the bracket opening here hold a condition (``(x > 0) & …``)
        rather than a number (``(x + 1) > 0``)? One scan, no backtracking."""
        depth = 0
        for k in range(self.i, len(self.toks)):
            t = self.toks[k]
            if t.text in _OPEN:
                depth += 1
            elif t.text in _CLOSE:
                depth -= 1
                if depth == 0:
                    return False
            elif depth == 1 and (t.text in ("<", ">", "<=", ">=", "&", "|")
                                 or (t.kind == "name" and t.text in ("True", "False", "Eq", "Ne"))):
                return True
        return False

    # -- names
    def _split(self, tok: _Tok) -> list[tuple[str, Any]]:
        """Resolve a run of letters into declared names, constants and a function."""
        word, call = tok.text, self._next_is_paren()
        if word in self.names:
            return [("sym", self.names[word])]
        if word in self.functions:
            if not call:
                raise _fail("函数 {w} 需要括号，例如 {w}(x)。",
                            "the function {w} needs parentheses, e.g. {w}(x).", w=word)
            return [("fn", word)]
        if keyword.iskeyword(word):
            raise _fail("不允许使用 Python 关键字 “{w}”。", "the Python keyword {w!r} is not allowed.",
                        w=word)
        pieces = None if "__" in word else self._segment(word, call)
        if pieces is not None:
            return pieces
        if call:
            raise _fail("未知函数 “{w}”。可用的函数：{f}。",
                        "unknown function {w!r}. Functions you may use: {f}.",
                        w=word, f=", ".join(self.functions))
        def loose(n):
            return n.replace("_", "").lower()
        close = [n for n in self.names if loose(n) == loose(word)]
        hint = msg(f"你是不是想写 {close[0]}？", f"Did you mean {close[0]}? ") if close else msg("", "")
        raise _fail("未知名称 “{w}”。{h}可用的名称：{n}。", "unknown name {w!r}. {h}Names you may use: {n}.",
                    w=word, h=hint, n=", ".join(sorted(self.names)))

    def _next_is_paren(self) -> bool:
        return self._next_is("(")

    def _segment(self, word: str, call: bool):
        """Split ``word`` into known names (longest first, with backtracking)."""
        n = len(word)
        best: list = [None] * (n + 1)
        best[n] = []
        for i in range(n - 1, -1, -1):
            for c in self.candidates:
                j = i + len(c)
                if j > n or not word.startswith(c, i) or best[j] is None:
                    continue
                if c in self.names:
                    best[i] = [("sym", self.names[c])] + best[j]
                    break
                if c in self.functions and j == n and call:
                    best[i] = [("fn", c)]
                    break
        return best[0]


# ---------------------------------------------------------------- symbols

def _symbol_table(symbols, assumptions=None) -> dict[str, sp.Symbol]:
    """Declared symbols by name: ``symbols`` holds names, Symbols, or is one string ``"x y"``."""
    if isinstance(symbols, (str, sp.Symbol)):
        symbols = [symbols]
    table: dict[str, sp.Symbol] = {}
    for item in symbols or ():
        for s in item.replace(",", " ").split() if isinstance(item, str) else [item]:
            if isinstance(s, str):
                if not _NAME_RE.fullmatch(s) or s.startswith("_"):
                    raise ValueError(f"invalid symbol name {s!r}: use letters, digits and '_'")
                s = sp.Symbol(s)
            if not isinstance(s, sp.Symbol):
                raise ValueError(f"symbols must be names or SymPy Symbols, got {type(s).__name__}")
            table[s.name] = s
    for name, props in (assumptions or {}).items():
        if name not in table:
            raise ValueError(f"assumptions given for {name!r}, which is not a declared symbol")
        if not isinstance(props, Mapping):
            raise ValueError(f"assumptions for {name!r} must be a dict like {{'positive': True}}")
        table[name] = sp.Symbol(name, **{**table[name].assumptions0, **props})
    return table


def _name_table(table: dict[str, sp.Symbol]) -> dict[str, sp.Expr]:
    """Names a formula may use: constants, Greek aliases (``gamma_i`` ↔ ``γ_i``), symbols."""
    names: dict[str, sp.Expr] = dict(CONSTANTS)
    for name, sym in table.items():
        head, sep, tail = name.partition("_")
        other = _GREEK.get(head) or _GREEK_NAME.get(head)
        if other:
            names[other + sep + tail] = sym
    names.update(table)                 # a declared name wins over an alias or a constant
    return names


def _function_table(functions) -> dict[str, Function]:
    if functions is None:
        return FUNCTIONS
    if isinstance(functions, Mapping):
        out = dict(FUNCTIONS)
        for name, fn in functions.items():
            out[name] = fn if isinstance(fn, Function) else Function(fn, 0, None)
        return out
    out = {}
    for name in functions:
        if name not in FUNCTIONS:
            raise ValueError(f"{name!r} is not in the function whitelist")
        out[name] = FUNCTIONS[name]
    return out


# ---------------------------------------------------------------- public: parse

def parse_formula(text, symbols, functions=None, *, assumptions=None,
                  definitions=None) -> sp.Expr:
    """Read a formula safely and return a SymPy expression.

    ``text`` is a string (see the module docstring for the syntax) or a SymPy
    expression / Python number, which is checked against the same vocabulary.
    ``symbols`` lists the names the formula may use (strings or Symbols).
    ``functions`` is ``None`` (the whole :data:`FUNCTIONS` whitelist), an
    iterable of whitelisted names (restrict), or a mapping name → builder
    callable or :class:`Function` (extend). ``definitions`` maps extra names
    the formula may use to what they stand for (``{"a": "sigmoid(z)"}``): they
    are replaced, so the result is over the declared symbols only.

    Raises :class:`FormulaError` (a ``ValueError`` carrying a bilingual
    ``.message``) for anything that is not a valid formula.
    """
    table = _symbol_table(symbols, assumptions)
    fns = _function_table(functions)
    names, defined = _definitions(definitions, table, fns)
    return _read(text, names, fns, defined)


def _read(value, names: dict[str, sp.Symbol], fns, defined: dict) -> sp.Expr:
    """A formula (string or SymPy) over ``names``, its defined names replaced
    by what they stand for."""
    e = _parse_text(value, names, fns) if isinstance(value, str) else _from_sympy(value, names)
    return e.xreplace(defined) if defined else e


def _definitions(definitions, table: dict[str, sp.Symbol], fns):
    """``(names, substitution)``: the declared symbols plus the defined names
    (each a placeholder Symbol), and placeholder → the expression it stands
    for (a formula over the declared symbols)."""
    if not definitions:
        return table, {}
    if not isinstance(definitions, Mapping):
        raise ValueError("definitions must map a name to a formula, e.g. {'a': 'sigmoid(z)'}")
    names, defined = dict(table), {}
    for name, value in definitions.items():
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or name.startswith("_"):
            raise ValueError(f"invalid defined name {name!r}: use letters, digits and '_'")
        if name in table:
            raise ValueError(f"{name!r} is both a declared symbol and a defined name")
        placeholder = sp.Symbol(name)
        names[name] = placeholder
        defined[placeholder] = _parse_text(value, table, fns) if isinstance(value, str) \
            else _from_sympy(value, table)
    return names, defined


def _parse_text(text: str, table, fns) -> sp.Expr:
    if len(text) > MAX_LENGTH:
        raise _fail("公式太长（{n} 个字符，最多 {m} 个）。",
                    "the formula is too long ({n} characters, at most {m}).",
                    n=len(text), m=MAX_LENGTH)
    if not text.strip():
        raise _fail("公式是空的。", "the formula is empty.")
    try:
        text = _normalise(text)
        if len(text) > 2 * MAX_LENGTH:          # NFKC can expand some characters
            raise _fail("公式太长。", "the formula is too long.")
        toks = _tokenize(text)
        return _Parser(toks, _name_table(table), fns).parse()
    except FormulaError:
        raise
    except (RecursionError, MemoryError, OverflowError) as exc:
        raise _fail("公式太复杂（{e}）。", "the formula is too complex ({e}).",
                    e=type(exc).__name__) from None


def _from_sympy(obj, table: dict[str, sp.Symbol]) -> sp.Expr:
    """Check a SymPy (or plain number) answer and rename its symbols to the declared ones."""
    if isinstance(obj, bool) or obj is None:
        raise _fail("请给出一个公式（字符串或 SymPy 表达式），而不是 {t}。",
                    "give a formula (a string or a SymPy expression), not {t}.",
                    t=repr(obj))
    if isinstance(obj, numbers.Real) and not isinstance(obj, sp.Basic):
        if not math.isfinite(obj):
            raise _fail("数值 {v} 不是有限数。", "the number {v} is not finite.", v=obj)
        obj = sp.Integer(int(obj)) if isinstance(obj, numbers.Integral) else sp.Float(float(obj))
    if isinstance(obj, bytes):
        raise _fail("请给出字符串（str），不是 bytes。", "give a str, not bytes.")
    if isinstance(obj, sp.MatrixBase):
        raise _fail("这里需要一个公式，而不是矩阵。", "one formula is expected here, not a matrix.")
    if not isinstance(obj, sp.Expr):
        raise _fail("请给出一个公式（字符串或 SymPy 表达式），而不是 {t}。",
                    "give a formula (a string or a SymPy expression), not {t}.",
                    t=type(obj).__name__)
    unknown = sorted(s.name for s in obj.free_symbols if s.name not in table)
    if unknown:
        raise _fail("未知名称：{u}。可用的名称：{n}。", "unknown name(s): {u}. Names you may use: {n}.",
                    u=", ".join(unknown), n=", ".join(table) or "—")
    obj = obj.xreplace({s: table[s.name] for s in obj.free_symbols})

    def known(e):
        return (isinstance(e, sp.Function) and type(e).__name__ in _SYMPY_ALIASES
                and (isinstance(e, AppliedUndef) or not type(e).__module__.startswith("sympy"))
                and len(e.args) == 1)
    return obj.replace(known, lambda e: _SYMPY_ALIASES[type(e).__name__](e.args[0]))


# ---------------------------------------------------------------- result

@dataclass
class FormulaResult:
    """The verdict on one formula answer.

    * ``status``: ``"correct"``, ``"wrong"``, ``"invalid"`` (not readable),
      ``"undecided"`` (nothing conclusive within the time limit) or, from
      :func:`check_order` only, ``"partial"`` (right leading term);
    * ``correct``: ``status == "correct"``;
    * ``message``: the feedback in the requested language; ``feedback`` the
      bilingual :class:`Message` it came from;
    * ``parsed``: the answer as a SymPy expression (``None`` if invalid);
    * ``counterexample``: for a wrong answer ``{"point": {name: value},
      "answer": value or None, "reference": value}``, else ``None``;
    * ``method``: what decided: ``"numeric"``, ``"symbolic"``,
      ``"numeric+symbolic"`` or ``None``; ``points``: how many points agreed.
    """

    correct: bool
    status: str
    message: str
    feedback: Message
    parsed: sp.Expr | None = None
    counterexample: dict | None = None
    method: str | None = None
    points: int = 0


# ---------------------------------------------------------------- sampling

def _domain(table, domain) -> dict[str, tuple[float, float] | list[int]]:
    """Validate ``domain``: name → ``(low, high)`` (reals) or a list/range of integers."""
    out: dict[str, tuple[float, float] | list[int]] = {}
    for name, spec in (domain or {}).items():
        if name not in table:
            raise ValueError(f"domain given for {name!r}, which is not a declared symbol")
        if isinstance(spec, tuple) and len(spec) == 2 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in spec):
            lo, hi = float(spec[0]), float(spec[1])
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"domain for {name!r} must have finite low < high, got {spec}")
            out[name] = (lo, hi)
        elif isinstance(spec, (list, range, set, frozenset)) and len(spec) and all(
                isinstance(v, int) and not isinstance(v, bool) for v in spec):
            out[name] = sorted(spec)
        else:
            raise ValueError(f"domain for {name!r} must be (low, high) or a list of integers, "
                             f"got {spec!r}")
    return out


def _sampler(table, domain, discrete, seed) -> Callable[[], dict]:
    """A seeded generator of points: each symbol drawn from its (default) domain.

    Defaults: ``[1, 2, 3]`` for integer symbols and those in ``discrete``;
    ``(0.1, 2)`` / ``(-2, -0.1)`` for positive / negative ones; else ``±[0.1, 2]``
    (avoiding 0, where many derivatives have a kink or a pole).
    """
    plan = {}
    for name, sym in table.items():
        spec = domain.get(name)
        if spec is None:
            if sym in discrete or sym.is_integer:
                spec = [1, 2, 3]
            elif sym.is_positive or sym.is_nonnegative:
                spec = (0.1, 2.0)
            elif sym.is_negative or sym.is_nonpositive:
                spec = (-2.0, -0.1)
        plan[name] = spec
    rng = random.Random(seed)

    def draw() -> dict[str, float | int]:
        point = {}
        for name, spec in plan.items():
            if isinstance(spec, list):
                point[name] = rng.choice(spec)
                continue
            if spec is None:
                v = rng.choice((-1, 1)) * rng.uniform(0.1, 2.0)
                lo, hi = -2.0, 2.0
            else:
                lo, hi = spec
                v = rng.uniform(lo, hi)
            r = float(f"{v:.3g}")                # readable, reproducible by hand
            point[name] = r if lo <= r <= hi else v
        return point
    return draw


def _value(expr: sp.Expr, subs) -> float | None:
    """``expr`` at the point, as a float, or None if not a finite real number."""
    try:
        c = complex(expr.xreplace(subs).evalf(_PREC))
    except Exception:  # noqa: BLE001 (anything SymPy throws means "no value here")
        return None
    if not (math.isfinite(c.real) and math.isfinite(c.imag)):
        return None
    if abs(c.imag) > 1e-12 * max(abs(c.real), 1e-12):
        return None
    return c.real


def _judge(a: sp.Expr, b: sp.Expr, table, draw, samples: int, rtol: float) -> Iterator[tuple]:
    """The check, step by step.

    Yields ``("numeric", verdict, points_agreeing, counterexample)`` with
    verdict ``"equal"``, ``"wrong"`` or ``"unknown"``, then, only when the
    numbers were inconclusive, ``("symbolic", proved)`` (simplification costs
    far more than sampling, and cannot overturn points that all agree).
    """
    used = {s.name for s in a.free_symbols | b.free_symbols}
    if a.atoms(AppliedUndef) or b.atoms(AppliedUndef):
        yield ("numeric", "unknown", 0, None)          # undefined functions: no numbers
    else:
        agreed, undefined = 0, []
        for _ in range(10 * samples):
            point = draw()
            subs = {table[k]: (sp.Integer(v) if isinstance(v, int) else sp.Float(repr(v), _PREC))
                    for k, v in point.items()}
            ref = _value(b, subs)
            if ref is None:                             # outside the reference's domain
                continue
            point = {k: v for k, v in point.items() if k in used}   # what matters
            ans = _value(a, subs)
            if ans is None:                             # a removable singularity, or worse
                undefined.append({"point": point, "answer": None, "reference": ref})
                if len(undefined) >= _UNDEFINED_LIMIT:
                    yield ("numeric", "wrong", agreed, undefined[0])
                    return
                continue
            if abs(ans - ref) > rtol * max(abs(ans), abs(ref)) + _ATOL:
                ce = {"point": point, "answer": ans, "reference": ref}
                yield ("numeric", "wrong", agreed, ce)
                return
            agreed += 1
            if agreed >= samples:
                break
        verdict = "equal" if agreed >= min(samples, 5) else "unknown"
        yield ("numeric", verdict, agreed, None)
        if verdict == "equal":                          # decided: no proof needed
            return
    yield ("symbolic", _proved_zero(a - b))


def _proved_zero(d: sp.Expr) -> bool:
    """Does SymPy show ``d == 0``? Cheapest attempts first."""
    e = d.rewrite(sp.exp)
    attempts = [lambda: sp.cancel(e), lambda: sp.simplify(e), lambda: sp.simplify(d)]
    if d.has(sp.Heaviside, sp.Piecewise, sp.Max, sp.Min, sp.Abs):
        attempts.append(lambda: sp.simplify(sp.piecewise_fold(d.rewrite(sp.Piecewise))))
    for attempt in attempts:
        try:
            if attempt() == 0:
                return True
        except Exception:  # noqa: BLE001 (a failed attempt proves nothing)
            pass
    return False


# ---------------------------------------------------------------- time limit

def _can_fork() -> bool:
    return hasattr(os, "fork") and sys.platform.startswith("linux")


def _limit_memory(extra: int = 2 << 30) -> None:
    """In the child: allow at most ``extra`` bytes more address space (best effort)."""
    try:
        import resource
        with open("/proc/self/statm") as fh:
            used = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        soft = used + extra if hard == resource.RLIM_INFINITY else min(used + extra, hard)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    except (ImportError, OSError, ValueError):
        pass


def _run_limited(steps: Callable[[], Iterator[tuple]], time_limit: float,
                 job: tuple | None = None) -> list[tuple]:
    """Collect what ``steps()`` yields within ``time_limit`` seconds, then stop it.

    With warm workers (:mod:`autograder.formula_pool`) and ``job`` (the
    arguments of :func:`_steps`), an idle worker runs it, killed at the
    deadline.  Otherwise, on Linux, it runs in a forked child (killed at
    the deadline), streaming JSON lines back; elsewhere in a daemon thread
    that is abandoned.
    """
    deadline = time.monotonic() + time_limit
    if job is not None:
        from .formula_pool import active_pool
        pool = active_pool()
        items = pool.run(job, deadline) if pool is not None else None
        if items is not None:
            return items
    if _can_fork():
        r, w = os.pipe()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
        except OSError:
            os.close(r)
            os.close(w)
        else:
            if pid == 0:                                    # child
                code = 0
                try:
                    os.close(r)
                    _limit_memory()
                    for item in steps():
                        os.write(w, (json.dumps(item) + "\n").encode())
                except BaseException:  # noqa: BLE001
                    code = 1
                finally:
                    os._exit(code)
            os.close(w)
            items, buf = [], b""
            try:
                while (left := deadline - time.monotonic()) > 0:
                    if not select.select([r], [], [], left)[0]:
                        break
                    chunk = os.read(r, 65536)
                    if not chunk:
                        break
                    buf += chunk
                    *lines, buf = buf.split(b"\n")
                    items += [tuple(json.loads(line)) for line in lines]
            finally:
                os.close(r)
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
                try:
                    os.waitpid(pid, 0)
                except ChildProcessError:                   # SIGCHLD ignored: reaped already
                    pass
            return items
    q: queue.Queue = queue.Queue()

    def run():
        try:
            for item in steps():
                q.put(item)
        finally:
            q.put(None)
    threading.Thread(target=run, daemon=True).start()
    items = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            item = q.get(timeout=left)
        except queue.Empty:
            break
        if item is None:
            break
        items.append(item)
    return items


# ---------------------------------------------------------------- public: check

#: the end (time.monotonic()) of the current submission's judging budget, if any
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("formula_deadline",
                                                                         default=None)


@contextlib.contextmanager
def judging_deadline(seconds: float):
    """Within the block, every :func:`check_formula` shares one budget of
    ``seconds``: each check's time limit is cut to what is left, and once
    it is spent a check answers ``"undecided"`` at once (the judge's
    overall deadline for one submission)."""
    token = _DEADLINE.set(time.monotonic() + float(seconds))
    cache = _ANSWERS.set({})
    try:
        yield
    finally:
        _DEADLINE.reset(token)
        _ANSWERS.reset(cache)


def _budget(time_limit: float) -> float:
    end = _DEADLINE.get()
    return time_limit if end is None else min(time_limit, end - time.monotonic())


_SLOW = object()
#: within :func:`judging_deadline` (one submission), the answers (with their
#: vocabulary) already read: the expression, the FormulaError, or _SLOW
_ANSWERS: contextvars.ContextVar[dict | None] = contextvars.ContextVar("formula_answers",
                                                                       default=None)


def _answer_key(answer, names, fns, defined):
    """The key of a string answer in :data:`_ANSWERS` (``None``: not kept)."""
    if not isinstance(answer, str) or _ANSWERS.get() is None:
        return None
    try:
        key = (answer, frozenset(names.items()), frozenset(fns.items()),
               frozenset(defined.items()))
        hash(key)
    except TypeError:
        return None
    return key


def _remembered(answer, names, fns, defined):
    """Within one submission (:func:`judging_deadline`), what reading this
    answer gave before — the expression, the FormulaError, or ``_SLOW``
    (it could not be read in time) — or ``None``.  So an answer is read
    (in a time-limited child) once per submission, not once per reference,
    catalogued mistake and carried-forward check."""
    key = _answer_key(answer, names, fns, defined)
    return None if key is None else _ANSWERS.get().get(key)


def _remember(answer, names, fns, defined, found) -> None:
    key = _answer_key(answer, names, fns, defined)
    if key is not None:
        _ANSWERS.get()[key] = found


def _steps(answer, b, table, fns, names, defined, domain, samples, rtol, seed):
    """The whole check of one answer, as :func:`_run_limited` runs it: read
    the answer (``("read",)`` or ``("refused",)``), ``("same",)`` when it is
    the reference's very tree, else :func:`_judge`'s steps.  ``fns`` may
    be a tuple of names of :data:`FUNCTIONS` (see :func:`_sendable`)."""
    if isinstance(fns, tuple):
        fns = {name: FUNCTIONS[name] for name in fns}
    try:
        a = _read(answer, names, fns, defined)
    except FormulaError:
        yield ("refused",)
        return
    yield ("read",)
    if a == b:
        yield ("same",)
        return
    discrete = {s for e in (a, b) for d in e.atoms(sp.KroneckerDelta) for s in d.free_symbols}
    yield from _judge(a, b, table, _sampler(table, domain, discrete, seed), samples, rtol)


def _sendable(fns: dict) -> dict | tuple:
    """``fns`` as a warm worker can receive it: the names, when all are the
    whitelist's own (their lambdas cannot be pickled), else as it is."""
    if all(FUNCTIONS.get(name) is fn for name, fn in fns.items()):
        return tuple(fns)
    return fns


def _key(x) -> str:
    """A stable text for seeding the random points."""
    if isinstance(x, str):
        return x
    try:
        return sp.srepr(x)
    except Exception:  # noqa: BLE001 (e.g. integers too long to print)
        return type(x).__name__


def _point_text(point: dict) -> Message:
    text = ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                     for k, v in point.items())
    return msg(text, text) if text else msg("任意一点", "any point")


def check_formula(answer, reference, symbols, *, domain=None, assumptions=None,
                  time_limit: float = 2.0, language: str = "zh+en", samples: int = 20,
                  rtol: float = 1e-8, functions=None, definitions=None,
                  show_expected: bool = False) -> FormulaResult:
    """Is ``answer`` mathematically equal to ``reference``?

    ``answer`` and ``reference`` are formula strings or SymPy expressions over
    ``symbols`` (names or Symbols). ``domain`` maps a name to a real interval
    ``(low, high)`` (a tuple) or to integers (a list or range); by default
    ``±[0.1, 2]``, ``[1, 2, 3]`` for integer symbols and those inside
    ``delta``, ``(0.1, 2)`` for positive ones. ``assumptions`` maps a name to
    SymPy assumptions (``{"y": {"positive": True}}``). ``samples`` points must
    agree to ``rtol``; the whole check stops after ``time_limit`` seconds.
    ``functions`` and ``definitions`` are passed to :func:`parse_formula`
    (``definitions={"a": "sigmoid(z)"}`` lets an answer say ``a − y`` for
    ``σ(z) − y``; defined names are replaced before comparing). A wrong answer's
    message names the point and the answer's value there; the reference's
    value is quoted only with ``show_expected=True`` (it is always in
    ``counterexample``).

    Example::

        >>> check_formula("e^-x/(1+e^-x)^2", "sigmoid(x)(1-sigmoid(x))", ["x"]).correct
        True

    An unreadable *answer* gives ``status="invalid"``, never an exception.
    Mistakes in the question itself raise: ``FormulaError`` for a reference
    that does not parse, ``ValueError`` for bad symbols, domain or options.
    """
    check_language(language)
    if not (isinstance(time_limit, (int, float)) and time_limit > 0):
        raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    if not (isinstance(samples, int) and samples >= 1):
        raise ValueError(f"samples must be a positive integer, got {samples!r}")
    if not (isinstance(rtol, (int, float)) and rtol > 0):
        raise ValueError(f"rtol must be positive, got {rtol!r}")
    table = _symbol_table(symbols, assumptions)
    domain = _domain(table, domain)
    fns = _function_table(functions)
    names, defined = _definitions(definitions, table, fns)
    b = _read(reference, names, fns, defined)

    def result(status, feedback, parsed=None, **kw):
        return FormulaResult(status == "correct", status, feedback.render(language), feedback,
                             parsed, **kw)
    end = time.monotonic() + _budget(time_limit)           # reading and judging together
    known = _remembered(answer, names, fns, defined)
    if known is _SLOW:                                    # could not even be read in time
        return result("undecided", M_UNDECIDED)
    if isinstance(known, FormulaError):
        return result("invalid", M_INVALID.format(reason=known.message))
    if not isinstance(answer, str):                       # a SymPy answer: no parsing to fear
        try:
            known = _read(answer, names, fns, defined)
        except FormulaError as exc:
            return result("invalid", M_INVALID.format(reason=exc.message))
    seed = int.from_bytes(hashlib.sha256(
        "\x00".join([_key(reference), _key(answer), *sorted(table)]).encode()).digest()[:8], "big")
    job = (answer, b, table, _sendable(fns), names, defined, domain, samples, rtol, seed)
    time_limit = end - time.monotonic()
    # reading and judging in one time-limited child: a formula whose mere
    # parsing takes a minute (max(1x-1y, …, 199x-199y)) is never parsed here
    items = _run_limited(lambda: _steps(*job), time_limit, job) if time_limit > 0 else []
    tags = {it[0] for it in items}
    if known is None:
        if not tags & {"read", "refused"}:
            _remember(answer, names, fns, defined, _SLOW)
            return result("undecided", M_UNDECIDED)
        try:                                              # the child read it in time
            known = _read(answer, names, fns, defined)
        except FormulaError as exc:
            _remember(answer, names, fns, defined, exc)
            return result("invalid", M_INVALID.format(reason=exc.message))
        _remember(answer, names, fns, defined, known)
    a = known
    if "same" in tags:                                    # identical trees: nothing to do
        return result("correct", M_CORRECT_SYM, a, method="symbolic")

    numeric = next((it for it in items if it[0] == "numeric"), None)
    proved = any(it[0] == "symbolic" and it[1] for it in items)
    if numeric and numeric[1] == "wrong":
        ce = numeric[3]
        if ce["answer"] is None:
            fb = M_WRONG_UNDEF.format(point=_point_text(ce["point"]))
        else:
            fb = M_WRONG.format(point=_point_text(ce["point"]), answer=f"{ce['answer']:.6g}")
        if show_expected:
            fb = fb + M_EXPECTED.format(reference=f"{ce['reference']:.6g}")
        return result("wrong", fb, a, counterexample=ce, method="numeric", points=numeric[2])
    agreed = numeric[2] if numeric else 0
    if numeric and numeric[1] == "equal":
        if proved:
            return result("correct", M_CORRECT_BOTH.format(n=agreed), a,
                          method="numeric+symbolic", points=agreed)
        return result("correct", M_CORRECT_NUM.format(n=agreed), a, method="numeric",
                      points=agreed)
    if proved:
        return result("correct", M_CORRECT_SYM, a, method="symbolic", points=agreed)
    return result("undecided", M_UNDECIDED, a, points=agreed)


# ---------------------------------------------------------------- public: cost formulas

M_LEADING = msg("首项正确（{lead}），但按题目规定的计数约定，精确的次数不对。",
                "The leading term ({lead}) is right, but the exact count under the stated "
                "counting convention is not.")
_MAX_COST_DEGREE = 12     # a cost formula of higher total degree is not analysed


def leading_term(expr: sp.Expr, symbols) -> sp.Expr | None:
    """The terms of highest total degree of the polynomial ``expr`` in
    ``symbols`` (``2Ln² − n² + Ln`` → ``2Ln²``), or ``None`` when ``expr`` is
    not a polynomial in them (of total degree at most 12)."""
    syms = [s for s in symbols]
    try:
        if not expr.is_polynomial(*syms):
            return None
        poly = sp.Poly(expr, *syms)
    except (sp.PolynomialError, sp.GeneratorsNeeded, TypeError, ValueError):
        return None
    if poly.is_zero or poly.total_degree() > _MAX_COST_DEGREE:
        return None
    top = poly.total_degree()
    return sp.Add(*[c * sp.Mul(*[s**k for s, k in zip(syms, m)])
                    for m, c in poly.terms() if sum(m) == top])


def _same_leading_term(a: sp.Expr, b: sp.Expr, syms) -> Iterator[tuple]:
    la, lb = leading_term(a, syms), leading_term(b, syms)
    same = la is not None and lb is not None and sp.expand(la - lb) == 0
    yield ("leading", bool(same), sp.sstr(la) if same else "")


def check_order(answer, reference, symbols, *, domain=None, time_limit: float = 2.0,
                language: str = "zh+en", samples: int = 20, **options) -> FormulaResult:
    """A cost formula (operation count in ``symbols`` such as n and L): exactly
    equal to ``reference`` → ``"correct"``; a polynomial with the reference's
    leading term (the terms of highest total degree) but not equal →
    ``"partial"`` (``correct`` is False; the message says the leading term is
    right but the exact count under the convention is not); otherwise as
    :func:`check_formula` (``"wrong"``, ``"invalid"``, ``"undecided"``).

        >>> check_order("2L n^2", "(2L - 1) n^2 + L n", ["n", "L"]).status
        'partial'
    """
    r = check_formula(answer, reference, symbols, domain=domain, time_limit=time_limit,
                      language=language, samples=samples, **options)
    if r.correct or r.status == "invalid" or r.parsed is None:
        return r
    table = _symbol_table(symbols, options.get("assumptions"))
    names, defined = _definitions(options.get("definitions"), table,
                                  _function_table(options.get("functions")))
    b = _read(reference, names, _function_table(options.get("functions")), defined)
    syms = [table[k] for k in sorted(table)]
    time_limit = _budget(time_limit)
    items = _run_limited(lambda: _same_leading_term(r.parsed, b, syms), time_limit) \
        if time_limit > 0 else []
    if any(it[0] == "leading" and it[1] for it in items):
        lead = next(it[2] for it in items if it[0] == "leading")
        fb = M_LEADING.format(lead=lead)
        return FormulaResult(False, "partial", fb.render(language), fb, r.parsed,
                             counterexample=r.counterexample, method=r.method, points=r.points)
    return r

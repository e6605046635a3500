"""Judging numbers and arrays: safe coercion, tolerance, shape.

Two entry points:

* :func:`coerce_array` turns a student's answer into a fresh float64
  ``ndarray`` or raises :class:`InvalidAnswer` (a ``ValueError``) carrying a
  bilingual :class:`~autograder.i18n.Message` that says what is wrong.
* :func:`check_array` compares an answer with a reference and returns a
  :class:`Check` (``ok``, ``status``, ``message``, errors, shapes, value).

Safety
------
An answer may come straight from a student's kernel (the in-notebook public
check), so nothing here ever calls a method of an object the student could
have defined.  Only these exact types are accepted, recursively:

* ``int``, ``float``, ``bool`` (exact types, not subclasses);
* NumPy's own real scalar types (``np.float64``, ``np.int32``, ``np.bool_``, …);
* ``list`` and ``tuple`` (exact types) of accepted values, nested, not ragged;
* ``np.ndarray`` itself (not a subclass such as ``np.matrix`` or a masked
  array: a subclass can override ufuncs and comparisons) with a bool, integer
  or real floating dtype.

Types are tested by identity (``type(x) is …`` / ``id`` lookups) and with
``issubclass`` against built-in classes only, so no ``__eq__``, ``__hash__``,
``__float__``, ``__array__``, ``__len__``, ``__iter__`` or ``__class__`` of a
student object runs.  Containers are walked by this module (depth and size
bounded, so cyclic or huge lists are rejected, not followed) before NumPy ever
sees them.  Everything else — ``None``, strings, complex numbers, ``dict``,
object/string/structured arrays, ragged lists, ``Fraction``, SymPy
expressions (SymPy's own real numbers — ``sp.Rational(1, 4)``,
``sp.Integer(0)``, ``sp.Float`` — are accepted, by exact class), custom objects — is rejected with a message and no credit, and so are NaN and
±inf entries and integers too large for a float.

Tolerance ("tolerances relative to scale")
-------------------------------------------
Entry ``i`` of answer ``a`` matches reference ``r`` when

    |a_i − r_i| ≤ atol + atol_scale · max_j |r_j| + rtol · |r_i|

``rtol`` is NumPy's ``isclose`` relative tolerance (entry by entry);
``atol`` is absolute; ``atol_scale`` is an absolute tolerance measured in
units of the reference's largest magnitude, so that an entry that is 0 or
tiny next to the others (a gradient entry of a dead ReLU unit, say) is judged
on the scale of the whole array rather than needing an exact zero.  A few
units in the last place are added so that an answer on the boundary typed as
a decimal is not rejected by binary rounding (``1.1`` vs ``1.0`` with
``rtol=0.1`` passes).

Shape
-----
Status values of :class:`Check`:

``"correct"``
    values within tolerance and the shape exact — or, under
    ``shape_policy="lenient"``, the shape differs only by dimensions of
    length 1 (a ``(2, 1)`` column or ``(1, 2)`` row for a ``(2,)`` vector, a
    1-element array for a scalar); the message then mentions the shape.
``"shape"``
    under ``shape_policy="strict"``: the values are right but the shape
    differs only by dimensions of length 1.  ``ok`` is false; the course
    decides what it costs (``course.yaml``: ``shape_policy.penalty``).
``"wrong"``
    a value outside tolerance, or a shape that is not the expected one even
    after dropping length-1 dimensions (``(3, 2)`` for ``(2, 3)``; ``value``
    still holds the answer so mistake diagnosis can look at it).
``"invalid"``
    the answer could not be read as real numbers (see Safety).

Every message that involves a shape names both the expected and the given one.
The messages never quote the reference values.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from .i18n import Message, msg

__all__ = ["Check", "InvalidAnswer", "check_array", "coerce_array",
           "format_shape", "MAX_DEPTH", "MAX_SIZE", "SIG_DIGITS", "significant_digits",
           "rounded_digits"]

#: significant digits the notebooks ask hand-computed answers to keep
SIG_DIGITS = 4

#: deepest nesting of lists/tuples accepted (NumPy itself allows 64 dims)
MAX_DEPTH = 32
#: most numbers an answer may hold
MAX_SIZE = 10_000_000

STATUSES = ("correct", "wrong", "invalid", "shape")
SHAPE_POLICIES = ("strict", "lenient")


# --------------------------------------------------------------------------
# exact-type tables (looked up by id(type), never by hashing a user class)

def _numpy_scalar_types(*bases) -> tuple[type, ...]:
    found = []
    for t in set(np.sctypeDict.values()):
        if isinstance(t, type) and issubclass(t, bases) and t not in found:
            found.append(t)
    return tuple(found)


_PY_REAL = (bool, int, float)
_NP_REAL = _numpy_scalar_types(np.bool_, np.integer, np.floating)
_NP_COMPLEX = _numpy_scalar_types(np.complexfloating)
_REAL_SCALAR_IDS = frozenset(id(t) for t in _PY_REAL + _NP_REAL)
_ARRAY_KINDS_OK = frozenset("biuf")


def _type_name(t: type) -> str:
    """``t.__module__.__name__`` read through ``type``'s own descriptors.

    A metaclass could turn ``__name__`` into a property; reading the C-level
    slots through ``type.__dict__`` never runs it.
    """
    try:
        name = type.__dict__["__qualname__"].__get__(t, type)
        module = type.__dict__["__module__"].__get__(t, type)
    except Exception:  # pragma: no cover - exotic type objects
        return "?"
    if not isinstance(module, str) or type(module) is not str:
        module = ""
    if type(name) is not str:
        name = "?"
    return name if module in ("", "builtins") else f"{module}.{name}"


def format_shape(shape: tuple[int, ...] | None) -> str:
    """``(2,)``, ``(2, 1)``; ``()`` is shown as ``()``."""
    if shape is None:
        return "?"
    return str(tuple(int(d) for d in shape))


# --------------------------------------------------------------------------
# coercion

class InvalidAnswer(ValueError):
    """An answer that is not real numbers.  ``.message`` is bilingual."""

    def __init__(self, message: Message, reason: str):
        super().__init__(message.en)
        self.message = message
        #: short machine-readable reason: none, string, complex, dict, object,
        #: subclass, dtype, ragged, nan, inf, too_large, too_deep, too_big
        self.reason = reason


def _reject(reason: str, zh: str, en: str) -> InvalidAnswer:
    return InvalidAnswer(msg(zh, en), reason)


def _reject_type(obj: Any, t: type) -> InvalidAnswer:
    """The message for an object of a type that is not accepted."""
    if obj is None:
        return _reject("none", "没有答案（值为 None）：是否忘了赋值或 return？",
                       "no answer (the value is None): did you forget to assign "
                       "it or to return it?")
    if issubclass(t, (str, bytes, bytearray, np.str_, np.bytes_)):
        return _reject("string", "答案是文本（字符串），不是数字：请写 0.5 而不是 '0.5'。",
                       "the answer is text (a string), not a number: write 0.5, "
                       "not '0.5'.")
    if issubclass(t, complex) or any(t is c for c in _NP_COMPLEX):
        return _reject("complex", "答案是复数；这里需要实数。",
                       "the answer is a complex number; a real number is needed here.")
    if issubclass(t, dict):
        return _reject("dict", "答案是字典（dict）；请给出一个数或数组。",
                       "the answer is a dict; give a number or an array.")
    if issubclass(t, np.ndarray):
        return _reject("subclass",
                       f"答案是 ndarray 的子类 {_type_name(t)}，不被接受；请用 np.asarray(...) 转成普通数组。",
                       f"the answer is an ndarray subclass ({_type_name(t)}), which is "
                       f"not accepted; convert it with np.asarray(...).")
    if issubclass(t, (list, tuple)):
        return _reject("subclass",
                       f"答案的类型 {_type_name(t)} 是 list/tuple 的子类，不被接受；请用普通的 list、tuple 或 numpy 数组。",
                       f"the answer's type {_type_name(t)} is a subclass of list/tuple, "
                       f"which is not accepted; use a plain list, tuple or numpy array.")
    if issubclass(t, (int, float)):
        return _reject("subclass",
                       f"答案的类型 {_type_name(t)} 是数字类型的子类，不被接受；请用 float(...) 或普通数字。",
                       f"the answer's type {_type_name(t)} is a subclass of a number type, "
                       f"which is not accepted; give a plain number.")
    return _reject("object",
                   f"答案的类型 {_type_name(t)} 不被接受；请给出数字（int/float）、list、tuple 或 numpy 数组。",
                   f"an answer of type {_type_name(t)} is not accepted; give a number "
                   f"(int/float), a list, a tuple or a numpy array.")


def _dtype_reject(arr: np.ndarray) -> InvalidAnswer:
    kind = arr.dtype.kind
    if kind == "c":
        return _reject("complex", "数组是复数类型；这里需要实数。",
                       "the array is complex; real numbers are needed here.")
    if kind == "O":
        return _reject("object",
                       "数组的 dtype 是 object（里面可能有 None、字符串或符号表达式）；请给出数值数组。",
                       "the array has dtype object (it may hold None, strings or "
                       "symbolic expressions); give a numeric array.")
    if kind in "US":
        return _reject("string", "数组里是文本（字符串），不是数字。",
                       "the array holds text (strings), not numbers.")
    return _reject("dtype", f"数组的 dtype {arr.dtype.str} 不是数值类型。",
                   f"the array's dtype {arr.dtype.str} is not numeric.")


def _sympy_number_ids() -> frozenset:
    """The ids of SymPy's own real number classes (``Integer``, ``Rational``,
    ``Float`` and their singletons ``Zero``, ``One``, ``Half``, …), when
    SymPy is already imported (it is never imported here). Exact classes
    defined in ``sympy.core.numbers`` only, not subclasses a student wrote;
    their ``float()`` is SymPy's own code."""
    sympy_numbers = sys.modules.get("sympy.core.numbers")
    if sympy_numbers is None:
        return frozenset()
    found = _SYMPY_IDS.get("ids")
    if found is None:
        base = getattr(sympy_numbers, "Number", None)
        found = frozenset(
            id(t) for t in vars(sympy_numbers).values()
            if isinstance(t, type) and base is not None and issubclass(t, base)
            and t.__module__ == "sympy.core.numbers"
            and t.__name__ not in ("ComplexInfinity", "NaN", "Infinity", "NegativeInfinity"))
        _SYMPY_IDS["ids"] = found
    return found


_SYMPY_IDS: dict = {}


def _inspect(obj: Any, depth: int, count: list[int]) -> tuple[int, ...]:
    """Validate ``obj`` without running any of its code; return its shape."""
    t = type(obj)
    if id(t) in _REAL_SCALAR_IDS or id(t) in _sympy_number_ids():
        count[0] += 1
        if count[0] > MAX_SIZE:
            raise _too_big()
        return ()
    if t is np.ndarray:
        if obj.dtype.kind not in _ARRAY_KINDS_OK:
            raise _dtype_reject(obj)
        count[0] += obj.size
        if count[0] > MAX_SIZE:
            raise _too_big()
        return tuple(obj.shape)
    if t is list or t is tuple:
        if depth >= MAX_DEPTH:
            raise _reject("too_deep", f"列表嵌套超过 {MAX_DEPTH} 层（或引用了自身）。",
                          f"the lists are nested more than {MAX_DEPTH} deep "
                          f"(or contain themselves).")
        n = len(obj)  # exact list/tuple: the C length, no user code
        if n == 0:
            return (0,)
        first = None
        for i, item in enumerate(obj):
            shape = _inspect(item, depth + 1, count)
            if first is None:
                first = shape
            elif shape != first:
                raise _reject("ragged",
                              f"列表参差不齐：第 0 个元素的形状是 {format_shape(first)}，第 {i} 个是 {format_shape(shape)}；每一行的长度必须相同。",
                              f"the list is ragged: item 0 has shape {format_shape(first)} "
                              f"but item {i} has shape {format_shape(shape)}; every row "
                              f"must have the same length.")
        return (n,) + first
    raise _reject_type(obj, t)


def _too_big() -> InvalidAnswer:
    return _reject("too_big", f"答案包含超过 {MAX_SIZE} 个数。",
                   f"the answer holds more than {MAX_SIZE} numbers.")


def coerce_array(answer: Any) -> np.ndarray:
    """Return ``answer`` as a new float64 ndarray, or raise :class:`InvalidAnswer`.

    Accepts Python and NumPy real scalars (bools and ints promoted), exact
    lists/tuples of them (nested, rectangular) and exact ``np.ndarray`` with a
    bool/int/float dtype.  A scalar becomes a 0-d array.  The result never
    shares memory with the answer.  NaN, ±inf and numbers beyond float64's
    range are rejected.  See the module docstring for what is rejected and why.
    """
    shape = _inspect(answer, 0, [0])
    try:
        with np.errstate(all="ignore"):
            if type(answer) is np.ndarray:
                arr = answer.astype(np.float64, copy=True)
            else:
                arr = np.array(answer, dtype=np.float64)
    except OverflowError:
        raise _reject("too_large", "答案中有整数太大，无法表示为浮点数。",
                      "the answer holds an integer too large to be a float.") from None
    except (ValueError, TypeError) as exc:  # pragma: no cover - _inspect covers these
        raise _reject("object", f"答案无法读成数值数组（{exc}）。",
                      f"the answer could not be read as a numeric array ({exc}).") from None
    if arr.shape != shape:  # pragma: no cover - defensive
        raise _reject("ragged", "答案无法读成规则的数组。",
                      "the answer could not be read as a regular array.")
    finite = np.isfinite(arr)
    if not finite.all():
        nan = np.isnan(arr)
        if nan.any():
            zh_at, en_at = _first_index(nan)
            raise _reject("nan", f"答案中有 NaN（非数）{zh_at}；请检查计算中是否有 0/0 或 log(0)。",
                          f"the answer contains NaN (not a number){en_at}; check "
                          f"the computation for 0/0 or log of 0.")
        zh_at, en_at = _first_index(~finite)
        raise _reject("inf", f"答案中有无穷大（inf）{zh_at}；可能是溢出（例如 exp 的参数太大）。",
                      f"the answer contains infinity (inf){en_at}; probably an "
                      f"overflow (exp of a large number, say).")
    return arr


def _first_index(mask: np.ndarray) -> tuple[str, str]:
    """Where the first true entry is, as text to append (zh, en); empty for 0-d."""
    if mask.ndim == 0:
        return "", ""
    where = "[" + ", ".join(str(int(i)) for i in np.argwhere(mask)[0]) + "]"
    return f"，位置 {where}", f" at {where}"


# --------------------------------------------------------------------------
# checking

@dataclass(frozen=True, eq=False)
class Check:
    """The verdict on one number/array answer.

    ``value`` is the coerced float64 answer in the shape it was given
    (``None`` when invalid); ``aligned`` is the same numbers in the expected
    shape when the shapes differ only by length-1 dimensions (or are equal),
    else ``None`` — use it when later parts are rebuilt from this answer.
    ``max_error`` is the largest ``|a − r|`` (``None`` when not comparable),
    ``n_wrong`` how many entries are outside tolerance and ``worst_index`` the
    entry that is furthest outside it, relative to its allowance.
    """

    ok: bool
    status: str
    message: Message
    max_error: float | None = None
    given_shape: tuple[int, ...] | None = None
    expected_shape: tuple[int, ...] | None = None
    value: np.ndarray | None = None
    aligned: np.ndarray | None = None
    shape_ok: bool = False
    n_wrong: int | None = None
    worst_index: tuple[int, ...] | None = None
    reason: str | None = None  # InvalidAnswer.reason when status == "invalid"

    @property
    def correct(self) -> bool:
        return self.ok


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(d for d in shape if d != 1)


def _check_tolerance(name: str, value) -> float:
    if type(value) is bool or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"check_array: {name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"check_array: {name} must be finite and >= 0, got {value}")
    return value


def within_tolerance(answer: np.ndarray, reference: np.ndarray, *, rtol: float,
                     atol: float, atol_scale: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise test of the rule in the module docstring.

    Returns ``(ok, err)``: a bool array and the absolute errors, both of the
    reference's shape (``answer`` must already have it).
    """
    with np.errstate(all="ignore"):
        absr = np.abs(reference)
        scale = float(absr.max()) if absr.size else 0.0
        allowed = atol + atol_scale * scale + rtol * absr
        err = np.abs(answer - reference)
        slack = 4.0 * np.finfo(np.float64).eps * np.maximum(absr, np.abs(answer))
        ok = err <= allowed + slack
    return ok, err


def _names(name: str) -> tuple[str, str]:
    return (f"{name}：", f"{name}: ") if name else ("", "")


def check_array(answer: Any, reference: Any, *, rtol: float, atol: float,
                atol_scale: float = 0.0, shape_policy: str = "strict",
                name: str = "") -> Check:
    """Compare ``answer`` with ``reference`` (trusted) and say how it went.

    ``rtol``/``atol``/``atol_scale`` follow the rule in the module docstring;
    ``shape_policy`` is ``"strict"`` or ``"lenient"``; ``name`` (e.g.
    ``"dW1"``) prefixes the messages.  An invalid answer never raises: it
    gives ``status="invalid"``.  A bad *reference* or bad arguments raise
    ``ValueError``/``TypeError`` (that is the question author's bug).
    """
    rtol = _check_tolerance("rtol", rtol)
    atol = _check_tolerance("atol", atol)
    atol_scale = _check_tolerance("atol_scale", atol_scale)
    if shape_policy not in SHAPE_POLICIES:
        raise ValueError(f"check_array: shape_policy must be 'strict' or 'lenient', "
                         f"got {shape_policy!r}")
    ref = np.array(reference, dtype=np.float64)
    if not np.isfinite(ref).all():
        raise ValueError(f"check_array: the reference for {name or 'this answer'} "
                         f"is not finite")
    expected = tuple(ref.shape)
    zh_name, en_name = _names(name)

    try:
        value = coerce_array(answer)
    except InvalidAnswer as bad:
        return Check(ok=False, status="invalid",
                     message=msg(zh_name + bad.message.zh, en_name + bad.message.en),
                     expected_shape=expected, reason=bad.reason)

    given = tuple(value.shape)
    shape_ok = given == expected
    exp_s, giv_s = format_shape(expected), format_shape(given)

    if not shape_ok and _squeezed(given) != _squeezed(expected):
        transposed = (value.ndim == ref.ndim == 2 and given == expected[::-1])
        hint_zh = "（行列互换了：是否转置了？）" if transposed else ""
        hint_en = " (rows and columns swapped: is it transposed?)" if transposed else ""
        return Check(ok=False, status="wrong",
                     message=msg(f"{zh_name}形状应为 {exp_s}，你的答案形状为 {giv_s}{hint_zh}。",
                                 f"{en_name}the shape should be {exp_s}, your answer has "
                                 f"shape {giv_s}{hint_en}."),
                     given_shape=given, expected_shape=expected, value=value,
                     shape_ok=False)

    aligned = value if shape_ok else value.reshape(expected)
    ok_mask, err = within_tolerance(aligned, ref, rtol=rtol, atol=atol, atol_scale=atol_scale)
    max_error = float(err.max()) if err.size else 0.0
    n_wrong = int(ok_mask.size - np.count_nonzero(ok_mask))
    values_ok = n_wrong == 0
    worst = None
    if not values_ok:
        with np.errstate(all="ignore"):
            absr = np.abs(ref)
            scale = float(absr.max()) if absr.size else 0.0
            allowed = atol + atol_scale * scale + rtol * absr
            ratio = np.where(ok_mask, -np.inf, err / np.where(allowed > 0, allowed, np.inf))
            ratio = np.where(np.isnan(ratio), np.inf, ratio)
            # entries with zero allowance (exact comparison) rank first
            ratio = np.where(~ok_mask & (allowed == 0), np.inf, ratio)
        worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(ratio)), ref.shape)) \
            if ref.ndim else ()

    common = dict(max_error=max_error, given_shape=given, expected_shape=expected,
                  value=value, aligned=aligned, shape_ok=shape_ok, n_wrong=n_wrong,
                  worst_index=worst)

    if values_ok and shape_ok:
        return Check(ok=True, status="correct",
                     message=msg(f"{zh_name}正确。", f"{en_name}correct."), **common)
    if values_ok:
        if shape_policy == "lenient":
            return Check(ok=True, status="correct",
                         message=msg(f"{zh_name}数值正确；但形状为 {giv_s}，应为 {exp_s}（本题不因形状扣分，请留意）。",
                                     f"{en_name}the values are right; note the shape is "
                                     f"{giv_s} where {exp_s} is expected (not penalised "
                                     f"here)."), **common)
        return Check(ok=False, status="shape",
                     message=msg(f"{zh_name}数值正确，但形状为 {giv_s}，应为 {exp_s}"
                                 f"（例如 (2, 1) 的列向量与 (2,) 的向量不同）。",
                                 f"{en_name}the values are right but the shape is "
                                 f"{giv_s} where {exp_s} is expected (a (2, 1) column "
                                 f"is not a (2,) vector)."), **common)

    where = "[" + ", ".join(map(str, worst)) + "]" if worst else "()"
    size = ref.size
    if size == 1:
        zh_core, en_core = "数值不在容许误差内。", "the value is not within tolerance."
    else:
        zh_core = f"{size} 个元素中有 {n_wrong} 个不在容许误差内（例如位置 {where}）。"
        en_core = (f"{n_wrong} of {size} entries are not within tolerance "
                   f"(for example the entry at {where}).")
    if not shape_ok:
        zh_core += f" 另外，形状为 {giv_s}，应为 {exp_s}。"
        en_core += f" Also, the shape is {giv_s} where {exp_s} is expected."
    return Check(ok=False, status="wrong",
                 message=msg(zh_name + zh_core, en_name + en_core), **common)


def significant_digits(answer: np.ndarray, reference: np.ndarray, most: int = 15) -> int:
    """How many significant digits every entry of ``answer`` agrees with
    ``reference`` to: the largest ``k`` (at most ``most``) such that each
    entry is within one unit of the k-th significant digit of the reference
    entry (``|a − r| ≤ 10^(⌊log10 |r|⌋ − k + 1)``; so rounding and cutting
    off both count); an entry whose reference is 0 is measured on the scale
    of the array's largest entry. 0: not even the first digit agrees.
    Both arrays must have the same shape."""
    a = np.asarray(answer, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    if a.shape != r.shape or a.size == 0:
        return 0
    absr = np.abs(r)
    scale = float(absr.max())
    if scale == 0:
        return most if not np.any(a) else 0
    with np.errstate(all="ignore"):
        exponent = np.floor(np.log10(np.where(absr > 0, absr, scale)))
        err = np.abs(a - r)
        for k in range(most, 0, -1):
            unit = 10.0 ** (exponent - k + 1)
            if np.all(err <= unit * (1 + 1e-9)):
                return k
    return 0


def rounded_digits(answer: np.ndarray, reference: np.ndarray, below: int = SIG_DIGITS) -> int | None:
    """``k`` (1 ≤ k < ``below``) when ``answer`` is ``reference`` written with
    too few significant digits: every entry either agrees with its reference
    entry to at least ``below`` digits (:func:`significant_digits`) or *is*
    that entry rounded or cut off to some ``k`` < ``below`` significant
    digits, and at least one entry is; ``k`` is the fewest digits used.
    ``None`` otherwise — in particular for a wrong answer that merely lies
    close to the reference (closeness is not rounding)."""
    a = np.asarray(answer, dtype=np.float64).ravel()
    r = np.asarray(reference, dtype=np.float64).ravel()
    if a.shape != r.shape or a.size == 0 or not (np.all(np.isfinite(a)) and np.all(np.isfinite(r))):
        return None
    fewest = None
    for ai, ri in zip(a, r):
        if significant_digits(np.array([ai]), np.array([ri])) >= below:
            continue
        if ri == 0:
            return None
        exponent = int(np.floor(np.log10(abs(ri))))
        for k in range(1, below):
            unit = 10.0 ** (exponent - k + 1)
            candidates = (np.round(ri / unit) * unit, np.trunc(ri / unit) * unit)
            if any(abs(ai - c) <= 1e-9 * max(abs(c), unit) for c in candidates):
                fewest = k if fewest is None else min(fewest, k)
                break
        else:
            return None
    return fewest

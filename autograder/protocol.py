"""What a notebook hands to the grader: answer variables, functions, plain data.

A notebook answers question part ``A3.q2 / dW1`` by assigning the variable
``q2_dW1`` (:func:`answer_name`: the question's local id, ``_``, the part);
a function part is answered by defining the function its
:class:`~autograder.functions.FnSpec` names (``forward``, ``conv_backward``
…), and a backward function's gradient check also calls the forward
function it names.

Between the student's process and the grader only **plain data** travels
(:func:`to_wire` / :func:`from_wire`): a number-or-array answer becomes a
float64 array (checked by :func:`autograder.numeric.coerce_array`, so no
method of a student object runs), a formula a string (a SymPy object is
printed to a string, which the grader parses with its whitelist parser), a
choice a string, bool or number; anything else is recorded as *invalid*
with the reason. The wire form is JSON-safe except for arrays, which the
sandbox stores as ``.npy`` files written and read with
``allow_pickle=False``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .numeric import InvalidAnswer, coerce_array

__all__ = ["answer_name", "answer_names", "function_names", "collect_answers", "to_wire",
           "from_wire", "answers_from_wire", "part_key", "grade_id", "ERRSTATES",
           "call_errstate", "not_callable"]

#: what a planned call's ``"errstate"`` means: keyword arguments of ``np.errstate``
ERRSTATES = {"raise": {"over": "raise", "divide": "raise", "invalid": "raise"}}


def call_errstate(call: dict) -> dict:
    """``np.errstate`` keyword arguments for one planned call (``{}``: NumPy's
    defaults). Runners wrap the student's call in ``np.errstate(**…)``."""
    return ERRSTATES.get(call.get("errstate"), {})


def not_callable(name: str, value) -> dict:
    """A runner's result for a call of ``name`` when the namespace holds no
    function by that name (``value`` is what it holds, maybe ``None``)."""
    if value is None:
        return {"ok": False, "error": f"function {name} is not defined (run its cell)",
                "error_zh": f"函数 {name} 未定义（请运行定义它的单元格）"}
    kind = type(value).__name__
    return {"ok": False, "error": f"{name} is not a function (its type is {kind})",
            "error_zh": f"{name} 不是函数（它的类型是 {kind}）"}


def answer_name(question, part) -> str:
    """The notebook variable holding ``part`` of ``question``: ``"q2_dW1"``."""
    return f"{question.local_id}_{part.name}"


def part_key(question, part) -> str:
    """``"A3.q2.dW1"``: how a part is named in call plans and sandbox results."""
    return f"{question.id}.{part.name}"


def answer_names(assignment: str) -> dict[str, dict[str, str]]:
    """``{"q2": {"dW1": "q2_dW1", …}, …}`` for the non-function parts."""
    from .questions import questions_of
    out: dict[str, dict[str, str]] = {}
    for q in questions_of(assignment):
        names = {p.name: answer_name(q, p) for p in q.parts if p.kind != "fn"}
        if names:
            out[q.local_id] = names
    return out


def function_names(assignment: str) -> list[str]:
    """Every function the assignment's hidden checks call (sorted)."""
    from .questions import questions_of
    names = set()
    for q in questions_of(assignment):
        for p in q.parts:
            if p.kind == "fn":
                names.add(p.fn.name)
                if p.fn.grad_check is not None:
                    names.add(p.fn.grad_check.forward)
    return sorted(names)


def _kind_of(assignment: str) -> dict[tuple[str, str], str]:
    from .questions import questions_of
    return {(q.local_id, p.name): p.kind for q in questions_of(assignment) for p in q.parts}


def to_wire(value: Any, kind: str) -> dict:
    """A student's answer as plain data: ``{"type": "missing"}``,
    ``{"type": "array", "value": ndarray}``, ``{"type": "text", "value": str}``,
    ``{"type": "bool" | "number", "value": …}`` or
    ``{"type": "invalid", "zh": …, "en": …}``."""
    if value is None:
        return {"type": "missing"}
    if kind in ("sym", "order"):
        if type(value) is str:
            return {"type": "text", "value": value[:10_000]}
        if type(value) in (int, float) or isinstance(value, np.number):
            return {"type": "text", "value": repr(float(value)) if not float(value).is_integer()
                    else str(int(value))}
        try:
            import sympy
            if isinstance(value, sympy.Basic):
                return {"type": "text", "value": sympy.sstr(value)[:10_000]}
        except Exception:  # a broken SymPy in the student's process
            pass
        return {"type": "invalid", "zh": f"公式答案应为字符串或 SymPy 表达式，得到 {type(value).__name__}。",
                "en": f"a formula answer must be a string or a SymPy expression, got "
                      f"{type(value).__name__}."}
    if kind == "choice":
        if type(value) is str:
            return {"type": "text", "value": value[:1000]}
        if type(value) is bool or isinstance(value, np.bool_):
            return {"type": "bool", "value": bool(value)}
        if type(value) in (int, float) or isinstance(value, (np.integer, np.floating)):
            return {"type": "number", "value": float(value)}
        return {"type": "invalid", "zh": f"选择题答案应为文字、布尔值或数字，得到 {type(value).__name__}。",
                "en": f"a choice answer must be text, a bool or a number, got {type(value).__name__}."}
    try:
        return {"type": "array", "value": coerce_array(value)}
    except InvalidAnswer as bad:
        return {"type": "invalid", "zh": bad.message.zh, "en": bad.message.en, "reason": bad.reason}


def from_wire(entry: dict) -> Any:
    """The value the judge compares (``None`` for a missing answer; an
    invalid one becomes an :class:`~autograder.numeric.InvalidAnswer`
    instance, which the judge reports with its message)."""
    t = entry.get("type")
    if t == "missing":
        return None
    if t in ("array", "text", "bool", "number"):
        return entry["value"]
    if t == "invalid":
        from .i18n import Message
        return InvalidAnswer(Message(zh=str(entry.get("zh", "")), en=str(entry.get("en", ""))),
                             str(entry.get("reason", "invalid")))
    raise ValueError(f"from_wire: unknown answer type {t!r}")


def collect_answers(namespace: dict, assignment: str, names: dict | None = None,
                    kinds: dict | None = None) -> dict[str, dict[str, dict]]:
    """``{"q2": {"dW1": wire entry, …}, …}`` read from ``namespace`` (the
    notebook's globals), every non-function part present (missing ones as
    ``{"type": "missing"}``).  ``names``/``kinds``: :func:`answer_names` and
    the parts' kinds as the grader gave them (the sandboxed child, which
    holds no question definition)."""
    kinds = _kind_of(assignment) if kinds is None else kinds
    out: dict[str, dict[str, dict]] = {}
    for qid, parts in (answer_names(assignment) if names is None else names).items():
        out[qid] = {}
        for part, var in parts.items():
            value = namespace.get(var) if type(namespace) is dict else None
            try:
                out[qid][part] = to_wire(value, kinds[(qid, part)])
            except Exception as exc:  # noqa: BLE001 — a hostile object must not stop collection
                out[qid][part] = {"type": "invalid", "zh": f"无法读取答案：{type(exc).__name__}",
                                  "en": f"the answer could not be read: {type(exc).__name__}"}
    return out


def answers_from_wire(collected: dict) -> dict[str, dict[str, Any]]:
    """:func:`collect_answers`'s output turned into what the judge takes."""
    return {qid: {part: from_wire(entry) for part, entry in parts.items()}
            for qid, parts in collected.items()}


def grade_id(question_id: str) -> str:
    """nbgrader's grade id of a question's (locked, graded) test cell:
    ``"A3.q2"`` → ``"A3_q2"``. Its answer cells are ``"A3_q2_answer"``
    (``"A3_q2_answer_2"``, … when there are several)."""
    return question_id.replace(".", "_")

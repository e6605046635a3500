"""Answers as JSON: the :mod:`autograder.protocol` wire form with arrays
spelled out (``{"type": "array", "shape": [2, 2], "data": [..4 floats..]}``).

:func:`encode_answers` runs in the student's kernel (on the output of
:func:`autograder.protocol.to_wire`); :func:`decode_answers` runs in the
service on untrusted JSON and accepts only what the protocol allows, in
bounded sizes, for the assignment's known questions and parts — anything
else is an :class:`AnswerError` (a bilingual message naming the part).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["encode_answers", "decode_answers", "AnswerError", "MAX_ARRAY_ENTRIES",
           "MAX_TEXT_CHARS"]

#: the largest array answer accepted (entries)
MAX_ARRAY_ENTRIES = 1 << 16
#: the longest formula or choice accepted (characters)
MAX_TEXT_CHARS = 10_000


class AnswerError(ValueError):
    """A malformed answer payload; ``zh``/``en`` say what and where."""

    def __init__(self, zh: str, en: str):
        super().__init__(en)
        self.zh, self.en = zh, en


def _encode_entry(entry: dict) -> dict:
    if entry.get("type") == "array":
        a = np.asarray(entry["value"], dtype=np.float64)
        if not np.all(np.isfinite(a)):
            return {"type": "invalid", "zh": "答案含有非有限数值。", "en": "the answer has non-finite values."}
        return {"type": "array", "shape": list(a.shape), "data": a.ravel().tolist()}
    return {k: v for k, v in entry.items()}


def encode_answers(wire: dict[str, dict[str, dict]]) -> dict:
    """``{"q1": {"z1": wire entry}}`` → JSON-safe."""
    return {q: {p: _encode_entry(e) for p, e in parts.items()} for q, parts in wire.items()}


def _bad(where: str, zh: str, en: str) -> AnswerError:
    return AnswerError(f"{where}：{zh}", f"{where}: {en}")


def _decode_entry(entry: Any, where: str) -> dict:
    from ..numeric import InvalidAnswer, coerce_array
    if type(entry) is not dict or type(entry.get("type")) is not str:
        raise _bad(where, "答案应为带 type 的对象。", "an answer must be an object with a 'type'.")
    t = entry["type"]
    if t == "missing":
        return {"type": "missing"}
    if t == "array":
        shape, data = entry.get("shape"), entry.get("data")
        if type(shape) is not list or len(shape) > 4 or \
                any(type(n) is not int or n < 0 for n in shape) or type(data) is not list:
            raise _bad(where, "数组答案需要 shape（至多 4 维）与 data 列表。",
                       "an array answer needs 'shape' (at most 4 dimensions) and a 'data' list.")
        size = math.prod(shape)
        if size > MAX_ARRAY_ENTRIES or len(data) != size:
            raise _bad(where, f"数组答案过大或与 shape 不符（至多 {MAX_ARRAY_ENTRIES} 个数）。",
                       f"the array answer is too large or does not match its shape "
                       f"(at most {MAX_ARRAY_ENTRIES} entries).")
        if any(type(x) not in (int, float) for x in data):
            raise _bad(where, "数组答案只能包含数字。", "an array answer may hold numbers only.")
        try:
            value = coerce_array(np.array(data, dtype=np.float64).reshape(shape))
        except InvalidAnswer as bad:
            return {"type": "invalid", "zh": bad.message.zh, "en": bad.message.en,
                    "reason": bad.reason}
        return {"type": "array", "value": value}
    if t == "text":
        if type(entry.get("value")) is not str or len(entry["value"]) > MAX_TEXT_CHARS:
            raise _bad(where, f"文字答案应为至多 {MAX_TEXT_CHARS} 个字符的字符串。",
                       f"a text answer must be a string of at most {MAX_TEXT_CHARS} characters.")
        return {"type": "text", "value": entry["value"]}
    if t == "bool":
        if type(entry.get("value")) is not bool:
            raise _bad(where, "布尔答案应为 true 或 false。", "a bool answer must be true or false.")
        return {"type": "bool", "value": entry["value"]}
    if t == "number":
        v = entry.get("value")
        if type(v) not in (int, float) or not math.isfinite(v):
            raise _bad(where, "数字答案应为有限数。", "a number answer must be finite.")
        return {"type": "number", "value": float(v)}
    if t == "invalid":
        return {"type": "invalid", "zh": str(entry.get("zh", ""))[:500],
                "en": str(entry.get("en", ""))[:500], "reason": str(entry.get("reason", "invalid"))[:50]}
    raise _bad(where, f"未知的答案类型 {t[:20]!r}。", f"unknown answer type {t[:20]!r}.")


def decode_answers(payload: Any, known: dict[str, dict[str, str]]) -> dict[str, dict[str, dict]]:
    """Validate ``payload`` against ``known`` (``{"q1": {"z1": "q1_z1"}}``,
    :func:`autograder.protocol.answer_names`) and return the wire form the
    judge takes (every known part present; absent ones missing)."""
    if payload is None:
        payload = {}
    if type(payload) is not dict:
        raise AnswerError("answers 应为对象。", "'answers' must be an object.")
    for q, parts in payload.items():
        if q not in known or type(parts) is not dict:
            raise AnswerError(f"未知的题目 {str(q)[:20]!r}。", f"unknown question {str(q)[:20]!r}.")
        for p in parts:
            if p not in known[q]:
                raise AnswerError(f"{q} 没有小问 {str(p)[:20]!r}。", f"{q} has no part {str(p)[:20]!r}.")
    return {q: {p: _decode_entry(payload.get(q, {}).get(p, {"type": "missing"}), f"{q}.{p}")
                for p in parts} for q, parts in known.items()}

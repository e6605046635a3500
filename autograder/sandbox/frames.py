"""Validation of what the child says: every frame of an attempt walked in
order (:func:`digest`), every field checked for type and range, every
string made valid, bounded UTF-8, every array finite float64.  A bad
frame is a protocol violation of that attempt; nothing is unpickled or
evaluated."""
from __future__ import annotations

import numpy as np

from ..results import valid_text
from .child import wire
from .outcome import AttemptDigest, CellEnd

__all__ = ["digest", "answer_entry", "fn_result"]

_ERR = 500
_OUT = 2000


def _str(x, n=_ERR) -> str | None:
    """Text from the child made valid, bounded UTF-8 (``None`` if not text)."""
    return valid_text(x, n) if type(x) is str else None


def _seconds(x) -> float:
    """A duration reported by the child: a finite number of seconds in
    [0, 1e6], else a protocol violation (``10**400`` included)."""
    if type(x) not in (int, float) or not 0 <= x <= 1e6:
        raise wire.WireError("bad duration")
    return float(x)


def _finite_array(arr: np.ndarray) -> np.ndarray:
    if not np.isfinite(arr).all():
        raise wire.WireError("non-finite array")
    return arr


def answer_entry(enc, blobs) -> dict:
    bad = {"type": "invalid", "zh": "答案数据无效。", "en": "the answer's data is invalid.",
           "reason": "malformed"}
    if type(enc) is not dict:
        return bad
    t = enc.get("type")
    try:
        if t == "missing":
            return {"type": "missing"}
        if t == "array":
            arr = wire.decode(enc.get("value"), blobs)
            if type(arr) is not np.ndarray:
                return bad
            return {"type": "array", "value": _finite_array(arr)}
        if t == "text":
            v = enc.get("value")
            return {"type": "text", "value": _str(v, 10_000)} if type(v) is str else bad
        if t == "bool":
            v = enc.get("value")
            return {"type": "bool", "value": v} if type(v) is bool else bad
        if t == "number":
            v = enc.get("value")
            if type(v) in (int, float) and np.isfinite(float(v)):
                return {"type": "number", "value": float(v)}
            return bad
        if t == "invalid":
            return {"type": "invalid", "zh": _str(enc.get("zh")) or "答案无效。",
                    "en": _str(enc.get("en")) or "invalid answer.",
                    "reason": _str(enc.get("reason"), 40) or "invalid"}
    except (wire.WireError, ArithmeticError, TypeError, ValueError, RecursionError):
        return bad
    return bad


def fn_result(res, blobs) -> dict:
    if type(res) is not dict or type(res.get("ok")) is not bool:
        return {"ok": False, "error": "malformed result from the sandbox"}
    if not res["ok"]:
        return {"ok": False, "error": _str(res.get("error")) or "error"}
    try:
        v = res.get("value")
        if type(v) is list:
            if len(v) > 64:
                raise wire.WireError("too many values")
            vals = [wire.decode(x, blobs) for x in v]
            if not all(type(a) is np.ndarray for a in vals):
                raise wire.WireError("not arrays")
            return {"ok": True, "value": [_finite_array(a) for a in vals]}
        arr = wire.decode(v, blobs)
        if type(arr) is not np.ndarray:
            raise wire.WireError("not an array")
        return {"ok": True, "value": _finite_array(arr)}
    except (wire.WireError, TypeError, ValueError, RecursionError) as exc:
        return {"ok": False, "error": f"malformed result from the sandbox ({_str(str(exc))})"}


def digest(frames: list, cells, plans: dict, names: dict,
           protocol_error: str | None = None) -> AttemptDigest:
    """Walk one attempt's ``frames`` (untrusted: ``[(header, blobs)]``) in
    order into an :class:`AttemptDigest`.  ``cells``: the indices of the
    cells the child may run; ``plans``: ``{part key: plan}``; ``names``:
    ``{question: {part: variable}}`` (answers for anything else are
    dropped); ``protocol_error``: the wire format broke after these frames."""
    allowed_cells = set(cells)
    out = AttemptDigest()
    seen_cells: set[int] = set()
    for k, (h, blobs) in enumerate(frames):
        ev = h.get("ev")
        try:
            if ev == "setup" and k == 0:
                out.setup = h
                out.phase = "cells"
            elif ev == "fatal" and k == 0:
                out.fatal = _str(h.get("error")) or "sandbox setup failed"
            elif out.done:
                raise wire.WireError("data after the end")
            elif ev == "cell_start":
                i = h.get("i")
                if type(i) is not int or out.cell is not None or out.part is not None or \
                        i not in allowed_cells or i in seen_cells or out.phase != "cells":
                    raise wire.WireError("unexpected cell_start")
                seen_cells.add(i)
                out.cell = i
            elif ev == "cell_end":
                i = h.get("i")
                if i != out.cell or h.get("status") not in ("ok", "error", "refused"):
                    raise wire.WireError("unexpected cell_end")
                refused = h.get("refused")
                out.cell_ends[i] = CellEnd(
                    status=h["status"], error=_str(h.get("error")),
                    output=_str(h.get("output"), _OUT) or "",
                    seconds=_seconds(h.get("seconds", 0.0)),
                    refused=[_str(s, 200) for s in refused[:10] if type(s) is str]
                    if type(refused) is list else [])
                out.cell = None
                out.ended += 1
            elif ev == "answers":
                if out.part is not None:
                    raise wire.WireError("answers inside a function call")
                s = h.get("set")
                if type(s) is not dict:
                    raise wire.WireError("bad answers")
                for q, parts in s.items():
                    if q not in names or type(parts) is not dict:
                        continue
                    for p, enc in parts.items():
                        if p in names[q]:
                            out.answers.setdefault(q, {})[p] = answer_entry(enc, blobs)
            elif ev == "collect_start":
                if out.cell is not None or out.phase != "cells":
                    raise wire.WireError("unexpected collect_start")
                out.phase = "collect"
            elif ev == "part_start":
                key = h.get("key")
                if type(key) is not str or out.cell is not None or out.part is not None \
                        or key not in plans \
                        or key in out.fn or out.phase not in ("collect", "parts"):
                    raise wire.WireError("unexpected part_start")
                out.phase = "parts"
                out.part = key
            elif ev == "part_end":
                key = h.get("key")
                res = h.get("results")
                if key != out.part or type(res) is not dict:
                    raise wire.WireError("unexpected part_end")
                out.fn[key] = {c["id"]: fn_result(res.get(c["id"]), blobs)
                               for c in plans[key]}
                out.part = None
            elif ev == "done":
                if out.cell is not None or out.part is not None or \
                        out.phase not in ("collect", "parts"):
                    raise wire.WireError("unexpected done")
                out.done = True
            elif ev == "note":
                pass
            elif ev == "attempt":                # where: the grader's own account, not the child's
                if len(out.attempts) < 50 and h.get("how") in ("import", "open", "gc") and \
                        _str(h.get("module"), 200):
                    where = {"cell": out.cell} if out.cell is not None else \
                        {"part": out.part} if out.part is not None else {}
                    out.attempts.append({"module": _str(h.get("module"), 200),
                                         "how": h["how"], **where})
            else:
                raise wire.WireError(f"unknown message {str(ev)[:40]!r}")
        except (wire.WireError, TypeError, ValueError, KeyError, ArithmeticError,
                RecursionError) as exc:                 # any bad field of a forged frame
            out.violation = f"the sandboxed process broke the result protocol " \
                            f"({_str(str(exc), 200)})"
            out.done = False
            break
    if protocol_error and not out.violation:
        out.violation = f"the sandboxed process broke the result protocol ({protocol_error})"
    if out.violation:
        out.done = False
    return out

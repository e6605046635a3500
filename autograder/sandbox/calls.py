"""What running one planned call of a student's function needs, on both
sides: the in-kernel runner (:class:`autograder.functions.InProcessRunner`)
and the sandbox child (:mod:`._child`).  It lives in the sandbox package
because the child may import only the student runtime
(:mod:`.allowlist`), which :mod:`autograder.functions` is not part of."""
from __future__ import annotations

__all__ = ["ERRSTATES", "call_errstate", "not_callable"]

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

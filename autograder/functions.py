"""Judging functions the student writes ("fn" questions).

The judge never calls student code itself. It writes a **call plan** — a
list of plain-data calls ``{"id", "fn", "args"}`` whose arguments are float
arrays or numbers — and hands it to a *runner*, which calls the student's
functions and returns plain data: ``{"id": {"ok": True, "value": array |
number | list of them}}`` or ``{"id": {"ok": False, "error": "..."}}``.

* :class:`InProcessRunner` calls functions from a namespace (the student's
  notebook kernel, for the instant public check); every call gets fresh
  copies of its arguments, so a function that mutates its input cannot
  change what the next call (or the reference) sees, and outputs are
  coerced by :func:`autograder.numeric.coerce_array` (never trusted objects).
* The grading sandbox (:mod:`autograder.sandbox`) runs the same plan in a child
  process and ships the values back as JSON + ``.npy`` with
  ``allow_pickle=False``.

A :class:`FnSpec` describes one function: its name, how to draw hidden
inputs (several shapes, from a seeded generator), the reference (from
``nn_core``), optionally a finite-difference check of a backward
function against the student's own forward function, and optionally its
catalogued mistakes: :class:`~autograder.mistakes.Mistake` objects bound
with ``.with_fn(wrong reference)``. When every
hidden case the student's function fails returns exactly what one wrong
reference returns (and no case raised), :func:`judge_function` names that
mistake (``FnVerdict.diagnosis``). The wrong references run on the
grader's side, on the same plain-data arguments, so diagnosis needs no
extra call to student code and works out of process.

Tolerance: a function's outputs are compared with the tolerance
``course.yaml`` sets for the part (its ``tolerance:`` profile or override,
on the part or its question: :attr:`Policy.tolerance_set`), passed to
:func:`judge_function` as ``tolerance``. Only where ``course.yaml`` sets
none for the part does the :class:`FnSpec`'s own ``rtol``/``atol`` apply,
and where the spec sets none either, :data:`DEFAULT_TOLERANCE`. So the
course always wins; a spec's numbers are a default for courses that do
not say.

Stability: a :class:`FnSpec` with ``stable=True`` (a question that asks
for a numerically stable function) has its hidden calls run with NumPy's
overflow, division-by-zero and invalid-operation warnings raised as
``FloatingPointError`` (the call's ``"errstate": "raise"``, honoured by
every runner). A naive ``1/(1 + np.exp(-x))`` returns the right numbers
at ±1000 but overflows computing them; it fails those cases and is named
``numerically_unstable``. Underflow (``e^{−1000}`` → 0) stays allowed.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .i18n import Message, msg
from .mistakes import NUMERICALLY_UNSTABLE, Mistake
from .numeric import InvalidAnswer, check_array, coerce_array
# the sandboxed child runs call plans too and may import the protocol, not this module
from .protocol import ERRSTATES, call_errstate, not_callable  # noqa: F401

__all__ = ["FnSpec", "GradCheck", "InProcessRunner", "plan_calls", "judge_function", "FnVerdict",
           "diagnose", "DEFAULT_TOLERANCE", "ERRSTATES", "call_errstate"]

#: the tolerance of a function part when neither course.yaml nor its FnSpec sets one
DEFAULT_TOLERANCE = {"rtol": 1e-6, "atol": 1e-9, "atol_scale": 0.0}



@dataclass(frozen=True)
class FnSpec:
    """One student function.

    ``cases(rng)`` → list of argument tuples (hidden inputs);
    ``reference(*args)`` → the expected output (array, number, or tuple);
    ``grad_check``: for a backward function, a :class:`GradCheck` — the
    judge then also checks the student's backward against centered
    differences of the student's own forward function.
    """
    name: str
    cases: Callable[[np.random.Generator], list[tuple]]
    reference: Callable[..., Any]
    rtol: float | None = None           # used only where course.yaml sets no tolerance
    atol: float | None = None
    grad_check: "GradCheck | None" = None
    #: optional acceptance rule ``check(args, value) -> (ok, Message | None)``
    #: replacing equality with ``reference`` (a threshold such as a test
    #: accuracy, or "any network that computes this function")
    check: Callable[[list, Any], tuple] | None = None
    #: catalogued mistakes: ``MISTAKE.with_fn(wrong reference)``, the wrong
    #: reference taking the same arguments as ``reference`` (a mistake may
    #: appear more than once, for two ways of making it).
    mistakes: tuple[Mistake, ...] = ()
    #: the question asks for a numerically stable function: hidden calls run
    #: with floating-point overflow/division/invalid raised (module docstring)
    stable: bool = False
    #: what the hidden inputs must keep for the part to have its point:
    #: ``keeps(cases)`` returns a problem (text) or ``None`` (``nngrade audit``)
    keeps: Callable[[list], str | None] | None = None

    def tolerance(self) -> dict:
        """The spec's own tolerance (``DEFAULT_TOLERANCE`` where it sets none)."""
        return {"rtol": DEFAULT_TOLERANCE["rtol"] if self.rtol is None else self.rtol,
                "atol": DEFAULT_TOLERANCE["atol"] if self.atol is None else self.atol,
                "atol_scale": DEFAULT_TOLERANCE["atol_scale"]}

    def __post_init__(self):
        bound = []
        for entry in self.mistakes:           # a wrong one fails at import, not at grading
            if not isinstance(entry, Mistake) or entry.fn is None:
                raise ValueError(f"FnSpec {self.name!r}: a mistake is MISTAKE.with_fn(callable), "
                                 f"got {entry!r}")
            bound.append(entry)
        object.__setattr__(self, "mistakes", tuple(bound))


@dataclass(frozen=True)
class GradCheck:
    """How a backward function relates to its forward function.

    ``forward`` — the student's forward function's name;
    ``forward_args(args)`` — the forward's arguments from the backward's;
    ``wrt`` — the index (in the forward's arguments) the gradient is taken for;
    ``upstream(args)`` — the upstream gradient ``dout`` in the backward's arguments;
    ``pick(output)`` — that gradient in the backward's output.
    The check compares ``pick(backward(*args))`` with
    ``Σ dout ⊙ (f(x + h e_j) − f(x − h e_j)) / 2h``.
    """
    forward: str
    forward_args: Callable[[list], list]
    wrt: int
    upstream: Callable[[list], np.ndarray]
    pick: Callable[[Any], Any] = lambda out: out
    step: float = 1e-6


@dataclass
class FnVerdict:
    """Hidden checks ``passed`` of ``total``, messages on the failures, and
    ``diagnosis``: the id of the catalogued mistake the failures match, or None."""
    passed: int
    total: int
    messages: list[Message] = field(default_factory=list)
    diagnosis: str | None = None
    #: the function misses the question's point (a ``stable`` spec whose
    #: function overflows): no credit, whatever else it passed
    missed_point: bool = False

    @property
    def fraction(self) -> float:
        if self.missed_point:
            return 0.0
        return self.passed / self.total if self.total else 0.0


def _plain(x):
    """Arguments as plain float arrays / floats (what crosses the boundary)."""
    if isinstance(x, (tuple, list)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return np.array(x, dtype=np.float64)
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return int(x)
    return float(x)


def plan_calls(spec: FnSpec, rng: np.random.Generator) -> list[dict]:
    """The call plan for ``spec``: each hidden case once, plus (for a
    backward function) the forward calls its finite-difference check needs,
    around the first case."""
    cases = [_plain(list(args)) for args in spec.cases(rng)]
    plan = [{"id": f"{spec.name}#{i}", "fn": spec.name, "args": a} for i, a in enumerate(cases)]
    if spec.stable:
        for call in plan:
            call["errstate"] = "raise"
    g = spec.grad_check
    if g is not None and cases:
        fargs = g.forward_args(cases[0])
        x = np.asarray(fargs[g.wrt], dtype=np.float64)
        for j in range(x.size):
            for sign in ("+", "-"):
                moved = x.copy().reshape(-1)
                moved[j] += g.step if sign == "+" else -g.step
                a = list(fargs)
                a[g.wrt] = moved.reshape(x.shape)
                plan.append({"id": f"{g.forward}#fd{j}{sign}", "fn": g.forward, "args": a})
    return plan


class InProcessRunner:
    """Runs a call plan against functions in ``namespace`` (a dict)."""

    def __init__(self, namespace: dict):
        self.namespace = namespace

    def run(self, plan: list[dict]) -> dict:
        out = {}
        for call in plan:
            fn = self.namespace.get(call["fn"])
            if not callable(fn):
                out[call["id"]] = not_callable(call["fn"], fn)
                continue
            args = copy.deepcopy(call["args"])          # arrays and lists: the student's own copies
            try:
                with np.errstate(**call_errstate(call)):
                    value = fn(*args)
                out[call["id"]] = {"ok": True, "value": _coerce_output(value)}
            except InvalidAnswer as bad:
                out[call["id"]] = {"ok": False, "error": bad.message.en, "error_zh": bad.message.zh}
            except Exception as exc:  # the student's exception, reported as data
                out[call["id"]] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        return out


def _coerce_output(value):
    if type(value) is tuple:
        return [coerce_array(v) for v in value]
    return coerce_array(value)


def _matches(got, want, spec: FnSpec, tol: dict | None = None) -> tuple[bool, Message | None]:
    tol = tol or spec.tolerance()
    if isinstance(want, tuple):
        if not isinstance(got, list) or len(got) != len(want):
            n = len(got) if isinstance(got, list) else 1
            return False, msg(f"应返回 {len(want)} 个值，实际返回 {n} 个。",
                              f"should return {len(want)} values, returned {n}.")
        for k, (g, w) in enumerate(zip(got, want)):
            ok, m = _matches(g, w, spec, tol)
            if not ok:
                return False, msg(f"第 {k + 1} 个返回值：", f"return value {k + 1}: ") + m
        return True, None
    c = check_array(got, want, shape_policy="strict", **tol)
    return c.ok, None if c.ok else c.message


def judge_function(spec: FnSpec, rng: np.random.Generator, runner,
                   tolerance: dict | None = None) -> FnVerdict:
    """Run the plan through ``runner``, compare with the references, and
    (for backward functions) check the gradient by finite differences.
    ``tolerance`` (``rtol``, ``atol``, ``atol_scale``) is course.yaml's for
    the part; ``None``: the spec's own (module docstring)."""
    tol = dict(tolerance) if tolerance else spec.tolerance()
    plan = plan_calls(spec, rng)
    results = runner.run(plan)
    cases = [c for c in plan if c["fn"] == spec.name]
    verdict = FnVerdict(0, len(cases) + (spec.grad_check is not None))
    failed, raised, unstable = [], False, False
    for call in cases:
        res = results.get(call["id"], {"ok": False, "error": "no result"})
        shapes = _describe_args(call["args"])
        if not res["ok"]:
            raised = True
            unstable |= spec.stable and str(res.get("error", "")).startswith("FloatingPointError")
            verdict.messages.append(msg(f"{spec.name}（输入 {shapes}）出错：{_error_zh(res)}",
                                        f"{spec.name} (inputs {shapes}) failed: {res['error']}"))
            continue
        args = _args(call)
        if spec.check is not None:
            ok, m = spec.check(args, res["value"])
            m = None if ok else (m or msg("不符合要求。", "not accepted."))
        else:
            ok, m = _matches(res["value"], spec.reference(*args), spec, tol)
        if ok:
            verdict.passed += 1
        else:
            failed.append((call, res["value"]))
            verdict.messages.append(msg(f"{spec.name}（输入 {shapes}）：", f"{spec.name} (inputs {shapes}): ") + m)
    if spec.grad_check is not None:
        ok, m = _finite_difference_check(spec, plan, results)
        verdict.passed += ok
        if m is not None:
            verdict.messages.append(m)
    if unstable:                    # the question asks for stability: that is its point
        verdict.diagnosis, verdict.missed_point = NUMERICALLY_UNSTABLE.id, True
    elif failed and not raised:
        verdict.diagnosis = diagnose(spec, failed, tol)
    return verdict


_RUNNER_ERRORS_ZH = (
    (re.compile(r"function (\w+) is not defined.*"), "函数 {0} 未定义（请运行定义它的单元格）"),
    (re.compile(r"(\w+) is not a function \(its type is (\w+)\)"), "{0} 不是函数（它的类型是 {1}）"),
    (re.compile(r"FloatingPointError: (.*)"), "浮点溢出或无效运算（FloatingPointError: {0}）"),
)


def _error_zh(res: dict) -> str:
    """The Chinese text of a call's error: the runner's own, else a
    translation of the runners' fixed English messages, else the error as
    it is (the student's exception text)."""
    if res.get("error_zh"):
        return res["error_zh"]
    error = str(res.get("error", ""))
    for pattern, zh in _RUNNER_ERRORS_ZH:
        m = pattern.fullmatch(error)
        if m:
            return zh.format(*m.groups())
    return error


def _describe_args(args) -> str:
    """The inputs of a call as feedback shows them: an array by its shape,
    a number (a kernel size, a stride) by its value."""
    out = []
    for a in args:
        if isinstance(a, np.ndarray) and a.ndim > 0:
            out.append(str(a.shape))
        elif isinstance(a, (list, tuple)):
            out.append(str(np.shape(a)))
        else:
            out.append(repr(a.item() if isinstance(a, np.ndarray) else a))
    return ", ".join(out)


def _args(call: dict) -> list:
    """Fresh copies of a planned call's arguments (for a reference to use)."""
    return copy.deepcopy(call["args"])


def diagnose(spec: FnSpec, failed: list[tuple[dict, Any]], tol: dict | None = None) -> str | None:
    """The id of the first of ``spec.mistakes`` whose wrong reference returns,
    on every failed case ``(call, the student's value)``, what the student's
    function returned; ``None`` when none does. A wrong reference that raises
    on a case does not match it."""
    for m in spec.mistakes:
        if all(_wrong_matches(m.fn, call, value, spec, tol) for call, value in failed):
            return m.id
    return None


def _wrong_matches(wrong, call: dict, value, spec: FnSpec, tol: dict | None = None) -> bool:
    try:
        expected = wrong(*_args(call))
        ok, _ = _matches(value, expected, spec, tol)
    except Exception:  # noqa: BLE001 — a mistake that cannot run on this case is not it
        return False
    return ok


def _finite_difference_check(spec, plan, results) -> tuple[bool, Message | None]:
    g = spec.grad_check
    first = plan[0]
    res = results.get(first["id"], {})
    if not res.get("ok"):
        return False, None                      # already reported with the case
    dout = np.asarray(g.upstream(first["args"]))
    x = np.asarray(g.forward_args(first["args"])[g.wrt])
    numeric = np.zeros(x.size)
    for j in range(x.size):
        plus, minus = results.get(f"{g.forward}#fd{j}+", {}), results.get(f"{g.forward}#fd{j}-", {})
        if not (plus.get("ok") and minus.get("ok")):
            bad = minus if plus.get("ok") else plus
            if str(bad.get("error", "")).startswith(f"function {g.forward} is not defined"):
                return False, msg(
                    f"无法做数值梯度检验：{g.forward} 未定义。请先运行定义 {g.forward} 的单元格"
                    f"（笔记本中给出的代码），再运行检查。",
                    f"numerical gradient check impossible: {g.forward} is not defined. Run "
                    f"the cell that defines {g.forward} (the code given in the notebook) "
                    f"first, then the check.")
            return False, msg(f"无法做数值梯度检验：{g.forward} 出错：{_error_zh(bad)}",
                              f"numerical gradient check impossible: {g.forward} failed: "
                              f"{bad.get('error', 'no result')}")
        fp, fm = np.asarray(plus["value"]), np.asarray(minus["value"])
        if fp.shape != dout.shape or fm.shape != dout.shape:
            return False, msg(f"{g.forward} 的输出形状 {fp.shape} 与上游梯度 {dout.shape} 不符。",
                              f"{g.forward}'s output shape {fp.shape} does not match the "
                              f"upstream gradient's {dout.shape}.")
        numeric[j] = np.sum((fp - fm) * dout) / (2 * g.step)
    try:
        grad = g.pick(res["value"])
    except (IndexError, TypeError, ValueError):
        return False, msg(f"{spec.name} 的返回值结构不对。", f"{spec.name} returned the wrong structure.")
    c = check_array(grad, numeric.reshape(x.shape), rtol=1e-5, atol=1e-7, shape_policy="strict")
    if c.ok:
        return True, None
    return False, msg(f"{spec.name} 与 {g.forward} 的数值梯度不一致：",
                      f"{spec.name} disagrees with the numerical gradient of {g.forward}: ") + c.message

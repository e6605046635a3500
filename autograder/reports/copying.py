"""Copy signals: evidence for the instructor's judgement, never a penalty.

Nothing here changes a grade. Each :class:`Signal` names the students, the
kind of evidence and the evidence itself, for a person to look at:

* ``other_variant`` — a student's wrong numeric answers equal, within the
  part's tolerance, the **reference answers of another student's variant**
  (in at least ``min_parts`` parts, all of the same classmate). Only with
  per-student variants, and only for classmates whose variant differs;
* ``same_code`` — the same function, **identical after normalising** names,
  whitespace, comments and docstrings: each function is parsed with
  :func:`ast.parse` (never run), its local names (arguments and assigned
  variables) renamed in order of first appearance, docstrings dropped, and
  the trees compared with :func:`ast.dump`.  Only functions of at least
  ``min_nodes`` syntax nodes, shared by 2 to ``max_group`` students (a
  solution most of the class wrote alike is the common one, not a copy);
* ``rare_wrong`` — the **same wrong answer** (no named mistake, no
  carried-forward credit; the value rounded to 4 significant digits),
  given by 2 to ``max_group`` students with the same variant, in at least
  ``min_parts`` parts or in one part with several numbers.
"""
from __future__ import annotations

import ast
import hashlib
import itertools
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from ..i18n import Message, msg
from ..results import AssignmentResult

__all__ = ["Signal", "copy_signals", "normalised_code", "code_size"]


@dataclass
class Signal:
    """One piece of evidence: ``kind``, the ``students`` it is about, the
    classmate(s) it points to (``others``), the parts involved and a
    sentence saying what was seen."""
    kind: str
    students: list[str]
    others: list[str]
    parts: list[str]
    evidence: Message
    detail: dict = field(default_factory=dict)


# --------------------------------------------------------------------------
# code

class _Canonical(ast.NodeTransformer):
    """Renames a function's local names to ``v0, v1, …`` in order of first
    appearance; free names (``np``, ``len``, other functions) stay."""

    def __init__(self, local: set[str]):
        self.local, self.names = local, {}

    def _name(self, name: str) -> str:
        if name not in self.local:
            return name
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node):
        node.id = self._name(node.id)
        return node

    def visit_arg(self, node):
        node.arg = self._name(node.arg)
        node.annotation = None
        return node

    def visit_FunctionDef(self, node):
        node.returns = None
        node.decorator_list = []
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:] or [ast.Pass()]
        node.body = body
        self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_Lambda = ast.NodeTransformer.generic_visit


def _locals(fn: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
    return names


def _function(source: str) -> ast.AST | None:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return defs[-1] if defs else None


def normalised_code(source: str) -> str | None:
    """The :func:`ast.dump` of the function in ``source`` with local names
    renamed canonically and its docstring dropped (comments and whitespace
    are not in the tree); ``None`` when it does not parse."""
    fn = _function(source)
    if fn is None:
        return None
    try:
        return ast.dump(_Canonical(_locals(fn)).visit(fn), annotate_fields=False)
    except RecursionError:
        return None


def code_size(source: str) -> int:
    """The number of syntax nodes of the function in ``source`` (0 when it does not parse)."""
    fn = _function(source)
    return sum(1 for _ in ast.walk(fn)) if fn is not None else 0


def _same_code(results, max_group: int, min_nodes: int) -> list[Signal]:
    groups: dict[tuple, list[tuple[str, str]]] = {}
    for r in results:
        for qr in r.questions:
            src = qr.details.get("source") if qr.part else None
            if type(src) is not str or code_size(src) < min_nodes:
                continue
            dump = normalised_code(src)
            if dump is None:
                continue
            key = (qr.question, qr.part, hashlib.sha256(dump.encode()).hexdigest())
            groups.setdefault(key, []).append((r.student, src))
    out = []
    for (qid, part, digest), members in sorted(groups.items()):
        students = sorted({s for s, _ in members})
        if not 2 <= len(students) <= max_group:
            continue
        names = ", ".join(students)
        out.append(Signal(
            "same_code", students, [], [f"{qid}/{part}"],
            msg(f"{names} 写的函数（{qid}/{part}）在统一变量名、去掉空白和注释后完全相同"
                f"（语法树一致，{code_size(members[0][1])} 个节点）。",
                f"{names} wrote the same function ({qid}/{part}) once names, whitespace and "
                f"comments are normalised (identical syntax trees, "
                f"{code_size(members[0][1])} nodes)."),
            {"sources": {s: src for s, src in members}, "digest": digest[:12]}))
    return out


# --------------------------------------------------------------------------
# numbers

def _close(a, b, rtol: float, atol: float) -> bool:
    try:
        x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        return False
    if x.size != y.size or x.size == 0:
        return False
    x, y = x.reshape(-1), y.reshape(-1)
    return bool(np.all(np.isfinite(x)) and np.allclose(x, y, rtol=rtol, atol=atol))


def _numeric_parts(assignment: str) -> list[tuple[str, str]]:
    from ..questions import questions_of
    return [(q.id, p.name) for q in questions_of(assignment) for p in q.parts if p.kind == "num"]


def _other_variant(results, params, references, tolerance, min_parts: int) -> list[Signal]:
    out = []
    by_student = {r.student: r for r in results}
    for r in results:
        hits: dict[str, list[str]] = {}
        for qr in r.questions:
            if qr.part is None or qr.full_marks or "answer" not in qr.details:
                continue
            key = (qr.question, qr.part)
            rtol, atol = tolerance(qr.question, qr.part)
            for other in by_student:
                if other == r.student or params[other] == params[r.student]:
                    continue
                ref = references[other].get(key)
                if ref is not None and _close(qr.details["answer"], ref, rtol, atol):
                    hits.setdefault(other, []).append(f"{qr.question}/{qr.part}")
        for other, parts in sorted(hits.items()):
            if len(parts) >= min_parts:
                out.append(Signal(
                    "other_variant", [r.student], [other], parts,
                    msg(f"{r.student} 的 {len(parts)} 个答案（{', '.join(parts)}）对自己的题目数据是错的，"
                        f"却与 {other} 的题目数据的正确答案一致。",
                        f"{len(parts)} of {r.student}'s answers ({', '.join(parts)}) are wrong for "
                        f"their own variant but right for {other}'s variant.")))
    return out


def _rare_wrong(results, params, max_group: int, min_parts: int) -> list[Signal]:
    import json
    groups: dict[tuple, set[str]] = {}
    sizes: dict[tuple, int] = {}
    for r in results:
        variant = json.dumps(params[r.student], sort_keys=True, default=str)
        for qr in r.questions:
            if qr.part is None or qr.status != "wrong" or qr.diagnosis or qr.carried_forward \
                    or "answer" not in qr.details:
                continue
            try:
                arr = np.asarray(qr.details["answer"], dtype=float).ravel()
            except (TypeError, ValueError):
                continue
            key = (qr.question, qr.part, variant,
                   tuple(float(f"{v:.4g}") for v in arr))
            groups.setdefault(key, set()).add(r.student)
            sizes[key] = arr.size
    shared: dict[tuple[str, ...], list[tuple[str, int]]] = {}
    for key, students in groups.items():
        if 2 <= len(students) <= max_group:
            for pair in itertools.combinations(sorted(students), 2):
                shared.setdefault(pair, []).append((f"{key[0]}/{key[1]}", sizes[key]))
    out = []
    for (a, b), parts in sorted(shared.items()):
        if len(parts) >= min_parts or any(size > 1 for _, size in parts):
            labels = [p for p, _ in parts]
            out.append(Signal(
                "rare_wrong", [a, b], [], labels,
                msg(f"{a} 和 {b} 给出了相同的、少见的错误答案（{', '.join(labels)}），"
                    f"没有已知的典型错误能解释。",
                    f"{a} and {b} gave the same rare wrong answer ({', '.join(labels)}), "
                    f"which no catalogued mistake explains.")))
    return out


# --------------------------------------------------------------------------

def copy_signals(results: Iterable[AssignmentResult], course=None, *, max_group: int = 3,
                 min_nodes: int = 40, min_parts: int = 2,
                 params_of: Callable[[AssignmentResult], dict] | None = None) -> list[Signal]:
    """Every copy signal of one assignment's ``results`` (see the module docstring)."""
    from ..questions import get_question
    from .analysis import params_of as course_params
    results = sorted(results, key=lambda r: r.student)
    if not results:
        return []
    get_params = params_of or (lambda r: course_params(course, r) if course is not None else {})
    params = {r.student: get_params(r) for r in results}
    parts = _numeric_parts(results[0].assignment)
    references = {}
    for r in results:
        refs = {}
        for qid in dict.fromkeys(q for q, _ in parts):
            try:
                built = get_question(qid).reference(params[r.student])
            except Exception:  # noqa: BLE001 - a variant the reference cannot build: skip it
                continue
            refs.update({(qid, p): v for p, v in built.items() if (qid, p) in parts})
        references[r.student] = refs

    def tolerance(qid, part):
        if course is None:
            return 1e-4, 1e-6
        t = course.tolerance_for(qid, part)
        return t.rtol, t.atol
    return (_other_variant(results, params, references, tolerance, min_parts)
            + _same_code(results, max_group, min_nodes)
            + _rare_wrong(results, params, max_group, min_parts))

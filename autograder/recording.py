"""What a student answered, kept in the stored result for class reports.

The judge scores answers and forgets them; the class report
(:mod:`autograder.reports.class_report`) needs them back — to cluster wrong
answers that no catalogued mistake explains and to look for copying.  This
module adds them to each part's ``QuestionResult.details`` (never shown to
students: feedback pages and exports leave ``details`` out):

* ``details["answer"]`` — a number/array part's value as nested lists, a
  formula's or a choice's text (at most :data:`MAX_VALUES` numbers or
  :data:`MAX_TEXT` characters; a larger answer is not kept);
* ``details["outputs"]`` — a function part's return values on its hidden
  cases, ``{call id: value}`` (the cases themselves are re-drawn from the
  result's ``variant_seed``, exactly as the judge drew them);
* ``details["source"]`` — the text of the function's last ``def`` in the
  notebook's cells (parsed with :mod:`ast`, never run).

:class:`RecordingRunner` wraps the runner the judge uses and keeps what it
returns, so recording runs no student code a second time.
"""
from __future__ import annotations

import ast
from typing import Any

import numpy as np

from .numeric import InvalidAnswer
from .results import AssignmentResult, to_jsonable

__all__ = ["RecordingRunner", "record_answers", "function_sources", "MAX_VALUES", "MAX_TEXT"]

#: the most numbers kept of one answer (or of one function's outputs)
MAX_VALUES = 4096
#: the most characters kept of a formula, a choice or a function's source
MAX_TEXT = 20_000


class _PartRecorder:
    def __init__(self, inner, store: dict):
        self.inner, self.store = inner, store

    def run(self, plan: list[dict]) -> dict:
        results = self.inner.run(plan)
        for call in plan:
            res = results.get(call["id"]) if isinstance(results, dict) else None
            if isinstance(res, dict) and res.get("ok"):
                self.store[call["id"]] = res.get("value")
        return results


class RecordingRunner:
    """A runner that passes every plan to ``runner`` and keeps the values
    it returns, per part key (``"A5.q2.backward"``) in :attr:`outputs`."""

    def __init__(self, runner):
        self.runner = runner
        self.outputs: dict[str, dict] = {}

    def for_part(self, key: str) -> _PartRecorder:
        inner = self.runner.for_part(key) if hasattr(self.runner, "for_part") else self.runner
        return _PartRecorder(inner, self.outputs.setdefault(key, {}))


def _plain(value: Any, budget: list[int]):
    """``value`` as JSON-safe lists/floats, or raise ``ValueError`` when it
    is too large or not numeric."""
    if isinstance(value, (list, tuple)):
        return [_plain(v, budget) for v in value]
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise ValueError("not numeric")
    budget[0] -= max(arr.size, 1)
    if budget[0] < 0:
        raise ValueError("too large")
    return arr.astype(np.float64).tolist()


def _answer_entry(value: Any):
    if value is None or isinstance(value, InvalidAnswer):
        return None
    if type(value) is str:
        return value if len(value) <= MAX_TEXT else None
    if type(value) is bool or isinstance(value, np.bool_):
        return bool(value)
    try:
        return _plain(value, [MAX_VALUES])
    except (ValueError, TypeError):
        return None


def function_sources(notebook, assignment: str) -> dict[str, str]:
    """``{function name: the text of its last top-level def}`` for the
    functions ``assignment``'s hidden checks call, read from ``notebook``
    (a path, a dict, or the :class:`~autograder.sandbox.cells.Cell` list the
    sandbox graded: ``SandboxOutcome.submitted_cells``) with
    :func:`ast.parse` — nothing is run.  A cell that does not parse (a
    magic, a syntax error) is skipped; an unreadable notebook gives ``{}``."""
    from .protocol import function_names
    from .sandbox.cells import NotebookError, load_notebook, prepare_cells
    wanted = set(function_names(assignment))
    if isinstance(notebook, list):
        cells = notebook
    else:
        try:
            cells, _ = prepare_cells(load_notebook(notebook), assignment)
        except (NotebookError, OSError, ValueError):
            return {}
    found: dict[str, str] = {}
    for cell in cells:
        if not cell.run or not any(name in cell.source for name in wanted):
            continue
        text = "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                         for line in cell.source.splitlines())
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in wanted:
                segment = ast.get_source_segment(text, node)
                if segment and len(segment) <= MAX_TEXT:
                    found[node.name] = segment
    return found


def record_answers(result: AssignmentResult, answers: dict, runner: RecordingRunner | None = None,
                   sources: dict[str, str] | None = None) -> AssignmentResult:
    """Add each part's answer (``answers``: ``{"q2": {"dW1": value}}``, as
    the judge took them), function outputs (from ``runner``) and function
    sources (``{name: text}``) to ``result``'s part details; returns
    ``result``.  Parts with nothing to keep are left as they are."""
    from .questions import get_question
    sources = sources or {}
    for r in result.questions:
        if r.part is None:
            continue
        try:
            part = get_question(r.question).part(r.part)
        except KeyError:
            continue
        extra: dict = {}
        if part.kind == "fn":
            outputs = (runner.outputs.get(f"{r.question}.{r.part}", {}) if runner else {})
            main = {cid: v for cid, v in outputs.items() if cid.startswith(f"{part.fn.name}#")
                    and "#fd" not in cid}
            budget = [MAX_VALUES]
            try:
                if main:
                    extra["outputs"] = {cid: _plain(v, budget) for cid, v in main.items()}
            except (ValueError, TypeError):
                pass
            if part.fn.name in sources:
                extra["source"] = sources[part.fn.name]
        else:
            local = r.question.split(".", 1)[1]
            given = answers.get(local, {}) if isinstance(answers.get(local), dict) else {}
            entry = _answer_entry(given.get(r.part))
            if entry is not None:
                extra["answer"] = entry
        if extra:
            r.details = {**r.details, **extra}
            r.details = to_jsonable(r.details, where=f"{r.label} details")
    return result

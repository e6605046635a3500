"""The check service's judging, without HTTP: one question for one student.

:class:`Checker` holds the course; :meth:`Checker.manifest` gives a student
their variant's numbers and the answer variables a notebook sends;
:meth:`Checker.check` judges one question exactly as the local
``check()`` of :mod:`autograder.notebook` does — the same
:func:`autograder.judge.grade_question`, the same policies and points, the
same *public* seed for function parts — except that function parts run in
the grading sandbox from the source of the student's cells
(:func:`autograder.sandbox.run_submission` on a notebook built from them),
under the service's CPU cap.  Every method is synchronous and thread-safe;
the server calls them from worker pools.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import threading
from collections import OrderedDict

import numpy as np

from .codec import AnswerError, decode_answers
from .limits import Limits, ServiceError

__all__ = ["Checker", "public_seed", "cells_notebook"]

def public_seed(course, assignment: str, student: str | None) -> int:
    """The seed of the inputs a public check's function parts run on (as
    :func:`autograder.notebook.setup` draws it)."""
    from ..variants import variant_seed
    return variant_seed(course.course_id + course.variants.key(), assignment,
                        f"{student or 'lecture'}#public")

def cells_notebook(cells: list[str]) -> dict:
    """A minimal nbformat-4 notebook of code cells (the student's sources)."""
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
            "cells": [{"cell_type": "code", "metadata": {}, "source": src, "outputs": [],
                       "execution_count": None, "id": f"c{i}"} for i, src in enumerate(cells)]}

def _refuse(status: int, reason: str, zh: str, en: str) -> ServiceError:
    return ServiceError(status, reason, zh, en)

class Checker:
    """Judges checks for the course (a :class:`~autograder.config.Course`)."""

    #: verdicts of checks without function parts kept (same question, variant
    #: and answers → same verdict: a class typing the same right formula
    #: costs one SymPy comparison)
    CACHE_SIZE = 4096
    #: seconds a check waits for the same check already being judged
    COALESCE_WAIT = 30.0
    #: (question, variant) references kept (see :meth:`_references`)
    REFERENCES = 4096

    def __init__(self, course, limits: Limits | None = None, isolation: str = "auto",
                 clock=None):
        self.course, self.limits, self.isolation = course, limits or Limits(), isolation
        #: now, as naive UTC (course.yaml's due dates are); tests set it
        self.clock = clock or (lambda: _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None))
        self._cache: OrderedDict[str, dict] = OrderedDict()
        self._refs: OrderedDict[tuple, dict] = OrderedDict()
        self._inflight: dict[str, threading.Event] = {}
        self._cache_lock = threading.Lock()

    # -- look-ups -------------------------------------------------------
    def _assignment(self, assignment) -> str:
        if type(assignment) is not str or assignment not in self.course.assignments:
            raise _refuse(404, "unknown_assignment", f"没有作业 {str(assignment)[:20]!r}。",
                          f"There is no assignment {str(assignment)[:20]!r}.")
        return assignment

    def _question(self, assignment: str, question_id):
        from ..questions import questions_of
        for q in questions_of(assignment):
            if q.id == question_id:
                return q
        raise _refuse(404, "unknown_question",
                      f"{str(question_id)[:20]!r} 不是作业 {assignment} 的题目。",
                      f"{str(question_id)[:20]!r} is not a question of {assignment}.")

    def manifest(self, assignment, student: str | None) -> dict:
        """The student's numbers and what their notebook sends."""
        from ..judge import variant_of
        from ..protocol import answer_name
        from ..questions import questions_of
        from ..results import to_jsonable
        aid = self._assignment(assignment)
        params, _seed = variant_of(self.course, aid, student)
        answers, functions = {}, {}
        for q in questions_of(aid):
            named = {p.name: {"var": answer_name(q, p), "kind": p.kind}
                     for p in q.parts if p.kind != "fn"}
            if named:
                answers[q.local_id] = named
            fns = sorted({n for p in q.parts if p.kind == "fn"
                          for n in (p.fn.name, getattr(p.fn.grad_check, "forward", None)) if n})
            if fns:
                functions[q.local_id] = fns
        return {"student": student, "assignment": aid, "params": to_jsonable(params, where="params"),
                "answers": answers, "functions": functions}

    def kind(self, body) -> str:
        """``"function"``, ``"formula"`` or ``"numeric"``: which worker pool a
        check goes to (a bad request counts as numeric: it fails fast)."""
        from ..questions import questions_of
        if type(body) is not dict or body.get("assignment") not in self.course.assignments:
            return "numeric"
        for q in questions_of(body["assignment"]):
            if q.id == body.get("question"):
                kinds = {p.kind for p in q.parts}
                return "function" if "fn" in kinds else \
                    "formula" if kinds & {"sym", "order"} else "numeric"
        return "numeric"

    def past_due(self, assignment: str, student: str | None) -> bool:
        """Has ``student``'s due date of ``assignment`` (with their
        extension) passed?  ``False`` without a due date."""
        due = self.course.assignment(assignment).due_for(student or "")
        return due is not None and self.clock() >= due

    # -- judging --------------------------------------------------------
    def check(self, student: str | None, body: dict) -> dict:
        """Judge ``body`` (``{"assignment", "question", "answers", "cells"?}``)
        for ``student``; raises :class:`ServiceError` for a bad request."""
        from ..judge import variant_of
        from ..protocol import answer_names, answers_from_wire
        if type(body) is not dict:
            raise _refuse(400, "bad_request", "请求应为 JSON 对象。", "The request must be a JSON object.")
        aid = self._assignment(body.get("assignment"))
        q = self._question(aid, body.get("question"))
        try:
            wire = decode_answers(body.get("answers"), answer_names(aid))
        except AnswerError as bad:
            raise _refuse(400, "bad_answers", bad.zh, bad.en) from None
        answers = answers_from_wire(wire)
        params, own_seed = variant_of(self.course, aid, student)
        seed = public_seed(self.course, aid, student)
        past_due = self.past_due(aid, student)
        runner, outcome, key = None, None, None
        if any(p.kind == "fn" for p in q.parts):
            runner, outcome = self._run_functions(aid, q, student, body.get("cells"), seed,
                                                  (params, own_seed))
        else:
            key = self._key(q.id, params, body.get("answers"), past_due)
            hit = self._cached(key)
            if hit is not None:
                return {**hit, "student": student}
        try:
            reply = self._judge(student, aid, q, answers, params, seed, past_due, runner, outcome)
            if key is not None and reply.pop("_decided"):
                with self._cache_lock:
                    self._cache[key] = reply
                    while len(self._cache) > self.CACHE_SIZE:
                        self._cache.popitem(last=False)
            reply.pop("_decided", None)
            return dict(reply)
        finally:
            if key is not None:
                with self._cache_lock:
                    done = self._inflight.pop(key, None)
                if done is not None:
                    done.set()

    def _cached(self, key: str) -> dict | None:
        """The cached reply for ``key``; when the same check is being judged
        right now (a class typing the same formula), wait for it rather than
        judge it twice.  ``None``: the caller judges it (and is the one the
        others wait for)."""
        for _ in range(2):
            with self._cache_lock:
                hit = self._cache.get(key)
                if hit is not None:
                    self._cache.move_to_end(key)
                    return hit
                running = self._inflight.get(key)
                if running is None:
                    self._inflight[key] = threading.Event()
                    return None
            running.wait(self.COALESCE_WAIT)
        with self._cache_lock:                   # not cached (undecided): judge it too
            self._inflight.setdefault(key, threading.Event())
        return None

    def _judge(self, student, aid, q, answers, params, seed, past_due, runner, outcome) -> dict:
        """The reply for one check; ``"_decided"``: whether it may be cached
        (no formula left undecided by its time limit, which a busy moment
        can cause)."""
        from ..formula import M_UNDECIDED
        from ..judge import grade_question, part_points, policy_for
        from .reveal import reveal_for
        references = self._references(params)
        results = grade_question(q, answers, params, lambda part: policy_for(self.course, q.id, part),
                                 part_points(self.course, q), runner, seed, references)
        if outcome is not None:
            from ..results import AssignmentResult
            from ..grading import mark_failures
            holder = AssignmentResult(assignment=aid, student=student or "", questions=results)
            mark_failures(holder, outcome)
            results = holder.questions
        points = min(round(math.fsum(r.score for r in results), 9), self.course.points(q.id))
        lang = self.course.language
        reply = {"student": student, "assignment": aid, "question": q.id, "points": float(points),
                 "results": [r.to_dict(lang) for r in results],
                 "past_due": past_due, "reveal": reveal_for(q, results, params, past_due, references),
                 "_decided": not any(M_UNDECIDED in r.feedback for r in results)}
        return reply

    def _references(self, params: dict):
        """``question → its references for params``, each built once per
        (question, variant) while it stays among the :data:`REFERENCES`
        most recently used (a class checking the same question builds each
        student's references once, not once per check and per part).
        Their arrays are read-only: a judge writing into a shared reference
        fails loudly instead of corrupting later checks."""
        from ..results import to_jsonable
        pkey = json.dumps(to_jsonable(params, where="params"), sort_keys=True)

        def references(q) -> dict:
            key = (q.id, pkey)
            with self._cache_lock:
                hit = self._refs.get(key)
                if hit is not None:
                    self._refs.move_to_end(key)
                    return hit
            built = q.reference(params)
            for value in built.values():
                if isinstance(value, np.ndarray):
                    value.setflags(write=False)
            with self._cache_lock:
                self._refs[key] = built
                while len(self._refs) > self.REFERENCES:
                    self._refs.popitem(last=False)
            return built
        return references

    @staticmethod
    def _key(qid: str, params: dict, answers, past_due: bool) -> str:
        from ..results import to_jsonable
        text = json.dumps([qid, to_jsonable(params, where="params"), answers, past_due],
                          sort_keys=True,
                          allow_nan=False, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def _run_functions(self, aid: str, q, student: str | None, cells, seed: int,
                       variant: tuple[dict, int]):
        from ..grading import ReplayRunner, build_plans, plan_submission, run_sandboxed
        if cells is None:
            cells = []
        if type(cells) is not list or any(type(c) is not str for c in cells):
            raise _refuse(400, "bad_cells", "cells 应为字符串列表（单元格的源代码）。",
                          "'cells' must be a list of strings (the cells' source).")
        if len(cells) > self.limits.max_cells:
            raise _refuse(413, "too_many_cells", f"单元格过多（至多 {self.limits.max_cells} 个）。",
                          f"Too many cells (at most {self.limits.max_cells}).")
        # the public inputs (``seed``: the public seed), under the service's tighter limits
        plans = build_plans(self.course, aid, student, seed=seed, questions=[q])
        sb = self.course.sandbox
        cpu = min(sb.cpu_seconds, self.limits.fn_cpu_seconds)
        limits = {"cpu_seconds": cpu,
                  "wall_seconds": max(min(sb.wall_seconds, self.limits.fn_wall_seconds), cpu)}
        plan = plan_submission(self.course, aid, student, plans=plans, limits=limits,
                               variant=variant)
        outcome = run_sandboxed(plan, cells_notebook(cells), isolation=self.isolation)
        if outcome.status == "malformed":
            raise _refuse(400, "bad_cells", outcome.message_zh or "无法读取单元格。",
                          outcome.message or "the cells could not be read")
        reasons = {k: p.get("reason") for k, p in outcome.parts.items() if p.get("status") != "ok"}
        return ReplayRunner(outcome.fn_results, reasons), outcome

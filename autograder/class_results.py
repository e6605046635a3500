"""Where the reporting verbs get their results: the gradebook, with what
graders entered in formgrader applied.

**One source of truth.**  ``export``, ``feedback``, ``stats``, ``report``
and ``lms`` read every result from the gradebook (``course.yaml``'s
``gradebook_url`` or ``--gradebook``; any SQLAlchemy URL): the full result
kept in its ``nngrade_result`` table (:mod:`autograder.gradebook`), so a
second folder pointed at the same database sees the same class.  The JSON
files under ``ROOT/nngrade/results`` are a cache the grading run keeps (it
decides from them what is already graded); they are read instead only when
no gradebook is configured (``--no-gradebook``) or its SQLite file does not
exist, or for an assignment the gradebook holds no result of — and every
time that happens the verb says so (:attr:`Loaded.notes`).  A result in the
cache but not in the gradebook (a run interrupted between the two writes;
the next ``grade`` records it) is included, and named.

**Manual grades win** (:func:`apply_manual`), as in nbgrader's own
``Grade.score``: a question whose grade cell has a ``manual_score`` gets
that score — its parts are replaced by one entry saying it is the
instructor's score (the automatic score and the automatic feedback stay
below it) —, ``extra_credit`` is added as an ``extra_credit`` part, and a
manual comment on the question's cells (its grade cell ``A3_q2`` or its
answer cells ``A3_q2_answer…``) is shown with the question.  Overrides are
applied when results are read, never stored into the result: a regrade
replaces the automatic scores and keeps the grader's (the gradebook keeps
``manual_score`` and the comments through a regrade, ``--force`` included).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .i18n import msg
from .protocol import grade_id
from .results import AssignmentResult, QuestionResult, round_score

__all__ = ["Loaded", "load_class_results", "apply_manual"]


@dataclass
class Loaded:
    """Results for the verbs, where they came from, and what to tell the user."""
    results: list[AssignmentResult] = field(default_factory=list)
    #: ``"gradebook"``, ``"cache"`` or ``"gradebook+cache"``
    source: str = "gradebook"
    #: bilingual :class:`~autograder.i18n.Message` notes (fallbacks, disagreements)
    notes: list = field(default_factory=list)


def _sqlite_missing(url: str) -> Path | None:
    from .gradebook import _parse_url, _sqlite_file
    path = _sqlite_file(_parse_url(url))
    return path if path is not None and not path.exists() else None


def load_class_results(course, store, assignments: list[str],
                       gradebook_url: str | None) -> Loaded:
    """The results of ``assignments`` (see the module docstring): from the
    gradebook at ``gradebook_url`` with manual grades applied, else from
    ``store`` (a :class:`~autograder.submissions.ResultStore`) with a note.
    A gradebook that exists but cannot be read raises
    :class:`~autograder.gradebook.GradebookError` (never a silent fallback
    to results that may lack the graders' changes)."""
    loaded = Loaded()
    cached = {a: _cached(store, a, loaded) for a in assignments}

    def from_cache(why):
        loaded.source = "cache"
        if any(cached.values()):
            loaded.notes.append(why)
        loaded.results = [r for a in assignments for r in cached[a]]
        return loaded

    if gradebook_url is None:
        return from_cache(msg(
            f"未使用成绩簿：读取本地结果 {store.folder}（不含在 formgrader 中手动给的分数）。",
            f"no gradebook: reading the local results in {store.folder} (manual grades "
            f"from formgrader are not applied)."))
    missing = _sqlite_missing(gradebook_url)
    if missing is not None:
        return from_cache(msg(
            f"成绩簿 {missing} 不存在：读取本地结果 {store.folder}（不含手动评分）。",
            f"no gradebook at {missing}: reading the local results in {store.folder} "
            f"(manual grades are not applied)."))
    from .gradebook import GradebookStore, notebook_name
    used_cache = False
    with GradebookStore(gradebook_url, create=False) as gb:
        for aid in assignments:
            recorded = {r.student: r for r in gb.load_results(aid)}
            local = {r.student: r for r in cached[aid]}
            if not recorded:
                if local:
                    used_cache = True
                    loaded.notes.append(msg(
                        f"{aid}：成绩簿中没有结果，读取本地结果 {store.folder / aid}（不含手动评分）。",
                        f"{aid}: the gradebook holds no results; reading the local results "
                        f"in {store.folder / aid} (manual grades are not applied)."))
                    loaded.results.extend(local[s] for s in sorted(local))
                continue
            only_local = sorted(set(local) - set(recorded))
            if only_local:
                used_cache = True
                loaded.notes.append(msg(
                    f"{aid}：{len(only_local)} 份结果只在本地缓存中、不在成绩簿中（已计入；"
                    f"再运行 nngrade grade 会记录它们）：{', '.join(only_local)}",
                    f"{aid}: {len(only_local)} result(s) are in the local cache but not in the "
                    f"gradebook (included; running nngrade grade records them): "
                    f"{', '.join(only_local)}"))
            manual = gb.load_manual(aid, notebook_name(course, aid))
            merged = {**{s: local[s] for s in only_local}, **recorded}
            loaded.results.extend(apply_manual(course, merged[s], manual.get(s, {}))
                                  for s in sorted(merged))
    loaded.source = "gradebook+cache" if used_cache else "gradebook"
    return loaded


def _cached(store, assignment: str, loaded: Loaded) -> list[AssignmentResult]:
    """The cache's results of ``assignment`` (an unreadable cache is a note)."""
    try:
        return store.all(assignment)
    except (ValueError, TypeError, OSError) as exc:
        loaded.notes.append(msg(f"本地结果缓存无法读取：{exc}",
                                f"the local results cache could not be read: {exc}"))
        return []


def _status(score: float, max_score: float) -> str:
    if score >= max_score:
        return "correct"
    return "wrong" if score <= 0 else "partial"


def apply_manual(course, result: AssignmentResult, cells: dict[str, dict]) -> AssignmentResult:
    """``result`` with the grader's entries for its student applied
    (``cells``: ``{cell name: {"manual_score", "extra_credit", "comment"}}``
    as :meth:`autograder.gradebook.GradebookStore.load_manual` gives them).
    ``result`` itself is not changed."""
    if not cells:
        return result
    out: list[QuestionResult] = []
    applied = []
    for qid in dict.fromkeys(q.question for q in result.questions):
        parts = result.results_for(qid)
        gid = grade_id(qid)
        grade = cells.get(gid, {})
        comments = [e["comment"] for name, e in sorted(cells.items())
                    if e.get("comment") and (name == gid or name.startswith(gid + "_"))]
        comment_lines = [msg(f"教师评语：{c}", f"Instructor's comment: {c}") for c in comments]
        manual = grade.get("manual_score")
        if manual is not None:
            max_score = round_score(sum(p.max_score for p in parts))
            auto = round_score(sum(p.score for p in parts))
            score = round_score(min(max(manual, 0.0), max_score))
            feedback = [msg(f"教师评分：{score:g} / {max_score:g}（自动评分 {auto:g}）。",
                            f"Instructor's score: {score:g} / {max_score:g} "
                            f"(automatic: {auto:g}).")] + comment_lines
            for p in parts:
                feedback.extend(p.feedback)
            out.append(QuestionResult(
                question=qid, part=None, score=score, max_score=max_score,
                status=_status(score, max_score), feedback=feedback,
                diagnosis=next((p.diagnosis for p in parts if p.diagnosis), None),
                details={"manual": {"score": score, "entered": manual, "auto_score": auto},
                         "auto_parts": [p.to_dict() for p in parts]}))
            applied.append(qid)
        else:
            parts = list(parts)
            if comment_lines:
                first = parts[0]
                parts[0] = QuestionResult(**{**_fields(first),
                                             "feedback": comment_lines + list(first.feedback)})
                applied.append(qid)
            out.extend(parts)
        extra = grade.get("extra_credit")
        if extra and extra > 0:
            out.append(QuestionResult(
                question=qid, part="extra_credit", score=extra, max_score=extra,
                status="correct",
                feedback=[msg(f"教师给的附加分：{extra:g}", f"Extra credit from the instructor: "
                                                       f"{extra:g}")],
                details={"manual": {"extra_credit": extra}}))
            applied.append(qid)
    if not applied:
        return result
    details = {**result.details, "manual": sorted(set(applied))}
    return AssignmentResult(assignment=result.assignment, student=result.student,
                            variant_seed=result.variant_seed, questions=out, details=details)


def _fields(q: QuestionResult) -> dict:
    return {"question": q.question, "part": q.part, "score": q.score,
            "max_score": q.max_score, "status": q.status, "feedback": list(q.feedback),
            "diagnosis": q.diagnosis, "carried_forward": q.carried_forward,
            "details": q.details}

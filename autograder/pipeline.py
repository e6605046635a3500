"""Grading a class: every submission of one assignment, in parallel, resumable.

``grade_class`` takes the submissions (:mod:`autograder.submissions`), skips
those already in the :class:`~autograder.submissions.ResultStore` (unless
``force``), grades the rest with a pool of worker processes — or on a
dask.distributed cluster (``scheduler=ADDRESS`` or a ``Client``) — and, as
each finishes, saves its result atomically and records it in nbgrader's
gradebook. Only this (parent) process writes the store and the gradebook, so
workers never contend for the database; a run killed at any point loses no
finished grade and a re-run completes the rest. Results already stored but
missing from the gradebook (a kill between the two writes) are recorded on
the next run.

The job a worker runs, :func:`grade_job`, takes and returns plain data (paths,
ids, the result's JSON), so it can travel to a remote dask worker. Each job
runs the student's notebook in its own sandboxed child process
(:mod:`autograder.sandbox`); a hostile or broken notebook costs its own
points only. Should a job itself fail (a bug, a worker lost), the student
gets an ``error`` result saying so rather than a lost grade.
"""
from __future__ import annotations

import functools
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Callable

from .results import AssignmentResult, QuestionResult
from .submissions import ResultStore, Submission

__all__ = ["grade_job", "grade_class", "ClassRun", "failed_result"]


def grade_job(course_path: str, assignment: str, notebook_path: str, student: str,
              source_notebook: str | None) -> str:
    """Grade one submission in a sandbox; the AssignmentResult as JSON."""
    from .sandbox import grade_notebook
    course = _course(course_path, os.stat(course_path).st_mtime_ns)
    result = grade_notebook(course, assignment, Path(notebook_path), student,
                            source_notebook=Path(source_notebook) if source_notebook else None)
    return result.to_json()


@functools.lru_cache(maxsize=4)
def _course(path: str, mtime_ns: int):
    """The course, parsed once per worker process (per version of the file)."""
    from .config import load_course
    return load_course(path)


def failed_result(course, assignment: str, student: str, why: str) -> AssignmentResult:
    """Every question at 0 with status ``error`` and the reason (a job that
    could not run must still leave a grade, never a hole)."""
    from .i18n import msg
    result = AssignmentResult(assignment=assignment, student=student,
                              details={"status": "grader_error", "error": why[:2000]})
    for qid in course.question_ids(assignment):
        result.add(QuestionResult(question=qid, part=None, score=0.0,
                                  max_score=course.points(qid), status="error",
                                  feedback=[msg(f"评分程序出错，本题未能评分：{why[:300]}",
                                                f"The grader failed; this question could not be graded: {why[:300]}")]))
    return result


@dataclass
class ClassRun:
    """What a class run did."""
    graded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _record(gradebook_url, course, result, run: ClassRun) -> None:
    if gradebook_url is None:
        return
    from .gradebook import record
    record(gradebook_url, course, result)
    run.recorded.append(result.student)


def grade_class(course, course_path: str | os.PathLike, assignment: str,
                submissions: list[Submission], store: ResultStore, *,
                gradebook_url: str | None = None, source_notebook: str | os.PathLike | None = None,
                workers: int | None = None, force: bool = False, scheduler=None,
                progress: Callable[[int, int, str], None] | None = None,
                job: Callable[..., str] = grade_job) -> ClassRun:
    """Grade ``submissions`` (see module docstring); ``progress(done, total,
    student)`` is called after each one."""
    started = time.perf_counter()
    run = ClassRun()
    todo = []
    for sub in submissions:
        if not force and store.has(assignment, sub.student):
            run.skipped.append(sub.student)
            if gradebook_url is not None and not _in_gradebook(gradebook_url, assignment, sub.student):
                _record(gradebook_url, course, store.load(assignment, sub.student), run)
        else:
            todo.append(sub)
    total = len(todo)
    args = [(str(course_path), assignment, str(s.path), s.student,
             str(source_notebook) if source_notebook else None) for s in todo]

    def finish(sub: Submission, text: str | None, error: str | None) -> None:
        if error is None:
            result = AssignmentResult.from_json(text)
            run.graded.append(sub.student)
        else:
            result = failed_result(course, assignment, sub.student, error)
            run.failed.append(sub.student)
        store.save(result)
        _record(gradebook_url, course, result, run)
        if progress:
            progress(len(run.graded) + len(run.failed), total, sub.student)

    if not todo:
        pass
    elif scheduler is not None:
        _run_dask(scheduler, job, todo, args, finish)
    elif (workers or os.cpu_count() or 1) == 1:
        for sub, a in zip(todo, args):
            try:
                finish(sub, job(*a), None)
            except Exception as exc:  # noqa: BLE001 — one submission's failure is its own
                finish(sub, None, f"{type(exc).__name__}: {exc}")
    else:
        with ProcessPoolExecutor(max_workers=workers or os.cpu_count(),
                                 mp_context=get_context("forkserver")) as pool:
            futures = {pool.submit(job, *a): sub for sub, a in zip(todo, args)}
            for fut in as_completed(futures):
                exc = fut.exception()
                finish(futures[fut], None if exc else fut.result(),
                       f"{type(exc).__name__}: {exc}" if exc else None)
    run.seconds = time.perf_counter() - started
    return run


def _in_gradebook(gradebook_url: str, assignment: str, student: str) -> bool:
    from .gradebook import graded
    return graded(gradebook_url, assignment, student)


def _run_dask(scheduler, job, todo, args, finish) -> None:
    from distributed import Client, as_completed as dask_completed
    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        futures = [client.submit(job, *a, pure=False, key=f"nngrade-{s.assignment}-{s.student}-{time.time_ns()}")
                   for s, a in zip(todo, args)]
        by_key = {f.key: s for f, s in zip(futures, todo)}
        for fut in dask_completed(futures):
            sub = by_key[fut.key]
            if fut.status == "finished":
                finish(sub, fut.result(), None)
            else:
                exc = fut.exception()
                finish(sub, None, f"{type(exc).__name__}: {exc}")
    finally:
        if not isinstance(scheduler, Client):
            client.close()

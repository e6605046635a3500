"""Grading a class: every submission of one assignment, in parallel, resumable.

``grade_class`` takes the submissions (:mod:`autograder.submissions`), skips
those already in the :class:`~autograder.submissions.ResultStore` (unless
``force``) *for the very submission now in the folder* — each result keeps
the submission's nbgrader ``timestamp.txt`` and the notebook's digest
(:mod:`autograder.submission_info`), so a resubmission is graded again, as is
a result the grader itself failed to produce — grades the rest with a pool of worker processes — or on a
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
import itertools
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Callable

from .results import AssignmentResult, QuestionResult, valid_text
from .submissions import ResultStore, Submission

__all__ = ["grade_job", "grade_class", "ClassRun", "failed_result", "RunFailed",
           "WorkerSetupError"]

#: jobs handed to the pool (or the cluster) per worker at a time
IN_FLIGHT_PER_WORKER = 4


def grade_job(course_path: str, assignment: str, notebook_path: str, student: str,
              source_notebook: str | None) -> str:
    """Grade one submission in a sandbox; the AssignmentResult as JSON.
    Paths must be absolute (a worker's folder is not the client's); one the
    worker cannot read raises :class:`WorkerSetupError` naming the host."""
    from .grading import grade_one
    _check_visible(("course.yaml", course_path), ("notebook", notebook_path),
                   ("released notebook", source_notebook))
    course = _course(course_path, os.stat(course_path).st_mtime_ns)
    result = grade_one(course, assignment, Path(notebook_path), student,
                       source_notebook=Path(source_notebook) if source_notebook else None)
    return result.to_json()


class WorkerSetupError(RuntimeError):
    """A grading worker cannot see the files it was given (a cluster worker
    without the course folder mounted at the same path): not the student's
    fault, so never a grade."""


class RunFailed(RuntimeError):
    """The run graded nothing: every submission it tried failed in the
    grader (one shared cause, such as a cluster that cannot read the course
    folder).  Nothing was stored or recorded for them."""


def _check_visible(*named: tuple[str, str | None]) -> None:
    import socket
    for what, path in named:
        if path is None:
            continue
        if not os.path.isabs(path):
            raise WorkerSetupError(f"the {what} path {path!r} is relative; the grader "
                                   f"sends absolute paths")
        if not os.access(path, os.R_OK):
            why = "does not exist" if not os.path.lexists(path) else "is not readable"
            raise WorkerSetupError(
                f"the grading worker on host {socket.gethostname()} (pid {os.getpid()}) cannot "
                f"read the {what} {path}: it {why} there. Every worker must see the course "
                f"folder at the same path as the machine running nngrade (a shared file system)")


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
    #: students whose stored result could not be read (regraded), with why
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    #: students graded again because their submission changed since their result
    resubmitted: list[str] = field(default_factory=list)
    #: (student, why) of every grader failure (also listed in ``failed``)
    errors: list[tuple[str, str]] = field(default_factory=list)
    #: autograded notebooks written (:mod:`autograder.autograded`)
    autograded: list[str] = field(default_factory=list)
    #: what went wrong outside the grades (autograded notebooks, formgrader's
    #: cells): bilingual Messages to show; no grade depends on them
    notes: list = field(default_factory=list)
    seconds: float = 0.0


class _GradebookWriter:
    """Records results in the gradebook from one background thread, so that
    opening the database (seconds, for a new one) and each transaction
    overlap with grading instead of adding to it.  Results waiting in the
    queue are written together, up to :attr:`BATCH` per transaction (SQLite
    commits, not rows, are what cost).

    ``catch_up`` is the list of ``(student, digest)`` of results already in
    the store: those the gradebook holds with the same digest are left alone;
    the others (a run killed between the store and the gradebook, or a
    gradebook replaced) are loaded again and recorded, a chunk at a time
    between the new results.  A failed writer stops the run: :meth:`put`
    raises its error at once, :meth:`close` at the end."""

    BATCH = 32

    def __init__(self, gradebook_url: str | None, course, run: ClassRun, store: ResultStore,
                 assignment: str, catch_up: list[tuple[str, str]], released=None):
        import queue
        import threading
        self.url, self.course, self.run, self.released = gradebook_url, course, run, released
        self.store, self.assignment, self.catch_up = store, assignment, catch_up
        # bounded: when grading outruns the database, finish() waits instead
        # of piling parsed results up in memory (a failed writer drains it)
        self.queue: queue.Queue = queue.Queue(maxsize=64)
        self.error: BaseException | None = None
        self.closed = False                         # the end marker was taken
        self.thread = threading.Thread(target=self._work, name="nngrade-gradebook", daemon=True)

    def start(self) -> None:
        if self.url is not None and not self.thread.is_alive():
            self.thread.start()

    def put(self, result: AssignmentResult) -> None:
        if self.url is None:
            return
        if self.error is not None:
            raise self.error
        self.queue.put(result)

    def _work(self) -> None:
        import queue

        from .gradebook import GradebookStore
        try:
            with GradebookStore(self.url) as gb:
                self._register(gb)
                pending = self._stale(gb)
                while True:
                    block = not pending
                    batch, done = [], False
                    while len(batch) < self.BATCH:
                        try:
                            item = self.queue.get(block=block and not batch)
                        except queue.Empty:
                            break
                        if item is None:
                            done = self.closed = True
                            break
                        batch.append(item)
                    if batch:
                        gb.record_many(self.course, batch)
                        self.run.recorded.extend(r.student for r in batch)
                    if pending:
                        self._record_stored(gb, pending[:self.BATCH])
                        pending = pending[self.BATCH:]
                    if done:
                        for i in range(0, len(pending), self.BATCH):
                            self._record_stored(gb, pending[i:i + self.BATCH])
                        return
        except BaseException as exc:  # noqa: BLE001 — raised by put() and close()
            self.error = exc
            while not self.closed and self.queue.get() is not None:
                pass                                # drain so put()/close() never block

    def _register(self, gb) -> None:
        """The released notebook's cells, for formgrader (a released notebook
        that does not fit is a note, not a failed run: no grade needs it)."""
        if self.released is None:
            return
        from .i18n import msg
        try:
            gb.register_notebook(self.course, self.assignment, self.released)
        except (ValueError, KeyError, OSError) as exc:
            self.run.notes.append(msg(
                f"发布的笔记本 {self.released} 无法登记到成绩簿（formgrader 将无法打开提交）：{exc}",
                f"the released notebook {self.released} could not be registered in the "
                f"gradebook (formgrader cannot open the submissions): {exc}"))

    def _record_stored(self, gb, students: list[str]) -> None:
        """Record the stored results of ``students`` (one transaction)."""
        changed = gb.record_many(self.course, [self.store.load(self.assignment, s)
                                               for s in students])
        self.run.recorded.extend(s for s, c in zip(students, changed) if c)

    def _stale(self, gb) -> list[str]:
        """The catch-up students whose recorded digest differs from the store's."""
        if not self.catch_up:
            return []
        recorded = gb.digests(self.assignment)
        return [s for s, d in self.catch_up if recorded.get(s) != d]

    def check(self) -> None:
        """Raise the writer's error, if it has failed."""
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        if self.url is None:
            return
        self.start()                                # (if the run ended before it started)
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


def grade_class(course, course_path: str | os.PathLike, assignment: str,
                submissions: list[Submission], store: ResultStore, *,
                gradebook_url: str | None = None, source_notebook: str | os.PathLike | None = None,
                workers: int | None = None, force: bool = False, scheduler=None,
                progress: Callable[[int, int, str], None] | None = None,
                running: Callable[[list[str]], None] | None = None,
                questions: list[str] | None = None,
                autograded_root: str | os.PathLike | None = None,
                job: Callable[..., str] = grade_job) -> ClassRun:
    """Grade ``submissions`` (see module docstring); ``progress(done, total,
    student)`` is called after each one, ``running(students)`` whenever the
    set of submissions being graded changes.  A stored result that cannot be
    read is graded again (listed in ``ClassRun.unreadable``).

    ``questions`` (full ids such as ``"A3.q2"``): a selective regrade — only
    these questions' results are replaced in each stored result of the same
    submission (the others stay as they are); a submission without one gets
    a whole new result.

    ``autograded_root``: write each result's autograded notebook under
    ``<root>/autograded/`` as nbgrader does (:mod:`autograder.autograded`;
    needs ``source_notebook``), also for skipped submissions that lack one.

    Every path is made absolute here, before any job leaves (a dask worker's
    folder is not this one).  Grader failures (not the student's) are stored
    and recorded at the end; when *every* submission of the run failed, the
    run raises :class:`RunFailed` instead and stores nothing."""
    from .config import check_questions
    from .gradebook import result_digest
    from .submission_info import SubmissionInfo, read_info
    check_questions(course, [assignment])      # a renamed part would give everyone 0
    started = time.perf_counter()
    run = ClassRun()
    todo, catch_up = [], []
    store.remove_stale(assignment)
    # what each submission is (timestamp, digest, STUDENT_ID), read here, before
    # grading: a file changed during the run is then graded again next time
    infos = {sub.student: read_info(sub.student, sub.path) for sub in submissions}
    stored_results: dict[str, AssignmentResult] = {}
    for sub in submissions:
        if not store.has(assignment, sub.student) or (force and not questions):
            todo.append(sub)
            continue
        try:
            old = store.load(assignment, sub.student)
            digest = result_digest(old)
        except (ValueError, TypeError, OSError) as exc:
            run.unreadable.append((sub.student, f"{type(exc).__name__}: {exc}"[:300]))
            todo.append(sub)
            continue
        stored_results[sub.student] = old
        if force:
            todo.append(sub)                        # (a selective regrade: merged below)
            continue
        graded_from = SubmissionInfo.from_dict(old.details.get("submission"))
        if old.details.get("status") == "grader_error":
            todo.append(sub)                        # the grader failed last time: try again
        elif not infos[sub.student].same_submission(graded_from):
            if graded_from is not None:
                run.resubmitted.append(sub.student)
            todo.append(sub)                        # a resubmission (or no record of what was graded)
        else:
            run.skipped.append(sub.student)
            catch_up.append((sub.student, digest))
    _preflight(store, assignment, gradebook_url, writing=bool(todo))
    if job is grade_job and scheduler is None and todo:
        # the sandbox's zygote (a second of imports) warms up from now on,
        # while this process starts its pool; it imports what the released
        # notebook and the assignment's questions use (not SymPy or a
        # plotting library for an assignment without)
        from .questions import MODULES
        from .sandbox import client
        imports = client.notebook_imports(source_notebook) if source_notebook else None
        client.start_shared_zygote(None if imports is None else imports + [
            f"autograder.questions.{m}" for m in MODULES.get(assignment, ())])
    writer = _GradebookWriter(gradebook_url, course, run, store, assignment, catch_up,
                              released=source_notebook)
    paths = {sub.student: sub.path for sub in submissions}

    def autograde(result: AssignmentResult, only_missing: bool = False) -> None:
        if autograded_root is None or source_notebook is None:
            return
        from .autograded import autograded_path, write_autograded
        from .i18n import msg
        if only_missing and autograded_path(autograded_root, course, assignment,
                                            result.student).is_file():
            return
        try:
            write_autograded(autograded_root, course, assignment, result,
                             paths[result.student], source_notebook)
            run.autograded.append(result.student)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            run.notes.append(msg(f"{result.student}：批改后的笔记本无法写入：{exc}",
                                 f"{result.student}: the autograded notebook could not be "
                                 f"written: {exc}"))
    for student in run.skipped:
        if student in stored_results:
            autograde(stored_results[student], only_missing=True)
    total = len(todo)
    args = [(os.path.abspath(course_path), assignment, os.path.abspath(s.path), s.student,
             os.path.abspath(source_notebook) if source_notebook else None) for s in todo]
    in_flight: set[str] = set()
    failures: list[AssignmentResult] = []

    def start(sub: Submission) -> None:
        in_flight.add(sub.student)
        if running:
            running(sorted(in_flight))

    def keep(result: AssignmentResult) -> None:
        store.save(result)
        writer.put(result)
        autograde(result)

    def finish(sub: Submission, text: str | None, error: str | None) -> None:
        in_flight.discard(sub.student)
        info = infos[sub.student]
        result = None
        if error is None:
            try:              # a result that cannot be read or stored costs its student only
                result = AssignmentResult.from_json(text)
                old = stored_results.get(sub.student)
                if questions and old is not None and info.same_submission(
                        SubmissionInfo.from_dict(old.details.get("submission"))) \
                        and old.details.get("status") != "grader_error":
                    result = _merge(old, result, questions)
                result.details = {**result.details, "submission": info.as_dict()}
                store.save(result)
            except (ValueError, TypeError) as exc:
                error = f"the result of {sub.student} could not be stored: " \
                        f"{type(exc).__name__}: {exc}"
        if error is None:
            writer.put(result)
            autograde(result)
            run.graded.append(sub.student)
        else:
            result = failed_result(course, assignment, sub.student, valid_text(error))
            result.details = {**result.details, "submission": info.as_dict()}
            run.failed.append(sub.student)
            run.errors.append((sub.student, error))
            failures.append(result)             # kept at the end, unless all failed
        if progress:
            progress(len(run.graded) + len(run.failed), total, sub.student)
        if running:
            running(sorted(in_flight))

    try:
        _dispatch(todo, args, job, finish, workers, scheduler, ready=writer.start,
                  check=writer.check, start=start)
        if failures and not run.graded:
            reasons = sorted({why.splitlines()[0][:300] for _, why in run.errors})
            raise RunFailed(f"the grader could not grade any of the {len(failures)} "
                            f"submission(s) it tried; nothing was recorded for them. "
                            f"Cause: {'; '.join(reasons[:3])}")
        for result in failures:
            keep(result)
    finally:
        writer.close()
    run.seconds = time.perf_counter() - started
    return run


def _merge(old: AssignmentResult, new: AssignmentResult, questions: list[str]
           ) -> AssignmentResult:
    """``old`` with the results of ``questions`` taken from ``new`` (in the
    order of ``new``); ``details["regraded"]`` lists the questions."""
    wanted = set(questions)
    keep_old = {q.question for q in old.questions} - wanted
    merged = [q for q in new.questions if q.question not in keep_old]
    merged = [q for q in old.questions if q.question in keep_old] + merged
    order = {qid: i for i, qid in enumerate(dict.fromkeys(q.question for q in new.questions))}
    merged.sort(key=lambda q: order.get(q.question, len(order)))
    details = {**new.details, "regraded": sorted(wanted)}
    return AssignmentResult(assignment=new.assignment, student=new.student,
                            variant_seed=new.variant_seed, questions=merged, details=details)


def _preflight(store: ResultStore, assignment: str, gradebook_url: str | None,
               writing: bool) -> None:
    """Fail before grading anything when the results could not be kept: a
    gradebook URL that cannot work (:func:`autograder.gradebook.check_url`)
    or a results folder that cannot be written (``OSError`` naming it)."""
    if gradebook_url is not None:
        from .gradebook import check_url
        check_url(gradebook_url)
    if not writing:
        return
    import tempfile
    folder = Path(store.folder) / assignment
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".nngrade-check."):
            pass
    except OSError as exc:
        raise OSError(f"cannot write results under {folder}: {exc.strerror or exc}") from None


def _dispatch(todo, args, job, finish, workers, scheduler, ready=lambda: None,
              check=lambda: None, start=lambda sub: None) -> None:
    """Run ``job(*a)`` for every submission; ``finish`` each as it completes.
    ``ready()`` is called once the worker processes exist (it may start
    threads); ``check()`` is called at least every second while waiting and
    raises to stop the run (a failed gradebook); ``start(sub)`` when a
    submission's job starts (or is handed to the pool)."""
    pool_path = todo and scheduler is None and (workers or os.cpu_count() or 1) > 1
    if not pool_path:
        ready()
    if not todo:
        pass
    elif scheduler is not None:
        _run_dask(scheduler, job, todo, args, finish, start)
    elif not pool_path:
        for sub, a in zip(todo, args):
            start(sub)
            try:
                text, error = job(*a), None
            except Exception as exc:  # noqa: BLE001 — one submission's failure is its own
                text, error = None, f"{type(exc).__name__}: {exc}"
            finish(sub, text, error)            # a failed store or gradebook stops the run
    else:
        _run_pool(todo, args, job, finish, workers or os.cpu_count() or 1, ready, check, start)


def _pool_context():
    """How the pool's workers start.  Forked from this process, which has
    the grader imported, when it runs no other thread (so no lock can be
    held by a thread the fork leaves behind): the pool is then started
    before the gradebook thread.  Otherwise from a fork server that imports
    the grader once (and the main script, which every worker would otherwise
    import again)."""
    import threading
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        from . import grading, judge, questions, sandbox  # noqa: F401 — imported before the fork
        return get_context("fork")
    context = get_context("forkserver")
    context.set_forkserver_preload(["__main__", "autograder.pipeline", "autograder.sandbox", "autograder.grading",
                                    "autograder.judge", "autograder.questions"])
    return context


def _run_pool(todo, args, job, finish, n_workers: int, ready, check=lambda: None,
              start=lambda sub: None) -> None:
    """The pool path of :func:`_dispatch`."""
    initializer, initargs = None, ()
    if job is grade_job:
        # one sandbox zygote for the whole pool, started now (it warms up
        # while the fork server does); workers attach to it
        from .sandbox import client
        initializer, initargs = client.attach, (client.start_shared_zygote().control,)
    pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=_pool_context(),
                               initializer=initializer, initargs=initargs)
    try:
        # a few jobs per worker in flight, not the whole class: memory and
        # the pool's queues stay flat in the class size
        jobs = iter(zip(todo, args))
        pending: dict = {}
        while True:
            for sub, a in itertools.islice(jobs, max(0, IN_FLIGHT_PER_WORKER * n_workers
                                                     - len(pending))):
                pending[pool.submit(job, *a)] = sub
                start(sub)
            ready()                         # the workers exist (the 1st submit made them)
            if not pending:
                break
            done, _ = wait(list(pending), timeout=0.5, return_when=FIRST_COMPLETED)
            check()
            for fut in done:
                sub = pending.pop(fut)      # drop each result once handled
                exc = fut.exception()
                finish(sub, None if exc else fut.result(),
                       f"{type(exc).__name__}: {exc}" if exc else None)
    except BaseException:
        _stop_pool(pool)                    # a failed write stops the run now
        raise
    pool.shutdown(wait=True)


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """End ``pool`` at once: its workers are killed (the sandboxed children
    they run die with them: parent-death signal) and its manager thread is
    joined.  ``shutdown(wait=False)`` alone leaves idle workers waiting for a
    sentinel that, once the run is failing, may never come, and the exit
    handler of :mod:`concurrent.futures` then waits for them for ever."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for proc in processes:
        try:
            proc.kill()
        except (OSError, ValueError, AttributeError):
            pass
    pool.shutdown(wait=True, cancel_futures=True)
    for proc in processes:
        try:
            proc.join(timeout=5)
        except (OSError, ValueError, AssertionError):
            pass


def _run_dask(scheduler, job, todo, args, finish, start=lambda sub: None) -> None:
    from distributed import Client, as_completed as dask_completed
    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        window = IN_FLIGHT_PER_WORKER * max(1, sum(client.nthreads().values()))
        jobs = iter(zip(todo, args))
        by_key: dict = {}

        def submit(n: int) -> list:
            futures = []
            for sub, a in itertools.islice(jobs, n):
                fut = client.submit(job, *a, pure=False,
                                    key=f"nngrade-{sub.assignment}-{sub.student}-{time.time_ns()}")
                by_key[fut.key] = sub
                futures.append(fut)
                start(sub)
            return futures

        running = dask_completed(submit(window))
        for fut in running:
            sub = by_key.pop(fut.key)
            if fut.status == "finished":
                finish(sub, fut.result(), None)
            else:
                exc = fut.exception()
                finish(sub, None, f"{type(exc).__name__}: {exc}")
            fut.release()
            for new in submit(1):
                running.add(new)
    finally:
        if not isinstance(scheduler, Client):
            client.close()

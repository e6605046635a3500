"""Scores into nbgrader's gradebook, and the full results next to them.

The grader writes every judged submission into **nbgrader's own database**
(the tables of :mod:`nbgrader.api`), so nbgrader's formgrader, its CSV
export and its feedback tools see the grades as if ``nbgrader autograde``
had produced them:

* the assignment (``Assignment.name`` = ``"A4"``), its notebook (the stem of
  the notebook file in ``course.yaml``: ``"A4_relu_backprop_step"``), and one
  **grade cell per question** worth points — name :func:`~autograder.protocol.grade_id`
  (``"A4_q2"``), ``max_score`` = the question's points in ``course.yaml``,
  ``cell_type`` ``"code"`` (questions worth 0 points have none);
* the student and the submission (mirroring the assignment's structure the
  way :meth:`nbgrader.api.Gradebook.add_submission` does), with each grade
  cell's ``auto_score`` = the sum of that question's part scores.  As in
  nbgrader's ``SaveAutoGrades``, a manual score a grader entered is kept
  (nbgrader's effective score prefers it) and the grade is flagged for review.

**Where the full result lives.**  The complete :class:`AssignmentResult`
(every part, status, bilingual feedback, diagnosis, carried-forward flag,
details) is stored as JSON in one extra table of the same database,
``nngrade_result`` (primary key ``assignment``, ``student``; columns
``digest`` — SHA-256 of the JSON —, ``result_json``, ``recorded_at``),
written **in the same transaction** as the grades.  So the grades and the
result they came from can never disagree, any SQLAlchemy URL works (no
sidecar files to keep next to a PostgreSQL server), and feedback pages,
exports and statistics can be rebuilt with
:meth:`GradebookStore.load_results` without regrading.  nbgrader ignores tables it does not know; nbgrader's own
comment fields are *not* used, because nbgrader copies them into the
student's feedback and the result's ``details`` may hold hidden data.

**Transactions and concurrent writers.**  :meth:`GradebookStore.record`
makes all its changes for one submission in **one transaction**.  With
SQLite, transactions start with ``BEGIN IMMEDIATE`` (the write lock is taken
at the start, so two writers never deadlock on a lock upgrade) and a
connection waits up to ``timeout_s`` for a busy database; several processes
may therefore record different students into one SQLite file at the same
time (they take turns, one submission each).  On any database, a
transaction that loses a race (two writers creating the same assignment
row, a lock timeout, a serialization failure) is rolled back and retried.

**Idempotent.**  Recording the same result again changes nothing (no row is
written: values are compared first); recording a new result for the same
student replaces the old one.  :func:`graded` tells a resumable run which
submissions are done: a submission counts as graded once its result row
exists, and that row is committed together with the grades.

A new database gets nbgrader's schema and its ``alembic_version`` row, like
:class:`nbgrader.api.Gradebook` does — but the migration head is read
in-process, so no ``alembic`` executable needs to be on ``PATH``.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import (Column, DateTime, MetaData, String, Table, Text, create_engine, event,
                        inspect, select, text)
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import (ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError,
                            OperationalError, ProgrammingError)
from sqlalchemy.orm import Session

from .i18n import Message, msg
from .protocol import grade_id
from .results import AssignmentResult, round_score

__all__ = ["GradebookError", "GradebookStore", "check_url", "result_digest", "RESULT_TABLE",
           "notebook_name"]

#: the extra table holding each submission's full result as JSON
RESULT_TABLE = "nngrade_result"

_metadata = MetaData()
_results = Table(
    RESULT_TABLE, _metadata,
    Column("assignment", String(128), primary_key=True),
    Column("student", String(128), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("result_json", Text, nullable=False),
    Column("recorded_at", DateTime, nullable=False),
)

_RETRIES = 8


class GradebookError(RuntimeError):
    """A gradebook that cannot be opened, read or written; ``message`` holds
    the bilingual text (``str(error)`` is Chinese, then English)."""

    def __init__(self, message: Message):
        self.message = message
        super().__init__(message.render("zh+en"))


def notebook_name(course, assignment: str) -> str:
    """The gradebook's notebook name for ``assignment``: its notebook file's
    stem from ``course.yaml`` (``"A4_relu_backprop_step"``)."""
    return Path(course.assignment(assignment).notebook).stem


# --------------------------------------------------------------------------
# URLs and engines

def _parse_url(url: str | URL) -> URL:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError, TypeError) as exc:
        raise GradebookError(msg(f"无效的成绩簿地址 {url!r}：{exc}",
                                 f"invalid gradebook URL {url!r}: {exc}")) from None
    try:
        dialect = parsed.get_dialect()
    except (NoSuchModuleError, ArgumentError, ImportError) as exc:
        raise GradebookError(msg(f"成绩簿地址 {url!r} 的数据库类型无法使用：{exc}",
                                 f"gradebook URL {url!r}: unsupported database ({exc})")) from None
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        missing = getattr(exc, "name", None) or str(exc)
        hint = _DRIVER_HINTS.get(missing.partition(".")[0], "")
        raise GradebookError(msg(
            f"成绩簿 {_shown(parsed)} 需要数据库驱动 {missing}，但它没有安装。{hint and '请运行：' + hint}",
            f"gradebook {_shown(parsed)} needs the database driver {missing}, which is not "
            f"installed.{hint and ' Install it with: ' + hint}")) from None
    return parsed


#: how to install the driver a database needs (shown when it is missing)
_DRIVER_HINTS = {
    "psycopg": "pip install 'nn-backprop-grader[postgres]'  (or: pip install 'psycopg[binary]')",
    "psycopg2": "pip install psycopg2-binary  (or use a postgresql+psycopg:// URL with "
                "pip install 'nn-backprop-grader[postgres]')",
    "pg8000": "pip install pg8000",
    "MySQLdb": "pip install mysqlclient",
    "pymysql": "pip install pymysql",
}


def check_url(url: str | URL, create: bool = True) -> None:
    """Fail now, with a :class:`GradebookError`, on a gradebook URL that
    cannot work: unparsable, an unknown database, its driver not installed,
    or an SQLite file that cannot be created or written — before any
    submission is graded.  Nothing is connected to or created."""
    _check_sqlite_path(_parse_url(url), create)


def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _sqlite_file(url: URL) -> Path | None:
    """The file of a file-backed SQLite URL (``None`` for memory / URI forms)."""
    if url.get_backend_name() != "sqlite":
        return None
    db = url.database
    if not db or db == ":memory:" or str(url.query.get("uri", "")).lower() in ("true", "1"):
        return None
    return Path(db)


def _check_sqlite_path(url: URL, create: bool) -> None:
    path = _sqlite_file(url)
    if path is None:
        return
    if path.exists():
        if path.is_dir():
            raise GradebookError(msg(f"成绩簿 {path} 是一个目录，不是 SQLite 文件。",
                                     f"gradebook {path} is a directory, not an SQLite file."))
        if create and not os.access(path, os.W_OK):
            raise GradebookError(msg(f"成绩簿 {path} 不可写。",
                                     f"gradebook {path} is not writable."))
        return
    if not create:
        raise GradebookError(msg(f"找不到成绩簿 {path.resolve()}（地址 {_shown(url)}）。",
                                 f"no gradebook at {path.resolve()} (URL {_shown(url)})."))
    parent = path.resolve().parent
    if not parent.is_dir():
        raise GradebookError(msg(f"无法创建成绩簿 {path.resolve()}：目录 {parent} 不存在。",
                                 f"cannot create gradebook {path.resolve()}: folder {parent} "
                                 f"does not exist."))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise GradebookError(msg(f"无法创建成绩簿 {path.resolve()}：目录 {parent} 不可写。",
                                 f"cannot create gradebook {path.resolve()}: folder {parent} "
                                 f"is not writable."))


def _make_engine(url: URL, timeout_s: float, immediate: bool) -> Engine:
    """An engine for ``url``; with SQLite, transactions are begun by
    SQLAlchemy — ``BEGIN IMMEDIATE`` for writers (``immediate``), a plain
    deferred ``BEGIN`` for readers — and a busy database is waited for."""
    if url.get_backend_name() == "sqlite":
        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"
        engine = create_engine(url, future=True, connect_args={"timeout": timeout_s})

        @event.listens_for(engine, "connect")
        def _autocommit_driver(dbapi_connection, _record):  # pragma: no cover - driver hook
            # let SQLAlchemy (not pysqlite) decide where transactions begin
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection):
            connection.exec_driver_sql(begin)
        return engine
    return create_engine(url, future=True, pool_pre_ping=True)


def _alembic_head() -> str | None:
    """nbgrader's current migration head, read in-process (what
    :func:`nbgrader.api.get_alembic_version` gets by running ``alembic``)."""
    try:
        import nbgrader
        from alembic.script import ScriptDirectory
        return ScriptDirectory(os.path.join(os.path.dirname(nbgrader.__file__),
                                            "alembic")).get_current_head()
    except Exception:  # noqa: BLE001 - a missing alembic only costs the version row
        return None


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, IntegrityError):
        return True                      # lost a race creating a shared row
    if isinstance(exc, (OperationalError, ProgrammingError)):
        text_ = str(exc.orig if getattr(exc, "orig", None) is not None else exc).lower()
        return any(s in text_ for s in ("locked", "busy", "deadlock", "could not serialize",
                                        "serialization failure", "already exists"))
    return False


def _skip_iri_grammar() -> None:
    """Importing ``nbgrader.api`` imports nbformat's validator, hence
    jsonschema, whose optional IRI format check imports ``rfc3987_syntax`` —
    which compiles a grammar at import (1–2 s, more than the rest of the
    gradebook's start).  No schema this process validates uses the ``iri``
    format, so unless jsonschema is already loaded, that optional module is
    marked absent (jsonschema then skips the check, as without the extra)."""
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)


# --------------------------------------------------------------------------
# the store

class GradebookStore:
    """An open gradebook: ``with GradebookStore(url) as gb: gb.record(course, result)``.

    ``url`` is any SQLAlchemy URL (``sqlite:///gradebook.db`` by default in
    ``course.yaml``).  With ``create=True`` (writers) a missing SQLite file
    and missing tables are created; with ``create=False`` (readers) a missing
    SQLite file is an error and nothing is created.  ``timeout_s`` is how long
    a writer waits for a busy SQLite database.  Errors are
    :class:`GradebookError` naming the URL or file.
    """

    def __init__(self, url: str | URL, *, create: bool = True, timeout_s: float = 60.0):
        _skip_iri_grammar()
        self.url = _parse_url(url)
        self.create = create
        _check_sqlite_path(self.url, create)
        try:
            self.engine = _make_engine(self.url, timeout_s, immediate=create)
        except (ArgumentError, NoSuchModuleError, ImportError) as exc:
            raise GradebookError(msg(f"无法打开成绩簿 {_shown(self.url)}：{exc}",
                                     f"cannot open gradebook {_shown(self.url)}: {exc}")) from None
        if create:
            self._transaction(self._ensure_schema)

    # -- context manager ----------------------------------------------------
    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> "GradebookStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- transactions ---------------------------------------------------------
    def _transaction(self, work: Callable[[Session], Any]) -> Any:
        """Run ``work(session)`` in one transaction, retrying lost races."""
        for attempt in range(_RETRIES):
            session = Session(self.engine, autoflush=True, expire_on_commit=False)
            try:
                with session.begin():
                    return work(session)
            except (OperationalError, IntegrityError, ProgrammingError) as exc:
                if attempt + 1 < _RETRIES and _retryable(exc):
                    time.sleep(min(2.0, 0.02 * 2 ** attempt) * (0.5 + random.random()))
                    continue
                raise GradebookError(msg(
                    f"成绩簿 {_shown(self.url)} 的数据库错误：{exc.orig if exc.orig else exc}",
                    f"database error in gradebook {_shown(self.url)}: "
                    f"{exc.orig if exc.orig else exc}")) from exc
            except DBAPIError as exc:
                raise GradebookError(msg(
                    f"成绩簿 {_shown(self.url)} 的数据库错误：{exc.orig if exc.orig else exc}",
                    f"database error in gradebook {_shown(self.url)}: "
                    f"{exc.orig if exc.orig else exc}")) from exc
            finally:
                session.close()
        raise AssertionError("unreachable")  # pragma: no cover

    def _ensure_schema(self, session: Session) -> None:
        from nbgrader.api import Base
        conn = session.connection()
        existing = set(inspect(conn).get_table_names())
        Base.metadata.create_all(conn)
        _metadata.create_all(conn)
        if not existing:                 # a new database: stamp it as nbgrader does
            head = _alembic_head()
            if head is not None:
                conn.exec_driver_sql("CREATE TABLE alembic_version "
                                     "(version_num VARCHAR(32) NOT NULL)")
                conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
                             {"v": head})

    def _has_tables(self, session: Session, *names: str) -> bool:
        tables = set(inspect(session.connection()).get_table_names())
        return all(n in tables for n in names)

    # -- writing ------------------------------------------------------------
    def record(self, course, result: AssignmentResult,
               timestamp: _dt.datetime | str | None = None) -> bool:
        """Write ``result`` into the gradebook in one transaction; return
        whether anything changed (``False`` when the same result was already
        recorded).  ``timestamp`` (a datetime or a string nbgrader can parse;
        stored in UTC) is the submission time; ``None`` keeps the stored one.
        """
        return self.record_many(course, [result], timestamp)[0]

    def record_many(self, course, results: list[AssignmentResult],
                    timestamp: _dt.datetime | str | None = None) -> list[bool]:
        """:meth:`record` for several results in one transaction (all or
        none are written; one commit instead of one per result); whether each
        changed anything."""
        if not self.create:
            raise GradebookError(msg("这个成绩簿是只读打开的。",
                                     "this gradebook was opened read-only."))
        plans = [_plan(course, r) for r in results]
        if timestamp is not None:
            timestamp = _utc(timestamp)
        return self._transaction(lambda s: [_write(s, course, p, timestamp) for p in plans])

    def register_notebook(self, course, assignment: str, released_path) -> bool:
        """Record the released notebook's cells as nbgrader's ``SaveCells``
        does at ``generate_assignment`` — grade cells (the course's points),
        solution cells, source cells with their checksums — and give every
        submission already recorded its ``Grade`` and ``Comment`` rows, so
        that formgrader and ``nbgrader generate_feedback`` can open the
        autograded notebooks (:mod:`autograder.autograded`).  One
        transaction; whether anything changed."""
        if not self.create:
            raise GradebookError(msg("这个成绩簿是只读打开的。",
                                     "this gradebook was opened read-only."))
        from .autograded import released_cells
        cells = released_cells(course, assignment, released_path)
        name = notebook_name(course, assignment)
        return self._transaction(lambda s: _register(s, course, assignment, name, cells))

    # -- reading ------------------------------------------------------------
    def load_scores(self, assignment: str) -> dict[str, dict[str, float]]:
        """``{student: {grade_id: score}}`` for ``assignment`` — nbgrader's
        effective score of each grade (a manual score wins over the
        automatic one, plus extra credit)."""
        from nbgrader.api import Assignment, BaseCell, Grade, SubmittedAssignment, \
            SubmittedNotebook

        def work(session: Session) -> dict:
            if not self._has_tables(session, "grade", "submitted_assignment"):
                return {}
            rows = session.execute(
                select(SubmittedAssignment.student_id, BaseCell.name, Grade.score)
                .join(SubmittedNotebook, SubmittedNotebook.id == Grade.notebook_id)
                .join(SubmittedAssignment,
                      SubmittedAssignment.id == SubmittedNotebook.assignment_id)
                .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
                .join(BaseCell, BaseCell.id == Grade.cell_id)
                .where(Assignment.name == assignment)
                .order_by(SubmittedAssignment.student_id, BaseCell.name)).all()
            students = session.execute(
                select(SubmittedAssignment.student_id)
                .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
                .where(Assignment.name == assignment)).scalars().all()
            out: dict[str, dict[str, float]] = {s: {} for s in sorted(students)}
            for student, cell, score in rows:
                out[student][cell] = round_score(score or 0.0)
            return out
        return self._transaction(work)

    def load_manual(self, assignment: str, notebook: str) -> dict[str, dict[str, dict]]:
        """What graders entered in formgrader for ``assignment``'s
        ``notebook``: ``{student: {cell name: {"manual_score": float|None,
        "extra_credit": float|None, "comment": str|None}}}`` — only cells
        with a manual score, extra credit or a non-blank manual comment.
        Grades are on grade cells (``"A3_q2"``), comments on the cells
        nbgrader comments on (solution cells: ``"A3_q2_answer"``)."""
        from nbgrader.api import (Assignment, BaseCell, Comment, Grade, Notebook,
                                  SubmittedAssignment, SubmittedNotebook)

        def submitted(query, model):
            return (query.join(SubmittedNotebook, SubmittedNotebook.id == model.notebook_id)
                    .join(SubmittedAssignment,
                          SubmittedAssignment.id == SubmittedNotebook.assignment_id)
                    .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
                    .join(Notebook, Notebook.id == SubmittedNotebook.notebook_id)
                    .join(BaseCell, BaseCell.id == model.cell_id)
                    .where(Assignment.name == assignment, Notebook.name == notebook))

        def work(session: Session) -> dict:
            out: dict[str, dict[str, dict]] = {}
            if not self._has_tables(session, "grade", "comment", "submitted_assignment"):
                return out

            def entry(student, cell):
                return out.setdefault(student, {}).setdefault(
                    cell, {"manual_score": None, "extra_credit": None, "comment": None})
            grades = session.execute(submitted(
                select(SubmittedAssignment.student_id, BaseCell.name, Grade.manual_score,
                       Grade.extra_credit), Grade)
                .where((Grade.manual_score.is_not(None)) | (Grade.extra_credit.is_not(None))))
            for student, cell, manual, extra in grades:
                e = entry(student, cell)
                e["manual_score"] = None if manual is None else round_score(manual)
                e["extra_credit"] = round_score(extra) if extra else None
            comments = session.execute(submitted(
                select(SubmittedAssignment.student_id, BaseCell.name, Comment.manual_comment),
                Comment).where(Comment.manual_comment.is_not(None)))
            for student, cell, text_ in comments:
                if text_ and text_.strip():
                    entry(student, cell)["comment"] = text_.strip()
            return out
        return self._transaction(work)

    def graded(self, assignment: str, student: str) -> bool:
        """Whether a result for ``student``'s ``assignment`` is recorded."""
        def work(session: Session) -> bool:
            if not self._has_tables(session, RESULT_TABLE):
                return False
            return session.execute(
                select(_results.c.digest).where(_results.c.assignment == assignment,
                                                _results.c.student == student)
            ).first() is not None
        return self._transaction(work)

    def digests(self, assignment: str) -> dict[str, str]:
        """``{student: digest}`` of the results recorded for ``assignment``
        (see :func:`result_digest`): what a resumed run compares its stored
        results with, in one query."""
        def work(session: Session) -> dict[str, str]:
            if not self._has_tables(session, RESULT_TABLE):
                return {}
            return dict(session.execute(
                select(_results.c.student, _results.c.digest)
                .where(_results.c.assignment == assignment)).all())
        return self._transaction(work)

    def load_result(self, assignment: str, student: str) -> AssignmentResult | None:
        """The recorded :class:`AssignmentResult`, or ``None``."""
        found = self._load(assignment, student)
        return found[0] if found else None

    def load_results(self, assignment: str | None = None) -> list[AssignmentResult]:
        """Every recorded result (of ``assignment``, or of all), by assignment
        then student."""
        return self._load(assignment, None)

    def _load(self, assignment: str | None, student: str | None) -> list[AssignmentResult]:
        def work(session: Session) -> list[str]:
            if not self._has_tables(session, RESULT_TABLE):
                return []
            query = select(_results.c.result_json).order_by(_results.c.assignment,
                                                             _results.c.student)
            if assignment is not None:
                query = query.where(_results.c.assignment == assignment)
            if student is not None:
                query = query.where(_results.c.student == student)
            return list(session.execute(query).scalars())
        return [AssignmentResult.from_json(j) for j in self._transaction(work)]


# --------------------------------------------------------------------------
# what one record() writes

def _utc(ts: _dt.datetime | str) -> _dt.datetime:
    """``ts`` as a naive UTC datetime (what nbgrader stores); see
    :func:`autograder.submission_info.parse_timestamp`."""
    from .submission_info import parse_timestamp
    return parse_timestamp(ts)


def _canonical_json(result: AssignmentResult) -> str:
    return json.dumps(result.to_dict("zh+en"), ensure_ascii=False, allow_nan=False,
                      sort_keys=True, separators=(",", ":"))


def _plan(course, result: AssignmentResult) -> dict:
    """Check ``result`` against ``course`` and work out the grade cells:
    ``{"cells": {grade_id: (max_score, auto_score)}, ...}``."""
    if not isinstance(result, AssignmentResult):
        raise TypeError(f"record() takes an AssignmentResult, got {type(result).__name__}")
    if not result.student:
        raise ValueError(msg(f"{result.assignment}：没有学生编号的结果不能写入成绩簿。",
                             f"{result.assignment}: a result without a student id cannot be "
                             f"recorded in the gradebook").render("zh+en"))
    if len(result.student) > 128 or len(result.assignment) > 128:
        raise ValueError("student and assignment ids must be at most 128 characters "
                         "(nbgrader's limit)")
    acfg = course.assignment(result.assignment)
    totals = result.totals()
    for qid in totals:
        if qid.partition(".")[0] != result.assignment or \
                qid.partition(".")[2] not in acfg.questions:
            raise ValueError(msg(f"{result.assignment}：结果中有 course.yaml 没有列出的题目 {qid!r}。",
                                 f"{result.assignment}: the result has question {qid!r}, "
                                 f"which course.yaml does not list").render("zh+en"))
    cells = {}
    for q in acfg.questions.values():
        if q.points <= 0:
            continue                     # no grade cell for a question worth nothing
        score, max_score = totals.get(q.full_id, (0.0, q.points))
        if not math.isclose(max_score, q.points, rel_tol=1e-9, abs_tol=1e-6):
            raise ValueError(msg(f"{q.full_id}：结果的满分是 {max_score:g}，但 course.yaml 规定 "
                                 f"{q.points:g} 分；请重新评分。",
                                 f"{q.full_id}: the result is out of {max_score:g} points but "
                                 f"course.yaml gives {q.points:g}; grade the submission again")
                             .render("zh+en"))
        cells[grade_id(q.full_id)] = (round_score(q.points), round_score(min(score, q.points)))
    payload = _canonical_json(result)
    from .lateness import lateness
    late = lateness(course, result)
    extension = acfg.extensions.get(result.student)
    return {"assignment": result.assignment, "student": result.student,
            "notebook": Path(acfg.notebook).stem, "cells": cells, "json": payload,
            "digest": _sha256(payload), "timestamp": late.timestamp, "duedate": acfg.due,
            "extension": _dt.timedelta(days=extension) if extension else None,
            # nbgrader's own: None when not late; what is taken off the raw score
            "penalty": late.penalty if late.late else None}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def result_digest(result: AssignmentResult) -> str:
    """The digest the gradebook keeps of a recorded ``result`` (SHA-256 of
    its canonical JSON): equal digests, same recorded result."""
    return _sha256(_canonical_json(result))


def _set(obj, attr: str, value, changed: list) -> None:
    if getattr(obj, attr) != value:
        setattr(obj, attr, value)
        changed.append(f"{type(obj).__name__}.{attr}")


def _assignment_notebook(session: Session, course, assignment_name: str, notebook_name: str,
                         add: Callable):
    """The gradebook's assignment and notebook rows (created when missing)."""
    from nbgrader.api import Assignment, Course, Notebook
    assignment = session.execute(select(Assignment).where(
        Assignment.name == assignment_name)).scalar_one_or_none()
    if assignment is None:
        course_id = course.course_id
        if session.get(Course, course_id) is None:
            add(Course(id=course_id))
        assignment = add(Assignment(name=assignment_name, course_id=course_id))
        session.flush()
    notebook = session.execute(select(Notebook).where(
        Notebook.assignment_id == assignment.id,
        Notebook.name == notebook_name)).scalar_one_or_none()
    if notebook is None:
        notebook = add(Notebook(name=notebook_name, assignment=assignment))
        session.flush()
    return assignment, notebook


def _mirror_cells(session: Session, nb, sub_nb, add: Callable) -> dict:
    """A ``Grade`` for every grade and task cell of notebook ``nb`` and a
    ``Comment`` for every solution and task cell, in submitted notebook
    ``sub_nb`` (as :meth:`nbgrader.api.Gradebook.add_submission` makes
    them); ``{cell id: Grade}``."""
    from nbgrader.api import Comment, Grade, GradeCell, SolutionCell, TaskCell
    graded_ids = {g.cell_id: g for g in session.execute(select(Grade).where(
        Grade.notebook_id == sub_nb.id)).scalars()}
    comment_ids = {c.cell_id for c in session.execute(select(Comment.cell_id).where(
        Comment.notebook_id == sub_nb.id)).all()}
    for cell in session.execute(select(GradeCell).where(
            GradeCell.notebook_id == nb.id)).scalars():
        if cell.id not in graded_ids:
            graded_ids[cell.id] = add(Grade(cell_id=cell.id, notebook=sub_nb))
    for cell in session.execute(select(TaskCell).where(
            TaskCell.notebook_id == nb.id)).scalars():
        if cell.id not in graded_ids:
            graded_ids[cell.id] = add(Grade(cell_id=cell.id, notebook=sub_nb))
        if cell.id not in comment_ids:
            add(Comment(cell_id=cell.id, notebook=sub_nb))
    for cell in session.execute(select(SolutionCell).where(
            SolutionCell.notebook_id == nb.id)).scalars():
        if cell.id not in comment_ids:
            add(Comment(cell_id=cell.id, notebook=sub_nb))
    return graded_ids


def _register(session: Session, course, assignment_name: str, notebook_name: str,
              cells: list[dict]) -> bool:
    """Record the released notebook's cells (see
    :meth:`GradebookStore.register_notebook`); whether anything changed."""
    from nbgrader.api import GradeCell, SolutionCell, SourceCell, SubmittedNotebook
    changed: list[str] = []

    def add(obj):
        session.add(obj)
        changed.append(f"new {type(obj).__name__}")
        return obj
    _, notebook = _assignment_notebook(session, course, assignment_name, notebook_name, add)
    for model, wanted in ((GradeCell, [c for c in cells if c["grade"]]),
                          (SolutionCell, [c for c in cells if c["solution"]])):
        have = {c.name: c for c in session.execute(select(model).where(
            model.notebook_id == notebook.id)).scalars()}
        for c in wanted:
            row = have.get(c["name"])
            if model is GradeCell:
                if row is None:
                    add(GradeCell(name=c["name"], notebook=notebook, max_score=c["max_score"],
                                  cell_type=c["cell_type"]))
                else:
                    _set(row, "max_score", c["max_score"], changed)
                    _set(row, "cell_type", c["cell_type"], changed)
            elif row is None:
                add(SolutionCell(name=c["name"], notebook=notebook))
    sources = {c.name: c for c in session.execute(select(SourceCell).where(
        SourceCell.notebook_id == notebook.id)).scalars()}
    for c in cells:
        if c["cell_type"] not in ("code", "markdown"):
            continue
        row = sources.get(c["name"])
        if row is None:
            row = add(SourceCell(name=c["name"], notebook=notebook, cell_type=c["cell_type"],
                                 locked=c["locked"], source=c["source"], checksum=c["checksum"]))
        for attr in ("cell_type", "locked", "source", "checksum"):
            _set(row, attr, c[attr], changed)
    session.flush()
    for sub_nb in session.execute(select(SubmittedNotebook).where(
            SubmittedNotebook.notebook_id == notebook.id)).scalars():
        _mirror_cells(session, notebook, sub_nb, add)
    return bool(changed)


def _write(session: Session, course, plan: dict, timestamp) -> bool:
    from nbgrader.api import (Grade, GradeCell, Notebook, Student, SubmittedAssignment,
                              SubmittedNotebook)
    changed: list[str] = []

    def add(obj):
        session.add(obj)
        changed.append(f"new {type(obj).__name__}")
        return obj

    # the assignment, its notebook and grade cells
    assignment, notebook = _assignment_notebook(session, course, plan["assignment"],
                                                plan["notebook"], add)
    _set(assignment, "duedate", plan["duedate"], changed)
    cells = {c.name: c for c in session.execute(select(GradeCell).where(
        GradeCell.notebook_id == notebook.id)).scalars()}
    for name, (max_score, _) in plan["cells"].items():
        if name not in cells:
            cells[name] = add(GradeCell(name=name, notebook=notebook, max_score=max_score,
                                        cell_type="code"))
        else:
            _set(cells[name], "max_score", max_score, changed)
    session.flush()

    # the student and the submission (mirroring the assignment, like nbgrader)
    if session.get(Student, plan["student"]) is None:
        add(Student(id=plan["student"]))
        session.flush()
    submission = session.execute(select(SubmittedAssignment).where(
        SubmittedAssignment.assignment_id == assignment.id,
        SubmittedAssignment.student_id == plan["student"])).scalar_one_or_none()
    if submission is None:
        submission = add(SubmittedAssignment(assignment=assignment,
                                             student_id=plan["student"]))
        session.flush()
    timestamp = timestamp if timestamp is not None else plan["timestamp"]
    if timestamp is not None:
        _set(submission, "timestamp", timestamp, changed)
    _set(submission, "extension", plan["extension"], changed)
    ours = None
    for nb in session.execute(select(Notebook).where(
            Notebook.assignment_id == assignment.id)).scalars():
        sub_nb = session.execute(select(SubmittedNotebook).where(
            SubmittedNotebook.assignment_id == submission.id,
            SubmittedNotebook.notebook_id == nb.id)).scalar_one_or_none()
        if sub_nb is None:
            sub_nb = add(SubmittedNotebook(notebook=nb, assignment=submission))
            session.flush()
        graded_ids = _mirror_cells(session, nb, sub_nb, add)
        if nb.id == notebook.id:
            ours = graded_ids
            _set(sub_nb, "late_submission_penalty", plan["penalty"], changed)
    session.flush()

    # the scores (as nbgrader's SaveAutoGrades: a manual score stays, flagged)
    for name, (_, auto_score) in plan["cells"].items():
        grade = ours[cells[name].id]
        _set(grade, "auto_score", auto_score, changed)
        _set(grade, "needs_manual_grade", grade.manual_score is not None, changed)

    # the full result, next to the grades
    row = session.execute(select(_results.c.digest).where(
        _results.c.assignment == plan["assignment"],
        _results.c.student == plan["student"])).first()
    now = _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
    if row is None:
        session.execute(_results.insert().values(
            assignment=plan["assignment"], student=plan["student"], digest=plan["digest"],
            result_json=plan["json"], recorded_at=now))
        changed.append("new result")
    elif row.digest != plan["digest"]:
        session.execute(_results.update().where(
            _results.c.assignment == plan["assignment"],
            _results.c.student == plan["student"]).values(
            digest=plan["digest"], result_json=plan["json"], recorded_at=now))
        changed.append("result")
    return bool(changed)

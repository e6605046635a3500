"""Finding a class's submissions, and where their results are kept.

Two layouts are accepted for ``nngrade grade ROOT``:

* nbgrader's course directory: ``ROOT/submitted/<student>/<assignment>/*.ipynb``
  (the notebook named in ``course.yaml``; another single ``.ipynb`` there is
  taken, and reported);
* a folder of notebooks named by student: ``ROOT/<student>.ipynb``.

Student ids are any folder name nbgrader accepts (spaces, ``ä``,
full-width letters …): a single path component, at most 200 bytes of
UTF-8, not starting with a dot, without ``/``, control characters or bytes
that are not UTF-8.  Anything else — a path trick such as ``../x`` — is
reported as a :class:`Problem`, never used as a path.

Submissions are reached without following symbolic links: every folder on
the way and the notebook itself are checked with ``lstat`` (a link, a FIFO,
a device or a plain file where a folder belongs is reported and skipped),
and the notebook's resolved path must lie inside ROOT; the sandbox then
opens it with ``O_NOFOLLOW`` and checks that it is a regular file
(:func:`autograder.sandbox.cells.load_notebook`).

Results live in a :class:`ResultStore`: one JSON file per student and
assignment, written atomically (temporary file + ``os.replace``), so a run
killed at any moment leaves every finished grade intact and no half-written
one; the next run skips what is stored unless forced.
"""
from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .results import AssignmentResult

__all__ = ["Submission", "Problem", "discover", "ResultStore", "valid_student_id"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff/]")


def valid_student_id(name: str) -> bool:
    """Whether ``name`` can be a student (or assignment) id: see the module
    docstring."""
    if type(name) is not str or not name or name.startswith(".") or _CONTROL.search(name):
        return False
    return len(name.encode("utf-8")) <= 200


@dataclass(frozen=True)
class Submission:
    student: str
    assignment: str
    path: Path


@dataclass(frozen=True)
class Problem:
    """Something in the submissions folder that cannot be graded, and why."""
    path: Path
    reason: str


def _kind(path: Path) -> str:
    """``"dir"``, ``"file"`` (regular), ``"link"``, ``"missing"`` or
    ``"other"`` (a FIFO, socket, device), without following a link."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    if stat.S_ISLNK(mode):
        return "link"
    return "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"


_WHAT = {"link": "a symbolic link (not followed)", "other": "not a regular file (a FIFO, "
         "socket or device)", "file": "a file, not a folder", "dir": "a folder, not a file"}


def _inside(path: Path, root: Path) -> bool:
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real.startswith(top.rstrip("/") + "/")


def _notebook_in(folder: Path, notebook_name: str, root: Path, problems: list):
    """The notebook to grade in ``folder`` (a regular file reached without
    links), or ``None`` with the reason added to ``problems``."""
    path = folder / notebook_name
    kind = _kind(path)
    if kind == "missing":
        others = sorted(p for p in folder.glob("*.ipynb") if _kind(p) == "file")
        if len(others) != 1:
            problems.append(Problem(folder, f"no {notebook_name} in the submission"))
            return None
        path, kind = others[0], "file"
        problems.append(Problem(path, f"notebook named {path.name}, expected "
                                      f"{notebook_name}; graded anyway"))
    if kind != "file":
        problems.append(Problem(path, f"{_WHAT[kind]}: skipped"))
        return None
    if not _inside(path, root):
        problems.append(Problem(path, "resolves outside the submissions folder: skipped"))
        return None
    return path


def discover(root: str | os.PathLike, assignment: str, notebook_name: str
             ) -> tuple[list[Submission], list[Problem]]:
    """The submissions of ``assignment`` under ``root`` (sorted by student)
    and every entry skipped, with why."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"submissions folder {root} does not exist")
    subs, problems = [], []
    submitted = root / "submitted"
    if _kind(submitted) == "dir":
        for student_dir in sorted(submitted.iterdir()):
            kind = _kind(student_dir)
            if kind != "dir":
                problems.append(Problem(student_dir, f"{_WHAT.get(kind, kind)}: skipped"))
                continue
            if not valid_student_id(student_dir.name):
                problems.append(Problem(student_dir, f"student id {student_dir.name!r} is not "
                                                     f"a usable folder name: skipped"))
                continue
            folder = student_dir / assignment
            kind = _kind(folder)
            if kind == "missing":
                continue                       # (no submission of this assignment)
            if kind != "dir":
                problems.append(Problem(folder, f"{_WHAT.get(kind, kind)}: skipped"))
                continue
            path = _notebook_in(folder, notebook_name, root, problems)
            if path is not None:
                subs.append(Submission(student_dir.name, assignment, path))
        return subs, problems
    if _kind(submitted) != "missing":
        problems.append(Problem(submitted, f"{_WHAT.get(_kind(submitted))}: not used"))
    for path in sorted(root.glob("*.ipynb")):
        kind = _kind(path)
        if kind != "file":
            problems.append(Problem(path, f"{_WHAT.get(kind, kind)}: skipped"))
        elif not valid_student_id(path.stem):
            problems.append(Problem(path, f"file name {path.name!r} is not <student id>.ipynb"))
        elif not _inside(path, root):
            problems.append(Problem(path, "resolves outside the submissions folder: skipped"))
        else:
            subs.append(Submission(path.stem, assignment, path))
    return subs, problems


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (ours or another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ResultStore:
    """``<folder>/<assignment>/<student>.json``: one AssignmentResult each."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def path(self, assignment: str, student: str) -> Path:
        if not valid_student_id(student) or not valid_student_id(assignment):
            raise ValueError(f"not a plain id: {assignment!r} / {student!r}")
        return self.folder / assignment / f"{student}.json"

    def has(self, assignment: str, student: str) -> bool:
        return self.path(assignment, student).is_file()

    def save(self, result: AssignmentResult) -> Path:
        target = self.path(result.assignment, result.student)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent,
                                       prefix=f".{result.student}.{os.getpid()}.", suffix=".tmp")
        except OSError as exc:
            raise OSError(f"cannot write results under {target.parent}: {exc.strerror or exc}") from exc
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(result.to_json())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise OSError(f"cannot write {target}: {exc.strerror or exc}") from exc
        return target

    def remove_stale(self, assignment: str) -> list[Path]:
        """Delete temporary files left by writers that were killed mid-save
        (``.<student>.<pid>.*.tmp`` whose pid is no longer alive); a live
        writer's file is left alone. Returns what was removed."""
        folder = self.folder / assignment
        removed = []
        for path in folder.glob(".*.tmp") if folder.is_dir() else ():
            parts = path.name.split(".")
            pid = int(parts[2]) if len(parts) > 3 and parts[2].isdigit() else None
            if pid is not None and pid_alive(pid):
                continue
            path.unlink(missing_ok=True)
            removed.append(path)
        return removed

    def load(self, assignment: str, student: str) -> AssignmentResult:
        return AssignmentResult.from_json(self.path(assignment, student).read_text(encoding="utf-8"))

    def all(self, assignment: str) -> list[AssignmentResult]:
        folder = self.folder / assignment
        if not folder.is_dir():
            return []
        out = []
        for path in sorted(folder.glob("*.json")):
            try:
                out.append(AssignmentResult.from_json(json.loads(path.read_text(encoding="utf-8"))))
            except (ValueError, TypeError, OSError) as exc:
                raise ValueError(f"stored result {path} is unreadable: {exc}") from exc
        return out

"""Finding a class's submissions, and where their results are kept.

Two layouts are accepted for ``nngrade grade ROOT``:

* nbgrader's course directory: ``ROOT/submitted/<student>/<assignment>/*.ipynb``
  (the notebook named in ``course.yaml``; another single ``.ipynb`` there is
  taken, and reported);
* a folder of notebooks named by student: ``ROOT/<student>.ipynb``.

Student ids must be plain names (letters, digits, ``_ . @ -``, at most 100
characters, not starting with a dot): anything else — a path trick such as
``../x`` — is reported as a :class:`Problem`, never used as a path.

Results live in a :class:`ResultStore`: one JSON file per student and
assignment, written atomically (temporary file + ``os.replace``), so a run
killed at any moment leaves every finished grade intact and no half-written
one; the next run skips what is stored unless forced.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .results import AssignmentResult

__all__ = ["Submission", "Problem", "discover", "ResultStore", "valid_student_id"]

_STUDENT = re.compile(r"^[A-Za-z0-9_@\-][A-Za-z0-9_.@\-]{0,99}$")


def valid_student_id(name: str) -> bool:
    return bool(_STUDENT.match(name))


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


def discover(root: str | os.PathLike, assignment: str, notebook_name: str
             ) -> tuple[list[Submission], list[Problem]]:
    """The submissions of ``assignment`` under ``root`` (sorted by student)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"submissions folder {root} does not exist")
    subs, problems = [], []
    submitted = root / "submitted"
    if submitted.is_dir():
        for student_dir in sorted(p for p in submitted.iterdir() if p.is_dir()):
            folder = student_dir / assignment
            if not folder.is_dir():
                continue
            if not valid_student_id(student_dir.name):
                problems.append(Problem(student_dir, f"student id {student_dir.name!r} is not a plain name"))
                continue
            path = folder / notebook_name
            if not path.is_file():
                others = sorted(folder.glob("*.ipynb"))
                if len(others) == 1:
                    path = others[0]
                    problems.append(Problem(path, f"notebook named {path.name}, expected "
                                                  f"{notebook_name}; graded anyway"))
                else:
                    problems.append(Problem(folder, f"no {notebook_name} in the submission"))
                    continue
            subs.append(Submission(student_dir.name, assignment, path))
        return subs, problems
    for path in sorted(root.glob("*.ipynb")):
        if valid_student_id(path.stem):
            subs.append(Submission(path.stem, assignment, path))
        else:
            problems.append(Problem(path, f"file name {path.name!r} is not <student id>.ipynb"))
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

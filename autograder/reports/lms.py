"""Grades for a learning-management system: Canvas and Moodle import CSVs.

Both are built from the rows of nbgrader's CSV (:func:`.export.csv_rows`),
so the score is the one every other export gives (after any late penalty),
and from a **roster**: a CSV the instructor exports from the LMS and labels
with the course's student ids.  Its columns (header names, any order):

* ``student_id`` — the id submissions are filed under (required);
* for Canvas: ``name``, ``canvas_id``, ``sis_user_id``, ``sis_login_id``,
  ``section`` (Canvas matches a row by its ``ID``, ``SIS User ID`` or
  ``SIS Login ID``: at least one of them per student);
* for Moodle: ``email``, ``idnumber`` or ``username`` (the column chosen as
  the identifier on Moodle's import page; at least one per student).

**Canvas** (*Grades → Import*): the columns of Canvas's own gradebook export —
``Student, ID, SIS User ID, SIS Login ID, Section`` — then one column per
assignment, named ``"<A> <title>"`` or, when ``canvas_ids`` gives the
Canvas assignment id, ``"<A> <title> (<id>)"`` so that Canvas matches the
existing assignment instead of creating one; a second row ``Points
Possible`` gives each assignment's points.

**Moodle** (*Grades → Import → CSV file*): ``Email address, ID number,
Username`` (those the roster has), then one column per assignment.

A student without a result gets an empty cell (the LMS leaves the grade as
it is), listed in :attr:`LmsTable.missing`; a result whose student is not on
the roster is an error (their grade would be lost), as is a roster without
the columns the LMS needs to find a student.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from ..i18n import msg
from .files import ReportError, write_text

__all__ = ["ROSTER_COLUMNS", "read_roster", "lms_table", "LmsTable", "write_lms"]

ROSTER_COLUMNS = ("student_id", "name", "canvas_id", "sis_user_id", "sis_login_id", "section",
                  "email", "idnumber", "username")
_IDENTIFIERS = {"canvas": ("canvas_id", "sis_user_id", "sis_login_id"),
                "moodle": ("email", "idnumber", "username")}
_CANVAS_HEAD = (("Student", "name"), ("ID", "canvas_id"), ("SIS User ID", "sis_user_id"),
                ("SIS Login ID", "sis_login_id"), ("Section", "section"))
_MOODLE_HEAD = (("Email address", "email"), ("ID number", "idnumber"), ("Username", "username"))


def _error(zh: str, en: str, **kw) -> ReportError:
    return ReportError(msg(zh, en).format(**kw))


def read_roster(path: str | Path) -> dict[str, dict[str, str]]:
    """``{student_id: {column: value}}`` from the roster CSV at ``path``
    (UTF-8, a BOM allowed).  Unknown columns, a missing ``student_id``
    column, an empty or repeated id are errors naming the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise _error("无法读取名单 {p}：{e}", "cannot read the roster {p}: {e}",
                     p=path, e=exc) from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    unknown = [h for h in header if h not in ROSTER_COLUMNS]
    if "student_id" not in header or unknown:
        raise _error("名单 {p} 的表头应含 student_id，且只能有这些列：{cols}；发现 {bad}。",
                     "the roster {p} needs a student_id column and only these columns: "
                     "{cols}; found {bad}.", p=path, cols=", ".join(ROSTER_COLUMNS),
                     bad=", ".join(unknown) or "no student_id")
    reader.fieldnames = header
    roster: dict[str, dict[str, str]] = {}
    for line, row in enumerate(reader, start=2):
        row = {k: (v or "").strip() for k, v in row.items() if k is not None}
        sid = row.get("student_id", "")
        if not sid:
            raise _error("名单 {p} 第 {n} 行没有 student_id。",
                         "the roster {p}, line {n}: no student_id.", p=path, n=line)
        if sid in roster:
            raise _error("名单 {p} 第 {n} 行：学号 {s} 重复。",
                         "the roster {p}, line {n}: student id {s} appears twice.",
                         p=path, n=line, s=sid)
        roster[sid] = row
    return roster


@dataclass
class LmsTable:
    """The import file's text, and the roster's students with no result."""
    text: str
    missing: list[str] = field(default_factory=list)


def lms_table(lms: str, rows: Iterable[Mapping[str, str]], roster: Mapping[str, Mapping[str, str]],
              titles: Mapping[str, str], points: Mapping[str, float],
              canvas_ids: Mapping[str, str | int] | None = None) -> LmsTable:
    """The import CSV for ``lms`` (``"canvas"`` or ``"moodle"``) from nbgrader
    CSV ``rows`` (:func:`.export.csv_rows`), for the assignments in
    ``titles`` (``{"A3": "The 2-2-1 sigmoid network"}``, in that order)."""
    if lms not in _IDENTIFIERS:
        raise ValueError(f"lms must be 'canvas' or 'moodle', not {lms!r}")
    scores: dict[tuple[str, str], str] = {}
    strangers = set()
    for row in rows:
        if row["assignment"] not in titles:
            continue
        if row["student_id"] not in roster:
            strangers.add(row["student_id"])
        scores[(row["student_id"], row["assignment"])] = row["score"]
    if strangers:
        raise _error("这些学生有成绩但不在名单上（导入后成绩会丢失）：{s}。请把他们加入名单。",
                     "these students have grades but are not on the roster (the import "
                     "would lose them): {s}. Add them to the roster.",
                     s=", ".join(sorted(strangers)))
    ids = _IDENTIFIERS[lms]
    unmatched = sorted(s for s, who in roster.items() if not any(who.get(c) for c in ids))
    if unmatched:
        raise _error("名单里这些学生缺少 {lms} 用来识别学生的列（{cols} 之一）：{s}。",
                     "these roster entries lack every column {lms} identifies a student "
                     "by ({cols}): {s}.", lms=lms.capitalize(), cols=", ".join(ids),
                     s=", ".join(unmatched))
    canvas_ids = canvas_ids or {}
    head = _CANVAS_HEAD if lms == "canvas" else [
        (label, col) for label, col in _MOODLE_HEAD if any(w.get(col) for w in roster.values())]
    columns = []
    for aid, title in titles.items():
        name = f"{aid} {title}".strip()
        if lms == "canvas" and canvas_ids.get(aid) not in (None, ""):
            name += f" ({canvas_ids[aid]})"
        columns.append((aid, name))
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow([label for label, _ in head] + [name for _, name in columns])
    if lms == "canvas":
        out.writerow(["Points Possible"] + [""] * (len(head) - 1) +
                     [_num(points[aid]) for aid, _ in columns])
    missing = []
    for sid in sorted(roster):
        who = roster[sid]
        cells = [scores.get((sid, aid), "") for aid, _ in columns]
        if not all(cells):
            missing.append(sid)
        out.writerow([who.get(col, "") for _, col in head] + cells)
    return LmsTable(buf.getvalue(), missing)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(float(x))


def write_lms(path: str | Path, table: LmsTable) -> Path:
    """Write the import file (UTF-8 with a BOM, which spreadsheet programs and
    both LMSs read as UTF-8); return its path."""
    return write_text(path, "\ufeff" + table.text)

"""What the grader knows about a submission before grading it: when it was
handed in, what exactly was handed in, and whose id it carries.

:func:`read_info` looks (in the grading process, never in the sandbox) at

* nbgrader's ``timestamp.txt`` beside the notebook
  (``submitted/<student>/<A>/timestamp.txt``, written by ``nbgrader submit`` /
  ``collect``), parsed as nbgrader does and kept as naive UTC ISO text;
* the notebook file's SHA-256 digest;
* the ``STUDENT_ID = "..."`` the notebook's code sets (the first such line).

The result, a :class:`SubmissionInfo`, is stored with the grade
(``result.details["submission"]``) so that a later run can tell a
resubmission from the submission it graded (:meth:`SubmissionInfo.same_submission`:
the timestamp and the digest must both match), and the closing report can
flag a ``STUDENT_ID`` that is not the submission's owner.

Files are opened without following a final symlink and only when they are
regular files (a FIFO or a device would block or never end); what cannot be
read is ``None`` (a notebook that cannot be read is the sandbox's to report).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["SubmissionInfo", "read_info", "parse_timestamp", "TIMESTAMP_FILE"]

#: nbgrader's name for the submission time beside the notebook
TIMESTAMP_FILE = "timestamp.txt"
_MAX_TIMESTAMP_BYTES = 256
_MAX_NOTEBOOK_BYTES = 64 * 2 ** 20
_ID_LINE = re.compile(r"""^[ \t]*STUDENT_ID[ \t]*=[ \t]*(?:[rRuU]?)(["'])(.*?)\1""",
                      re.MULTILINE)


@dataclass(frozen=True)
class SubmissionInfo:
    """``timestamp``: naive UTC ISO text or ``None``; ``digest``: SHA-256 of
    the notebook file (``None`` when unreadable); ``student_id``: the
    notebook's ``STUDENT_ID`` (``None`` when it sets none or cannot be parsed);
    ``owner``: the student the submission belongs to (its folder or file name)."""

    owner: str
    timestamp: str | None = None
    digest: str | None = None
    student_id: str | None = None
    #: why ``timestamp.txt`` is there but could not be read (``None``: fine or absent)
    timestamp_problem: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data) -> "SubmissionInfo | None":
        if not isinstance(data, dict) or not isinstance(data.get("owner"), str):
            return None
        return cls(**{k: data.get(k) if isinstance(data.get(k), str) else None
                      for k in ("timestamp", "digest", "student_id", "timestamp_problem")}, owner=data["owner"])

    def same_submission(self, other: "SubmissionInfo | None") -> bool:
        """Whether ``other`` (what a stored result was graded from) is this
        very submission: same timestamp and same file content."""
        return other is not None and self.digest is not None and \
            (self.timestamp, self.digest) == (other.timestamp, other.digest)

    @property
    def id_mismatch(self) -> bool:
        """The notebook names someone else, or leaves ``STUDENT_ID`` blank."""
        return self.student_id is not None and self.student_id.strip() != self.owner

    @property
    def time(self) -> _dt.datetime | None:
        return _dt.datetime.fromisoformat(self.timestamp) if self.timestamp else None


def parse_timestamp(text: str | _dt.datetime) -> _dt.datetime:
    """A submission time as naive UTC (what nbgrader stores): ISO-like text
    with or without an offset (``2025-03-01 18:00:00 +0800``), or nbgrader's
    ``timestamp.txt`` form with a zone name (``... UTC``,
    ``... America/Los_Angeles``).  A naive time is UTC.  ``ValueError``
    (bilingual) when it cannot be read."""
    if isinstance(text, _dt.datetime):
        value = text
    elif isinstance(text, str):
        import dateutil.parser
        import dateutil.tz
        try:
            # nbgrader.utils.parse_utc's rule (without importing nbgrader: seconds)
            parts = text.strip().split(" ")
            if len(parts) == 3 and dateutil.tz.gettz(parts[2]) is not None \
                    and not parts[2].lstrip("+-").isdigit():
                value = dateutil.parser.parse(" ".join(parts[:2])).replace(
                    tzinfo=dateutil.tz.gettz(parts[2]))
            else:
                value = dateutil.parser.parse(text.strip())
        except (ValueError, OverflowError) as exc:
            from .i18n import msg
            raise ValueError(msg(f"无法读取提交时间 {text!r}：{exc}",
                                 f"timestamp {text!r} cannot be read: {exc}")
                             .render("zh+en")) from None
    else:
        raise ValueError(f"timestamp must be a datetime or a string, got {type(text).__name__}")
    if value.tzinfo is not None:
        value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return value


def _open_regular(path: Path) -> int | None:
    """A descriptor of ``path`` if it is a regular file (no final symlink
    followed, no blocking on a FIFO), else ``None``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def _read(path: Path, limit: int) -> bytes | None:
    fd = _open_regular(path)
    if fd is None:
        return None
    try:
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks) if size <= limit else None
    except OSError:
        return None
    finally:
        os.close(fd)


def _student_id(data: bytes) -> str | None:
    try:
        nb = json.loads(data.decode("utf-8"))
        cells = nb.get("cells") if isinstance(nb, dict) else None
        for cell in cells if isinstance(cells, list) else ():
            if not isinstance(cell, dict) or cell.get("cell_type") != "code":
                continue
            src = cell.get("source", "")
            src = "".join(s for s in src if isinstance(s, str)) if isinstance(src, list) \
                else src if isinstance(src, str) else ""
            found = _ID_LINE.search(src)
            if found:
                return found.group(2)
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    return None


def read_info(owner: str, notebook: str | os.PathLike) -> SubmissionInfo:
    """The :class:`SubmissionInfo` of the notebook file ``notebook`` handed in
    by ``owner``; ``timestamp.txt`` is looked for beside it."""
    notebook = Path(notebook)
    timestamp = problem = None
    where = notebook.parent / TIMESTAMP_FILE
    if os.path.lexists(where):
        raw = _read(where, _MAX_TIMESTAMP_BYTES)
        try:
            if raw is None:
                raise ValueError(f"{where} is not a readable file of at most "
                                 f"{_MAX_TIMESTAMP_BYTES} bytes")
            timestamp = parse_timestamp(raw.decode("utf-8", "replace")).isoformat(" ")
        except ValueError as exc:
            problem = str(exc).splitlines()[-1][:300]
    data = _read(notebook, _MAX_NOTEBOOK_BYTES)
    digest = hashlib.sha256(data).hexdigest() if data is not None else None
    return SubmissionInfo(owner=owner, timestamp=timestamp, digest=digest,
                          student_id=_student_id(data) if data is not None else None,
                          timestamp_problem=problem)

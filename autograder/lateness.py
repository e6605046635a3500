"""Late submissions: how late a result's submission was, and its penalty.

The submission time is nbgrader's ``timestamp.txt``, kept with the result
(``result.details["submission"]["timestamp"]``, see
:mod:`autograder.submission_info`); the due date, the student's extension
and the penalty method come from ``course.yaml`` (``due``, ``extensions``,
``late``; see :mod:`autograder.config`), read when a report is made — so a
changed extension needs no regrade.  Methods, as nbgrader's
``LateSubmissionPlugin`` plus one:

* ``none`` — late time is shown, no penalty;
* ``zero`` — a late submission scores 0 (penalty = the raw score);
* ``per_day`` — ``per_day`` × the assignment's points for each started day
  late, never more than the raw score.

A submission without a timestamp is never late (nbgrader's rule too).
"""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass

from .results import AssignmentResult, round_score
from .submission_info import SubmissionInfo

__all__ = ["Lateness", "lateness"]


@dataclass(frozen=True)
class Lateness:
    """``due``: the student's due date (extension included), ``timestamp``:
    the submission time (both naive UTC or ``None``); ``seconds_late`` ≥ 0;
    ``penalty``: points taken off the raw score; ``score`` what remains."""

    due: _dt.datetime | None
    timestamp: _dt.datetime | None
    extension_days: float
    seconds_late: float
    penalty: float
    score: float

    @property
    def late(self) -> bool:
        return self.seconds_late > 0


def lateness(course, result: AssignmentResult) -> Lateness:
    """The :class:`Lateness` of ``result`` under ``course``'s rules."""
    acfg = course.assignment(result.assignment)
    info = SubmissionInfo.from_dict(result.details.get("submission"))
    stamp = info.time if info is not None else None
    due = acfg.due_for(result.student)
    seconds = max(0.0, (stamp - due).total_seconds()) if stamp and due else 0.0
    raw = result.score
    penalty = 0.0
    if seconds > 0:
        if acfg.late_method == "zero":
            penalty = raw
        elif acfg.late_method == "per_day":
            days = math.ceil(seconds / 86400.0)
            penalty = min(raw, days * acfg.late_per_day * acfg.points)
    penalty = round_score(penalty)
    return Lateness(due=due, timestamp=stamp,
                    extension_days=float(acfg.extensions.get(result.student, 0.0)),
                    seconds_late=seconds, penalty=penalty,
                    score=round_score(max(0.0, raw - penalty)))

"""What a sandboxed run brings back, typed: :class:`SandboxOutcome` (the
run), :class:`CellRecord` (one cell), :class:`AttemptDigest` (one attempt's
frames, validated) and :class:`SandboxError` (the sandbox itself failed).
Nothing here knows a question or an answer."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["SandboxError", "CellRecord", "SandboxOutcome", "CellEnd", "AttemptDigest",
           "CELL_STATUSES"]

CELL_STATUSES = ("ok", "error", "refused", "timeout", "killed", "skipped", "not_run")


class SandboxError(RuntimeError):
    """The sandbox itself cannot run (not the submission's fault)."""


@dataclass
class CellRecord:
    """One code cell: where it came from, and how it ended.

    ``status``: ``ok``; ``error`` (an exception: ``error`` holds its name and
    message); ``refused`` (a shell escape or magic the grader does not run);
    ``timeout`` (the wall-clock or CPU limit ran out in it); ``killed`` (the
    process died in it: ``os._exit``, a signal, a crash, output that broke
    the protocol); ``skipped`` (a graded test cell: never run); ``not_run``
    (not reached: the time budget ran out)."""
    index: int
    grade_id: str | None
    question: str | None
    origin: str
    status: str = "not_run"
    error: str | None = None
    output: str = ""
    seconds: float = 0.0
    refused: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class SandboxOutcome:
    """What one sandboxed run of a submission produced.

    ``status``: ``"ok"`` (every cell ran; cells may have raised errors, as
    in Jupyter), ``"partial"`` (something was lost to a timeout, a crash or
    a hostile act — see ``cells``, ``parts`` and ``lost``) or
    ``"malformed"`` (the notebook could not be read: ``message`` says why,
    nothing ran).  ``answers`` is :func:`autograder.protocol.collect_answers`'s
    wire form (validated; arrays are fresh float64 arrays), ``fn_results``
    maps a part key (``"A5.q1.forward"``) to ``{call id: result}`` as a
    runner returns it.  ``parts`` says, for each planned part, ``ok``,
    ``timeout``, ``killed`` or ``not_run`` (with ``reason``); ``lost`` maps
    a question id to what its answer cells or function calls suffered.
    ``isolation`` says what was enforced (``mode`` is ``"namespaces"`` or
    ``"rlimits-only"``, with ``details``)."""
    status: str
    message: str
    assignment: str
    student: str
    answers: dict = field(default_factory=dict)
    fn_results: dict = field(default_factory=dict)
    cells: list[CellRecord] = field(default_factory=list)
    parts: dict = field(default_factory=dict)
    lost: dict = field(default_factory=dict)
    attempts: list[dict] = field(default_factory=list)
    isolation: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    reason: str | None = None
    message_zh: str = ""
    #: reaches for the answers the child's gate refused (see :mod:`.allowlist`):
    #: ``{"module", "how", "cell" | "part", "question"}``
    reference_attempts: list = field(default_factory=list)
    #: the submission's own code cells as graded (for the stored result's
    #: function sources: the notebook is not read a second time)
    submitted_cells: list = field(default_factory=list, repr=False)

    def summary(self, output_chars: int = 2000, total_output: int = 16_000) -> dict:
        """A JSON-safe account without the answers (for ``result.details``);
        cell outputs cut to ``output_chars`` each, ``total_output`` in all."""
        cells, room = [], total_output
        for c in self.cells:
            d = {k: v for k, v in asdict(c).items() if v not in ("", [], None)}
            if "output" in d:
                d["output"] = d["output"][:max(0, min(output_chars, room))]
                room -= len(d["output"])
                if not d["output"]:
                    del d["output"]
            cells.append(d)
        return {"status": self.status, "message": self.message, "reason": self.reason,
                "seconds": round(self.seconds, 4), "cells": cells,
                "parts": self.parts, "lost": self.lost, "attempts": self.attempts,
                "isolation": self.isolation, "notes": self.notes[:50],
                "reference_attempts": self.reference_attempts[:50]}



@dataclass
class CellEnd:
    """A ``cell_end`` frame, validated: how the child says cell ``i`` ended."""
    status: str
    error: str | None
    output: str
    seconds: float
    refused: list[str]


@dataclass
class AttemptDigest:
    """One attempt's frames (untrusted) walked in order and validated
    (:func:`.frames.digest`).

    ``setup``: the child's setup report (``None`` if it sent none);
    ``answers``: ``{question: {part: wire entry}}`` (validated); ``fn``:
    ``{part key: {call id: result}}``; ``done``: the child reached the end;
    ``cell``/``part``: where it was when the attempt ended (``None`` when
    outside); ``phase``: ``setup`` → ``cells`` → ``collect`` → ``parts``;
    ``ended``: cells that ended; ``cell_ends``: ``{cell index: CellEnd}``;
    ``fatal``: the sandbox's own setup failed (not the submission's fault);
    ``violation``: how the child broke the protocol; ``attempts``: the
    reaches for the answers the gate noted, each with the grader's own
    account of where (``cell`` or ``part``)."""
    setup: dict | None = None
    answers: dict = field(default_factory=dict)
    fn: dict = field(default_factory=dict)
    done: bool = False
    cell: int | None = None
    part: str | None = None
    phase: str = "setup"
    ended: int = 0
    cell_ends: dict = field(default_factory=dict)
    fatal: str | None = None
    violation: str | None = None
    attempts: list = field(default_factory=list)

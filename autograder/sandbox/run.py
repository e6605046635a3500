"""Run one submission in the sandbox: :func:`run_submission` (notebook →
cells → attempts → a validated :class:`~.outcome.SandboxOutcome`).

The caller says everything the run needs — the call plans, the child's
context (allowed modules, variant parameters, answer names and kinds),
the limits and the paths to hide; this module knows no course, question
or answer (the trusted side that does is :mod:`autograder.grading`)."""
from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

from .child import wire
from .allowlist import display_cells
from .attempts import AttemptLog, run_attempts
from .cells import NotebookError, load_notebook, prepare_cells
from .client import get_zygote
from .outcome import CellRecord, SandboxError, SandboxOutcome

__all__ = ["run_submission", "LIMIT_KEYS"]

#: the limits a run needs (course.yaml's ``sandbox:`` section)
LIMIT_KEYS = ("cpu_seconds", "wall_seconds", "memory_mb", "processes", "output_kb", "file_kb")


def run_submission(notebook, assignment: str, student: str | None, plans: dict,
                   context: dict, limits, *, source_notebook=None, hide=(),
                   course_file=None, scratch_root=None,
                   isolation: str = "auto") -> SandboxOutcome:
    """Run one submission's code cells in a sandboxed child and bring back
    its answers and the results of the call ``plans`` (``{part key: plan}``
    as :func:`autograder.functions.plan_calls` makes them).

    ``notebook``/``source_notebook``: a path, bytes, JSON text or a dict
    (the source's locked cells are restored).  ``context``: what the child
    gets instead of the questions (``modules`` it may import,
    ``answer_names`` ``{question: {part: variable}}``, ``kinds``, the
    variant's ``params``, ``public_seed``, ``course`` facts; see
    :func:`autograder.grading.plan.child_context`).  ``limits``: a
    :class:`~autograder.config.SandboxLimits` or a dict of every
    :data:`LIMIT_KEYS`.  ``hide``: paths the child must not see even if an
    allowed path contains them (the course folder…).  ``course_file``: a
    ``course.yaml`` copied into the child's scratch directory, which the
    child never parses.  ``isolation``: ``"auto"`` (namespaces when the
    kernel allows, else rlimits only, said in ``outcome.isolation``),
    ``"namespaces"`` (refuse to run without them: :class:`SandboxError`) or
    ``"rlimits"`` (no namespaces; for tests).  A malformed notebook gives
    ``status="malformed"``; only a sandbox that cannot run at all raises
    :class:`SandboxError`.
    """
    if isolation not in ("auto", "namespaces", "rlimits"):
        raise ValueError(f"isolation must be auto, namespaces or rlimits, got {isolation!r}")
    t0 = time.monotonic()
    lim = _limits_dict(limits)
    student = student or ""          # NNGRADE_STUDENT="" lets the notebook fall back to lecture
    try:
        nb = load_notebook(notebook)
    except NotebookError as exc:
        return _malformed(assignment, student, exc, t0)
    notes: list[str] = []
    src_nb = None
    if source_notebook is not None:
        try:
            src_nb = load_notebook(source_notebook, follow_links=True)
        except NotebookError as exc:
            notes.append(f"source notebook unreadable ({exc.en}): locked cells not restored")
    cells, cell_notes = prepare_cells(nb, assignment, src_nb)
    display_cells(cells, context["modules"])      # not run: they need reference code
    get_zygote().info             # (re)started outside the submission's time budget
    t0 = time.monotonic()
    notes.extend(cell_notes)
    if src_nb is None:
        notes.append("no source notebook: locked cells ran as submitted")
    records = {c.index: CellRecord(c.index, c.grade_id, c.question, c.origin,
                                   status="not_run" if c.run else "skipped", notes=list(c.notes))
               for c in cells}
    runnable = [c for c in cells if c.run]
    course_yaml = _read_course_file(course_file, notes)
    root = Path(scratch_root) if scratch_root is not None else _default_scratch_root()
    root.mkdir(parents=True, exist_ok=True)
    _remove_stale_scratch(root)
    scratch = tempfile.mkdtemp(prefix=f"sub-{os.getpid()}-", dir=root)
    os.chmod(scratch, 0o711)
    blobs: list[bytes] = []
    base = {"assignment": assignment, "student": student,
            "cells": [{"i": c.index, "source": c.source} for c in runnable],
            "plans": wire.encode({k: list(v) for k, v in plans.items()}, blobs),
            "limits": lim, "course_yaml": course_yaml,
            "mountpoint": scratch, "isolation": isolation, **context,
            "hide": _hide_list(list(hide), notebook, source_notebook, root),
            "scratch_mb": max(64, 4 * int(lim["file_kb"]) // 1024)}
    try:
        log = run_attempts(base, blobs, t0, lim, runnable, plans, context["answer_names"],
                           records)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return _outcome(log, assignment, student, plans, context["answer_names"], records,
                    runnable, cells, lim, isolation, notes, t0)


def _outcome(log: AttemptLog, assignment, student, plans, names, records, runnable, cells,
             lim, isolation, notes, t0) -> SandboxOutcome:
    """The run's account from its attempts' (see :class:`SandboxOutcome`)."""
    room = int(lim["output_kb"]) * 1024            # the grader's own cap on kept output
    for i in sorted(records):
        rec = records[i]
        rec.output = rec.output[:max(room, 0)]
        room -= len(rec.output)
    answers = log.latest_answers()
    fn_results = log.fn_results()
    parts = {}
    for key in plans:
        if key in log.skip_parts:
            parts[key] = {"status": log.skip_parts[key][0], "reason": log.skip_parts[key][1]}
        elif key in fn_results:
            parts[key] = {"status": "ok"}
        else:
            parts[key] = {"status": "not_run",
                          "reason": log.stop_reason or "not reached: the time budget ran out"}
    full = {q: {p: answers.get(q, {}).get(p, {"type": "missing"}) for p in ps}
            for q, ps in names.items()}
    lost: dict = {}
    for rec in records.values():
        if rec.question and rec.status in ("error", "refused", "timeout", "killed", "not_run"):
            lost.setdefault(rec.question, []).append(
                {"cell": rec.index, "grade_id": rec.grade_id, "status": rec.status,
                 "reason": rec.error or ("not reached" if rec.status == "not_run" else "")})
    for key, p in parts.items():
        if p["status"] != "ok":
            q = key.rsplit(".", 1)[0]
            lost.setdefault(q, []).append({"part": key.rsplit(".", 1)[1], "status": p["status"],
                                           "reason": p.get("reason", "")})
    troubles = bool(log.skip_cells or log.skip_parts or log.exhausted or not log.finished)
    status = "partial" if troubles else "ok"
    if status == "ok":
        message = f"ran {len(runnable)} cells and {len(plans)} function checks"
    else:
        bits = [f"cell {i} {c}: {w}" for i, (c, w) in sorted(log.skip_cells.items())]
        bits += [f"{k} {c}: {w}" for k, (c, w) in sorted(log.skip_parts.items())]
        if log.stop_reason:
            bits.append(log.stop_reason)
        elif log.exhausted or not log.finished:
            bits.append("the time budget ran out")
        message = "; ".join(bits)
    return SandboxOutcome(status=status, message=message, assignment=assignment, student=student,
                          answers=full, fn_results=fn_results,
                          cells=[records[i] for i in sorted(records)], parts=parts, lost=lost,
                          attempts=log.attempts,
                          isolation=_isolation_summary(log.setup_info, log.exit_iso, isolation),
                          notes=notes + log.notes, seconds=time.monotonic() - t0,
                          reference_attempts=_attempt_questions(log.reference_attempts, records),
                          submitted_cells=[c for c in cells if c.origin == "submission"])


def _limits_dict(limits) -> dict:
    if isinstance(limits, dict):
        missing = [k for k in LIMIT_KEYS if k not in limits]
        if missing:
            raise ValueError(f"sandbox limits without {', '.join(missing)}")
        return {k: limits[k] for k in LIMIT_KEYS}
    return {k: getattr(limits, k) for k in LIMIT_KEYS}


def _read_course_file(course_file, notes: list[str]) -> str | None:
    """The text of ``course_file`` for the child's scratch copy (``None``:
    none, or unreadable, which ``notes`` says)."""
    if not course_file or not os.path.isfile(course_file):
        return None
    try:
        return Path(course_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        notes.append("course.yaml could not be copied into the scratch directory")
        return None


def _default_scratch_root() -> Path:
    root = Path(tempfile.gettempdir()) / f"nngrade-scratch-{os.getuid()}"
    try:
        root.mkdir(mode=0o711)
    except FileExistsError:
        st = os.lstat(root)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            raise SandboxError(f"{root} is not this user's directory") from None
    # traversable, not listable: in the fallback, a run's private uid must reach its own
    # directory (0700, its own) without seeing the others
    os.chmod(root, 0o711)
    return root


_swept_roots: set[tuple[int, str]] = set()


def _remove_stale_scratch(root: Path) -> None:
    """Remove the scratch mount points ``sub-<pid>-XXXX`` of grading processes
    that no longer exist.  A run's own ``finally`` removes its directory, but a
    grader killed by SIGKILL (or the OOM killer) leaves it; the next grading
    process on this machine sweeps them, once per scratch root."""
    from ..submissions import pid_alive
    key = (os.getpid(), str(root))
    if key in _swept_roots:
        return
    _swept_roots.add(key)
    try:
        entries = list(os.scandir(root))
    except OSError:
        return
    for entry in entries:
        parts = entry.name.split("-")
        if len(parts) < 3 or parts[0] != "sub" or not parts[1].isdigit():
            continue
        if pid_alive(int(parts[1])):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)


def _hide_list(hide: list, notebook, source_notebook, scratch_root) -> list[str]:
    """Paths the child must not see even if an allowed path contains them:
    the caller's ``hide`` (the course's folders), the grader's home, the
    toolkit repository's solutions, tests and history, the notebooks'
    folders and the scratch root."""
    cands = list(hide)
    home = os.environ.get("HOME")
    if home:
        cands.append(home)
    import autograder
    repo = Path(autograder.__file__).resolve().parent.parent
    for name in ("solutions", "tests", ".git", "course.yaml"):
        cands.append(str(repo / name))
    for nb in (notebook, source_notebook):
        if isinstance(nb, (str, Path)) and not str(nb).lstrip().startswith("{"):
            try:
                cands.append(str(Path(nb).resolve().parent))
            except OSError:
                pass
    cands.append(str(scratch_root))
    out = set()
    for c in cands:
        try:
            out.add(os.path.normpath(os.path.abspath(c)))
        except (TypeError, ValueError):
            pass
    return sorted(out)


def _malformed(assignment, student, exc: NotebookError, t0) -> SandboxOutcome:
    return SandboxOutcome(status="malformed", reason=exc.reason,
                          message=f"the notebook could not be read: {exc.en}",
                          message_zh=f"无法读取笔记本：{exc.zh}",
                          assignment=assignment, student=student or "",
                          seconds=time.monotonic() - t0)


def _attempt_questions(found: list[dict], records: dict) -> list[dict]:
    """Each attempt with the question of its cell (answer cells) or part."""
    out = []
    for a in found:
        a = dict(a)
        if "cell" in a and a["cell"] in records and records[a["cell"]].question:
            a["question"] = records[a["cell"]].question
        elif "part" in a:
            a["question"] = a["part"].rsplit(".", 1)[0]
        out.append(a)
    return out


def _isolation_summary(setup: dict, exit_iso: dict, requested: str) -> dict:
    iso = setup.get("iso") if type(setup.get("iso")) is dict else {}
    iso = {**exit_iso, **iso}
    limits = setup.get("limits") if type(setup.get("limits")) is dict else {}
    full = bool(iso.get("pidns") and iso.get("netns") and iso.get("fs"))
    details = []
    if iso.get("pidns"):
        details.append("pid namespace: the child is pid 1 of its own namespace; it cannot "
                       "see or signal the grader, and killing it kills everything it started")
    if iso.get("netns"):
        details.append("network namespace: no interface but a down loopback (no network)")
    if iso.get("fs"):
        details.append("mount namespace + pivot_root: read-only root holding only /usr, /etc, "
                       "the interpreter, its site-packages, autograder/ and nn_core/; fresh "
                       "/proc, minimal /dev, private tmpfs /scratch (the only writable place)")
    if iso.get("userns"):
        details.append("user namespace (grader not root): capabilities dropped")
    if iso.get("uid") is not None:
        details.append(f"runs as uid {iso.get('uid')}, no_new_privs")
    if limits:
        details.append("rlimits: " + ", ".join(f"{k}={v}" for k, v in limits.items()))
    group = iso.get("cgroup") if type(iso.get("cgroup")) is dict else None
    if group:
        details.append(f"cgroup {group.get('mode')}: one CPU share and at most one core, "
                       "memory and tasks limited for the whole sandbox (" +
                       ", ".join(f"{k}={v}" for k, v in (group.get("limits") or {}).items())
                       + ")")
    else:
        details.append("no per-sandbox control group: CPU share, memory and task limits are "
                       "per process only")
    if not full:
        details.append("FALLBACK: namespaces unavailable or incomplete — only rlimits, a "
                       "wall-clock kill and a private uid (when root) protect the grader; "
                       "the child may read what that uid can read" +
                       (f" ({'; '.join(iso.get('errors', []))})" if iso.get("errors") else "")
                       + (" (rlimits-only requested)" if requested == "rlimits" else ""))
    return {"mode": "namespaces" if full else "rlimits-only", "requested": requested,
            "details": details, "errors": list(iso.get("errors", []))[:10],
            "notes": list(setup.get("notes", []))[:10] if type(setup.get("notes")) is list
            else []}

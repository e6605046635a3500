"""Reading a submitted notebook (untrusted bytes) into the code cells the
sandbox runs.

:func:`load_notebook` accepts only a UTF-8 JSON nbformat-4 notebook of
bounded size; anything else raises :class:`NotebookError` with a bilingual
reason (invalid JSON, old nbformat, empty, binary, huge, non-UTF-8).

:func:`prepare_cells` applies nbgrader's rules with the released *source*
notebook as the authority (like nbgrader's ``OverwriteCells``):

* a cell whose grade id the source marks **locked** (setup, given data) runs
  from the source, whatever the submission holds there; a locked cell
  missing from the submission is re-inserted where the source has it
  (right before the next source cell the submission still has); a
  duplicated locked cell runs once;
* the source's **graded test cells** (``grade: true``, not a solution) are
  not run at all — the grader judges the collected answers itself;
* every other cell is the student's and runs as written (an answer cell
  ``A3_q2_answer``/``A3_q2_answer_2``, a copied answer cell, an extra cell);
  only the grade id ties it to a question, and the student's own claims in
  the metadata (points, ``locked``, ``grade``) change nothing;
* the source's solution cells are never used (the instructor's source holds
  the solutions).

Without a source notebook, the submission's own metadata decides which
cells are graded test cells (skipped); locked cells then run as submitted.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["NotebookError", "Cell", "load_notebook", "prepare_cells", "question_of_grade_id",
           "MAX_NOTEBOOK_BYTES"]

#: a larger file is refused ("huge")
MAX_NOTEBOOK_BYTES = 32 << 20
#: a longer cell source is refused
MAX_CELL_CHARS = 1 << 20
MAX_CELLS = 5000


class NotebookError(ValueError):
    """The notebook cannot be read; ``zh``/``en`` say why, ``reason`` is a key."""

    def __init__(self, reason: str, zh: str, en: str):
        super().__init__(en)
        self.reason, self.zh, self.en = reason, zh, en


@dataclass
class Cell:
    """One code cell to run (or skip).

    ``index`` is its position among the cells the grader considers (code
    cells in run order); ``origin``: ``"submission"``, ``"source"`` (a locked
    cell restored from the source) or ``"reinserted"`` (a locked cell the
    submission had lost); ``run`` is false for graded test cells."""
    index: int
    source: str
    grade_id: str | None = None
    question: str | None = None
    origin: str = "submission"
    run: bool = True
    locked: bool = False
    notes: list[str] = field(default_factory=list)


_ANSWER_ID = re.compile(r"^(?P<a>[A-Za-z][A-Za-z0-9]*)_(?P<q>q\d+)_answer(?:_\d+)?$")


def question_of_grade_id(grade_id: str | None, assignment: str | None = None) -> str | None:
    """``"A3_q2_answer"`` / ``"A3_q2_answer_2"`` → ``"A3.q2"`` (``None`` for
    other ids, or for another assignment's when ``assignment`` is given)."""
    if type(grade_id) is not str:
        return None
    m = _ANSWER_ID.match(grade_id)
    if not m or (assignment is not None and m["a"] != assignment):
        return None
    return f"{m['a']}.{m['q']}"


def load_notebook(source, *, follow_links: bool = False) -> dict:
    """The notebook as a dict, from a path, bytes, a JSON string or a dict
    (a dict is checked the same way).  A path is opened only as a regular
    file, not through a symbolic link unless ``follow_links`` (for the
    instructor's own source notebook)."""
    if isinstance(source, dict):
        try:                       # a plain copy (an nbformat NotebookNode is a dict subclass)
            nb = json.loads(json.dumps(source))
        except (TypeError, ValueError, RecursionError):
            raise NotebookError("json", "笔记本无法转换为 JSON。",
                                "the notebook cannot be converted to JSON.") from None
    else:
        if isinstance(source, (str, Path)) and not (isinstance(source, str)
                                                    and source.lstrip().startswith("{")):
            path = Path(source)
            try:
                raw = _read_regular(path.resolve() if follow_links else path)
            except OSError as exc:
                raise NotebookError("unreadable", f"无法读取笔记本文件（{exc.strerror or exc}）。",
                                    f"the notebook file cannot be read ({exc.strerror or exc}).") \
                    from None
        elif isinstance(source, str):
            raw = source.encode("utf-8", "surrogatepass")
        elif isinstance(source, (bytes, bytearray, memoryview)):
            raw = bytes(source)
        else:
            raise NotebookError("type", "无法识别的笔记本。", "not a notebook.")
        if len(raw) > MAX_NOTEBOOK_BYTES:
            raise _huge(len(raw))
        if not raw.strip():
            raise NotebookError("empty", "笔记本文件是空的。", "the notebook file is empty.")
        if b"\x00" in raw[:65536]:
            raise NotebookError("binary", "笔记本文件不是文本（是二进制文件）。",
                                "the notebook file is binary, not a text (JSON) file.")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise NotebookError("encoding", f"笔记本文件不是有效的 UTF-8（第 {exc.start} 字节）。",
                                f"the notebook file is not valid UTF-8 (byte {exc.start}).") from None
        try:
            nb = json.loads(text)
        except RecursionError:
            raise NotebookError("json", "笔记本文件的 JSON 嵌套过深。",
                                "the notebook's JSON is nested too deeply.") from None
        except ValueError as exc:
            raise NotebookError("json", f"笔记本文件不是有效的 JSON（{exc}）。",
                                f"the notebook file is not valid JSON ({exc}).") from None
    if type(nb) is not dict:
        raise NotebookError("json", "笔记本文件的内容不是 JSON 对象。",
                            "the notebook file does not hold a JSON object.")
    version = nb.get("nbformat")
    if type(version) is not int:
        raise NotebookError("format", "不是 Jupyter 笔记本（缺少 nbformat）。",
                            "not a Jupyter notebook (no nbformat number).")
    if version != 4:
        raise NotebookError("nbformat", f"笔记本格式 nbformat {version} 不受支持，请用 Jupyter 重新保存（nbformat 4）。",
                            f"notebook format nbformat {version} is not supported; save it "
                            f"again with a current Jupyter (nbformat 4).")
    cells = nb.get("cells")
    if type(cells) is not list:
        raise NotebookError("format", "笔记本没有 cells 列表。", "the notebook has no list of cells.")
    if len(cells) > MAX_CELLS:
        raise NotebookError("huge", f"笔记本有 {len(cells)} 个单元格，太多了。",
                            f"the notebook has {len(cells)} cells, too many.")
    return nb


def _read_regular(path: Path) -> bytes:
    """The bytes of ``path``, opened without following a symbolic link and
    without blocking (a FIFO never hangs the grader), only if it is a
    regular file of at most :data:`MAX_NOTEBOOK_BYTES`."""
    import os
    import stat
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
                     | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        if exc.errno == 40:                        # ELOOP: the last component is a link
            raise NotebookError("unreadable", "笔记本是符号链接，不予读取。",
                                "the notebook is a symbolic link; it is not followed.") from None
        raise
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise NotebookError("unreadable", "笔记本不是普通文件（如 FIFO 或设备），不予读取。",
                                "the notebook is not a regular file (a FIFO or a device); "
                                "it is not read.")
        if st.st_size > MAX_NOTEBOOK_BYTES:
            raise _huge(st.st_size)
        return f.read(MAX_NOTEBOOK_BYTES + 1)


def _huge(size: int) -> NotebookError:
    return NotebookError("huge", f"笔记本文件太大（{size} 字节，上限 {MAX_NOTEBOOK_BYTES}）。",
                         f"the notebook file is too large ({size} bytes, limit "
                         f"{MAX_NOTEBOOK_BYTES}).")


@dataclass
class _Raw:
    source: str
    grade_id: str | None
    solution: bool
    grade: bool
    locked: bool


def _code_cells(nb: dict, notes: list[str]) -> list[_Raw]:
    out = []
    for k, cell in enumerate(nb.get("cells", [])):
        if not isinstance(cell, dict):
            notes.append(f"cell {k} is not a JSON object: ignored")
            continue
        if cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        if type(src) is list:
            if not all(type(s) is str for s in src):
                notes.append(f"cell {k}: source is not text: ignored")
                continue
            src = "".join(src)
        if type(src) is not str:
            notes.append(f"cell {k}: source is not text: ignored")
            continue
        if len(src) > MAX_CELL_CHARS:
            notes.append(f"cell {k}: source longer than {MAX_CELL_CHARS} characters: ignored")
            src = ""
        meta = cell.get("metadata")
        nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
        nbg = nbg if isinstance(nbg, dict) else {}
        gid = nbg.get("grade_id")
        gid = gid if type(gid) is str and 0 < len(gid) <= 200 else None
        out.append(_Raw(src, gid, nbg.get("solution") is True, nbg.get("grade") is True,
                        nbg.get("locked") is True))
    return out


def prepare_cells(nb: dict, assignment: str, source_nb: dict | None = None
                  ) -> tuple[list[Cell], list[str]]:
    """The cells to run, in order, and notes on what was restored, dropped
    or re-inserted (see the module docstring)."""
    notes: list[str] = []
    sub = _code_cells(nb, notes) if isinstance(nb, dict) else []
    cells: list[Cell] = []

    def add(raw_source, gid, origin, run=True, locked=False, note=None):
        c = Cell(index=len(cells), source=raw_source, grade_id=gid,
                 question=question_of_grade_id(gid, assignment), origin=origin, run=run,
                 locked=locked)
        if note:
            c.notes.append(note)
        cells.append(c)

    if source_nb is None:
        for r in sub:
            is_test = r.grade and not r.solution
            add(r.source, r.grade_id, "submission", run=not is_test, locked=r.locked)
        return cells, notes

    src_cells = _code_cells(source_nb, [])
    fixed = {}                       # grade id -> the source's locked (or test) cell
    for r in src_cells:
        if r.grade_id and (r.locked or r.grade) and not r.solution and r.grade_id not in fixed:
            fixed[r.grade_id] = r
    present = {r.grade_id for r in sub if r.grade_id}
    # a locked cell the submission lost goes back right before the nearest later source
    # cell (by grade id) that the submission still has, or last when there is none: so
    # a deleted setup cell returns after the STUDENT_ID cell it reads (which has no
    # grade id), not before it
    anchored: dict[str | None, list[str]] = {}
    anchor = None
    for r in reversed(src_cells):
        if not r.grade_id:
            continue
        if r.grade_id in fixed and r.grade_id not in present:
            waiting = anchored.setdefault(anchor, [])
            if r.grade_id not in waiting:
                waiting.insert(0, r.grade_id)
        elif r.grade_id in present:
            anchor = r.grade_id
    emitted: set[str] = set()
    anchors_done: set[str | None] = set()

    def emit_fixed(gid, origin):
        r = fixed[gid]
        is_test = r.grade and not r.solution
        add(r.source, gid, origin, run=not is_test, locked=True,
            note="graded test cell: not run" if is_test else None)
        emitted.add(gid)

    def emit_anchored(key):
        if key in anchors_done:
            return
        anchors_done.add(key)
        for g in anchored.get(key, []):
            if g not in emitted:
                emit_fixed(g, "reinserted")
                notes.append(f"locked cell {g} was missing from the submission: re-inserted")

    for r in sub:
        gid = r.grade_id
        if gid:
            emit_anchored(gid)
        if gid in fixed:
            if gid in emitted:
                notes.append(f"duplicate of locked cell {gid}: dropped")
                continue
            emit_fixed(gid, "source")
            if r.source != fixed[gid].source and not (fixed[gid].grade and not fixed[gid].solution):
                cells[-1].notes.append("edited in the submission: restored from the source")
        else:
            add(r.source, gid, "submission", locked=False)
    for key in [None, *anchored]:
        emit_anchored(key)
    return cells, notes

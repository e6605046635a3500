"""Source notebooks from readable sources: ``solutions/<name>.md`` → ``solutions/<name>.ipynb``.

An assignment's nbgrader source notebook (``notebook:`` in ``course.yaml``)
is generated from a hand-written Markdown file beside it, of the same name
with ``.md`` (instructor only, like ``solutions/``: the sandbox hides the
folder, the release step copies only the notebook, the student wheel
carries neither). The file holds the prose and the solution code; lines
``<!-- KIND [NAME] -->`` say what each following block becomes:

``<!-- intro -->`` (optional, first)
    bilingual markdown (``<!--zh-->`` … ``<!--en-->`` … ``<!--/lang-->``):
    the assignment's introduction. The title cell (title from ``course.yaml``,
    the points table, the introduction, how to answer), the student-id and
    the setup cell are generated (:func:`autograder.authoring.header`).
``<!-- markdown NAME -->`` / ``<!-- given [NAME] -->``
    a locked markdown cell / a locked code cell (a ```` ```python ```` fence)
    ``AN_NAME``, or ``AN_qK_NAME`` inside a question (``NAME`` default ``given``).
``<!-- question qK -->``
    the statement of question ``AN.qK``: bilingual markdown; each language
    part's first line ``### heading`` becomes ``### 第 K 题：heading（P 分）`` /
    ``### Question K: heading (P points)`` (P from ``course.yaml``; without a
    ``###`` line the heading is the question's title). The cells that follow,
    up to the next question, belong to it.
``<!-- answer -->``
    an answer cell ``AN_qK_answer`` (``_2``, ``_3`` … for more) from a
    ``python`` fence: the solution alone (it is put between ``### BEGIN
    SOLUTION`` / ``### END SOLUTION``), or the cell with those markers
    around the solution (a function's signature and docstring stay outside).
    The first answer cell starts with ``qK_<part> = None`` for each of the
    question's non-function parts, in the definition's order; a line
    ``qK_<part> = None  # hint`` written above the solution replaces its own.
    A function part's ``def <name>(`` must be in one of the answer cells.
``<!-- check -->``
    where the graded test cell ``AN_qK`` goes (``check`` then, hidden,
    ``grade``; the points from ``course.yaml``); default: after the last
    answer cell. A question worth 0 points gets a locked, ungraded check.

Text before the first directive is a note for authors and not in the notebook.
``nngrade author [ASSIGNMENT…]`` writes the notebooks (``--check``: compare only).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from . import authoring as au
from .protocol import answer_name, grade_id

__all__ = ["SourceError", "source_path", "parse", "build", "generate", "write"]

_DIRECTIVE = re.compile(r"^<!-- (intro|markdown|given|question|answer|check)(?: ([\w-]+))? -->$", re.M)
_FENCE = re.compile(r"\A```python\n(.*)\n```\Z", re.S)
_LANG = re.compile(r"(<!--zh-->\n)(.*?)(\n<!--en-->\n)(.*?)(\n<!--/lang-->)", re.S)
_SKELETON = re.compile(r"^(q\d+_\w+) = None\b.*$")
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
FEEDBACK_ONLY = "# 0 分，只给反馈 / 0 points, feedback only"


class SourceError(ValueError):
    """A source file that cannot become its notebook (the message names file and block)."""


@dataclass
class Block:
    kind: str
    name: str | None
    body: str
    line: int


def source_path(course, course_file, assignment: str) -> Path:
    """``solutions/<notebook stem>.md`` beside ``course_file``."""
    nb = Path(course.assignment(assignment).notebook)
    return Path(course_file).resolve().parent / "solutions" / nb.with_suffix(".md").name


def parse(text: str) -> list[Block]:
    """The directive blocks of a source file, in order."""
    found = list(_DIRECTIVE.finditer(text))
    blocks = []
    for m, nxt in zip(found, found[1:] + [None]):
        body = text[m.end():nxt.start() if nxt else len(text)].strip("\n")
        blocks.append(Block(m.group(1), m.group(2), body, text.count("\n", 0, m.start()) + 1))
    return blocks


def _code(block: Block, where: str) -> str:
    m = _FENCE.match(block.body)
    if not m:
        raise SourceError(f"{where}, line {block.line}: <!-- {block.kind} --> needs one ```python fence")
    return m.group(1)


def _points(p: float) -> tuple[str, str]:
    if p == 0:
        return "（0 分，只给反馈）", " (0 points, feedback only)"
    return f"（{p:g} 分）", f" ({p:g} point{'' if p == 1 else 's'})"


def _statement(qid: str, body: str, question, points: float, where: str):
    """The statement cell: each language part headed ``### 第 K 题：…`` / ``### Question K: …``."""
    if not _LANG.search(body):
        raise SourceError(f"{where}: the statement of {qid} needs <!--zh--> … <!--en--> … <!--/lang-->")
    k = qid.partition(".q")[2]
    pz, pe = _points(points)

    def head(part: str, lang: str) -> str:
        first, nl, rest = part.partition("\n")
        title = getattr(question.title, lang)
        if first.startswith("### "):
            title, rest = first[4:], nl + rest
        else:
            rest = "\n\n" + part
        return (f"### 第 {k} 题：{title}{pz}" if lang == "zh" else f"### Question {k}: {title}{pe}") + rest

    text = _LANG.sub(lambda m: m[1] + head(m[2], "zh") + m[3] + head(m[4], "en") + m[5], body, count=1)
    return au.markdown(grade_id(qid) + "_statement", text)


def _answer(question, source: str, first: bool, n: int, where: str):
    """Answer cell ``n`` of ``question`` from its source block (see module docstring)."""
    if BEGIN not in source:
        source = f"{BEGIN}\n{source}\n{END}"
    pre, _, sol = source.partition(BEGIN)
    if first:
        lines = pre.split("\n")
        given = {}
        while lines and (m := _SKELETON.match(lines[0])):
            given[m.group(1)] = lines.pop(0)
        names = [answer_name(question, p) for p in question.parts if p.kind != "fn"]
        unknown = set(given) - set(names)
        if unknown:
            raise SourceError(f"{where}: {', '.join(sorted(unknown))} answer no part of {question.id} "
                              f"(its answer variables: {', '.join(names) or 'none'})")
        pre = "\n".join([given.get(v, f"{v} = None") for v in names] + lines)
    return au.answer(question.id, pre + BEGIN + sol, n)


def build(course, assignment: str, text: str, where: str = "source") -> nbformat.NotebookNode:
    """The source notebook of ``assignment`` from the text of its source file."""
    from .questions import get_question
    a = course.assignment(assignment)
    points = {q.id: q.points for q in a.questions.values()}
    cells, question, answers, checked, seen, solved = [], None, [], True, [], []

    def close():
        if question is not None:
            if not answers:
                raise SourceError(f"{where}: {question.id} has no <!-- answer -->")
            if not checked:             # right after the last answer cell
                cells.insert(next(i for i, c in enumerate(cells) if c is answers[-1]) + 1,
                             check(question))

    def check(q):
        """The graded test cell; a locked, ungraded ``check`` for a question worth 0 points."""
        if points[q.local_id]:
            return au.tests(q.id, points[q.local_id])
        return au.given(grade_id(q.id), f'check("{q.id}")          {FEEDBACK_ONLY}')

    blocks = parse(text)
    intro_zh = intro_en = ""
    if blocks and blocks[0].kind == "intro":
        m = _LANG.fullmatch(blocks.pop(0).body)
        if not m:
            raise SourceError(f"{where}: <!-- intro --> is <!--zh--> … <!--en--> … <!--/lang-->")
        intro_zh, intro_en = m[2], m[4]
    cells += au.header(assignment, a.title.zh, a.title.en, intro_zh, intro_en, points)
    for b in blocks:
        here = f"{where}, line {b.line}"
        prefix = grade_id(question.id) if question else assignment
        if b.kind == "intro":
            raise SourceError(f"{here}: <!-- intro --> comes first (before every other block)")
        elif b.kind == "markdown":
            if not b.name:
                raise SourceError(f"{here}: <!-- markdown NAME -->: the cell needs a name")
            cells.append(au.markdown(f"{prefix}_{b.name}", b.body))
        elif b.kind == "given":
            cells.append(au.given(f"{prefix}_{b.name or 'given'}", _code(b, here)))
        elif b.kind == "question":
            close()
            qid = f"{assignment}.{b.name}"
            if b.name not in points:
                raise SourceError(f"{here}: {qid} is not in course.yaml ({', '.join(points)})")
            if qid in seen:
                raise SourceError(f"{here}: {qid} comes twice")
            question, answers, checked = get_question(qid), [], False
            seen.append(qid)
            cells.append(_statement(qid, b.body, question, points[b.name], here))
        elif question is None:
            raise SourceError(f"{here}: <!-- {b.kind} --> outside a question")
        elif b.kind == "answer":
            cells.append(_answer(question, _code(b, here), not answers, len(answers) + 1, here))
            answers.append(cells[-1])
            solved.append(cells[-1].source)
        elif b.kind == "check":
            if checked:
                raise SourceError(f"{here}: a second <!-- check --> for {question.id}")
            cells.append(check(question))
            checked = True
    close()
    missing = [f"{assignment}.{q}" for q in points if f"{assignment}.{q}" not in seen]
    if missing:
        raise SourceError(f"{where}: no <!-- question --> for {', '.join(missing)} (in course.yaml)")
    for qid in seen:
        names = [p.fn.name for p in get_question(qid).parts if p.kind == "fn"]
        missing = [f for f in names if not any(f"def {f}(" in s for s in solved)]
        if missing:
            raise SourceError(f"{where}: no answer cell defines {', '.join(missing)} ({qid})")
    return au.notebook(cells)


def generate(course, course_file, assignment: str) -> nbformat.NotebookNode:
    """The notebook that ``assignment``'s source file describes."""
    path = source_path(course, course_file, assignment)
    return build(course, assignment, path.read_text(encoding="utf-8"), str(path))


def write(course, course_file, assignments=(), check: bool = False) -> dict[str, tuple[Path, bool]]:
    """Generate the notebooks of ``assignments`` (default: every one with a
    source file); ``{assignment: (notebook path, changed)}``. ``check``:
    compare only, write nothing."""
    out = {}
    for aid in assignments or [a for a in course.assignments
                               if source_path(course, course_file, a).is_file()]:
        target = Path(course_file).resolve().parent / "solutions" / course.assignment(aid).notebook
        text = nbformat.writes(generate(course, course_file, aid)) + "\n"
        changed = not target.is_file() or target.read_text(encoding="utf-8") != text
        if changed and not check:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        out[aid] = (target, changed)
    return out

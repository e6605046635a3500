"""Feedback pages: one self-contained HTML file per student per assignment.

>>> html = render_feedback(result, course)                        # doctest: +SKIP
>>> write_feedback(result, "feedback", course, solution=md)      # doctest: +SKIP
PosixPath('feedback/alice/A4/A4_relu_backprop_step.html')

A page shows the assignment's title, the student, the total, a summary of
the questions and, for every part: score / max, status, the feedback
messages, the **named mistake** with its hint (from
:mod:`autograder.mistakes`) and a **carried forward** badge where the credit
came from the student's own earlier answers — in the course language
(``zh``, ``en`` or ``zh+en``: Chinese first, English below).  An optional
worked solution (Markdown, HTML or plain text the course chooses to
release) closes the page.

What a page never shows: a result's ``details`` (they may hold hidden test
inputs, references or sandbox logs), the variant seed (it reproduces the
hidden inputs), or anything not in the result.  Every string that comes from
a result — feedback can quote a student's answer — is HTML-escaped.  The
page has inline CSS only: no scripts, fonts, images or links to fetch, so it
can be mailed, uploaded to an LMS or opened offline.  A worked solution is
the instructor's own text and is inserted as given (Markdown is converted
with ``mistune`` when it is installed, else shown as plain text).

This module also holds the few presentation helpers the other report
modules share (status labels, scores, mistake names); writing files and
:class:`~.files.ReportError` live in :mod:`.files`.
"""
from __future__ import annotations

import html
import os
import re
from pathlib import Path

from ..i18n import Message, check_language, msg
from ..mistakes import known_mistake
from ..results import AssignmentResult, QuestionResult
from .files import ensure_dir, safe_component, write_text

__all__ = ["render_feedback", "write_feedback", "feedback_path", "STATUS_LABELS",
           "status_label", "fmt_score"]


# ==========================================================================
# shared presentation helpers (also used by export and stats)

#: how each result status is called on a page, in a table, in an export
STATUS_LABELS: dict[str, Message] = {
    "correct": msg("正确", "correct"),
    "partial": msg("部分正确", "partly correct"),
    "wrong": msg("错误", "wrong"),
    "invalid": msg("答案无效", "invalid answer"),
    "missing": msg("未作答", "no answer"),
    "error": msg("运行出错", "error"),
    "timeout": msg("超时", "timed out"),
}


def status_label(status: str) -> Message:
    """The bilingual name of a result status (an unknown one is shown as is)."""
    return STATUS_LABELS.get(status, Message(status, status))


def fmt_score(x: float) -> str:
    """A score for people: at most 3 decimals, no trailing zeros (``9.5``, ``1.125``)."""
    text = f"{float(x):.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text




# ==========================================================================
# the page's words

T = {
    "feedback": msg("作业反馈", "Feedback"),
    "student": msg("学生", "Student"),
    "total": msg("总分", "Total"),
    "summary": msg("各题得分", "Scores by question"),
    "question": msg("题目", "Question"),
    "score": msg("得分", "Score"),
    "part": msg("小题", "Part"),
    "status": msg("状态", "Status"),
    "mistake": msg("典型错误", "Named mistake"),
    "carried": msg("误差传递给分", "carried forward"),
    "carried_tip": msg("按你前面的答案重新计算，这一步是对的，因此得分。",
                       "Recomputed from your own earlier answers this step is right, "
                       "so it earns credit."),
    "solution": msg("参考解答", "Worked solution"),
    "no_results": msg("没有可显示的结果。", "There are no results to show."),
    "footer": msg("本页只包含你的得分和反馈，不包含隐藏测试的输入或参考答案。",
                  "This page holds your scores and feedback only — never the hidden "
                  "tests' inputs or reference answers."),
}


def _qnumber(qid: str) -> Message | None:
    m = re.fullmatch(r"q(\d+)", qid.partition(".")[2])
    return msg(f"第 {m.group(1)} 题", f"Question {m.group(1)}") if m else None


# ==========================================================================
# rendering pieces

_e = html.escape


class _Lang:
    """Renders Messages and strings as escaped HTML in one course language."""

    def __init__(self, language: str):
        self.language = check_language(language)

    def inline(self, m: Message | str, cls: str = "") -> str:
        """A short label: ``中文 · English`` (the English smaller) in zh+en."""
        if not isinstance(m, Message):
            return f'<span class="{cls}">{_e(m)}</span>' if cls else _e(m)
        if self.language == "zh":
            return f'<span lang="zh-CN" class="{cls}">{_e(m.zh)}</span>'
        if self.language == "en":
            return f'<span lang="en" class="{cls}">{_e(m.en)}</span>'
        return (f'<span class="{cls}"><span lang="zh-CN">{_e(m.zh)}</span>'
                f'<span class="sep"> · </span><span lang="en" class="en">{_e(m.en)}</span>'
                f'</span>')

    def block(self, m: Message | str, cls: str = "txt") -> str:
        """A sentence: Chinese, then English on the next line in zh+en."""
        if not isinstance(m, Message):
            return f'<div class="{cls}">{_e(m)}</div>'
        out = []
        if self.language in ("zh", "zh+en"):
            out.append(f'<div class="{cls}" lang="zh-CN">{_e(m.zh)}</div>')
        if self.language in ("en", "zh+en"):
            extra = " en" if self.language == "zh+en" else ""
            out.append(f'<div class="{cls}{extra}" lang="en">{_e(m.en)}</div>')
        return "".join(out)

    def plain(self, m: Message | str) -> str:
        """Unescaped text for the ``<title>``: ``中文 / English`` in zh+en."""
        if not isinstance(m, Message):
            return m
        return m.render(self.language).replace("\n", " / ")


def _bar(score: float, max_score: float) -> str:
    pct = 100.0 if max_score <= 0 else max(0.0, min(100.0, 100.0 * score / max_score))
    tone = "good" if pct >= 99.999 else ("mid" if pct >= 50 else "low")
    return (f'<div class="bar" role="img" aria-label="{pct:.0f}%">'
            f'<div class="fill {tone}" style="width:{pct:.1f}%"></div></div>')


def _part_html(r: QuestionResult, L: _Lang, shown: dict | None = None) -> str:
    """One part. ``shown`` maps a diagnosis already explained in this
    question to the part that explained it: a repeat gets one line pointing
    there instead of the whole mistake block again."""
    name = r.part if r.part is not None else r.question
    chips = [L.inline(status_label(r.status), f"chip st-{_e(r.status)}")
             if r.status in STATUS_LABELS else L.inline(r.status, "chip")]
    if r.carried_forward:
        tip = _e(L.plain(T["carried_tip"]))
        chips.append(f'<span class="chip ecf" title="{tip}">&#8618; '
                     f'{L.inline(T["carried"])}</span>')
    known = known_mistake(r.diagnosis)
    feedback = [item for item in r.feedback if not (known is not None and item == known.text)]
    body = "".join(L.block(item, "txt") for item in feedback)
    if r.diagnosis and shown is not None and r.diagnosis in shown:
        body += L.block(msg(f"典型错误同上（{shown[r.diagnosis]}）。",
                            f"The same named mistake as {shown[r.diagnosis]} above."), "txt")
    elif r.diagnosis:
        if shown is not None:
            shown[r.diagnosis] = r.part if r.part is not None else r.question
        if known is None:
            mistake = f'<div class="mk-name"><code>{_e(r.diagnosis)}</code></div>'
        else:
            mistake = L.block(known.name, "mk-name") + L.block(known.hint, "mk-hint")
        body += (f'<div class="mistake"><div class="mk-label">{L.inline(T["mistake"])}'
                 f'</div>{mistake}</div>')
    status_cls = _e(r.status if r.status in STATUS_LABELS else "other")
    return (f'<div class="part pt-{status_cls}">'
            f'<div class="part-head"><code class="pname">{_e(name)}</code>'
            f'{"".join(chips)}<span class="pscore">{fmt_score(r.score)}'
            f'<span class="of"> / {fmt_score(r.max_score)}</span></span></div>'
            f'{body}</div>')


def _solution_html(solution: str | Message, solution_format: str, L: _Lang) -> str:
    if solution_format not in ("markdown", "html", "text"):
        raise ValueError(f"solution_format must be 'markdown', 'html' or 'text', "
                         f"got {solution_format!r}")
    if isinstance(solution, Message):
        texts = {"zh": [solution.zh], "en": [solution.en],
                 "zh+en": [solution.zh, solution.en]}[L.language]
    elif type(solution) is str:
        texts = [solution]
    else:
        raise TypeError(f"solution must be a string or a Message, got {type(solution).__name__}")
    out = []
    for t in texts:
        if solution_format == "html":
            out.append(t)
        elif solution_format == "markdown":
            try:
                import mistune
                out.append(mistune.html(t))
            except ImportError:          # no Markdown converter: show the text as written
                out.append(f'<div class="txt">{_e(t)}</div>')
        else:
            out.append(f'<div class="txt">{_e(t)}</div>')
    return "".join(f'<div class="sol-body">{t}</div>' for t in out)


_CSS = """
:root{--ink:#1f2933;--muted:#616e7c;--line:#e4e7eb;--bg:#f5f7fa;--card:#fff;
--good:#2f855a;--good-bg:#e6f4ea;--mid:#b7791f;--mid-bg:#fdf3dc;--low:#c53030;--low-bg:#fde8e8;
--info:#2b6cb0;--info-bg:#e6f0fb}
*{box-sizing:border-box}
html{background:var(--bg)}
body{margin:0 auto;max-width:880px;padding:28px 20px 40px;color:var(--ink);
font:16px/1.6 system-ui,-apple-system,"Segoe UI","PingFang SC","Hiragino Sans GB",
"Microsoft YaHei","Noto Sans CJK SC","Source Han Sans SC","WenQuanYi Micro Hei",Roboto,
"Helvetica Neue",Arial,sans-serif}
code{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,"DejaVu Sans Mono",monospace;
font-size:.92em}
.en{color:var(--muted)}
.sep{color:#9aa5b1}
header.top{background:var(--card);border:1px solid var(--line);border-radius:12px;
padding:22px 26px;margin-bottom:18px}
.kicker{color:var(--muted);font-size:.85rem;letter-spacing:.04em;text-transform:uppercase}
h1{font-size:1.55rem;line-height:1.3;margin:.25rem 0 .6rem}
h1 .en{display:block;font-size:1.05rem;font-weight:500;margin-top:.15rem}
.meta{display:flex;flex-wrap:wrap;gap:8px 28px;align-items:flex-end}
.meta .label{color:var(--muted);font-size:.9rem}
.meta .who{font-weight:600;font-size:1.05rem}
.total{margin-left:auto;text-align:right}
.total .big{font-size:2.1rem;font-weight:700;line-height:1}
.total .of{color:var(--muted);font-size:1.1rem}
.bar{height:8px;background:var(--line);border-radius:99px;overflow:hidden;min-width:120px}
.bar .fill{height:100%;border-radius:99px}
.fill.good{background:var(--good)}.fill.mid{background:var(--mid)}.fill.low{background:var(--low)}
header .bar{margin-top:14px}
section{background:var(--card);border:1px solid var(--line);border-radius:12px;
padding:18px 24px;margin-bottom:16px}
h2{font-size:1.15rem;margin:0 0 .7rem;display:flex;align-items:baseline;gap:10px;flex-wrap:wrap}
h2 .qid{font-family:ui-monospace,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:.9rem;
color:var(--muted);font-weight:500}
h2 .qscore{margin-left:auto;font-weight:600}
table.summary{width:100%;border-collapse:collapse}
table.summary th,table.summary td{padding:7px 8px;border-bottom:1px solid var(--line);
text-align:left;vertical-align:middle}
table.summary th{font-size:.85rem;color:var(--muted);font-weight:600}
table.summary td.num{white-space:nowrap;text-align:right;font-variant-numeric:tabular-nums}
table.summary td.barcell{width:40%}
table.summary a{color:inherit;text-decoration:none}
.part{border:1px solid var(--line);border-left:4px solid #cbd2d9;border-radius:8px;
padding:10px 14px;margin:10px 0}
.pt-correct{border-left-color:var(--good)}.pt-partial{border-left-color:var(--mid)}
.pt-wrong,.pt-error{border-left-color:var(--low)}.pt-timeout{border-left-color:#dd6b20}
.pt-invalid{border-left-color:#805ad5}.pt-missing{border-left-color:#9aa5b1}
.part-head{display:flex;flex-wrap:wrap;align-items:center;gap:8px;margin-bottom:4px}
.pname{font-weight:700;font-size:1rem;background:var(--bg);padding:1px 7px;border-radius:5px}
.pscore{margin-left:auto;font-weight:700;font-variant-numeric:tabular-nums}
.pscore .of{color:var(--muted);font-weight:500}
.chip{display:inline-block;font-size:.8rem;padding:1px 9px;border-radius:99px;
background:#edf0f3;color:var(--ink);white-space:nowrap}
.chip .en{color:inherit;opacity:.8}
.st-correct{background:var(--good-bg);color:var(--good)}
.st-partial{background:var(--mid-bg);color:#975a16}
.st-wrong,.st-error{background:var(--low-bg);color:var(--low)}
.st-timeout{background:#feebc8;color:#9c4221}
.st-invalid{background:#efe7fb;color:#6b46c1}
.st-missing{background:#edf0f3;color:var(--muted)}
.chip.ecf{background:var(--info-bg);color:var(--info);font-weight:600}
.txt{white-space:pre-wrap;overflow-wrap:anywhere}
.txt.en{font-size:.94em}
.mistake{margin-top:8px;background:#fff8e6;border:1px solid #f6d58e;border-radius:8px;
padding:8px 12px}
.mk-label{font-size:.78rem;text-transform:uppercase;letter-spacing:.04em;color:#975a16;
font-weight:700}
.mk-name{font-weight:700;white-space:pre-wrap}
.mk-name.en{font-weight:600}
.mk-hint{white-space:pre-wrap;overflow-wrap:anywhere}
.sol-body{overflow-wrap:anywhere}
.sol-body pre{background:var(--bg);padding:10px 12px;border-radius:8px;overflow-x:auto}
footer{color:var(--muted);font-size:.85rem;text-align:center;margin-top:20px}
@media print{html{background:#fff}section,header.top{break-inside:avoid}}
"""


# ==========================================================================
# the page

def _ordered_questions(result: AssignmentResult, course) -> list[str]:
    seen = list(result.totals())
    if course is None:
        return seen
    try:
        order = course.question_ids(result.assignment)
    except KeyError:
        return seen
    rank = {q: i for i, q in enumerate(order)}
    return sorted(seen, key=lambda q: (rank.get(q, len(rank)), seen.index(q)))


def render_feedback(result: AssignmentResult, course=None, *, language: str | None = None,
                    solution: str | Message | None = None,
                    solution_format: str = "markdown") -> str:
    """The feedback page for ``result`` as one HTML string.

    ``course`` (optional) gives the assignment's title, the question order
    and the default ``language`` (``course.language``; ``"zh+en"`` without a
    course).  ``solution`` is a worked solution to append — a string, or a
    :class:`Message` for one text per language — written in
    ``solution_format`` ``"markdown"``, ``"html"`` or ``"text"``.
    """
    if not isinstance(result, AssignmentResult):
        raise TypeError(f"render_feedback takes an AssignmentResult, "
                        f"got {type(result).__name__}")
    language = check_language(language or (course.language if course is not None
                                            else "zh+en"))
    L = _Lang(language)
    title: Message | None = None
    if course is not None:
        try:
            title = course.assignment(result.assignment).title
        except KeyError:
            title = None
    totals = result.totals()
    order = _ordered_questions(result, course)

    head_title = f"{result.assignment} · {L.plain(T['feedback'])} · {result.student}"
    if title is not None and language == "zh+en":
        h1 = (f'<span lang="zh-CN">{_e(title.zh)}</span>'
              f'<span class="en" lang="en">{_e(title.en)}</span>')
    elif title is not None:
        h1 = _e(title.zh if language == "zh" else title.en)
    else:
        h1 = _e(result.assignment)

    course_id = _e(course.course_id) + " · " if course is not None else ""
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{"en" if language == "en" else "zh-CN"}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(head_title)}</title><style>{_CSS}</style></head><body>",
        '<header class="top">',
        f'<div class="kicker">{course_id}{_e(result.assignment)} · {L.inline(T["feedback"])}</div>',
        f"<h1>{h1}</h1>",
        '<div class="meta">',
        f'<div><div class="label">{L.inline(T["student"])}</div>'
        f'<div class="who">{_e(result.student or "—")}</div></div>',
        f'<div class="total"><div class="label">{L.inline(T["total"])}</div>'
        f'<span class="big">{fmt_score(result.score)}</span>'
        f'<span class="of"> / {fmt_score(result.max_score)}</span></div>',
        "</div>",
        _bar(result.score, result.max_score),
        "</header>",
    ]

    if not order:
        parts.append(f"<section>{L.block(T['no_results'])}</section>")
    else:
        rows = []
        for qid in order:
            s, m = totals[qid]
            number = _qnumber(qid)
            label = L.inline(number) if number is not None else ""
            rows.append(f'<tr><td><a href="#{_e(_anchor(qid))}"><code>{_e(qid)}</code> '
                        f'{label}</a></td><td class="num">{fmt_score(s)} / {fmt_score(m)}</td>'
                        f'<td class="barcell">{_bar(s, m)}</td></tr>')
        parts.append(f'<section class="summary"><h2>{L.inline(T["summary"])}</h2>'
                     f'<table class="summary"><thead><tr><th>{L.inline(T["question"])}</th>'
                     f'<th style="text-align:right">{L.inline(T["score"])}</th><th></th></tr>'
                     f'</thead><tbody>{"".join(rows)}</tbody></table></section>')
        for qid in order:
            s, m = totals[qid]
            number = _qnumber(qid)
            heading = L.inline(number) if number is not None else ""
            shown: dict = {}
            body = "".join(_part_html(r, L, shown) for r in result.results_for(qid))
            parts.append(f'<section class="question" id="{_e(_anchor(qid))}"><h2>{heading}'
                         f'<span class="qid">{_e(qid)}</span><span class="qscore">'
                         f'{fmt_score(s)} / {fmt_score(m)}</span></h2>{body}</section>')

    if solution is not None:
        parts.append(f'<section class="solution"><h2>{L.inline(T["solution"])}</h2>'
                     f"{_solution_html(solution, solution_format, L)}</section>")
    parts.append(f"<footer>{L.block(T['footer'], 'foot')}</footer></body></html>")
    return "\n".join(parts) + "\n"


def _anchor(qid: str) -> str:
    return "q-" + re.sub(r"[^A-Za-z0-9_-]", "-", qid)


def feedback_path(out_dir: str | os.PathLike, result: AssignmentResult, course=None) -> Path:
    """Where :func:`write_feedback` puts ``result``'s page, in nbgrader's
    layout: ``out_dir/<student>/<assignment>/<notebook stem>.html`` (the
    notebook from ``course.yaml``; ``feedback.html`` without a course)."""
    student = safe_component(result.student, "student id")
    assignment = safe_component(result.assignment, "assignment id")
    name = "feedback"
    if course is not None:
        try:
            name = Path(course.assignment(result.assignment).notebook).stem or name
        except KeyError:
            pass
    return Path(out_dir) / student / assignment / f"{name}.html"


def write_feedback(result: AssignmentResult, out_dir: str | os.PathLike, course=None,
                   **render_kwargs) -> Path:
    """Render ``result``'s page (see :func:`render_feedback`) and write it
    to :func:`feedback_path`; return the path.  An unwritable ``out_dir`` is
    a :class:`~.files.ReportError` naming it."""
    ensure_dir(out_dir)
    page = render_feedback(result, course, **render_kwargs)
    return write_text(feedback_path(out_dir, result, course), page)


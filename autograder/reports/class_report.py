"""The class report: one self-contained HTML page per assignment.

>>> write_class_report(results, "reports", course)          # doctest: +SKIP
PosixPath('reports/A5_class_report.html')

The page holds, in the course language (``zh``, ``en`` or ``zh+en``):
the class's totals and a histogram, the item analysis of every part and
question (:mod:`.analysis`) with a plot of difficulty against
discrimination, the parts a variant range makes easier, the clusters of
uncatalogued wrong answers with an example and a proposed catalogue entry
(:mod:`.mining`), the copy signals with their evidence (:mod:`.copying`;
for the instructor's judgement, never a penalty) and every student's total
with a link to their feedback page (:func:`.feedback.feedback_path`,
relative to the report).  Plots are inline PNGs (``data:`` URIs); there
are no scripts, fonts or anything else to fetch.  Every string from a
result (student ids, answers, code) is HTML-escaped.  The page is for
instructors: it shows answers and code, so it is not meant for students.
"""
from __future__ import annotations

import base64
import html
import io
import json
import os
from pathlib import Path
from typing import Iterable

import numpy as np

from ..i18n import Message, msg
from ..results import AssignmentResult
from ..mistakes import mistake_name
from .feedback import _Lang, feedback_path, fmt_score
from .files import safe_component, write_text

__all__ = ["render_class_report", "write_class_report", "class_report_path"]

_e = html.escape

W = {
    "title": msg("班级报告", "Class report"),
    "students": msg("学生数", "Students"),
    "mean": msg("平均总分", "Mean total"),
    "items": msg("题目分析", "Item analysis"),
    "items_note": msg("难度 = 平均得分率；区分度 = 与其余题目总分的点二列相关；"
                      "27% 指数 = 高分组与低分组（按其余总分各取 27%）平均得分率之差。",
                      "Difficulty = mean credit; discrimination = point-biserial correlation "
                      "with the rest of the assignment; 27% index = mean credit of the top 27% "
                      "minus the bottom 27% (by the rest of the assignment)."),
    "item": msg("题目/小题", "Item"),
    "difficulty": msg("难度", "Difficulty"),
    "discrimination": msg("区分度", "Discrimination"),
    "ul": msg("27% 指数", "27% index"),
    "blank": msg("未作答", "Blank"),
    "carried": msg("误差传递", "Carried"),
    "named": msg("典型错误", "Named mistakes"),
    "variants": msg("变体的影响", "Effect of the variants"),
    "variant_row": msg("{item}：{feature} ≤ {t} 时满分率 {low}（{ln} 人），> {t} 时 {high}（{hn} 人），"
                       "p = {p}",
                       "{item}: full marks for {low} of students with {feature} ≤ {t} ({ln}), "
                       "{high} with {feature} > {t} ({hn}); p = {p}"),
    "no_variants": msg("没有发现让某一小题明显变容易的变体参数范围。",
                       "No variant parameter range makes a part clearly easier."),
    "clusters": msg("未归类的共同错误", "Shared wrong answers no catalogued mistake explains"),
    "no_clusters": msg("没有发现共同的未归类错误。", "No shared uncatalogued wrong answers."),
    "cluster_head": msg("{label}：{n} 名学生", "{label}: {n} students"),
    "reproduced": msg("可由参考计算的这种改动重现：", "Reproduced by this change to the reference: "),
    "signature": msg("共同特征：", "Shared signature: "),
    "example": msg("例子（{s}）：", "Example ({s}): "),
    "proposal": msg("建议的目录条目", "Proposed catalogue entry"),
    "copying": msg("抄袭迹象（仅供判断，不扣分）", "Copy signals (for your judgement; no penalty)"),
    "no_copying": msg("没有发现抄袭迹象。", "No copy signals."),
    "kind_other_variant": msg("与他人题目数据的答案一致", "Right for another student's variant"),
    "kind_same_code": msg("相同的代码", "Same code"),
    "kind_rare_wrong": msg("相同的少见错误", "Same rare wrong answer"),
    "roster": msg("学生", "Students"),
    "student": msg("学生", "Student"),
    "total": msg("总分", "Total"),
    "feedback": msg("反馈页", "Feedback page"),
    "histogram": msg("总分分布", "Total scores"),
    "scatter": msg("难度与区分度", "Difficulty and discrimination"),
    "footer": msg("本页供教师使用：包含学生的答案和代码，请勿发给学生。",
                  "For instructors: this page shows students' answers and code; do not "
                  "share it with students."),
}

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","WenQuanYi Micro Hei",
sans-serif;margin:0;background:#f5f6f8;color:#1a202c;line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.2em;margin:28px 0 8px;
border-bottom:2px solid #cbd5e0;padding-bottom:4px}
section,.card{background:#fff;border-radius:8px;padding:12px 16px;margin:10px 0;
box-shadow:0 1px 2px rgba(0,0,0,.08)}
table{border-collapse:collapse;width:100%;font-size:.9em}
th,td{padding:4px 8px;border-bottom:1px solid #e2e8f0;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.question td{font-weight:600;background:#f7fafc}
.en{color:#4a5568;font-size:.92em}.sep{color:#a0aec0}
.flag{color:#c05621;font-weight:600}
pre{background:#1a202c;color:#e2e8f0;padding:8px;border-radius:6px;overflow-x:auto;
font-size:.82em;white-space:pre-wrap;word-break:break-all}
img{max-width:100%;height:auto}.plots{display:flex;gap:12px;flex-wrap:wrap}
.plots img{flex:1 1 480px;max-width:520px;background:#fff;border-radius:8px}
.tag{display:inline-block;background:#feebc8;color:#7b341e;border-radius:4px;
padding:0 6px;margin-right:6px;font-size:.85em}
footer{color:#718096;font-size:.85em;margin-top:24px}
"""


def class_report_path(out_dir: str | os.PathLike, assignment: str) -> Path:
    """``out_dir/<assignment>_class_report.html``."""
    return Path(out_dir) / f"{safe_component(assignment, 'assignment id')}_class_report.html"


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _plots(results, items, language: str) -> list[str]:
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .stats import _plot_language
    lang, font = _plot_language(language)
    R = lambda m: m.render(lang).replace("\n", " / ")  # noqa: E731
    rc = {"font.family": "sans-serif",
          "font.sans-serif": ([font] if font else []) + ["DejaVu Sans"],
          "axes.unicode_minus": False}
    out = []
    with rc_context(rc):
        fig = Figure(figsize=(5.2, 3.4))
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        totals = [r.score for r in results]
        top = max(r.max_score for r in results) or 1.0
        ax.hist(totals, bins=10, range=(0, top), color="#2f855a", edgecolor="white")
        ax.set_title(R(W["histogram"]), fontsize=10)
        ax.set_xlabel(R(W["total"]))
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        out.append(_png(fig))

        fig = Figure(figsize=(5.2, 3.4))
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        parts = [it for it in items if it.part is not None]
        xs = [it.difficulty for it in parts]
        ys = [it.discrimination if it.discrimination is not None else 0.0 for it in parts]
        ax.scatter(xs, ys, color="#2b6cb0")
        for it, x, y in zip(parts, xs, ys):
            ax.annotate(it.label.split(".", 1)[1], (x, y), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
        ax.axhline(0, color="#a0aec0", linewidth=0.8)
        ax.set_xlim(-0.05, 1.1)
        ax.set_ylim(-1.05, 1.05)
        ax.set_xlabel(R(W["difficulty"]))
        ax.set_ylabel(R(W["discrimination"]))
        ax.set_title(R(W["scatter"]), fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        out.append(_png(fig))
    return out


def _num(x, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _short_json(value, limit: int = 300) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + " …"


def render_class_report(results: Iterable[AssignmentResult], course=None, *,
                        language: str | None = None, feedback_dir: str | os.PathLike | None = None,
                        report_dir: str | os.PathLike | None = None) -> str:
    """The report page of one assignment's ``results`` as HTML.  Links to
    the feedback pages under ``feedback_dir`` are relative to ``report_dir``
    (both default to none: no links)."""
    from .analysis import item_analysis
    from .copying import copy_signals
    from .mining import mine_mistakes
    results = sorted(results, key=lambda r: r.student)
    if not results:
        raise ValueError("render_class_report: no results")
    assignment = results[0].assignment
    L = _Lang(language or (course.language if course is not None else "zh+en"))
    items = item_analysis(results, course)
    clusters = mine_mistakes(results, course)
    signals = copy_signals(results, course)
    title = W["title"]
    if course is not None and assignment in course.assignments:
        title = course.assignment(assignment).title + msg(" · 班级报告", " · class report")
    mean = float(np.mean([r.score for r in results]))
    top = max(r.max_score for r in results)
    h = [f'<!DOCTYPE html><html lang="{"en" if L.language == "en" else "zh-CN"}"><head>'
         f'<meta charset="utf-8"><meta name="viewport" content="width=device-width">'
         f"<title>{_e(assignment)} — {_e(L.plain(title))}</title><style>{_CSS}</style></head>"
         f"<body><main>",
         f"<h1>{_e(assignment)} · {L.inline(title)}</h1>",
         f"<p>{L.inline(W['students'])}: <b>{len(results)}</b> &nbsp; "
         f"{L.inline(W['mean'])}: <b>{fmt_score(mean)} / {fmt_score(top)}</b></p>",
         '<div class="plots">' + "".join(f'<img alt="plot" src="{src}">'
                                         for src in _plots(results, items, L.language)) + "</div>"]

    # item analysis
    h.append(f"<h2>{L.inline(W['items'])}</h2><section>{L.block(W['items_note'])}<table><tr>")
    h += [f"<th>{L.inline(W[k])}</th>" for k in ("item", "difficulty", "discrimination", "ul",
                                                  "blank", "carried", "named")]
    h.append("</tr>")
    for it in items:
        named = "; ".join(f"{L.inline(mistake_name(m))} {_pct(s)}" for m, s in it.mistakes.items())
        cls = ' class="question"' if it.part is None else ""
        flag = ' <span class="flag">▲</span>' if it.variant and it.variant.flagged else ""
        h.append(f"<tr{cls}><td>{_e(it.label)}{flag}</td><td class=n>{_pct(it.difficulty)}</td>"
                 f"<td class=n>{_num(it.discrimination)}</td><td class=n>{_num(it.upper_lower)}</td>"
                 f"<td class=n>{_pct(it.blank)}</td><td class=n>{_pct(it.carried)}</td>"
                 f"<td>{named}</td></tr>")
    h.append("</table></section>")

    # variants
    h.append(f"<h2>{L.inline(W['variants'])}</h2><section>")
    flagged = [it for it in items if it.variant and it.variant.flagged]
    for it in flagged:
        v = it.variant
        h.append(L.block(W["variant_row"].format(
            item=it.label, feature=v.feature, t=f"{v.threshold:g}", low=_pct(v.low_share),
            high=_pct(v.high_share), ln=v.low_n, hn=v.high_n, p=f"{v.p_value:.1g}"), "txt flag"))
    if not flagged:
        h.append(L.block(W["no_variants"]))
    h.append("</section>")

    # clusters
    h.append(f"<h2>{L.inline(W['clusters'])}</h2>")
    if not clusters:
        h.append(f"<section>{L.block(W['no_clusters'])}</section>")
    for c in clusters:
        h.append(f'<div class="card"><b>{L.inline(W["cluster_head"].format(label=c.label, n=len(c.students)))}</b>'
                 f" ({_pct(c.share)}): {_e(', '.join(c.students))}")
        if c.perturbation is not None:
            h.append(L.block(W["reproduced"] + c.perturbation.text))
        else:
            h.append(L.block(W["signature"] + Message(*(2 * [" ".join(map(str, c.signature[:2]))]))))
        h.append(L.block(W["example"].format(s=c.example_student) +
                         Message(*(2 * [_short_json(c.example)]))))
        if c.proposal:
            h.append(f"<div>{L.inline(W['proposal'])}</div><pre>{_e(c.proposal)}</pre>")
        h.append("</div>")

    # copy signals
    h.append(f"<h2>{L.inline(W['copying'])}</h2>")
    if not signals:
        h.append(f"<section>{L.block(W['no_copying'])}</section>")
    for s in signals:
        h.append(f'<div class="card"><span class="tag">{L.inline(W["kind_" + s.kind])}</span>'
                 f"{_e(', '.join(s.students + s.others))}{L.block(s.evidence)}")
        for student, src in sorted(s.detail.get("sources", {}).items()):
            h.append(f"<div>{_e(student)}</div><pre>{_e(src)}</pre>")
        h.append("</div>")

    # roster
    h.append(f"<h2>{L.inline(W['roster'])}</h2><section><table><tr><th>{L.inline(W['student'])}"
             f"</th><th>{L.inline(W['total'])}</th><th>{L.inline(W['feedback'])}</th></tr>")
    for r in results:
        link = "—"
        if feedback_dir is not None:
            target = feedback_path(feedback_dir, r, course)
            base = Path(report_dir) if report_dir is not None else Path(".")
            href = Path(os.path.relpath(Path(target).resolve(), base.resolve())).as_posix()
            link = f'<a href="{_e(href)}">{_e(Path(href).name)}</a>'
        h.append(f"<tr><td>{_e(r.student)}</td><td class=n>{fmt_score(r.score)} / "
                 f"{fmt_score(r.max_score)}</td><td>{link}</td></tr>")
    h.append(f"</table></section><footer>{L.block(W['footer'])}</footer></main></body></html>")
    return "\n".join(h)


def write_class_report(results: Iterable[AssignmentResult], out_dir: str | os.PathLike,
                       course=None, *, feedback_dir: str | os.PathLike | None = None,
                       language: str | None = None) -> Path:
    """Render the report (see :func:`render_class_report`) to
    :func:`class_report_path`; return the path."""
    results = list(results)
    if not results:
        raise ValueError("write_class_report: no results")
    path = class_report_path(out_dir, results[0].assignment)
    page = render_class_report(results, course, language=language, feedback_dir=feedback_dir,
                               report_dir=Path(out_dir))
    return write_text(path, page)

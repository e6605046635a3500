"""Class statistics: per question mean (and best, and maximum) score, the
share of students who made each named mistake, and a histogram of total
scores — as a plain-text table (:func:`stats_table`) and as PNG plots
(:func:`stats_plots`).

Definitions (per assignment; results of several assignments are reported
one assignment after the other):

* a question's score for a student is the sum of its part scores (a
  question absent from a student's result counts 0); ``mean`` is over the
  students, ``best`` the highest, ``max_score`` the question's points;
* a mistake's ``students`` is the number of students with at least one part
  diagnosed with it, ``share`` = ``students / n``, ``parts`` the number of
  diagnosed parts in the class;
* ``attempts`` lists, per student whose code reached for the reference
  (an import of a grader module refused in the sandbox, see
  :mod:`autograder.sandbox.allowlist`), where: :func:`attempt_summary`;
* the histogram splits ``[0, max_score]`` of the assignment's total into
  ``bins`` equal bins, each ``[lo, hi)`` except the last, ``[lo, hi]``.

Plots are drawn with matplotlib's Agg renderer (no display needed).  Their
labels follow the course language when a CJK font is installed
(:func:`cjk_font`); without one, Chinese would print as empty boxes, so the
labels fall back to English and a warning says so.
"""
from __future__ import annotations

import io
import logging
import math
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..i18n import check_language, msg
from ..mistakes import mistake_name
from ..results import AssignmentResult, round_score
from .feedback import fmt_score
from .files import ReportError, ensure_dir, safe_component, write_text

__all__ = ["QuestionStats", "MistakeStats", "AssignmentStats", "compute_stats",
           "attempt_summary", "stats_table", "stats_plots", "cjk_font", "ReportError"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuestionStats:
    """One question across the class."""
    question: str
    max_score: float
    mean: float
    best: float
    n: int


@dataclass(frozen=True)
class MistakeStats:
    """One named mistake across the class."""
    mistake: str
    students: int
    share: float
    parts: int


@dataclass(frozen=True)
class AssignmentStats:
    """One assignment across the class; ``histogram`` is ``[(lo, hi, count)]``."""
    assignment: str
    n: int
    max_score: float
    mean: float
    questions: list[QuestionStats]
    mistakes: list[MistakeStats]
    histogram: list[tuple[float, float, int]]
    #: ``[(student, attempt_summary)]`` of the students who reached for the reference
    attempts: tuple[tuple[str, str], ...] = ()


def attempt_summary(result: AssignmentResult) -> str:
    """Where ``result``'s code reached for the reference (refused, recorded
    in ``details["reference_attempts"]``), in one short line, e.g.
    ``A7.q1 (import autograder.questions.a7) +2`` (two more); ``""`` if nowhere."""
    found = result.details.get("reference_attempts")
    if not isinstance(found, list) or not found:
        return ""
    first = found[0] if isinstance(found[0], dict) else {}
    where = str(first.get("question") or (f"cell {first['cell']}" if "cell" in first else "?"))
    text = f"{where} ({first.get('how', '?')} {str(first.get('module', '?'))[:60]})"
    return text + (f" +{len(found) - 1}" if len(found) > 1 else "")


def _mean(values: list[float]) -> float:
    return round_score(math.fsum(values) / len(values)) if values else 0.0


def _histogram(totals: list[float], max_score: float, bins: int) -> list[tuple[float, float, int]]:
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    if max_score <= 0:
        return [(0.0, 0.0, len(totals))]
    edges = [round_score(max_score * i / bins) for i in range(bins + 1)]
    counts = [0] * bins
    for t in totals:
        i = min(bins - 1, max(0, int(math.floor(t / max_score * bins + 1e-9))))
        while i > 0 and t < edges[i]:          # guard the floor against rounding
            i -= 1
        while i < bins - 1 and t >= edges[i + 1]:
            i += 1
        counts[i] += 1
    return [(edges[i], edges[i + 1], counts[i]) for i in range(bins)]


def compute_stats(results: Iterable[AssignmentResult], bins: int = 10) -> list[AssignmentStats]:
    """The statistics of ``results``, one :class:`AssignmentStats` per
    assignment (sorted by assignment id).  Two results for the same student
    and assignment are a ``ValueError``."""
    groups: dict[str, list[AssignmentResult]] = {}
    seen = set()
    for r in results:
        if not isinstance(r, AssignmentResult):
            raise TypeError(f"compute_stats takes AssignmentResult objects, "
                            f"got {type(r).__name__}")
        if (r.assignment, r.student) in seen:
            raise ValueError(msg(f"{r.assignment} 中 {r.student!r} 有两个结果。",
                                 f"two results for {r.student!r} in {r.assignment}")
                             .render("zh+en"))
        seen.add((r.assignment, r.student))
        groups.setdefault(r.assignment, []).append(r)
    out = []
    for assignment in sorted(groups):
        group = groups[assignment]
        n = len(group)
        order: list[str] = []
        maxes: dict[str, float] = {}
        for r in group:
            for qid, (_, m) in r.totals().items():
                if qid not in maxes:
                    order.append(qid)
                maxes[qid] = max(maxes.get(qid, 0.0), m)
        questions = []
        for qid in order:
            scores = [r.totals().get(qid, (0.0, 0.0))[0] for r in group]
            questions.append(QuestionStats(qid, maxes[qid], _mean(scores),
                                           max(scores), n))
        students: dict[str, set[str]] = {}
        parts: dict[str, int] = {}
        for r in group:
            for q in r.questions:
                if q.diagnosis:
                    students.setdefault(q.diagnosis, set()).add(r.student)
                    parts[q.diagnosis] = parts.get(q.diagnosis, 0) + 1
        mistakes = sorted((MistakeStats(m, len(s), round_score(len(s) / n), parts[m])
                           for m, s in students.items()),
                          key=lambda x: (-x.students, -x.parts, x.mistake))
        totals = [r.score for r in group]
        max_score = max(r.max_score for r in group)
        attempts = sorted((r.student, attempt_summary(r)) for r in group if attempt_summary(r))
        out.append(AssignmentStats(assignment, n, max_score, _mean(totals), questions,
                                   mistakes, _histogram(totals, max_score, bins), tuple(attempts)))
    return out


# --------------------------------------------------------------------------
# the text table

W = {
    "heading": msg("{a}：{n} 名学生，平均总分 {mean} / {max}",
                   "{a}: {n} students, mean total {mean} / {max}"),
    "question": msg("题目", "Question"),
    "max": msg("满分", "Max"),
    "mean": msg("平均分", "Mean"),
    "best": msg("最高分", "Best"),
    "mean_pct": msg("得分率", "Mean %"),
    "mistake": msg("典型错误", "Named mistake"),
    "name": msg("名称", "Name"),
    "students": msg("学生数", "Students"),
    "share": msg("占比", "Share"),
    "parts": msg("小题数", "Parts"),
    "no_mistakes": msg("没有诊断出典型错误。", "No named mistakes were diagnosed."),
    "attempts": msg("试图取用参考答案（评分时已拒绝）的学生：{n} 名",
                    "Students who reached for the reference (refused in grading): {n}"),
    "student": msg("学生", "Student"),
    "where": msg("位置", "Where"),
    "histogram": msg("总分分布", "Total score histogram"),
    "range": msg("分数段", "Range"),
    "count": msg("人数", "Count"),
    "no_results": msg("没有结果。", "No results."),
    "hist_title": msg("{a} 总分分布", "{a}: total scores"),
    "hist_x": msg("总分", "Total score"),
    "hist_y": msg("学生数", "Students"),
    "q_title": msg("{a} 各题平均分", "{a}: mean score per question"),
    "q_y": msg("分数", "Score"),
    "q_mean": msg("平均分", "mean"),
    "q_max": msg("满分", "max"),
    "m_title": msg("{a} 典型错误（学生占比）", "{a}: named mistakes (share of students)"),
    "m_x": msg("学生占比 (%)", "Share of students (%)"),
    "no_font": msg("没有找到中文字体：统计图的标签改用英文。",
                   "No CJK font found: the plots' labels are in English."),
}


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * max(0, width - _width(text))
    return fill + text if right else text + fill


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    """Aligned columns; a cell may hold several lines (``\\n``), the row is
    then as tall as its tallest cell."""
    grid = [[c.split("\n") for c in row] for row in [header] + rows]
    widths = [max(_width(line) for row in grid for line in row[i]) for i in range(len(header))]
    lines = []
    for k, row in enumerate(grid):
        height = max(len(c) for c in row)
        for h in range(height):
            cells = [_pad(c[h] if h < len(c) else "", widths[i], i in right)
                     for i, c in enumerate(row)]
            lines.append("  ".join(cells).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def stats_table(results: Iterable[AssignmentResult], language: str = "zh+en",
                bins: int = 10) -> str:
    """The class statistics as a plain-text report (see the module
    docstring); headings in ``language`` (``zh+en``: Chinese above English)."""
    check_language(language)
    R = lambda m: m.render(language)  # noqa: E731
    stats = compute_stats(results, bins)
    if not stats:
        return R(W["no_results"]) + "\n"
    out: list[str] = []
    for st in stats:
        out.append(R(W["heading"].format(a=st.assignment, n=st.n, mean=fmt_score(st.mean),
                                         max=fmt_score(st.max_score))))
        out.append("")
        rows = [[q.question, fmt_score(q.max_score), fmt_score(q.mean), fmt_score(q.best),
                 f"{100 * q.mean / q.max_score:.0f}%" if q.max_score else "—"]
                for q in st.questions]
        out += _table([R(W["question"]), R(W["max"]), R(W["mean"]), R(W["best"]),
                       R(W["mean_pct"])], rows, {1, 2, 3, 4})
        out.append("")
        if st.mistakes:
            rows = [[m.mistake, R(mistake_name(m.mistake)), str(m.students),
                     f"{100 * m.share:.1f}%", str(m.parts)] for m in st.mistakes]
            out += _table([R(W["mistake"]), R(W["name"]), R(W["students"]), R(W["share"]),
                           R(W["parts"])], rows, {2, 3, 4})
        else:
            out.append(R(W["no_mistakes"]))
        out.append("")
        if st.attempts:
            out.append(R(W["attempts"].format(n=len(st.attempts))))
            out += _table([R(W["student"]), R(W["where"])], [list(a) for a in st.attempts], set())
            out.append("")
        top = max((c for _, _, c in st.histogram), default=0)
        rows = [[f"{fmt_score(lo)}–{fmt_score(hi)}", str(c),
                 "#" * (round(30 * c / top) if top else 0)] for lo, hi, c in st.histogram]
        out.append(R(W["histogram"]))
        out += _table([R(W["range"]), R(W["count"]), ""], rows, {1})
        out.append("")
    return "\n".join(out).rstrip() + "\n"


# --------------------------------------------------------------------------
# the plots

#: fonts with Chinese glyphs, most preferred first
_CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
              "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Microsoft YaHei", "SimHei",
              "PingFang SC", "Hiragino Sans GB", "Heiti SC", "Sarasa Gothic SC",
              "Droid Sans Fallback", "AR PL UMing CN", "AR PL UKai CN", "Noto Sans CJK JP",
              "Noto Sans CJK TC")
_CJK_FILES = ("notosanscjk", "notoserifcjk", "sourcehansans", "wqy", "msyh", "simhei",
              "droidsansfallback", "uming", "ukai", "sarasa")


def cjk_font() -> str | None:
    """The name of an installed font matplotlib can draw Chinese with, or
    ``None``.  Fonts installed after matplotlib built its font cache are
    found on disk and registered."""
    from matplotlib import font_manager as fm
    names = {f.name for f in fm.fontManager.ttflist}
    for name in _CJK_FONTS:
        if name in names:
            return name
    for path in fm.findSystemFonts():
        if any(key in os.path.basename(path).lower().replace("-", "") for key in _CJK_FILES):
            try:
                fm.fontManager.addfont(path)
                return fm.FontProperties(fname=path).get_name()
            except Exception:  # noqa: BLE001 - an unreadable font file: try the next
                continue
    return None


def _plot_language(language: str) -> tuple[str, str | None]:
    """The language the plots can be labelled in, and the CJK font to use."""
    if language == "en":
        return "en", None
    font = cjk_font()
    if font is None:
        log.warning(W["no_font"].render("zh+en"))
        return "en", None
    return language, font


def _save(fig, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return write_text(path, buf.getvalue())


def stats_plots(results: Iterable[AssignmentResult], out_dir: str | os.PathLike,
                language: str = "zh+en", bins: int = 10) -> list[Path]:
    """Write three PNGs per assignment into ``out_dir`` and return their
    paths: ``<A>_question_means.png`` (mean vs maximum per question),
    ``<A>_mistakes.png`` (share of students per named mistake) and
    ``<A>_histogram.png`` (total scores).  Labels are in ``language`` when
    a CJK font is installed, else in English (see :func:`cjk_font`).  An
    unwritable ``out_dir`` is a :class:`ReportError` naming it."""
    check_language(language)
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    stats = compute_stats(results, bins)
    out_dir = ensure_dir(out_dir)
    lang, font = _plot_language(language)
    R = lambda m: m.render(lang)  # noqa: E731
    rc = {"font.family": "sans-serif",
          "font.sans-serif": ([font] if font else []) + ["DejaVu Sans"],
          "axes.unicode_minus": False}
    paths: list[Path] = []
    with rc_context(rc):
        for st in stats:
            stem = safe_component(st.assignment, "assignment id")

            # 1. mean score per question, against its maximum
            fig = Figure(figsize=(7.5, 4.2))
            FigureCanvasAgg(fig)
            ax = fig.subplots()
            names = [q.question for q in st.questions]
            xs = range(len(names))
            ax.bar(xs, [q.max_score for q in st.questions], color="#e4e7eb",
                   label=R(W["q_max"]).replace("\n", " / "))
            bars = ax.bar(xs, [q.mean for q in st.questions], width=0.6, color="#2b6cb0",
                          label=R(W["q_mean"]).replace("\n", " / "))
            for rect, q in zip(bars, st.questions):
                ax.annotate(fmt_score(q.mean), (rect.get_x() + rect.get_width() / 2,
                                                rect.get_height()),
                            ha="center", va="bottom", fontsize=8)
            ax.set_xticks(list(xs), names)
            ax.set_ylabel(R(W["q_y"]))
            ax.set_title(R(W["q_title"].format(a=st.assignment)), fontsize=11)
            ax.legend(frameon=False, fontsize=8)
            ax.spines[["top", "right"]].set_visible(False)
            fig.tight_layout()
            paths.append(_save(fig, out_dir / f"{stem}_question_means.png"))

            # 2. share of students per named mistake
            fig = Figure(figsize=(7.5, max(2.6, 0.5 * len(st.mistakes) + 1.6)))
            FigureCanvasAgg(fig)
            ax = fig.subplots()
            if st.mistakes:
                labels = [R(mistake_name(m.mistake)).replace("\n", " / ")
                          if lang != "en" else mistake_name(m.mistake).en
                          for m in st.mistakes][::-1]
                shares = [100 * m.share for m in st.mistakes][::-1]
                rects = ax.barh(range(len(labels)), shares, height=0.6, color="#c05621")
                ax.set_yticks(range(len(labels)), labels, fontsize=8)
                for rect, m in zip(rects, st.mistakes[::-1]):
                    ax.annotate(f" {100 * m.share:.0f}% ({m.students}/{st.n})",
                                (rect.get_width(), rect.get_y() + rect.get_height() / 2),
                                va="center", fontsize=8)
                ax.set_xlim(0, 115)
            else:
                ax.text(0.5, 0.5, R(W["no_mistakes"]), ha="center", va="center",
                        transform=ax.transAxes)
                ax.set_yticks([])
            ax.set_xlabel(R(W["m_x"]))
            ax.set_title(R(W["m_title"].format(a=st.assignment)), fontsize=11)
            ax.spines[["top", "right"]].set_visible(False)
            fig.tight_layout()
            paths.append(_save(fig, out_dir / f"{stem}_mistakes.png"))

            # 3. histogram of total scores
            fig = Figure(figsize=(7.5, 4.2))
            FigureCanvasAgg(fig)
            ax = fig.subplots()
            lows = [lo for lo, _, _ in st.histogram]
            widths = [max(hi - lo, 0.5) for lo, hi, _ in st.histogram]
            ax.bar(lows, [c for _, _, c in st.histogram], width=widths, align="edge",
                   color="#2f855a", edgecolor="white")
            ax.set_xlabel(R(W["hist_x"]))
            ax.set_ylabel(R(W["hist_y"]))
            ax.set_title(R(W["hist_title"].format(a=st.assignment)), fontsize=11)
            ax.yaxis.get_major_locator().set_params(integer=True)
            ax.spines[["top", "right"]].set_visible(False)
            fig.tight_layout()
            paths.append(_save(fig, out_dir / f"{stem}_histogram.png"))
    return paths


"""autograder.reports: feedback pages, nbgrader CSV / Gradescope exports and class
statistics — checked against independent computations, nbgrader's own exporter
and a real headless browser."""
from __future__ import annotations

import csv
import io
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import browser

from autograder import gradebook as gbm
from autograder.config import load_course
from autograder.i18n import msg
from autograder.judge import grade_submission, variant_of
from autograder.mistakes import SIGN_ERROR
from autograder.questions import questions_of
from autograder.reports import (NBGRADER_CSV_COLUMNS, compute_stats, csv_rows,
                                gradescope_results, render_feedback, stats_plots, stats_table,
                                write_csv, write_feedback, write_gradescope)
from autograder.reports import stats as stats_mod
from autograder.reports.feedback import feedback_path
from autograder.reports.files import ReportError
from autograder.results import AssignmentResult, QuestionResult

ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(ROOT / "course.yaml")
CHROMIUM = Path("/usr/bin/chromium")
SECRET = "HIDDEN-INPUT-7f3a9c"


def result_of(student: str, kind: str = "right") -> AssignmentResult:
    params, _ = variant_of(COURSE, "A4", student)
    qs = {q.local_id: q for q in questions_of("A4")}
    answers = {qid: q.reference(params) for qid, q in qs.items()}
    if kind in ("sign", "ecf"):
        answers["q2"] = {k: -np.asarray(v) for k, v in answers["q2"].items()}
    if kind == "ecf":                       # q3 consistent with the wrong q2: carried forward
        answers["q3"] = qs["q3"].build(params, answers["q2"])
    if kind == "half":
        answers["q1"]["z1"] = np.asarray(answers["q1"]["z1"]) + 1.0
        del answers["q3"]["W1"]
    if kind == "blank":
        answers = {}
    return grade_submission(COURSE, "A4", answers, student)


@pytest.fixture(scope="module")
def results() -> list[AssignmentResult]:
    return [result_of("alice", "ecf"), result_of("bob"), result_of("carol", "sign"),
            result_of("dave", "blank"), result_of("erin", "half")]


def _hostile() -> AssignmentResult:
    """A result whose feedback quotes hostile text and whose details hold hidden data."""
    r = AssignmentResult(assignment="A4", student="mallory<i>", variant_seed=918273645,
                         details={"sandbox_log": f"log {SECRET}-log"})
    r.add(QuestionResult(
        question="A4.q1", part="z1", score=0, max_score=1.5, status="invalid",
        feedback=[msg("无法读取：<script>alert('zh')</script>",
                      "could not read: <script>alert('en')</script> & <img src=x>"),
                  "plain <b>note</b> \"quoted\""],
        details={"hidden_inputs": [SECRET], "reference": f"ref-{SECRET}"}))
    r.add(QuestionResult(question="A4.q1", part="y_hat", score=1.5, max_score=1.5,
                         status="correct", feedback=[msg("正确。", "correct.")],
                         details={"expected": f"{SECRET}-expected"}))
    r.add(QuestionResult(question="A4.q2", part="dW1", score=0, max_score=3, status="wrong",
                         diagnosis="made_up<id>", feedback=[msg("不对。", "not right.")]))
    return r


# ==========================================================================
# feedback pages

def test_page_shows_scores_statuses_and_totals(results):
    erin = results[4]
    page = render_feedback(erin, COURSE, language="en")
    assert page.startswith("<!DOCTYPE html>")
    assert "One step of backprop with ReLU" in page and "erin" in page
    total = f'<span class="big">{erin.score:g}</span>'
    assert total in page and f"/ {erin.max_score:g}" in page
    for q in erin.questions:
        assert f'<code class="pname">{q.part}</code>' in page
        assert f"{q.score:g}<span class=\"of\"> / {q.max_score:g}</span>" in page
    assert "no answer" in page and "wrong" in page and "correct" in page
    for qid, (s, m) in erin.totals().items():
        assert f"{s:g} / {m:g}" in page


def test_page_language(results):
    carol = results[2]
    zh = render_feedback(carol, COURSE, language="zh")
    en = render_feedback(carol, COURSE, language="en")
    both = render_feedback(carol, COURSE, language="zh+en")
    assert "ReLU 网络的一步反向传播" in zh and "One step of backprop" not in zh
    assert "One step of backprop" in en and "网络的一步" not in en
    assert "作业反馈" in zh and "Feedback" not in zh.split("</head>")[1]
    assert "Named mistake" in en and "典型错误" not in en
    assert both.index("ReLU 网络的一步反向传播") < both.index("One step of backprop with ReLU")
    assert both.index("符号错误") < both.index("Sign error")
    assert 'lang="en"' in both and 'lang="zh-CN"' in both
    assert render_feedback(carol, COURSE) == both                  # course.yaml says zh+en
    assert render_feedback(carol) == render_feedback(carol, language="zh+en")
    with pytest.raises(ValueError, match="language"):
        render_feedback(carol, COURSE, language="fr")


def test_named_mistakes_with_hints(results):
    carol = results[2]
    page = render_feedback(carol, COURSE, language="en")
    name, hint = SIGN_ERROR.name.en, SIGN_ERROR.hint.en
    diagnosed = [q for q in carol.questions if q.diagnosis == "sign_error"]
    assert len(diagnosed) == 4 and len({q.question for q in diagnosed}) == 1
    # issue 16: explained once per question, the other parts point back to it
    assert page.count('<div class="mistake">') == 1
    assert page.count(f'<div class="mk-name" lang="en">{name}</div>') == 1
    import html
    assert page.count(html.escape(hint)) == 1
    assert page.count(f"The same named mistake as {diagnosed[0].part} above.") == 3
    zh = render_feedback(carol, COURSE, language="zh")
    assert zh.count(html.escape(SIGN_ERROR.hint.zh)) == 1
    # an id outside the catalogue is still named, escaped
    hostile = render_feedback(_hostile(), COURSE, language="en")
    assert "made_up&lt;id&gt;" in hostile and "made_up<id>" not in hostile


def test_carried_forward_badge(results):
    alice, bob = results[0], results[1]
    page = render_feedback(alice, COURSE, language="zh+en")
    carried = [q for q in alice.questions if q.carried_forward]
    assert len(carried) == 7
    assert page.count('class="chip ecf"') == len(carried)
    assert "carried forward" in page and "误差传递给分" in page
    assert 'class="chip ecf"' not in render_feedback(bob, COURSE)


def test_everything_from_results_is_escaped():
    page = render_feedback(_hostile(), COURSE, language="zh+en")
    assert "<script" not in page and "<img" not in page and "<b>note" not in page
    assert "&lt;script&gt;alert(&#x27;en&#x27;)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(&#x27;zh&#x27;)&lt;/script&gt;" in page
    assert "&amp; &lt;img src=x&gt;" in page
    assert "plain &lt;b&gt;note&lt;/b&gt; &quot;quoted&quot;" in page
    assert "mallory&lt;i&gt;" in page and "mallory<i>" not in page


def test_hidden_details_and_seed_never_shown():
    r = _hostile()
    for language in ("zh", "en", "zh+en"):
        page = render_feedback(r, COURSE, language=language)
        assert SECRET not in page
        assert "918273645" not in page                 # the variant seed rebuilds hidden inputs
        assert "hidden_inputs" not in page and "sandbox_log" not in page
    gs = json.dumps(gradescope_results(r, COURSE))
    assert SECRET not in gs and "918273645" not in gs


def test_page_is_self_contained(results):
    page = render_feedback(results[0], COURSE)
    lowered = page.lower()
    for needle in ("<script", "http://", "https://", "src=", "<link", "@import", "url(",
                   "<iframe", "javascript:"):
        assert needle not in lowered, needle
    assert '<meta charset="utf-8">' in page and "<style>" in page


def test_worked_solution(results):
    md = "## 推导 Derivation\n\nδ = y − t, so **dW2 = δ hᵀ**.\n\n```\nW1 -= lr * dW1\n```\n"
    page = render_feedback(results[2], COURSE, solution=md)
    assert "参考解答" in page and "Worked solution" in page
    assert "<strong>dW2 = δ hᵀ</strong>" in page or "dW2 = δ hᵀ" in page
    assert "W1 -= lr * dW1" in page
    assert "Worked solution" not in render_feedback(results[2], COURSE)
    html_page = render_feedback(results[2], COURSE, solution="<p class='x'>ok</p>",
                                solution_format="html")
    assert "<p class='x'>ok</p>" in html_page
    text_page = render_feedback(results[2], COURSE, solution="a < b", solution_format="text")
    assert "a &lt; b" in text_page
    per_lang = render_feedback(results[2], COURSE, language="en",
                               solution=msg("中文解答", "English solution"),
                               solution_format="text")
    assert "English solution" in per_lang and "中文解答" not in per_lang
    with pytest.raises(ValueError, match="solution_format"):
        render_feedback(results[2], COURSE, solution="x", solution_format="pdf")


def test_write_feedback_layout_and_errors(results, tmp_path):
    path = write_feedback(results[0], tmp_path / "feedback", COURSE)
    assert path == tmp_path / "feedback" / "alice" / "A4" / "A4_relu_backprop_step.html"
    assert path.read_text(encoding="utf-8") == render_feedback(results[0], COURSE)
    assert feedback_path(tmp_path, results[0]) == tmp_path / "alice" / "A4" / "feedback.html"
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(ReportError, match=str(blocker)):
        write_feedback(results[0], blocker / "out", COURSE)
    evil = AssignmentResult(assignment="A4", student="../../etc")
    with pytest.raises(ValueError, match="student id"):
        write_feedback(evil, tmp_path / "feedback", COURSE)


def test_page_from_the_gradebook_equals_the_fresh_one(results, tmp_path):
    url = f"sqlite:///{tmp_path / 'gb.db'}"
    with gbm.GradebookStore(url) as store:
        store.record(COURSE, results[0])
        again = store.load_result("A4", "alice")
    assert render_feedback(again, COURSE) == render_feedback(results[0], COURSE)


# --------------------------------------------------------------------------
# the page in a real browser

def _screenshot(page: Path, png: Path) -> None:
    proc = browser.screenshot(page, png, size=(1200, 1600), timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.skipif(not CHROMIUM.exists(),
                    reason="Debian's chromium is not installed (/usr/bin/chromium); "
                           "apt-get install -y chromium to run the browser check")
@pytest.mark.parametrize("language", ["zh+en", "en"])
def test_feedback_page_in_headless_chromium(results, tmp_path, language):
    """Render a feedback page in chromium and check the screenshot is a real
    page (set NNGRADE_SCREENSHOT_DIR to keep the PNGs)."""
    import matplotlib.image as mpimg
    md = "## 推导 Derivation\n\n```\nW1 -= lr * dW1\n```\n"
    page = write_feedback(results[0], tmp_path / "feedback", COURSE, language=language,
                          solution=md)
    png = tmp_path / f"feedback-{language.replace('+', '_')}.png"
    _screenshot(page, png)
    assert png.exists() and png.stat().st_size > 20_000
    pixels = mpimg.imread(str(png))
    assert pixels.shape[:2] == (1600, 1200)
    colours = np.unique((pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 100, "the screenshot looks blank"
    keep = os.environ.get("NNGRADE_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(keep) / png.name)
        shutil.copy(page, Path(keep) / png.with_suffix(".html").name)


# ==========================================================================
# exports

def test_csv_columns_and_rows_equal_nbgraders_exporter(results, tmp_path):
    from nbgrader.api import Gradebook
    from nbgrader.plugins.export import CsvExportPlugin
    url = f"sqlite:///{tmp_path / 'gb.db'}"
    with gbm.GradebookStore(url) as store:
        for r in results:
            store.record(COURSE, r)
    theirs_path = tmp_path / "nbgrader.csv"
    with Gradebook(url) as gb:
        CsvExportPlugin(to=str(theirs_path)).export(gb)
    ours_path = write_csv(results, tmp_path / "ours.csv", COURSE)
    theirs = theirs_path.read_text().splitlines()
    ours = ours_path.read_text(encoding="utf-8").splitlines()
    assert ours[0] == theirs[0] == ",".join(NBGRADER_CSV_COLUMNS)
    parse = lambda lines: sorted(csv.DictReader(io.StringIO("\n".join(lines))),  # noqa: E731
                                 key=lambda row: row["student_id"])
    for a, b in zip(parse(ours), parse(theirs), strict=True):
        for key in NBGRADER_CSV_COLUMNS:
            if key in ("raw_score", "late_submission_penalty", "score", "max_score"):
                assert float(a[key]) == pytest.approx(float(b[key])), key
            else:
                assert a[key] == b[key], key


def test_csv_lookups_and_quoting(results, tmp_path):
    rows = csv_rows(results[:2], COURSE,
                    students={"alice": {"last_name": "Li, Jr.", "first_name": "Ai",
                                        "email": "ai@example.edu"}},
                    timestamps={("A4", "alice"): "2025-03-01 10:00:00"},
                    penalties={("A4", "alice"): 2.0})
    assert [list(r) for r in rows] == [list(NBGRADER_CSV_COLUMNS)] * 2
    alice = rows[0]
    assert alice["last_name"] == "Li, Jr." and alice["timestamp"] == "2025-03-01 10:00:00"
    assert float(alice["score"]) == results[0].score - 2.0
    assert float(alice["raw_score"]) == results[0].score
    path = write_csv(results[:2], tmp_path / "g.csv", COURSE,
                     students={"alice": {"last_name": "Li, Jr."}})
    back = list(csv.DictReader(path.open(encoding="utf-8")))
    assert back[0]["last_name"] == "Li, Jr."
    with pytest.raises(ValueError, match="two results"):
        csv_rows([results[0], results[0]])


def test_gradescope_results_schema(results, tmp_path):
    carol = results[2]
    data = gradescope_results(carol, COURSE, language="en")
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert set(data) == {"score", "output", "tests"}
    assert data["score"] == pytest.approx(sum(q.score for q in carol.questions))
    assert isinstance(data["output"], str) and data["output"]
    assert len(data["tests"]) == len(carol.questions)
    for test, q in zip(data["tests"], carol.questions):
        assert set(test) == {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["name"] == q.label
        assert test["score"] == q.score and test["max_score"] == q.max_score
        assert test["status"] == ("passed" if q.score == q.max_score else "failed")
        assert test["visibility"] == "visible"
        assert isinstance(test["output"], str)
        if q.diagnosis == "sign_error":
            assert "Sign error" in test["output"]
            assert test["output"].count("gradient descent is") == 1
    assert sum(t["score"] for t in data["tests"]) == pytest.approx(data["score"])
    alice = gradescope_results(results[0], COURSE, language="en")
    assert sum("Carried forward" in t["output"] for t in alice["tests"]) == 7
    path = write_gradescope(carol, tmp_path / "results" / "results.json", COURSE)
    assert json.loads(path.read_text(encoding="utf-8"))["score"] == data["score"]
    zh = gradescope_results(carol, COURSE)           # course language zh+en
    assert "符号错误" in json.dumps(zh, ensure_ascii=False) and "Sign error" in json.dumps(zh)


# ==========================================================================
# statistics

def _independent_stats(results):
    """Per question means / best, mistake shares and histogram, computed
    from the JSON form with plain Python and NumPy."""
    dicts = [r.to_dict() for r in results]
    n = len(dicts)
    per_q: dict[str, list[float]] = {}
    for d in dicts:
        sums: dict[str, float] = {}
        for q in d["questions"]:
            sums[q["question"]] = sums.get(q["question"], 0.0) + q["score"]
        for qid, s in sums.items():
            per_q.setdefault(qid, []).append(s)
    maxima = {}
    for q in dicts[0]["questions"]:
        maxima[q["question"]] = maxima.get(q["question"], 0.0) + q["max_score"]
    means = {qid: sum(v) / n for qid, v in per_q.items()}
    best = {qid: max(v) for qid, v in per_q.items()}
    who: dict[str, set] = {}
    for d in dicts:
        for q in d["questions"]:
            if q["diagnosis"]:
                who.setdefault(q["diagnosis"], set()).add(d["student"])
    shares = {m: len(s) / n for m, s in who.items()}
    totals = [d["score"] for d in dicts]
    counts, edges = np.histogram(totals, bins=10, range=(0, dicts[0]["max_score"]))
    return means, best, maxima, shares, counts.tolist(), edges.tolist()


def test_stats_numbers(results):
    (st,) = compute_stats(results)
    means, best, maxima, shares, counts, edges = _independent_stats(results)
    assert st.assignment == "A4" and st.n == len(results)
    assert st.mean == pytest.approx(np.mean([r.score for r in results]))
    assert {q.question: q.mean for q in st.questions} == pytest.approx(means)
    assert {q.question: q.best for q in st.questions} == pytest.approx(best)
    assert {q.question: q.max_score for q in st.questions} == pytest.approx(maxima)
    assert {m.mistake: m.share for m in st.mistakes} == pytest.approx(shares)
    assert shares == {"sign_error": 2 / 5}              # carol and alice
    assert [c for _, _, c in st.histogram] == counts
    assert [lo for lo, _, _ in st.histogram] + [st.histogram[-1][1]] == pytest.approx(edges)
    assert sum(counts) == len(results)


def test_stats_table_text(results):
    table = stats_table(results, language="en")
    (st,) = compute_stats(results)
    assert "A4: 5 students" in table
    for q in st.questions:
        line = next(l for l in table.splitlines() if l.startswith(q.question))
        assert f"{q.mean:.3f}".rstrip("0").rstrip(".") in line
    line = next(l for l in table.splitlines() if l.startswith("sign_error"))
    assert "Sign error" in line and "40.0%" in line
    both = stats_table(results)
    lines = both.splitlines()
    assert lines[0].startswith("A4：5 名学生") and lines[1].startswith("A4: 5 students")
    assert "符号错误" in both and "题目" in both and "Question" in both
    assert stats_table([]).strip() == "没有结果。\nNo results."


def test_stats_plots_written(results, tmp_path):
    paths = stats_plots(results, tmp_path / "plots")
    assert [p.name for p in paths] == ["A4_question_means.png", "A4_mistakes.png",
                                       "A4_histogram.png"]
    for p in paths:
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000


def test_stats_plots_fall_back_to_english_without_cjk_font(results, tmp_path, monkeypatch,
                                                           caplog):
    monkeypatch.setattr(stats_mod, "cjk_font", lambda: None)
    with caplog.at_level(logging.WARNING, logger=stats_mod.__name__):
        paths = stats_plots(results, tmp_path / "plots", language="zh")
    assert len(paths) == 3 and all(p.exists() for p in paths)
    assert any("No CJK font" in rec.getMessage() for rec in caplog.records)


def test_stats_plots_unwritable_dir(results, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(ReportError, match=str(blocker)):
        stats_plots(results, blocker / "plots")

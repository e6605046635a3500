"""The class report on a synthetic A5 class with known structure.

36 students, judged through the real path (``grade_submission`` with an
in-process runner on each student's own function source, then
``record_answers``), with these planted items:

* s01–s08 answer q3 from labels shifted by one sample (``np.roll(Y, 1)``,
  an off-by-one index no catalogued mistake names), every value computed
  by nn_core's reference on the shifted labels;
* s10 and s11 wrote the same ``backward`` — s11's is s10's with every
  variable renamed, other comments and spacing;
* s12 answered q3 with the reference answers of s13's variant;
* q3/db2 is easy for small batches: students whose batch has n ≤ 4 rows get
  it right, the others make individual (unclustered) slips.

Every other student writes a differently built ``backward`` and answers
from their own variant. The report must find each planted item and flag
no honest student.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import browser

from autograder.config import load_course
from autograder.functions import InProcessRunner
from autograder.judge import grade_submission, variant_of
from autograder.questions import get_question
from autograder.recording import RecordingRunner, function_sources, record_answers

ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(ROOT / "course.yaml")
CHROMIUM = Path("/usr/bin/chromium")
Q3 = get_question("A5.q3")

STUDENTS = [f"s{i:02d}" for i in range(36)]
MISTAKE = STUDENTS[1:9]
COPY_PAIR = ("s10", "s11")
NUMBER_COPIER, NUMBER_SOURCE = "s12", "s13"

COMMON = '''
def forward(X, W1, b1, W2, b2):
    A1 = 1 / (1 + np.exp(-(X @ W1.T + b1)))
    A2 = 1 / (1 + np.exp(-(A1 @ W2.T + b2)))
    return A1, A2


def cost(X, Y, W1, b1, W2, b2):
    _, A2 = forward(X, W1, b1, W2, b2)
    return float(-np.mean(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)))
'''

BACKWARD = '''
def backward(X, Y, W1, b1, W2, b2):
    # {comment}
    A1, A2 = forward(X, W1, b1, W2, b2)
    {n} = {N}
    {dZ2} = (A2 - Y) / {n}
    dW2 = {MM}
    db2 = {SUM2}
    {dZ1} = ({dZ2} @ W2) * {DER}
    dW1 = {dZ1}.T @ X
    db1 = {SUM1}
    return dW1, db1, dW2, db2
'''

CHOICES = {
    "N": ["len(X)", "X.shape[0]"],
    "MM": ["{dZ2}.T @ A1", "np.dot({dZ2}.T, A1)", "(A1.T @ {dZ2}).T"],
    "SUM": ["{d}.sum(axis=0)", "np.sum({d}, axis=0)", "np.ones({n}) @ {d}"],
    "DER": ["A1 * (1 - A1)", "(1 - A1) * A1", "(A1 - A1 ** 2)"],
}


def backward_source(i: int, names=("n", "dZ2", "dZ1"), comment="backward pass") -> str:
    """Student ``i``'s backward: one of 54 differently built (correct) versions."""
    n, dz2, dz1 = names
    k = i % 54
    pick = {"N": k % 2, "MM": k // 2 % 3, "SUM": k // 6 % 3, "DER": k // 18 % 3}
    fill = dict(n=n, dZ2=dz2, dZ1=dz1, comment=comment,
                N=CHOICES["N"][pick["N"]], DER=CHOICES["DER"][pick["DER"]],
                MM=CHOICES["MM"][pick["MM"]].format(dZ2=dz2))
    fill["SUM2"] = CHOICES["SUM"][pick["SUM"]].format(d=dz2, n=n)
    fill["SUM1"] = CHOICES["SUM"][pick["SUM"]].format(d=dz1, n=n)
    return BACKWARD.format(**fill)


def notebook(source: str) -> dict:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
            "cells": [{"cell_type": "code", "metadata": {}, "source": source,
                       "outputs": [], "execution_count": None, "id": "c1"}]}


def q3_answers(student: str, params: dict) -> dict:
    if student in MISTAKE:
        shifted = {**params, "Y": np.roll(np.asarray(params["Y"]), 1, axis=0).tolist()}
        return Q3.build(shifted, None)
    if student == NUMBER_COPIER:
        return Q3.reference(variant_of(COURSE, "A5", NUMBER_SOURCE)[0])
    answers = dict(Q3.reference(params))
    if len(params["X"]) > 4:                      # an individual slip on db2
        rng = np.random.default_rng(int(student[1:]))
        answers["db2"] = np.asarray(answers["db2"]) * (1.5 + rng.uniform(0, 1))
    return answers


def student_result(i: int, student: str):
    params, _ = variant_of(COURSE, "A5", student)
    if student == COPY_PAIR[1]:
        src = backward_source(int(COPY_PAIR[0][1:]), names=("m", "delta_out", "delta_hidden"),
                              comment="my own   work!")
        src = src.replace("    A1, A2", "\n    A1,A2")
    else:
        src = backward_source(i)
    source = COMMON + src
    namespace = {"np": np}
    exec(compile(source, f"<{student}>", "exec"), namespace)   # the test's own synthetic code
    answers = {"q3": q3_answers(student, params)}
    runner = RecordingRunner(InProcessRunner(namespace))
    result = grade_submission(COURSE, "A5", answers, student, runner=runner)
    return record_answers(result, answers, runner, function_sources(notebook(source), "A5"))


@pytest.fixture(scope="module")
def results():
    return [student_result(i, s) for i, s in enumerate(STUDENTS)]


HONEST = set(STUDENTS) - set(MISTAKE) - set(COPY_PAIR) - {NUMBER_COPIER}


# --------------------------------------------------------------------------
# recording

def test_results_keep_answers_outputs_and_source(results):
    r = next(r for r in results if r.student == "s20")
    params, _ = variant_of(COURSE, "A5", "s20")
    dW1 = next(q for q in r.questions if q.question == "A5.q3" and q.part == "dW1")
    np.testing.assert_allclose(dW1.details["answer"], Q3.reference(params)["dW1"])
    back = next(q for q in r.questions if q.part == "backward")
    assert back.full_marks
    assert back.details["source"].lstrip().startswith("def backward(")
    assert back.details["outputs"] and all(k.startswith("backward#")
                                           for k in back.details["outputs"])


# --------------------------------------------------------------------------
# 1. item analysis

def test_item_analysis_finds_the_part_a_variant_range_makes_easy(results):
    from autograder.reports.analysis import item_analysis
    items = {it.label: it for it in item_analysis(results, COURSE)}
    flagged = {label for label, it in items.items() if it.variant and it.variant.flagged}
    assert flagged == {"A5.q3/db2"}
    effect = items["A5.q3/db2"].variant
    assert effect.feature == "len(X)" and effect.easier == "low" and 4 <= effect.threshold < 5
    # the shares, counted here from the planted rule (n <= 4: right unless planted otherwise)
    small = [s for s in STUDENTS if len(variant_of(COURSE, "A5", s)[0]["X"]) <= 4]
    right = [s for s in small if s != NUMBER_COPIER]
    assert effect.low_n == len(small) and effect.low_share == pytest.approx(len(right) / len(small))


def test_item_statistics_match_their_definitions(results):
    from autograder.reports.analysis import fisher_exact, item_analysis
    items = {it.label: it for it in item_analysis(results, COURSE)}
    dW1 = items["A5.q3/dW1"]
    wrong = set(MISTAKE) | {NUMBER_COPIER}
    assert dW1.difficulty == pytest.approx(1 - len(wrong) / len(STUDENTS))
    assert dW1.blank == 0 and dW1.carried == 0 and dW1.mistakes == {}
    # point-biserial against the rest, computed independently with NumPy from the scores
    credit = np.array([next(q.score / q.max_score for q in r.questions if q.part == "dW1")
                       for r in sorted(results, key=lambda r: r.student)])
    rest = np.array([r.score for r in sorted(results, key=lambda r: r.student)]) - \
        credit * dW1.max_score
    assert dW1.discrimination == pytest.approx(np.corrcoef(credit, rest)[0, 1])
    assert dW1.upper_lower > 0.5                   # the planted students are the lowest
    # Fisher's exact test against SciPy's (an independent implementation)
    scipy_stats = pytest.importorskip("scipy.stats")
    for table in ([[8, 2], [1, 5]], [[3, 3], [3, 3]], [[0, 10], [9, 1]]):
        assert fisher_exact(*table[0], *table[1]) == pytest.approx(
            scipy_stats.fisher_exact(table)[1])


# --------------------------------------------------------------------------
# 2. mistake mining

def test_mining_finds_the_planted_mistake_and_proposes_an_entry_that_reproduces_it(results):
    from autograder.i18n import msg
    from autograder.mistakes import Mistake
    from autograder.reports.mining import mine_mistakes
    clusters = mine_mistakes(results, COURSE)
    assert len(clusters) == 1, [c.label for c in clusters]
    c = clusters[0]
    assert c.students == sorted(MISTAKE) and c.question == "A5.q3"
    assert set(c.parts) == {"dW1_each", "dW1", "db1", "dW2"}     # db2 does not see the shift
    assert c.perturbation.id == "input:roll(Y)"
    # the proposal, run as the question module would, gives each planted student's answers
    lines = c.proposal.splitlines()
    ns = {"Mistake": Mistake, "msg": msg, "Q3": Q3, "np": np}
    exec(next(ln for ln in lines if " = Mistake(" in ln), ns)
    line = next(ln for ln in lines if ".with_make(" in ln and not ln.startswith("#"))
    mistake = eval(line.rstrip(","), ns)
    for s in MISTAKE:
        params, _ = variant_of(COURSE, "A5", s)
        wrong = mistake.make(params)
        assert set(wrong) == set(c.parts)
        for part, value in wrong.items():
            np.testing.assert_allclose(value, q3_answers(s, params)[part])


def test_mining_clusters_a_function_mistake_across_variants():
    """Four students whose backward returns twice the gradients (no
    catalogued mistake): the ×2 cluster is found from the recorded outputs on
    each student's own hidden inputs (re-drawn from the variant seed)."""
    from autograder.reports.mining import mine_mistakes
    rs = []
    for s in ("f1", "f2", "f3", "f4"):
        src = COMMON + backward_source(int(s[1])).replace("return dW1, db1, dW2, db2",
                                                          "return 2 * dW1, 2 * db1, 2 * dW2, 2 * db2")
        ns = {"np": np}
        exec(compile(src, s, "exec"), ns)
        runner = RecordingRunner(InProcessRunner(ns))
        r = grade_submission(COURSE, "A5", {}, s, runner=runner)
        rs.append(record_answers(r, {}, runner, function_sources(notebook(src), "A5")))
    found = [c for c in mine_mistakes(rs, COURSE) if c.question == "A5.q2"]
    assert len(found) == 1 and found[0].students == ["f1", "f2", "f3", "f4"]
    assert found[0].perturbation.id == "output:times2"


# --------------------------------------------------------------------------
# 3. copy signals

def test_copy_signals_find_the_planted_copies_and_no_honest_student(results):
    from autograder.reports.copying import copy_signals
    signals = copy_signals(results, COURSE)
    kinds = {(s.kind, tuple(s.students), tuple(s.others)) for s in signals}
    assert kinds == {("same_code", COPY_PAIR, ()),
                     ("other_variant", (NUMBER_COPIER,), (NUMBER_SOURCE,))}
    flagged = {s for sig in signals for s in sig.students}
    assert not flagged & HONEST
    code = next(s for s in signals if s.kind == "same_code")
    assert set(code.detail["sources"]) == set(COPY_PAIR)
    a, b = (code.detail["sources"][s] for s in COPY_PAIR)
    assert a != b and "delta_out" in b               # the texts differ; the trees do not


def test_normalised_code_ignores_names_comments_and_docstrings_only():
    from autograder.reports.copying import normalised_code
    one = "def f(x, w):\n    # dot\n    s = x @ w\n    return np.tanh(s)\n"
    two = 'def f(inp,  weights):\n    """doc"""\n    total = inp @ weights  # c\n\n' \
          '    return np.tanh(total)\n'
    other = "def f(x, w):\n    s = w @ x\n    return np.tanh(s)\n"
    assert normalised_code(one) == normalised_code(two) != normalised_code(other)
    assert normalised_code("def f(:\n") is None


def test_rare_identical_wrong_answers_are_signalled():
    """Lecture variant (one set of numbers): r1 and r2 share a slip no
    catalogue names; r3's own slip and the right answers are not signalled."""
    import dataclasses
    from autograder.reports.copying import copy_signals
    lecture = dataclasses.replace(COURSE, variants=dataclasses.replace(COURSE.variants,
                                                                       mode="lecture"))
    params, _ = variant_of(lecture, "A5", "r1")
    rs = []
    for s, delta in (("r1", 0.37), ("r2", 0.37), ("r3", 0.11), ("r4", 0.0), ("r5", 0.0)):
        answers = {"q3": {k: np.asarray(v) + delta for k, v in Q3.reference(params).items()}}
        rs.append(record_answers(grade_submission(lecture, "A5", answers, s), answers))
    signals = copy_signals(rs, lecture)
    assert [(s.kind, s.students) for s in signals] == [("rare_wrong", ["r1", "r2"])]
    assert len(signals[0].parts) == 5


# --------------------------------------------------------------------------
# 4. the class report page

@pytest.fixture(scope="module")
def course_dir(results, tmp_path_factory):
    """A course directory with the class's stored results and feedback pages."""
    from autograder.reports.feedback import write_feedback
    from autograder.submissions import ResultStore
    root = tmp_path_factory.mktemp("course")
    store = ResultStore(root / "nngrade" / "results")
    for r in results:
        store.save(r)
        write_feedback(r, root / "feedback", COURSE)
    return root


def _report_via_cli(root: Path, language: str) -> Path:
    from click.testing import CliRunner

    from autograder.cli import main
    out = root / f"reports-{language.replace('+', '_')}"
    res = CliRunner().invoke(main, ["report", str(root), "-a", "A5", "--course",
                                    str(ROOT / "course.yaml"), "--out", str(out),
                                    "--language", language])
    assert res.exit_code == 0, res.output
    path = Path(res.output.strip().splitlines()[-1])
    assert path == out / "A5_class_report.html"
    return path


@pytest.mark.parametrize("language", ["zh+en", "en"])
def test_report_page_holds_every_planted_item_and_links(course_dir, language):
    import re
    page = _report_via_cli(course_dir, language).read_text(encoding="utf-8")
    assert "Y off by one row" in page and "q3_off_by_one_y" in page
    assert ", ".join(sorted(MISTAKE)) in page
    assert "len(X) ≤ 4" in page
    assert f"{NUMBER_COPIER}&#x27;s answers" in page and "delta_out" in page
    assert ("由参考计算的这种改动重现" in page) == (language == "zh+en")
    # self-contained: nothing to fetch but inline images; every link a feedback page that exists
    assert not re.search(r"<script|<link|src=\"http|url\(", page)
    assert len(re.findall(r'src="data:image/png;base64,', page)) == 2
    hrefs = re.findall(r'href="([^"]+)"', page)
    assert len(hrefs) == len(STUDENTS)
    base = course_dir / f"reports-{language.replace('+', '_')}"
    assert all((base / h).resolve().is_file() for h in hrefs)


@pytest.mark.skipif(not CHROMIUM.exists(),
                    reason="Debian's chromium is not installed (/usr/bin/chromium); "
                           "apt-get install -y chromium to run the browser check")
def test_report_page_in_headless_chromium(course_dir, tmp_path):
    """Render the report in chromium; the screenshot is kept in tmp_path and
    copied to /tmp/class_report.png for a person to look at."""
    import matplotlib.image as mpimg
    page = _report_via_cli(course_dir, "zh+en")
    png = tmp_path / "class_report.png"
    proc = browser.screenshot(page, png, size=(1200, 2400), timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    pixels = mpimg.imread(str(png))
    assert pixels.shape[:2] == (2400, 1200)
    colours = np.unique((pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 100, "the screenshot looks blank"
    try:
        shutil.copy(png, "/tmp/class_report.png")
    except OSError:
        pass
    keep = os.environ.get("NNGRADE_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(keep) / png.name)

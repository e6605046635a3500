"""autograder.gradebook: results into nbgrader's gradebook, read back, idempotent,
safe for concurrent writers, with errors that name the URL or file."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from nbgrader.api import Gradebook

from autograder import gradebook as gbm
from autograder.config import load_course
from autograder.judge import grade_submission, variant_of
from autograder.protocol import grade_id
from autograder.questions import questions_of
from autograder.results import AssignmentResult, QuestionResult

ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(ROOT / "course.yaml")
NOTEBOOK = "A4_relu_backprop_step"


def _answers(student: str, kind: str = "right") -> dict:
    params, _ = variant_of(COURSE, "A4", student)
    qs = {q.local_id: q for q in questions_of("A4")}
    answers = {qid: q.reference(params) for qid, q in qs.items()}
    if kind in ("sign", "ecf"):
        answers["q2"] = {k: -np.asarray(v) for k, v in answers["q2"].items()}
    if kind == "ecf":
        answers["q3"] = qs["q3"].build(params, answers["q2"])
    if kind == "blank":
        answers = {}
    return answers


def result_of(student: str, kind: str = "right") -> AssignmentResult:
    return grade_submission(COURSE, "A4", _answers(student, kind), student)


def _scores(url: str, assignment: str) -> dict:
    with read(url) as store:
        return store.load_scores(assignment)


def record(url: str, course, result: AssignmentResult, timestamp=None) -> bool:
    """Write ``result`` through a store of its own (as each grading worker
    opens one): whether anything changed."""
    with gbm.GradebookStore(url) as store:
        return store.record(course, result, timestamp)


def read(url: str) -> gbm.GradebookStore:
    """A reader's store: a missing SQLite file is an error, nothing is created."""
    return gbm.GradebookStore(url, create=False)


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'gradebook.db'}"


def _dump(url: str) -> list[str]:
    """Every row of every table, for comparing database states."""
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return list(con.iterdump())
    finally:
        con.close()


# --------------------------------------------------------------------------
# what is written

def test_record_builds_nbgraders_structure(url):
    r = result_of("alice", "sign")
    assert record(url, COURSE, r) is True
    with Gradebook(url) as gb:           # nbgrader's own API reads it back
        assignment = gb.find_assignment("A4")
        assert [nb.name for nb in assignment.notebooks] == [NOTEBOOK]
        cells = {c.name: c for c in gb.find_notebook(NOTEBOOK, "A4").grade_cells}
        assert set(cells) == {grade_id(q) for q in COURSE.question_ids("A4")}
        for qid in COURSE.question_ids("A4"):
            cell = cells[grade_id(qid)]
            assert cell.max_score == COURSE.points(qid)
            assert cell.cell_type == "code"
        assert assignment.max_score == COURSE.max_score("A4")
        sub = gb.find_submission("A4", "alice")
        assert sub.score == pytest.approx(r.score)
        assert sub.max_score == COURSE.max_score("A4")
        assert not sub.needs_manual_grade
        for qid, (score, _) in r.totals().items():
            grade = gb.find_grade(grade_id(qid), NOTEBOOK, "A4", "alice")
            assert grade.auto_score == pytest.approx(score)
            assert grade.needs_manual_grade is False
    # a question worth 0 points gets no grade cell (A7.q3 gives feedback only)
    r7 = grade_submission(COURSE, "A7", {}, "alice")
    record(url, COURSE, r7)
    with Gradebook(url) as gb:
        names = {c.name for c in gb.find_notebook("A7_conv_pool_backprop", "A7").grade_cells}
    assert names == {"A7_q1", "A7_q2"}


def test_scores_are_sums_of_part_scores(url):
    results = [result_of("alice", "ecf"), result_of("bob"), result_of("carol", "blank")]
    for r in results:
        record(url, COURSE, r)
    scores = _scores(url, "A4")
    assert set(scores) == {"alice", "bob", "carol"}
    for r in results:
        expected = {}
        for q in r.questions:           # computed here, not with r.totals()
            expected[grade_id(q.question)] = expected.get(grade_id(q.question), 0) + q.score
        assert scores[r.student] == pytest.approx(expected)
    assert scores["bob"] == {"A4_q1": 4.0, "A4_q2": 8.0, "A4_q3": 8.0}
    assert scores["carol"] == {"A4_q1": 0.0, "A4_q2": 0.0, "A4_q3": 0.0}
    assert _scores(url, "A9") == {}


def test_full_result_is_recoverable(url):
    r = result_of("alice", "ecf")
    r.questions[0].details["note"] = "kept for the instructor"
    record(url, COURSE, r)
    with read(url) as store:
        back = store.load_result("A4", "alice")
        assert back == r
        assert back.to_dict() == r.to_dict()
        assert store.load_result("A4", "nobody") is None
    record(url, COURSE, result_of("bob"))
    with read(url) as store:
        assert [x.student for x in store.load_results("A4")] == ["alice", "bob"]
        assert store.load_results("A3") == []


# --------------------------------------------------------------------------
# idempotent and replacing

def test_recording_the_same_result_changes_nothing(url):
    r = result_of("alice", "sign")
    assert record(url, COURSE, r, timestamp="2025-03-01 10:00:00 UTC") is True
    before = _dump(url)
    assert record(url, COURSE, r) is False
    assert record(url, COURSE, AssignmentResult.from_json(r.to_json())) is False
    assert record(url, COURSE, r, timestamp="2025-03-01 10:00:00 UTC") is False
    assert _dump(url) == before


def test_a_new_result_replaces_the_old(url):
    record(url, COURSE, result_of("alice", "sign"))
    assert _scores(url, "A4")["alice"]["A4_q2"] == 0.0
    counts = {t: n for t, n in _counts(url).items()}
    better = result_of("alice")
    assert record(url, COURSE, better) is True
    assert _scores(url, "A4")["alice"] == {"A4_q1": 4.0, "A4_q2": 8.0, "A4_q3": 8.0}
    with read(url) as store:
        assert store.load_result("A4", "alice") == better
    assert _counts(url) == counts        # replaced in place, nothing duplicated


def _counts(url: str) -> dict[str, int]:
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        con.close()


def test_manual_score_is_kept_and_flagged(url):
    record(url, COURSE, result_of("alice", "sign"))
    with Gradebook(url) as gb:
        grade = gb.find_grade("A4_q2", NOTEBOOK, "A4", "alice")
        grade.manual_score = 5.0
        gb.db.commit()
    record(url, COURSE, result_of("alice"))
    with Gradebook(url) as gb:
        grade = gb.find_grade("A4_q2", NOTEBOOK, "A4", "alice")
        assert grade.auto_score == 8.0 and grade.manual_score == 5.0
        assert grade.needs_manual_grade is True
    assert _scores(url, "A4")["alice"]["A4_q2"] == 5.0   # nbgrader's effective score


def test_timestamp_is_stored_in_utc_and_kept(url):
    record(url, COURSE, result_of("alice"), timestamp="2025-03-01 18:00:00 +0800")
    record(url, COURSE, result_of("alice", "sign"))          # no timestamp: kept
    with Gradebook(url) as gb:
        assert str(gb.find_submission("A4", "alice").timestamp) == "2025-03-01 10:00:00"
    with pytest.raises(ValueError, match="timestamp"):
        record(url, COURSE, result_of("alice"), timestamp="not a time")


def test_graded_for_resumable_runs(url, tmp_path):
    with pytest.raises(gbm.GradebookError):                # no gradebook yet: a reader
        read(url)
    assert not (tmp_path / "gradebook.db").exists()      # ... creates none
    record(url, COURSE, result_of("bob"))
    with read(url) as store:
        assert store.graded("A4", "alice") is False
        assert store.graded("A4", "bob") is True
        assert store.graded("A3", "bob") is False


def test_new_database_is_stamped_like_nbgrader(url):
    record(url, COURSE, result_of("bob"))
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        versions = con.execute("SELECT version_num FROM alembic_version").fetchall()
    finally:
        con.close()
    assert len(versions) == 1 and versions[0][0]


def test_in_memory_url_works_within_one_store():
    with gbm.GradebookStore("sqlite://") as store:
        assert store.record(COURSE, result_of("bob")) is True
        assert store.load_scores("A4") == {"bob": {"A4_q1": 4.0, "A4_q2": 8.0, "A4_q3": 8.0}}
        assert store.graded("A4", "bob")


# --------------------------------------------------------------------------
# errors

def test_bad_urls_are_named(tmp_path):
    with pytest.raises(gbm.GradebookError, match="not a url"):
        record("not a url", COURSE, result_of("bob"))
    with pytest.raises(gbm.GradebookError, match="nosuchdialect"):
        _scores("nosuchdialect://host/db", "A4")
    missing_dir = tmp_path / "no" / "such" / "folder"
    with pytest.raises(gbm.GradebookError, match=str(missing_dir)):
        record(f"sqlite:///{missing_dir / 'gb.db'}", COURSE, result_of("bob"))
    with pytest.raises(gbm.GradebookError, match=str(tmp_path / "absent.db")):
        _scores(f"sqlite:///{tmp_path / 'absent.db'}", "A4")
    with pytest.raises(gbm.GradebookError, match="directory"):
        record(f"sqlite:///{tmp_path}", COURSE, result_of("bob"))
    not_a_db = tmp_path / "notes.db"
    not_a_db.write_text("this is not a database\n" * 100)
    with pytest.raises(gbm.GradebookError, match=str(not_a_db)):
        record(f"sqlite:///{not_a_db}", COURSE, result_of("bob"))
    err = None
    try:
        record("not a url", COURSE, result_of("bob"))
    except gbm.GradebookError as exc:
        err = exc
    assert "成绩簿" in str(err) and "gradebook" in str(err)      # both languages


def test_results_that_do_not_fit_the_course_are_refused(url):
    with pytest.raises(ValueError, match="student id"):
        record(url, COURSE, result_of("bob").__class__(assignment="A4", student=""))
    odd = AssignmentResult(assignment="A4", student="zoe", questions=[
        QuestionResult(question="A4.q1", part="z1", score=1, max_score=99, status="partial")])
    with pytest.raises(ValueError, match="A4.q1.*99.*course.yaml"):
        record(url, COURSE, odd)
    stray = AssignmentResult(assignment="A4", student="zoe", questions=[
        QuestionResult(question="A4.q9", score=0, max_score=1, status="wrong")])
    with pytest.raises(ValueError, match="A4.q9"):
        record(url, COURSE, stray)
    with pytest.raises(KeyError, match="A99"):
        record(url, COURSE, AssignmentResult(assignment="A99", student="zoe"))
    with pytest.raises(gbm.GradebookError, match="read-only"):
        record(url, COURSE, result_of("bob"))      # creates the gradebook
        with gbm.GradebookStore(url, create=False) as store:
            store.record(COURSE, result_of("bob"))


# --------------------------------------------------------------------------
# two processes writing at once

WRITER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from autograder.config import load_course
    from autograder.gradebook import GradebookStore
    from autograder.results import AssignmentResult
    course = load_course({course!r})
    results = [AssignmentResult.from_json(t) for t in json.loads(Path(sys.argv[1]).read_text())]
    Path(sys.argv[2]).write_text("ready")
    while not Path(sys.argv[3]).exists():
        time.sleep(0.005)
    for r in results:
        with GradebookStore({url!r}) as store:     # one store per result, as each worker
            store.record(course, r)
    print("done", len(results))
""")


def test_two_processes_write_different_students_at_once(tmp_path, url):
    """Two writer processes start together on a fresh SQLite file (racing to
    create the schema too) and record 8 students each; every grade lands."""
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(root=str(ROOT), course=str(ROOT / "course.yaml"), url=url))
    go = tmp_path / "go"
    batches = {
        "p1": [result_of(f"s{i:02d}", ["right", "sign", "ecf", "blank"][i % 4]) for i in range(8)],
        "p2": [result_of(f"t{i:02d}", ["sign", "right", "blank", "ecf"][i % 4]) for i in range(8)],
    }
    procs = []
    for name, batch in batches.items():
        data = tmp_path / f"{name}.json"
        data.write_text(json.dumps([r.to_json() for r in batch]))
        procs.append(subprocess.Popen([sys.executable, str(script), str(data),
                                       str(tmp_path / f"{name}.ready"), str(go)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"{n}.ready").exists() for n in batches):
        assert time.monotonic() < deadline, "the writer processes did not start"
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.01)
    go.write_text("go")
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        assert out.strip() == "done 8"
    scores = _scores(url, "A4")
    everyone = [r for batch in batches.values() for r in batch]
    assert set(scores) == {r.student for r in everyone}
    for r in everyone:
        assert scores[r.student] == {grade_id(q): s for q, (s, _) in r.totals().items()}
        with read(url) as store:
            assert store.graded("A4", r.student)
    counts = _counts(url)
    assert counts["alembic_version"] == 1
    assert counts["assignment"] == 1 and counts["notebook"] == 1 and counts["grade_cells"] == 3
    assert counts["submitted_assignment"] == 16 and counts["grade"] == 16 * 3
    with Gradebook(url) as gb:
        assert len(gb.students) == 16

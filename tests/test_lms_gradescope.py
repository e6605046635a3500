"""Grades leave for an LMS (Canvas and Moodle import CSVs through a roster)
and a Gradescope autograder zip grades one submission in Gradescope's
/autograder layout, run as Gradescope runs it (``run_autograder``)."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder.cli import main
from autograder.config import load_course
from autograder.judge import grade_submission, variant_of
from autograder.questions import questions_of
from autograder.reports.export import csv_rows
from autograder.reports.files import ReportError
from autograder.reports.lms import lms_table, read_roster
from autograder.submissions import ResultStore

ROOT = Path(__file__).resolve().parents[1]
COURSE_PATH = ROOT / "course.yaml"
COURSE = load_course(COURSE_PATH)


def _result(student: str, blank: bool = False):
    params, _ = variant_of(COURSE, "A4", student)
    answers = {} if blank else {q.local_id: q.reference(params) for q in questions_of("A4")}
    return grade_submission(COURSE, "A4", answers, student)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    store = ResultStore(root / "nngrade" / "results")
    for r in (_result("s1"), _result("s2", blank=True)):
        store.save(r)
    return root


def _roster(path: Path, rows: list[dict]) -> Path:
    cols = list(rows[0])
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    return path


def _read(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def test_canvas_csv_matches_students_through_the_roster(graded, tmp_path):
    roster = _roster(tmp_path / "r.csv", [
        {"student_id": "s1", "name": "Li, Wei", "canvas_id": "101", "sis_user_id": "2023001",
         "sis_login_id": "liw", "section": "A"},
        {"student_id": "s2", "name": "Ng", "canvas_id": "102", "sis_user_id": "",
         "sis_login_id": "", "section": "A"},
        {"student_id": "s3", "name": "Absent", "canvas_id": "103", "sis_user_id": "",
         "sis_login_id": "", "section": "B"}])
    out = tmp_path / "canvas.csv"
    r = CliRunner().invoke(main, ["lms", str(graded), "--to", "canvas", "--roster", str(roster),
                                  "-a", "A4", "--canvas-id", "A4=777", "--course",
                                  str(COURSE_PATH), "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = _read(out)
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert rows[0][5].startswith("A4 ") and rows[0][5].endswith("(777)")
    assert rows[1][0] == "Points Possible" and float(rows[1][5]) == COURSE.max_score("A4")
    by_id = {row[1]: row for row in rows[2:]}
    assert by_id["101"][0] == "Li, Wei"                      # a comma survives quoting
    assert float(by_id["101"][5]) == COURSE.max_score("A4")  # the reference answers
    assert float(by_id["102"][5]) == 0.0                      # a blank notebook
    assert by_id["103"][5] == ""                              # no submission: left as is
    assert "s3" in r.output                                   # and said


def test_moodle_csv_uses_the_identifiers_the_roster_has(graded, tmp_path):
    roster = _roster(tmp_path / "r.csv", [
        {"student_id": "s1", "email": "s1@uni.edu"}, {"student_id": "s2", "email": "s2@uni.edu"}])
    out = tmp_path / "moodle.csv"
    r = CliRunner().invoke(main, ["lms", str(graded), "--to", "moodle", "--roster", str(roster),
                                  "--course", str(COURSE_PATH), "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = _read(out)
    assert rows[0][0] == "Email address" and len(rows[0]) == 2 and rows[0][1].startswith("A4 ")
    scores = {row[0]: float(row[1]) for row in rows[1:]}
    assert scores == {"s1@uni.edu": COURSE.max_score("A4"), "s2@uni.edu": 0.0}


def test_a_graded_student_missing_from_the_roster_is_an_error(graded, tmp_path):
    roster = _roster(tmp_path / "r.csv", [{"student_id": "s1", "email": "s1@uni.edu"}])
    r = CliRunner().invoke(main, ["lms", str(graded), "--to", "moodle", "--roster", str(roster),
                                  "--course", str(COURSE_PATH), "--out", str(tmp_path / "m.csv")])
    assert r.exit_code != 0 and "s2" in r.output and "roster" in r.output
    assert not (tmp_path / "m.csv").exists()


def test_roster_mistakes_name_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("student_id,nickname\ns1,x\n", encoding="utf-8")
    with pytest.raises(ReportError, match="nickname"):
        read_roster(bad)
    dup = tmp_path / "dup.csv"
    dup.write_text("student_id,email\ns1,a@x\ns1,b@x\n", encoding="utf-8")
    with pytest.raises(ReportError, match="line 3"):
        read_roster(dup)
    rows = csv_rows([_result("s1")], COURSE)
    with pytest.raises(ReportError, match="s1"):          # no column Canvas can match by
        lms_table("canvas", rows, {"s1": {"student_id": "s1", "email": "x@y"}},
                  {"A4": "t"}, {"A4": 1.0})


# -- Gradescope -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def autograder_root(tmp_path_factory):
    """The zip unpacked as Gradescope does: /autograder/source/…"""
    out = tmp_path_factory.mktemp("zip") / "a3.zip"
    r = CliRunner().invoke(main, ["gradescope", "-a", "A3", "--course", str(COURSE_PATH),
                                  "--out", str(out)])
    assert r.exit_code == 0, r.output
    root = tmp_path_factory.mktemp("gs") / "autograder"
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        z.extractall(root / "source")
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in z.infolist()}
    assert {"setup.sh", "run_autograder", "course/course.yaml", "course/gradescope.json",
            "package/pyproject.toml", "package/autograder/judge.py",
            "package/nn_core/layers.py"} <= names
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert not any("__pycache__" in n for n in names)
    for script in ("setup.sh", "run_autograder"):
        os.chmod(root / "source" / script, 0o755)
        assert subprocess.run(["bash", "-n", str(root / "source" / script)]).returncode == 0
    return root


def _run_autograder(root: Path, notebook: Path | None, meta: dict) -> tuple[int, dict, str]:
    sub = root / "submission"
    if sub.exists():
        for f in sub.iterdir():
            f.unlink()
    sub.mkdir(exist_ok=True)
    if notebook is not None:
        (sub / COURSE.assignment("A3").notebook).write_bytes(notebook.read_bytes())
    (root / "submission_metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), NNGRADE_PYTHON=sys.executable,
               PYTHONPATH=str(ROOT))
    p = subprocess.run([str(root / "source" / "run_autograder")], env=env, capture_output=True,
                       text=True, timeout=600)
    data = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    return p.returncode, data, p.stdout + p.stderr


def test_run_autograder_grades_a_submission_in_gradescopes_layout(autograder_root):
    """alice's example notebook answers A3 right for her own variant: full marks
    when Gradescope says she is alice; the score in results.json is the
    course's points for A3."""
    code, data, out = _run_autograder(autograder_root, ROOT / "examples" / "A3" / "alice.ipynb",
                                      {"users": [{"sid": "alice", "email": "a@uni.edu"}]})
    assert code == 0, out
    assert data["score"] == COURSE.max_score("A3")
    assert len(data["tests"]) == sum(len(q.parts) for q in questions_of("A3"))
    assert all(t["status"] == "passed" for t in data["tests"])


def test_run_autograder_without_a_student_id_fails_loudly(autograder_root):
    code, data, out = _run_autograder(autograder_root, ROOT / "examples" / "A3" / "alice.ipynb",
                                      {"users": [{"sid": "", "email": "a@uni.edu"}]})
    assert code == 1
    assert data["score"] == 0.0 and "student id" in data["output"]


def test_run_autograder_without_a_notebook_fails_loudly(autograder_root):
    code, data, out = _run_autograder(autograder_root, None, {"users": [{"sid": "alice"}]})
    assert code == 1 and "no notebook" in data["output"]

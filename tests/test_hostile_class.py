"""Hostile or broken notebooks graded in a class with honest controls
(issue 19): the class finishes, the hostile notebook earns nothing it did
not earn, every honest grade is unchanged.

* text from the child that UTF-8 cannot hold (lone surrogates in output,
  an error message, a formula answer) is stored, never stops the class;
* forged protocol frames (a duration of ``10**400``, a cell index that is
  a bool) break the protocol for that run only;
* a result that cannot be stored costs its own student a grader error;
* (more below: paths, processes, variants, carried-forward credit).
"""
from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from autograder.config import load_course
from autograder.pipeline import grade_class
from autograder.protocol import answer_names
from autograder.sandbox import frames as sandbox_frames
from autograder.sandbox.cells import load_notebook, prepare_cells
from autograder.submissions import ResultStore, discover

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the sandbox needs Linux")

REPO = Path(__file__).resolve().parents[1]
COURSE_FILE = REPO / "course.yaml"
COURSE = load_course(COURSE_FILE)
AID = "A1"
NB_NAME = COURSE.assignment(AID).notebook
SOURCE = REPO / "exercises" / NB_NAME
LIMIT_S = 20


def _solution(aid: str = AID):
    return nbformat.read(REPO / "solutions" / COURSE.assignment(aid).notebook, as_version=4)


def _answer_cell(nb, gid):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


def _with(extra: str, gid: str = "A1_q1_answer", nb=None):
    """The solution with ``extra`` appended to the answer cell ``gid``."""
    nb = copy.deepcopy(nb or _solution())
    cell = _answer_cell(nb, gid)
    cell.source += "\n" + extra + "\n"
    return nb


def make_class(root: Path, notebooks: dict, course_yaml: dict | None = None) -> Path:
    """``root/submitted/<student>/A1/<notebook>`` for each ``{student: nb}``."""
    root.mkdir(parents=True, exist_ok=True)
    data = course_yaml or yaml.safe_load(COURSE_FILE.read_text(encoding="utf-8"))
    data["sandbox"]["cpu_seconds"] = data["sandbox"]["wall_seconds"] = LIMIT_S
    (root / "course.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                                      encoding="utf-8")
    for student, nb in notebooks.items():
        target = root / "submitted" / student / AID / NB_NAME
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
    return root


def grade(root: Path, workers: int = 2, aid: str = AID, **kw):
    course = load_course(root / "course.yaml")
    subs, problems = discover(root, aid, course.assignment(aid).notebook)
    store = ResultStore(root / "results")
    run = grade_class(course, root / "course.yaml", aid, subs, store,
                      source_notebook=REPO / "exercises" / course.assignment(aid).notebook,
                      workers=workers, **kw)
    return run, store, problems


def _part(result, label):
    return next(q for q in result.questions if q.label == label)


# -- 1. text from the child ----------------------------------------------------------

def test_lone_surrogates_from_the_child_cost_nothing(tmp_path):
    """print("\\ud800"), an error message with "\\udcff" and a formula answer
    holding a lone surrogate: every student is stored (valid UTF-8 on disk),
    the honest controls keep full marks, the hostile ones keep what their
    answers earn."""
    full = COURSE.assignment(AID).points
    root = make_class(tmp_path / "class", {
        "honest1": _solution(),
        "printer": _with('print("\\ud800 and \\udcff")'),
        "raiser": _with('raise ValueError("bad \\udcff")', gid="A1_q2_answer"),
        "formula": _with('q1_dzdx = "x\\ud800y"'),
        "honest2": _solution(),
    })
    run, store, _ = grade(root)
    assert sorted(run.graded) == ["formula", "honest1", "honest2", "printer", "raiser"]
    assert not run.failed
    for path in (tmp_path / "class" / "results" / AID).glob("*.json"):
        path.read_bytes().decode("utf-8")                 # strict: valid UTF-8
    by = {r.student: r for r in store.all(AID)}
    assert by["honest1"].score == by["honest2"].score == full
    assert by["printer"].score == full                    # printing costs nothing
    printed = json.dumps(by["printer"].details["sandbox"]["cells"], ensure_ascii=False)
    assert "\ufffd and \ufffd" in printed
    dzdx = _part(by["formula"], "A1.q1/dzdx")
    assert dzdx.score == 0 and dzdx.status == "invalid"
    assert "U+FFFD" in dzdx.feedback_text("en") or "\ufffd" in dzdx.feedback_text("en")
    assert by["formula"].score == full - dzdx.max_score
    raiser = by["raiser"]                  # its answers were set before the raise (as in Jupyter)
    assert any("bad \ufffd" in q.feedback_text("en") for q in raiser.results_for("A1.q2"))
    assert raiser.score == full


def test_result_that_cannot_be_stored_costs_only_its_student(tmp_path):
    """A job whose result is not valid JSON (or cannot be stored): that
    student gets a grader error naming them; the class goes on."""
    root = make_class(tmp_path / "class", {s: _solution() for s in ("a", "b", "c")})

    def job(course_path, assignment, notebook_path, student, source):
        from autograder.pipeline import grade_job
        if student == "b":
            return "{not json"
        return grade_job(course_path, assignment, notebook_path, student, source)

    run, store, _ = grade(root, workers=1, job=job)
    assert sorted(run.graded) == ["a", "c"] and run.failed == ["b"]
    b = store.load(AID, "b")
    assert b.score == 0 and b.details["status"] == "grader_error"
    assert "b could not be stored" in b.details["error"]


def _digest(frames, runnable):
    return sandbox_frames.digest([(h, []) for h in frames], [c.index for c in runnable], {},
                                 answer_names(AID))


@pytest.mark.parametrize("bad", [
    {"ev": "cell_end", "i": 0, "status": "ok", "seconds": 10 ** 400},
    {"ev": "cell_end", "i": 0, "status": "ok", "seconds": float("nan")},
    {"ev": "cell_end", "i": 0, "status": "ok", "seconds": -1},
    {"ev": "cell_end", "i": 0, "status": "ok", "seconds": "1"},
    {"ev": "cell_end", "i": 0, "status": "ok", "refused": [10 ** 400]},
])
def test_forged_frame_fields_break_the_protocol_only(bad):
    """Every field is checked for type and range: a forged frame is a
    protocol violation of this run (the cell is charged), never an
    exception in the grader."""
    nb = _solution()
    cells, _ = prepare_cells(load_notebook(nb.dict() if hasattr(nb, "dict") else nb), AID)
    runnable = [c for c in cells if c.run]
    first = runnable[0].index
    bad = dict(bad, i=first)
    frames = [{"ev": "setup"}, {"ev": "cell_start", "i": first}, bad]
    st = _digest(frames, runnable)
    if isinstance(bad.get("seconds", 0), (int, float)) and 0 <= bad.get("seconds", 0) <= 1e6 \
            and bad.get("seconds") == bad.get("seconds"):
        assert st.violation is None                   # (the refused list is only filtered)
    else:
        assert st.violation and "protocol" in st.violation
        assert st.cell == first


def test_bool_cell_index_is_a_violation():
    nb = _solution()
    cells, _ = prepare_cells(load_notebook(dict(nb)), AID)
    runnable = [c for c in cells if c.run]
    frames = [{"ev": "setup"}, {"ev": "cell_start", "i": True}]
    st = _digest(frames, runnable)
    assert st.violation


def test_forged_overflowing_duration_from_a_cell(tmp_path):
    """A cell that finds the child's channel and sends ``seconds: 10**400``
    for itself loses that cell's answers, nothing else; no grader error."""
    nb = _solution()
    cells, _ = prepare_cells(load_notebook(dict(nb)), AID, load_notebook(SOURCE))
    idx = next(c.index for c in cells if c.grade_id == "A1_q2_answer")
    forged = ("import gc\n"
              "ch = [o for o in gc.get_objects() if type(o).__name__ == 'Channel'][0]\n"
              f"ch.send({{'ev': 'cell_end', 'i': {idx}, 'status': 'ok', "
              f"'seconds': 10**400}})\n")
    root = make_class(tmp_path / "class", {"forger": _with(forged, gid="A1_q2_answer"),
                                           "honest": _solution()})
    run, store, _ = grade(root)
    assert not run.failed
    by = {r.student: r for r in store.all(AID)}
    full = COURSE.assignment(AID).points
    assert by["honest"].score == full
    q2 = by["forger"].results_for("A1.q2")
    assert all(q.score == 0 for q in q2)
    assert "grader_error" not in json.dumps(by["forger"].details)
    assert by["forger"].score == full - sum(q.max_score for q in q2)


# -- 4. paths: FIFOs, symbolic links, odd folder names ------------------------------

@pytest.fixture
def hang_detector():
    """Fail (instead of hanging for ever) after a generous 300 s."""
    import signal

    def boom(*_):
        raise TimeoutError("hang detector: the grader hung")
    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(300)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def test_links_fifos_and_files_in_submitted_are_reported_not_opened(tmp_path, hang_detector):
    """A FIFO named like the notebook, a notebook linked to the instructor's
    solution, a student folder linked to a classmate's, a link to
    /etc/shadow, a plain file: each is reported and skipped (never opened);
    odd but valid folder names are graded like any other; honest grades
    unchanged."""
    import os
    odd = ["jane doe", "jäne", "ｆｕｌｌ"]
    root = make_class(tmp_path / "class", {"honest": _solution(),
                                           **{name: _solution() for name in odd}})
    sub = root / "submitted"
    (sub / "fifo" / AID).mkdir(parents=True)
    os.mkfifo(sub / "fifo" / AID / NB_NAME)
    (sub / "linker" / AID).mkdir(parents=True)
    (sub / "linker" / AID / NB_NAME).symlink_to(REPO / "solutions" / NB_NAME)
    (sub / "shadow" / AID).mkdir(parents=True)
    (sub / "shadow" / AID / NB_NAME).symlink_to("/etc/shadow")
    (sub / "copycat").symlink_to(sub / "honest")
    (sub / "folderlink").mkdir()
    (sub / "folderlink" / AID).symlink_to(sub / "honest" / AID)
    (sub / "notes.txt").write_text("a plain file")
    run, store, problems = grade(root)
    reported = {p.path.relative_to(sub).parts[0] for p in problems}
    assert {"fifo", "linker", "shadow", "copycat", "folderlink", "notes.txt"} <= reported
    assert sorted(run.graded) == sorted(["honest", *odd]) and not run.failed
    full = COURSE.assignment(AID).points
    assert all(store.load(AID, s).score == full for s in ["honest", *odd])


def test_load_notebook_refuses_fifos_and_links(tmp_path, hang_detector):
    import os

    from autograder.sandbox.cells import NotebookError
    fifo = tmp_path / "nb.ipynb"
    os.mkfifo(fifo)
    with pytest.raises(NotebookError, match="not a regular file"):
        load_notebook(fifo)
    link = tmp_path / "link.ipynb"
    link.symlink_to(SOURCE)
    with pytest.raises(NotebookError, match="symbolic link"):
        load_notebook(link)
    assert load_notebook(link, follow_links=True)["nbformat"] == 4


# -- 6. secret_env, the course folder, a deleted setup cell ------------------------

SECRET = "s3cr3t-only-the-grader-knows"


def test_secret_env_grades_honest_students_right_and_hides_the_secret(tmp_path, monkeypatch):
    """With ``variants.secret_env`` set (and the secret in the grader's
    environment), every honest student keeps full marks on their own
    variant, and no cell can read the secret."""
    data = yaml.safe_load(COURSE_FILE.read_text(encoding="utf-8"))
    data["variants"] = {"mode": "per_student", "salt": "x", "secret_env": "NNGRADE_TEST_SECRET"}
    monkeypatch.setenv("NNGRADE_TEST_SECRET", SECRET)
    spy = _with("import os\nprint('ENV', sorted(os.environ), [v for v in os.environ.values() if 's3cr3t' in v])")
    root = make_class(tmp_path / "class", {"ann": _solution(), "ben": _solution(), "spy": spy},
                      course_yaml=data)
    run, store, _ = grade(root)
    full = COURSE.assignment(AID).points
    by = {r.student: r for r in store.all(AID)}
    assert by["ann"].score == by["ben"].score == by["spy"].score == full
    assert by["ann"].variant_seed != by["ben"].variant_seed
    for path in (root / "results" / AID).glob("*.json"):
        assert SECRET not in path.read_text(encoding="utf-8")
    printed = json.dumps(by["spy"].details, ensure_ascii=False)
    assert "NNGRADE_STUDENT" in printed                     # the spy's cell ran and printed
    assert "NNGRADE_TEST_SECRET" not in printed and SECRET not in printed


def test_deleted_setup_cell_is_restored_in_its_place(tmp_path):
    """A submission without the setup cell: it is re-inserted after the
    STUDENT_ID cell it reads (not before), so an honest student keeps full
    marks."""
    nb = _solution()
    nb.cells = [c for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") != "A1_setup"]
    cells, notes = prepare_cells(load_notebook(dict(nb)), AID, load_notebook(SOURCE))
    order = [c.grade_id or c.source[:20] for c in cells]
    setup_at = order.index("A1_setup")
    sid_at = next(i for i, c in enumerate(cells) if "STUDENT_ID" in c.source
                  and c.grade_id is None)
    assert sid_at < setup_at < order.index("A1_q1_answer")
    root = make_class(tmp_path / "class", {"nosetup": nb, "honest": _solution()})
    run, store, _ = grade(root)
    full = COURSE.assignment(AID).points
    assert store.load(AID, "nosetup").score == store.load(AID, "honest").score == full


def test_course_folder_under_a_bound_path_is_absent(tmp_path):
    """A course folder that lies under a path the sandbox binds (here
    /usr/local/share) is absent from the child: grades.csv, the
    submissions and course.yaml cannot be read; honest grades unchanged."""
    import os
    import shutil
    import tempfile
    base = "/usr/local/share"
    if not os.access(base, os.W_OK):
        pytest.skip(f"{base} is not writable here")
    course_dir = Path(tempfile.mkdtemp(prefix="nngrade-course-", dir=base))
    try:
        (course_dir / "grades.csv").write_text("student,score\nann,SECRET-GRADES\n")
        probe = ("for _p in %r:\n"
                 "    try:\n"
                 "        print('READ', _p, open(_p).read()[:200])\n"
                 "    except OSError as _e:\n"
                 "        print('DENIED', _p, type(_e).__name__)\n"
                 % [str(course_dir / "grades.csv"), str(course_dir / "course.yaml"),
                    str(course_dir / "submitted" / "ann" / AID / NB_NAME)])
        root = make_class(course_dir, {"ann": _solution(), "spy": _with(probe)})
        run, store, _ = grade(root)
        full = COURSE.assignment(AID).points
        assert store.load(AID, "ann").score == store.load(AID, "spy").score == full
        text = json.dumps(store.load(AID, "spy").details, ensure_ascii=False)
        assert text.count("DENIED") == 3 and "SECRET-GRADES" not in text, text[:3000]
    finally:
        shutil.rmtree(course_dir, ignore_errors=True)


# -- 5. nothing outlives the grader ---------------------------------------------------

def test_sigkill_of_the_grader_alone_leaves_no_process(tmp_path):
    """SIGKILL of the ``nngrade grade`` process only (not its group): its
    pool workers, the zygote, supervisors and sandboxed children all die
    within a few seconds (parent-death signals)."""
    import os
    import signal
    import time

    from test_grading_faults import Run, _descendants, make_class as make_a3_class
    from test_grading_faults import results_dir
    root = make_a3_class(tmp_path / "course")
    run = Run(root, tmp_path / "tmp", "--workers", "2", "--force")
    folder = results_dir(root)
    end = time.monotonic() + 180
    while not (folder.is_dir() and any(p.suffix == ".json" for p in folder.iterdir())):
        assert run.proc.poll() is None, run.wait()[1]
        assert time.monotonic() < end, "no result stored in time"
        time.sleep(0.01)
    tree = _descendants(run.proc.pid)
    assert len(tree) >= 3                       # 2 workers and a zygote at least
    os.kill(run.proc.pid, signal.SIGKILL)
    run.proc.wait()
    run.proc.stdout.close()
    run.assert_no_survivors(tree)


# -- 2. judging has a budget -----------------------------------------------------------

SLOW_FORMULA = "max(" + ", ".join(f"{k}x-{k}y" for k in range(1, 200)) + ")"


def test_formula_that_takes_a_minute_to_read_is_not_judged_in_time(hang_detector):
    """Reading the answer runs under the time limit too (outside the
    grader's process): "could not be judged in time", once per submission
    however many references, mistakes and carried-forward checks ask."""
    from autograder.formula import check_formula, judging_deadline
    with judging_deadline(60):
        for _ in range(3):
            r = check_formula(SLOW_FORMULA, "x*y", ["x", "y"], time_limit=1.0)
            assert r.status == "undecided" and not r.correct
            assert "Could not decide in time" in r.feedback.en
        assert check_formula("2*x*y", "x*y + y*x", ["x", "y"], time_limit=30).correct


def test_spent_judging_budget_answers_undecided_at_once():
    from autograder.formula import check_formula, judging_deadline
    with judging_deadline(0):
        r = check_formula("x + 1", "1 + x", ["x"], time_limit=5)
    assert r.status in ("undecided", "correct")          # identical trees need no time
    with judging_deadline(0):
        r = check_formula("2*x", "x + x", ["x"], time_limit=5)
    assert r.status == "undecided"


def test_slow_formula_answer_in_a_class(tmp_path, hang_detector):
    """The slow formula costs its own part only; honest grades unchanged."""
    root = make_class(tmp_path / "class", {"slow": _with(f"q1_dzdx = {SLOW_FORMULA!r}"),
                                           "honest": _solution()})
    run, store, _ = grade(root)
    full = COURSE.assignment(AID).points
    assert store.load(AID, "honest").score == full
    dzdx = _part(store.load(AID, "slow"), "A1.q1/dzdx")
    assert dzdx.score == 0 and "Could not decide in time" in dzdx.feedback_text("en")
    assert store.load(AID, "slow").score == full - dzdx.max_score


# -- 7. carried-forward credit cannot be gamed ------------------------------------------

def test_zero_upstream_answers_earn_no_carried_forward_credit():
    """Zeros for A3.q1 and q2 "consistent" with them (computed from the
    zeros by the question's own formulas, so an oracle for consistency):
    no carried-forward credit; a genuine slip upstream still gets it."""
    import numpy as np

    from autograder.questions.a3 import gradients
    from autograder.questions.base import Policy
    from autograder.variants import variant_params
    from question_checks import grade_assignment
    policy = Policy(rtol=1e-4, atol=1e-6, atol_scale=1e-6, shape_credit=0.5, ecf="full")
    params = variant_params("A3")
    q1 = {k: np.zeros_like(np.asarray(v, dtype=float))
                   for k, v in _a3_reference(params)["q1"].items()}
    answers = {"q1": q1, "q2": gradients(params, {"h": q1["h"], "y": q1["y"]})}
    zero = {r.label: r for r in grade_assignment("A3", answers, params, policy)
            .questions}
    assert not any(r.carried_forward for r in zero.values())
    assert all(r.score == 0 for r in zero.values() if r.question == "A3.q2"
               and r.status != "correct")
    # control: a real slip upstream (z1 off) with consistent later work still earns ECF
    import nn_core
    slip = _a3_reference(params)
    h = nn_core.sigmoid(np.array([0.5, -0.8]))
    y = np.array(params["W2"]) @ h + np.array(params["b2"])
    slip["q1"].update(z1=[0.5, -0.8], h=h, y=y)
    slip["q2"] = gradients(params, {"h": h, "y": y})
    honest = {r.label: r for r in grade_assignment("A3", slip, params, policy)
              .questions}
    assert honest["A3.q2/dW1"].carried_forward


def _a3_reference(params):
    from autograder.questions import questions_of
    return {q.local_id: dict(q.reference(params)) for q in questions_of("A3")}

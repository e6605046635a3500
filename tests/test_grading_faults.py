"""Faults of the grader itself (issue 7): a grading run SIGKILLed part-way
and restarted, two runs at once on one course, output that cannot be written.

The class is eight copies of the example class's honest, wrong, blank and
carried-forward A3 notebooks under distinct student ids (no infinite loop, so
every run is quick). The reference is one clean ``nngrade grade`` of that
class; every faulty history must end with the same ResultStore and the same
gradebook (nbgrader's scores, each student exactly once), the gradebook
holding exactly the stored results, and no process of a killed run left.

* ``test_kill_and_restart`` kills the real ``nngrade grade`` (sandbox, zygote
  and all) by SIGKILL of its process group at two points of the batch.
* ``test_kill_at_injected_points`` kills it at exact places in the
  bookkeeping (a result written but not renamed into place, a result stored
  but not yet in the gradebook, a gradebook transaction written but not
  committed). Its submissions are "graded" by replaying the clean run's
  results, so the four runs take a few seconds each.
* ``test_two_runs_at_once``: two ``--force`` runs released at the same
  instant on a fresh gradebook (both create the schema, both record every
  student).
* ``test_two_real_runs_at_once``: the same with two real sandboxed runs.
* Unwritable output: a results folder that is a file, on a full disk (a
  64 KiB tmpfs, filled) or on a read-only file system (skipped where
  ``mount`` is refused); a gradebook in a missing folder, under ``/proc``, on
  a full disk or a read-only file system: exit code 1, a message naming the
  path, no traceback, and no finished grade replaced.

Four grader bugs found by these tests are fixed: a killed writer's
temporary file is removed by the next run, a regrade killed between the
store and the gradebook is repaired on restart, a gradebook that cannot
be written is a clear CLI error, not a traceback, and the scratch mount
point of a sandbox whose grader was killed is removed by the next run.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from autograder.cli import main
from autograder.config import load_course
from autograder.gradebook import GradebookStore
from autograder.submission_info import read_info
from autograder.pipeline import failed_result, grade_class
from autograder.results import AssignmentResult
from autograder.submissions import ResultStore, discover

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the sandbox and the /proc scan need Linux")

REPO = Path(__file__).resolve().parents[1]
AID = "A3"
KINDS = ["alice", "bob", "carol", "dave"]          # correct, mistakes, blank, carried forward
N_STUDENTS = 8
LIMIT_S = 10


# -- the class -------------------------------------------------------------------------

def _notebook_name() -> str:
    return load_course(REPO / "course.yaml").assignment(AID).notebook


SOURCE = REPO / "exercises" / _notebook_name()


def make_class(root: Path, n: int = N_STUDENTS) -> Path:
    """An nbgrader course directory: ``course.yaml`` (10 s limit) and
    ``submitted/sNN_<kind>/A3/<notebook>``."""
    root.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load((REPO / "course.yaml").read_text(encoding="utf-8"))
    data["sandbox"]["cpu_seconds"] = data["sandbox"]["wall_seconds"] = LIMIT_S
    (root / "course.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                                      encoding="utf-8")
    name = _notebook_name()
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        target = root / "submitted" / f"s{i:02d}_{kind}" / AID / name
        target.parent.mkdir(parents=True)
        shutil.copy(REPO / "examples" / AID / f"{kind}.ipynb", target)
    return root


def students(n: int = N_STUDENTS) -> list[str]:
    return [f"s{i:02d}_{KINDS[i % len(KINDS)]}" for i in range(n)]


def url_of(root: Path) -> str:
    return f"sqlite:///{root / 'gradebook.db'}"


def load_scores(url: str, assignment: str) -> dict:
    with GradebookStore(url, create=False) as gb:
        return gb.load_scores(assignment)


def load_results(url: str, assignment: str) -> list:
    with GradebookStore(url, create=False) as gb:
        return gb.load_results(assignment)


def results_dir(root: Path) -> Path:
    return root / "nngrade" / "results" / AID


def grade_args(root: Path, *extra) -> list[str]:
    return ["grade", str(root), "-a", AID, "--course", str(root / "course.yaml"),
            "--workers", "1", "--source", str(SOURCE), *map(str, extra)]


def _summary(r: AssignmentResult) -> tuple:
    """What a grade is, without timings, pids and uids."""
    sandbox = r.details.get("sandbox") if isinstance(r.details.get("sandbox"), dict) else {}
    return (r.student, r.score, r.max_score, r.details.get("status"), sandbox.get("status"),
            tuple((q.question, q.part, q.score, q.max_score, q.status, q.diagnosis,
                   q.carried_forward, q.feedback_text("en", " ")) for q in r.questions))


def store_summary(root: Path) -> dict:
    return {r.student: _summary(r) for r in ResultStore(root / "nngrade" / "results").all(AID)}


def duplicates(root: Path) -> list:
    """Rows that say a student's A3 twice (should be none)."""
    con = sqlite3.connect(root / "gradebook.db")
    try:
        q = [
            "SELECT 'submission', s.student_id, COUNT(*) FROM submitted_assignment s "
            "JOIN assignment a ON a.id = s.assignment_id WHERE a.name = 'A3' "
            "GROUP BY s.student_id HAVING COUNT(*) > 1",
            "SELECT 'result', student, COUNT(*) FROM nngrade_result WHERE assignment = 'A3' "
            "GROUP BY student HAVING COUNT(*) > 1",
            "SELECT 'grade', notebook_id, COUNT(*) FROM grade "
            "GROUP BY notebook_id, cell_id HAVING COUNT(*) > 1",
            "SELECT 'assignment', name, COUNT(*) FROM assignment GROUP BY name HAVING COUNT(*) > 1",
        ]
        return [row for sql in q for row in con.execute(sql)]
    finally:
        con.close()


def tmp_files(root: Path) -> list[str]:
    folder = results_dir(root)
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".json")) \
        if folder.is_dir() else []


def assert_same_as_clean(root: Path, clean: dict) -> None:
    """The store and the gradebook equal the clean run's; the gradebook
    holds exactly the stored results; no student twice."""
    assert store_summary(root) == clean["store"]
    assert load_scores(url_of(root), AID) == clean["scores"]
    stored = {r.student: r.to_dict() for r in ResultStore(root / "nngrade" / "results").all(AID)}
    recorded = {r.student: r.to_dict() for r in load_results(url_of(root), AID)}
    assert recorded == stored
    assert duplicates(root) == []


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """One uninterrupted run of the class (in this process)."""
    root = make_class(tmp_path_factory.mktemp("clean"))
    r = CliRunner().invoke(main, grade_args(root, "--force"))
    assert r.exit_code == 0, r.output
    out = {"root": root, "store": store_summary(root), "scores": load_scores(url_of(root), AID)}
    assert sorted(out["store"]) == sorted(out["scores"]) == students()
    top = load_course(root / "course.yaml").assignment(AID).points
    assert out["store"]["s00_alice"][1] == top and out["store"]["s02_carol"][1] == 0
    return out


# -- processes of one run ---------------------------------------------------------------

def _stat(pid: int) -> tuple[int, str, int] | None:
    """(ppid, state, start time) of ``pid``, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), fields[0], int(fields[19])


def _descendants(top: int) -> dict[int, int]:
    """{pid: start time} of every process below ``top``."""
    children: dict[int, list[int]] = {}
    starts = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (st := _stat(int(name))) is not None:
            children.setdefault(st[0], []).append(int(name))
            starts[int(name)] = st[2]
    out, todo = {}, [top]
    while todo:
        for child in children.get(todo.pop(), []):
            out[child] = starts[child]
            todo.append(child)
    return out


def _sandbox_processes(marker: Path) -> list[int]:
    """Live sandbox processes (zygote, supervisors, children) of the run whose
    TMPDIR is ``marker`` (the zygote passes TMPDIR on to all of them)."""
    want = f"TMPDIR={marker}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{name}/cmdline").read_bytes()
            if b"autograder.sandbox" not in cmd:
                continue
            env = Path(f"/proc/{name}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        st = _stat(int(name))
        if want in env and st is not None and st[1] != "Z":
            found.append(int(name))
    return found


def _alive(procs: dict[int, int]) -> list[int]:
    return [pid for pid, start in procs.items()
            if (st := _stat(pid)) is not None and st[2] == start and st[1] != "Z"]


class Run:
    """``nngrade grade`` in its own session (process group) with a private TMPDIR."""

    def __init__(self, root: Path, marker: Path, *extra, wrapper: Path | None = None,
                 env: dict | None = None):
        marker.mkdir(parents=True, exist_ok=True)
        self.marker = marker
        cmd = [sys.executable, str(wrapper)] if wrapper else [sys.executable, "-m", "autograder.cli"]
        self.proc = subprocess.Popen(
            cmd + grade_args(root, *extra), cwd=REPO, start_new_session=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "TMPDIR": str(marker), "PYTHONPATH": str(REPO), **(env or {})})

    def wait(self, timeout: float = 180) -> tuple[int, str]:
        out, _ = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out

    def kill_when(self, done: callable, timeout: float = 120) -> None:
        """SIGKILL the whole process group as soon as ``done()``, then check
        that nothing the run started survives it."""
        end = time.monotonic() + timeout
        while not done():
            assert self.proc.poll() is None, f"the run ended before the kill point:\n{self.wait()[1]}"
            assert time.monotonic() < end, "kill point not reached"
            time.sleep(0.002)
        tree = _descendants(self.proc.pid)
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc.stdout.close()
        return self.assert_no_survivors(tree)

    def assert_no_survivors(self, tree: dict[int, int] | None = None) -> list[Path]:
        """Every process the run started dies within a few seconds (the
        zygote sees its socket close, supervisors their life pipe, children
        their parent-death signal) and they leave no temporary file behind,
        but for the empty mount points of sandboxes that were running
        (returned; see test_killed_run_leaves_no_scratch_directory)."""
        end = time.monotonic() + 10
        while True:
            left = _alive(tree or {}) + _sandbox_processes(self.marker)
            if not left or time.monotonic() > end:
                break
            time.sleep(0.1)
        assert not left, [Path(f"/proc/{p}/cmdline").read_bytes()[:120] for p in left]
        # the zygote's home is gone; the scratch root (kept, by design) holds
        # nothing but, after a kill, the empty mount points of running sandboxes
        scratch = self.marker / f"nngrade-scratch-{os.getuid()}"
        stale = sorted(scratch.glob("sub-*"))
        for d in stale:
            assert d.is_dir() and not any(d.iterdir()), (d, list(d.rglob("*")))
        left = set(self.marker.rglob("*")) - set(stale) - {scratch}
        assert not left, sorted(left)
        return stale


# -- kill and restart ------------------------------------------------------------------

def test_kill_and_restart(clean, tmp_path):
    """SIGKILL of ``nngrade grade`` after the 1st and after the 5th stored
    result, then a plain restart: the same grades as the clean run, every
    student once, no process and no temporary file left."""
    root = make_class(tmp_path / "course")
    folder = results_dir(root)

    def stored(k):
        return lambda: folder.is_dir() and sum(p.suffix == ".json" for p in folder.iterdir()) >= k

    left_by_kills = set()
    n_stored = 0
    for k, extra in ((1, ["--force"]), (5, [])):
        run = Run(root, tmp_path / f"tmp{k}", *extra)
        run.kill_when(stored(k))
        n_stored = sum(p.suffix == ".json" for p in folder.iterdir())
        n_recorded = len(load_scores(url_of(root), AID)) if (root / "gradebook.db").exists() else 0
        assert k <= n_stored < N_STUDENTS and n_recorded <= n_stored
        print(f"killed at {k}: {n_stored} stored, {n_recorded} in the gradebook")
        left_by_kills |= set(tmp_files(root))       # a kill inside a write (removed by the next run)
    run = Run(root, tmp_path / "tmp_last")
    code, out = run.wait()
    assert code == 0, out
    assert f"graded {N_STUDENTS - n_stored}, skipped {n_stored}" in out, out
    run.assert_no_survivors()
    assert_same_as_clean(root, clean)
    assert set(tmp_files(root)) <= left_by_kills


def test_killed_run_leaves_no_scratch_directory(tmp_path):
    """SIGKILL of ``nngrade grade`` while a (looping) sandbox runs, then a
    restart (of a quick notebook) with the same TMPDIR: no ``sub-*`` left."""
    root = make_class(tmp_path / "course", 0)
    target = root / "submitted" / "erin" / AID / _notebook_name()
    target.parent.mkdir(parents=True)
    shutil.copy(REPO / "examples" / AID / "erin.ipynb", target)
    scratch = tmp_path / "tmp" / f"nngrade-scratch-{os.getuid()}"
    Run(root, tmp_path / "tmp", "--force").kill_when(
        lambda: scratch.is_dir() and any(scratch.glob("sub-*")))
    shutil.copy(REPO / "examples" / AID / "alice.ipynb", target)
    run = Run(root, tmp_path / "tmp", "--force")
    code, out = run.wait()
    assert code == 0, out
    assert run.assert_no_survivors() == []


def test_stale_scratch_sweep_keeps_live_runs(tmp_path):
    """The sweep removes ``sub-<pid>-*`` of dead processes only: a run still
    going (another grader on the same machine) keeps its scratch directory,
    and names the sweep does not recognise are left alone."""
    from autograder.sandbox import run as runner

    dead = subprocess.Popen(["true"])
    dead.wait()
    live = subprocess.Popen(["sleep", "30"])
    try:
        names = [f"sub-{dead.pid}-abc", f"sub-{live.pid}-def", f"sub-{os.getpid()}-ghi",
                 "sub-xyz", "other"]
        for name in names:
            (tmp_path / name).mkdir()
        (tmp_path / f"sub-{dead.pid}-abc" / "left.txt").write_text("x")
        runner._remove_stale_scratch(tmp_path)
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[1:])
    finally:
        live.kill()
        live.wait()


KILLER = '''\
"""nngrade grade, killed (SIGKILL of itself) at the n-th pass of one place
(NNGRADE_TEST_KILL=place:n); submissions are graded by replaying stored
results (NNGRADE_TEST_REPLAY=folder) and the start waits for
NNGRADE_TEST_START (a time.time())."""
import os, signal, sys, time
from pathlib import Path

import autograder.cli
import autograder.gradebook as G
import autograder.pipeline as P
import autograder.submissions as S
import nbgrader.api  # noqa: F401  (imported before the start, like the rest)

place, _, n = os.environ.get("NNGRADE_TEST_KILL", "none:0").partition(":")
seen = [0]


def hit():
    seen[0] += 1
    if seen[0] == int(n):
        os.kill(os.getpid(), signal.SIGKILL)


if place == "replace":          # a result written to its temporary file, not yet renamed
    class _OS:
        def __getattr__(self, name):
            return getattr(os, name)

        @staticmethod
        def replace(a, b):
            hit()
            return os.replace(a, b)
    S.os = _OS()
elif place == "record":         # results stored, not yet in the gradebook
    _record = G.GradebookStore.record_many

    def record_many(*a, **k):
        hit()
        return _record(*a, **k)
    G.GradebookStore.record_many = record_many
elif place == "commit":         # a gradebook transaction written, not committed
    _write = G._write

    def write(*a, **k):
        out = _write(*a, **k)
        hit()
        return out
    G._write = write

replay = Path(os.environ["NNGRADE_TEST_REPLAY"])


def job(course_path, assignment, notebook_path, student, source):
    time.sleep(0.05)
    return (replay / f"{student}.json").read_text(encoding="utf-8")


P.grade_class.__kwdefaults__["job"] = job
start = float(os.environ.get("NNGRADE_TEST_START", "0"))
time.sleep(max(0.0, start - time.time()))

from autograder.cli import main
main()
'''


@pytest.fixture
def killer(tmp_path):
    path = tmp_path / "killer.py"
    path.write_text(KILLER, encoding="utf-8")
    return path


def test_kill_at_injected_points(clean, tmp_path, killer):
    """Killed with the 2nd result in a temporary file; at the 2nd gradebook
    write (its results stored, not yet in the gradebook); inside the 1st
    gradebook transaction of the next run (written, not committed: rolled
    back); then a plain restart. Nothing finished is lost, nothing is
    counted twice. (The gradebook may be written from another thread, so
    how far the store got past the kill point varies.)"""
    root = make_class(tmp_path / "course")
    env = {"NNGRADE_TEST_REPLAY": str(results_dir(clean["root"]))}
    n_stored = 0
    for i, (point, extra) in enumerate([("replace:2", ["--force"]), ("record:2", []),
                                        ("commit:1", [])]):
        run = Run(root, tmp_path / f"tmp{i}", *extra, wrapper=killer,
                  env={**env, "NNGRADE_TEST_KILL": point})
        code, out = run.wait()
        assert code == -signal.SIGKILL, (point, out)
        run.assert_no_survivors()
        before, n_stored = n_stored, len(list(results_dir(root).glob("*.json")))
        n_recorded = len(load_scores(url_of(root), AID)) if (root / "gradebook.db").exists() else 0
        print(f"killed at {point}: {n_stored} stored, {n_recorded} in the gradebook")
        if point.startswith("replace"):            # killed in the main thread, at s01's rename
            assert n_stored == 1 and n_recorded <= 1
            assert [n[:9] for n in tmp_files(root)] == [".s01_bob."]
        else:                                       # a stored result missing from the gradebook
            assert before <= n_stored <= N_STUDENTS and n_recorded < n_stored
        if n_recorded:
            assert duplicates(root) == []
    run = Run(root, tmp_path / "tmp_last", wrapper=killer, env=env)
    code, out = run.wait()
    assert code == 0 and f"graded {N_STUDENTS - n_stored}, skipped {n_stored}" in out, out
    run.assert_no_survivors()
    assert_same_as_clean(root, clean)
    # the temporary file of the write killed at its rename may still be there (see below)
    assert all(n.startswith(".s01_bob.") for n in tmp_files(root))


def _fake_job(replay: Path):
    def job(course_path, assignment, notebook_path, student, source):
        return (replay / f"{student}.json").read_text(encoding="utf-8")
    return job


def test_restart_removes_a_killed_runs_temporary_file(clean, tmp_path):
    """A writer SIGKILLed just before its rename leaves a temporary file;
    the next run should remove it (and only files of writers that are dead)."""
    root = make_class(tmp_path / "course", 2)
    # a process killed inside ResultStore.save, just before its os.replace
    code = (
        "import os, signal, sys\n"
        "import autograder.submissions as S\n"
        "from autograder.results import AssignmentResult\n"
        "class _OS:\n"
        "    def __getattr__(self, name): return getattr(os, name)\n"
        "    def replace(self, a, b): os.kill(os.getpid(), signal.SIGKILL)\n"
        "S.os = _OS()\n"
        "result = AssignmentResult.from_json(open(sys.argv[2], encoding='utf-8').read())\n"
        "S.ResultStore(sys.argv[1]).save(result)\n")
    p = subprocess.run([sys.executable, "-c", code, str(root / "nngrade" / "results"),
                        str(results_dir(clean["root"]) / "s01_bob.json")],
                       cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert p.returncode == -signal.SIGKILL and len(tmp_files(root)) == 1
    course = load_course(root / "course.yaml")
    subs, _ = discover(root, AID, _notebook_name())
    grade_class(course, root / "course.yaml", AID, subs, ResultStore(root / "nngrade" / "results"),
                workers=1, job=_fake_job(results_dir(clean["root"])))
    assert tmp_files(root) == []


def test_restart_records_a_regrade_killed_before_the_gradebook(clean, tmp_path):
    """The state a killed ``--force`` regrade leaves (the store has s00's new
    result, the gradebook its old one): a plain restart must record the
    stored result, so that the two agree."""
    root = make_class(tmp_path / "course", 2)
    course = load_course(root / "course.yaml")
    store = ResultStore(root / "nngrade" / "results")
    replay = ResultStore(clean["root"] / "nngrade" / "results")
    subs, _ = discover(root, AID, _notebook_name())
    # what each result was graded from: these very submissions (not resubmitted)
    graded_from = {s.student: {"submission": read_info(s.student, s.path).as_dict()} for s in subs}
    for student in students(2):
        # an earlier run's grade (all zeros), in both places
        old = failed_result(course, AID, student, "worker lost")
        old.details = graded_from[student]
        store.save(old)
        with GradebookStore(url_of(root)) as gb:
            gb.record(course, old)
    # the --force regrade got as far as storing s00's new result, then was killed
    new = replay.load(AID, "s00_alice")
    new.details = {**new.details, **graded_from["s00_alice"]}
    store.save(new)
    run = grade_class(course, root / "course.yaml", AID, subs, store, gradebook_url=url_of(root),
                      workers=1, job=_fake_job(results_dir(clean["root"])))
    assert load_result_score(root, "s00_alice") == store.load(AID, "s00_alice").score
    assert run.recorded == ["s00_alice"]        # s01's recorded result is the stored one


def test_restart_of_a_graded_class_writes_nothing(clean, tmp_path):
    """Resuming a fully graded class compares the stored results with the
    gradebook's digests and writes nothing: the database file is unchanged
    byte for byte."""
    root = make_class(tmp_path / "course")
    course = load_course(root / "course.yaml")
    store = ResultStore(root / "nngrade" / "results")
    subs, _ = discover(root, AID, _notebook_name())
    job = _fake_job(results_dir(clean["root"]))
    first = grade_class(course, root / "course.yaml", AID, subs, store,
                        gradebook_url=url_of(root), workers=1, job=job)
    assert sorted(first.recorded) == students()
    before = (root / "gradebook.db").read_bytes()
    again = grade_class(course, root / "course.yaml", AID, subs, store,
                        gradebook_url=url_of(root), workers=1, job=job)
    assert sorted(again.skipped) == students() and again.graded == [] and again.recorded == []
    assert (root / "gradebook.db").read_bytes() == before


def test_unreadable_stored_result_is_graded_again(clean, tmp_path):
    """A stored result that is not valid JSON (or not a result) is graded
    again, and the run says so; the other stored results are kept."""
    root = make_class(tmp_path / "course", 3)
    store = ResultStore(root / "nngrade" / "results")
    replay = ResultStore(clean["root"] / "nngrade" / "results")
    for student in students(3):
        store.save(replay.load(AID, student))
    store.path(AID, "s01_bob").write_text('{"assignment": "A3", "stud', encoding="utf-8")
    store.path(AID, "s02_carol").write_text('[1, 2]', encoding="utf-8")
    r = _invoke(*grade_args(root, "--no-gradebook"))
    assert r.exit_code == 0, r.output
    assert "graded 2, skipped 1" in r.output, r.output
    for student in ("s01_bob", "s02_carol"):
        assert f"the stored result of {student} could not be read" in r.output, r.output
    assert store_summary(root) == {s: clean["store"][s] for s in students(3)}


def test_failed_gradebook_stops_the_run_at_once(tmp_path, clean):
    """When the gradebook cannot be written, the run stops before grading
    anything (a pre-flight check of the URL and the SQLite file's folder)
    instead of grading the rest of the class first."""
    from autograder.gradebook import GradebookError
    root = make_class(tmp_path / "course")
    course = load_course(root / "course.yaml")
    calls = []
    replay = _fake_job(results_dir(clean["root"]))

    def job(*a):
        calls.append(a[3])
        time.sleep(0.2)
        return replay(*a)
    subs, _ = discover(root, AID, _notebook_name())
    with pytest.raises(GradebookError, match="no/such"):
        grade_class(course, root / "course.yaml", AID, subs,
                    ResultStore(root / "nngrade" / "results"),
                    gradebook_url=f"sqlite:///{tmp_path / 'no' / 'such' / 'gradebook.db'}",
                    workers=1, job=job)
    assert calls == [], calls


def test_pool_keeps_few_jobs_in_flight(clean, tmp_path, monkeypatch):
    """The process pool is handed a few jobs per worker at a time, not the
    whole class (whose pending jobs would otherwise sit in memory), and
    still grades everyone."""
    import autograder.pipeline as P
    n = 40
    root = make_class(tmp_path / "course", n)
    course = load_course(root / "course.yaml")
    submitted = [0]
    in_flight = []

    class CountingPool(P.ProcessPoolExecutor):
        def submit(self, *a, **k):
            submitted[0] += 1
            return super().submit(*a, **k)
    monkeypatch.setattr(P, "ProcessPoolExecutor", CountingPool)

    def progress(done, total, student):
        in_flight.append(submitted[0] - done)
    subs, _ = discover(root, AID, _notebook_name())
    run = grade_class(course, root / "course.yaml", AID, subs,
                      ResultStore(root / "nngrade" / "results"), workers=2,
                      progress=progress,
                      job=functools.partial(_replay_kind, str(results_dir(clean["root"]))))
    assert len(run.graded) == n and submitted[0] == n
    assert max(in_flight) <= P.IN_FLIGHT_PER_WORKER * 2, in_flight


def _replay_kind(replay, course_path, assignment, notebook_path, student, source):
    """A job a pool worker can unpickle: the clean run's result for the same
    kind of student (``sNN_<kind>``) in folder ``replay``, renamed."""
    kind = student.split("_", 1)[1]
    data = json.loads(next(Path(replay).glob(f"s*_{kind}.json")).read_text(encoding="utf-8"))
    data["student"] = student
    return json.dumps(data)


def load_result_score(root: Path, student: str) -> float:
    return next(r.score for r in load_results(url_of(root), AID) if r.student == student)


# -- two runs at once ------------------------------------------------------------------

def test_two_runs_at_once(clean, tmp_path, killer):
    """Two ``--force`` runs released at the same instant on one course and a
    fresh gradebook: both finish, and the result is the clean run's."""
    root = make_class(tmp_path / "course")
    env = {"NNGRADE_TEST_REPLAY": str(results_dir(clean["root"])),
           "NNGRADE_TEST_START": str(time.time() + 4)}      # both imported by then
    runs = [Run(root, tmp_path / f"tmp{i}", "--force", wrapper=killer, env=env) for i in range(2)]
    outs = [run.wait() for run in runs]
    for code, out in outs:
        assert code == 0 and f"graded {N_STUDENTS}" in out, out
    assert_same_as_clean(root, clean)
    assert tmp_files(root) == []


def test_two_real_runs_at_once(clean, tmp_path):
    """The same with the sandbox: two real ``nngrade grade --force``."""
    root = make_class(tmp_path / "course", 4)
    runs = [Run(root, tmp_path / f"tmp{i}", "--force") for i in range(2)]
    for run in runs:
        code, out = run.wait()
        assert code == 0 and "graded 4" in out, out
        run.assert_no_survivors()
    assert store_summary(root) == {s: clean["store"][s] for s in students(4)}
    assert load_scores(url_of(root), AID) == {s: clean["scores"][s] for s in students(4)}
    assert duplicates(root) == [] and tmp_files(root) == []


# -- output that cannot be written -----------------------------------------------------

def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_clear_failure(r, *words):
    assert r.exit_code == 1, (r.exit_code, r.output, r.exception)
    # a ClickException (a message, exit code 1), not an exception escaping the CLI
    assert isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output and "Error:" in r.output
    for word in words:
        assert word in r.output, (word, r.output)


def test_results_folder_is_a_file(tmp_path):
    root = make_class(tmp_path / "course", 1)
    (root / "nngrade").write_text("not a folder")
    r = _invoke(*grade_args(root, "--force"))
    assert_clear_failure(r, "cannot write", str(root / "nngrade"))


def _tmpfs(mnt: Path, options: str):
    """Mount a tmpfs on ``mnt`` (skip the test where that is not allowed)."""
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"mount -t tmpfs refused here: {p.stderr.strip()}")


@pytest.fixture
def tiny_disk(tmp_path):
    """A 64 KiB tmpfs, filled up."""
    mnt = tmp_path / "disk"
    _tmpfs(mnt, "size=64k")
    try:
        fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.fixture
def read_only(tmp_path):
    """A read-only file system (root's writes fail too: EROFS)."""
    mnt = tmp_path / "ro"
    _tmpfs(mnt, "size=64k,ro")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _grade_with_results_in(tmp_path, folder: Path):
    """Grade a one-student class whose results folder is ``folder``."""
    root = make_class(tmp_path / "course", 1)
    (root / "nngrade").mkdir()
    (root / "nngrade" / "results").symlink_to(folder)
    return _invoke(*grade_args(root, "--force", "--no-gradebook"))


def test_full_disk_for_results(tmp_path, tiny_disk):
    r = _grade_with_results_in(tmp_path, tiny_disk)
    assert_clear_failure(r, "No space left on device", "s00_alice")
    assert [p.name for p in tiny_disk.rglob("*") if p.is_file()] == ["filler"]


def test_read_only_results_folder(tmp_path, read_only):
    r = _grade_with_results_in(tmp_path, read_only)
    assert_clear_failure(r, "Read-only file system", "cannot write")




@pytest.mark.parametrize("where", ["missing folder", "/proc", "full disk", "read-only"])
def test_gradebook_cannot_be_written(tmp_path, request, where, clean):
    root = make_class(tmp_path / "course", 1)
    if where == "missing folder":
        db = tmp_path / "no" / "such" / "gradebook.db"
    elif where == "/proc":
        db = Path("/proc/nngrade-gradebook.db")
    elif where == "full disk":
        db = request.getfixturevalue("tiny_disk") / "gradebook.db"
    else:
        db = request.getfixturevalue("read_only") / "gradebook.db"
    r = _invoke(*grade_args(root, "--force", "--gradebook", f"sqlite:///{db}"))
    assert_clear_failure(r, str(db))
    # a grade finished before the gradebook failed (if the run got that far) is kept as it was
    for student, grade in store_summary(root).items():
        assert grade == clean["store"][student]

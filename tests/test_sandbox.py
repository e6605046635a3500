"""The sandboxed runner of submitted notebooks (autograder.sandbox).

Every hostile submission here is an honest A4 (or A5) notebook plus one
attack; the attack must cost at most the question it sits in, earn nothing,
change nothing outside the scratch space and leave no process behind.
Limits are small (wall 2 s) so that the file runs in well under a minute.
"""
from __future__ import annotations

import json
import os
import re
import socket
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder.config import SandboxLimits, load_course
from autograder.judge import grade_submission, variant_of
from autograder.protocol import answers_from_wire
from autograder.questions import questions_of
from autograder.questions import a5 as a5q
from autograder.grading import (ReplayRunner, build_plans, grade_notebook, plan_submission,
                                run_sandboxed)
from autograder.sandbox import client as sandbox_runner
from autograder.sandbox import prepare_cells, zygote_info

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the sandbox needs Linux")

REPO = Path(__file__).resolve().parent.parent
WALL = 2.0
LIMITS = SandboxLimits(cpu_seconds=2.0, wall_seconds=WALL, memory_mb=512, processes=32,
                       output_kb=64, file_kb=1024)
SHORT = SandboxLimits(cpu_seconds=1.0, wall_seconds=1.0, memory_mb=512, processes=32,
                      output_kb=64, file_kb=1024)
#: for tests of what a run does, not of how long it may take: a busy machine
#: must not turn a slow import into a timeout
ROOMY = SandboxLimits(cpu_seconds=60.0, wall_seconds=60.0, memory_mb=1024, processes=32,
                      output_kb=64, file_kb=1024)


# -- fixtures --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def course_dir(tmp_path_factory):
    """A course directory in nbgrader's layout, with things no child may see."""
    d = tmp_path_factory.mktemp("course")
    text = (REPO / "course.yaml").read_text(encoding="utf-8")
    start = text.index("\nsandbox:")
    end = text.index("\ngradebook_url:")
    text = text[:start] + "\nsandbox:\n  cpu_seconds: 2\n  wall_seconds: 2\n  memory_mb: 512\n" \
        "  processes: 32\n  output_kb: 64\n  file_kb: 1024\n" + text[end:]
    (d / "course.yaml").write_text(text, encoding="utf-8")
    (d / "solutions").mkdir()
    (d / "solutions" / "A4_solution.py").write_text("SECRET = 'the-solution-text'\n")
    (d / "gradebook.db").write_bytes(b"SQLite format 3\x00 pretend")
    other = d / "submitted" / "bob" / "A4"
    other.mkdir(parents=True)
    (other / "A4.ipynb").write_text('{"secret": "bob-notebook"}')
    return d


@pytest.fixture(scope="module")
def course(course_dir):
    zygote_info()                     # start the zygote once, outside the timed tests
    return load_course(course_dir / "course.yaml")


def _cell(source: str, grade_id: str | None = None, **flags):
    c = nbformat.v4.new_code_cell(source)
    if grade_id:
        c.metadata["nbgrader"] = {"grade_id": grade_id, "solution": flags.get("solution", True),
                                  "grade": flags.get("grade", False),
                                  "locked": flags.get("locked", False), "schema_version": 3}
    return c


def _notebook(cells) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


def _lit(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return repr(bool(v))
    a = np.asarray(v, dtype=float)
    return f"np.array({a.tolist()!r})"


def a4_cells(course, student: str) -> dict[str, str]:
    """``{"q1": source assigning the right answers, …}`` from the references."""
    params, _ = variant_of(course, "A4", student)
    return {q.local_id: "\n".join(f"{q.local_id}_{k} = {_lit(v)}"
                                  for k, v in q.reference(params).items())
            for q in questions_of("A4")}


def a4_notebook(course, student, *, before=None, replace=None, after=None, extra=()):
    """An honest A4 notebook; ``replace={"q2": src}`` swaps a question's
    cell, ``before``/``after`` ``{"q2": src}`` add to it, ``extra`` adds cells."""
    replace, before, after = replace or {}, before or {}, after or {}
    cells = [_cell("import numpy as np\n%matplotlib inline")]
    for q, src in a4_cells(course, student).items():
        src = replace.get(q, src)
        src = before.get(q, "") + "\n" + src + "\n" + after.get(q, "")
        cells.append(_cell(src, f"A4_{q}_answer"))
        cells.append(_cell(f'grade("A4.{q}")', f"A4_{q}", solution=False, grade=True,
                           locked=True))
    cells.extend(_cell(s) for s in extra)
    return _notebook(cells)


A5_FUNCTIONS = '''
import numpy as np

def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))

def forward(X, W1, b1, W2, b2):
    A1 = sigmoid(X @ W1.T + b1)
    A2 = sigmoid(A1 @ W2.T + b2)
    return A1, A2

def cost(X, Y, W1, b1, W2, b2):
    _, A2 = forward(X, W1, b1, W2, b2)
    return float(-np.sum(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)) / X.shape[0])

def backward(X, Y, W1, b1, W2, b2):
    A1, A2 = forward(X, W1, b1, W2, b2)
    dZ2 = (A2 - Y) / X.shape[0]
    dW2, db2 = dZ2.T @ A1, dZ2.sum(axis=0)
    dZ1 = (dZ2 @ W2) * A1 * (1 - A1)
    return dZ1.T @ X, dZ1.sum(axis=0), dW2, db2

def gradient_descent(X, Y, W1, b1, W2, b2, lr, epochs, batch_size):
    W1, b1, W2, b2 = W1.copy(), b1.copy(), W2.copy(), b2.copy()
    for _ in range(epochs):
        for s in range(0, X.shape[0], batch_size):
            g = backward(X[s:s + batch_size], Y[s:s + batch_size], W1, b1, W2, b2)
            W1, b1, W2, b2 = W1 - lr * g[0], b1 - lr * g[1], W2 - lr * g[2], b2 - lr * g[3]
    return W1, b1, W2, b2, cost(X, Y, W1, b1, W2, b2)
'''


def a5_notebook(course, student, functions=A5_FUNCTIONS):
    params, _ = variant_of(course, "A5", student)
    q3 = "\n".join(f"q3_{k} = {_lit(v)}" for k, v in a5q.batch_gradients(params).items())
    return _notebook([_cell("import numpy as np"),
                      _cell(functions, "A5_q1_answer"),
                      _cell(q3, "A5_q3_answer")])


def _write(tmp_path, nb, name="sub.ipynb") -> Path:
    p = tmp_path / name
    nbformat.write(nb, str(p))
    return p


def _grade(course, tmp_path, nb, student, assignment="A4", limits=LIMITS, **kw):
    path = _write(tmp_path, nb)
    t = time.monotonic()
    result = grade_notebook(course, assignment, path, student, limits=limits, **kw)
    return result, time.monotonic() - t


def _q_score(result, question):
    return result.totals()[question]


def _full(result, question) -> bool:
    got, top = _q_score(result, question)
    return got == top and top > 0


def _cells(result):
    return result.details["sandbox"]["cells"]


def _processes_of(student: str) -> list[int]:
    """Processes whose environment names ``student`` (the sandbox sets it)."""
    marker = f"NNGRADE_STUDENT={student}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if marker in env:
            found.append(int(name))
    return found


# -- honest submissions ------------------------------------------------------------------

def test_honest_a4_full_marks(course, tmp_path):
    result, seconds = _grade(course, tmp_path, a4_notebook(course, "alice"), "alice")
    assert result.score == result.max_score > 0
    sb = result.details["sandbox"]
    assert sb["status"] == "ok"
    assert [c["status"] for c in sb["cells"]] == ["ok", "ok", "skipped", "ok", "skipped",
                                                  "ok", "skipped"]
    assert sb["isolation"]["mode"] in ("namespaces", "rlimits-only")
    assert seconds < 5


def test_honest_a5_functions_full_marks(course, tmp_path):
    result, _ = _grade(course, tmp_path, a5_notebook(course, "carol"), "carol", "A5")
    assert result.score == result.max_score > 0, [
        (q.label, q.status, q.feedback_text("en")) for q in result.questions if not q.full_marks]


def test_graded_result_keeps_the_students_own_function_source(course, tmp_path):
    """The stored result keeps each function's source as the student wrote
    it (from the cells the sandbox graded, without reading the file again)."""
    result, _ = _grade(course, tmp_path, a5_notebook(course, "carol"), "carol", "A5")
    back = next(q for q in result.questions if q.part == "backward")
    assert back.details["source"].lstrip().startswith("def backward(")
    assert back.details["source"] in A5_FUNCTIONS


def test_child_sets_up_from_its_context_without_course_yaml(course, tmp_path):
    """The child never parses course.yaml: with no copy of it in the
    scratch directory, ``nb.setup`` still gets the student's variant and
    the course's language from the grader's context, and the answers are
    graded as usual."""
    import dataclasses
    setup = ("import autograder.notebook as nb, os\n"
             "s = nb.setup('A4', 'frank')\n"
             "print('params', sorted(s.params) == %r, 'language', s.language,\n"
             "      'course.yaml' in os.listdir('.'))" % sorted(variant_of(course, "A4", "frank")[0]))
    nb = a4_notebook(course, "frank", extra=[setup])
    plan = dataclasses.replace(plan_submission(course, "A4", "frank", limits=LIMITS),
                               course_file=None)
    outcome = run_sandboxed(plan, _write(tmp_path, nb))
    last = outcome.cells[-1]
    assert last.status == "ok", last.error
    assert f"params True language {course.language} False" in last.output
    got = grade_submission(course, "A4", answers_from_wire(outcome.answers), "frank")
    assert got.score == got.max_score


def test_grade_one_computes_the_variant_once(course, tmp_path, monkeypatch):
    """plan → sandbox → judge → annotate draws the student's variant once:
    the plans, the child's context and the judge share it."""
    import autograder.judge as judge
    nb = a4_notebook(course, "gina")
    calls = []
    real = judge.variant_of
    monkeypatch.setattr(judge, "variant_of", lambda *a: calls.append(a) or real(*a))
    result, _ = _grade(course, tmp_path, nb, "gina")
    assert result.score == result.max_score
    assert calls == [(course, "A4", "gina")]


def test_sandbox_matches_in_process_judging(course, tmp_path):
    """Judging the sandbox's answers equals judging the same answers directly."""
    nb = a4_notebook(course, "dave", replace={"q2": "q2_dW2 = np.array([[0.5, 0.5]])"})
    path = _write(tmp_path, nb)
    outcome = run_sandboxed(plan_submission(course, "A4", "dave", plans={}, limits=LIMITS), path)
    params, _ = variant_of(course, "A4", "dave")
    direct = {}
    for q in questions_of("A4"):
        direct[q.local_id] = {k: v for k, v in q.reference(params).items()}
    direct["q2"] = {"dW2": np.array([[0.5, 0.5]])}
    want = grade_submission(course, "A4", direct, "dave")
    got = grade_submission(course, "A4", answers_from_wire(outcome.answers), "dave")
    assert got.score == want.score
    assert [q.status for q in got.questions] == [q.status for q in want.questions]


def test_replay_runner():
    runner = ReplayRunner({"A5.q1.forward": {"forward#0": {"ok": True, "value": np.ones(2)}}},
                          {"A5.q1.cost": "timed out"})
    plan = [{"id": "forward#0"}, {"id": "forward#1"}]
    out = runner.for_part("A5.q1.forward").run(plan)
    assert out["forward#0"]["ok"] and not out["forward#1"]["ok"]
    assert runner.for_part("A5.q1.cost").run([{"id": "cost#0"}])["cost#0"] == \
        {"ok": False, "error": "timed out"}


def test_plans_are_the_judges(course):
    """build_plans draws what judge_fn_part will (same seed, same rng use)."""
    from autograder.functions import plan_calls
    _, seed = variant_of(course, "A5", "erin")
    plans = build_plans(course, "A5", "erin")
    assert set(plans) == {"A5.q1.forward", "A5.q1.cost", "A5.q2.backward",
                          "A5.q4.gradient_descent"}
    again = plan_calls(a5q.BACKWARD, np.random.default_rng(seed))
    assert [c["id"] for c in again] == [c["id"] for c in plans["A5.q2.backward"]]
    for a, b in zip(again, plans["A5.q2.backward"]):
        for x, y in zip(a["args"], b["args"]):
            assert np.array_equal(x, y)


# -- time, crashes, exits ---------------------------------------------------------------

def test_infinite_loop_costs_only_its_question(course, tmp_path):
    nb = a4_notebook(course, "frank", before={"q2": "while True:\n    pass"})
    result, seconds = _grade(course, tmp_path, nb, "frank")
    assert seconds < 2 * WALL + 0.5
    assert _full(result, "A4.q1") and _full(result, "A4.q3")
    assert _q_score(result, "A4.q2")[0] == 0
    assert {r.status for r in result.results_for("A4.q2")} == {"timeout"}
    assert "timed out" in result.results_for("A4.q2")[0].feedback_text("en")
    assert _cells(result)[3]["status"] == "timeout"


def test_two_infinite_loops_stay_within_twice_the_limit(course, tmp_path):
    nb = a4_notebook(course, "gina", before={"q2": "while True:\n    pass",
                                             "q3": "import time\nwhile True:\n    time.sleep(1)"})
    result, seconds = _grade(course, tmp_path, nb, "gina")
    assert seconds < 2 * WALL + 0.5
    assert _full(result, "A4.q1")
    assert result.details["sandbox"]["status"] == "partial"


@pytest.mark.parametrize("attack", [
    "import os\nos._exit(3)",
    "import os\nos._exit(0)",
    "import ctypes\nctypes.string_at(0)",                                  # segfault
    "import os\nos.abort()",
    # C-level recursion past the C stack (json's encoder recurses in C): a segfault
    "import sys, json\nsys.setrecursionlimit(10**7)\nx = []\nfor _ in range(10**5):\n"
    "    x = [x]\njson.dumps(x)",
])
def test_crash_costs_only_its_question(course, tmp_path, attack):
    nb = a4_notebook(course, "hank", before={"q3": attack})
    result, seconds = _grade(course, tmp_path, nb, "hank", limits=SHORT)
    assert _full(result, "A4.q1") and _full(result, "A4.q2")
    assert _q_score(result, "A4.q3")[0] == 0
    assert {r.status for r in result.results_for("A4.q3")} == {"error"}
    assert _cells(result)[5]["status"] == "killed"
    assert "ended the process" in result.results_for("A4.q3")[0].feedback_text("en")
    assert seconds < 2 * SHORT.wall_seconds + 0.5


def test_extreme_python_recursion(course, tmp_path):
    attack = "import sys\nsys.setrecursionlimit(10**7)\ndef f(n):\n    return f(n + 1) + 1\nf(0)"
    nb = a4_notebook(course, "hank", before={"q3": attack})
    result, seconds = _grade(course, tmp_path, nb, "hank", limits=SHORT)
    assert _full(result, "A4.q1") and _full(result, "A4.q2")
    assert _q_score(result, "A4.q3")[0] == 0
    assert _cells(result)[5]["status"] in ("error", "killed", "timeout")   # MemoryError, …
    assert seconds < 2 * SHORT.wall_seconds + 0.5


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM", "SIGSEGV"])
def test_self_kill(course, tmp_path, sig):
    """Signalling itself costs at most the question (as pid 1 of its
    namespace the child ignores signals it sends itself)."""
    attack = f"import os, signal\nos.kill(os.getpid(), signal.{sig})\nos.kill(0, signal.{sig})"
    nb = a4_notebook(course, "hank", before={"q3": attack})
    result, seconds = _grade(course, tmp_path, nb, "hank", limits=SHORT)
    assert _full(result, "A4.q1") and _full(result, "A4.q2")
    assert seconds < 2 * SHORT.wall_seconds + 0.5


@pytest.mark.parametrize("attack", ["import sys\nsys.exit(1)", "raise KeyboardInterrupt",
                                    "import os, signal\nos.kill(os.getpid(), signal.SIGINT)",
                                    "raise SystemExit('bye')", "exit()"])
def test_exits_are_cell_errors(course, tmp_path, attack):
    """Like Jupyter: the cell fails, the notebook goes on; answers assigned
    before the exit in the same cell still count."""
    nb = a4_notebook(course, "iris", after={"q2": attack}, before={"q3": attack})
    result, _ = _grade(course, tmp_path, nb, "iris")
    assert _full(result, "A4.q1") and _full(result, "A4.q2")
    assert _q_score(result, "A4.q3")[0] == 0
    assert {r.status for r in result.results_for("A4.q3")} == {"error"}
    cells = _cells(result)
    assert cells[3]["status"] == cells[5]["status"] == "error"
    assert re.match(r"(SystemExit|KeyboardInterrupt)", cells[5]["error"])


# -- resources --------------------------------------------------------------------------

@pytest.mark.parametrize("attack", [
    "x = np.ones(10**11)",
    "chunks = []\nwhile True:\n    chunks.append(np.empty(2**24))",
])
def test_memory_bomb(course, tmp_path, attack):
    nb = a4_notebook(course, "jack", before={"q2": attack})
    result, _ = _grade(course, tmp_path, nb, "jack")
    assert _full(result, "A4.q1") and _full(result, "A4.q3")
    assert _q_score(result, "A4.q2")[0] == 0
    assert "MemoryError" in (_cells(result)[3].get("error") or "")


def test_fork_bomb_is_contained_and_killed(course, tmp_path):
    student = "kate-forkbomb"
    attack = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    nb = a4_notebook(course, student, before={"q3": attack})
    result, seconds = _grade(course, tmp_path, nb, student)
    assert seconds < 2 * WALL + 0.5
    assert _full(result, "A4.q1") and _full(result, "A4.q2")
    assert _cells(result)[5]["status"] in ("timeout", "killed")
    assert _processes_of(student) == []


def test_output_flood_is_capped(course, tmp_path):
    attack = ("print('x' * 10**7)\nimport sys, os\nfor i in range(2000):\n"
              "    sys.stderr.write('y' * 1000)\nos.write(1, b'z' * 10**6)\n")
    nb = a4_notebook(course, "liam", after={"q1": attack})
    result, _ = _grade(course, tmp_path, nb, "liam")
    assert result.score == result.max_score
    cell = _cells(result)[1]
    assert cell["status"] == "ok" and len(cell["output"]) <= 2000
    assert len(json.dumps(result.details)) < 200_000


def test_big_files_are_refused(course, tmp_path):
    attack = ("try:\n    open('big.bin', 'wb').write(b'0' * (3 * 2**20))\n"
              "except OSError as e:\n    print('refused', e.errno)")
    nb = a4_notebook(course, "mia", after={"q1": attack})
    result, _ = _grade(course, tmp_path, nb, "mia")
    assert result.score == result.max_score
    assert "refused 27" in _cells(result)[1]["output"]          # EFBIG


# -- the file system, the network, the grader --------------------------------------------

def _probe(paths_to_read, paths_to_write) -> str:
    lines = ["import os, socket", "report = {}"]
    for p in paths_to_read:
        lines += [f"try:\n    report[{str(p)!r}] = open({str(p)!r}, 'rb').read()[:40].decode('latin-1')",
                  f"except Exception as e:\n    report[{str(p)!r}] = 'DENIED ' + type(e).__name__"]
    for p in paths_to_write:
        lines += [f"try:\n    open({str(p)!r}, 'w').write('pwned')\n    report['w:' + {str(p)!r}] = 'WROTE'",
                  f"except Exception as e:\n    report['w:' + {str(p)!r}] = 'DENIED ' + type(e).__name__"]
    lines += ["import json", "print(json.dumps(report))"]
    return "\n".join(lines)


def _report(result, cell=1) -> dict:
    out = _cells(result)[cell]["output"]
    return json.loads(next(line for line in out.splitlines() if line.startswith("{")))


def test_cannot_read_outside_scratch(course, course_dir, tmp_path):
    if not (REPO / "solutions").exists():
        pytest.skip("no solutions/ in the repository")
    secrets = [course_dir / "solutions" / "A4_solution.py", course_dir / "gradebook.db",
               course_dir / "course.yaml", course_dir / "submitted/bob/A4/A4.ipynb",
               REPO / "solutions" / "README.md", REPO / "course.yaml",
               Path("/etc/shadow"), Path("/proc/1/environ")]
    nb = a4_notebook(course, "nina", after={"q1": _probe(secrets, []) +
                                            "\nprint('own copy', 'course_id' in open('course.yaml').read())"})
    result, _ = _grade(course, tmp_path, nb, "nina")
    assert result.score == result.max_score
    report = _report(result)
    for p in secrets:
        assert report[str(p)].startswith("DENIED"), (p, report[str(p)])
    # the child still has its own copy of course.yaml, as NNGRADE_COURSE says
    assert "own copy True" in _cells(result)[1]["output"]


def test_cannot_write_outside_scratch(course, course_dir, tmp_path):
    targets = [course_dir / "pwned.txt", course_dir / "solutions" / "A4_solution.py",
               tmp_path / "pwned.txt", Path("/tmp/nngrade-pwned.txt"),
               REPO / "autograder" / "pwned.py"]
    before = (course_dir / "solutions" / "A4_solution.py").read_text()
    nb = a4_notebook(course, "omar", after={"q1": _probe([], targets) +
                                            "\nopen('mine.txt', 'w').write('ok')"})
    result, _ = _grade(course, tmp_path, nb, "omar")
    assert result.score == result.max_score
    assert _cells(result)[1]["status"] == "ok"            # writing in scratch works
    report = _report(result)
    for p in targets:
        assert report["w:" + str(p)].startswith("DENIED"), p
    assert not (course_dir / "pwned.txt").exists() and not (tmp_path / "pwned.txt").exists()
    assert not Path("/tmp/nngrade-pwned.txt").exists()
    assert not (REPO / "autograder" / "pwned.py").exists()
    assert (course_dir / "solutions" / "A4_solution.py").read_text() == before


def test_no_network(course, tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    attack = (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
              f"    print('CONNECTED')\nexcept OSError as e:\n    print('DENIED', e)\n"
              f"try:\n    socket.create_connection(('1.1.1.1', 53), timeout=1)\n"
              f"    print('CONNECTED')\nexcept OSError as e:\n    print('DENIED', e)")
    try:
        nb = a4_notebook(course, "pia", after={"q1": attack})
        result, _ = _grade(course, tmp_path, nb, "pia")
    finally:
        server.close()
    if result.details["sandbox"]["isolation"]["mode"] != "namespaces":
        pytest.skip("no network namespace here")
    out = _cells(result)[1]["output"]
    assert "CONNECTED" not in out and out.count("DENIED") == 2


def test_cannot_see_or_signal_the_grader(course, tmp_path):
    attack = ("import os, signal\nprint('pids', sorted(int(p) for p in os.listdir('/proc') "
              "if p.isdigit()))\n"
              f"try:\n    os.kill({os.getpid()}, signal.SIGKILL)\n    print('SIGNALLED')\n"
              "except OSError as e:\n    print('DENIED', type(e).__name__)\n"
              "print('environ', sorted(os.environ))")
    nb = a4_notebook(course, "quinn", after={"q1": attack})
    result, _ = _grade(course, tmp_path, nb, "quinn")
    assert result.score == result.max_score          # and this process is still alive
    out = _cells(result)[1]["output"]
    if result.details["sandbox"]["isolation"]["mode"] == "namespaces":
        assert "pids [1]" in out
    assert "SIGNALLED" not in out
    env = out.split("environ", 1)[1]
    assert "NNGRADE_MODE" in env and "NNGRADE_COURSE" in env and "PYTEST" not in env


def test_magics_and_shell_escapes(course, tmp_path):
    nb = a4_notebook(course, "rosa", after={"q1": "%time x = 1\n%config InlineBackend.x = 1"},
                     extra=["!ls /", "files = !ls", "%%bash\nls /\n", "%pip install requests",
                            "%%time\ny = 2"])
    result, _ = _grade(course, tmp_path, nb, "rosa")
    assert result.score == result.max_score
    statuses = [c["status"] for c in _cells(result)]
    assert statuses[0] == statuses[1] == "ok"                # %matplotlib, %time, %config
    assert statuses[-5:] == ["refused", "refused", "refused", "refused", "ok"]
    assert _cells(result)[-5]["refused"] == ["!ls /"]


# -- lying answers and monkeypatching ------------------------------------------------------

def test_monkeypatching_the_child_changes_nothing(course, tmp_path):
    patch = ("import numpy, builtins\nimport autograder.numeric as n, autograder.protocol as p\n"
             "numpy.allclose = lambda *a, **k: True\nnumpy.isclose = lambda a, b, **k: True\n"
             "numpy.array_equal = lambda *a, **k: True\nnumpy.testing.assert_allclose = "
             "lambda *a, **k: None\n"
             "n.check_array = lambda *a, **k: None\n"
             "builtins.abs = lambda x: 0\n")
    wrong = {"q2": "q2_dW2 = np.zeros((1, 2))\nq2_db2 = np.zeros(1)\n"
                   "q2_dW1 = np.zeros((2, 2))\nq2_db1 = np.zeros(2)"}
    honest_wrong, _ = _grade(course, tmp_path, a4_notebook(course, "sam", replace=wrong), "sam")
    patched, _ = _grade(course, tmp_path,
                        a4_notebook(course, "sam", replace=wrong,
                                    extra=[], before={"q1": patch}), "sam")
    assert patched.score == honest_wrong.score < patched.max_score
    assert [q.status for q in patched.questions] == [q.status for q in honest_wrong.questions]


def test_lying_answers_get_no_credit(course, tmp_path):
    marker = tmp_path / "reduce-ran"
    liars = f"""
class Always:
    def __eq__(self, other): return True
    def __float__(self): return 0.0
class Sub(np.ndarray):
    def __eq__(self, other): return np.ones(np.shape(other), bool)
    def __array_ufunc__(self, *a, **k): return np.zeros(1)
class Evil:
    def __reduce__(self):
        import os
        return (os.system, ("touch {marker}",))
q1_z1 = Always()
q1_y_hat = np.asarray(q1_y_hat).view(Sub)
q1_L = Evil()
"""
    nb = a4_notebook(course, "tess", after={"q1": liars})
    result, _ = _grade(course, tmp_path, nb, "tess")
    for r in result.results_for("A4.q1"):
        assert r.score == 0 and r.status == "invalid", (r.label, r.status)
    assert _full(result, "A4.q2") and _full(result, "A4.q3")
    assert not marker.exists()


def test_function_that_hangs_or_exits_costs_only_its_part(course, tmp_path):
    hostile = A5_FUNCTIONS.replace(
        "def cost(X, Y, W1, b1, W2, b2):\n",
        "def cost(X, Y, W1, b1, W2, b2):\n    if X.shape[0] == 12:\n        import os\n"
        "        os._exit(0)\n") + "\ndef gradient_descent(*args):\n    while True:\n        pass\n"
    result, seconds = _grade(course, tmp_path, a5_notebook(course, "uma", hostile), "uma", "A5",
                             limits=SHORT)
    assert seconds < 2 * SHORT.wall_seconds + 0.5
    parts = result.details["sandbox"]["parts"]
    assert parts["A5.q1.cost"]["status"] == "killed"
    assert parts["A5.q4.gradient_descent"]["status"] == "timeout"
    by = {r.label: r for r in result.questions}
    assert by["A5.q1/cost"].status == "error" and by["A5.q1/cost"].score == 0
    assert by["A5.q4/gradient_descent"].status == "timeout"
    assert "timed out" in by["A5.q4/gradient_descent"].feedback_text("en")
    for label in ("A5.q1/forward", "A5.q2/backward", "A5.q3/dW1"):
        assert by[label].score == by[label].max_score, label


# -- signal tricks and leftovers ----------------------------------------------------------

def test_ignoring_sigalrm_does_not_dodge_the_timeout(course, tmp_path):
    attack = ("import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
              "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nsignal.alarm(1)\n"
              "while True:\n    time.sleep(0.05)")
    nb = a4_notebook(course, "vera", before={"q3": attack})
    result, seconds = _grade(course, tmp_path, nb, "vera", limits=SHORT)
    assert seconds < 2 * SHORT.wall_seconds + 0.5
    assert _full(result, "A4.q1") and _full(result, "A4.q2")
    assert _cells(result)[5]["status"] == "timeout"


DAEMON = """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        while True:
            time.sleep(0.05)
    os._exit(0)
time.sleep(0.2)
"""


@pytest.mark.parametrize("isolation", ["auto", "rlimits"])
def test_setsid_daemon_is_killed(course, tmp_path, isolation):
    student = f"walt-daemon-{isolation}"
    nb = a4_notebook(course, student, after={"q1": DAEMON})
    result, _ = _grade(course, tmp_path, nb, student, isolation=isolation)
    assert result.score == result.max_score
    assert _processes_of(student) == []
    if isolation == "rlimits":
        assert result.details["sandbox"]["isolation"]["mode"] == "rlimits-only"
        assert any("FALLBACK" in d for d in result.details["sandbox"]["isolation"]["details"])


# -- notebooks: malformed, tampered ---------------------------------------------------------

@pytest.mark.parametrize("content,reason", [
    (b"{not json", "json"),
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00binary", "binary"),
    ('{"nbformat": 4, "cells": [], "x": "caf\u00e9"}'.encode("latin-1"), "encoding"),
    (json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": []}).encode(), "nbformat"),
    (b"[1, 2, 3]", "json"),
    (b"[" * 100_000 + b"]" * 100_000, "json"),
])
def test_malformed_notebooks_score_zero(course, tmp_path, content, reason):
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content)
    result = grade_notebook(course, "A4", path, "xena", limits=LIMITS)
    assert result.score == 0 and result.max_score > 0
    assert {q.status for q in result.questions} == {"error"}
    sb = result.details["sandbox"]
    assert sb["status"] == "malformed" and sb["reason"] == reason
    said = result.questions[0].feedback_text("en")
    assert said and ".." not in said
    # said once: every other part points to it instead of repeating it
    assert {q.feedback_text("en") for q in result.questions[1:]} == {"(As above.)"}


def test_huge_notebook_is_refused(course, tmp_path):
    path = tmp_path / "huge.ipynb"
    with open(path, "wb") as f:
        f.truncate(40 << 20)
    result = grade_notebook(course, "A4", path, "yuri", limits=LIMITS)
    assert result.score == 0 and result.details["sandbox"]["reason"] == "huge"


def test_locked_cells_restored_from_source(course, tmp_path):
    """Edited, duplicated and deleted locked cells; a tampered test cell."""
    answers = a4_cells(course, "zoe")
    source = _notebook([
        _cell("import numpy as np\nSCALE = 1.0", "A4_setup", solution=False, locked=True),
        _cell("### BEGIN SOLUTION\n" + answers["q1"] + "\n### END SOLUTION", "A4_q1_answer"),
        _cell('grade("A4.q1")\nassert HIDDEN_TEST', "A4_q1", solution=False, grade=True,
              locked=True),
        _cell("OFFSET = 0.0", "A4_given", solution=False, locked=True),
        _cell(answers["q2"], "A4_q2_answer"),
        _cell(answers["q3"], "A4_q3_answer"),
    ])
    scaled = answers["q1"].replace("np.array(", "SCALE * np.array(")
    shifted = answers["q2"].replace("np.array(", "OFFSET + np.array(")
    sub = _notebook([
        _cell("import numpy as np\nSCALE = 3.0", "A4_setup", solution=False, locked=True),
        _cell(scaled, "A4_q1_answer"),
        _cell("q1_z1 = 'tampered'", "A4_q1", solution=True, grade=True, locked=False),
        _cell("SCALE = 5.0", "A4_setup", solution=False, locked=True),     # duplicate
        # A4_given deleted: re-inserted from the source
        _cell(shifted, "A4_q2_answer"),
        _cell(answers["q3"], "A4_q3_answer"),
    ])
    src_path = _write(tmp_path, source, "source.ipynb")
    result, _ = _grade(course, tmp_path, sub, "zoe", source_notebook=src_path)
    assert result.score == result.max_score
    notes = result.details["sandbox"]["notes"]
    assert any("A4_given" in n and "re-inserted" in n for n in notes)
    assert any("duplicate" in n for n in notes)
    cells = _cells(result)
    assert [c["status"] for c in cells if c.get("grade_id") == "A4_q1"] == ["skipped"]


def test_prepare_cells_without_source_skips_test_cells():
    nb = _notebook([_cell("a = 1"), _cell("check()", "A4_q1", solution=False, grade=True,
                                           locked=True), _cell("b = 2", "A4_q1_answer")])
    cells, _ = prepare_cells(nb, "A4")
    assert [c.run for c in cells] == [True, False, True]
    assert cells[2].question == "A4.q1"


def test_other_students_unaffected(course, tmp_path):
    """A hostile run between two honest ones changes nothing for the others."""
    first, _ = _grade(course, tmp_path, a4_notebook(course, "ada"), "ada")
    _grade(course, tmp_path, a4_notebook(course, "eve", before={"q1": "import os\nos._exit(1)"},
                                         after={"q3": "globals().clear()"}), "eve")
    again, _ = _grade(course, tmp_path, a4_notebook(course, "ada"), "ada")
    assert first.to_dict()["questions"] == again.to_dict()["questions"]


def test_forged_or_garbled_results_cost_only_that_cell(course, tmp_path):
    attack = ("import os\nfor fd in range(3, 64):\n    try:\n"
              "        os.write(fd, b'NNG1' + b'\\xff' * 64)\n    except OSError:\n        pass")
    nb = a4_notebook(course, "ugo", before={"q2": attack})
    result, _ = _grade(course, tmp_path, nb, "ugo")
    assert _full(result, "A4.q1") and _full(result, "A4.q3")
    assert _q_score(result, "A4.q2")[0] == 0
    cell = _cells(result)[3]
    assert cell["status"] == "killed" and "protocol" in cell["error"]


def test_cannot_delete_outside_scratch(course, course_dir, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    attack = (f"import os, shutil\nfor p in [{str(victim)!r}, {str(course_dir / 'gradebook.db')!r}]:\n"
              f"    try:\n        os.remove(p)\n    except OSError as e:\n        print('DENIED', p)\n"
              f"shutil.rmtree({str(course_dir / 'solutions')!r}, ignore_errors=True)")
    nb = a4_notebook(course, "vic", after={"q1": attack})
    result, _ = _grade(course, tmp_path, nb, "vic")
    assert result.score == result.max_score
    assert victim.read_text() == "keep me"
    assert (course_dir / "gradebook.db").exists()
    assert (course_dir / "solutions" / "A4_solution.py").exists()


def test_no_other_submission_in_the_childs_memory(course, tmp_path):
    """The zygote never reads a request, so a child's memory (inherited from
    it) holds no trace of the notebooks graded before."""
    token = "7f3a9c1e5b"
    first = a4_notebook(course, "wen", extra=[f"MARK = 'SECRET-MARKER-{token}'"])
    _grade(course, tmp_path, first, "wen")
    scan = f"""
import ctypes
needle = b'SECRET-MARKER-' + bytes(reversed({token[::-1].encode()!r}))
own = ctypes.cast(ctypes.c_char_p(needle), ctypes.c_void_p).value
hits = scanned = 0
for line in open('/proc/self/maps'):
    addr, perms = line.split()[:2]
    if not perms.startswith('r') or '[v' in line:
        continue
    lo, hi = (int(x, 16) for x in addr.split('-'))
    start = lo
    while start < hi:
        n = min(hi - start, 1 << 24)
        try:
            chunk = ctypes.string_at(start, n)
        except Exception:
            break
        scanned += n
        i = chunk.find(needle)
        while i >= 0:
            if start + i != own:
                hits += 1
            i = chunk.find(needle, i + 1)
        start += n
        del chunk
print('scanned', scanned > 10**7, 'hits', hits)
"""
    second = a4_notebook(course, "xia", extra=[scan])
    result, _ = _grade(course, tmp_path, second, "xia")
    out = _cells(result)[-1]["output"]
    assert "scanned True hits 0" in out, (out, _cells(result)[-1].get("error"))


# -- one zygote shared by a pool of graders ---------------------------------------------

def _pool_attached_to(zygote, n: int = 2):
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context
    return ProcessPoolExecutor(n, mp_context=get_context("forkserver"),
                               initializer=sandbox_runner.attach, initargs=(zygote.control,))


def test_pool_workers_share_one_zygote_and_survive_its_death():
    """Workers attached to the shared zygote all use it (one zygote for the
    pool, not one each); when it dies, each starts its own and goes on."""
    shared = sandbox_runner.start_shared_zygote()
    pid = shared.info["pid"]
    with _pool_attached_to(shared) as pool:
        seen = {f.result()["pid"] for f in [pool.submit(sandbox_runner.zygote_info) for _ in range(6)]}
        assert seen == {pid}
        shared.proc.kill()
        shared.proc.wait()
        after = {f.result()["pid"] for f in [pool.submit(sandbox_runner.zygote_info) for _ in range(6)]}
    assert pid not in after and after


def test_child_of_the_shared_zygote_has_no_socket_to_it(course, tmp_path):
    """A submission run by the shared zygote finds no socket among its file
    descriptors (so it cannot attach to the zygote and start runs of its own
    with other limits)."""
    sandbox_runner.start_shared_zygote()
    attack = ("import os, socket, stat\nkinds = []\n"
              "for fd in sorted(int(f) for f in os.listdir('/proc/self/fd')):\n"
              "    try:\n        st = os.fstat(fd)\n    except OSError:\n        continue\n"
              "    kinds.append((fd, 'SOCKET' if stat.S_ISSOCK(st.st_mode) else 'other'))\n"
              "print('FDS', kinds)")
    result, _ = _grade(course, tmp_path, a4_notebook(course, "zoe", after={"q1": attack}), "zoe")
    out = _cells(result)[1]["output"]
    assert "FDS" in out and "SOCKET" not in out, out
    assert result.score == result.max_score


def test_notebook_imports_reads_import_lines(tmp_path):
    """What the zygote preloads for an assignment: the modules its released
    notebook imports (aliases, lists and ``from`` imports; magics and text
    ignored); None when the notebook cannot be read."""
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("import os"),
        nbformat.v4.new_code_cell("import numpy as np, json\nfrom nn_core.data import digits\n"
                                  "%matplotlib inline\n  import matplotlib.pyplot as plt\n"
                                  "x = 1  # import nothing\nimport numpy"),
    ])
    path = _write(tmp_path, nb)
    assert sandbox_runner.notebook_imports(path) == ["numpy", "json", "nn_core.data",
                                                      "matplotlib.pyplot"]
    assert sandbox_runner.notebook_imports(tmp_path / "missing.ipynb") is None
    # a toolkit function that imports on its first call brings its modules
    from autograder.notebook import RUNTIME_IMPORTS
    nb.cells.append(nbformat.v4.new_code_cell("show_derivation('a3_backprop')"))
    path = _write(tmp_path, nb, "with_derivation.ipynb")
    assert sandbox_runner.notebook_imports(path)[4:] == list(RUNTIME_IMPORTS["show_derivation"])


def test_module_not_preloaded_is_imported_by_the_child(course, tmp_path):
    """A zygote told the notebook imports nothing beyond the standard set
    (so not matplotlib) still runs a submission that plots: the child
    imports it itself."""
    sandbox_runner.shutdown()
    sandbox_runner.start_shared_zygote(preload=[])
    try:
        plot = ("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.savefig('f.png')\n"
                "import os\nprint('PLOTTED', os.path.getsize('f.png') > 0)")
        result, _ = _grade(course, tmp_path, a4_notebook(course, "yan", after={"q1": plot}), "yan",
                           limits=ROOMY)
        assert "PLOTTED True" in _cells(result)[1]["output"]
        assert result.score == result.max_score
    finally:
        sandbox_runner.shutdown()


def test_zygote_idles_when_nobody_can_attach_any_more(course, tmp_path):
    """Once every copy of the control socket is closed, the shared zygote
    neither spins on it nor stops serving its owner."""
    sandbox_runner.shutdown()
    shared = sandbox_runner.start_shared_zygote(preload=[])
    try:
        pid = shared.info["pid"]
        shared.control.close()

        def cpu_ticks() -> int:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])        # utime + stime
        time.sleep(0.3)
        before = cpu_ticks()
        time.sleep(1.0)
        assert cpu_ticks() - before <= 5                      # clock ticks, 100 per second
        result, _ = _grade(course, tmp_path, a4_notebook(course, "ida"), "ida")
        assert result.score == result.max_score
    finally:
        sandbox_runner.shutdown()

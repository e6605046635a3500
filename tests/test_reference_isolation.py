"""Graded runs hold no answers: student code cannot reach the reference.

Per route a student who looks at the installed package might take (an
import, ``importlib`` with a name built at run time, ``__import__``, the
reference's source read from disk and exec'ed, nn_core's own functions, a
``gc`` walk, ``sys.modules``), one cheat notebook per assignment with
function parts defines every function through that route, and also answers
a numeric question (A3.q2) and a formula question (A2.q1) from the
question's own ``build``.  They are graded in one class with an honest
control: every cheated part earns 0 and is flagged for the instructor
(except ``sys.modules``, which leaves no trace: there is nothing in it),
and the honest notebook earns its points, the same as when graded alone.
The expected points come from course.yaml; the honest functions are
checked by the judge against nn_core's references.
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from autograder.config import load_course
from autograder.questions import questions_of
from autograder.grading import grade_notebook
from autograder.sandbox.allowlist import (RUNTIME, allowed_modules, cell_imports,
                                          is_allowed, package_files)

ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(ROOT / "course.yaml")

#: how a cheat gets hold of ``get_question`` (an error here is the point)
ROUTES = {
    "import": "from autograder.questions import get_question",
    "importlib": "import importlib\n"
                 "get_question = importlib.import_module('autograder.' + 'quest' + 'ions')"
                 ".get_question",
    "dunder": "get_question = __import__('autograder.questions', fromlist=['x']).get_question",
    "file": "import os, autograder\n_ns = {'__name__': 'autograder.questions'}\n"
            "exec(open(os.path.join(os.path.dirname(autograder.__file__), 'questions', "
            "'__init__.py')).read(), _ns)\nget_question = _ns['get_question']",
    "nn_core": "",                    # the functions themselves: see _cheat
    "gc": "import gc\nget_question = next(o for o in gc.get_objects() "
          "if getattr(o, '__name__', '') == 'get_question')",
    "sys_modules": "import sys\nget_question = sys.modules['autograder.questions'].get_question",
}
#: routes that leave a trace the grader records
FLAGGED = {"import", "importlib", "dunder", "file", "nn_core", "gc"}
#: the numeric and the formula question answered from the question's build()
BUILT = ("A3.q2", "A2.q1")


def _fn_parts(aid):
    return [(q, p) for q in questions_of(aid) for p in q.parts if p.kind == "fn"]


FN_ASSIGNMENTS = [a for a in COURSE.assignments if _fn_parts(a)]


def _exercise(aid):
    return json.loads((ROOT / "exercises" / COURSE.assignment(aid).notebook)
                      .read_text(encoding="utf-8"))


def _gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")


def _cheat(aid: str, route: str) -> tuple[dict, set[str]]:
    """The released notebook of ``aid`` with every answer cell that defines a
    graded function (and the answer cell of a BUILT question) replaced by the
    route's cheat; returns it and the cheated questions."""
    nb = _exercise(aid)
    prelude = ROUTES[route]
    cheated = set()
    for cell in nb["cells"]:
        gid = _gid(cell)
        if cell["cell_type"] != "code" or "_answer" not in gid:
            continue
        source = "".join(cell["source"])
        body = []
        for q, p in _fn_parts(aid):
            if re.search(rf"^def {p.fn.name}\(", source, re.M):
                body.append(f"from nn_core import {p.fn.name}\n" if route == "nn_core" else
                            f"def {p.fn.name}(*args):\n"
                            f"    return get_question({q.id!r}).part({p.name!r}).fn"
                            f".reference(*args)\n")
                cheated.add(q.id)
        qid = gid.split("_answer")[0].replace("_", ".")
        if qid in BUILT:
            q = next(q for q in questions_of(aid) if q.id == qid)
            body.append("import nn_core.activations, nn_core.symbolic\n" if route == "nn_core"
                        else f"_r = get_question({qid!r}).build(nb.params, None)\n" + "".join(
                f"{q.local_id}_{p.name} = _r[{p.name!r}]\n" for p in q.parts))
            cheated.add(qid)
        if body:
            cell["source"] = prelude + "\n" + "".join(dict.fromkeys(body))
    return nb, cheated


def _honest_a7() -> dict:
    """The A7 solution with its display-only blocks (a derivation shown from
    nn_core.symbolic) removed: its functions are plain NumPy."""
    nb = json.loads((ROOT / "solutions" / COURSE.assignment("A7").notebook)
                    .read_text(encoding="utf-8"))
    block = re.compile(r"### BEGIN SOLUTION\n(?:(?!### END SOLUTION).)*?"
                       r"(?:nn_core|show_derivation).*?### END SOLUTION\n", re.S)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["source"] = block.sub("", "".join(cell["source"]))
    return nb


def _grade(aid, nb, student):
    return grade_notebook(COURSE, aid, nb, student,
                          source_notebook=ROOT / "exercises" / COURSE.assignment(aid).notebook)


def _fn_score(result, aid):
    keys = {(q.id, p.name) for q, p in _fn_parts(aid)}
    return {(r.question, r.part): r.score for r in result.questions
            if (r.question, r.part) in keys}


@pytest.fixture(scope="module")
def honest_alone():
    return _grade("A7", _honest_a7(), "honest")


@pytest.mark.parametrize("route", list(ROUTES))
def test_every_route_to_the_reference_earns_nothing(route, honest_alone):
    class_results = {}
    for aid in FN_ASSIGNMENTS + ["A3"]:
        nb, cheated = _cheat(aid, route)
        assert cheated, f"{aid}: no answer cell was replaced"
        class_results[aid] = (_grade(aid, nb, f"cheat-{route}"), cheated)
    honest = _grade("A7", _honest_a7(), "honest")          # graded among the cheats
    for aid, (result, cheated) in class_results.items():
        assert result.details["sandbox"]["isolation"]["mode"] in ("namespaces", "rlimits-only")
        for r in result.questions:
            if r.question in cheated and (r.question in BUILT or
                                          any(p.name == r.part for q, p in _fn_parts(aid)
                                              if q.id == r.question)):
                assert r.score == 0, (route, aid, r.question, r.part, r.status)
        flagged = {a.get("question") for a in result.details.get("reference_attempts", [])}
        if route in FLAGGED:
            assert cheated <= flagged, (route, aid, cheated, flagged)
            for r in result.questions:
                if r.question in cheated:
                    assert r.details.get("reference_attempts"), (route, aid, r.question)
        else:
            assert not result.details.get("reference_attempts")
    # the honest control: every function part right, nothing flagged, as when alone
    want = {(q.id, p.name): COURSE.points(q.id, p.name) for q, p in _fn_parts("A7")}
    assert _fn_score(honest, "A7") == pytest.approx(want)
    assert _fn_score(honest, "A7") == _fn_score(honest_alone, "A7")
    assert honest.score == pytest.approx(honest_alone.score)
    assert not honest.details.get("reference_attempts")


def test_cheated_cell_error_is_neutral_for_the_student():
    nb, _ = _cheat("A7", "import")
    result = _grade("A7", nb, "cheat")
    cells = result.details["sandbox"]["cells"]
    errors = [c.get("error", "") for c in cells if c.get("status") == "error"
              and c.get("question")]
    assert errors and all("module not available in grading" in e for e in errors)
    attempt = result.details["reference_attempts"][0]
    assert attempt["module"].startswith("autograder.questions") and "cell" in attempt


def _nn_core_called_by(fn, depth=3, seen=None) -> set[str]:
    """The nn_core modules of the objects ``fn``'s code names (and, a few
    levels down, of the same module's helpers it names)."""
    seen = set() if seen is None else seen
    code = getattr(fn, "__code__", None)
    if code is None or fn in seen or depth == 0:
        return set()
    seen.add(fn)
    names, todo = set(), [code]
    while todo:
        c = todo.pop()
        names.update(c.co_names)
        todo.extend(k for k in c.co_consts if hasattr(k, "co_names"))
    out = set()
    for name in names:
        obj = fn.__globals__.get(name)
        origin = getattr(obj, "__module__", "") or ""
        if origin.startswith("nn_core"):
            out.add(origin)
        elif origin == fn.__module__ and callable(obj):
            out |= _nn_core_called_by(obj, depth - 1, seen)
    return out


@pytest.mark.parametrize("aid", list(COURSE.assignments))
def test_nothing_public_computes_a_graded_part(aid):
    """The modules a graded run of ``aid`` may load (the runtime and the
    course's public ones, with what they import) include no question
    module, judge, variant generator or symbolic derivation, and none of
    the nn_core modules whose code the assignment's references call."""
    allowed = allowed_modules(COURSE, aid)
    forbidden_prefixes = ("autograder.questions", "autograder.judge", "autograder.functions",
                          "autograder.variants", "nn_core.symbolic")
    for name in allowed:
        assert not name.startswith(forbidden_prefixes), name
    graded_modules = set()
    for q in questions_of(aid):
        if q.build is not None:
            graded_modules |= _nn_core_called_by(q.build)
        for p in q.parts:
            if p.kind == "fn":
                graded_modules |= _nn_core_called_by(p.fn.reference)
                for m in p.fn.mistakes:
                    graded_modules |= _nn_core_called_by(m.fn)
    public = set(allowed) - set(RUNTIME)
    assert not (public & graded_modules), (aid, public & graded_modules)
    files = package_files(allowed)
    assert not any("/questions/" in f or f.endswith(("/judge.py", "/variants.py",
                                                      "/functions.py")) for f in files)


def test_display_cells_are_known_and_not_graded():
    """Locked cells of the released notebooks that need reference code are
    exactly the plots/derivations (no answer cell, no setup cell)."""
    for aid in COURSE.assignments:
        allowed = allowed_modules(COURSE, aid)
        for cell in _exercise(aid)["cells"]:
            if cell["cell_type"] != "code":
                continue
            refused = [m for m in cell_imports("".join(cell["source"]))
                       if not is_allowed(m, allowed)]
            if refused:
                gid = _gid(cell)
                assert gid.endswith(("_plot", "_derivation")), (aid, gid, refused)


def test_child_gets_no_seed():
    """The child gets the public seed (the given cells' demo data, the same
    as the student's own session) and never the hidden inputs' seed."""
    from autograder.judge import variant_of
    from autograder.grading.plan import child_context
    from autograder.variants import variant_seed
    params, seed = variant_of(COURSE, "A7", "alice")
    ctx = child_context(COURSE, "A7", "alice", params)
    assert set(ctx) == {"modules", "params", "answer_names", "kinds", "public_seed", "course"}
    assert ctx["course"] == {"language": COURSE.language,
                             "assignments": list(COURSE.assignments)}
    text = json.dumps(ctx)
    assert str(seed) not in text and seed != ctx["public_seed"]
    assert ctx["public_seed"] == variant_seed(COURSE.course_id + COURSE.variants.key(), "A7",
                                              "alice#public")
    assert copy.deepcopy(ctx) == ctx


@pytest.fixture(scope="module")
def cheat_a7():
    nb, cheated = _cheat("A7", "import")
    return _grade("A7", nb, "cheat"), cheated


def test_class_table_and_stats_show_the_attempt(cheat_a7, honest_alone):
    """The instructor sees a reach for the reference: one note per student
    in the class table of ``nngrade grade``/``demo`` and a count with the
    students in ``nngrade stats``; an honest student gets no such note."""
    from autograder.reports.closing import class_table as _class_table
    from autograder.reports.stats import compute_stats, stats_table
    cheat, cheated = cheat_a7
    table = _class_table(COURSE, [cheat, honest_alone]).splitlines()
    cheat_line = next(line for line in table if line.startswith("cheat"))
    honest_line = next(line for line in table if line.startswith("honest"))
    assert "reference attempt" in cheat_line and "autograder.questions" in cheat_line
    assert any(q in cheat_line for q in cheated), (cheated, cheat_line)
    assert "reference attempt" not in honest_line
    text = stats_table([cheat, honest_alone], language="en")
    assert "Students who reached for the reference (refused in grading): 1" in text
    rows = [line for line in text.splitlines() if line.startswith(("cheat", "honest"))]
    assert len(rows) == 1 and "autograder.questions" in rows[0], rows
    (st,) = compute_stats([cheat, honest_alone])
    assert [s for s, _ in st.attempts] == ["cheat"]
    zh = stats_table([cheat, honest_alone], language="zh")
    assert "试图取用参考答案" in zh and "reached for the reference" not in zh
    assert "reached for the reference" not in stats_table([honest_alone], language="en")


def _toolkit_imports(path: Path, package: str) -> set[str]:
    """Every ``autograder``/``nn_core`` module a file imports, at any depth
    (function-level imports too), relative imports resolved."""
    import ast
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")            # the module's own package
            if node.level:
                base = base[:len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            out.add(name)
            out.update(f"{name}.{a.name}" for a in node.names
                       if (Path(__file__).parents[1] / name.replace(".", "/") / a.name).is_dir()
                       or (Path(__file__).parents[1] / name.replace(".", "/")
                           / f"{a.name}.py").is_file())
    return {m for m in out if m.split(".")[0] in ("autograder", "nn_core")}


_ROOT = Path(__file__).parents[1]
_CHILD_CODE = sorted(str(p.relative_to(_ROOT))
                     for p in (_ROOT / "autograder/sandbox/child").glob("*.py"))


@pytest.mark.parametrize("module", ["autograder/numeric.py",
                                    "autograder/results.py", "autograder/i18n.py"]
                         + _CHILD_CODE)
def test_code_the_child_runs_imports_only_what_the_child_may(module):
    """What runs inside the sandboxed child (the answer protocol, the plan
    runner, the frame writer) imports nothing the allowlist refuses there —
    else every function part fails in grading, as it did once when a runner
    helper was imported from autograder.functions.  (protocol.py is left
    out: its answer_names/function_names look up the questions in the
    grader; the child gets names and kinds with its request.)"""
    from autograder.sandbox.allowlist import RUNTIME, is_allowed
    root = Path(__file__).parents[1]
    package = module[:-3].replace("/", ".").rsplit(".", 1)[0]
    refused = sorted(m for m in _toolkit_imports(root / module, package)
                     if not is_allowed(m, set(RUNTIME)))
    assert refused == [], f"{module} imports {refused}, which the child may not"


def test_the_child_folder_holds_the_code_the_child_runs():
    """Of the sandbox, the child may import its own folder only: the
    runtime and the frame writer are there, the grader's side (the zygote
    client, the supervisor, the frame validation) is not importable."""
    from autograder.sandbox.allowlist import RUNTIME, is_allowed
    assert {"autograder/sandbox/child/runtime.py",
            "autograder/sandbox/child/wire.py"} <= set(_CHILD_CODE)
    for name in ("autograder.sandbox.child.runtime", "autograder.sandbox.child.wire"):
        assert is_allowed(name, set(RUNTIME))
    for name in ("autograder.sandbox", "autograder.sandbox.run", "autograder.sandbox.frames",
                 "autograder.sandbox.zygote", "autograder.sandbox.child_setup",
                 "autograder.sandbox.client", "autograder.grading"):
        assert not is_allowed(name, set(RUNTIME)), name


#: the modules that know the answers (or compute them): the trusted side only
_ANSWER_MODULES = ("autograder.questions", "autograder.judge", "autograder.functions",
                   "autograder.variants", "autograder.mistakes", "autograder.grading",
                   "autograder.formula", "autograder.recording", "nn_core")


@pytest.mark.parametrize("module", sorted(
    str(p.relative_to(_ROOT)) for p in (_ROOT / "autograder/sandbox").rglob("*.py")))
def test_the_sandbox_knows_no_answers(module):
    """The trust boundary is the package boundary: no module of
    ``autograder/sandbox`` imports (at any depth of its code) a question,
    the judge, the function plans, the variant generators, the mistake
    catalogue or the grading package — what to run and how to judge it
    come from :mod:`autograder.grading`."""
    package = module[:-3].replace("/", ".").rsplit(".", 1)[0]
    found = sorted(m for m in _toolkit_imports(_ROOT / module, package)
                   if any(m == a or m.startswith(a + ".") for a in _ANSWER_MODULES))
    assert found == [], f"{module} imports {found}, which know the answers"

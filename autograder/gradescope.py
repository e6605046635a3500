"""A Gradescope autograder for one assignment: the zip, and what runs in it.

:func:`build_zip` writes the archive an instructor uploads as a
programming assignment's autograder (``nngrade gradescope -a A3``)::

    setup.sh          Gradescope runs it once when it builds the image:
                      a venv at /autograder/venv with this toolkit installed
    run_autograder    Gradescope runs it for every submission
    package/          this toolkit's source (pyproject.toml, autograder/, nn_core/)
    course/           course.yaml, release/<A>/<notebook> (the released
                      notebook, whose locked cells are restored) and
                      gradescope.json ({"assignment": "A3", "id_field": "sid"})

``run_autograder`` calls ``python -m autograder.gradescope ROOT`` (ROOT is
``/autograder``, or ``$AUTOGRADER_ROOT`` for a dry run).  That finds the
submitted notebook in ``ROOT/submission/`` (the one ``course.yaml`` names,
else the only ``.ipynb``), takes the student id from
``ROOT/submission_metadata.json`` (``users[0][id_field]``: Gradescope's
``sid``, ``email`` …; the student's variant depends on it), grades it in
the sandbox exactly as ``nngrade grade`` does and writes
``ROOT/results/results.json`` (:func:`~autograder.reports.export.gradescope_results`).

When it cannot grade — no notebook, two notebooks, no student id — it
still writes a ``results.json`` whose output says why in both languages,
with score 0, and exits with status 1, so Gradescope marks the run as
failed instead of showing a silent zero.
"""
from __future__ import annotations

import json
import os
import stat
import sys
import zipfile
from pathlib import Path

from .i18n import msg

__all__ = ["build_zip", "run", "GradescopeError"]

ID_FIELDS = ("sid", "email", "id", "name")

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder's image.
set -euo pipefail
cd /autograder/source
if ! command -v python3 >/dev/null || ! python3 -m venv --help >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv
fi
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install -q ./package
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission.
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PY="${NNGRADE_PYTHON:-$ROOT/venv/bin/python}"
exec "$PY" -m autograder.gradescope "$ROOT"
"""


class GradescopeError(Exception):
    """The submission cannot be graded; ``message`` holds both languages."""

    def __init__(self, message):
        self.message = message
        super().__init__(message.render("zh+en"))


def build_zip(course_path: str | os.PathLike, assignment: str, out: str | os.PathLike, *,
              released: str | os.PathLike | None = None, id_field: str = "sid") -> Path:
    """Write the autograder zip for ``assignment`` of the course at
    ``course_path`` to ``out``; ``released``: the student notebook (default
    ``exercises/<notebook>`` beside ``course.yaml``)."""
    from .config import load_course
    if id_field not in ID_FIELDS:
        raise ValueError(f"id_field must be one of {ID_FIELDS}, not {id_field!r}")
    course_path = Path(course_path).resolve()
    course = load_course(course_path)
    notebook = course.assignment(assignment).notebook
    released = Path(released) if released else course_path.parent / "exercises" / notebook
    if not released.is_file():
        raise FileNotFoundError(f"the released notebook {released} does not exist "
                                f"(run `nngrade release {assignment}` first)")
    repo = Path(__file__).resolve().parent.parent
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        _add_text(z, "setup.sh", SETUP_SH, executable=True)
        _add_text(z, "run_autograder", RUN_AUTOGRADER, executable=True)
        for name in ("pyproject.toml", "README.md"):
            z.write(repo / name, f"package/{name}")
        for pkg in ("autograder", "nn_core"):
            for f in sorted((repo / pkg).rglob("*")):
                if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc":
                    z.write(f, f"package/{f.relative_to(repo)}")
        z.write(course_path, "course/course.yaml")
        z.write(released, f"course/release/{assignment}/{notebook}")
        _add_text(z, "course/gradescope.json",
                  json.dumps({"assignment": assignment, "id_field": id_field}) + "\n")
    return out


def _add_text(z: zipfile.ZipFile, name: str, text: str, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
    z.writestr(info, text)


def _fail(zh: str, en: str, **kw) -> GradescopeError:
    return GradescopeError(msg(zh, en).format(**kw))


def _student_id(root: Path, id_field: str) -> str:
    meta_path = root / "submission_metadata.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        sid = meta["users"][0][id_field]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        raise _fail("无法从 {p} 读出学号（users[0].{f}）：无法判断你的题目版本。",
                    "cannot read the student id (users[0].{f}) from {p}: your variant "
                    "cannot be known.", p=meta_path.name, f=id_field) from None
    if not isinstance(sid, (str, int)) or isinstance(sid, bool) or not str(sid).strip():
        raise _fail("Gradescope 中没有你的学号（users[0].{f} 为空）：请在 Gradescope 填写学号。",
                    "Gradescope holds no student id for you (users[0].{f} is empty): add it "
                    "to your Gradescope profile.", f=id_field)
    return str(sid).strip()


def _notebook(root: Path, wanted: str) -> Path:
    sub = root / "submission"
    found = sorted(p for p in sub.rglob("*.ipynb")
                   if p.is_file() and not p.is_symlink() and ".ipynb_checkpoints" not in p.parts)
    named = [p for p in found if p.name == wanted]
    if named:
        return named[0]
    if len(found) == 1:
        return found[0]
    if not found:
        raise _fail("提交中没有笔记本（应为 {n}）。",
                    "the submission holds no notebook (expected {n}).", n=wanted)
    raise _fail("提交中有多个笔记本，且没有一个叫 {n}：{all}。",
                "the submission holds several notebooks and none is named {n}: {all}.",
                n=wanted, all=", ".join(p.name for p in found))


def run(root: str | os.PathLike) -> int:
    """Grade the submission in Gradescope's layout under ``root``; write
    ``results/results.json``.  Returns the exit status (0 graded, 1 not)."""
    from .config import load_course
    from .reports.export import write_gradescope
    from .grading import grade_one
    root = Path(root)
    base = root / "source" / "course"
    conf = json.loads((base / "gradescope.json").read_text(encoding="utf-8"))
    course = load_course(base / "course.yaml")
    aid = conf["assignment"]
    notebook_name = course.assignment(aid).notebook
    results = root / "results" / "results.json"
    try:
        student = _student_id(root, conf.get("id_field", "sid"))
        path = _notebook(root, notebook_name)
    except GradescopeError as exc:
        text = exc.message.render(course.language)
        results.parent.mkdir(parents=True, exist_ok=True)
        results.write_text(json.dumps({"score": 0.0, "output": text, "tests": []},
                                      ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(text, file=sys.stderr)
        return 1
    result = grade_one(course, aid, path, student,
                       source_notebook=base / "release" / aid / notebook_name)
    write_gradescope(result, results, course)
    print(f"{aid} {student}: {result.score:g} / {result.max_score:g}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m autograder.gradescope ROOT", file=sys.stderr)
        sys.exit(2)
    sys.exit(run(sys.argv[1]))

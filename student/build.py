"""Build the student install: ``python student/build.py [--course course.yaml]
[--checks URL] [--out dist]``.

Stages the modules in :data:`ALLOWLIST` (and the generated package
``__init__`` files in :data:`GENERATED`) into ``student/staged/``, with the
course's public ``course.yaml`` (``checks:`` set to the service URL; the
variant salt, secret and gradebook URL removed), then builds the wheel
``nn_backprop_student-<version>-py3-none-any.whl`` with pip from
``student/pyproject.toml``.  A student installs it with one command,
``pip install nn_backprop_student-0.1.0-py3-none-any.whl``.

What a student's machine may hold is the sandbox's student runtime
(:data:`autograder.sandbox.allowlist.RUNTIME`, what a graded run may load:
one list for both) plus :data:`STUDENT_EXTRAS`: the check-service client
and nn_core's data sets and gradient checker.  Question modules,
references, mistakes, the judge, the formula checker, variants, the
sandbox and nn_core's layers, activations, losses and SymPy derivations
are absent (the test suite proves it).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
STAGED = HERE / "staged"

sys.path.insert(0, str(ROOT))
from autograder.sandbox.allowlist import RUNTIME  # noqa: E402 — the one list of the runtime

#: what a student's machine holds beyond the runtime a graded run loads
#: (:data:`autograder.sandbox.allowlist.RUNTIME`, the one list that says what
#: the student runtime is: notebook, i18n, course file reader, answer
#: protocol, results): the check service's client, and nn_core's public parts
STUDENT_EXTRAS = (
    "autograder.service",           # (its __init__: the API's docstring only)
    "autograder.service.client",    # sends the answers, shows the feedback
    "autograder.service.codec",     # answers → JSON
    "nn_core._checks",
    "nn_core.data",                 # XOR, 2-D and digits data sets
    "nn_core.gradcheck",            # the gradient checker for the student's own layers
)


def module_file(name: str) -> str:
    """The repository path of module ``name`` (a package: its ``__init__.py``)."""
    rel = Path(*name.split("."))
    return str(rel / "__init__.py") if (ROOT / rel).is_dir() else str(rel) + ".py"


#: repository files a student install carries, as they are (the packages'
#: own ``__init__`` files are :data:`GENERATED`)
ALLOWLIST = tuple(module_file(m) for m in (*RUNTIME, *STUDENT_EXTRAS)
                  if m not in ("autograder", "nn_core"))

#: package files written for the student install (the repository's own
#: ``__init__`` files import modules the student install does not carry)
GENERATED = {
    "autograder/__init__.py": '"""autograder — the student runtime (notebook checks via the check service)."""\n',
    "nn_core/__init__.py": ('"""nn_core — the public parts: data sets and the gradient checker."""\n'
                            "from .data import *  # noqa: F401,F403\n"
                            "from .gradcheck import *  # noqa: F401,F403\n"),
}

#: course.yaml keys a student's copy leaves out
PRIVATE_KEYS = (("variants", "salt"), ("variants", "secret_env"), ("gradebook_url",))


def public_course(course_file: Path, checks: str | None) -> str:
    """The course's ``course.yaml`` as a student's copy (validated)."""
    import yaml

    from autograder.config import parse_course
    data = yaml.safe_load(course_file.read_text(encoding="utf-8"))
    for path in PRIVATE_KEYS:
        holder = data
        for key in path[:-1]:
            holder = holder.get(key) or {}
        holder.pop(path[-1], None)
    if checks:
        data["checks"] = checks
    text = ("# The course, as a student's install carries it (no salt, no gradebook).\n"
            + yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    parse_course(text, "student course.yaml")
    return text


def stage(course_file: Path | None = None, checks: str | None = None) -> Path:
    """Fill ``student/staged/`` (emptied first); returns it."""
    shutil.rmtree(STAGED, ignore_errors=True)
    for rel in ALLOWLIST:
        target = STAGED / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / rel, target)
    for rel, text in GENERATED.items():
        (STAGED / rel).write_text(text, encoding="utf-8")
    if course_file is not None:
        (STAGED / "autograder/service/course.yaml").write_text(public_course(course_file, checks),
                                                              encoding="utf-8")
    return STAGED


def build(out: Path, course_file: Path | None = None, checks: str | None = None) -> Path:
    """Stage and build the wheel into ``out``; returns the wheel's path."""
    stage(course_file, checks)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("nn_backprop_student-*.whl"):
        old.unlink()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(HERE)], check=True)
    shutil.rmtree(HERE / "build", ignore_errors=True)
    for egg in list(STAGED.glob("*.egg-info")):
        shutil.rmtree(egg, ignore_errors=True)
    return next(out.glob("nn_backprop_student-*.whl"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--course", type=Path, default=ROOT / "course.yaml")
    ap.add_argument("--checks", help="the check service's URL written into the student's course.yaml")
    ap.add_argument("--out", type=Path, default=ROOT / "dist")
    a = ap.parse_args()
    print(build(a.out, a.course, a.checks))


if __name__ == "__main__":
    main()

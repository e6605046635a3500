"""Release: the student notebooks in ``exercises/``, generated from ``solutions/``
by nbgrader's own ``generate_assignment``.

nbgrader runs in a temporary course directory (``source/<A>/<notebook>``)
configured with the course's conventions: solutions become
:data:`autograder.authoring.CODE_STUB`, hidden tests are removed, outputs
cleared, checksums recorded. The released notebook's markdown is then cut to
the language ``course.yaml`` picks. Nothing else is changed, so
``exercises/`` is reproducible: a test regenerates it and compares.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from .authoring import CODE_STUB, select_language

__all__ = ["release", "release_notebooks", "write_notebook", "nbgrader_config", "NbgraderError"]


class NbgraderError(RuntimeError):
    """nbgrader failed; the message carries its log."""


def nbgrader_config(root: Path, db_url: str | None = None) -> str:
    """The ``nbgrader_config.py`` of a course directory at ``root``."""
    return (
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.db_url = {db_url or 'sqlite:///' + str(root / 'gradebook.db')!r}\n"
        f"c.ClearSolutions.code_stub = {{'python': {CODE_STUB!r}}}\n"
        "c.ClearSolutions.text_stub = '在此作答 / YOUR ANSWER HERE'\n"
        "c.ExecutePreprocessor.timeout = 300\n"
        "c.Execute.timeout = 300\n"
    )


def run_nbgrader(root: Path, *args: str, timeout: float = 900) -> str:
    """``nbgrader <args>`` in the course directory ``root``; its log on success."""
    # nbgrader's Gradebook runs the `alembic` script that sits beside this Python
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "PYTHONWARNINGS": "ignore",
           "PATH": bindir + os.pathsep + os.environ.get("PATH", "")}
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=timeout)
    log = proc.stdout + proc.stderr
    if proc.returncode != 0 or "[ERROR]" in log:
        raise NbgraderError(f"nbgrader {' '.join(args)} failed in {root} (exit {proc.returncode}):\n{log}")
    return log


def release_notebooks(course, assignments: list[str], solutions_dir: Path, workdir: Path,
                      language: str | None = None) -> dict[str, nbformat.NotebookNode]:
    """The student versions of ``assignments``' source notebooks (one nbgrader run)."""
    root = Path(workdir)
    for aid in assignments:
        name = course.assignment(aid).notebook
        source = Path(solutions_dir) / name
        if not source.is_file():
            raise FileNotFoundError(f"release {aid}: source notebook {source} not found")
        (root / "source" / aid).mkdir(parents=True, exist_ok=True)
        (root / "source" / aid / name).write_bytes(source.read_bytes())
    (root / "nbgrader_config.py").write_text(nbgrader_config(root))
    pattern = assignments[0] if len(assignments) == 1 else "*"
    run_nbgrader(root, "generate_assignment", pattern, "--force", "--no-db")
    language = language or course.language
    out = {}
    for aid in assignments:
        nb = nbformat.read(root / "release" / aid / course.assignment(aid).notebook, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = select_language(cell.source, language)
        out[aid] = nb
    return out


def write_notebook(nb: nbformat.NotebookNode, path: Path) -> Path:
    """Write ``nb`` the one way the project stores notebooks (stable bytes)."""
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n",
                    encoding="utf-8")
    return path


def release(course, solutions_dir: str | os.PathLike, out_dir: str | os.PathLike,
            assignments: list[str] | None = None, language: str | None = None) -> list[Path]:
    """Write the student notebooks of ``assignments`` (default: all) to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    assignments = list(assignments or course.assignments)
    with tempfile.TemporaryDirectory(prefix="nngrade-release-") as tmp:
        notebooks = release_notebooks(course, assignments, Path(solutions_dir), Path(tmp), language)
    return [write_notebook(notebooks[aid], out / course.assignment(aid).notebook)
            for aid in assignments]

"""What of the toolkit a graded run may import: nothing that knows an answer.

The process that runs a student's code (the sandbox child) must hold
nothing that can compute a graded answer: no question definition, judge,
reference function, symbolic derivation or ``nn_core`` module that
implements a graded part.  Three layers keep it so:

* **Nothing is preloaded**: the zygote imports only :data:`RUNTIME` (the
  student runtime: ``autograder.notebook``, the answer protocol), the
  sandbox's own modules (which know no answer either) and third-party
  libraries, so the child's ``sys.modules`` and heap (``gc``) hold no
  reference code; of the sandbox, only :mod:`autograder.sandbox.child`
  stays importable in the child.
* **Nothing is on disk**: the child's root holds, of the ``autograder`` and
  ``nn_core`` package directories, only the files of the allowed modules
  (:func:`package_files`; a package whose ``__init__`` is not allowed gets
  an empty stub), bound read-only at their usual place.
* **Nothing imports**: :class:`Gate`, first on ``sys.meta_path``, refuses
  every other ``autograder.*``/``nn_core.*`` module with the
  ``ModuleNotFoundError`` any missing module raises; an audit hook notes
  ``import`` statements and ``open()`` calls that reach for the packages'
  files.  Each attempt is reported to the grader (``{"ev": "attempt"}``)
  and shown to the instructor; the student's part earns what their own
  code earns.

What a notebook's given cells may import beyond :data:`RUNTIME` is the
course's choice, per assignment: ``public: [nn_core.data]`` in
``course.yaml`` (a data set, a plotting helper), plus what those modules
import from ``nn_core`` (:func:`allowed_modules`).  A test checks, for
every assignment, that nothing public computes a graded part.

Locked cells of the released notebook that need anything else — a plot
drawing the reference, ``show_derivation`` — are *display cells*
(:func:`display_cells`): they are not run under the grader, and no grade
depends on them.
"""
from __future__ import annotations

import ast
import os
import re
import sys

__all__ = ["RUNTIME", "RUNTIME_PREFIXES", "PACKAGES", "allowed_modules", "is_allowed",
           "package_files", "cell_imports", "display_cells", "Gate", "install",
           "NOT_AVAILABLE"]

#: the packages whose modules are gated (the toolkit's own)
PACKAGES = ("autograder", "nn_core")

#: the student runtime: what a notebook imports (setup/check/grade), the
#: answer protocol and the course file's reader; none of them knows an answer
RUNTIME = ("autograder", "autograder.notebook", "autograder.i18n", "autograder.config",
           "autograder.submission_info", "autograder.numeric", "autograder.protocol",
           "autograder.results")
#: whole subpackages of the runtime: the code the sandboxed child itself runs
#: (:mod:`autograder.sandbox.child`; the rest of the sandbox stays outside its root)
RUNTIME_PREFIXES = ("autograder.sandbox.child",)

#: the message of a refused import (what the student sees)
NOT_AVAILABLE = "模块在评分时不可用 / module not available in grading"

_MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def _package_dir(top: str) -> str | None:
    """The directory of package ``top`` (without importing it)."""
    mod = sys.modules.get(top)
    if mod is not None and getattr(mod, "__file__", None):
        return os.path.dirname(os.path.realpath(mod.__file__))
    import importlib.util
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.realpath(list(spec.submodule_search_locations)[0])


def _source_of(name: str) -> str | None:
    """The source file of module ``name`` of :data:`PACKAGES` (``None`` if none)."""
    top, _, rest = name.partition(".")
    base = _package_dir(top)
    if base is None:
        return None
    path = os.path.join(base, *rest.split(".")) if rest else base
    for cand in (path + ".py", os.path.join(path, "__init__.py")):
        if os.path.isfile(cand):
            return cand
    return None


def _imports_of(name: str) -> set[str]:
    """The modules of :data:`PACKAGES` that module ``name``'s source imports
    anywhere (top level or inside a function), relative imports resolved."""
    src = _source_of(name)
    if src is None:
        return set()
    with open(src, encoding="utf-8") as f:
        tree = ast.parse(f.read(), src)
    package = name if src.endswith("__init__.py") else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            for a in node.names:                 # "from nn_core import data" imports a module
                if _source_of(f"{mod}.{a.name}") is not None:
                    found.add(f"{mod}.{a.name}")
    return {m for m in found if m.partition(".")[0] in PACKAGES}


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts))]


def allowed_modules(course, assignment: str) -> list[str]:
    """The toolkit modules a graded run of ``assignment`` may import:
    :data:`RUNTIME` and the assignment's ``public`` modules with every
    ``nn_core`` module they import (sorted; :data:`RUNTIME_PREFIXES` apply
    as well).  Raises ``ValueError`` for a public module that does not exist."""
    public = tuple(course.assignment(assignment).public) if course is not None else ()
    out = set(RUNTIME)
    todo = list(public)
    while todo:
        name = todo.pop()
        if name in out:
            continue
        if _source_of(name) is None:
            raise ValueError(f"course.yaml: assignments.{assignment}.public: no module "
                             f"{name!r}")
        out.add(name)
        todo.extend(m for m in _imports_of(name) if m.startswith("nn_core.") and m not in out)
    return sorted(out)


def is_allowed(name: str, allowed) -> bool:
    """Whether module ``name`` may be imported (modules outside
    :data:`PACKAGES` always may)."""
    if name.partition(".")[0] not in PACKAGES:
        return True
    if name in allowed:
        return True
    return any(name == p or name.startswith(p + ".") for p in RUNTIME_PREFIXES)


def package_files(allowed) -> dict[str, str | None]:
    """``{path: source file or None}``: the files the child's root holds of
    :data:`PACKAGES` — every allowed module's file at its usual (absolute)
    path, a stub (``None``) for the ``__init__.py`` of a package that only
    holds allowed modules, every file of a :data:`RUNTIME_PREFIXES` package."""
    out: dict[str, str | None] = {}
    names = set(allowed) | {p for n in allowed for p in _parents(n)}
    for prefix in RUNTIME_PREFIXES:
        src = _source_of(prefix)
        if src is not None and src.endswith("__init__.py"):
            folder = os.path.dirname(src)
            for entry in sorted(os.listdir(folder)):
                if entry.endswith(".py"):
                    out[os.path.join(folder, entry)] = os.path.join(folder, entry)
            names.update(_parents(prefix))
    for name in sorted(names):
        src = _source_of(name)
        if src is None:
            continue
        if name in allowed or is_allowed(name, ()):
            out[src] = src
        else:
            out.setdefault(src, None)        # a package __init__ only: an empty stub
    return out


# -- display cells ------------------------------------------------------------

def cell_imports(source: str) -> list[str]:
    """The modules a cell imports (a plain reading of its import lines) and
    those the notebook functions it calls import on first use
    (:data:`autograder.notebook.RUNTIME_IMPORTS`)."""
    from ..notebook import RUNTIME_IMPORTS
    found: list[str] = []
    for line in source.splitlines():
        m = _IMPORT_LINE.match(line)
        if not m:
            continue
        names = [m.group(1)] if m.group(1) else \
            [part.split()[0] for part in m.group(2).split(",") if part.split()]
        found.extend(n for n in names if _MODULE.fullmatch(n) and n not in found)
    for function, modules in RUNTIME_IMPORTS.items():
        if re.search(rf"\b{function}\s*\(", source):
            found.extend(m for m in modules if m not in found)
    return found


_IMPORT_LINE = re.compile(r"\s*(?:from\s+([\w.]+)\s+import\b|import\s+([\w.]+(?:\s+as\s+\w+)?"
                          r"(?:\s*,\s*[\w.]+(?:\s+as\s+\w+)?)*))")


def display_cells(cells, allowed) -> list:
    """The locked cells (the released notebook's, restored by the grader)
    that import a toolkit module the graded run may not: the course's
    display cells (a plot drawing the reference, ``show_derivation``).
    Their ``run`` is set to false with a note; they are returned."""
    out = []
    for c in cells:
        if not (c.run and c.locked):
            continue
        refused = [m for m in cell_imports(c.source) if not is_allowed(m, allowed)]
        if refused:
            c.run = False
            c.notes.append("display cell: uses " + ", ".join(refused[:3]) +
                           ", which graded runs do not load; not run under the grader")
            out.append(c)
    return out


# -- inside the child -----------------------------------------------------------

class Gate:
    """The child's import gate and attempt log.

    :meth:`find_spec` (first on ``sys.meta_path``) refuses modules of
    :data:`PACKAGES` that are not allowed; :meth:`audit` (an audit hook,
    which student code cannot remove) notes ``import`` statements of them
    and ``open()`` of files inside the packages' directories that are not
    the allowed ones.  :meth:`take` returns the attempts noted since the
    last call."""

    MAX = 50

    def __init__(self, allowed, files):
        self.allowed = frozenset(allowed)
        self.files = frozenset(os.path.realpath(f) for f in files)
        self.dirs = tuple(d for d in (_package_dir(p) for p in PACKAGES) if d)
        self.stubs = {}
        for name in sorted(self.allowed) + list(RUNTIME_PREFIXES):
            for parent in _parents(name):
                src = _source_of(parent)
                if not is_allowed(parent, self.allowed) and src is not None:
                    self.stubs[parent] = os.path.dirname(src)
        self.seen: set[tuple[str, str]] = set()
        self.count = 0
        self.new: list[dict] = []

    def note(self, module: str, how: str) -> None:
        key = (module, how)
        if key in self.seen or self.count >= self.MAX:
            return
        self.seen.add(key)
        self.count += 1
        self.new.append({"module": module[:200], "how": how})

    def take(self) -> list[dict]:
        """The attempts noted since the last call (once each per cell or part)."""
        new, self.new, self.seen = self.new, [], set()
        return new

    def find_spec(self, name, path=None, target=None):
        if is_allowed(name, self.allowed):
            return None
        if name in self.stubs:                # the package of an allowed module only
            import importlib.machinery
            spec = importlib.machinery.ModuleSpec(name, _StubLoader(), is_package=True)
            spec.submodule_search_locations = [self.stubs[name]]
            return spec
        self.note(name, "import")
        raise ModuleNotFoundError(f"No module named {name!r} ({NOT_AVAILABLE})", name=name)

    def audit(self, event, args):
        if event == "import":
            name = args[0]
            if type(name) is str and not is_allowed(name, self.allowed) and \
                    name not in self.stubs:
                self.note(name, "import")
        elif event in ("gc.get_objects", "gc.get_referrers", "gc.get_referents"):
            self.note(event, "gc")                 # a heap walk: there is nothing to find
        elif event == "open" and args:
            path = args[0]
            if type(path) is bytes:
                path = os.fsdecode(path)
            if type(path) is not str:
                return
            full = os.path.normpath(os.path.join(os.getcwd(), path)) \
                if not path.startswith("/") else os.path.normpath(path)
            if "/__pycache__/" in full:            # the cached bytecode of an allowed file
                folder, _, cached = full.rpartition("/__pycache__/")
                if os.path.join(folder, cached.partition(".")[0] + ".py") in self.files:
                    return
            for d in self.dirs:
                if (full == d or full.startswith(d + "/")) and full not in self.files:
                    self.note(os.path.relpath(full, os.path.dirname(d)), "open")
                    return


class _StubLoader:
    """Loads an empty package (``nn_core`` when only ``nn_core.data`` is public:
    its real ``__init__`` would import every module)."""

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__doc__ = "only the modules public in grading are available"


def install(allowed, files) -> Gate:
    """Put a :class:`Gate` in place in this (the child's) process: drop any
    module it refuses from ``sys.modules``, put it first on
    ``sys.meta_path`` and add its audit hook."""
    gate = Gate(allowed, files)
    for name in list(sys.modules):
        if not is_allowed(name, gate.allowed):
            del sys.modules[name]
    sys.meta_path.insert(0, gate)
    sys.addaudithook(gate.audit)
    return gate


def bind_packages(root: str, files: dict) -> None:
    """In the child's new root (a tmpfs at ``root``, before ``pivot_root``):
    hold of :data:`PACKAGES` only ``files`` (:func:`package_files`), each
    bound read-only at its usual path (a stub written for ``None``); a
    package directory that an allowed path (site-packages) already shows is
    covered by an empty tmpfs first."""
    from . import _linux as L
    for top in PACKAGES:
        d = _package_dir(top)
        if d is None:
            continue
        target = root + d
        if os.path.isdir(target):
            L.mount("tmpfs", target, "tmpfs", L.MS_NOSUID | L.MS_NODEV, "size=1m,mode=0755")
        else:
            os.makedirs(target, 0o755, exist_ok=True)
    for path, src in sorted(files.items()):
        target = root + path
        os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
        if src is None:
            with open(target, "w", encoding="utf-8") as f:
                f.write('"""Only the modules public in grading are available."""\n')
            continue
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
        L.mount(src, target, None, L.MS_BIND)

"""The registry of question definitions, one module per assignment.

Modules are imported when their assignment is first asked for (the A1/A2
formula questions pull in SymPy, which grading A3 does not need);
``QUESTIONS`` (every question) imports them all.

A course's own questions (``questions_dir:`` in ``course.yaml``) follow the
same rule in their folder: modules ``aN.py`` / ``aN_<x>.py`` with
``QUESTIONS``, added after the built-in modules of assignment ``AN``.  The
folder is imported as the package ``autograder.questions._course_<hash>``
(its modules import each other relatively, the toolkit absolutely), so the
sandboxed child's import gate refuses it like every other question module,
and the sandbox never binds the folder into the child's root.  Folders are
registered by loading the course (:func:`autograder.config.course_question_dirs`)
and picked up here lazily (:func:`sync`).

An assignment's numbers live with its questions too: the one module of the
assignment that defines ``VARIANTS`` (an :class:`autograder.variants.Variants`:
the lecture's numbers and the generator of a student's) gives them
(:func:`variants_of`); an assignment whose modules define none has no
numeric variant.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import os
import pkgutil
import re
import sys

from .base import Mistake, Part, Policy, Question

__all__ = ["QUESTIONS", "get_question", "questions_of", "variants_of", "sync", "Question", "Part",
           "Mistake", "Policy"]


def _modules_by_assignment(path, prefix: str = "") -> dict[str, tuple[str, ...]]:
    """``{"A1": ("a1", "a1_functions"), ...}``: assignment ``AN``'s questions
    live in the modules named ``aN`` or ``aN_<anything>`` (in name order)
    of the folders ``path``; ``prefix`` goes before each name."""
    found: dict[str, list[str]] = {}
    for info in sorted(pkgutil.iter_modules(path), key=lambda i: i.name):
        m = re.fullmatch(r"a(\d+)(_\w+)?", info.name)
        if m:
            found.setdefault(f"A{m.group(1)}", []).append(prefix + info.name)
    return {a: tuple(found[a]) for a in sorted(found, key=lambda a: int(a[1:]))}


_BUILTIN = _modules_by_assignment(__path__)
#: the modules defining each assignment's questions, in question order (names
#: relative to this package; a course's own folder's as ``_course_<hash>.aN``)
MODULES: dict[str, tuple[str, ...]] = dict(_BUILTIN)

_loaded: dict[str, dict[str, Question]] = {}
_synced: tuple[str, ...] = ()


def _course_package(folder: str) -> str:
    """The package (relative name) that ``folder`` is imported as."""
    name = "_course_" + hashlib.sha256(folder.encode()).hexdigest()[:12]
    full = f"{__name__}.{name}"
    if full not in sys.modules:
        spec = importlib.machinery.ModuleSpec(full, None, is_package=True)
        spec.submodule_search_locations = [folder]
        module = importlib.util.module_from_spec(spec)
        module.__doc__ = f"the course's own questions in {folder}"
        sys.modules[full] = module
    return name


def sync() -> None:
    """Add the question folders of the courses loaded so far to
    :data:`MODULES` (a later course's folder wins for an assignment that two
    define). A folder that does not exist (any more) is skipped: its
    assignments then have no questions, which every caller reports, and
    :func:`autograder.config.check_questions` names the course.yaml key."""
    global _synced
    from ..config import course_question_dirs
    dirs = course_question_dirs()
    if dirs == _synced:
        return
    external: dict[str, tuple[str, ...]] = {}
    for folder in dirs:
        if not os.path.isdir(folder):
            continue
        external.update(_modules_by_assignment([folder], _course_package(folder) + "."))
    merged = {a: _BUILTIN.get(a, ()) + external.get(a, ()) for a in {*_BUILTIN, *external}}
    MODULES.clear()
    MODULES.update((a, merged[a]) for a in sorted(merged, key=lambda a: int(a[1:])))
    _loaded.clear()
    _synced = dirs


def _assignment_questions(assignment: str) -> dict[str, Question]:
    sync()
    found = _loaded.get(assignment)
    if found is None:
        found = {}
        for name in MODULES.get(assignment, ()):
            for q in importlib.import_module(f"{__name__}.{name}").QUESTIONS:
                if q.assignment != assignment:
                    raise RuntimeError(f"{name} defines {q.id}, not a question of {assignment}")
                if q.id in found:
                    raise RuntimeError(f"{name} defines {q.id} again")
                found[q.id] = q
        _loaded[assignment] = found
    return found


def __getattr__(name: str):
    if name == "QUESTIONS":
        sync()
        return {qid: q for a in MODULES for qid, q in _assignment_questions(a).items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_question(qid: str) -> Question:
    try:
        return _assignment_questions(qid.partition(".")[0])[qid]
    except KeyError:
        raise KeyError(f"unknown question {qid!r}; known: {sorted(__getattr__('QUESTIONS'))}") \
            from None


def questions_of(assignment: str) -> list[Question]:
    qs = list(_assignment_questions(assignment).values())
    if not qs:
        raise KeyError(f"no questions defined for assignment {assignment!r}")
    return qs


def variants_of(assignment: str):
    """The :class:`~autograder.variants.Variants` of ``assignment`` (the
    ``VARIANTS`` of one of its question modules, built-in or the course's
    own), or ``None`` when none defines it. Read at each call, so a module
    (or a test) that replaces ``VARIANTS`` is seen at once."""
    sync()
    found = [(name, module.VARIANTS) for name in MODULES.get(assignment, ())
             if hasattr(module := importlib.import_module(f"{__name__}.{name}"), "VARIANTS")]
    if len(found) > 1:
        raise RuntimeError(f"{assignment}'s numbers are defined twice: "
                           f"VARIANTS in {', '.join(name for name, _ in found)}")
    return found[0][1] if found else None

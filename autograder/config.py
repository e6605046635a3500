"""``course.yaml``: the whole course in one file, validated on load.

>>> course = load_course("course.yaml")                       # doctest: +SKIP
>>> course.points("A3.q2", "dW1"), course.tolerance_for("A1.q4").rtol  # doctest: +SKIP

Every key the file may hold is declared once, in :data:`SCHEMA` below (a
small table of :class:`Struct` / :class:`MapOf` / :class:`Scalar` specs with
types, ranges, defaults and one-line docs); the loader walks PyYAML's node
tree against it, so each value keeps the line it was written on.  A mistake
— an unknown or misspelt key, a wrong type, a value out of range, a missing
required key, a duplicate key, a YAML syntax error — raises
:class:`ConfigError` (a ``ValueError``) whose message reads::

    course.yaml:57: assignments.A3.questions.q2.points: must be a number >= 0, got -1

(file, line, key path, problem) instead of a traceback.

The file's sections (all but ``course_id`` and ``assignments`` optional):

``course_id``, ``language`` (``zh``, ``en``, ``zh+en``)
``tolerances``
    ``rtol``, ``atol``, ``atol_scale`` (the rule of
    :mod:`autograder.numeric`), and named ``profiles`` (e.g. ``function``
    for outputs of student code, judged much more tightly than hand-computed
    numbers).  A question or part overrides with ``tolerance: <profile>`` or
    ``tolerance: {profile: ..., rtol: ..., ...}``.
``shape_policy``
    ``default`` (``strict``/``lenient``) and ``penalty``: the fraction of a
    part's points lost for a shape-only mismatch under ``strict`` (``1`` = no
    credit).  A question or part may say ``shape_policy: lenient``.
``ecf``
    error carried forward: ``policy`` ``full``/``partial``/``none``,
    ``fraction`` (only with ``partial``) of the points for consistent work.
``variants``
    ``mode`` ``lecture`` (the lecture's numbers for everyone) or
    ``per_student``; ``salt`` mixed into every student's seed, and
    ``secret_env``, the name of an environment variable holding a secret
    also mixed in (the secret never sits in the file).
``checks``
    ``local`` (``check()`` judges in the student's kernel) or the URL of
    the check service (``nngrade serve``, :mod:`autograder.service`).
``questions_dir``
    a folder of the course's own question modules (relative to
    ``course.yaml``): ``aN.py`` / ``aN_<x>.py``, each with ``QUESTIONS``,
    loaded by :mod:`autograder.questions` beside the built-in ones (see
    ``docs/adding-a-question.md``).  Only noted here (the grader's sandboxed
    child reads ``course.yaml`` too and must import no question):
    :func:`course_question_dirs` lists the folders of every course loaded.
``formula``, ``order``, ``sandbox``, ``gradebook_url``
    formula-checking time limit and samples; part credit for a cost formula
    with the right leading term; the untrusted runner's resource limits; the
    gradebook database (any SQLAlchemy URL).
``assignments``
    ``A1: {title: {zh, en}, notebook: A1_....ipynb, questions: {q1: ..., ...}}``;
    a question is its points (``q1: 3``) or a mapping with ``points`` and/or
    ``parts`` (each part its points, or a mapping with ``points`` and
    overrides); with both, ``points`` must equal the parts' sum.  Optional
    per assignment: ``due`` (``'2025-03-10 23:59:00 +08:00'``; no offset =
    UTC), ``late: {method: none|zero|per_day, per_day: 0.1}`` (nbgrader's
    ``LateSubmissionPlugin`` methods, plus a fraction of the points per
    started day late) and ``extensions: {student: days}``.  Which questions
    and parts exist is checked against :mod:`autograder.questions` by
    :func:`check_questions`.
"""
from __future__ import annotations

import datetime as _dt
import difflib
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from .i18n import LANGUAGES, Message

__all__ = ["ConfigError", "load_course", "parse_course", "find_course_file", "SCHEMA",
           "schema_default", "check_questions", "course_question_dirs",
           "Course", "AssignmentConfig", "QuestionConfig", "PartConfig", "Tolerance",
           "ShapePolicy", "ECFPolicy", "VariantSettings", "FormulaSettings",
           "OrderSettings", "SandboxLimits", "DEFAULT_GRADEBOOK_URL"]

DEFAULT_GRADEBOOK_URL = "sqlite:///gradebook.db"


class ConfigError(ValueError):
    """A problem in ``course.yaml``: ``file``, ``line`` (1-based or None),
    ``key`` (dotted path, ``""`` for the whole file) and ``problem``."""

    def __init__(self, file: str, line: int | None, key: str, problem: str):
        self.file, self.line, self.key, self.problem = file, line, key, problem
        where = f"{file}:{line}" if line else str(file)
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")


# ==========================================================================
# the schema language: a few declarative spec classes

_MISSING = object()


class Spec:
    doc = ""


@dataclass
class Scalar(Spec):
    """A plain value. ``kind``: ``str``, ``int``, ``number`` (int or float),
    ``bool``; optional ``choices``, bounds and a regex ``pattern``."""

    kind: str
    doc: str = ""
    choices: tuple | None = None
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    pattern: str | None = None


@dataclass
class Field:
    spec: Spec
    required: bool = False
    default: Any = _MISSING  # absent and no default: a Struct gets its defaults, else None


@dataclass
class Struct(Spec):
    """A mapping with fixed keys.  ``shorthand``: a scalar written in place of
    the mapping stands for ``{shorthand: scalar}``.  ``check(value, ctx,
    path)`` runs cross-field rules after the keys are validated."""

    fields: dict[str, Field]
    doc: str = ""
    shorthand: str | None = None
    check: Callable | None = None


@dataclass
class MapOf(Spec):
    """A mapping whose keys are ids matching ``key_pattern`` (order kept)."""

    key_pattern: str
    key_doc: str
    value: Spec
    doc: str = ""
    min_items: int = 0


@dataclass
class ListOf(Spec):
    """A YAML list whose items all match ``item`` (no duplicates)."""

    item: Spec
    doc: str = ""


_NUMBER_RE = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def _number(doc, *, min=None, max=None, min_exclusive=False) -> Scalar:
    return Scalar("number", doc, min=min, max=max, min_exclusive=min_exclusive)


def _fraction(doc) -> Scalar:
    return _number(doc, min=0.0, max=1.0)


def _enum(doc, *choices) -> Scalar:
    return Scalar("str", doc, choices=tuple(choices))


# ==========================================================================
# the schema: every key course.yaml may hold

def _tolerance_fields(defaults: bool) -> dict[str, Field]:
    def f(doc, default):
        return Field(_number(doc, min=0.0), default=default if defaults else None)
    return {
        "rtol": f("relative tolerance, entry by entry", 0.005),
        "atol": f("absolute tolerance", 1e-6),
        "atol_scale": f("absolute tolerance in units of the reference's largest |entry|", 0.0),
    }


_TOLERANCE_OVERRIDE = Struct(
    {"profile": Field(Scalar("str", "a name under tolerances.profiles", pattern=_IDENT)),
     **_tolerance_fields(defaults=False)},
    doc="a tolerance profile's name, or {profile, rtol, atol, atol_scale}",
    shorthand="profile")

_SHAPE_OVERRIDE = _enum("shape policy for this question/part", "strict", "lenient")


def _check_question(value: dict, ctx: "_Context", path: str) -> None:
    parts, points = value.get("parts"), value.get("points")
    if parts is None and points is None:
        ctx.error(path, "a question needs 'points' or 'parts'")
    if parts is not None and points is not None:
        total = math.fsum(p["points"] for p in parts.values())
        if abs(total - points) > 1e-9:
            ctx.error(f"{path}.points", f"is {points:g} but the parts add up to {total:g}")


def _check_ecf(value: dict, ctx: "_Context", path: str) -> None:
    if value["policy"] != "partial" and ctx.given(f"{path}.fraction"):
        ctx.error(f"{path}.fraction", f"only applies to policy 'partial' "
                                      f"(policy is {value['policy']!r})")


def _check_sandbox(value: dict, ctx: "_Context", path: str) -> None:
    if value["wall_seconds"] < value["cpu_seconds"]:
        ctx.error(f"{path}.wall_seconds",
                  f"must be >= cpu_seconds ({value['cpu_seconds']:g}), "
                  f"got {value['wall_seconds']:g}")


_PART = Struct({
    "points": Field(_number("points for this part", min=0.0), required=True),
    "tolerance": Field(_TOLERANCE_OVERRIDE),
    "shape_policy": Field(_SHAPE_OVERRIDE),
}, doc="a part's points, or {points, tolerance, shape_policy}", shorthand="points")

_QUESTION = Struct({
    "points": Field(_number("points for the question (the parts' sum if it has parts)",
                            min=0.0)),
    "parts": Field(MapOf(_IDENT, "a part name such as dW1", _PART, min_items=1)),
    "tolerance": Field(_TOLERANCE_OVERRIDE),
    "shape_policy": Field(_SHAPE_OVERRIDE),
}, doc="a question's points, or {points, parts, tolerance, shape_policy}",
    shorthand="points", check=_check_question)

_ASSIGNMENT = Struct({
    "title": Field(Struct({
        "zh": Field(Scalar("str", "Chinese title"), required=True),
        "en": Field(Scalar("str", "English title"), required=True),
    }), required=True),
    "notebook": Field(Scalar("str", "the notebook's file name, e.g. A3_two_layer_network.ipynb",
                             pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]*\.ipynb"), required=True),
    "questions": Field(MapOf(r"q[1-9][0-9]*", "a question id q1, q2, ...", _QUESTION,
                             min_items=1), required=True),
    "due": Field(Scalar("str", "due date and time, e.g. '2025-03-10 23:59:00 +08:00' "
                               "(without an offset: UTC)")),
    "late": Field(Struct({
        "method": Field(_enum("late penalty: 'none', 'zero' (nbgrader's methods: no "
                              "penalty / the whole score), or 'per_day'",
                              "none", "zero", "per_day"), default="none"),
        "per_day": Field(_fraction("with 'per_day': fraction of the assignment's points "
                                   "lost per day late (each started day counts)")),
    }, check=lambda v, ctx, path: _check_late(v, ctx, path))),
    "extensions": Field(MapOf(r"[^./\x00-\x1f][^/\x00-\x1f]{0,199}", "a student id",
                              _number("extra days for this student (0.5 = 12 hours)",
                                      min=0.0))),
    # what the notebook's given cells may import from nn_core while it is graded
    # (autograder.sandbox.allowlist): nothing here may compute a graded part
    "public": Field(ListOf(Scalar("str", "an nn_core module such as nn_core.data",
                                  pattern=r"nn_core(\.[a-z_][a-z0-9_]*)+"),
                           doc="a list of nn_core modules"), default=()),
})


def _check_late(value: dict, ctx: "_Context", path: str) -> None:
    if value["method"] == "per_day" and value["per_day"] is None:
        ctx.error(f"{path}.per_day", "is required with method 'per_day'")
    if value["method"] != "per_day" and ctx.given(f"{path}.per_day"):
        ctx.error(f"{path}.per_day", f"only applies to method 'per_day' "
                                     f"(method is {value['method']!r})")

SCHEMA = Struct({
    "course_id": Field(Scalar("str", "the course's id", pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]*"),
                       required=True),
    "language": Field(_enum("feedback language", *LANGUAGES), default="zh+en"),
    "tolerances": Field(Struct({
        **_tolerance_fields(defaults=True),
        "profiles": Field(MapOf(_IDENT, "a profile name", Struct(_tolerance_fields(False))),
                          default={}),
    })),
    "shape_policy": Field(Struct({
        "default": Field(_enum("shape policy", "strict", "lenient"), default="strict"),
        "penalty": Field(_fraction("fraction of a part's points lost for a shape-only "
                                   "mismatch under 'strict'"), default=1.0),
    })),
    "ecf": Field(Struct({
        "policy": Field(_enum("credit for work consistent with the student's own earlier "
                              "answers", "full", "partial", "none"), default="partial"),
        "fraction": Field(_fraction("fraction of the points under 'partial'"), default=0.5),
    }, check=_check_ecf)),
    "variants": Field(Struct({
        "mode": Field(_enum("whose numbers", "lecture", "per_student"), default="lecture"),
        "salt": Field(Scalar("str", "mixed into every student's variant seed"), default=""),
        "secret_env": Field(Scalar("str", "environment variable holding a secret mixed "
                                          "into the seed", pattern=r"[A-Za-z_][A-Za-z0-9_]*")),
    })),
    "formula": Field(Struct({
        "time_limit_s": Field(_number("hard time limit for one formula check", min=0.0,
                                      max=600.0, min_exclusive=True), default=2.0),
        "samples": Field(Scalar("int", "random points at which formulas are compared",
                                min=1, max=10_000), default=16),
    })),
    "order": Field(Struct({
        "leading_term_fraction": Field(_fraction("credit for a cost formula with the "
                                                 "right leading term only"), default=0.5),
    })),
    "sandbox": Field(Struct({
        "cpu_seconds": Field(_number("CPU time limit", min=0.0, min_exclusive=True),
                             default=30.0),
        "wall_seconds": Field(_number("wall-clock limit", min=0.0, min_exclusive=True),
                              default=60.0),
        "memory_mb": Field(Scalar("int", "address-space limit in MiB", min=64), default=2048),
        "processes": Field(Scalar("int", "process/thread limit", min=1), default=64),
        "output_kb": Field(Scalar("int", "captured stdout+stderr limit in KiB", min=1),
                           default=1024),
        "file_kb": Field(Scalar("int", "largest file the runner may write, KiB", min=0),
                         default=10240),
    }, check=_check_sandbox)),
    "checks": Field(Scalar("str", "where check() judges: 'local' (in the student's kernel) "
                                  "or the check service's URL (nngrade serve)",
                           pattern=r"local|https?://[^\s]+"), default="local"),
    "questions_dir": Field(Scalar("str", "a folder of the course's own question modules "
                                         "(aN.py, aN_<x>.py with QUESTIONS), relative to "
                                         "course.yaml")),
    "gradebook_url": Field(Scalar("str", "gradebook database (SQLAlchemy URL)",
                                  pattern=r"[A-Za-z][A-Za-z0-9+.-]*://.*"),
                           default=DEFAULT_GRADEBOOK_URL),
    "assignments": Field(MapOf(r"[A-Za-z][A-Za-z0-9_]*", "an assignment id such as A3",
                               _ASSIGNMENT, min_items=1), required=True),
})


def schema_default(key: str) -> Any:
    """The default :data:`SCHEMA` declares for the dotted ``key`` (e.g.
    ``"tolerances.rtol"``): the one place the toolkit's default numbers live
    (the dataclasses below and :class:`autograder.questions.base.Policy`
    take theirs from here). A key without a default gives ``None``."""
    spec: Spec = SCHEMA
    field_ = None
    for name in key.split("."):
        if not isinstance(spec, Struct) or name not in spec.fields:
            raise KeyError(f"course.yaml has no key {key!r}")
        field_ = spec.fields[name]
        spec = field_.spec
    return None if field_.default is _MISSING else field_.default


# ==========================================================================
# walking the YAML node tree against the schema

class _Context:
    def __init__(self, file: str, loader: yaml.SafeLoader):
        self.file = file
        self.loader = loader
        self.lines: dict[str, int] = {}   # key path -> line of the key
        self.present: set[str] = set()    # key paths written in the file

    def error(self, path: str, problem: str, line: int | None = None) -> None:
        if line is None:
            probe = path
            while probe and probe not in self.lines:
                probe = probe.rpartition(".")[0]
            line = self.lines.get(probe, 1)
        raise ConfigError(self.file, line, path, problem)

    def given(self, path: str) -> bool:
        return path in self.present


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


_KIND_WORDS = {"str": "a string", "int": "an integer", "number": "a number",
               "bool": "true or false"}


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    text = node.value if len(node.value) <= 40 else node.value[:37] + "..."
    return repr(text)


def _scalar(node: yaml.Node, spec: Scalar, ctx: _Context, path: str) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        ctx.error(path, f"must be {_KIND_WORDS[spec.kind]}, got {_describe(node)}", _line(node))
    try:
        value = ctx.loader.construct_object(node)
    except yaml.YAMLError as exc:  # an unknown !!tag, a bad !!timestamp, ...
        ctx.error(path, f"cannot be read: {getattr(exc, 'problem', None) or exc}", _line(node))
    bad = f"must be {_KIND_WORDS[spec.kind]}, got {_describe(node)}"
    if spec.kind == "str":
        if type(value) is not str:
            # a plain scalar such as 2 or 1.5 where text is wanted: keep its text
            if not node.style and (type(value) in (int, float)
                                   or isinstance(value, (_dt.date, _dt.datetime))):
                value = node.value
            else:
                ctx.error(path, bad, _line(node))
    elif spec.kind == "bool":
        if type(value) is not bool:
            ctx.error(path, bad, _line(node))
    else:
        if type(value) is str and not node.style and _NUMBER_RE.fullmatch(value):
            value = float(value)  # YAML 1.1 reads 1e-6 (no dot) as text
        if type(value) is bool or type(value) not in (int, float):
            ctx.error(path, bad, _line(node))
        if spec.kind == "int" and type(value) is not int:
            ctx.error(path, bad, _line(node))
        if spec.kind == "number":
            value = float(value)
            if not math.isfinite(value):
                ctx.error(path, f"must be a finite number, got {_describe(node)}", _line(node))
    if spec.choices is not None and value not in spec.choices:
        options = ", ".join(repr(c) for c in spec.choices)
        ctx.error(path, f"must be one of {options}, got {_describe(node)}", _line(node))
    if spec.pattern is not None and not re.fullmatch(spec.pattern, value):
        ctx.error(path, f"{_describe(node)} is not valid here ({spec.doc})", _line(node))
    if spec.min is not None and (value <= spec.min if spec.min_exclusive else value < spec.min):
        op = ">" if spec.min_exclusive else ">="
        ctx.error(path, f"must be {_KIND_WORDS[spec.kind]} {op} {spec.min:g}, "
                        f"got {value:g}", _line(node))
    if spec.max is not None and value > spec.max:
        ctx.error(path, f"must be {_KIND_WORDS[spec.kind]} <= {spec.max:g}, "
                        f"got {value:g}", _line(node))
    return value


def _entries(node: yaml.MappingNode, ctx: _Context, path: str):
    """(key, key node, value node) of a mapping; keys are plain scalars, once each."""
    seen: dict[str, int] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            ctx.error(path or "(top level)", "a key must be a plain name, not "
                      + _describe(key_node), _line(key_node))
        key = key_node.value
        if key_node.tag == "tag:yaml.org,2002:merge":
            ctx.error(_join(path, key), "YAML merge keys ('<<') are not supported; "
                      "write the keys out", _line(key_node))
        if key in seen:
            ctx.error(_join(path, key), f"appears twice (first on line {seen[key]})",
                      _line(key_node))
        seen[key] = _line(key_node)
        yield key, key_node, value_node


def _validate(node: yaml.Node, spec: Spec, ctx: _Context, path: str) -> Any:
    if isinstance(spec, Scalar):
        return _scalar(node, spec, ctx, path)
    if isinstance(spec, MapOf):
        if not isinstance(node, yaml.MappingNode):
            ctx.error(path, f"must be a mapping of {spec.key_doc} to its settings, "
                            f"got {_describe(node)}", _line(node))
        out: dict[str, Any] = {}
        for key, key_node, value_node in _entries(node, ctx, path):
            sub = _join(path, key)
            ctx.lines[sub] = _line(key_node)
            ctx.present.add(sub)
            if not re.fullmatch(spec.key_pattern, key):
                ctx.error(sub, f"{key!r} is not a valid key here (expected {spec.key_doc})",
                          _line(key_node))
            out[key] = _validate(value_node, spec.value, ctx, sub)
        if len(out) < spec.min_items:
            ctx.error(path, f"needs at least {spec.min_items} entry "
                            f"({spec.key_doc})", _line(node))
        return out
    if isinstance(spec, Struct):
        if isinstance(node, yaml.ScalarNode) and spec.shorthand is not None:
            value = {spec.shorthand: _validate(node, spec.fields[spec.shorthand].spec, ctx,
                                               _join(path, spec.shorthand))}
            ctx.lines.setdefault(_join(path, spec.shorthand), _line(node))
            ctx.present.add(_join(path, spec.shorthand))
            given = {spec.shorthand}
        elif isinstance(node, yaml.MappingNode):
            value, given = {}, set()
            for key, key_node, value_node in _entries(node, ctx, path):
                sub = _join(path, key)
                if key not in spec.fields:
                    close = difflib.get_close_matches(key, list(spec.fields), n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    known = ", ".join(spec.fields)
                    ctx.error(sub, f"unknown key{hint}; the keys allowed here are: {known}",
                              _line(key_node))
                ctx.lines[sub] = _line(key_node)
                ctx.present.add(sub)
                value[key] = _validate(value_node, spec.fields[key].spec, ctx, sub)
                given.add(key)
        else:
            want = spec.doc or "a mapping"
            ctx.error(path or "(top level)", f"must be {want}, got {_describe(node)}",
                      _line(node))
        for key, fld in spec.fields.items():
            if key in given:
                continue
            if fld.required:
                ctx.error(_join(path, key), "is required but missing",
                          ctx.lines.get(path, _line(node)))
            value[key] = _default(fld)
        if spec.check is not None:
            spec.check(value, ctx, path)
        return value
    if isinstance(spec, ListOf):
        if not isinstance(node, yaml.SequenceNode):
            ctx.error(path, f"must be {spec.doc or 'a list'}, got {_describe(node)}", _line(node))
        items: list = []
        for k, item in enumerate(node.value):
            value = _validate(item, spec.item, ctx, f"{path}[{k}]")
            if value in items:
                ctx.error(f"{path}[{k}]", f"{value!r} is listed twice", _line(item))
            items.append(value)
        return tuple(items)
    raise TypeError(f"unknown spec {spec!r}")  # pragma: no cover


def _default(fld: Field) -> Any:
    if fld.default is not _MISSING:
        return dict(fld.default) if isinstance(fld.default, dict) else fld.default
    if isinstance(fld.spec, Struct):
        return {k: _default(f) for k, f in fld.spec.fields.items()}
    return None


# ==========================================================================
# the loaded course

@dataclass(frozen=True)
class Tolerance:
    """The rule of :mod:`autograder.numeric`: pass ``as_kwargs()`` to check_array."""

    rtol: float
    atol: float
    atol_scale: float = schema_default("tolerances.atol_scale")

    def updated(self, override: dict | None) -> "Tolerance":
        if not override:
            return self
        return Tolerance(**{k: (override[k] if override.get(k) is not None else getattr(self, k))
                            for k in ("rtol", "atol", "atol_scale")})

    def as_kwargs(self) -> dict[str, float]:
        return {"rtol": self.rtol, "atol": self.atol, "atol_scale": self.atol_scale}


@dataclass(frozen=True)
class ShapePolicy:
    default: str = schema_default("shape_policy.default")
    #: fraction of a part's points lost for a shape-only mismatch
    penalty: float = schema_default("shape_policy.penalty")


@dataclass(frozen=True)
class ECFPolicy:
    policy: str = schema_default("ecf.policy")
    fraction: float = schema_default("ecf.fraction")

    @property
    def credit(self) -> float:
        """Fraction of the points given for work consistent with earlier answers."""
        return {"full": 1.0, "none": 0.0}.get(self.policy, self.fraction)


@dataclass(frozen=True)
class VariantSettings:
    mode: str = schema_default("variants.mode")
    salt: str = schema_default("variants.salt")
    secret_env: str | None = schema_default("variants.secret_env")

    def key(self, environ: dict | None = None) -> str:
        """The salt followed by the secret from ``secret_env`` (if set and present)."""
        environ = os.environ if environ is None else environ
        secret = environ.get(self.secret_env, "") if self.secret_env else ""
        return f"{self.salt}\x00{secret}" if secret else self.salt


@dataclass(frozen=True)
class FormulaSettings:
    time_limit_s: float = schema_default("formula.time_limit_s")
    samples: int = schema_default("formula.samples")


@dataclass(frozen=True)
class OrderSettings:
    leading_term_fraction: float = schema_default("order.leading_term_fraction")


@dataclass(frozen=True)
class SandboxLimits:
    cpu_seconds: float = schema_default("sandbox.cpu_seconds")
    wall_seconds: float = schema_default("sandbox.wall_seconds")
    memory_mb: int = schema_default("sandbox.memory_mb")
    processes: int = schema_default("sandbox.processes")
    output_kb: int = schema_default("sandbox.output_kb")
    file_kb: int = schema_default("sandbox.file_kb")


@dataclass(frozen=True)
class PartConfig:
    id: str
    points: float
    tolerance: Tolerance
    shape_policy: str


@dataclass(frozen=True)
class QuestionConfig:
    """``id`` is ``"q2"``, ``full_id`` ``"A3.q2"``; ``parts`` in file order.
    ``tolerance`` and ``shape_policy`` are resolved (course default, then the
    question's override); each part's are resolved on top of them."""

    id: str
    full_id: str
    points: float
    parts: dict[str, PartConfig]
    tolerance: Tolerance
    shape_policy: str

    def part(self, part: str) -> PartConfig:
        try:
            return self.parts[part]
        except KeyError:
            raise KeyError(f"{self.full_id} has no part {part!r} in course.yaml "
                           f"(parts: {', '.join(self.parts) or 'none'})") from None


@dataclass(frozen=True)
class AssignmentConfig:
    """``due``: naive UTC (``None``: no due date); ``late_method``: ``none``,
    ``zero`` or ``per_day`` (``late_per_day``: the fraction of the points lost
    per started day); ``extensions``: ``{student: extra days}``."""

    id: str
    title: Message
    notebook: str
    questions: dict[str, QuestionConfig]
    due: _dt.datetime | None = None
    late_method: str = "none"
    late_per_day: float = 0.0
    extensions: dict = field(default_factory=dict)

    def due_for(self, student: str) -> _dt.datetime | None:
        """The due date of ``student`` (with their extension), naive UTC."""
        if self.due is None:
            return None
        return self.due + _dt.timedelta(days=float(self.extensions.get(student, 0.0)))
    #: nn_core modules the notebook may import while graded (course.yaml ``public:``)
    public: tuple[str, ...] = ()

    @property
    def points(self) -> float:
        return round(math.fsum(q.points for q in self.questions.values()), 9)


@dataclass(frozen=True)
class Course:
    course_id: str
    language: str
    tolerance: Tolerance
    tolerance_profiles: dict[str, Tolerance]
    shape_policy: ShapePolicy
    ecf: ECFPolicy
    variants: VariantSettings
    formula: FormulaSettings
    order: OrderSettings
    sandbox: SandboxLimits
    gradebook_url: str
    assignments: dict[str, AssignmentConfig]
    source: str | None = field(default=None, compare=False)
    checks: str = "local"          # or the check service's URL (autograder.service)
    #: the course's own question folder (absolute), or None: built-in questions only
    questions_dir: str | None = None
    #: key path -> line in the file (for errors found after loading)
    lines: dict = field(default_factory=dict, compare=False, repr=False)

    # -- look-ups by id -------------------------------------------------
    def assignment(self, assignment_id: str) -> AssignmentConfig:
        try:
            return self.assignments[assignment_id]
        except KeyError:
            raise KeyError(f"no assignment {assignment_id!r} in {self.source or 'course.yaml'} "
                           f"(assignments: {', '.join(self.assignments)})") from None

    def question(self, question_id: str) -> QuestionConfig:
        """``"A3.q2"`` -> its :class:`QuestionConfig`."""
        aid, dot, qid = question_id.partition(".")
        if not dot:
            raise KeyError(f"question ids look like 'A3.q2', got {question_id!r}")
        questions = self.assignment(aid).questions
        if qid not in questions:
            raise KeyError(f"no question {question_id!r} in {self.source or 'course.yaml'} "
                           f"({aid} has {', '.join(questions)})")
        return questions[qid]

    def question_ids(self, assignment_id: str) -> list[str]:
        return [q.full_id for q in self.assignment(assignment_id).questions.values()]

    def points(self, question_id: str, part: str | None = None) -> float:
        q = self.question(question_id)
        return q.points if part is None else q.part(part).points

    def tolerance_for(self, question_id: str, part: str | None = None) -> Tolerance:
        q = self.question(question_id)
        return q.tolerance if part is None or part not in q.parts else q.parts[part].tolerance

    def shape_policy_for(self, question_id: str, part: str | None = None) -> str:
        q = self.question(question_id)
        return q.shape_policy if part is None or part not in q.parts \
            else q.parts[part].shape_policy

    def max_score(self, assignment_id: str) -> float:
        return self.assignment(assignment_id).points


def _resolve_tolerance(override: dict | None, base: Tolerance,
                       profiles: dict[str, Tolerance], ctx: _Context, path: str) -> Tolerance:
    if not override:
        return base
    start = base
    if override.get("profile") is not None:
        name = override["profile"]
        if name not in profiles:
            known = ", ".join(profiles) or "none defined"
            ctx.error(f"{path}.profile" if ctx.given(f"{path}.profile") else path,
                      f"unknown tolerance profile {name!r} (tolerances.profiles: {known})")
        start = profiles[name]
    return start.updated(override)


def _build(data: dict, ctx: _Context) -> Course:
    tol = data["tolerances"]
    default_tol = Tolerance(tol["rtol"], tol["atol"], tol["atol_scale"])
    profiles = {name: default_tol.updated(p) for name, p in tol["profiles"].items()}
    shape = ShapePolicy(**data["shape_policy"])
    assignments = {}
    for aid, a in data["assignments"].items():
        questions = {}
        for qid, q in a["questions"].items():
            qpath = f"assignments.{aid}.questions.{qid}"
            q_tol = _resolve_tolerance(q["tolerance"], default_tol, profiles,
                                       ctx, f"{qpath}.tolerance")
            q_shape = q["shape_policy"] or shape.default
            parts = {}
            for pid, p in (q["parts"] or {}).items():
                ppath = f"{qpath}.parts.{pid}"
                parts[pid] = PartConfig(
                    id=pid, points=p["points"],
                    tolerance=_resolve_tolerance(p["tolerance"], q_tol, profiles,
                                                 ctx, f"{ppath}.tolerance"),
                    shape_policy=p["shape_policy"] or q_shape)
            points = q["points"] if q["points"] is not None else \
                round(math.fsum(p.points for p in parts.values()), 9)
            questions[qid] = QuestionConfig(id=qid, full_id=f"{aid}.{qid}", points=points,
                                            parts=parts, tolerance=q_tol,
                                            shape_policy=q_shape)
        due = None
        if a["due"] is not None:
            from .submission_info import parse_timestamp
            try:
                due = parse_timestamp(a["due"])
            except ValueError:
                ctx.error(f"assignments.{aid}.due", f"{a['due']!r} is not a date and time "
                                                    f"(write e.g. '2025-03-10 23:59:00 +08:00')")
        late = a["late"]
        assignments[aid] = AssignmentConfig(id=aid, title=Message(a["title"]["zh"],
                                                                  a["title"]["en"]),
                                            notebook=a["notebook"], questions=questions,
                                            due=due, late_method=late["method"],
                                            late_per_day=late["per_day"] or 0.0,
                                            extensions=dict(a["extensions"] or {}),
                                            public=tuple(a["public"] or ()))
        if (late["method"] != "none" or a["extensions"]) and due is None:
            ctx.error(f"assignments.{aid}.late" if ctx.given(f"assignments.{aid}.late")
                      else f"assignments.{aid}.extensions",
                      "needs a due date: add 'due:' to this assignment")
    notebooks: dict[str, str] = {}
    for aid, a in assignments.items():
        if a.notebook in notebooks:
            ctx.error(f"assignments.{aid}.notebook",
                      f"{a.notebook!r} is also the notebook of {notebooks[a.notebook]}")
        notebooks[a.notebook] = aid
    questions_dir = None
    if data["questions_dir"] is not None:
        base = Path.cwd() if ctx.file.startswith("<") else Path(ctx.file).resolve().parent
        questions_dir = os.path.normpath(base / os.path.expanduser(data["questions_dir"]))
        _note_questions_dir(questions_dir)
    return Course(
        course_id=data["course_id"], language=data["language"],
        tolerance=default_tol, tolerance_profiles=profiles, shape_policy=shape,
        ecf=ECFPolicy(**data["ecf"]),
        variants=VariantSettings(**data["variants"]),
        formula=FormulaSettings(**data["formula"]),
        order=OrderSettings(**data["order"]),
        sandbox=SandboxLimits(**data["sandbox"]),
        gradebook_url=data["gradebook_url"],
        assignments=assignments, source=ctx.file, checks=data["checks"],
        questions_dir=questions_dir, lines=dict(ctx.lines))


#: the question folders named by the courses loaded in this process, latest last
_QUESTION_DIRS: list[str] = []


def _note_questions_dir(folder: str) -> None:
    if folder in _QUESTION_DIRS:
        _QUESTION_DIRS.remove(folder)
    _QUESTION_DIRS.append(folder)


def course_question_dirs() -> tuple[str, ...]:
    """The ``questions_dir`` of every course loaded in this process, the most
    recently loaded last (:mod:`autograder.questions` loads them lazily:
    where two define the same assignment, the later one's modules apply)."""
    return tuple(_QUESTION_DIRS)


# ==========================================================================
# entry points

#: libyaml's parser where PyYAML was built with it (about 10x faster: every
#: sandboxed notebook's setup() reads course.yaml), else the pure-Python one
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_course(text: str, source: str = "<course.yaml>") -> Course:
    """Validate YAML ``text`` and build the :class:`Course`; ``source`` names
    it in error messages."""
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = " ".join(p for p in (exc.context, exc.problem) if p)
            if exc.context_mark is not None and exc.problem_mark is not None \
                    and exc.context_mark.line != exc.problem_mark.line:
                problem += f" (the construct began on line {exc.context_mark.line + 1})"
            raise ConfigError(source, mark.line + 1 if mark else None, "",
                              f"YAML syntax error: {problem}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(source, None, "", f"YAML error: {exc}") from None
        ctx = _Context(source, loader)
        if node is None:
            raise ConfigError(source, 1, "", "the file is empty")
        try:
            data = _validate(node, SCHEMA, ctx, "")
        except yaml.YAMLError as exc:  # e.g. a bad !!timestamp while constructing
            mark = getattr(exc, "problem_mark", None)
            raise ConfigError(source, mark.line + 1 if mark else None, "",
                              f"YAML error: {getattr(exc, 'problem', exc)}") from None
        return _build(data, ctx)
    finally:
        loader.dispose()


def load_course(path: str | os.PathLike = "course.yaml") -> Course:
    """Read, validate and return the course in ``path`` (see the module docstring)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), None, "", f"cannot read the file "
                                               f"({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(str(path), line, "", "the file is not valid UTF-8") from None
    return parse_course(text, source=str(path))


def find_course_file(*starts: str | os.PathLike | None, env: bool = False,
                     installed: bool = False, name: str = "course.yaml") -> Path:
    """The ``course.yaml`` to use: the toolkit's one finder of it.

    1. with ``env``, the path in ``NNGRADE_COURSE`` (what a notebook reads;
       the grader's sandbox sets it to the child's copy), as it is;
    2. the nearest ``name`` in each of ``starts`` (none or ``None``: the
       current directory) or one of its parents, the starts in turn;
    3. with ``installed``, a student install's: ``course.yaml`` in
       :func:`autograder.service.client.config_dir` (``nngrade-student
       course FILE`` puts it there), else the public one the student wheel
       carries (``autograder/service/course.yaml``).

    ``FileNotFoundError`` (in both languages) naming where it looked."""
    if env and os.environ.get("NNGRADE_COURSE"):
        return Path(os.environ["NNGRADE_COURSE"])
    folders = [Path(s or Path.cwd()).resolve() for s in (starts or (None,))]
    for here in folders:
        for folder in (here, *here.parents):
            if (folder / name).is_file():
                return folder / name
    if installed:
        from .service.client import config_dir
        for candidate in (config_dir() / "course.yaml",
                          Path(__file__).with_name("service") / "course.yaml"):
            if candidate.is_file():
                return candidate
    where = ", ".join(str(f) for f in folders)
    hint = (("请把笔记本放在课程目录中，或设置 NNGRADE_COURSE。",
             " Keep the notebook inside the course folder or set NNGRADE_COURSE.")
            if env else ("", ""))
    from .i18n import msg
    raise FileNotFoundError(msg(f"找不到 {name}（从 {where} 向上查找）。{hint[0]}",
                                f"{name} not found (looked in {where} and its parents)."
                                f"{hint[1]}").render("zh+en"))


def check_questions(course: Course, assignments=None) -> None:
    """Check ``course.yaml`` against the question definitions
    (:mod:`autograder.questions`) for ``assignments`` (default: all): every
    question it lists must be defined and every defined question listed;
    a question's ``parts``, when given, must be exactly the defined parts.
    A mismatch raises :class:`ConfigError` naming the key and its line
    (a renamed part would otherwise give every student 0 for it, and a
    question the grader does not know would still count in the maximum).

    Not done by :func:`load_course` itself: it imports the assignments'
    question modules (SymPy for some), which a notebook's ``setup()`` does
    not need; the command line runs it for the assignments it works on."""
    source = course.source or "course.yaml"

    def fail(path: str, problem: str) -> None:
        probe = path
        while probe and probe not in course.lines:
            probe = probe.rpartition(".")[0]
        raise ConfigError(source, course.lines.get(probe), path, problem)

    if course.questions_dir is not None and not os.path.isdir(course.questions_dir):
        fail("questions_dir", f"no folder {course.questions_dir}")
    from .questions import MODULES, questions_of, sync
    sync()

    for aid in assignments if assignments is not None else course.assignments:
        acfg = course.assignment(aid)
        apath = f"assignments.{aid}"
        if aid not in MODULES:
            fail(apath, f"no questions are defined for {aid} (autograder/questions has "
                        f"definitions for {', '.join(MODULES)})")
        defined = {q.id.partition(".")[2]: q for q in questions_of(aid)}
        for qid in acfg.questions:
            if qid not in defined:
                close = difflib.get_close_matches(qid, list(defined), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                fail(f"{apath}.questions.{qid}",
                     f"{aid}.{qid} is not a defined question{hint}; {aid} defines "
                     f"{', '.join(defined)}")
        for qid, q in defined.items():
            if qid not in acfg.questions:
                fail(f"{apath}.questions", f"{aid}.{qid} is defined but missing here "
                                           f"(give its points, e.g. '{qid}: 2')")
            parts = acfg.questions[qid].parts
            if not parts:
                continue
            names = [p.name for p in q.parts]
            for part in parts:
                if part not in names:
                    close = difflib.get_close_matches(part, names, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    fail(f"{apath}.questions.{qid}.parts.{part}",
                         f"{aid}.{qid} has no part {part!r}{hint}; its parts are "
                         f"{', '.join(names)}")
            for name in names:
                if name not in parts:
                    fail(f"{apath}.questions.{qid}.parts",
                         f"part {name!r} of {aid}.{qid} is missing here (its parts are "
                         f"{', '.join(names)})")

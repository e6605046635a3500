"""The runtime a course notebook imports: the student's variant, the public
check, and the hidden tests' grade.

A notebook starts with::

    STUDENT_ID = ""                        # 学号 / your student id
    from autograder.notebook import setup, check, grade
    nb = setup("A3", STUDENT_ID)           # the student's own numbers: nb.params

and answers part ``dW1`` of ``A3.q2`` by assigning ``q2_dW1`` (see
:mod:`autograder.protocol`). Then

* ``check("A3.q2")`` — the **public check**: judges the question right away
  in the student's kernel and shows, per part, pass/fail, the named mistake
  and carried-forward credit; it returns the points (so ``nbgrader
  validate`` reports unfinished questions). Function parts run on inputs drawn from a
  *public* seed, never the grading seed, so the check reveals no hidden
  input; it shows no reference value either (feedback never contains one).
* ``grade("A3.q2")`` — what a hidden test cell ends with: the points earned
  on that question as a plain ``float`` (nbgrader reads part credit from
  the cell's last output). It prints nothing, lets no warning reach stderr
  (nbgrader scores a cell with stderr output 0) and never raises.

Whose numbers? ``setup`` takes the student id from, in order: the
``NNGRADE_STUDENT`` environment variable (set by ``nngrade`` to the
submission's owner), the submission's folder under ``nbgrader autograde``
(``autograded/<student>/<assignment>``, the working directory of its
hidden tests), the ``STUDENT_ID`` cell, JupyterHub's ``JUPYTERHUB_USER``.
With none, or in a course whose variant mode is ``lecture``, everyone gets
the lecture's numbers.  Plain ``nbgrader autograde`` runs the hidden tests
in the student's own kernel: it cannot keep the reference from the
student's code; ``nngrade grade`` can (see :mod:`autograder.sandbox`).

The course (points, tolerances, variant mode) is read from ``course.yaml``:
the path in ``NNGRADE_COURSE``, else the first ``course.yaml`` in the
working directory or one of its parents, else a student install's
(:func:`autograder.service.client.installed_course_file`). With ``checks:
<URL>`` there, ``setup`` and ``check`` go to the check service
(:mod:`autograder.service`) instead of judging in this kernel.

``NNGRADE_MODE=collect`` (set by the grader's sandbox, which judges the
collected answers itself) turns ``check`` and ``grade`` into no-ops; there
``setup`` takes the variant's parameters from the grader
(:func:`grading_context`) and holds no seed: the sandboxed process can
import neither the judge nor the variant generators
(:mod:`autograder.sandbox.allowlist`).
"""
from __future__ import annotations

import contextlib
import html
import io
import math
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .i18n import msg

__all__ = ["setup", "check", "grade", "show_derivation", "find_course", "Session"]

_SESSION: "Session | None" = None
#: under the grader's sandbox: what the grader gave (see grading_context)
_GRADING: "dict | None" = None


def find_course(start: str | os.PathLike | None = None):
    """The course's :class:`~autograder.config.Course` (see module docstring)."""
    from .config import load_course
    explicit = os.environ.get("NNGRADE_COURSE")
    if explicit:
        return load_course(explicit)
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "course.yaml"
        if candidate.is_file():
            return load_course(candidate)
    from .service.client import installed_course_file   # a student install's course
    if installed_course_file() is not None:
        return load_course(installed_course_file())
    raise FileNotFoundError(msg(
        f"找不到 course.yaml（从 {here} 向上查找）。请把笔记本放在课程目录中，或设置 NNGRADE_COURSE。",
        f"course.yaml not found (looked in {here} and its parents). Keep the notebook inside "
        f"the course folder or set NNGRADE_COURSE.").render("zh+en"))


@dataclass
class Session:
    """One notebook's state: assignment, student, variant parameters, seeds."""
    assignment: str
    student: str | None
    course: object
    params: dict
    seed: int | None          # draws the hidden inputs of function parts (None when graded)
    public_seed: int | None   # draws the inputs the public check uses
    mode: str                 # "interactive" | "collect"

    @property
    def language(self) -> str:
        return self.course.language

    def say(self, zh: str, en: str) -> str:
        return msg(zh, en).render(self.language)


def setup(assignment: str, student_id: str = "") -> Session:
    """Start the notebook of ``assignment`` for the student (see module docstring)."""
    global _SESSION
    if os.environ.get("NNGRADE_MODE") == "collect":
        return _collect_setup(assignment)
    course = find_course()
    course.assignment(assignment)                 # a clear error for an unknown id
    from .service import client                   # checks: <URL> — judged by the service
    if client.remote(course):
        return client.remote_setup(course, assignment, student_id)
    from .judge import variant_of
    from .variants import public_seed
    owner = os.environ.get("NNGRADE_STUDENT", "").strip() or _autograded_owner(assignment)
    typed = (student_id or "").strip() if isinstance(student_id, str) else ""
    student = owner or typed or os.environ.get("JUPYTERHUB_USER", "").strip() or None
    params, seed = variant_of(course, assignment, student)
    public = public_seed(course, assignment, student)
    mode = "interactive"
    _SESSION = Session(assignment, student, course, params, seed, public, mode)
    if mode == "interactive":
        _announce(_SESSION, typed)
    return _SESSION


def _autograded_owner(assignment: str) -> str:
    """Under ``nbgrader autograde`` (cwd ``autograded/<student>/<assignment>``):
    the submission's owner, from its folder — not the STUDENT_ID cell, which
    a copier can change. ``""`` elsewhere."""
    here = Path(os.getcwd())
    if here.name == assignment and here.parent.parent.name == "autograded":
        return here.parent.name
    return ""


def grading_context(assignment: str, student: str, params: dict,
                    public_seed: int | None = None) -> None:
    """Called by the grader's sandboxed child before the notebook runs: the
    student's variant parameters and public seed (the demo data's; not the
    hidden inputs'), computed by the (trusted) grader."""
    global _GRADING
    _GRADING = {"assignment": assignment, "student": student, "params": params,
                "public_seed": public_seed}


def _collect_setup(assignment: str) -> Session:
    """``setup`` under the grader: the parameters the grader handed over
    (none for another assignment), the public seed only (the given cells'
    demo data), nothing printed."""
    global _SESSION
    import copy
    course = find_course()
    course.assignment(assignment)                 # a clear error for an unknown id
    given = _GRADING or {}
    mine = given.get("assignment") == assignment
    params = copy.deepcopy(given.get("params", {})) if mine else {}
    public = given.get("public_seed") if mine else None
    _SESSION = Session(assignment, given.get("student") or None, course, params, None, public,
                       "collect")
    return _SESSION


def _announce(s: Session, typed: str) -> None:
    per_student = s.course.variants.mode == "per_student"
    if s.student and per_student:
        print(s.say(f"学号：{s.student} —— 下面的数字是你自己的题目变体。",
                    f"Student: {s.student} — the numbers below are your own variant."))
        if not typed:
            print(s.say("请在 STUDENT_ID 单元格中填写学号，评分时才会用同样的数字。",
                        "Please write your id in the STUDENT_ID cell so grading uses the same numbers."))
    elif per_student:
        print(s.say("未填写学号：下面是课堂上的数字。请在 STUDENT_ID 单元格中填写学号后重新运行。",
                    "No student id: these are the lecture's numbers. Fill in STUDENT_ID and "
                    "run the notebook again."))
    else:
        print(s.say("本课程所有人使用课堂上的数字。", "Everyone in this course uses the lecture's numbers."))


def _session() -> Session:
    if _SESSION is None:
        raise RuntimeError(msg("请先运行笔记本开头的 setup 单元格。",
                               "Run the setup cell at the top of the notebook first.").render("zh+en"))
    return _SESSION


def _user_namespace() -> dict:
    try:
        from IPython import get_ipython
        shell = get_ipython()
        if shell is not None:
            return shell.user_ns
    except ImportError:
        pass
    return vars(sys.modules["__main__"])


def _judge(question_id: str, seed: int, namespace: dict | None = None):
    """The part results of one question, judged in this process."""
    from .functions import InProcessRunner
    from .judge import grade_question, part_points, policy_for
    from .protocol import answer_names
    from .questions import get_question
    s = _session()
    q = get_question(question_id)
    if q.assignment != s.assignment:
        raise ValueError(msg(f"{question_id} 不属于本次作业 {s.assignment}。",
                             f"{question_id} is not a question of {s.assignment}.").render("zh+en"))
    ns = _user_namespace() if namespace is None else namespace
    answers = {qid: {part: ns.get(var) for part, var in parts.items()}
               for qid, parts in answer_names(s.assignment).items()}
    return grade_question(q, answers, s.params, lambda part: policy_for(s.course, q.id, part),
                          part_points(s.course, q), InProcessRunner(ns), seed)


_STATUS_MARK = {"correct": "✓", "partial": "◐", "wrong": "✗", "invalid": "✗", "missing": "…",
                "error": "!", "timeout": "⏱"}


def check(question_id: str, namespace: dict | None = None) -> float:
    """Show the public check of ``question_id`` and return the points it
    would earn (a plain float: ``nbgrader validate`` reads it, so an
    incomplete answer shows as "failed" there)."""
    s = _session()
    if s.mode == "collect":
        return 0.0
    from .service import client                   # checks: <URL> — judged by the service
    if client.remote(s.course):
        return client.remote_check(s, question_id, namespace)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        results = _judge(question_id, s.public_seed, namespace)
    _display(s, question_id, results)
    return float(min(round(math.fsum(r.score for r in results), 9), s.course.points(question_id)))


def grade(question_id: str, namespace: dict | None = None) -> float:
    """Points earned on ``question_id`` (hidden tests); silent, never raises."""
    s = _SESSION
    if s is None or s.mode == "collect":
        return 0.0
    sink = io.StringIO()
    try:
        with contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink), \
                warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            results = _judge(question_id, s.seed, namespace)
        earned = round(math.fsum(r.score for r in results), 9)
        return float(min(earned, s.course.points(question_id)))
    except Exception:  # noqa: BLE001 — a hidden test must end with a number
        return 0.0


def _display(s: Session, question_id: str, results) -> None:
    total = sum(r.score for r in results)
    top = sum(r.max_score for r in results)
    lines = [s.say(f"{question_id}：{total:g} / {top:g} 分", f"{question_id}: {total:g} / {top:g} points")]
    rows = []
    for r in results:
        mark = _STATUS_MARK.get(r.status, "?")
        note = r.feedback_text(s.language).replace("\n", "\n      ")
        if r.carried_forward:
            note = s.say("［误差传递给分］", "[credit carried forward]") + "\n      " + note
        lines.append(f"  {mark} {r.part or ''}: {r.score:g}/{r.max_score:g}\n      {note}")
        rows.append(f"<tr><td>{mark}</td><td><code>{html.escape(str(r.part or ''))}</code></td>"
                    f"<td>{r.score:g}/{r.max_score:g}</td>"
                    f"<td style='white-space:pre-wrap'>{html.escape(r.feedback_text(s.language))}"
                    f"{'<br><b>' + html.escape(s.say('误差传递给分', 'credit carried forward')) + '</b>' if r.carried_forward else ''}"
                    f"</td></tr>")
    report = CheckReport("\n".join(lines),
                         f"<b>{html.escape(lines[0])}</b><table>{''.join(rows)}</table>")
    try:
        from IPython import get_ipython
        from IPython.display import display
        if get_ipython() is not None:
            display(report)
            return
    except ImportError:
        pass
    print(report.text)


class CheckReport:
    """A public check's output: HTML in Jupyter, plain text elsewhere."""

    def __init__(self, text: str, html_text: str):
        self.text, self.html = text, html_text

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text


#: modules a notebook function imports on its first call (a sandbox zygote
#: preloads them for an assignment whose notebook calls the function)
RUNTIME_IMPORTS = {"show_derivation": ("nn_core.symbolic", "IPython.display")}


def show_derivation(name: str, **sizes) -> None:
    """Display the SymPy derivation ``name`` (see :mod:`nn_core.symbolic`)
    step by step, in the course language — the worked solutions use it.
    ``sizes`` pick another symbolic case, e.g.
    ``show_derivation("conv_backward", H=5, K=3)``.  Under the grader
    (collect mode) it only prints a line: the derivation is display-only and
    the graded process holds no symbolic derivation."""
    if os.environ.get("NNGRADE_MODE") == "collect":
        print(msg("（评分时不显示推导）", "(the derivation is not shown in grading)").render(
            _SESSION.language if _SESSION is not None else "zh+en"))
        return
    from nn_core.symbolic import derive
    d = derive(name, **sizes)
    language = _SESSION.language if _SESSION is not None else "zh+en"
    parts = [d.worked_solution(lang) for lang in (("zh", "en") if language == "zh+en" else (language,))]
    text = "\n\n---\n\n".join(parts)
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
        if get_ipython() is not None:
            display(Markdown(text))
            return
    except ImportError:
        pass
    print(text)

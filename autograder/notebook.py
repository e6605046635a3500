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
(:func:`autograder.config.find_course_file`). With ``checks:
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

__all__ = ["setup", "check", "grade", "show_derivation", "find_course", "Session",
           "CHECK_TIME_LIMIT_S", "resolve_question", "typed_student_id"]

_SESSION: "Session | None" = None
#: under the grader's sandbox: what the grader gave (see grading_context)
_GRADING: "dict | None" = None


def find_course(start: str | os.PathLike | None = None):
    """The course's :class:`~autograder.config.Course` (see module docstring):
    :func:`autograder.config.find_course_file` with ``NNGRADE_COURSE`` and a
    student install's course."""
    from .config import find_course_file, load_course
    return load_course(find_course_file(start, env=True, installed=True))


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
    typed = typed_student_id(student_id)
    from .service import client                   # checks: <URL> — judged by the service
    if client.remote(course):
        return client.remote_setup(course, assignment, typed)
    from .judge import variant_of
    from .variants import public_seed
    owner = os.environ.get("NNGRADE_STUDENT", "").strip() or _autograded_owner(assignment)
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
                    public_seed: int | None = None, course: dict | None = None) -> None:
    """Called by the grader's sandboxed child before the notebook runs: the
    student's variant parameters and public seed (the demo data's; not the
    hidden inputs'), and the ``course`` facts a graded session needs
    (``{"language", "assignments"}``), all computed by the (trusted) grader."""
    global _GRADING
    _GRADING = {"assignment": assignment, "student": student, "params": params,
                "public_seed": public_seed, "course": course}


@dataclass
class _GradedCourse:
    """What a session under the grader knows of the course (from the
    grader, not from ``course.yaml``): its language and assignment ids."""
    language: str
    assignments: list

    def assignment(self, assignment_id: str) -> str:
        if assignment_id not in self.assignments:
            raise KeyError(f"no assignment {assignment_id!r} in course.yaml "
                           f"(assignments: {', '.join(self.assignments)})")
        return assignment_id


def _collect_setup(assignment: str) -> Session:
    """``setup`` under the grader: the parameters the grader handed over
    (none for another assignment), the public seed only (the given cells'
    demo data), nothing printed."""
    global _SESSION
    import copy
    given = _GRADING or {}
    # the course facts the grader handed over: the child never parses course.yaml
    course = _GradedCourse(**given["course"]) if given.get("course") else find_course()
    course.assignment(assignment)                 # a clear error for an unknown id
    mine = given.get("assignment") == assignment
    params = copy.deepcopy(given.get("params", {})) if mine else {}
    public = given.get("public_seed") if mine else None
    _SESSION = Session(assignment, given.get("student") or None, course, params, None, public,
                       "collect")
    return _SESSION


def typed_student_id(value) -> str:
    """The ``STUDENT_ID`` cell's value as text: a string (stripped), or an
    integer typed without quotes (``2023012345`` → ``"2023012345"``); ``None``
    or ``""`` is no id. Anything else (a float, which may have lost digits;
    a list) raises a bilingual ``TypeError``: never silently "no id"."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return str(int(value))
    raise TypeError(msg(
        f"STUDENT_ID 应是学号文本，例如 STUDENT_ID = \"2023012345\"（带引号），"
        f"现在是 {type(value).__name__}：{value!r}。",
        f"STUDENT_ID should be your id as text, e.g. STUDENT_ID = \"2023012345\" (in "
        f"quotes); it is a {type(value).__name__}: {value!r}.").render("zh+en"))


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


#: seconds one check() (or grade()) may spend running the student's functions
CHECK_TIME_LIMIT_S = 20.0


def resolve_question(s: Session, question_id) -> str:
    """``"A3.q2"``, or this assignment's ``"q2"`` / ``2``, as a full id; anything
    else raises a bilingual ``ValueError`` listing this assignment's questions."""
    from .questions import questions_of
    ids = [q.id for q in questions_of(s.assignment)]
    if isinstance(question_id, int) and not isinstance(question_id, bool):
        question_id = f"q{question_id}"
    if isinstance(question_id, str):
        wanted = question_id.strip()
        for candidate in (wanted, f"{s.assignment}.{wanted}"):
            if candidate in ids:
                return candidate
    listed = ", ".join(f'"{i}"' for i in ids)
    raise ValueError(msg(
        f"本次作业 {s.assignment} 没有题目 {question_id!r}。可以检查的题目：{listed}"
        f"（例如 check(\"{ids[0]}\")）。",
        f"{s.assignment} has no question {question_id!r}. Its questions are: {listed} "
        f"(e.g. check(\"{ids[0]}\")).").render("zh+en"))


def _missing_note(var: str, namespace: dict):
    """What a missing answer's feedback adds: the variable expected, and the
    names in the notebook that look like a misspelling of it."""
    import difflib
    names = [n for n in namespace if isinstance(n, str) and not n.startswith("_")]
    close = difflib.get_close_matches(var, names, n=3, cutoff=0.75)
    close += [n for n in names if n.lower() == var.lower() and n not in close and n != var]
    if not close:
        return msg(f"答案应赋给变量 {var}。", f"The answer goes in the variable {var}.")
    near = "、".join(close)
    return msg(f"答案应赋给变量 {var}；你是不是写成了 {near}？",
               f"The answer goes in the variable {var}; did you mean {', '.join(close)}?")


class CheckTimeout(BaseException):
    """Raised inside the student's function when a check's time is up
    (a ``BaseException``, so ``except Exception`` in their code cannot hide it)."""


class _TimeBudget:
    """``seconds`` shared by every call of the student's code in one check.
    Only the student's calls run under the alarm (SIGALRM, armed per call
    with what is left, in the main thread of a Unix process; elsewhere no
    limit), never the judge's own work."""

    def __init__(self, seconds: float):
        self.seconds, self.left = seconds, seconds

    @property
    def expired(self) -> bool:
        return self.left <= 0

    @contextlib.contextmanager
    def call(self):
        import signal
        import threading
        import time
        usable = hasattr(signal, "setitimer") and \
            threading.current_thread() is threading.main_thread()
        old = None
        if usable:
            def _stop(signum, frame):
                raise CheckTimeout()
            old = signal.signal(signal.SIGALRM, _stop)
            signal.setitimer(signal.ITIMER_REAL, max(self.left, 1e-3))
        t0 = time.monotonic()
        try:
            yield
        finally:
            if usable:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old)
            self.left -= time.monotonic() - t0


class _LimitedRunner:
    """An :class:`~autograder.functions.InProcessRunner` whose calls share one
    :class:`_TimeBudget`: a call still running when it ends is stopped and
    reported, later calls are not made."""

    def __init__(self, namespace: dict, budget: _TimeBudget):
        from .functions import InProcessRunner
        self.inner, self.budget = InProcessRunner(namespace), budget

    def run(self, plan: list[dict]) -> dict:
        out: dict = {}
        for call in plan:
            if self.budget.expired:
                out[call["id"]] = _timed_out(self.budget.seconds)
                continue
            try:
                with self.budget.call():
                    out.update(self.inner.run([call]))
            except CheckTimeout:
                self.budget.left = 0
                out[call["id"]] = _timed_out(self.budget.seconds)
        return out


def _timed_out(seconds: float) -> dict:
    return {"ok": False,
            "error": f"stopped: the check's time limit of {seconds:g} s ran out (an endless "
                     f"loop, or very slow code?)",
            "error_zh": f"已停止：检查的时间上限 {seconds:g} 秒用完了（死循环，或代码太慢？）"}


def _judge(question_id, seed: int, namespace: dict | None = None,
           time_limit: float | None = None):
    """The part results of one question, judged in this process; the
    student's functions share ``time_limit`` seconds."""
    from .judge import grade_question, part_points, policy_for
    from .protocol import answer_names
    from .questions import get_question
    s = _session()
    question_id = resolve_question(s, question_id)
    q = get_question(question_id)
    ns = _user_namespace() if namespace is None else namespace
    time_limit = CHECK_TIME_LIMIT_S if time_limit is None else time_limit
    names = answer_names(s.assignment)
    answers = {qid: {part: ns.get(var) for part, var in parts.items()}
               for qid, parts in names.items()}
    results = grade_question(q, answers, s.params, lambda part: policy_for(s.course, q.id, part),
                             part_points(s.course, q), _LimitedRunner(ns, _TimeBudget(time_limit)),
                             seed)
    for r in results:
        var = names.get(q.local_id, {}).get(r.part)
        if r.status == "missing" and var:
            r.feedback = [*r.feedback, _missing_note(var, ns)]
    return results


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
    if client.remote(s.course):                   # (no question registry here: ids as typed)
        if isinstance(question_id, int) and not isinstance(question_id, bool):
            question_id = f"q{question_id}"
        if isinstance(question_id, str) and "." not in question_id:
            question_id = f"{s.assignment}.{question_id.strip()}"
        return client.remote_check(s, question_id, namespace)
    question_id = resolve_question(s, question_id)
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
            question_id = resolve_question(s, question_id)
            results = _judge(question_id, s.seed, namespace,
                             time_limit=max(CHECK_TIME_LIMIT_S, s.course.sandbox.cpu_seconds))
        earned = round(math.fsum(r.score for r in results), 9)
        return float(min(earned, s.course.points(question_id)))
    except Exception:  # noqa: BLE001 — a hidden test must end with a number
        return 0.0


def _display(s: Session, question_id: str, results) -> None:
    total = sum(r.score for r in results)
    top = sum(r.max_score for r in results)
    lines = [s.say(f"{question_id}：{total:g} / {top:g} 分", f"{question_id}: {total:g} / {top:g} points")]
    rows = []
    for r in collapse_repeated_mistakes(results):
        mark = _STATUS_MARK.get(r.status, "?")
        note = r.feedback_text(s.language).replace("\n", "\n      ")
        if r.carried_forward:
            note = s.say("［误差传递给分］", "[credit carried forward]") + "\n      " + note
        lines.append(f"  {mark} {r.part or ''}: {r.score:g}/{r.max_score:g}\n      {note}")
        left = "text-align:left;vertical-align:top"
        rows.append(f"<tr><td style='{left}'>{mark}</td>"
                    f"<td style='{left}'><code>{html.escape(str(r.part or ''))}</code></td>"
                    f"<td style='{left}'>{r.score:g}/{r.max_score:g}</td>"
                    f"<td style='white-space:pre-wrap;{left}'>"
                    f"{html.escape(r.feedback_text(s.language))}"
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


def collapse_repeated_mistakes(results) -> list:
    """Copies of ``results`` in which a named mistake's explanation appears
    once per question: a later part with the same diagnosis says "the same
    mistake as in part X" instead of repeating what part X said about it.
    (Needs no mistake catalogue: the service's results arrive in a student
    install that has none.)"""
    import copy
    first: dict = {}
    out = []
    for r in results:
        key = (r.question, r.diagnosis)
        if r.diagnosis and key in first:
            part, said = first[key]
            r = copy.copy(r)
            r.feedback = [item for item in r.feedback if item not in said] + [msg(
                f"（同上：与 {part} 是同一个错误。）",
                f"(The same mistake as in {part} above.)")]
        elif r.diagnosis:
            first[key] = (r.part, list(r.feedback))
        out.append(r)
    return out


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
    show_markdown("\n\n---\n\n".join(parts))


def show_markdown(text: str) -> None:
    """Markdown rendered in Jupyter, or printed as it is elsewhere."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
        if get_ipython() is not None:
            display(Markdown(text))
            return
    except ImportError:
        pass
    print(text)

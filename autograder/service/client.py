"""The notebook side of the check service (runs in the student's kernel).

:mod:`autograder.notebook` calls :func:`remote_setup` and :func:`remote_check`
when :func:`service_url` names a service: ``NNGRADE_CHECKS`` in the
environment, else ``checks:`` in ``course.yaml`` (``local`` = judge in this
kernel).  The kernel then holds no reference, question module or
derivation: the numbers come from the service's manifest, the answers go
out as plain data (:mod:`autograder.protocol`'s wire form,
:mod:`.codec`), function parts as the source of the cells this kernel has
run, and the feedback comes back as part results shown exactly as a local
check shows them.

Who the student is, is the token's business (:mod:`.auth`): ``NNGRADE_TOKEN``,
else the file ``token`` in :func:`config_dir`, else JupyterHub's
``JUPYTERHUB_API_TOKEN``.  ``nngrade-student token TOKEN`` stores the
token; ``nngrade-student course FILE`` the course file, found by
:func:`autograder.config.find_course_file` when a notebook is opened outside the course
folder (the student wheel also carries the course's public ``course.yaml``).
Only the standard library and NumPy are used.
"""
from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from ..i18n import msg

__all__ = ["service_url", "remote", "token", "config_dir", "remote_setup", "remote_check", "main"]

TIMEOUT_S = 120.0
_MANIFESTS: dict[tuple[str, str], dict] = {}


def config_dir() -> Path:
    """``$NNGRADE_CONFIG_DIR``, else ``~/.config/nngrade``."""
    return Path(os.environ.get("NNGRADE_CONFIG_DIR") or Path.home() / ".config" / "nngrade")


def service_url(course) -> str | None:
    """The check service's base URL, or ``None`` for local checks."""
    url = os.environ.get("NNGRADE_CHECKS", "").strip() or getattr(course, "checks", "local")
    return None if url in ("", "local") else url.rstrip("/") + "/"


def remote(course) -> bool:
    """Whether this kernel's checks go to the service (never inside the
    grading sandbox, which judges collected answers itself)."""
    return os.environ.get("NNGRADE_MODE") != "collect" and service_url(course) is not None


def token() -> str | None:
    t = os.environ.get("NNGRADE_TOKEN", "").strip()
    if not t:
        try:
            t = (config_dir() / "token").read_text(encoding="utf-8").strip()
        except OSError:
            t = ""
    return t or os.environ.get("JUPYTERHUB_API_TOKEN", "").strip() or None


class ServiceProblem(Exception):
    """The service refused or could not be reached: ``message`` (bilingual)."""

    def __init__(self, message):
        super().__init__(message.en)
        self.message = message


def _call(course, path: str, body: dict | None = None) -> dict:
    url = service_url(course) + path
    data = None if body is None else json.dumps(body, ensure_ascii=False,
                                                allow_nan=False).encode("utf-8")
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    t = token()
    if t:
        req.add_header("Authorization", f"token {t}")
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
            return json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as err:
        try:
            info = json.loads(err.read().decode("utf-8"))
            raise ServiceProblem(msg(str(info["zh"]), str(info["en"]))) from None
        except (ValueError, KeyError, TypeError, OSError):
            raise ServiceProblem(msg(f"检查服务返回错误 {err.code}。",
                                     f"The check service answered with error {err.code}.")) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        why = getattr(exc, "reason", exc)
        raise ServiceProblem(msg(f"无法连接检查服务 {url}（{why}）。请检查网络，或稍后再试。",
                                 f"Cannot reach the check service at {url} ({why}). Check the "
                                 f"network or try again later.")) from None


def remote_setup(course, assignment: str, student_id: str = ""):
    """:func:`autograder.notebook.setup` with the numbers from the service."""
    from .. import notebook
    typed = (student_id or "").strip() if isinstance(student_id, str) else ""
    try:
        manifest = _call(course, f"v1/assignments/{assignment}")
    except ServiceProblem as p:
        raise RuntimeError(p.message.render(course.language)) from None
    _MANIFESTS[(service_url(course), assignment)] = manifest
    student = manifest.get("student")
    session = notebook.Session(assignment, student, course, manifest["params"], 0, 0, "interactive")
    notebook._SESSION = session
    notebook._announce(session, typed)
    if typed and student and typed != student:
        print(session.say(f"注意：检查服务认定你是 {student}，与 STUDENT_ID（{typed}）不同；"
                          f"检查按 {student} 的题目进行。",
                          f"Note: the check service knows you as {student}, not {typed} "
                          f"(STUDENT_ID); checks use {student}'s variant."))
    return session


def _history(ns: dict) -> list[str]:
    cells = ns.get("In")
    if not isinstance(cells, list):
        return []
    return [c for c in cells if type(c) is str and c.strip()]


def remote_check(session, question_id: str, namespace: dict | None = None) -> float:
    """Ask the service to judge ``question_id``; show its feedback as a local
    check would and return the points (0 when the service refused)."""
    from .. import notebook
    from ..protocol import to_wire
    from ..results import QuestionResult
    from .codec import encode_answers
    course = session.course
    manifest = _MANIFESTS.get((service_url(course), session.assignment))
    ns = notebook._user_namespace() if namespace is None else namespace
    try:
        if manifest is None:
            manifest = _call(course, f"v1/assignments/{session.assignment}")
            _MANIFESTS[(service_url(course), session.assignment)] = manifest
        wire = {}
        for q, parts in manifest["answers"].items():
            wire[q] = {}
            for part, spec in parts.items():
                try:
                    wire[q][part] = to_wire(ns.get(spec["var"]), spec["kind"])
                except Exception as exc:  # noqa: BLE001 — as protocol.collect_answers
                    wire[q][part] = {"type": "invalid", "zh": f"无法读取答案：{type(exc).__name__}",
                                     "en": f"the answer could not be read: {type(exc).__name__}"}
        body = {"assignment": session.assignment, "question": question_id,
                "answers": encode_answers(wire)}
        local = question_id.split(".", 1)[-1]
        if manifest.get("functions", {}).get(local):
            body["cells"] = _history(ns)
        reply = _call(course, "v1/check", body)
    except ServiceProblem as p:
        print(p.message.render(session.language))
        return 0.0
    results = [QuestionResult.from_dict(r) for r in reply["results"]]
    notebook._display(session, question_id, results)
    _show_reveal(session, reply.get("reveal") or {}, bool(reply.get("past_due")))
    return float(reply["points"])


def _show_reveal(session, reveal: dict, past_due: bool = False) -> None:
    if not reveal:
        return
    lines = [session.say("**截止日期已过，参考答案：**", "**The due date has passed; the answers:**")
             if past_due else session.say("**答对后可见：**", "**Shown now that you are right:**")]
    for part, entry in reveal.items():
        if "answer" in entry:
            lines.append(f"- `{part}` = `{entry['answer']}`")
        if entry.get("markdown"):
            lines.append(str(entry["markdown"]))
    from ..notebook import show_markdown
    show_markdown("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    """``nngrade-student token TOKEN`` | ``nngrade-student course FILE``:
    store the check token or the course file in :func:`config_dir`."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in ("token", "course"):
        print("usage: nngrade-student token TOKEN | nngrade-student course course.yaml\n"
              "用法：nngrade-student token 令牌 | nngrade-student course course.yaml", file=sys.stderr)
        return 2
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    if args[0] == "token":
        target = folder / "token"
        target.write_text(args[1].strip() + "\n", encoding="utf-8")
        target.chmod(0o600)
    else:
        from ..config import load_course
        load_course(args[1])                      # a clear error before storing a broken file
        target = folder / "course.yaml"
        target.write_bytes(Path(args[1]).read_bytes())
    print(f"已保存 / saved: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

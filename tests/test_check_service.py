"""The check service (autograder/service): judging over HTTP without the
answers in the student's kernel, the student install, abuse limits.

Expected verdicts come from nn_core's references (through the question
definitions) and from the local, in-kernel check — the service is the code
under test.
"""
from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

from autograder.config import ConfigError, load_course, parse_course
from autograder.judge import grade_question, part_points, policy_for, variant_of
from autograder.protocol import to_wire
from autograder.questions import get_question
from autograder.service.auth import TokenFile
from autograder.service.codec import encode_answers
from autograder.service.judging import Checker, public_seed
from autograder.service.limits import Limits
from autograder.service.server import make_app, start_in_thread

ROOT = Path(__file__).resolve().parents[1]
COURSE_FILE = ROOT / "course.yaml"
TOKENS = {"alice": "alice-token-0123456789abcdef", "bob": "bob-token-0123456789abcdefgh"}


@pytest.fixture(scope="module")
def course():
    return load_course(COURSE_FILE)


def _serve(course, tmp_path_factory, **limits):
    folder = tmp_path_factory.mktemp("tokens")
    (folder / "tokens.json").write_text(json.dumps(TOKENS))
    lim = Limits(**{"per_minute": 6000, "burst": 1000, "fn_cpu_seconds": 5,
                    "fn_wall_seconds": 15, **limits})
    app = make_app(Checker(course, lim), TokenFile(folder / "tokens.json"), lim)
    return start_in_thread(app)


@pytest.fixture(scope="module")
def service(course, tmp_path_factory):
    url, stop = _serve(course, tmp_path_factory)
    yield url + "/"
    stop()


def call(base: str, path: str, body=None, token: str | None = "alice", raw: bytes | None = None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(base + path, data=data, method="GET" if data is None else "POST")
    if token:
        req.add_header("Authorization", f"token {TOKENS.get(token, token)}")
    try:
        with urllib.request.urlopen(req, timeout=300) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), dict(err.headers)


def references(course, aid: str, student: str) -> dict:
    params, _ = variant_of(course, aid, student)
    return {q: get_question(f"{aid}.{q}").reference(params) for q in ("q1", "q2")}


def a3_answers(refs: dict, wrong_y: bool = False) -> dict:
    wire = {q: {p: to_wire(v, "num") for p, v in parts.items()} for q, parts in refs.items()}
    if wrong_y:
        wire["q1"]["y"] = to_wire(refs["q1"]["y"] + 0.3, "num")
    return encode_answers(wire)


def local_results(course, student: str, qid: str, answers: dict):
    """The local check's verdicts (what check() shows in a full install)."""
    q = get_question(qid)
    params, _ = variant_of(course, q.assignment, student)
    return grade_question(q, answers, params, lambda part: policy_for(course, q.id, part),
                          part_points(course, q), None, public_seed(course, q.assignment, student))


# -- judging -----------------------------------------------------------------

def test_numeric_check_gives_the_local_feedback(course, service):
    refs = references(course, "A3", "alice")
    status, reply, _ = call(service, "v1/check", {"assignment": "A3", "question": "A3.q1",
                                                  "answers": a3_answers(refs, wrong_y=True)})
    assert status == 200 and reply["student"] == "alice"
    local_answers = {q: dict(parts) for q, parts in refs.items()}
    local_answers["q1"]["y"] = refs["q1"]["y"] + 0.3
    want = [r.to_dict(course.language) for r in local_results(course, "alice", "A3.q1", local_answers)]
    assert reply["results"] == want
    assert {r["part"]: r["status"] for r in reply["results"]} == \
        {"z1": "correct", "h": "correct", "y": "wrong"}
    assert reply["points"] == pytest.approx(sum(r["score"] for r in want))


def test_reveal_only_for_parts_judged_right(course, service):
    refs = references(course, "A3", "alice")
    _, reply, _ = call(service, "v1/check", {"assignment": "A3", "question": "A3.q1",
                                             "answers": a3_answers(refs, wrong_y=True)})
    assert set(reply["reveal"]) == {"z1", "h"}                  # y is wrong: nothing shown
    assert np.allclose(reply["reveal"]["h"]["answer"], refs["q1"]["h"])


def _course_due(due: str, extensions: dict):
    """course.yaml with A3 due at ``due`` and the given extensions (days)."""
    import yaml
    data = yaml.safe_load(COURSE_FILE.read_text(encoding="utf-8"))
    data["assignments"]["A3"].update(due=due, extensions=extensions)
    return parse_course(yaml.safe_dump(data, allow_unicode=True), str(COURSE_FILE))


def test_reveal_for_every_part_once_the_due_date_has_passed():
    import datetime as dt
    course = _course_due("2025-03-10 23:59:00 +08:00", {"bob": 2})
    due = dt.datetime(2025, 3, 10, 15, 59)                     # naive UTC
    now = {"t": due - dt.timedelta(minutes=1)}
    checker = Checker(course, Limits(), clock=lambda: now["t"])
    refs = {s: references(course, "A3", s) for s in ("alice", "bob")}
    ask = {s: {"assignment": "A3", "question": "A3.q1",
               "answers": a3_answers(refs[s], wrong_y=True)} for s in refs}
    before = checker.check("alice", ask["alice"])
    assert before["past_due"] is False and set(before["reveal"]) == {"z1", "h"}
    now["t"] = due + dt.timedelta(minutes=1)
    after = checker.check("alice", ask["alice"])               # the same answers, now past due
    assert after["past_due"] is True and after["results"] == before["results"]
    assert set(after["reveal"]) == {"z1", "h", "y"}              # the wrong part too
    assert np.allclose(after["reveal"]["y"]["answer"], refs["alice"]["q1"]["y"])
    # nothing answered at all: every part is still shown
    empty = checker.check("alice", {"assignment": "A3", "question": "A3.q1", "answers": {}})
    assert {r["status"] for r in empty["results"]} == {"missing"}
    assert set(empty["reveal"]) == {"z1", "h", "y"}
    # bob's extension (2 days) keeps his wrong part hidden until his own due date
    bob = checker.check("bob", ask["bob"])
    assert bob["past_due"] is False and "y" not in bob["reveal"]
    now["t"] = due + dt.timedelta(days=2, minutes=1)
    bob = checker.check("bob", ask["bob"])
    assert bob["past_due"] is True and "y" in bob["reveal"]
    assert np.allclose(bob["reveal"]["y"]["answer"], refs["bob"]["q1"]["y"])


def test_no_due_date_reveals_only_right_parts(course):
    import datetime as dt
    assert course.assignment("A3").due is None
    checker = Checker(course, Limits(), clock=lambda: dt.datetime(2999, 1, 1))
    refs = references(course, "A3", "alice")
    reply = checker.check("alice", {"assignment": "A3", "question": "A3.q1",
                                    "answers": a3_answers(refs, wrong_y=True)})
    assert reply["past_due"] is False and set(reply["reveal"]) == {"z1", "h"}


def test_a_token_judges_only_its_own_variant(course, service):
    alice, bob = references(course, "A3", "alice"), references(course, "A3", "bob")
    assert not np.allclose(alice["q2"]["dW1"], bob["q2"]["dW1"])
    # Alice posting Bob's answers (and naming Bob) is judged on her own numbers
    status, reply, _ = call(service, "v1/check", {"assignment": "A3", "question": "A3.q2",
                                                  "student": "bob", "answers": a3_answers(bob)},
                            token="alice")
    assert status == 200 and reply["student"] == "alice"
    assert reply["results"][0]["status"] != "correct" and reply["reveal"] == {}
    _, mine, _ = call(service, "v1/assignments/A3", token="alice")
    _, his, _ = call(service, "v1/assignments/A3", token="bob")
    assert mine["params"] == variant_of(course, "A3", "alice")[0]
    assert his["params"] == variant_of(course, "A3", "bob")[0] != mine["params"]
    for token in (None, "not-a-token-of-anyone-at-all"):
        status, reply, _ = call(service, "v1/assignments/A3", token=token)
        assert status == 401 and reply["zh"] and reply["en"]


SIGMOID = ("import numpy as np\n"
           "def sigmoid(x):\n    x = np.asarray(x, dtype=float)\n    e = np.exp(-np.abs(x))\n"
           "    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))\n")
WRONG_SIGMOID = "import numpy as np\ndef sigmoid(x):\n    return np.tanh(x)\n"


def test_function_check_runs_the_cells_in_the_sandbox(course, service):
    body = {"assignment": "A2", "question": "A2.q5", "answers": {}}
    _, right, _ = call(service, "v1/check", {**body, "cells": [WRONG_SIGMOID, SIGMOID]})
    status = {r["part"]: r["status"] for r in right["results"]}
    assert status == {"sigmoid": "correct", "log_softmax": "missing"} or \
        status["sigmoid"] == "correct" and status["log_softmax"] != "correct"
    _, wrong, _ = call(service, "v1/check", {**body, "cells": [SIGMOID, WRONG_SIGMOID]})
    assert wrong["results"][0]["status"] != "correct"
    _, spin, _ = call(service, "v1/check", {**body, "cells": [SIGMOID, "while True:\n    pass\n"]})
    assert spin["results"][0]["status"] == "correct"   # the spinning cell cost only itself


# -- limits ------------------------------------------------------------------

def test_rate_limit_answers_429_with_a_bilingual_message(course, tmp_path_factory):
    url, stop = _serve(course, tmp_path_factory, per_minute=1, burst=2)
    try:
        codes = [call(url + "/", "v1/assignments/A3")[0] for _ in range(3)]
        status, reply, headers = call(url + "/", "v1/assignments/A3")
        other = call(url + "/", "v1/assignments/A3", token="bob")[0]
    finally:
        stop()
    assert codes[:2] == [200, 200] and status == 429
    assert "秒" in reply["zh"] and "try again" in reply["en"] and int(headers["Retry-After"]) >= 1
    assert other == 200                                   # Bob is not slowed by Alice


def test_payload_cap_answers_413(course, tmp_path_factory):
    url, stop = _serve(course, tmp_path_factory, max_body_kb=4)
    try:
        status, reply, _ = call(url + "/", "v1/check", raw=b"{" + b" " * 6000 + b"}")
        host = urlparse(url)
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=120)
        conn.putrequest("POST", "/v1/check")            # declares 1 GB, sends nothing
        conn.putheader("Authorization", f"token {TOKENS['alice']}")
        conn.putheader("Content-Length", str(1 << 30))
        conn.endheaders()
        resp = conn.getresponse()
        declared = resp.status, json.loads(resp.read())
        conn.close()
        after = call(url + "/", "v1/assignments/A3")[0]
    finally:
        stop()
    assert status == 413 and "KiB" in reply["en"] and "KiB" in reply["zh"]
    assert declared[0] == 413 and declared[1]["error"] == "payload_too_large"
    assert after == 200


@pytest.mark.parametrize("body, reason", [
    ({"assignment": "A3", "question": "A3.q9"}, "unknown_question"),
    ({"assignment": "Z9", "question": "Z9.q1"}, "unknown_assignment"),
    ({"assignment": "A3", "question": "A3.q1",
      "answers": {"q1": {"z1": {"type": "array", "shape": [2], "data": ["x", 1]}}}}, "bad_answers"),
    ({"assignment": "A3", "question": "A3.q1",
      "answers": {"q1": {"z1": {"type": "array", "shape": [100000, 100000], "data": []}}}},
     "bad_answers"),
    ({"assignment": "A2", "question": "A2.q5", "cells": [1, 2]}, "bad_cells"),
])
def test_bad_requests_get_a_clear_4xx(service, body, reason):
    status, reply, _ = call(service, "v1/check", body)
    assert 400 <= status < 500 and reply["error"] == reason and reply["zh"] and reply["en"]


def test_bad_json_is_400(service):
    status, reply, _ = call(service, "v1/check", raw=b"{not json")
    assert status == 400 and reply["error"] == "bad_json"


# -- course.yaml and tokens ----------------------------------------------------

def test_checks_key_is_validated(course):
    text = COURSE_FILE.read_text(encoding="utf-8")
    assert course.checks == "local"
    assert parse_course(text + "\nchecks: https://checks.example.edu/nngrade/\n").checks \
        == "https://checks.example.edu/nngrade/"
    with pytest.raises(ConfigError, match="checks"):
        parse_course(text + "\nchecks: ftp://example.edu\n")


def test_tokens_command_makes_a_token_file_serve_reads(tmp_path):
    roster = tmp_path / "roster.txt"
    roster.write_text("alice\nbob\n")
    out = tmp_path / "tokens.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _ in range(2):                                   # the second run keeps the tokens
        subprocess.run([sys.executable, "-m", "autograder.cli", "tokens", str(roster), "--out",
                        str(out)], check=True, env=env, capture_output=True, timeout=300)
    made = json.loads(out.read_text())
    assert set(made) == {"alice", "bob"} and made["alice"] != made["bob"]
    import asyncio
    assert asyncio.run(TokenFile(out).student(made["bob"])) == "bob"


# -- the student install -------------------------------------------------------

FORBIDDEN_MODULES = ["autograder.questions", "autograder.judge", "autograder.functions",
                     "autograder.formula", "autograder.mistakes", "autograder.variants",
                     "autograder.sandbox", "autograder.pipeline", "autograder.service.server",
                     "autograder.service.judging", "nn_core.activations", "nn_core.losses",
                     "nn_core.layers", "nn_core.conv", "nn_core.network", "nn_core.symbolic"]


def test_the_student_install_is_the_sandbox_runtime_plus_the_client():
    """One list says what the student runtime is: the sandbox's RUNTIME
    (what a graded run may load) is all in the student install, and the
    install adds only the client and nn_core's public parts."""
    from autograder.sandbox.allowlist import RUNTIME
    sys.path.insert(0, str(ROOT / "student"))
    try:
        import build as student_build
    finally:
        sys.path.remove(str(ROOT / "student"))
    files = set(student_build.ALLOWLIST)
    runtime = {m.replace(".", "/") + ".py" for m in RUNTIME if m != "autograder"}
    assert runtime <= files
    assert files - runtime == {"autograder/service/__init__.py", "autograder/service/client.py",
                               "autograder/service/codec.py", "nn_core/_checks.py",
                               "nn_core/data.py", "nn_core/gradcheck.py"}
    assert all((ROOT / f).is_file() for f in files)
    for module in FORBIDDEN_MODULES:
        stem = module.replace(".", "/")
        assert not any(f == stem + ".py" or f.startswith(stem + "/") for f in files), module


@pytest.fixture(scope="module")
def student_venv(service, tmp_path_factory):
    """A fresh venv holding only the student wheel (built with this
    service's URL); third-party packages come from the test venv."""
    sys.path.insert(0, str(ROOT / "student"))
    import build as student_build
    sys.path.remove(str(ROOT / "student"))
    tmp = tmp_path_factory.mktemp("student")
    wheel = student_build.build(tmp / "dist", COURSE_FILE, service)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps",
                    str(wheel)], check=True, timeout=600)
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    import sysconfig
    (Path(site) / "_third_party.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return py, Path(site), tmp


def _student_env(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "NNGRADE_COURSE", "NNGRADE_MODE", "JUPYTERHUB_USER",
                        "NNGRADE_CHECKS")}
    return {**env, "NNGRADE_CONFIG_DIR": str(tmp / "config"), "NNGRADE_TOKEN": TOKENS["alice"]}


def test_student_install_holds_no_answers(student_venv):
    py, site, tmp = student_venv
    probe = ("import importlib, json, sys\n"
             f"bad = {FORBIDDEN_MODULES!r}\n"
             "found = []\n"
             "for m in bad:\n"
             "    try:\n        importlib.import_module(m); found.append(m)\n"
             "    except ImportError:\n        pass\n"
             "import nn_core, autograder.notebook, autograder.service.client\n"
             "from nn_core import xor, numerical_gradient\n"
             "print(json.dumps({'found': found, 'nn_core': sorted(n for n in dir(nn_core) if not n.startswith('_')),"
             " 'file': autograder.notebook.__file__}))\n")
    out = subprocess.run([str(py), "-c", probe], cwd=tmp, env=_student_env(tmp), capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["found"] == [] and info["file"].startswith(str(site))
    assert not {"sigmoid", "log_softmax", "log_softmax_jacobian", "conv_delta"} & set(info["nn_core"])
    on_disk = {p.relative_to(site).as_posix() for p in site.rglob("*.py")}
    assert not [p for p in on_disk if p.startswith(("autograder/questions", "nn_core/symbolic"))
                or p.split("/")[-1] in ("judge.py", "variants.py", "activations.py", "formula.py")]


def _filled_a3(refs: dict) -> dict:
    """The released A3 notebook answered as a student would: q1.y wrong,
    q2.dW1 transposed, the rest right."""
    import nbformat
    nb = nbformat.read(ROOT / "exercises" / "A3_two_layer_network.ipynb", as_version=4)
    values = {f"{q}_{p}": v for q, parts in refs.items() for p, v in parts.items()}
    values["q1_y"] = values["q1_y"] + 0.3
    values["q2_dW1"] = values["q2_dW1"].T
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if cell.source.startswith("# 学号"):
            cell.source = cell.source.replace('STUDENT_ID = ""', 'STUDENT_ID = "alice"')
        lines = []
        for line in cell.source.splitlines():
            name = line.split("=")[0].strip()
            lines.append(f"{name} = np.array({values[name].tolist()!r})"
                         if name in values and line.rstrip().endswith("None") else line)
        cell.source = "\n".join(lines)
    return nb


def _kernel(folder: Path, name: str, python: str, env: dict) -> None:
    spec = folder / "kernels" / name
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": name, "language": "python", "env": env}))


def _check_outputs(nb) -> list:
    out = []
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        if cell.cell_type == "code" and gid in ("A3_setup", "A3_q1", "A3_q2"):
            shown = [o.get("text") or o.get("data", {}).get("text/plain") for o in cell.outputs
                     if o.output_type == "stream" or "<table>" in o.get("data", {}).get("text/html", "")
                     or o.output_type == "execute_result"]
            out.append((gid, shown))
    return out


def test_released_notebook_same_feedback_in_service_and_local_mode(course, student_venv, monkeypatch):
    from nbclient import NotebookClient
    py, _site, tmp = student_venv
    share = tmp / "jupyter"
    senv = _student_env(tmp)
    _kernel(share, "nngrade-student", str(py), {"PYTHONPATH": "", "NNGRADE_CONFIG_DIR": senv["NNGRADE_CONFIG_DIR"],
                                                "NNGRADE_TOKEN": TOKENS["alice"]})
    local_course = tmp / "course-local"
    local_course.mkdir(exist_ok=True)
    _kernel(share, "nngrade-local", sys.executable, {"PYTHONPATH": str(ROOT),
                                                     "NNGRADE_COURSE": str(COURSE_FILE)})
    monkeypatch.setenv("JUPYTER_PATH", str(share))
    for var in ("NNGRADE_COURSE", "NNGRADE_MODE", "JUPYTERHUB_USER", "NNGRADE_STUDENT", "NNGRADE_CHECKS"):
        monkeypatch.delenv(var, raising=False)
    refs = references(course, "A3", "alice")
    runs = {}
    for kernel, cwd in (("nngrade-student", tmp), ("nngrade-local", local_course)):
        nb = _filled_a3(refs)
        NotebookClient(nb, kernel_name=kernel, timeout=600, startup_timeout=300,
                       resources={"metadata": {"path": str(cwd)}}).execute()
        runs[kernel] = _check_outputs(nb)
    assert runs["nngrade-student"] == runs["nngrade-local"]
    text = json.dumps(runs["nngrade-local"], ensure_ascii=False)
    assert "✗ y" in text and "✓ z1" in text and "alice" in text     # a mix of verdicts compared


# -- under a real JupyterHub ---------------------------------------------------

def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_under_jupyterhub_each_user_gets_only_their_own_variant(course, tmp_path):
    """A real hub (dummy authenticator, users alice and bob): the service
    identifies each from their hub API token through jupyterhub's HubAuth."""
    import shutil
    import time
    pytest.importorskip("jupyterhub")
    if not shutil.which("configurable-http-proxy"):
        pytest.skip("configurable-http-proxy (npm) is not installed")
    from jupyterhub.services.auth import HubAuth

    from autograder.service.auth import HubTokens
    hub_port, proxy_port, api_port = _free_port(), _free_port(), _free_port()
    admin, service_token = "admin-" + "x" * 32, "svc-" + "y" * 32
    (tmp_path / "jupyterhub_config.py").write_text(f"""
c.JupyterHub.authenticator_class = "dummy"
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {proxy_port}
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.JupyterHub.db_url = "sqlite:///{tmp_path}/hub.sqlite"
c.JupyterHub.cookie_secret_file = "{tmp_path}/cookie_secret"
c.Authenticator.allowed_users = {{"alice", "bob"}}
c.JupyterHub.services = [{{"name": "nngrade", "api_token": "{service_token}"}},
                         {{"name": "setup", "api_token": "{admin}"}}]
c.JupyterHub.load_roles = [{{"name": "setup", "services": ["setup"],
                             "scopes": ["admin:users", "tokens"]}}]
""")
    exe = Path(sys.executable).with_name("jupyterhub")
    hub = subprocess.Popen([str(exe), "-f", str(tmp_path / "jupyterhub_config.py")], cwd=tmp_path,
                           stdout=subprocess.DEVNULL, stderr=open(tmp_path / "hub.log", "wb"))
    api = f"http://127.0.0.1:{hub_port}/hub/api"
    stop = None
    try:
        for _ in range(600):                                  # hang detector: 5 minutes
            try:
                urllib.request.urlopen(api + "/", timeout=5).read()
                break
            except OSError:
                assert hub.poll() is None, (tmp_path / "hub.log").read_text()[-3000:]
                time.sleep(0.5)
        user_tokens = {}
        for user in ("alice", "bob"):
            req = urllib.request.Request(f"{api}/users/{user}/tokens", data=b"{}", method="POST",
                                         headers={"Authorization": f"token {admin}"})
            user_tokens[user] = json.loads(urllib.request.urlopen(req, timeout=60).read())["token"]
        lim = Limits(per_minute=6000, burst=1000)
        auth = HubTokens(HubAuth(api_url=api, api_token=service_token, cache_max_age=60))
        url, stop = start_in_thread(make_app(Checker(course, lim), auth, lim))
        base = url + "/"
        alice, bob = references(course, "A3", "alice"), references(course, "A3", "bob")
        for user, refs in (("alice", alice), ("bob", bob)):
            tok = user_tokens[user]
            _, manifest, _ = call(base, "v1/assignments/A3", token=tok)
            assert manifest["student"] == user
            assert manifest["params"] == variant_of(course, "A3", user)[0]
            _, own, _ = call(base, "v1/check", {"assignment": "A3", "question": "A3.q2",
                                               "answers": a3_answers(refs)}, token=tok)
            assert [r["status"] for r in own["results"]] == ["correct"] * 4
        # Bob's token with Alice's answers is judged on Bob's numbers
        _, other, _ = call(base, "v1/check", {"assignment": "A3", "question": "A3.q2",
                                             "student": "alice", "answers": a3_answers(alice)},
                           token=user_tokens["bob"])
        assert other["student"] == "bob" and other["results"][0]["status"] != "correct"
        status, _, _ = call(base, "v1/assignments/A3", token="forged-" + "z" * 30)
        assert status == 401
    finally:
        if stop:
            stop()
        hub.terminate()
        try:
            hub.wait(60)
        except subprocess.TimeoutExpired:
            hub.kill()


def test_identical_checks_in_flight_are_judged_once(course):
    import threading
    started, release, calls = threading.Event(), threading.Event(), []

    class Slow(Checker):
        def _judge(self, *args):
            calls.append(args[0])
            started.set()
            assert release.wait(300)                     # a hang detector
            return super()._judge(*args)
    checker = Slow(course, Limits())
    body = {"assignment": "A2", "question": "A2.q1", "answers": {"q1": {
        "dsigmoid": {"type": "text", "value": "sigmoid(x)*(1-sigmoid(x))"}}}}
    replies = {}
    first = threading.Thread(target=lambda: replies.update(a=checker.check("alice", body)))
    first.start()
    assert started.wait(300)
    second = threading.Thread(target=lambda: replies.update(b=checker.check("alice", body)))
    second.start()
    release.set()
    first.join(300)
    second.join(300)
    assert calls == ["alice"]                             # the second waited for the first
    assert replies["a"] == replies["b"]
    assert replies["a"]["results"][0]["status"] == "correct"


def test_an_undecided_formula_is_not_cached(course):
    from autograder.formula import M_UNDECIDED
    calls = []

    class Undecided(Checker):
        def _judge(self, *args):
            calls.append(1)
            reply = super()._judge(*args)
            assert reply["_decided"] is True
            reply["_decided"] = False                      # as if the time limit struck
            return reply
    checker = Undecided(course, Limits())
    body = {"assignment": "A2", "question": "A2.q1", "answers": {"q1": {
        "dsigmoid": {"type": "text", "value": "sigmoid(x)*(1-sigmoid(x))"}}}}
    one, two = checker.check("alice", body), checker.check("alice", body)
    assert len(calls) == 2 and one == two and "_decided" not in one
    assert M_UNDECIDED.en not in json.dumps(one)


def test_references_are_built_once_per_question_and_variant(course, monkeypatch):
    q = get_question("A3.q1")
    builds = []
    real = type(q).reference
    mine = variant_of(course, "A3", "alice")[0]
    monkeypatch.setattr(type(q), "reference", lambda self, params: builds.append(
        (self.id, params == mine)) or real(self, params))
    checker = Checker(course, Limits())
    refs = references(course, "A3", "alice")
    builds.clear()
    for wrong in (True, False):
        checker.check("alice", {"assignment": "A3", "question": "A3.q1",
                                "answers": a3_answers(refs, wrong_y=wrong)})
    assert builds.count(("A3.q1", True)) == 1       # (a wrong answer also builds the lecture's)
    cached = checker._references(variant_of(course, "A3", "alice")[0])(q)
    assert np.allclose(cached["y"], refs["q1"]["y"])
    with pytest.raises(ValueError):                        # shared: nobody writes into it
        cached["y"][...] = 0


def test_a_function_check_draws_the_variant_once(course, monkeypatch):
    """The service's function check hands its variant to the sandbox's plan
    instead of drawing it again (issue 13: once per submission)."""
    import autograder.judge as judge
    calls = []
    real = judge.variant_of
    monkeypatch.setattr(judge, "variant_of", lambda *a: calls.append(a) or real(*a))
    reply = Checker(course, Limits()).check(
        "alice", {"assignment": "A2", "question": "A2.q5", "answers": {},
                  "cells": [SIGMOID]})
    status = {r["part"]: r["status"] for r in reply["results"]}
    assert status["sigmoid"] == "correct", reply
    assert calls == [(course, "A2", "alice")]

"""The check service under a class (issue 14): per-student limits shared by
the processes of ``nngrade serve --processes N``, and function checks at a
lower CPU priority than numeric and formula checks.

Expected numbers come from the limits the test sets (a burst of 5 grants 5
checks, however many processes answer) and from the nice value it asks for.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from autograder.config import load_course
from autograder.judge import variant_of
from autograder.protocol import to_wire
from autograder.questions import get_question
from autograder.service.auth import TokenFile
from autograder.service.codec import encode_answers
from autograder.service.judging import Checker
from autograder.service.limits import Limits
from autograder.service.priority import start_sandbox
from autograder.service.server import make_app, start_in_thread
from autograder.service.shared import SharedState

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")


# -- SharedState, between processes -------------------------------------------------

def _take_many(path: str, n: int, out) -> None:
    state = SharedState(path, per_minute=0.001, burst=7)
    out.put(sum(state.take("alice") == 0.0 for _ in range(n)))


def test_a_student_gets_one_burst_across_processes(tmp_path):
    path = str(tmp_path / "state.sqlite")
    SharedState(path, per_minute=0.001, burst=7)
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_take_many, args=(path, 10, out)) for _ in range(3)]
    for p in procs:
        p.start()
    granted = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    assert sum(granted) == 7, granted              # not 3 × 7
    assert SharedState(path, per_minute=0.001, burst=7).take("bob") == 0.0   # per student


def test_shared_bucket_refills_at_the_rate(tmp_path):
    now = [100.0]
    state = SharedState(str(tmp_path / "s.sqlite"), per_minute=60, burst=2, clock=lambda: now[0])
    assert [state.take("a") for _ in range(2)] == [0.0, 0.0]
    assert state.take("a") == pytest.approx(1.0)   # (1 − 0 tokens) / (1 per second)
    now[0] += 0.5
    assert state.take("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert state.take("a") == 0.0


def _enter(path: str, out, hold: float) -> None:
    state = SharedState(path, 60, 5)
    out.put(state.enter("alice"))
    time.sleep(hold)


def test_one_check_in_flight_across_processes(tmp_path):
    path = str(tmp_path / "s.sqlite")
    here = SharedState(path, 60, 5)
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    holder = ctx.Process(target=_enter, args=(path, out, 3.0))
    holder.start()
    assert out.get(timeout=60) is True
    assert here.enter("alice") is False            # held by the other process
    assert here.enter("bob") is True
    here.leave("alice")                            # not ours to release
    assert here.enter("alice") is False
    holder.join(30)                                # the holder died without leaving
    assert here.enter("alice") is True
    assert here.enter("alice") is False
    here.leave("alice")
    assert here.enter("alice") is True


# -- nngrade serve --processes 2 -----------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_processes_share_the_rate_limit(tmp_path):
    tokens = {"alice": "alice-token-0123456789abcdef", "bob": "bob-token-0123456789abcdefgh"}
    (tmp_path / "tokens.json").write_text(json.dumps(tokens))
    port = _free_port()
    code = ("import logging, sys; from pathlib import Path\n"
            "from autograder.config import load_course\n"
            "from autograder.service.limits import Limits\n"
            "from autograder.service.server import serve\n"
            "logging.basicConfig(level=logging.INFO, stream=sys.stderr,\n"
            "                    format='%(process)d %(name)s %(message)s')\n"
            f"serve(load_course(Path({str(ROOT / 'course.yaml')!r})), port={port},\n"
            f"      tokens={str(tmp_path / 'tokens.json')!r}, processes=2,\n"
            "      limits=Limits(per_minute=0.01, burst=5, formula_workers=1, fn_workers=1))\n")
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stderr=log,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    base = f"http://127.0.0.1:{port}/v1/"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                urllib.request.urlopen(base + "health", timeout=5).read()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, \
                    (tmp_path / "serve.log").read_text()
                time.sleep(0.5)
        time.sleep(3)                              # both processes listening
        codes = []
        for _ in range(40):                        # a new connection each: either process
            req = urllib.request.Request(base + "assignments/A2",
                                         headers={"Authorization": f"token {tokens['alice']}"})
            try:
                with urllib.request.urlopen(req, timeout=60) as resp:
                    codes.append(resp.status)
            except urllib.error.HTTPError as err:
                codes.append(err.code)
        assert codes.count(200) == 5 and codes.count(429) == 35, codes
        text = (tmp_path / "serve.log").read_text()
        answered = set(re.findall(r"^(\d+) tornado\.access \d+ GET /v1/assignments", text, re.M))
        assert len(answered) == 2, text[-3000:]    # both processes answered alice
    finally:
        proc.terminate()
        proc.wait(60)
        log.close()
    time.sleep(2)                                  # the server processes die with the parent
    left = subprocess.run(["pgrep", "-f", f"port={port}"], capture_output=True, text=True).stdout
    assert left.split() == [], left


# -- priority: numeric checks keep the cores -----------------------------------------

SPIN = ("import numpy as np\n"
        "def sigmoid(x):\n    return 1 / (1 + np.exp(-np.asarray(x, dtype=float)))\n"
        "def log_softmax(z):\n    z = np.asarray(z, dtype=float)\n"
        "    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))\n"
        "s = 0\nfor i in range(60_000_000):\n    s += i\n")


def _post(base, token, body):
    req = urllib.request.Request(base + "/v1/check", data=json.dumps(body).encode(),
                                 headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(req, timeout=300) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(stat[1]), []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def test_numeric_check_answered_while_function_checks_saturate_the_sandbox(tmp_path):
    from autograder.sandbox import shutdown, zygote_info
    shutdown()              # a zygote an earlier test started at nice 0: the service starts its own
    course = load_course(ROOT / "course.yaml")
    students = ["alice", "bob", "carol", "dave"]
    tokens = {s: f"{s}-token-0123456789abcdef" for s in students}
    (tmp_path / "tokens.json").write_text(json.dumps(tokens))
    lim = Limits(per_minute=6000, burst=1000, fn_cpu_seconds=30, fn_wall_seconds=120,
                 fn_workers=2, fn_nice=10)
    app = make_app(Checker(course, lim), TokenFile(tmp_path / "tokens.json"), lim)
    start_sandbox(app.service_state.fn_pool, lim.fn_nice).result(240)      # as serve() does
    base, stop = start_in_thread(app)
    try:
        fn_body = {"assignment": "A2", "question": "A2.q5", "answers": {}, "cells": [SPIN]}
        done: dict[str, float] = {}

        def fn_check(s):
            status, reply = _post(base, tokens[s], fn_body)
            assert status == 200, reply
            done[s] = time.monotonic()
        spinners = [threading.Thread(target=fn_check, args=(s,)) for s in ("alice", "bob")]
        for t in spinners:
            t.start()
        # wait until both sandboxed children spin: the zygote has grandchildren busy
        zpid = zygote_info()["pid"]
        deadline, busy = time.monotonic() + 120, []
        while time.monotonic() < deadline and len(busy) < 2 and not done:
            time.sleep(0.2)
            busy = [p for p in _descendants(zpid) if _cpu(p) > 0.3]
        assert len(busy) >= 2, "the function checks did not start spinning"
        # every sandboxed process runs at the function checks' priority, its
        # session's autogroup too (else the nice value would mean nothing)
        for p in _descendants(zpid):
            try:
                assert os.getpriority(os.PRIO_PROCESS, p) >= 10, p
                group = open(f"/proc/{p}/autogroup").read()
            except (ProcessLookupError, FileNotFoundError):
                continue
            assert group.strip().endswith("nice 10"), group

        params, _ = variant_of(course, "A3", "carol")
        wire = {q: {p: to_wire(v, "num") for p, v in get_question(f"A3.{q}").reference(params).items()}
                for q in ("q1", "q2")}
        t0 = time.monotonic()
        status, reply = _post(base, tokens["carol"], {"assignment": "A3", "question": "A3.q2",
                                                      "answers": encode_answers(wire)})
        answered = time.monotonic()
        assert status == 200 and all(r["status"] == "correct" for r in reply["results"]), reply
        assert not done, "the function checks ended before the numeric one: not a test of priority"
        assert answered - t0 < 5.0
        for t in spinners:
            t.join(300)
        assert set(done) == {"alice", "bob"}
    finally:
        stop()


def _cpu(pid: int) -> float:
    try:
        stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")

"""nbgrader's own tools on nngrade's gradebook: after ``nngrade grade``,
the autograded notebooks are where nbgrader puts them, ``nbgrader
generate_feedback`` and ``release_feedback`` work, a comment entered with
nbgrader's API reaches both feedback pages, and formgrader (a real
``jupyter server`` with nbgrader's extension) lists and opens each
submission — with a headless-Chromium screenshot in /tmp/formgrader.png for
a person to look at.

Expected scores come from the notebooks (the reference solution earns
every point of A3, the released exercise none) and from nbgrader's own
reading of the gradebook.  Timeouts are hang detectors.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from test_gradebook_truth import AID, NAME, NOTEBOOK, _notebook, full_marks, make_course, \
    nngrade

HANG_S = 600
COMMENT = "Please show your working for z1."
SECRETS = {"ann": "a1" * 64, "ben": "b2" * 64}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    folder = make_course(tmp_path_factory.mktemp("formgrader") / "course")
    for student, kind in (("ann", "solution"), ("ben", "exercise")):
        target = folder / "submitted" / student / AID / NAME
        target.parent.mkdir(parents=True)
        target.write_text(_notebook(kind, student), encoding="utf-8")
        # as nbgrader submit + collect leave it
        (target.parent / "timestamp.txt").write_text("2025-03-01 10:00:00.000000 UTC")
        (target.parent / "submission_secret.txt").write_text(SECRETS[student])
    r = nngrade("grade", folder, "-a", AID, "--workers", 1)
    assert r.returncode == 0, r.stdout + r.stderr
    from autograder.config import load_course
    course_id = load_course(folder / "course.yaml").course_id
    (folder / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(folder)!r}\n"
        f"c.CourseDirectory.course_id = {course_id!r}\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(folder / 'gradebook.db')!r}\n"
        f"c.Exchange.root = {str(folder.parent / 'exchange')!r}\n", encoding="utf-8")
    (folder.parent / "exchange").mkdir()
    return folder


def nbgrader(course: Path, *args):
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course,
                          capture_output=True, text=True, timeout=HANG_S)


def test_autograded_notebooks_are_where_nbgrader_puts_them(course):
    for student in ("ann", "ben"):
        path = course / "autograded" / student / AID / NAME
        nb = json.loads(path.read_text(encoding="utf-8"))
        assert (path.parent / "timestamp.txt").is_file()
        grade_cells = [c for c in nb["cells"]
                       if c["metadata"].get("nbgrader", {}).get("grade")]
        assert [c["metadata"]["nbgrader"]["grade_id"] for c in grade_cells] == \
            [f"{AID}_q1", f"{AID}_q2"]
        for cell in grade_cells:                    # the grader's finding as its output
            assert cell["outputs"] and f"{AID}.q" in cell["outputs"][0]["text"]
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        nb = gb.find_notebook(NOTEBOOK, AID)
        assert {c.name for c in nb.solution_cells} >= {f"{AID}_q1_answer", f"{AID}_q2_answer"}
        assert all(c.checksum for c in nb.source_cells if c.locked)
        for student in ("ann", "ben"):          # formgrader's GetGrades finds every cell
            gb.find_comment(f"{AID}_q1_answer", NOTEBOOK, AID, student)
            gb.find_grade(f"{AID}_q2", NOTEBOOK, AID, student)
        assert gb.find_submission(AID, "ann").score == full_marks()
        assert gb.find_submission(AID, "ben").score == 0.0


def test_generate_and_release_feedback(course):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:   # what formgrader does
        comment = gb.find_comment(f"{AID}_q1_answer", NOTEBOOK, AID, "ben")
        comment.manual_comment = COMMENT
        gb.db.commit()
    r = nbgrader(course, "generate_feedback", AID)
    assert r.returncode == 0, r.stdout + r.stderr
    pages = {s: (course / "feedback" / s / AID / f"{NOTEBOOK}.html").read_text(encoding="utf-8")
             for s in ("ann", "ben")}
    assert f"Score: {full_marks():.1f} / {full_marks():.1f}" in pages["ann"]
    assert f"Score: 0.0 / {full_marks():.1f}" in pages["ben"]
    assert COMMENT in pages["ben"]
    r = nbgrader(course, "release_feedback", AID)
    assert r.returncode == 0, r.stdout + r.stderr
    # where nbgrader fetch_feedback looks for each student's page
    from nbgrader.utils import notebook_hash
    released = {p.name for p in (course.parent / "exchange").rglob("*.html")}
    assert released == {notebook_hash(secret=SECRETS[s], notebook_id=NOTEBOOK) + ".html"
                        for s in ("ann", "ben")}
    # nngrade's own feedback page shows the comment too (the gradebook is the truth)
    r = nngrade("feedback", course, "-a", AID, "--out", course / "nn_feedback")
    assert r.returncode == 0, r.stderr
    page = next(p for p in (course / "nn_feedback").rglob("*.html") if "ben" in str(p))
    assert COMMENT in page.read_text(encoding="utf-8")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_formgrader_opens_every_submission(course):
    pytest.importorskip("jupyter_server")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    port, token = _free_port(), secrets.token_hex(16)
    home = course.parent / "home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime")}
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}",
         "--ip=127.0.0.1", "--allow-root", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={course}",
         "--ServerApp.jpserver_extensions={'nbgrader.server_extensions.formgrader': True}"],
        cwd=course, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        def get(path: str) -> tuple[int, bytes]:
            req = urllib.request.Request(base + path,
                                         headers={"Authorization": f"token {token}"})
            try:
                with urllib.request.urlopen(req, timeout=60) as resp:
                    return resp.status, resp.read()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read()
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None:
                pytest.skip(f"jupyter server did not start: {server.stdout.read()[-2000:]}")
            try:
                status, _ = get("/formgrader/api/status")
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.skip("jupyter server did not answer within 180 s")
            time.sleep(0.5)
        status, body = get(f"/formgrader/api/submitted_notebooks/{AID}/{NOTEBOOK}")
        assert status == 200, body[:2000]
        subs = {s["student"]: s for s in json.loads(body)}
        assert set(subs) == {"ann", "ben"}
        assert subs["ann"]["score"] == full_marks() and subs["ben"]["score"] == 0.0
        for s in subs.values():
            status, page = get(f"/formgrader/submissions/{s['id']}/")
            assert status == 200, page[:2000]
            assert b"No data available" not in page and b"formgrade_404" not in page
            assert s["student"].encode() in page and f"{AID}_q1".encode() in page
        if chromium is None:
            pytest.skip("chromium is not installed: formgrader checked over HTTP only")
        shot = Path("/tmp/formgrader.png")
        shot.unlink(missing_ok=True)
        url = f"{base}/formgrader/submissions/{subs['ben']['id']}/?token={token}"
        r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                            "--hide-scrollbars", "--window-size=1280,1600",
                            f"--user-data-dir={home / 'chromium'}",
                            "--virtual-time-budget=15000", f"--screenshot={shot}", url],
                           capture_output=True, text=True, timeout=HANG_S, env=env)
        if not shot.is_file():
            pytest.skip(f"chromium could not take a screenshot: {r.stderr[-1500:]}")
        assert shot.stat().st_size > 10_000          # a rendered page, not a blank one
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()

"""The gradebook on a real PostgreSQL server, started by the test itself.

A throwaway cluster (``initdb`` + ``pg_ctl``, Debian's ``postgresql``
package, which ``.ci/run`` installs) in a temporary folder, on a free port,
run by an unprivileged user (``postgres`` when the tests run as root).
Grades recorded through :mod:`autograder.gradebook` are read back with
nbgrader's own API; a second store on the same URL sees them (the shared
gradebook of two grading folders).  Skipped, saying why, only where the
server or the driver is not installed.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from autograder import gradebook as gbm
from autograder.protocol import grade_id

from test_gradebook import COURSE, NOTEBOOK, result_of

HANG_S = 120            # a hang detector for the server's start and stop


def _binaries() -> Path | None:
    for name in ("initdb", "pg_ctl"):
        if shutil.which(name) is None:
            break
    else:
        return Path(shutil.which("initdb")).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pg_url():
    pytest.importorskip("psycopg", reason="PostgreSQL driver not installed "
                                          "(pip install '.[postgres]')")
    bindir = _binaries()
    if bindir is None:
        pytest.skip("PostgreSQL server not installed (Debian: apt-get install postgresql; "
                    ".ci/run does it)")
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="nngrade-pg-"))
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and no unprivileged 'postgres' user to run the server")
        os.chmod(folder, 0o755)
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", _free_port()

    def run(*cmd):
        return subprocess.run([*as_user, *map(str, cmd)], capture_output=True, text=True,
                              timeout=HANG_S)
    init = run(bindir / "initdb", "-D", data, "-A", "trust", "-U", "nngrade", "--no-sync")
    assert init.returncode == 0, init.stderr
    start = run(bindir / "pg_ctl", "-D", data, "-l", folder / "log", "-w", "-t", HANG_S,
                "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off",
                "start")
    assert start.returncode == 0, start.stderr + (folder / "log").read_text(errors="replace")
    try:
        import psycopg
        with psycopg.connect(f"host=127.0.0.1 port={port} user=nngrade dbname=postgres",
                             autocommit=True) as con:
            con.execute("CREATE DATABASE gradebook")
        yield f"postgresql+psycopg://nngrade@127.0.0.1:{port}/gradebook"
    finally:
        run(bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def test_grades_on_postgresql_read_back_by_nbgrader(pg_url):
    from nbgrader.api import Gradebook
    right, sign = result_of("alice", "right"), result_of("bob", "sign")
    with gbm.GradebookStore(pg_url) as store:
        assert store.record_many(COURSE, [right, sign]) == [True, True]
        assert store.record(COURSE, right) is False          # idempotent
    with Gradebook(pg_url) as gb:                            # nbgrader's own API
        assert gb.find_submission("A4", "alice").score == pytest.approx(COURSE.max_score("A4"))
        for qid, (score, _) in sign.totals().items():
            assert gb.find_grade(grade_id(qid), NOTEBOOK, "A4", "bob").auto_score == \
                pytest.approx(score)
    # another folder pointed at the same server sees the same results
    with gbm.GradebookStore(pg_url, create=False) as store:
        assert {r.student: r.score for r in store.load_results("A4")} == \
            {"alice": right.score, "bob": sign.score}
        assert store.graded("A4", "bob")


@pytest.mark.parametrize("url", ["postgresql+psycopg://u@127.0.0.1:1/x",
                                 "postgresql+psycopg2://u@127.0.0.1:1/x",
                                 "postgresql+pg8000://u@127.0.0.1:1/x"])
def test_missing_driver_names_the_install_command(url):
    import importlib.util
    driver = url.split("+")[1].split(":")[0]
    if importlib.util.find_spec(driver) is not None:
        pytest.skip(f"{driver} is installed here")
    with pytest.raises(gbm.GradebookError, match=rf"needs the database driver {driver}.*pip install"):
        gbm.check_url(url)

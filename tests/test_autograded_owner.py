"""Under plain ``nbgrader autograde`` the hidden test cells run in the
submission's folder, ``autograded/<student>/<assignment>``: ``setup`` takes
the student (and so the variant the hidden tests grade against) from that
folder, not from the notebook's ``STUDENT_ID`` cell, which a copier can set
to a classmate's id.  The expected variants come from the judge's
``variant_of``."""
from __future__ import annotations

from pathlib import Path

import pytest

from autograder import notebook
from autograder.config import load_course
from autograder.judge import variant_of

ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(ROOT / "course.yaml")


@pytest.fixture
def plain_env(monkeypatch):
    """A notebook kernel outside ``nngrade``: no owner or mode from the grader."""
    for name in ("NNGRADE_STUDENT", "NNGRADE_MODE", "JUPYTERHUB_USER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NNGRADE_COURSE", str(ROOT / "course.yaml"))
    yield monkeypatch
    notebook._SESSION = None


def _folder(tmp_path, *parts) -> Path:
    d = tmp_path.joinpath(*parts)
    d.mkdir(parents=True)
    return d


def test_variants_of_the_two_students_differ():
    assert COURSE.variants.mode == "per_student"
    assert variant_of(COURSE, "A3", "alice")[0] != variant_of(COURSE, "A3", "bob")[0]


def test_hidden_tests_use_the_folders_owner_not_the_student_id_cell(plain_env, tmp_path,
                                                                      capsys):
    plain_env.chdir(_folder(tmp_path, "autograded", "alice", "A3"))
    s = notebook.setup("A3", "bob")                  # alice copied bob's notebook
    assert s.student == "alice"
    assert s.params == variant_of(COURSE, "A3", "alice")[0]
    assert s.params != variant_of(COURSE, "A3", "bob")[0]


def test_outside_an_autograded_folder_the_student_id_cell_counts(plain_env, tmp_path,
                                                                  capsys):
    for parts in (("submitted", "alice", "A3"), ("autograded", "alice", "A4"),
                  ("work",)):
        plain_env.chdir(_folder(tmp_path, *parts))
        s = notebook.setup("A3", "bob")
        assert s.student == "bob", parts
        assert s.params == variant_of(COURSE, "A3", "bob")[0]

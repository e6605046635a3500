"""Shared fixtures, and the markers of the fast test loop.

``python -m pytest`` runs everything (what CI runs); ``python -m pytest -m
"not slow"`` is the loop to run while developing (see the README).  A test
is ``slow`` when its file grades whole classes or notebooks in the sandbox,
runs nbgrader or starts a server (listed here, so that a new test in such a
file is slow too), or when it is marked ``@pytest.mark.slow`` itself;
``nbgrader`` and ``browser`` mark what needs those tools.
"""
import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True, scope="module")
def _course_question_folders_stay_in_their_module():
    """A course loaded with ``questions_dir:`` adds its questions to this
    process's registry; a test module's courses must not leak into the next
    module's view of the registry."""
    from autograder import config
    saved = list(config._QUESTION_DIRS)
    yield
    config._QUESTION_DIRS[:] = saved


#: files whose tests grade notebooks or classes end to end, run nbgrader or
#: start servers: seconds each
SLOW_FILES = {"test_notebooks.py", "test_reference_isolation.py", "test_hostile_class.py",
              "test_grading_faults.py", "test_audit.py", "test_cli.py", "test_term.py",
              "test_check_service.py", "test_check_service_scale.py",
              "test_adversarial_notebooks.py",
              "test_gradebook_postgres.py", "test_formgrader.py", "test_gradebook_truth.py",
              "test_sandbox.py", "test_sandbox_cgroups.py", "test_cgroups.py",
              "test_lms_gradescope.py", "test_course_questions.py",
              "test_batchnorm_question.py", "test_autograded_owner.py"}
#: files that run nbgrader itself
NBGRADER_FILES = {"test_notebooks.py", "test_gradebook.py", "test_formgrader.py",
                  "test_gradebook_truth.py", "test_reports.py"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        name = item.path.name
        if name in SLOW_FILES:
            item.add_marker(pytest.mark.slow)
        if name in NBGRADER_FILES:
            item.add_marker(pytest.mark.nbgrader)
        if "chromium" in item.name or "browser" in item.name:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)

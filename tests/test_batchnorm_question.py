"""Batch normalization: nn_core's reference and the course's own question A10
(examples/course_questions, issue 17's proof of docs/adding-a-question.md)."""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder.audit import run_audit
from autograder.config import check_questions, load_course
from nn_core.batchnorm import batchnorm_backward, batchnorm_forward
from nn_core.gradcheck import numerical_gradient_array, rel_error

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "course_questions"


def _batch(seed=0, n=6, D=3):
    rng = np.random.default_rng(seed)
    return (rng.normal(1, 2, (n, D)), rng.uniform(0.5, 2, D), rng.normal(0, 1, D),
            rng.normal(0, 1, (n, D)))


def test_reference_matches_torch_autograd():
    torch = pytest.importorskip("torch")
    x, gamma, beta, dout = _batch()
    y, cache = batchnorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    yt = torch.nn.functional.batch_norm(xt, None, None, gt, bt, training=True, eps=1e-5)
    (yt * torch.tensor(dout)).sum().backward()
    for mine, theirs in ((y, yt.detach()), (dx, xt.grad), (dgamma, gt.grad), (dbeta, bt.grad)):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-10, atol=1e-12)


def test_reference_matches_finite_differences():
    x, gamma, beta, dout = _batch(seed=1, n=4, D=2)
    dx, dgamma, dbeta = batchnorm_backward(dout, batchnorm_forward(x, gamma, beta)[1])
    for arr, grad in ((x, dx), (gamma, dgamma), (beta, dbeta)):
        num = numerical_gradient_array(lambda: batchnorm_forward(x, gamma, beta)[0], arr, dout)
        assert rel_error(grad, num) < 1e-6


def test_bn_question_audit_names_three_mistakes():
    course = load_course(EXAMPLE / "course.yaml")
    check_questions(course)
    rows = run_audit(course, ["A10"], ())
    assert rows and all(r.ok for r in rows), [r for r in rows if not r.ok]
    named = {r.case.split()[0] for r in rows if r.case.startswith("bn_")}
    assert named == {"bn_missing_mean_term", "bn_missing_variance_term",
                     "bn_variance_inconsistent"}


def test_committed_notebook_is_the_generated_one():
    from autograder.nbsource import write
    course = load_course(EXAMPLE / "course.yaml")
    assert write(course, EXAMPLE / "course.yaml", check=True) == {
        "A10": (EXAMPLE / "solutions" / course.assignment("A10").notebook, False)}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox needs Linux")
@pytest.mark.parametrize("edit, score, mistake", [
    (None, 4.0, None),
    (("- g.sum(axis=0) ", ""), 0.0, "bn_missing_mean_term"),
    (("x.var(axis=0) + eps)\n", "x.var(axis=0, ddof=1) + eps)\n"), 0.0,
     "bn_variance_inconsistent")])
def test_bn_notebook_graded_in_sandbox(tmp_path, edit, score, mistake):
    from autograder.grading import grade_notebook
    course = load_course(EXAMPLE / "course.yaml")
    nb = nbformat.read(EXAMPLE / "solutions" / course.assignment("A10").notebook, 4)
    if edit:
        cell = next(c for c in nb.cells if "def batchnorm_backward" in c.source)
        assert edit[0] in cell.source
        cell.source = cell.source.replace(*edit)
    path = tmp_path / "sub.ipynb"
    nbformat.write(nb, path)
    result = grade_notebook(course, "A10", path, "student-1")
    assert result.score == score
    assert result.questions[0].diagnosis == mistake

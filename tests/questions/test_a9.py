"""A9 (autograder/questions/a9.py): extreme learning machines and a ReLU
network that interpolates given points.

* the function parts: a correct implementation written from the lecture
  passes every hidden check, a typical wrong one fails with a message.

A9 has no numeric parts, no catalogued mistakes and no variants.  Expected
values come from plain NumPy written from the lecture (question_impls.py),
never from the question module's own output.
"""
import pytest

from autograder.questions import a9
from question_checks import (check_correct_implementation_passes_every_hidden_check,
                             check_typical_wrong_implementation_fails_with_a_message, fn_parts)

# ---------------------------------------------------------------------------------------
# function parts


@pytest.mark.parametrize("q,part", fn_parts(a9))
def test_correct_implementations_pass_every_hidden_check(q, part):
    check_correct_implementation_passes_every_hidden_check(part)


@pytest.mark.parametrize("q,part", fn_parts(a9))
def test_typical_wrong_implementations_fail_with_a_message(q, part):
    check_typical_wrong_implementation_fails_with_a_message(part)

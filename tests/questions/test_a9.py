"""A9 (autograder/questions/a9.py): extreme learning machines and a ReLU
network that interpolates given points.

* the function parts: a correct implementation written from the lecture
  passes every hidden check, a typical wrong one fails with a message.

A9 has no numeric parts, no catalogued mistakes and no variants.  Expected
values come from plain NumPy written from the lecture (question_impls.py),
never from the question module's own output.
"""

from autograder.questions import a9
from question_checks import standard_tests

# ---------------------------------------------------------------------------------------
# the standard tests (question_checks.standard_tests), then this module's own


globals().update(standard_tests("A9", references=False, mistakes=False, functions=a9))


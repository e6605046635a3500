"""Issue 16, mistakes not named: a close wrong answer is not a rounding.

The mistakes of A2, A4 and A7 that issue 16 added (computed by hand, never by
the question modules) are tested in tests/questions/test_a2.py, test_a4.py
and test_a7.py."""
import numpy as np


def test_a_close_wrong_answer_is_not_called_a_rounding():
    """Only the reference rounded or cut off to few digits is named
    ``too_few_digits``; a wrong answer that happens to lie within a few
    percent is not (it was, once, for a shifted-label mistake in A5.q3)."""
    from autograder.numeric import rounded_digits
    r = np.array([0.123456, -2.71828])
    assert rounded_digits(np.array([0.12, -2.7]), r) == 2
    assert rounded_digits(np.array([0.1234, -2.718]), r) is None   # 4 digits: precise enough
    assert rounded_digits(np.array([0.12, -2.71828]), r) == 2      # one entry rounded
    assert rounded_digits(np.array([0.1249, -2.70]), r) is None    # close, not a rounding
    assert rounded_digits(np.array([0.13, -2.7]), r) is None       # 0.13 is no rounding of r

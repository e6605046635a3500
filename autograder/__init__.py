"""autograder — judges answers to the course's questions (see README)."""

__all__ = ["check_formula", "parse_formula", "FormulaResult", "FormulaError"]


def __getattr__(name: str):
    # imported on first use: the formula checker pulls in SymPy, which the
    # command line (``nngrade``) and the grading pool's parent do not need
    if name in __all__:
        from . import formula
        return getattr(formula, name)
    raise AttributeError(f"module 'autograder' has no attribute {name!r}")

"""autograder — judges answers to the course's questions (see README)."""
from .formula import FormulaError, FormulaResult, check_formula, parse_formula  # noqa: F401

__all__ = ["check_formula", "parse_formula", "FormulaResult", "FormulaError"]

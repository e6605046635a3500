"""What the grader hands out after grading: feedback pages
(:mod:`.feedback`), exports for nbgrader and Gradescope (:mod:`.export`) and
class statistics (:mod:`.stats`).  Each works from
:class:`~autograder.results.AssignmentResult` objects — fresh from the judge
or read back with :meth:`autograder.gradebook.GradebookStore.load_results`.
"""
from .export import (NBGRADER_CSV_COLUMNS, csv_rows, csv_text, gradescope_results, write_csv,
                     write_gradescope)
from .feedback import feedback_path, render_feedback, write_feedback
from .stats import compute_stats, stats_plots, stats_table

__all__ = ["render_feedback", "write_feedback", "feedback_path", "NBGRADER_CSV_COLUMNS",
           "csv_rows", "csv_text", "write_csv", "gradescope_results", "write_gradescope",
           "compute_stats", "stats_table", "stats_plots"]

"""The code the untrusted child runs: this folder holds the only toolkit
files of :mod:`autograder.sandbox` present in the child's root and
importable there (:data:`autograder.sandbox.allowlist.RUNTIME_PREFIXES`).

:mod:`.runtime` runs the notebook's cells, collects the answers and runs
the call plans; :mod:`.wire` writes (and, for the grader, reads) the frames
that carry them out.  Student code can reach and change anything here, so
nothing here may know an answer — the grader trusts none of what comes
back (:mod:`autograder.sandbox.frames` validates it)."""

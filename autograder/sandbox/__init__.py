"""Sandboxed execution of one submitted notebook.

This package only executes code and validates what comes back: it knows
no question, answer, variant or judge (a test checks that none of its
modules imports them).  What to run — the call plans, the child's
context, the limits, the paths to hide — comes from the trusted side,
:mod:`autograder.grading`, which also judges the outcome.

Public API
----------
:func:`run_submission` runs a notebook's code cells in a child process and
returns a :class:`SandboxOutcome` (answers in the protocol's wire form,
function outputs for the call plans, a record per cell, what was lost and
why, and the isolation in force).  :func:`start_shared_zygote`,
:func:`attach`, :func:`shutdown` (stop the zygote), :func:`zygote_info`
and :func:`notebook_imports` manage the pre-warmed zygote.

Layout: :mod:`.run` (one run), :mod:`.attempts` (the attempt loop),
:mod:`.frames` (validating the child's frames), :mod:`.outcome` (the typed
results), :mod:`.client` (the zygote client), :mod:`.zygote` (the zygote
and the per-run supervisor), :mod:`.child_setup` (the child's isolation,
before any student code), :mod:`.allowlist`, :mod:`.cells`,
:mod:`.cgroups`, :mod:`._linux` — all trusted — and :mod:`.child`: the
only code of the toolkit the untrusted child runs and may import.

Threat model
------------
The notebook is hostile.  Its author may try to: spin or sleep forever;
exhaust memory, processes, disk or output; crash or exit the interpreter
(``os._exit``, ``sys.exit``, signals, a segfault, deep recursion); read the
solutions, the gradebook, other submissions, the grader's environment or
memory; write or delete files outside its scratch space; use the network;
signal or trace the grader; dodge the timeout (ignore ``SIGALRM``, ``setsid``
and leave a daemon behind); monkeypatch NumPy, builtins or the toolkit; hand
back objects that lie (``__eq__`` always true, ndarray subclasses,
``__reduce__`` payloads); or forge the data it returns.  The grader (the
parent process, the zygote and the per-run supervisor) is trusted.

What is enforced (Linux; measured on this project's VM, kernel 6.x)
-------------------------------------------------------------------
* **A separate process per run**, forked from a pre-warmed *zygote* (a
  ``python -I`` process started once per grading process, which has
  already imported numpy, sympy, the student runtime of autograder (no
  question, judge or nn_core), IPython's input transformer and
  matplotlib/Agg), so a run starts in milliseconds, without
  a Jupyter kernel.  A grading pool shares one zygote: the parent starts it
  (:func:`~autograder.sandbox.client.start_shared_zygote`) and each worker
  attaches through a control socket that only the pool holds
  (:func:`~autograder.sandbox.client.attach`); no sandboxed child has any
  socket to it.  The zygote gets the run's request as a sealed memfd it
  never reads, so one child can never find another student's notebook in
  the memory it inherits.
* **Namespaces** (``isolation="auto"``, the default): the child is pid 1 of
  a new **pid namespace** (it cannot see, signal or ptrace the grader, and
  ``SIGKILL`` of it kills every process it started — daemons included), in
  a new **network namespace** (no interface but a down loopback), IPC and
  UTS namespaces, and a **mount namespace** whose root (``pivot_root``,
  the old root detached) holds only read-only binds of ``/usr``, ``/etc``,
  the interpreter's directory, its standard library and site-packages (never
  a whole prefix) and, of the ``autograder/`` and ``nn_core/`` package
  directories, only the allowed files (:mod:`.allowlist`), a fresh ``/proc``,
  a ``/dev`` with
  ``null``, ``zero``, ``full``, ``random``, ``urandom`` and a small
  ``/dev/shm``, and ``/scratch``: a private size-limited tmpfs, the only
  writable place, the working directory and ``$HOME``.  The course
  directory, ``solutions/``, ``source/``, ``submitted/``, the gradebook, the
  repository's tests, other scratch directories and the grader's home are
  simply absent (and over-mounted should an allowed path contain them: the
  whole course folder, but for the way to an allowed package inside it).
  As root the grader uses no user namespace and the child then drops to a
  private uid (``UID_BASE + supervisor pid``: never shared by two runs) with
  no supplementary groups; as another user (or as the root of a rootless
  container, whose user namespace maps one uid) it creates a user namespace
  mapping only its own uid, and the child keeps that uid but drops every
  capability (bounding set emptied, securebits locked).  Both set ``no_new_privs``, make the
  child non-dumpable, and set ``PR_SET_PDEATHSIG``.
* **Resource limits** from ``course.yaml``'s ``sandbox:`` section:
  ``RLIMIT_CPU`` (``cpu_seconds``, then SIGKILL one second later),
  ``RLIMIT_AS`` (``memory_mb``: the whole address space, pre-loaded
  interpreter included — about 260 MiB here — but never less than 64 MiB
  above it; a memory bomb gets ``MemoryError``), ``RLIMIT_NPROC``
  (``processes``; threads count; the uid or user namespace is private to the
  run, so the count starts from one), ``RLIMIT_FSIZE`` (``file_kb``, with
  ``SIGXFSZ`` ignored so writes fail with ``EFBIG``), ``RLIMIT_CORE`` 0,
  ``RLIMIT_NOFILE`` 256; the scratch tmpfs holds at most
  ``max(64 MB, 4 * file_kb)``; text output is captured in the child and
  capped at ``output_kb`` (file descriptors 1 and 2 go to ``/dev/null``);
  ``OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=1``; a clean environment (only
  ``PATH``, ``HOME``, ``TMPDIR``, locale, thread counts, matplotlib's Agg
  backend and ``NNGRADE_STUDENT``, ``NNGRADE_MODE=collect``,
  ``NNGRADE_COURSE`` = a copy of ``course.yaml`` in the scratch directory,
  which the runtime does not parse: the student's variant parameters and
  the course's language and assignments, computed by the grader, come with
  the request's context (:func:`autograder.notebook.grading_context`), so that
  ``variants.secret_env`` works without the secret or the grading seed
  entering the child).
* **Nothing outlives the grader**: pool workers and zygotes carry a
  parent-death signal; supervisors watch a lifeline pipe; children are
  pid 1 of their namespace with a parent-death signal.
* **Wall clock**: the supervisor kills the child (and with it its whole
  namespace) at the deadline; the grader backs it up by killing the
  supervisor, whose death kills the child (parent-death signal).
* **A fault costs only what it touched**: each cell's start and end are
  reported as they happen, so when the child dies, times out or breaks the
  result protocol in cell *k* (or while running function part *P*), the run
  is repeated without *k* (or *P*), and so on, all within **twice the
  configured wall limit** in total.  Answers reported after earlier cells
  are kept even if a later cell exhausts the budget.  Cells map to
  questions by grade id (``A3_q2_answer`` → ``A3.q2``).
* **Text is valid, bounded UTF-8**: every string from the child (output,
  errors, answers, feedback parts) is cut to a bound and its lone
  surrogates replaced (:func:`autograder.results.valid_text`); every field
  of every frame is checked for type and range, a bad one is a protocol
  violation of that run.
* **Plain data only**: the child sends frames of JSON + ``.npy``
  (float64, ``allow_pickle=False``) through a pipe; the grader bounds every
  size, parses ``.npy`` headers itself, accepts only finite float64 arrays,
  strings, bools and numbers in the places the protocol expects them, and
  never unpickles or evaluates anything.  Answers are coerced in the child
  by :func:`autograder.numeric.coerce_array` (no student method runs) and
  validated again in the grader; the judging itself — references, tolerance
  checks, NumPy — runs in the grader's process, so monkeypatching anything
  in the child cannot change a verdict, and a lying object is an invalid
  answer.
* **Magics and shell escapes**: IPython's input transformer runs in the
  child; ``get_ipython()`` is a stub on which harmless magics
  (``%matplotlib``, ``%config``, ``%load_ext``, ``%autoreload`` …) do
  nothing, ``%time``/``%timeit`` (and cell forms) run the code once, and
  ``!cmd``, ``%%bash``, ``%run``, ``%pip`` and unknown magics raise
  ``MagicRefused``: that cell's status is ``refused``.
* **Locked cells** are restored from the released source notebook (as
  nbgrader's ``OverwriteCells``), missing ones re-inserted, duplicates run
  once; graded test cells are never run (see :mod:`.cells`).

Fallback
--------
When namespaces are unavailable (old kernel, containers forbidding
``unshare``, non-Linux), ``isolation="auto"`` falls back to **rlimits only**
and says so in ``outcome.isolation`` (``mode: "rlimits-only"`` and the
reason): the limits, the wall-clock kill, a subreaper sweep that kills
every leftover descendant and — when the grader runs as root — a private
uid (whose processes are all killed afterwards) still hold, but the child
can then read whatever that uid can read, use the network, and, when the
grader is not root, signal the grader's processes.  ``isolation=
"namespaces"`` refuses to run without full isolation instead.

Answers stay with the grader (:mod:`.allowlist`): the zygote imports only
the student runtime, the child's root holds only the allowed files of
``autograder/`` and ``nn_core/`` (``public:`` modules per assignment in
``course.yaml``), an import gate refuses every other toolkit module with
a plain ``ModuleNotFoundError`` and notes the attempt
(``result.details["reference_attempts"]``), the child gets the variant's
parameters but no seed, and locked display cells that need reference code
are not run.  In the rlimits-only fallback only the import gate holds (the
package files are readable).  Plain ``nbgrader autograde`` runs hidden
tests in the student's own kernel and gives none of this protection.

Not covered: CPU time spent by the grader itself; side channels (timing); in user-namespace
mode, the grader user's kernel keyring.  Files shipped next to a notebook
are not copied into ``/scratch``.  Linux only (``memfd``, pidfds,
namespaces); Python >= 3.9.
"""
from .cells import NotebookError, load_notebook, prepare_cells, question_of_grade_id
from .client import attach, notebook_imports, shutdown, start_shared_zygote, zygote_info
from .outcome import CellRecord, SandboxError, SandboxOutcome
from .run import run_submission

__all__ = ["run_submission", "SandboxOutcome", "CellRecord", "SandboxError", "shutdown",
           "zygote_info", "start_shared_zygote", "attach", "notebook_imports",
           "NotebookError", "load_notebook", "prepare_cells", "question_of_grade_id"]

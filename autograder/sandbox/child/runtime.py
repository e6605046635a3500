"""What runs inside the sandboxed child, after its isolation is in place:
the notebook's cells, the answer collection and the call plans.

Everything leaves the child through :class:`Channel` as frames of JSON +
``.npy`` (see :mod:`.wire`); the parent trusts none of it.  The messages,
in order::

    {"ev": "setup", ...}                       isolation report (before any student code)
    {"ev": "cell_start", "i": k}               then exactly one
    {"ev": "cell_end", "i": k, "status": "ok" | "error" | "refused", ...}
    {"ev": "answers", "set": {q: {part: wire entry}}}   answers that changed
    {"ev": "attempt", "module": ..., "how": "import" | "open"}   a reach for the
                                               answers (see ..allowlist), before its
                                               cell_end / part_end
    {"ev": "part_start", "key": "A5.q1.forward"}
    {"ev": "part_end", "key": ..., "results": {call id: result}}
    {"ev": "done"}

If the child dies or is killed, the parent knows from the last
``cell_start``/``part_start`` without an end which cell or part did it.
"""
from __future__ import annotations

import builtins
import io
import os
import re
import sys
import time
import types

import numpy as np

from . import wire

__all__ = ["Channel", "Shell", "MagicRefused", "run"]

#: cell outputs kept per cell in the report (characters)
CELL_OUTPUT_CHARS = 2000
ERROR_CHARS = 500


class Channel:
    """Frames to the parent over a pipe (blocking writes)."""

    def __init__(self, fd: int):
        self.fd = fd
        self._write = os.write

    def send(self, header: dict, blobs=()) -> None:
        data = memoryview(wire.encode_frame(header, list(blobs)))
        while data:
            n = self._write(self.fd, data)
            data = data[n:]


class _Sink:
    """Captured text output: at most ``limit`` characters in all."""

    def __init__(self, limit: int):
        self.limit = limit
        self.total = 0
        self.dropped = 0
        self.cell: list[str] = []
        self.cell_len = 0

    def add(self, s: str) -> None:
        room = self.limit - self.total
        if room <= 0:
            self.dropped += len(s)
            return
        if len(s) > room:
            self.dropped += len(s) - room
            s = s[:room]
        self.total += len(s)
        if self.cell_len < CELL_OUTPUT_CHARS:
            self.cell.append(s[:CELL_OUTPUT_CHARS - self.cell_len])
            self.cell_len += len(self.cell[-1])

    def take_cell(self) -> str:
        text = "".join(self.cell)
        self.cell, self.cell_len = [], 0
        return text


class _Stream(io.TextIOBase):
    def __init__(self, sink: _Sink, name: str):
        self._sink, self._name = sink, name

    def write(self, s):
        if type(s) is not str:
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        self._sink.add(s)
        return len(s)

    def writable(self):
        return True

    def flush(self):
        pass

    def isatty(self):
        return False

    @property
    def encoding(self):
        return "utf-8"

    @property
    def name(self):
        return f"<{self._name}>"


class MagicRefused(Exception):
    """A shell escape or magic the grader does not run."""


#: line magics that do nothing under the grader
NOOP_LINE_MAGICS = frozenset({
    "matplotlib", "config", "load_ext", "reload_ext", "unload_ext", "autoreload", "aimport",
    "precision", "pinfo", "pinfo2", "pdoc", "pdef", "psource", "pfile", "who", "whos",
    "who_ls", "lsmagic", "magic", "xmode", "colors", "pprint", "history", "autosave",
    "autocall", "automagic", "notebook", "page", "quickref", "doctest_mode", "reset",
    "reset_selective", "alias_magic", "tb", "pdb", "debug", "qtconsole", "connect_info",
    "killbgscripts", "recall", "rerun", "save", "store", "unalias", "rehashx",
})
#: cell magics whose body is plain Python, run once
RUN_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})
#: cell magics that only display something
NOOP_CELL_MAGICS = frozenset({"javascript", "js", "html", "markdown", "latex", "svg"})


class Shell:
    """The ``get_ipython()`` a notebook sees under the grader.

    IPython's input transformer turns ``%magic``, ``%%magic``, ``!cmd`` and
    ``x = !cmd`` into calls of this object. Harmless magics are no-ops,
    ``%time``/``%timeit`` (and their cell forms) run the code once, and
    everything else — shell escapes, ``%run``, ``%pip``, ``%%bash``,
    ``%%writefile`` … — raises :class:`MagicRefused`, recorded for the cell.
    """

    def __init__(self, user_ns: dict):
        self.user_ns = user_ns
        self.refused: list[str] = []

    def __call__(self):
        return self

    def _refuse(self, what: str):
        what = what.strip()[:200]
        self.refused.append(what)
        raise MagicRefused(f"not allowed under the grader: {what}")

    def _run(self, code: str):
        exec(compile(code, "<magic>", "exec"), self.user_ns)

    def run_line_magic(self, magic_name, line="", _stack_depth=1):
        name, line = str(magic_name), str(line)
        if name in NOOP_LINE_MAGICS:
            return None
        if name == "time":
            return self._run(line)
        if name == "timeit":
            return self._run(_strip_timeit_options(line))
        self._refuse(f"%{name} {line}")

    def run_cell_magic(self, magic_name, line, cell):
        name = str(magic_name)
        if name in RUN_CELL_MAGICS:
            return self._run(str(cell))
        if name in NOOP_CELL_MAGICS:
            return None
        self._refuse(f"%%{name} {line}")

    def magic(self, arg_s=""):
        name, _, line = str(arg_s).lstrip("%").partition(" ")
        return self.run_line_magic(name, line)

    def system(self, cmd="", *args, **kwargs):
        self._refuse(f"!{cmd}")

    def getoutput(self, cmd="", *args, **kwargs):
        self._refuse(f"!{cmd}")

    def run_cell(self, raw_cell="", *args, **kwargs):
        self._refuse("get_ipython().run_cell(...)")

    def ex(self, cmd=""):
        return self._run(str(cmd))

    def ev(self, expr=""):
        return eval(compile(str(expr), "<magic>", "eval"), self.user_ns)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        self._refuse(f"get_ipython().{name}")


_TIMEIT_OPT = re.compile(r"^\s*(?:-[nrp]\s*\d+\s+|-[tcqo]\s+)*")


def _strip_timeit_options(line: str) -> str:
    return _TIMEIT_OPT.sub("", line, count=1)


def _describe(exc: BaseException) -> str:
    try:
        name = type(exc).__name__
        name = name if type(name) is str else "Exception"
    except BaseException:  # noqa: BLE001
        name = "Exception"
    try:
        text = str(exc)
        text = text if type(text) is str else ""
    except BaseException:  # noqa: BLE001
        text = "<the message could not be read>"
    out = f"{name}: {text}" if text else name
    return out[:ERROR_CHARS]


def _transform(tm, source: str) -> str:
    if "%" not in source and "!" not in source and "?" not in source:
        return source                      # nothing IPython-specific: skip the tokenizer
    return tm.transform_cell(source)


def run_cell(source: str, index: int, ns: dict, shell: Shell, tm) -> tuple[str, str | None]:
    try:
        code_text = _transform(tm, source)
        code = compile(code_text, f"<cell {index}>", "exec")
    except BaseException as exc:  # noqa: BLE001 — SyntaxError, MemoryError, RecursionError …
        return "error", _describe(exc)
    try:
        exec(code, ns)
    except MagicRefused as exc:
        return "refused", _describe(exc)
    except BaseException as exc:  # noqa: BLE001 — SystemExit and KeyboardInterrupt too
        return "error", _describe(exc)
    return "ok", None


# -- answers ----------------------------------------------------------------------

class _Answers:
    """Sends the answer variables that changed since the last report."""

    def __init__(self, assignment: str, ns: dict, channel: Channel, names: dict, kinds: dict):
        from ... import protocol
        self.protocol = protocol
        self.assignment, self.ns, self.channel = assignment, ns, channel
        self.names = names            # from the grader: the child holds no question
        self.kinds = {(q, p): k for q, parts in kinds.items() for p, k in parts.items()}
        self.sent: dict[tuple[str, str], bytes] = {}
        self.last_obj: dict[tuple[str, str], object] = {}
        self.all_vars = {var for parts in self.names.values() for var in parts.values()}

    def report(self, final: bool = False) -> None:
        ns = self.ns
        if final:
            collected = self.protocol.collect_answers(ns, self.assignment, self.names,
                                                      self.kinds)
        else:
            if not any(var in ns for var in self.all_vars):
                return
            collected = {}
            for qid, parts in self.names.items():
                for part, var in parts.items():
                    value = ns.get(var)
                    key = (qid, part)
                    if key in self.last_obj and self.last_obj[key] is value and \
                            _immutable(value):
                        continue
                    self.last_obj[key] = value
                    try:
                        entry = self.protocol.to_wire(value, self.kinds[key])
                    except Exception as exc:  # noqa: BLE001
                        entry = {"type": "invalid", "zh": f"无法读取答案：{type(exc).__name__}",
                                 "en": f"the answer could not be read: {type(exc).__name__}"}
                    collected.setdefault(qid, {})[part] = entry
        changed: dict = {}
        blobs: list[bytes] = []
        for qid, parts in collected.items():
            for part, entry in parts.items():
                enc_blobs: list[bytes] = []
                enc = wire.encode(entry, enc_blobs)
                fingerprint = repr(enc).encode() + b"".join(enc_blobs)
                if self.sent.get((qid, part)) == fingerprint:
                    continue
                self.sent[(qid, part)] = fingerprint
                base = len(blobs)
                blobs.extend(enc_blobs)
                if base and type(enc) is dict and type(enc.get("value")) is dict:
                    enc["value"] = {"$a": enc["value"]["$a"] + base}
                changed.setdefault(qid, {})[part] = enc
        if changed or final:
            self.channel.send({"ev": "answers", "set": changed, "final": final}, blobs)


def _immutable(value) -> bool:
    if value is None or type(value) in (str, int, float, bool):
        return True
    sympy = sys.modules.get("sympy")      # a SymPy object means SymPy is loaded
    if sympy is None:
        return False
    try:
        return isinstance(value, sympy.Basic) and type(value).__module__.startswith("sympy")
    except Exception:  # noqa: BLE001
        return False


# -- call plans ----------------------------------------------------------------------

def _fresh(x):
    if type(x) is np.ndarray:
        return np.array(x, dtype=np.float64, copy=True)
    if type(x) is list:
        return [_fresh(v) for v in x]
    return x


def _coerce_output(value):
    from ...numeric import coerce_array
    if type(value) is tuple:
        if len(value) > 64:
            raise ValueError("too many return values")
        return [coerce_array(v) for v in value]
    return coerce_array(value)


def run_plan(ns: dict, plan: list[dict]) -> tuple[dict, list[bytes]]:
    from ...numeric import InvalidAnswer
    results: dict = {}
    blobs: list[bytes] = []
    for call in plan:
        cid, name = call["id"], call["fn"]
        fn = ns.get(name)
        if not callable(fn):
            from ...protocol import not_callable
            results[cid] = not_callable(name, fn)
            continue
        args = [_fresh(a) for a in call["args"]]
        try:
            from ...protocol import call_errstate
            with np.errstate(**call_errstate(call)):
                value = fn(*args)
        except BaseException as exc:  # noqa: BLE001 — the student's exception, as data
            results[cid] = {"ok": False, "error": _describe(exc)}
            continue
        try:
            out = _coerce_output(value)
            arrays = out if type(out) is list else [out]
            if sum(a.size for a in arrays) > wire.MAX_ARRAY_ELEMENTS:
                raise ValueError("the output is too large")
            results[cid] = {"ok": True, "value": wire.encode(out, blobs)}
        except InvalidAnswer as bad:
            results[cid] = {"ok": False, "error": bad.message.en[:ERROR_CHARS]}
        except BaseException as exc:  # noqa: BLE001
            results[cid] = {"ok": False, "error": _describe(exc)}
    return results, blobs


# -- the whole run -------------------------------------------------------------------

def _report_attempts(gate, channel: Channel) -> None:
    for attempt in gate.take() if gate is not None else ():
        channel.send({"ev": "attempt", **attempt})


def run(req: dict, plans: dict, channel: Channel, output_limit: int, gate=None) -> None:
    """Run the cells of ``req``, report answers, run the call plans.
    ``gate``: the :class:`autograder.sandbox.allowlist.Gate` whose noted attempts are reported."""
    from IPython.core.inputtransformer2 import TransformerManager

    from ... import notebook
    notebook.grading_context(req["assignment"], req["student"], req.get("params") or {},
                             req.get("public_seed"), req.get("course"))
    tm = TransformerManager()
    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = builtins
    ns = main.__dict__
    sys.modules["__main__"] = main
    shell = Shell(ns)
    ns["get_ipython"] = shell
    builtins.get_ipython = shell
    sink = _Sink(output_limit)
    out, err = _Stream(sink, "stdout"), _Stream(sink, "stderr")
    answers = _Answers(req["assignment"], ns, channel, req["answer_names"], req["kinds"])
    skip = set(req.get("skip_cells", ()))
    skip_parts = set(req.get("skip_parts", ()))
    monotonic = time.monotonic
    for cell in req["cells"]:
        i = cell["i"]
        if i in skip:
            continue
        channel.send({"ev": "cell_start", "i": i})
        sys.stdout, sys.stderr = out, err
        shell.refused = []
        t = monotonic()
        status, error = run_cell(cell["source"], i, ns, shell, tm)
        seconds = monotonic() - t
        sys.stdout, sys.stderr = out, err
        try:                      # inside the cell: a hostile answer that hangs is the cell's
            answers.report()
        except BaseException as exc:  # noqa: BLE001 — a hostile answer object
            channel.send({"ev": "note", "text": f"answers after cell {i}: {_describe(exc)}"})
        _report_attempts(gate, channel)
        channel.send({"ev": "cell_end", "i": i, "status": status, "error": error,
                      "output": sink.take_cell(), "refused": shell.refused[:10],
                      "seconds": round(seconds, 6)})
    channel.send({"ev": "collect_start"})
    try:
        answers.report(final=True)
    except BaseException as exc:  # noqa: BLE001 — the snapshots already hold the answers
        channel.send({"ev": "note", "text": f"final collection: {_describe(exc)}"})
    for key, plan in plans.items():
        if key in skip_parts:
            continue
        channel.send({"ev": "part_start", "key": key})
        results, blobs = run_plan(ns, plan)
        _report_attempts(gate, channel)
        channel.send({"ev": "part_end", "key": key, "results": results}, blobs)
    channel.send({"ev": "done", "output_dropped": sink.dropped})

"""Mistake mining: the wrong answers many students share that no catalogued
mistake explains, and a catalogue entry that would name them.

Which answers: every part judged ``wrong`` or ``partial`` without a
diagnosis and without carried-forward credit, whose answer the result kept
(:mod:`autograder.recording`).

Clustering — answers are compared **after normalising the variant**, i.e.
each is described relative to the student's *own* reference, by the first
of these *signatures* that fits:

1. a **perturbation of the reference computation** that reproduces it, from
   :func:`perturbations`: the reference's output transposed, negated,
   doubled, halved, multiplied or divided by the batch size n (a missing or
   doubled 1/n), shifted by one index along an axis (off by one); or the
   reference rebuilt from perturbed inputs (a parameter negated,
   transposed, doubled, halved, shifted by one row, two same-shaped
   parameters swapped); or with every activation derivative left out
   (nn_core's :class:`~nn_core.activations.ActivationLayer` passing the
   gradient through).  For a function part the same perturbations act on
   the :class:`~autograder.functions.FnSpec`'s reference and its arguments,
   on the student's own hidden inputs (re-drawn from the variant seed), and
   must reproduce every recorded output;
2. a constant **ratio** to the reference (3 significant digits);
3. a constant **difference** from it (numbers; 3 significant digits);
4. for formulas, **equality as expressions** (:func:`autograder.formula.check_formula`
   against the cluster's first answer, among students with the same reference);
   for numbers, the value itself (rounded to 4 significant digits) among
   students with the same variant.

Clusters of at least ``min_size`` students are reported, largest first,
each with an example answer and, where a perturbation reproduces it, a
**proposed catalogue entry** in the question module's own format: the
``Mistake(id, name=…, hint=…)`` to define after the module's imports (the
hint, the lecture's formula, left for the instructor to write) and how it
binds to the question (``.with_make(…)``, or ``.with_fn(…)`` in the
``FnSpec``).
"""
from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

from ..i18n import Message, msg
from ..results import AssignmentResult

__all__ = ["Perturbation", "Cluster", "mine_mistakes", "perturbations", "signature_of"]

#: parts with these statuses are candidates for mining
WRONG = ("wrong", "partial")


@dataclass(frozen=True)
class Perturbation:
    """One change to the reference computation.

    ``id`` is stable and readable (``"input:roll(Y)"``), ``text`` says what
    it models, ``apply(reference_fn, args)`` returns the perturbed result
    (``reference_fn(args)`` computes the reference from an argument dict or
    list), ``code`` renders it for a proposal from the name of the
    reference call (``"Q3.build(p, None)"``)."""
    id: str
    text: Message
    apply: Callable[[Callable, Any], Any]
    code: Callable[[Callable[[str], str], str], str]
    slug: str


@dataclass
class Cluster:
    """Students whose wrong answers to one question share a signature, in
    the ``parts`` listed (the parts of one question that the same students
    got wrong the same way are one cluster)."""
    question: str
    parts: list[str]
    signature: tuple
    students: list[str]
    example: Any
    example_student: str
    perturbation: Perturbation | None = None
    proposal: str | None = None
    share: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.question}/{', '.join(self.parts)}"


# --------------------------------------------------------------------------
# the library of perturbations

def _map(value, f):
    """``f`` applied to an array, or to each array of a tuple/list of them."""
    if isinstance(value, dict):
        return {k: _map(v, f) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(_map(v, f) for v in value)
    return f(np.asarray(value, dtype=np.float64))


def _out(pid, zh, en, slug, f, expr):
    """An output perturbation; ``expr`` is its code on one array ``v``."""
    return Perturbation(f"output:{pid}", msg(zh, en),
                        lambda ref, args: _map(ref(args), f),
                        lambda call, args: f"OUT({expr}, {call(args)})", slug)


def _T(a):
    return np.swapaxes(a, -1, -2) if a.ndim >= 2 else a


def _roll(axis):
    def f(a):
        return np.roll(a, 1, axis=axis) if a.ndim > axis and a.shape[axis] > 1 else a
    return f


def _output_perturbations(n: int | None) -> list[Perturbation]:
    out = [
        _out("transpose", "结果转置了", "the result transposed", "transposed", _T,
             "np.swapaxes(v, -1, -2) if v.ndim > 1 else v"),
        _out("sign", "符号反了", "the sign flipped", "sign", lambda a: -a, "-v"),
        _out("times2", "多了因子 2", "a factor 2 too large", "factor_2", lambda a: 2 * a, "2 * v"),
        _out("half", "少了因子 2（多了 ½）", "a factor ½ (half the value)", "factor_half",
             lambda a: a / 2, "v / 2"),
        _out("roll0", "沿第 0 轴错位了一个下标", "shifted by one index along axis 0",
             "off_by_one_axis0", _roll(0), "np.roll(v, 1, axis=0)"),
        _out("roll1", "沿第 1 轴错位了一个下标", "shifted by one index along axis 1",
             "off_by_one_axis1", _roll(1), "np.roll(v, 1, axis=1)"),
    ]
    if n and n > 1:
        out += [
            _out("times_n", "漏掉了 1/n（大了 n 倍）", "the 1/n missing (n times too large)",
                 "missing_1_over_n", lambda a: n * a, "N * v"),
            _out("over_n", "1/n 用了两次", "the 1/n applied twice", "double_1_over_n",
                 lambda a: a / n, "v / N"),
        ]
    return out


def _with_args(args, key, f):
    new = dict(args) if isinstance(args, dict) else list(args)
    new[key] = f(np.asarray(args[key], dtype=np.float64))
    return new


def _input_perturbations(args) -> list[Perturbation]:
    """Perturbations of the inputs ``args`` (a dict of parameters or a list
    of a function's arguments) that change at least one array."""
    keys = list(args) if isinstance(args, dict) else list(range(len(args)))
    arrays = {}
    for k in keys:
        try:
            a = np.asarray(args[k], dtype=np.float64)
        except (TypeError, ValueError):
            continue
        if a.size > 1 or (a.size == 1 and a.ndim):
            arrays[k] = a
    is_dict = isinstance(args, dict)
    name = (lambda k: k) if is_dict else (lambda k: f"arg{k}")
    out = []

    def replaced(var, changes: dict) -> str:
        """The argument expression with ``changes`` ({key: code}) applied."""
        if is_dict:
            return "{**%s, %s}" % (var, ", ".join(f"{k!r}: {c}" for k, c in changes.items()))
        cases = " ".join(f"{c} if i == {k} else" for k, c in changes.items())
        return f"[{cases} x for i, x in enumerate({var})]"

    def item(var, k) -> str:
        return f"np.asarray({var}[{k!r}])"

    def add(pid, zh, en, slug, k, f, expr):
        out.append(Perturbation(
            f"input:{pid}({name(k)})", msg(zh.format(p=name(k)), en.format(p=name(k))),
            lambda ref, a, k=k, f=f: ref(_with_args(a, k, f)),
            lambda call, var, k=k, expr=expr: call(
                replaced(var, {k: expr.format(v=item(var, k))})),
            f"{slug}_{name(k)}"))
    for k, a in arrays.items():
        add("negate", "{p} 的符号反了", "{p} with the wrong sign", "negated", k,
            lambda v: -v, "-{v}")
        if a.ndim == 2 and a.shape[0] == a.shape[1] and a.shape[0] > 1:
            add("transpose", "把 {p} 用成了 {p}ᵀ", "{p}ᵀ used for {p}", "transposed", k,
                lambda v: v.T, "{v}.T")
        add("times2", "{p} 多乘了 2", "{p} doubled", "doubled", k, lambda v: 2 * v, "2 * {v}")
        add("half", "{p} 少了一半", "{p} halved", "halved", k, lambda v: v / 2, "{v} / 2")
        if a.ndim >= 1 and a.shape[0] > 1:
            add("roll", "{p} 的下标错位了一行（差 1）", "{p} off by one row (index shifted by one)",
                "off_by_one", k, lambda v: np.roll(v, 1, axis=0), "np.roll({v}, 1, axis=0)")
    names = list(arrays)
    for i, k1 in enumerate(names):
        for k2 in names[i + 1:]:
            if arrays[k1].shape == arrays[k2].shape:
                out.append(Perturbation(
                    f"input:swap({name(k1)},{name(k2)})",
                    msg(f"{name(k1)} 和 {name(k2)} 用反了", f"{name(k1)} and {name(k2)} swapped"),
                    lambda ref, a, k1=k1, k2=k2: ref(_swap(a, k1, k2)),
                    lambda call, var, k1=k1, k2=k2: call(
                        replaced(var, {k1: f"{var}[{k2!r}]", k2: f"{var}[{k1!r}]"})),
                    f"swapped_{name(k1)}_{name(k2)}"))
    return out


def _swap(args, k1, k2):
    new = dict(args) if isinstance(args, dict) else list(args)
    new[k1], new[k2] = args[k2], args[k1]
    return new


@contextlib.contextmanager
def _no_activation_derivative():
    from unittest import mock

    from nn_core.activations import ActivationLayer
    with mock.patch.object(ActivationLayer, "backward",
                           lambda self, dout, cache, need_dx=True: (dout, {})):
        yield


def _internal_perturbations() -> list[Perturbation]:
    def apply(ref, args):
        with _no_activation_derivative():
            return ref(args)
    return [Perturbation(
        "internal:no_activation_derivative",
        msg("漏掉了激活函数的导数（梯度直接穿过激活层）",
            "the activation derivative left out (the gradient passed straight through)"),
        apply, lambda call, var: f"WITHOUT_ACTIVATION_DERIVATIVE(lambda: {call(var)})",
        "missing_activation_derivative")]


def batch_size(args) -> int | None:
    """n for the 1/n perturbations: the rows of the first 2-D array named
    ``X``/``x`` (parameters) or of the first 2-D argument (a function)."""
    if isinstance(args, dict):
        for k in ("X", "x"):
            a = np.asarray(args.get(k, []), dtype=float) if k in args else None
            if a is not None and a.ndim == 2:
                return a.shape[0]
        return None
    for a in args:
        try:
            arr = np.asarray(a, dtype=float)
        except (TypeError, ValueError):
            continue
        if arr.ndim == 2:
            return arr.shape[0]
    return None


def perturbations(args) -> list[Perturbation]:
    """The library for a computation on ``args`` (see the module docstring)."""
    return _output_perturbations(batch_size(args)) + _input_perturbations(args) + \
        _internal_perturbations()


# --------------------------------------------------------------------------
# comparing

def _close(a, b, rtol=1e-4, atol=1e-6) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and \
            any(isinstance(x, (list, tuple)) or np.ndim(x) > 0 for x in b) and \
            len(a) == len(b) and _is_structured(b):
        return all(_close(x, y, rtol, atol) for x, y in zip(a, b))
    try:
        x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        return False
    if x.shape != y.shape:
        if x.size == y.size == 1:
            x, y = x.reshape(()), y.reshape(())
        else:
            return False
    scale = atol + 1e-6 * (np.abs(y).max() if y.size else 0)
    return bool(np.all(np.isfinite(x)) and np.allclose(x, y, rtol=rtol, atol=scale))


def _is_structured(b) -> bool:
    """``b`` is a tuple of separate outputs (arrays of different shapes), not one array."""
    if isinstance(b, tuple):
        return True
    try:
        np.asarray(b, dtype=float)
        return False
    except (TypeError, ValueError):
        return True


def _sig3(x: float) -> float:
    return float(f"{x:.3g}")


def _relation(answer, reference) -> tuple | None:
    """``("ratio", c)`` or ``("difference", d)`` when the answer is the
    reference times / plus a constant (3 significant digits)."""
    try:
        a, r = np.asarray(answer, dtype=float), np.asarray(reference, dtype=float)
    except (TypeError, ValueError):
        return None
    if a.shape != r.shape or not a.size or not np.all(np.isfinite(a)):
        return None
    nz = np.abs(r) > 1e-12
    if nz.any() and not np.any(np.abs(a[~nz]) > 1e-9):
        ratios = a[nz] / r[nz]
        if np.allclose(ratios, ratios[0], rtol=1e-4, atol=1e-9) and abs(ratios[0] - 1) > 1e-4:
            return ("ratio", _sig3(ratios[0]))
    diff = a - r
    if a.size > 1 and np.allclose(diff, diff.flat[0], rtol=1e-4, atol=1e-9):
        return ("difference", _sig3(diff.flat[0]))
    return None


def _matching(library, reference_fn, args, answers: list, wanted: list) -> Perturbation | None:
    """The first perturbation whose result, for every ``wanted`` key,
    equals the student's answer."""
    for pert in library:
        try:
            with np.errstate(all="ignore"):
                got = pert.apply(reference_fn, args)
            if all(_close(ans, got[key]) for key, ans in zip(wanted, answers)):
                if not all(_close(ans, reference_fn(args)[key]) for key, ans in zip(wanted, answers)):
                    return pert
        except Exception:  # noqa: BLE001 - a perturbation that does not apply here
            continue
    return None


# --------------------------------------------------------------------------
# one answer's signature

def _num_signature(q, part_name: str, answer, params: dict):
    def ref(p):
        return q.build(p, None)
    reference = q.reference(params)[part_name]
    pert = _matching(perturbations(params), ref, params, [answer], [part_name])
    if pert is not None:
        return ("perturbation", pert.id), pert
    rel = _relation(answer, reference)
    if rel is not None:
        return rel, None
    try:
        arr = np.asarray(answer, dtype=float)
        rounded = tuple(float(f"{v:.4g}") for v in arr.ravel())
    except (TypeError, ValueError):
        return None, None
    return ("value", json.dumps(params, sort_keys=True, default=str), arr.shape, rounded), None


def _fn_signature(spec, outputs: dict, seed: int):
    from ..functions import plan_calls
    plan = [c for c in plan_calls(spec, np.random.default_rng(seed))
            if c["fn"] == spec.name and c["id"] in outputs]
    if not plan:
        return None, None
    library: list[Perturbation] | None = None
    found = None
    for call in plan:
        args = call["args"]
        lib = perturbations(args)
        ids = [p.id for p in lib] if library is None else [p.id for p in library]
        lib = [p for p in lib if p.id in ids]
        ref = (lambda a: {0: spec.reference(*a)})
        keep = []
        for pert in lib:
            if _matching([pert], ref, args, [outputs[call["id"]]], [0]) is not None:
                keep.append(pert)
        library = keep
        if not library:
            break
    if library:
        found = library[0]
        return ("perturbation", found.id), found
    rels = set()
    for call in plan:
        ref_out = spec.reference(*call["args"])
        if isinstance(ref_out, tuple):
            return None, None
        rels.add(_relation(outputs[call["id"]], ref_out))
    if len(rels) == 1 and None not in rels and next(iter(rels))[0] == "ratio":
        return next(iter(rels)), None
    return None, None


def signature_of(result: AssignmentResult, qr, params: dict):
    """``(signature, perturbation)`` of one wrong part (``(None, None)``
    when it has none, e.g. no recorded answer)."""
    from ..questions import get_question
    q = get_question(qr.question)
    part = q.part(qr.part)
    d = qr.details
    if part.kind == "fn":
        if "outputs" not in d or result.variant_seed is None or type(result.variant_seed) is not int:
            return None, None
        return _fn_signature(part.fn, d["outputs"], result.variant_seed)
    if "answer" not in d:
        return None, None
    if part.kind == "num":
        return _num_signature(q, qr.part, d["answer"], params)
    return ("text", json.dumps(q.reference(params).get(qr.part), default=str)), None


# --------------------------------------------------------------------------
# the class

def _formula_groups(items: list[tuple[str, str]], q, part_name: str) -> list[list[int]]:
    """Indices of ``items`` ((student, answer text)) grouped by equality as expressions."""
    from ..formula import check_formula
    part = q.part(part_name)
    groups: list[list[int]] = []
    for i, (_, text) in enumerate(items):
        for g in groups:
            try:
                same = check_formula(text, items[g[0]][1], list(part.symbols),
                                     domain=part.domain, time_limit=1.0).correct
            except Exception:  # noqa: BLE001 - an unparsable answer joins no group
                same = False
            if same:
                g.append(i)
                break
        else:
            groups.append([i])
    return groups


#: helpers a proposal may use, to paste into the question's module with it
PROPOSAL_HELPERS = {
    "OUT(": "def OUT(f_of_v, value):  # apply to the array, each array of a tuple, each dict entry\n"
            "    ...",
    "WITHOUT_ACTIVATION_DERIVATIVE(": "from unittest import mock; from nn_core.activations import "
                                      "ActivationLayer\n"
                                      "def WITHOUT_ACTIVATION_DERIVATIVE(compute):\n"
                                      "    with mock.patch.object(ActivationLayer, 'backward', "
                                      "lambda self, dout, cache, need_dx=True: (dout, {})):\n"
                                      "        return compute()",
}


def _proposal(q, parts: list[str], pert: Perturbation, n_students: int) -> str:
    """A catalogue entry for ``pert`` in the question module's own format:
    the ``Mistake`` (id, name, a hint to write) to define after the module's
    imports, and its binding to the question (``.with_make`` in its
    ``mistakes``, or ``.with_fn`` in the function part's ``FnSpec``)."""
    mid = f"{q.local_id}_{pert.slug}".lower()
    const = mid.upper()
    part = q.part(parts[0])
    keep = f"k == {parts[0]!r}" if len(parts) == 1 else f"k in {tuple(parts)!r}"
    module = f"autograder/questions/{q.assignment.lower()}{'*' if part.kind == 'fn' else ''}.py"
    lines = [f"# {module}, after the imports ({n_students} students)",
             f'{const} = Mistake("{mid}", '
             f'name=msg("{pert.text.zh}", "{pert.text.en[:1].upper()}{pert.text.en[1:]}"), '
             f'hint=msg("……（讲义中的公式）", "… (the lecture\'s formula)"))']
    if part.kind == "fn":
        ref = part.fn.reference.__name__
        body = pert.code(lambda args: f"{ref}(*{args})", "a")
        lines += [f"# {module}: FnSpec({part.fn.name!r}, …, mistakes=(…,",
                  f'{const}.with_fn(lambda *a: {body}),']
    else:
        body = pert.code(lambda args: f"Q{q.local_id[1:]}.build({args}, None)", "p")
        lines += [f"# {module}: {q.id}, mistakes=(…,",
                  f'{const}.with_make(lambda p: {{k: v for k, v in {body}.items() '
                  f'if {keep}}}),'.replace("OUT(", "OUT(lambda v: ")]
    if part.kind == "fn":
        lines[-1] = lines[-1].replace("OUT(", "OUT(lambda v: ")
    if "N *" in lines[-1] or "/ N" in lines[-1]:
        lines.append("# N: the batch size (the rows of X)")
    for key, helper in PROPOSAL_HELPERS.items():
        if key in lines[-1]:
            lines.append("# with: " + helper.replace("\n", "\n# "))
    return "\n".join(lines)


def mine_mistakes(results: Iterable[AssignmentResult], course=None, *, min_size: int = 3,
                  params_of: Callable[[AssignmentResult], dict] | None = None) -> list[Cluster]:
    """The clusters of uncatalogued wrong answers (see the module docstring),
    largest first."""
    from ..questions import get_question
    from .analysis import params_of as course_params
    results = sorted(results, key=lambda r: r.student)
    n = len(results)
    get_params = params_of or (lambda r: course_params(course, r) if course is not None else {})
    params = {r.student: get_params(r) for r in results}
    buckets: dict[tuple, list] = {}
    formulas: dict[tuple, list] = {}
    for r in results:
        for qr in r.questions:
            if qr.part is None or qr.status not in WRONG or qr.diagnosis or qr.carried_forward:
                continue
            try:
                q = get_question(qr.question)
                kind = q.part(qr.part).kind
            except KeyError:
                continue
            if kind in ("sym", "order") and "answer" in qr.details:
                ref = json.dumps(q.reference(params[r.student]).get(qr.part), default=str)
                formulas.setdefault((qr.question, qr.part, ref), []).append(
                    (r.student, qr.details["answer"]))
                continue
            try:
                sig, pert = signature_of(r, qr, params[r.student])
            except Exception:  # noqa: BLE001 - a reference that cannot be rebuilt: no signature
                continue
            if sig is None:
                continue
            example = qr.details.get("answer", qr.details.get("outputs"))
            buckets.setdefault((qr.question, qr.part, sig), []).append((r.student, example, pert))
    merged: dict[tuple, dict] = {}
    for (qid, part, sig), members in buckets.items():
        students = tuple(sorted({m[0] for m in members}))
        if len(students) < min_size:
            continue
        entry = merged.setdefault((qid, sig, students), {"parts": [], "members": members})
        entry["parts"].append(part)
    clusters: list[Cluster] = []
    for (qid, sig, students), entry in merged.items():
        members, q = entry["members"], get_question(qid)
        order = [p.name for p in q.parts]
        parts = sorted(entry["parts"], key=order.index)
        pert = members[0][2]
        clusters.append(Cluster(qid, parts, sig, list(students), members[0][1], members[0][0],
                                pert, _proposal(q, parts, pert, len(students)) if pert else None,
                                len(students) / n if n else 0.0))
    for (qid, part, _), items in formulas.items():
        q = get_question(qid)
        for g in _formula_groups(items, q, part):
            if len(g) >= min_size:
                students = sorted(items[i][0] for i in g)
                clusters.append(Cluster(qid, [part], ("expression", items[g[0]][1]), students,
                                        items[g[0]][1], items[g[0]][0], None, None,
                                        len(students) / n))
    clusters.sort(key=lambda c: (-len(c.students), c.question, c.parts))
    return clusters

"""Item analysis: how each part and each question of an assignment behaved.

For every part (``"A5.q3/dW1"``) and every question (its parts summed),
over the students of one assignment:

* ``difficulty`` — the mean credit as a fraction of the points (1 = all
  full marks; classical test theory's *p*);
* ``discrimination`` — the point-biserial (Pearson) correlation of the
  item's credit with the **rest** of the assignment (the total without this
  item, so an item is not correlated with itself); ``None`` when either
  does not vary;
* ``upper_lower`` — the 27 % index: the mean credit of the students whose
  rest score is in the top 27 % minus that of the bottom 27 %
  (``k = max(1, round(0.27 n))`` students each, ties broken by student id);
* ``blank`` — the share of students with no answer (status ``missing``;
  for a question, every part missing), ``carried`` — the share earning
  carried-forward credit, ``mistakes`` — ``{mistake id: share}``;
* ``variant`` — for per-student variants, whether a **range of a variant
  parameter** makes the part easier: every numeric parameter entry that
  varies in the class (``W1[0,1]``; ``len(X)`` when a parameter's size
  varies) splits the class at its median into a low and a high group; the
  share of full marks in each group is compared with Fisher's exact test.
  The strongest split is reported; it is *flagged* when its two-sided
  p-value is below ``alpha / (number of parameters tried)`` (Bonferroni)
  and the shares differ by at least ``min_gap``.

Plain data classes; :func:`item_analysis` computes them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from ..results import AssignmentResult

__all__ = ["ItemStats", "VariantEffect", "item_analysis", "variant_features",
           "fisher_exact", "params_of"]

UPPER_LOWER_SHARE = 0.27


@dataclass(frozen=True)
class VariantEffect:
    """The strongest parameter split of one part: ``feature <= threshold``
    (``low``) against ``> threshold`` (``high``), the share of full marks in
    each, the group sizes, Fisher's p-value and whether it is flagged."""
    feature: str
    threshold: float
    low_share: float
    high_share: float
    low_n: int
    high_n: int
    p_value: float
    flagged: bool

    @property
    def easier(self) -> str:
        """``"low"`` or ``"high"``: the range where the part is easier."""
        return "low" if self.low_share > self.high_share else "high"


@dataclass
class ItemStats:
    """One part (``part`` set) or one question (``part`` None) across the class."""
    question: str
    part: str | None
    max_score: float
    n: int
    difficulty: float
    discrimination: float | None
    upper_lower: float | None
    blank: float
    carried: float
    mistakes: dict[str, float] = field(default_factory=dict)
    variant: VariantEffect | None = None

    @property
    def label(self) -> str:
        return f"{self.question}/{self.part}" if self.part else self.question


def _corr(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def _upper_lower(credit: np.ndarray, rest: np.ndarray, students: list[str]) -> float | None:
    n = len(credit)
    if n < 4:
        return None
    k = max(1, round(UPPER_LOWER_SHARE * n))
    order = sorted(range(n), key=lambda i: (rest[i], students[i]))
    return float(np.mean(credit[order[-k:]]) - np.mean(credit[order[:k]]))


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p-value of Fisher's exact test for the table ``[[a, b], [c, d]]``
    (the sum of the hypergeometric probabilities no larger than the observed one)."""
    row1, col1, n = a + b, a + c, a + b + c + d

    def prob(x: int) -> float:
        return math.comb(col1, x) * math.comb(n - col1, row1 - x) / math.comb(n, row1)
    observed = prob(a)
    lo, hi = max(0, row1 - (n - col1)), min(row1, col1)
    return min(1.0, sum(p for x in range(lo, hi + 1)
                        if (p := prob(x)) <= observed * (1 + 1e-9)))


def params_of(course, result: AssignmentResult) -> dict:
    """The variant parameters ``result``'s student was judged on."""
    from ..judge import variant_of
    params, _ = variant_of(course, result.assignment, result.student or None)
    return params


def _flatten(params, prefix: str = "") -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    if isinstance(params, dict):
        for k, v in params.items():
            out.update(_flatten(v, f"{prefix}{k}." if isinstance(v, dict) else f"{prefix}{k}"))
        return out
    try:
        arr = np.asarray(params, dtype=np.float64)
    except (TypeError, ValueError):
        return out
    out[prefix.rstrip(".")] = arr
    return out


def variant_features(all_params: list[dict]) -> dict[str, np.ndarray]:
    """``{feature name: one value per student}`` for every numeric parameter
    entry that varies in the class (see the module docstring)."""
    flat = [_flatten(p) for p in all_params]
    names = sorted(set().union(*flat)) if flat else []
    out: dict[str, np.ndarray] = {}
    for name in names:
        arrays = [f.get(name) for f in flat]
        if any(a is None for a in arrays):
            continue
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            sizes = np.array([a.shape[0] if a.ndim else 1 for a in arrays], dtype=float)
            if np.ptp(sizes) > 0:
                out[f"len({name})"] = sizes
            continue
        (shape,) = shapes
        for idx in np.ndindex(shape):
            values = np.array([a[idx] for a in arrays], dtype=float)
            if np.ptp(values) > 0:
                key = name + (f"[{','.join(map(str, idx))}]" if idx else "")
                out[key] = values
    return out


def _variant_effect(full: np.ndarray, features: dict[str, np.ndarray], alpha: float,
                    min_gap: float, min_group: int) -> VariantEffect | None:
    best = None
    for name, values in features.items():
        threshold = float(np.median(values))
        low = values <= threshold
        if low.sum() < min_group or (~low).sum() < min_group:
            continue
        a, b = int(full[low].sum()), int((~full[low]).sum())
        c, d = int(full[~low].sum()), int((~full[~low]).sum())
        p = fisher_exact(a, b, c, d)
        effect = VariantEffect(name, threshold, a / (a + b), c / (c + d), a + b, c + d, p, False)
        if best is None or (p, name) < (best.p_value, best.feature):
            best = effect
    if best is None:
        return None
    flagged = best.p_value < alpha / len(features) and \
        abs(best.low_share - best.high_share) >= min_gap
    return VariantEffect(**{**best.__dict__, "flagged": flagged})


def item_analysis(results: Iterable[AssignmentResult], course=None, *, alpha: float = 0.01,
                  min_gap: float = 0.3, min_group: int = 3) -> list[ItemStats]:
    """Item statistics of one assignment's ``results``: the parts of each
    question, then the question, in the order the results list them.
    ``course`` (for the students' variants) enables the variant analysis."""
    results = sorted(results, key=lambda r: r.student)
    if not results:
        return []
    if len({r.assignment for r in results}) > 1:
        raise ValueError("item_analysis takes the results of one assignment")
    students = [r.student for r in results]
    totals = np.array([r.score for r in results])
    labels: list[tuple[str, str | None]] = []
    for r in results:
        for q in r.questions:
            if (q.question, q.part) not in labels:
                labels.append((q.question, q.part))
    features = {}
    if course is not None:
        features = variant_features([params_of(course, r) for r in results])
    by_label = [{(q.question, q.part): q for q in r.questions} for r in results]
    out: list[ItemStats] = []

    def stats(question, part, picks) -> ItemStats:
        """``picks[i]``: the student's QuestionResults for this item."""
        n = len(results)
        score = np.array([sum(q.score for q in qs) for qs in picks])
        maxes = [sum(q.max_score for q in qs) for qs in picks if qs]
        max_score = max(maxes) if maxes else 0.0
        credit = score / max_score if max_score else np.zeros(n)
        rest = totals - score
        mistakes: dict[str, float] = {}
        for qs in picks:
            for m in sorted({q.diagnosis for q in qs if q.diagnosis}):
                mistakes[m] = mistakes.get(m, 0.0) + 1 / n
        full = np.array([bool(qs) and all(q.full_marks for q in qs) for qs in picks])
        variant = _variant_effect(full, features, alpha, min_gap, min_group) \
            if features and part is not None else None
        return ItemStats(
            question=question, part=part, max_score=max_score, n=n,
            difficulty=float(credit.mean()), discrimination=_corr(credit, rest),
            upper_lower=_upper_lower(credit, rest, students),
            blank=float(np.mean([not qs or all(q.status == "missing" for q in qs)
                                 for qs in picks])),
            carried=float(np.mean([any(q.carried_forward for q in qs) for qs in picks])),
            mistakes=dict(sorted(mistakes.items(), key=lambda kv: (-kv[1], kv[0]))),
            variant=variant)

    for question in dict.fromkeys(q for q, _ in labels):
        parts = [p for q, p in labels if q == question]
        for part in parts:
            picks = [[m[(question, part)]] if (question, part) in m else [] for m in by_label]
            out.append(stats(question, part, picks))
        if parts != [None]:
            picks = [[m[(question, p)] for p in parts if (question, p) in m] for m in by_label]
            out.append(stats(question, None, picks))
    return out

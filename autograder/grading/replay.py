"""Serving the function outputs recorded in the sandbox to the judge."""
from __future__ import annotations

__all__ = ["ReplayRunner"]


class _PartReplay:
    def __init__(self, results: dict, key: str, reason: str | None):
        self.results, self.key, self.reason = results, key, reason

    def run(self, plan: list[dict]) -> dict:
        missing = self.reason or "no result recorded for this call"
        return {c["id"]: self.results[c["id"]] if c["id"] in self.results
                else {"ok": False, "error": missing} for c in plan}


class ReplayRunner:
    """Serves results recorded in the sandbox to the judge.

    ``fn_results``: ``{part key: {call id: {"ok": True, "value": …} |
    {"ok": False, "error": str}}}``; ``reasons``: optional ``{part key:
    why it has no results}`` used as the error of its calls.
    :meth:`for_part` gives the per-part runner the judge asks for."""

    def __init__(self, fn_results: dict, reasons: dict | None = None):
        self.fn_results = fn_results or {}
        self.reasons = reasons or {}

    def for_part(self, key: str) -> _PartReplay:
        return _PartReplay(self.fn_results.get(key, {}), key, self.reasons.get(key))

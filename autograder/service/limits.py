"""Abuse limits of the check service, and the refusals they produce.

* :class:`Limits` — the knobs (``nngrade serve`` options): requests per
  minute per student (a token bucket with a burst), one request in flight
  per student, the largest request body, the CPU and wall time of one
  function check, and the worker pools (function checks have their own,
  so a slow or hostile function never delays a numeric check, and run at
  the lower CPU priority ``fn_nice``, see :mod:`.priority`).
* :class:`RateLimiter` — the per-student token bucket.
* :class:`ServiceError` — a refusal: an HTTP status and a bilingual
  message (``{"error": reason, "zh": …, "en": …, "message": …}``).
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

from ..i18n import msg

__all__ = ["Limits", "RateLimiter", "take_token", "ServiceError", "too_large", "rate_limited", "busy"]


@dataclass
class Limits:
    """See the module docstring; all per student unless said otherwise."""
    per_minute: float = 60.0          # sustained checks per minute
    burst: int = 20                   # checks allowed back to back
    max_body_kb: int = 256            # largest request body
    max_cells: int = 500              # cells of source sent with a function check
    fn_cpu_seconds: float = 10.0      # CPU of one function check (sandbox RLIMIT_CPU)
    fn_wall_seconds: float = 20.0     # its wall clock
    # function checks wait for their sandbox child most of the time (its start,
    # its cgroup): one per core keeps the cores busy; the child processes are
    # CPU-capped, and numeric and formula checks have pools of their own
    fn_workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 2))
    judge_workers: int = field(default_factory=lambda: max(2, os.cpu_count() or 2))
    formula_workers: int = field(default_factory=lambda: max(2, os.cpu_count() or 2))
    fn_queue: int = 64                # function checks waiting, all students: more is 503
    # CPU priority of function checks (nice, 0..19; see .priority): 10 gives
    # them ~1/10 of a numeric or formula check's weight while both wait
    fn_nice: int = 10

    @property
    def max_body_bytes(self) -> int:
        return self.max_body_kb * 1024


class ServiceError(Exception):
    """A refused request: ``status`` (HTTP), ``reason`` (a short key) and a
    bilingual message; ``retry_after`` seconds for 429/503."""

    def __init__(self, status: int, reason: str, zh: str, en: str,
                 retry_after: float | None = None):
        super().__init__(en)
        self.status, self.reason, self.message = status, reason, msg(zh, en)
        self.retry_after = retry_after

    def body(self, language: str = "zh+en") -> dict:
        return {"error": self.reason, "zh": self.message.zh, "en": self.message.en,
                "message": self.message.render(language)}


def too_large(limit_bytes: int) -> ServiceError:
    kb = limit_bytes // 1024
    return ServiceError(413, "payload_too_large",
                        f"请求过大：检查服务最多接受 {kb} KiB。请删去输出很大的单元格或大数组后重试。",
                        f"The request is too large: the check service accepts at most {kb} KiB. "
                        f"Remove huge cells or arrays and try again.")


def rate_limited(wait: float) -> ServiceError:
    return ServiceError(429, "rate_limited",
                        f"检查太频繁了：请 {wait:.0f} 秒后再试。",
                        f"Too many checks: please try again in {wait:.0f} s.", retry_after=wait)


def busy(reason: str, zh: str, en: str, wait: float = 5.0) -> ServiceError:
    return ServiceError(429 if reason == "in_flight" else 503, reason, zh, en, retry_after=wait)


def take_token(tokens: float, last: float, now: float, rate: float,
               burst: int) -> tuple[float, float]:
    """One token-bucket step: with ``tokens`` at time ``last``, at ``now``
    there are ``min(burst, tokens + (now − last)·rate)``; a check takes one.
    Returns the tokens left and the wait (0.0: granted; else ``(1 − b)/rate``
    seconds)."""
    tokens = min(float(burst), tokens + max(0.0, now - last) * rate)
    if tokens >= 1.0:
        return tokens - 1.0, 0.0
    return tokens, (1.0 - tokens) / rate if rate > 0 else float("inf")


class RateLimiter:
    """A token bucket per key: ``burst`` tokens, refilled at ``per_minute``."""

    def __init__(self, per_minute: float, burst: int, clock=time.monotonic):
        self.rate, self.burst, self.clock = per_minute / 60.0, max(1, int(burst)), clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take a token for ``key``: 0.0 if granted, else seconds to wait."""
        with self._lock:
            now = self.clock()
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens, wait = take_token(tokens, last, now, self.rate, self.burst)
            self._buckets[key] = (tokens, now)
            return wait

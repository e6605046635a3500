"""Process-level tuning for training speed (opt-in, never done on import).

:func:`keep_freed_memory` asks glibc's allocator to keep freed blocks for
reuse instead of returning them to the kernel. NumPy allocates a fresh array
for every intermediate of a training step; with glibc's defaults the large
ones are ``mmap``-ed and unmapped each time, so every step pays a page fault
per 4 KiB touched (measured here at ~2 µs a page — half of a small MLP
step). Keeping the memory makes those arrays come back warm. It changes
nothing numerically and applies to everything in the process, PyTorch
included, so benchmarks that compare the two call it once for both.
"""
from __future__ import annotations

import ctypes
import ctypes.util

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3


def keep_freed_memory(limit_bytes: int = 1 << 30) -> bool:
    """Raise glibc's mmap and trim thresholds to ``limit_bytes``.

    Returns False (and does nothing) where the C library is not glibc.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    ok = mallopt(_M_MMAP_THRESHOLD, min(limit_bytes, 1 << 30))  # glibc caps it near 32 MiB on
    ok &= mallopt(_M_TRIM_THRESHOLD, limit_bytes)               # some builds; 0 means refused
    ok &= mallopt(_M_TOP_PAD, 64 << 20)
    return bool(ok)

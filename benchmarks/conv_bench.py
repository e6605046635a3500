"""Speed of the convolution + max-pooling core against PyTorch CPU.

Workload (A7 scale, MNIST-like): a batch of 64 images ``1×28×28`` (float32)
→ ``Conv2D`` 8 kernels ``3×3`` (stride 1, no padding) → ``2×2`` max pooling,
forward **and** backward, ``∂L/∂x`` included, for a fixed upstream gradient of
the pooled output.

* ``nn_core``: :class:`nn_core.conv.Conv2D` + :class:`nn_core.conv.MaxPool2D`.
* ``torch``: ``torch.nn.functional.conv2d`` + ``max_pool2d`` and an autograd
  ``backward`` on fresh leaf tensors each repetition, with
  ``torch.set_num_threads`` equal to NumPy's BLAS thread count.
* ``naive``: the lecture's formulas as Python loops
  (:func:`nn_core.conv.conv2d_naive`, :func:`nn_core.conv.full_convolution`,
  explicit pooling loops), run on a smaller batch and scaled linearly to the
  full batch.

Timing: warm-up, then ``repeats`` rounds that time nn_core and torch
alternately (the order flips every round, the garbage collector is off);
the reported times are medians per full forward + backward step.

``bench_conv_pool()`` is imported by ``benchmarks/core.py``; run this file
alone to print the numbers.
"""
from __future__ import annotations

import contextlib
import gc
import os
import sys
import time

import numpy as np

try:
    import nn_core  # noqa: F401
except ImportError:  # running from a checkout without an install
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from nn_core.conv import Conv2D, MaxPool2D, conv2d_naive, full_convolution

__all__ = ["bench_conv_pool", "numpy_threads"]


def numpy_threads() -> int:
    """Number of threads NumPy's BLAS uses (threadpoolctl if present, else the CPU count)."""
    try:
        from threadpoolctl import threadpool_info
        counts = [info["num_threads"] for info in threadpool_info()
                  if info.get("user_api") == "blas"]
        if counts:
            return int(max(counts))
    except Exception:  # threadpoolctl missing or unable to inspect
        pass
    return os.cpu_count() or 1


def _blas_threads(threads: int):
    """Context limiting NumPy's BLAS to ``threads`` (no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def _data(batch: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
    W = (rng.standard_normal((8, 1, 3, 3)) / 3).astype(np.float32)
    b = (0.1 * rng.standard_normal(8)).astype(np.float32)
    g = rng.standard_normal((batch, 8, 13, 13)).astype(np.float32)
    return x, W, b, g


def _nn_core_step(x, W, b, g):
    conv = Conv2D(1, 8, 3, W=W, b=b)
    pool = MaxPool2D(2)

    def step():
        z, conv_cache = conv.forward(x)
        _, pool_cache = pool.forward(z)
        dz, _ = pool.backward(g, pool_cache)
        return conv.backward(dz, conv_cache, need_dx=True)

    return step


def _torch_step(x, W, b, g):
    import torch
    import torch.nn.functional as F

    gt = torch.from_numpy(g)

    def step():
        xt = torch.from_numpy(x).requires_grad_()
        Wt = torch.from_numpy(W).requires_grad_()
        bt = torch.from_numpy(b).requires_grad_()
        F.max_pool2d(F.conv2d(xt, Wt, bt), 2).backward(gt)
        return xt.grad, Wt.grad, bt.grad

    return step


def _naive_step(x, W, b, g):
    """Forward + backward with the lecture's formulas as loops (slow reference)."""
    n, C = x.shape[:2]
    Fn = W.shape[0]

    def step():
        # forward: z = Σ_c conv2d_naive(a_c, w_fc) + b_f
        z = np.stack([np.stack([sum(conv2d_naive(x[i, c], W[f, c]) for c in range(C)) + b[f]
                                for f in range(Fn)]) for i in range(n)])
        OH, OW = z.shape[2] // 2, z.shape[3] // 2
        # 2×2 max pooling, backward to the first maximum of each window
        dz = np.zeros_like(z)
        for i in range(n):
            for f in range(Fn):
                for p in range(OH):
                    for q in range(OW):
                        window = z[i, f, 2 * p:2 * p + 2, 2 * q:2 * q + 2]
                        u, v = np.unravel_index(np.argmax(window), window.shape)
                        dz[i, f, 2 * p + u, 2 * q + v] += g[i, f, p, q]
        # backward: dW_fc = Σ_i conv2d_naive(a_ic, δ_if); db_f = Σ δ_f;
        # dx_ic = Σ_f full_convolution(δ_if, w_fc)
        dW = np.array([[sum(conv2d_naive(x[i, c], dz[i, f]) for i in range(n))
                        for c in range(C)] for f in range(Fn)])
        db = dz.sum(axis=(0, 2, 3))
        dx = np.array([[sum(full_convolution(dz[i, f], W[f, c]) for f in range(Fn))
                        for c in range(C)] for i in range(n)])
        return dx, dW, db

    return step


def _time_once(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench_conv_pool(repeats: int = 200, batch: int = 64, naive_batch: int = 4,
                    naive_repeats: int = 3, threads: int | None = None, seed: int = 0) -> dict:
    """Median seconds per forward + backward step of conv(8, 3×3) + 2×2 max pooling.

    Returns ``{"nn_core_s", "torch_s", "naive_s", "conv_pool_vs_torch_f32",
    "threads", "batch"}``; ``naive_s`` is scaled from ``naive_batch`` images to
    ``batch``; the ratio is ``nn_core_s / torch_s`` (≤ 1.5 is the target).
    ``torch_s`` and the ratio are ``None`` when PyTorch is not installed.
    ``threads`` (default: NumPy's BLAS thread count) is used for torch and,
    through threadpoolctl when present, for NumPy's BLAS.
    """
    threads = numpy_threads() if threads is None else int(threads)
    x, W, b, g = _data(batch, seed)
    ours = _nn_core_step(x, W, b, g)
    try:
        import torch
    except ImportError:
        torch = None
    theirs = None
    if torch is not None:
        old_threads = torch.get_num_threads()
        torch.set_num_threads(threads)
        theirs = _torch_step(x, W, b, g)

    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        with _blas_threads(threads):
            for _ in range(max(3, repeats // 10)):            # warm-up
                ours()
                if theirs is not None:
                    theirs()
            t_ours, t_theirs = [], []
            for r in range(repeats):                          # alternate, flip the order
                if theirs is None:
                    t_ours.append(_time_once(ours))
                elif r % 2:
                    t_ours.append(_time_once(ours))
                    t_theirs.append(_time_once(theirs))
                else:
                    t_theirs.append(_time_once(theirs))
                    t_ours.append(_time_once(ours))
            xs, Ws, bs, gs = _data(naive_batch, seed)
            naive = _naive_step(xs, Ws, bs, gs)
            t_naive = [_time_once(naive) for _ in range(naive_repeats)]
    finally:
        if gc_was_enabled:
            gc.enable()
        if torch is not None:
            torch.set_num_threads(old_threads)

    nn_core_s = float(np.median(t_ours))
    torch_s = float(np.median(t_theirs)) if t_theirs else None
    return {
        "nn_core_s": nn_core_s,
        "torch_s": torch_s,
        "naive_s": float(np.median(t_naive)) * batch / naive_batch,
        "conv_pool_vs_torch_f32": (nn_core_s / torch_s) if torch_s else None,
        "threads": threads,
        "batch": batch,
    }


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--naive-repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for NumPy's BLAS and torch (default: NumPy's count)")
    args = parser.parse_args()
    res = bench_conv_pool(repeats=args.repeats, naive_repeats=args.naive_repeats,
                          threads=args.threads)
    for key, val in res.items():
        if isinstance(val, float):
            unit = "" if key.startswith("conv_pool") else " s"
            print(f"{key:>24}: {val:.6g}{unit}")
        else:
            print(f"{key:>24}: {val}")

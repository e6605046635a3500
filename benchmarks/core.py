"""Benchmark of the reference core: ``python benchmarks/core.py``.

Side by side in one run, same thread count, contenders alternated and
medians reported:

* one batched MLP training step (forward + backward + SGD) for 784-500-10
  (ReLU, softmax cross-entropy), batch 100 and 1024, float32 and float64,
  nn_core vs PyTorch CPU doing the same step;
* achieved FLOP/s of that step at B = 1024 (float32, matmul flops actually
  executed, ``2·m·n·k`` each) as a fraction of a plain large matmul;
* the batched path vs the per-sample path (the lecture's loop) at B = 100;
* conv (64×1×28×28 → 8 channels, 3×3) + 2×2 max pooling forward/backward vs
  PyTorch (see ``conv_bench.py``).

Both contenders share this process, its thread count (``BENCH_THREADS``,
default: every core; NumPy's BLAS through threadpoolctl, PyTorch through
``torch.set_num_threads``) and its allocator settings
(:func:`nn_core.runtime.keep_freed_memory`, which both benefit from).

Alternation is in blocks (``BLOCK`` consecutive steps of one contender, then
of the next, round-robin; every step is timed and the median taken). Both
libraries keep their worker threads spinning for a while after a parallel
call (OpenMP in PyTorch, pthreads in OpenBLAS); alternating *every* step
makes each contender run while the other's threads still spin on the same
two cores (measured here once: PyTorch's B=1024 float32 step 11.5 ms alone,
25.7 ms when alternated every step — which flattered nn_core). OpenBLAS's
threads spin (yielding) for ~0.1 s after a call, PyTorch's OpenMP threads
far shorter, so the asymmetry favours NumPy. Hence the turns are separated
by ``GAP`` seconds of sleep (default 0.2 s) and each turn is a block of
steps: a contender always starts with the other's threads asleep, and only
the first step of a block meets a cold cache, which the median ignores.
PyTorch keeps its default OpenMP settings
(``OMP_WAIT_POLICY=PASSIVE`` and ``GOMP_SPINCOUNT=0`` were tried: neither
made it faster alone); the header prints the policy in force.

The matmul rate behind the GEMM fraction is measured in the same
alternation as the B=1024 float32 steps, so both see the same machine.

``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` (set on some machines for old
OpenBLAS builds) slow a current NumPy; if set, this script re-runs itself
once with both removed from its own environment (nothing else is changed)
and prints the OpenBLAS kernel that then runs.

Prints a table and writes ``benchmarks/results/core.json`` whose ``ratios``
holds the headline numbers (time ratios < 1 mean nn_core is faster).
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

_OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
if __name__ == "__main__" and any(k in os.environ for k in _OPENBLAS_OVERRIDES):
    # OpenBLAS reads these when it loads: re-run this process without them
    _env = {k: v for k, v in os.environ.items() if k not in _OPENBLAS_OVERRIDES}
    _env["BENCH_UNSET_OPENBLAS"] = ",".join(k for k in _OPENBLAS_OVERRIDES if k in os.environ)
    os.execve(sys.executable, [sys.executable] + sys.argv, _env)

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from nn_core.models import mlp  # noqa: E402
from nn_core.runtime import keep_freed_memory  # noqa: E402
from nn_core.optim import SGD  # noqa: E402

SIZES = (784, 500, 10)
THREADS = int(os.environ.get("BENCH_THREADS", os.cpu_count() or 1))
BLOCK = int(os.environ.get("BENCH_BLOCK", 5))
GAP = float(os.environ.get("BENCH_GAP", 0.2))


def median_alternating(fns: dict, repeats: int, warmup: int = 3, block: int = 1,
                       gap: float = 0.0) -> dict:
    """Median seconds per call of each function; the contenders take turns,
    ``block`` consecutive calls each per turn, ``repeats`` turns, so that
    machine noise hits every contender alike. Every call is timed. ``gap``
    seconds of sleep before each turn let the previous contender's worker
    threads stop spinning (OpenBLAS spins ~0.1 s after a call)."""
    for _ in range(warmup):
        for f in fns.values():
            f()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            if gap:
                time.sleep(gap)
            for _ in range(block):
                t0 = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def mlp_flops(batch: int, sizes=SIZES) -> int:
    """Matmul flops one step executes: forward ``Z = X Wᵀ`` per layer, backward
    ``dW = dZᵀ A`` per layer and ``dA = dZ W`` for every layer but the first
    (nn_core skips the first layer's ``dX``; PyTorch does too, its input
    needs no gradient). The bias gradient ``dZᵀ 1`` (a matrix-vector product
    in nn_core, 2·B·M_l flops, < 0.1 %) and the elementwise work are not
    counted, so the achieved rate is if anything understated."""
    flops = 0
    for l in range(1, len(sizes)):
        mk = sizes[l - 1] * sizes[l]
        flops += 2 * batch * mk * (2 + (l > 1))
    return flops


def make_problem(batch, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((batch, SIZES[0])).astype(dtype)
    y = rng.integers(0, SIZES[-1], size=batch)
    return X, y


def nn_core_step(batch, dtype, path="gradients"):
    """One SGD step of nn_core; ``path`` is the batched ``"gradients"`` or the
    lecture's loop ``"gradients_per_sample"``."""
    X, y = make_problem(batch, dtype)
    net = mlp(SIZES, activation="relu", rng=np.random.default_rng(0), dtype=dtype)
    opt = SGD(0.01)
    gradients = getattr(net, path)

    def step():
        _, grads = gradients(X, y)
        opt.step(net, grads)
    return step, net


def torch_step(batch, dtype, net):
    import torch
    tdtype = {np.float32: torch.float32, np.float64: torch.float64}[dtype]
    X, y = make_problem(batch, dtype)
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    params = []
    for layer in net.layers:
        if "W" in layer.params:
            params += [torch.tensor(layer.params["W"], dtype=tdtype, requires_grad=True),
                       torch.tensor(layer.params["b"], dtype=tdtype, requires_grad=True)]
    opt = torch.optim.SGD(params, lr=0.01)
    F = torch.nn.functional

    def step():
        opt.zero_grad(set_to_none=True)
        h = X
        for i in range(0, len(params), 2):
            h = F.linear(h, params[i], params[i + 1])
            if i + 2 < len(params):
                h = F.relu(h)
        F.cross_entropy(h, y).backward()
        opt.step()
    return step


MATMUL_N = 2048


def plain_matmul(dtype, n=MATMUL_N):
    """A plain large square matmul ``C = A B`` (``2n³`` flops) into a
    preallocated ``C``: the reference rate of this machine's BLAS."""
    rng = np.random.default_rng(0)
    A = rng.random((n, n)).astype(dtype)
    B = rng.random((n, n)).astype(dtype)
    C = np.empty((n, n), dtype=dtype)
    return lambda: np.matmul(A, B, out=C)


def main() -> dict:
    import torch
    torch.set_num_threads(THREADS)
    # both contenders run in this process, so both get the same allocator
    allocator_tuned = keep_freed_memory()
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
        threadpool_limits(THREADS)
        blas = [(i.get("internal_api"), i.get("architecture"), i.get("num_threads"))
                for i in threadpool_info()]
    except ImportError:  # threadpoolctl comes with scikit-learn
        blas = []
    unset = os.environ.get("BENCH_UNSET_OPENBLAS", "")
    print(f"threads: {THREADS} (NumPy BLAS and torch.set_num_threads); BLAS: "
          f"{', '.join(f'{a} {b} x{c}' for a, b, c in blas) or 'unknown'}; "
          f"{'unset for this run: ' + unset if unset else 'no OPENBLAS_CORETYPE/L2_SIZE override'}; "
          f"freed memory kept by the allocator: {allocator_tuned}")
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"timing: contenders alternate in blocks of {BLOCK} steps after {GAP} s of "
          f"sleep, every step timed, "
          f"medians; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(default)')}; "
          f"load average at start {load}")

    rows, ratios, detail = [], {}, {}
    mm_f32 = plain_matmul(np.float32)
    for dtype, tag in ((np.float32, "f32"), (np.float64, "f64")):
        for batch in (100, 1024):
            ours, net = nn_core_step(batch, dtype)
            theirs = torch_step(batch, dtype, net)
            fns = {"nn_core": ours, "torch": theirs}
            if batch == 1024 and tag == "f32":
                fns["matmul"] = mm_f32     # the reference rate, in the same alternation
            reps = 24 if batch == 100 else 8
            t = median_alternating(fns, reps, block=BLOCK, gap=GAP)
            ratio = t["nn_core"] / t["torch"]
            ratios[f"mlp_step_vs_torch_b{batch}_{tag}"] = ratio
            detail[f"mlp_b{batch}_{tag}"] = {"nn_core": t["nn_core"], "torch": t["torch"],
                                             "flops": mlp_flops(batch)}
            rows.append((f"MLP 784-500-10 step B={batch} {tag}",
                         t["nn_core"], t["torch"], ratio))
            if "matmul" in t:
                peak = 2 * MATMUL_N ** 3 / t["matmul"]

    achieved = mlp_flops(1024) / detail["mlp_b1024_f32"]["nn_core"]
    ratios["gemm_fraction_b1024_f32"] = achieved / peak
    detail["matmul_flops_per_s_f32"] = peak
    detail["matmul_n"] = MATMUL_N
    detail["mlp_step_flops_per_s_b1024_f32"] = achieved
    detail["torch_step_flops_per_s_b1024_f32"] = mlp_flops(1024) / detail["mlp_b1024_f32"]["torch"]

    batched, _ = nn_core_step(100, np.float64)
    looped, _ = nn_core_step(100, np.float64, "gradients_per_sample")
    t = median_alternating({"batched": batched, "per_sample": looped}, 7, warmup=1)
    ratios["batched_vs_per_sample_speedup"] = t["per_sample"] / t["batched"]
    rows.append(("per-sample loop vs batched, B=100 f64", t["batched"], t["per_sample"],
                 t["batched"] / t["per_sample"]))

    from conv_bench import bench_conv_pool
    conv = bench_conv_pool()
    ratios["conv_pool_vs_torch_f32"] = conv["conv_pool_vs_torch_f32"]
    detail["conv_pool"] = conv
    rows.append(("conv 64x1x28x28→8@3x3 + maxpool2 fwd+bwd f32", conv["nn_core_s"],
                 conv["torch_s"], conv["conv_pool_vs_torch_f32"]))

    print(f"{'benchmark':<48} {'nn_core s':>11} {'other s':>11} {'ratio':>7}")
    for name, a, b, r in rows:
        print(f"{name:<48} {a:>11.6f} {b:>11.6f} {r:>7.3f}")
    print(f"float32 matmul rate {peak / 1e9:.1f} GFLOP/s; MLP step B=1024 reaches "
          f"{achieved / 1e9:.1f} GFLOP/s = {ratios['gemm_fraction_b1024_f32']:.1%}")
    print(f"batched path is {ratios['batched_vs_per_sample_speedup']:.0f}x faster than "
          f"the per-sample loop (B=100)")
    result = {"ratios": ratios, "detail": detail, "threads": THREADS, "blas": blas,
              "alternation_block": BLOCK, "alternation_gap_s": GAP,
              "load_average_at_start": load, "openblas_env_unset": unset or None,
              "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
              "allocator_keeps_freed_memory": allocator_tuned,
              "numpy": np.__version__, "torch": torch.__version__,
              "machine": platform.processor() or platform.machine()}
    out = HERE / "results" / "core.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()

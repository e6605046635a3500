"""Benchmark of the reference core: ``python benchmarks/core.py``.

Side by side in one run, same thread count, contenders alternated and
medians reported:

* one batched MLP training step (forward + backward + SGD) for 784-500-10
  (ReLU, softmax cross-entropy), batch 100 and 1024, float32 and float64,
  nn_core vs PyTorch CPU doing the same step;
* achieved FLOP/s of that step at B = 1024 (float32, matmul flops actually
  executed, ``2·m·n·k`` each) as a fraction of a plain large matmul;
* the batched path vs the per-sample path (the lecture's loop) at B = 100;
* two yardsticks in the same alternation, which tell where a gap to PyTorch
  comes from: the same step written by hand in plain NumPy (no layers, no
  checks: what nn_core's abstractions may cost is nn_core ÷ this), and the
  step's five matrix products alone in NumPy and in PyTorch (what the BLAS
  libraries themselves differ by: NumPy's OpenBLAS against PyTorch's MKL);
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

Prints two tables and writes ``benchmarks/results/core.json`` whose ``ratios``
holds the headline numbers (time ratios < 1 mean nn_core is faster) and whose
``yardsticks`` holds, per step size, nn_core ÷ the hand-written NumPy step,
that step ÷ PyTorch, NumPy's products ÷ PyTorch's, the time each step spends
outside its products, and (B = 1024 float32) the share of the matmul rate
that the hand-written step and PyTorch reach.
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


def numpy_minimal_step(batch, dtype, net):
    """The yardstick step: the same forward, backward and SGD update written
    by hand in plain NumPy for 784-500-10 (no layer objects, no input checks,
    no caches), from ``net``'s initial parameters:
    ``Z₁ = X W₁ᵀ + b₁``, ``A₁ = max(Z₁, 0)``, ``Z₂ = A₁ W₂ᵀ + b₂``,
    ``dZ₂ = (softmax(Z₂) − Y)/n``, ``dW₂ = dZ₂ᵀ A₁``, ``dA₁ = dZ₂ W₂``,
    ``dZ₁ = dA₁ ⊙ [Z₁ > 0]``, ``dW₁ = dZ₁ᵀ X``, ``θ ← θ − η dθ``."""
    X, y = make_problem(batch, dtype)
    (W1, b1), (W2, b2) = [(layer.params["W"].copy(), layer.params["b"].copy())
                          for layer in net.layers if "W" in layer.params]
    lr, rows, ones = dtype(0.01), np.arange(batch), np.ones(batch, dtype)

    def step():
        Z1 = X @ W1.T
        Z1 += b1
        A1 = np.maximum(Z1, dtype(0))
        Z2 = A1 @ W2.T.copy()
        Z2 += b2
        Z2 -= Z2.max(axis=1, keepdims=True)
        np.exp(Z2, out=Z2)
        Z2 /= Z2.sum(axis=1, keepdims=True)
        Z2[rows, y] -= 1
        Z2 /= dtype(batch)
        dW2, db2, dA1 = Z2.T @ A1, ones @ Z2, Z2 @ W2
        dA1 *= Z1 > 0
        dW1, db1 = dA1.T @ X, ones @ dA1
        for p, g in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2)):
            p -= lr * g
    return step


def gemms_only(batch, dtype, lib):
    """The step's five matrix products alone (``X W₁ᵀ``, ``A₁ W₂ᵀ``,
    ``dZ₂ᵀ A₁``, ``dZ₂ W₂``, ``dZ₁ᵀ X``) in ``lib`` ("numpy" or "torch"), on
    arrays of the step's shapes: the two BLAS libraries side by side."""
    rng = np.random.default_rng(1)
    n0, n1, n2 = SIZES
    X, A1, dZ1 = (rng.random((batch, n)).astype(dtype) for n in (n0, n1, n1))
    dZ2 = rng.random((batch, n2)).astype(dtype)
    W1, W2 = rng.random((n1, n0)).astype(dtype), rng.random((n2, n1)).astype(dtype)
    if lib == "torch":
        import torch
        X, A1, dZ1, dZ2, W1, W2 = map(torch.from_numpy, (X, A1, dZ1, dZ2, W1, W2))

    def products():
        return X @ W1.T, A1 @ W2.T, dZ2.T @ A1, dZ2 @ W2, dZ1.T @ X
    return products


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

    rows, ratios, detail, yardsticks = [], {}, {}, {}
    mm_f32 = plain_matmul(np.float32)
    for dtype, tag in ((np.float32, "f32"), (np.float64, "f64")):
        for batch in (100, 1024):
            ours, net = nn_core_step(batch, dtype)
            theirs = torch_step(batch, dtype, net)
            fns = {"nn_core": ours, "torch": theirs,
                   "numpy_minimal": numpy_minimal_step(batch, dtype, net),
                   "gemms_numpy": gemms_only(batch, dtype, "numpy"),
                   "gemms_torch": gemms_only(batch, dtype, "torch")}
            if batch == 1024 and tag == "f32":
                fns["matmul"] = mm_f32     # the reference rate, in the same alternation
            reps = 24 if batch == 100 else 8
            t = median_alternating(fns, reps, block=BLOCK, gap=GAP)
            ratio = t["nn_core"] / t["torch"]
            cfg = f"b{batch}_{tag}"
            ratios[f"mlp_step_vs_torch_{cfg}"] = ratio
            detail[f"mlp_{cfg}"] = {**{k: v for k, v in t.items() if k != "matmul"},
                                    "flops": mlp_flops(batch)}
            yardsticks[cfg] = {
                "nn_core_vs_numpy_minimal": t["nn_core"] / t["numpy_minimal"],
                "numpy_minimal_vs_torch": t["numpy_minimal"] / t["torch"],
                "gemms_numpy_vs_torch": t["gemms_numpy"] / t["gemms_torch"],
                "torch_non_gemm_s": t["torch"] - t["gemms_torch"],
                "nn_core_non_gemm_s": t["nn_core"] - t["gemms_numpy"]}
            rows.append((f"MLP 784-500-10 step B={batch} {tag}",
                         t["nn_core"], t["torch"], ratio))
            if "matmul" in t:
                peak = 2 * MATMUL_N ** 3 / t["matmul"]

    achieved = mlp_flops(1024) / detail["mlp_b1024_f32"]["nn_core"]
    ratios["gemm_fraction_b1024_f32"] = achieved / peak
    detail["matmul_flops_per_s_f32"] = peak
    detail["matmul_n"] = MATMUL_N
    detail["mlp_step_flops_per_s_b1024_f32"] = achieved
    for who in ("torch", "numpy_minimal"):
        rate = mlp_flops(1024) / detail["mlp_b1024_f32"][who]
        detail[f"{who}_step_flops_per_s_b1024_f32"] = rate
        yardsticks["b1024_f32"][f"{who}_gemm_fraction"] = rate / peak

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
    print("\nwhere a gap to PyTorch comes from (same alternation; time ratios):")
    print(f"{'step':<12} {'nn_core/minimal':>16} {'minimal/torch':>14} "
          f"{'BLAS numpy/torch':>17} {'non-GEMM ms nn_core':>20} {'torch':>6}")
    for cfg, y in yardsticks.items():
        print(f"{cfg:<12} {y['nn_core_vs_numpy_minimal']:>16.3f} "
              f"{y['numpy_minimal_vs_torch']:>14.3f} {y['gemms_numpy_vs_torch']:>17.3f} "
              f"{y['nn_core_non_gemm_s'] * 1e3:>20.2f} {y['torch_non_gemm_s'] * 1e3:>6.2f}")
    y = yardsticks["b1024_f32"]
    print(f"share of the matmul rate at B=1024 f32: nn_core "
          f"{ratios['gemm_fraction_b1024_f32']:.1%}, hand-written NumPy "
          f"{y['numpy_minimal_gemm_fraction']:.1%}, PyTorch {y['torch_gemm_fraction']:.1%}")
    result = {"ratios": ratios, "yardsticks": yardsticks, "detail": detail,
              "threads": THREADS, "blas": blas,
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

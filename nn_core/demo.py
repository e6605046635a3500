"""The reference network on the bundled handwritten digits: ``python -m nn_core.demo``.

Standardizes the pixels, trains a 64-256-10 ReLU MLP (inverted dropout, keep 0.8) with softmax
cross-entropy by mini-batch Adam, then prints the test accuracy.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from .data import digits, standardize
from .models import mlp
from .optim import Adam
from .train import fit


def main(argv=None) -> float:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    X_train, y_train, X_test, y_test = digits(seed=args.seed)
    X_train, X_test = standardize(X_train, X_test)
    net = mlp([X_train.shape[1], args.hidden, 10], activation="relu", keep=0.8, rng=rng)
    start = time.perf_counter()
    print(f"training 64-{args.hidden}-10 on {len(X_train)} digits for {args.epochs} epochs…",
          flush=True)

    def report(epoch: int, hist) -> None:
        print(f"  epoch {epoch + 1:3d}/{args.epochs}: training loss {hist.loss[-1]:.4f} "
              f"({time.perf_counter() - start:.1f} s)", flush=True)
    hist = fit(net, X_train, y_train, Adam(1e-3, weight_decay=1e-4), args.epochs,
               batch_size=32, rng=rng, progress=report)
    seconds = time.perf_counter() - start
    acc = net.accuracy(X_test, y_test)
    print(f"digits: {len(X_train)} train / {len(X_test)} test samples, "
          f"network 64-{args.hidden}-10 (ReLU, dropout keep 0.8, softmax cross-entropy)")
    print(f"trained {len(hist.loss)} epochs in {seconds:.1f} s, final training loss "
          f"{hist.loss[-1]:.4f}")
    print(f"test accuracy: {acc:.4f}")
    return acc


if __name__ == "__main__":
    main()

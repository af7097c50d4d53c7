"""Operators per second on a 64x64 genome, and firefly_grow's cost in forward+backward passes.

Run: ``.venv/bin/python benchmarks/operators.py`` (one torch thread; about a minute).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

# This file is named like the package it measures: drop its own folder from the
# import path so ``import operators`` finds the package, not this script.
_here = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
sys.path.insert(0, str(_here.parent))

import numpy as np
import torch

torch.set_num_threads(1)

import genomes
from operators import REGISTRY, firefly_grow


def rate(fn, min_time: float = 1.0) -> float:  # type: ignore[no-untyped-def]
    """Calls per second of ``fn`` over at least ``min_time`` seconds."""
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < min_time or n < 3:
        fn()
        n += 1
    return n / elapsed


def main() -> None:
    g = genomes.mlp(8, 4, hidden=[64, 64], activation="tanh")  # separate 64x64 trunks
    print(f"genome: mlp(8, 4, hidden=[64, 64]), {g.num_params()} parameters")
    print(f"{'operator':<14} {'ops/s':>9} {'ms/op':>8}")
    rng = np.random.default_rng(0)
    for name, spec in REGISTRY.items():
        r = rate(lambda spec=spec: spec.fn(g, rng=rng))
        print(f"{name:<14} {r:9.1f} {1000 / r:8.2f}")
    r = rate(lambda: g.copy().validate())
    print(f"{'(copy+valid.)':<14} {r:9.1f} {1000 / r:8.2f}")

    x = torch.randn(1024, 8)
    with torch.no_grad():
        target, value = genomes.mlp(8, 4, hidden=[128, 128], seed=1).compile()(x)
        target = 100 * target

    def loss_fn(m: torch.nn.Module) -> torch.Tensor:
        p, v = m(x)
        return ((p - target) ** 2).mean() + ((v - value) ** 2).mean()

    grown = firefly_grow(g, loss_fn, rng=np.random.default_rng(0))
    module = grown.compile()

    def fwd_bwd() -> None:
        module.zero_grad()
        loss_fn(module).backward()

    r_fb = rate(fwd_bwd)
    r_ff = rate(lambda: firefly_grow(g, loss_fn, rng=np.random.default_rng(0)), min_time=3.0)
    n_cand = grown.meta["lineage"]["params"]["n_candidates"]
    kept = len(grown.meta["lineage"]["params"]["chosen"])
    print(
        f"\nfirefly_grow (batch 1024, {n_cand} candidates, {kept} kept, {grown.num_params()} params after)"
    )
    print(f"  forward+backward of the grown network: {1000 / r_fb:8.2f} ms")
    print(f"  firefly_grow:                          {1000 / r_ff:8.2f} ms")
    print(f"  cost = {r_fb / r_ff:.1f} forward+backward passes of the grown network")


if __name__ == "__main__":
    main()

"""Overhead of a compiled genome against the equivalent hand-written network.

A ``genomes.mlp(obs, act, hidden=[64, 64], activation="tanh")`` (separate
actor and critic trunks) is compiled and timed against an actor and a critic
``nn.Sequential`` holding the very same weights, on one thread, for batch 1,
16 and 1024, in two modes: a no-grad forward pass, and a forward plus a
backward pass of ``logits.sum() + value.sum()``. The two sides are timed
interleaved (A, B, A, B, ... over many rounds) in one process and the medians
compared, so that machine load hits both alike.

Run::

    .venv/bin/python benchmarks/compile_overhead.py [--rounds 200] [--shared]

Prints a table; ``ratio`` is compiled / hand-written (1.00 = no overhead).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

import genomes

OBS, ACT, HIDDEN = 8, 4, (64, 64)


def hand_written(genome: genomes.Genome, shared: bool) -> nn.Module:
    """An actor-critic pair of ``nn.Sequential`` with the genome's weights."""

    def linear(u: str, v: str) -> nn.Linear:
        layer = nn.Linear(genome.units(u), genome.units(v))
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(genome.graph.edges[u, v]["weight"]))
            layer.bias.copy_(torch.from_numpy(genome.graph.nodes[v]["bias"]))
        return layer

    class ActorCritic(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.shared = shared
            if shared:
                self.trunk = nn.Sequential(
                    linear("input", "h0"), nn.Tanh(), linear("h0", "h1"), nn.Tanh()
                )
                self.actor = linear("h1", "policy")
                self.critic = linear("h1", "value")
            else:
                self.actor = nn.Sequential(
                    linear("input", "h0"),
                    nn.Tanh(),
                    linear("h0", "h1"),
                    nn.Tanh(),
                    linear("h1", "policy"),
                )
                self.critic = nn.Sequential(
                    linear("input", "v0"),
                    nn.Tanh(),
                    linear("v0", "v1"),
                    nn.Tanh(),
                    linear("v1", "value"),
                )

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            if self.shared:
                h = self.trunk(x)
                return self.actor(h), self.critic(h).squeeze(-1)
            return self.actor(x), self.critic(x).squeeze(-1)

    return ActorCritic()


def step_fn(model: nn.Module, x: torch.Tensor, backward: bool) -> Callable[[], None]:
    """One timed unit of work, repeated enough to last roughly a millisecond or more."""
    if backward:

        def run() -> None:
            logits, value = model(x)
            (logits.sum() + value.sum()).backward()

    else:

        def run() -> None:
            with torch.no_grad():
                model(x)

    return run


def time_pair(
    a: Callable[[], None], b: Callable[[], None], rounds: int, inner: int
) -> tuple[float, float]:
    """Median seconds per call of ``a`` and ``b``, timed interleaved."""
    for f in (a, b):
        for _ in range(inner):
            f()
    ta: list[float] = []
    tb: list[float] = []
    for r in range(rounds):
        order = (a, b) if r % 2 == 0 else (b, a)
        for f in order:
            t0 = time.perf_counter()
            for _ in range(inner):
                f()
            dt = (time.perf_counter() - t0) / inner
            (ta if f is a else tb).append(dt)
    return statistics.median(ta), statistics.median(tb)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--shared", action="store_true", help="one shared trunk")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    genome = genomes.mlp(OBS, ACT, hidden=HIDDEN, activation="tanh", shared=args.shared)
    compiled = genome.compile(dtype=torch.float32)
    hand = hand_written(genome, args.shared)
    x0 = torch.randn(4, OBS)
    with torch.no_grad():
        (pa, va), (pb, vb) = compiled(x0), hand(x0)
    assert torch.allclose(pa, pb, atol=1e-6) and torch.allclose(va, vb, atol=1e-6), "mismatch"

    trunk = "shared" if args.shared else "separate"
    print(
        f"compiled genome vs hand-written nn.Sequential: {OBS}->{HIDDEN}->{ACT}, tanh, {trunk} trunks"
    )
    print(f"torch {torch.__version__}, 1 thread, {args.rounds} interleaved rounds, medians")
    print(f"{'mode':<18}{'batch':>6}{'hand us':>11}{'compiled us':>13}{'ratio':>8}")
    for backward in (False, True):
        for batch in (1, 16, 1024):
            x = torch.randn(batch, OBS)
            inner = 20 if batch < 1024 else 4
            tc, th = time_pair(
                step_fn(compiled, x, backward), step_fn(hand, x, backward), args.rounds, inner
            )
            mode = "forward+backward" if backward else "no-grad forward"
            print(f"{mode:<18}{batch:>6}{th * 1e6:>11.1f}{tc * 1e6:>13.1f}{tc / th:>8.3f}")


if __name__ == "__main__":
    main()

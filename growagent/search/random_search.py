"""``random``: architectures drawn at random from the search space, assessed alike.

Each architecture is a chain actor-critic MLP: a depth drawn uniformly from
``0 .. [search] max_hidden_nodes // 2`` (actor and critic trunks each count),
widths drawn log-uniformly from ``1 .. max_units`` and the run's activation,
redrawn until it fits ``max_params`` and is new. The baseline every other
strategy must beat (Li and Talwalkar, 2019).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from genomes import Genome
from growagent.config import RunConfig
from growagent.search.base import (
    Candidate,
    Context,
    Judgement,
    State,
    chain_genome,
    nondominated,
    population_stats,
    rng_from,
    rng_state,
)


class RandomSearch:
    """Random search; the state holds the draws made, the generator and every fitness."""

    name: ClassVar[str] = "random"

    def __init__(self, cfg: RunConfig, ctx: Context):
        self.cfg = cfg.random
        self.ctx = ctx

    def init(self) -> State:
        return {
            "generation": 0,
            "closed": True,
            "population": [],
            "fitness": {},
            "seen": [],
            "asked": 0,
            "rng": rng_state(np.random.default_rng(self.ctx.seed)),
        }

    def done(self, state: State) -> bool:
        return int(state["asked"]) >= self.cfg.assessments

    def result(self, state: State) -> list[str]:
        return list(state["population"])

    def draw(self, rng: np.random.Generator, seen: set[str], tries: int = 50) -> Genome:
        """One architecture within the limits, new if ``tries`` draws allow."""
        lim = self.ctx.limits
        depth_max = max(0, (lim.max_hidden_nodes or 2) // 2)
        g = None
        for _ in range(tries):
            depth = int(rng.integers(depth_max + 1))
            top = math.log(lim.max_units or 64)
            widths = [max(1, round(math.exp(rng.uniform(0.0, top)))) for _ in range(depth)]
            g = chain_genome(self.ctx, [(w, self.ctx.activation) for w in widths], rng, "random")
            if lim.violation(g) is None and g.structural_hash() not in seen:
                break
        assert g is not None
        return g

    def ask(self, state: State) -> tuple[list[Candidate], State]:
        rng, seen = rng_from(state), set(state["seen"])
        gen = int(state["generation"]) + 1
        n = min(self.cfg.batch, self.cfg.assessments - int(state["asked"]))
        batch = []
        for _ in range(n):
            g = self.draw(rng, seen)
            seen.add(g.structural_hash())
            batch.append(Candidate(g, gen))
        state = dict(state, generation=gen, closed=False, rng=rng_state(rng), seen=sorted(seen))
        state["asked"] = int(state["asked"]) + n
        return batch, state

    def tell(self, state: State, judgements: Sequence[Judgement]) -> State:
        fitness = dict(state["fitness"])
        fitness.update({j.id: [j.ret, float(j.size)] for j in judgements if j.ok})
        front = nondominated({g: (f[0], f[1]) for g, f in fitness.items()})
        stats: dict[str, float] = {"nevals": sum(j.ok for j in judgements)}
        if front:
            stats.update(population_stats([fitness[g] for g in front]))
        return dict(state, closed=True, fitness=fitness, population=front, stats=stats)

"""``firefly``: firefly neural architecture descent on one network (Wu et al., 2020).

Start from a small genome (``[firefly] start``, the linear one by default)
and repeat, for ``steps`` steps or until the return reaches ``target``:

1. grow the current network with :func:`operators.firefly_grow`: of the
   candidate splits, new units and new layers (each function-preserving at
   first), keep those the gradient of the distillation loss to the teacher
   (on its newest ``loss_states`` states) says lower it most;
2. train the child briefly (the run's distillation) and assess it;
3. the child with the lowest distillation loss among ``branches`` grown
   this step becomes the current network if it lowers the loss.

An optional pruning phase (``prune_steps``) then removes the least
important units, a node or, once no hidden node is left, an input feature
(:func:`operators.prune_units`, :func:`operators.remove_node`,
:func:`operators.drop_input`) and keeps a child whose return stays within
``prune_tolerance`` of the best one. Every step's genome is in the archive,
so the path traces a front of return against size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

import operators
from genomes import Genome
from growagent.config import RunConfig
from growagent.search.base import (
    Candidate,
    Context,
    Judgement,
    State,
    nondominated,
    population_stats,
    rng_from,
    rng_state,
    seed_genome,
)
from operators.firefly import Kind


class FireflyDescent:
    """Firefly descent; the state holds the path, the current network and the generator."""

    name: ClassVar[str] = "firefly"

    def __init__(self, cfg: RunConfig, ctx: Context):
        if ctx.growth_loss is None:
            from growagent.mapping import ConfigError

            raise ConfigError(
                "search.strategy: 'firefly' grows by the distillation loss; "
                "it needs [assess.distill]"
            )
        self.cfg = cfg.firefly
        self.ctx = ctx
        self._loss: Any = None

    def loss(self) -> Any:
        if self._loss is None:
            assert self.ctx.growth_loss is not None
            self._loss = self.ctx.growth_loss(self.cfg.loss_states)
        return self._loss

    def measure(self, genome: Genome) -> float:
        """The distillation loss of a (trained) genome on the growth states."""
        import torch

        with torch.no_grad():
            return float(self.loss()(genome.compile()))

    def init(self) -> State:
        return {
            "generation": 0,
            "closed": False,
            "phase": "start",
            "population": [],
            "path": [],
            "current": None,
            "fitness": {},
            "grown": 0,
            "pruned": 0,
            "rng": rng_state(np.random.default_rng(self.ctx.seed)),
        }

    def done(self, state: State) -> bool:
        return bool(state["phase"] == "done")

    def result(self, state: State) -> list[str]:
        return list(state["path"])

    # ------------------------------------------------------------ protocol
    def ask(self, state: State) -> tuple[list[Candidate], State]:
        rng = rng_from(state)
        gen = int(state["generation"]) + (0 if state["phase"] == "start" else 1)
        if state["phase"] == "start":
            return [Candidate(seed_genome(self.cfg.start, self.ctx, 0, "firefly0"), 0)], state
        parent = self.ctx.load(state["current"])
        children = []
        for _ in range(self.cfg.branches if state["phase"] == "grow" else 1):
            child = self.grow(parent, rng) if state["phase"] == "grow" else self.prune(parent, rng)
            if child is not None:
                children.append(child)
        state = dict(state, generation=gen, closed=False, rng=rng_state(rng))
        return [Candidate(c, gen) for c in children], state

    def grow(self, parent: Genome, rng: np.random.Generator) -> Genome | None:
        c = self.cfg
        kinds: tuple[Kind, ...] = ("split", "grow", "layer") if parent.hidden_nodes else ("layer",)
        for _ in range(4):
            child = operators.firefly_grow(
                parent,
                self.loss(),
                rng=rng,
                eps=c.eps,
                split_eps=c.split_eps,
                fraction=c.fraction,
                candidates=kinds,
                new_per_node=c.new_per_node,
                layer_units=c.layer_units,
                selection="random" if c.selection == "random" else "score",
            )
            if self.ctx.limits.violation(child) is None:
                return child
        return None

    def prune(self, parent: Genome, rng: np.random.Generator) -> Genome | None:
        """Units first, then whole nodes, then (below the linear floor) input features."""
        for name in ("prune_units", "remove_node", "drop_input"):
            spec = operators.REGISTRY[name]
            sites = spec.sites(parent)
            if sites:
                try:
                    return spec.apply(parent, operators.pick(rng, sites, name), rng=rng)
                except operators.NotApplicable:
                    continue
        return None

    def tell(self, state: State, judgements: Sequence[Judgement]) -> State:
        state = dict(state)
        fitness = dict(state["fitness"])
        ok = [j for j in judgements if j.ok]
        for j in ok:
            fitness[j.id] = [j.ret, float(j.size), self.measure(j.genome)]
        state["fitness"] = fitness
        phase, current = state["phase"], state["current"]
        if phase == "start":
            if not ok:
                from growagent.search.evolution import EvolutionError

                raise EvolutionError("the firefly start genome failed its assessment")
            state.update(current=ok[0].id, path=[ok[0].id], phase="grow")
        elif phase == "grow":
            state["grown"] += 1
            best = min(ok, key=lambda j: fitness[j.id][2], default=None)
            if best is not None and fitness[best.id][2] < fitness[current][2]:
                state.update(current=best.id, path=[*state["path"], best.id])
            target = self.cfg.target
            reached = target is not None and fitness[state["current"]][0] >= target
            if reached or state["grown"] >= self.cfg.steps or not judgements:
                state["phase"] = "prune" if self.cfg.prune_steps > 0 else "done"
        else:
            state["pruned"] += 1
            top = max(fitness[g][0] for g in state["path"])
            floor = top - self.cfg.prune_tolerance * abs(top)
            keep = [j for j in ok if j.ret >= floor and j.size < fitness[current][1]]
            if keep:
                state.update(current=keep[0].id, path=[*state["path"], keep[0].id])
            if state["pruned"] >= self.cfg.prune_steps or not judgements:
                state["phase"] = "done"
        path = state["path"]
        front = nondominated({g: (fitness[g][0], fitness[g][1]) for g in path})
        stats: dict[str, Any] = {
            "nevals": len(ok),
            "loss": fitness[state["current"]][2],
            **population_stats([fitness[g][:2] for g in front]),
        }
        state.update(closed=True, population=front, stats=stats)
        return state

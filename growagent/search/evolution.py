"""``evolution``: DEAP (mu + lambda) with NSGA-II, the predictor screen and Lamarckian weights.

One generation, as in ``deap.algorithms.eaMuPlusLambda`` (mutation only:
splicing two graph genomes does not preserve either parent's function,
which is the point of the operators)::

    parents    = [uniform choice of population for _ in screen_factor * offspring]
    candidates = [mutate(p) for p in parents]            # function-preserving operators
    offspring  = screen(candidates, offspring)           # predictor ranking, or the first ones
    judge(offspring)                                     # distil, evaluate (ask / tell)
    survivors  = select(population + offspring, mu)
    judge again(survivors seen on one block of episodes) # re-evaluation (ask / tell)
    population = select(population + offspring, mu)     # on the pooled returns

Generation 0 assesses the seed population. The state holds the population
and offspring ids, their fitness, the architectures seen and the generator,
so a resumed run continues exactly. Children start from their parent's
trained weights (the archive keeps the trained genome under each id).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from deap import creator, tools

import genomes
import operators
from genomes import Genome
from growagent.config import RunConfig
from growagent.predictor.screen import screen
from growagent.search.base import (
    Candidate,
    Context,
    Judgement,
    State,
    population_stats,
    rng_from,
    rng_state,
    seed_genome,
)


class EvolutionError(RuntimeError):
    """The search cannot go on (e.g. no seed genome could be assessed)."""


class GenomeIndividual:
    """A genome with a DEAP fitness ``(return, size)``, for DEAP's selections."""

    fitness: Any

    def __init__(self, genome: Genome):
        self.genome = genome
        self.fitness = creator.GrowFitness()
        self.predicted: float | None = None

    @property
    def id(self) -> str:
        """The genome's lineage id."""
        return str(self.genome.id)

    def __repr__(self) -> str:
        fit = self.fitness.values if self.fitness.valid else "unassessed"
        return f"GenomeIndividual({self.id}, {fit})"


def policy_signature(genome: Genome) -> tuple[Any, ...]:
    """What the deployed policy is made of: its nodes, units, activations and edges.

    Two genomes with the same signature differ at most in their critic (the
    nodes only the value head reads), which the deployed agent and the size
    objective ignore.

    Examples
    --------
    >>> import genomes, numpy as np, operators
    >>> g = genomes.mlp(4, 2, hidden=[8])
    >>> critic = [n for n in g.hidden_nodes if n not in g.part_nodes("policy")][0]
    >>> child = operators.REGISTRY["widen"].fn(g, rng=np.random.default_rng(0), node=critic)
    >>> policy_signature(child) == policy_signature(g)
    True
    """
    nodes = genome.part_nodes("policy")
    graph = genome.graph
    return (
        genome.num_params("policy"),
        genome.macs("policy"),
        tuple(
            sorted(
                (graph.nodes[n]["kind"], genome.units(n), graph.nodes[n].get("activation", ""))
                for n in nodes
            )
        ),
        sum(1 for u, v in graph.edges if u in nodes and v in nodes),
    )


def mutate_genome(
    genome: Genome,
    *,
    rng: np.random.Generator,
    weights: dict[str, float] | None,
    limits: operators.Limits | None,
    seen: set[str],
    tries: int = 8,
    critic_share: float = 1.0,
) -> Genome | None:
    """Mutate through the operators registry; avoid architectures in ``seen``.

    Draws up to ``tries`` children and keeps the first whose structural hash
    is not in ``seen`` and, unless this child is one of the ``critic_share``
    allowed to, whose policy differs from the parent's (see
    :func:`policy_signature`); else the last one drawn that changes the
    policy, else the last one drawn. None when no operator applies.
    """
    need_policy = critic_share < 1.0 and float(rng.random()) >= critic_share
    parent_sig = policy_signature(genome) if need_policy else None
    child = fallback = None
    for _ in range(tries):
        try:
            child = operators.mutate(genome, rng, weights=weights, limits=limits)
        except operators.NotApplicable:
            break
        changes_policy = not need_policy or policy_signature(child) != parent_sig
        if changes_policy:
            fallback = child
            if child.structural_hash() not in seen:
                break
    return fallback if fallback is not None else child


def _reinit(child: Genome, rng: np.random.Generator) -> Genome:
    """``child`` with fresh weights, its lineage kept."""
    fresh = genomes.reinitialised(child, rng)
    fresh.meta["lineage"] = dict(child.meta["lineage"])
    return fresh


def _screen_stats(screen: dict[str, Any] | None) -> dict[str, Any]:
    """``screen_ratio`` (candidates made per child assessed) and ``explore_share``."""
    if not screen or not screen["screened"] or screen["asked"] == 0:
        return {}
    return {
        "screen_ratio": round(screen["candidates"] / screen["asked"], 3),
        "explore_share": round(screen["explored"] / screen["asked"], 3),
    }


class Evolution:
    """The (mu + lambda) strategy; see the module docstring."""

    name: ClassVar[str] = "evolution"

    def __init__(self, cfg: RunConfig, ctx: Context):
        self.cfg = cfg.evolution
        self.ctx = ctx
        self.screen_factor = cfg.predictor.screen_factor if cfg.predictor.enabled else 1
        self.predictor = cfg.predictor
        if self.cfg.select == "nsga2":
            self.select = tools.selNSGA2
        else:
            self.select = lambda inds, k: tools.selTournament(inds, k, self.cfg.tournsize)
        self._genomes: dict[str, Genome] = {}

    # ------------------------------------------------------------ protocol
    def init(self) -> State:
        return {
            "generation": 0,
            "closed": False,
            "phase": "seed",
            "population": [],
            "fitness": {},
            "seen": [],
            "rng": rng_state(np.random.default_rng(self.ctx.seed)),
        }

    def done(self, state: State) -> bool:
        return bool(state["closed"]) and state["generation"] >= self.cfg.generations

    def result(self, state: State) -> list[str]:
        return list(state["population"])

    def ask(self, state: State) -> tuple[list[Candidate], State]:
        state = dict(state)
        if state["phase"] == "seed":
            seeds = [seed_genome(s, self.ctx, i) for i, s in enumerate(self.cfg.seeds)]
            state["seen"] = sorted({g.structural_hash() for g in seeds})
            return [Candidate(g, 0) for g in seeds], state
        if state["phase"] == "reeval":
            gen = state["generation"]
            cands = [Candidate(self.genome(g), gen, reevaluate=True) for g in state["pending"]]
            return cands, state
        # breed: vary, then screen
        gen = state["generation"] + 1
        rng, seen = rng_from(state), set(state["seen"])
        population = state["population"]
        n = self.screen_factor * self.cfg.offspring
        parents = [population[int(rng.integers(len(population)))] for _ in range(n)]
        children = [
            mutate_genome(
                self.genome(p),
                rng=rng,
                weights=self.cfg.operator_weights or None,
                limits=self.ctx.limits,
                seen=seen,
                critic_share=self.cfg.critic_share,
            )
            for p in parents
        ]
        candidates = [c for c in children if c is not None]
        if self.cfg.inherit == "reinit":  # the ablation: children start from scratch
            candidates = [_reinit(c, rng) for c in candidates]
        prediction = self.ctx.predict(candidates, gen)
        predicted: dict[int, float] = {}
        if prediction is not None:
            predicted = {id(g): s for g, s in zip(candidates, prediction.scores)}
        offspring, explored = screen(
            candidates,
            prediction,
            self.cfg.offspring,
            seen,
            rng,
            explore=self.predictor.explore,
            explore_by=self.predictor.explore_by,
        )
        state.update(generation=gen, closed=False, phase="breed", rng=rng_state(rng))
        state["seen"] = sorted(seen)
        state["screen"] = {
            "candidates": len(candidates),
            "screened": prediction is not None,
            "asked": len(offspring),
            "explored": sum(explored),
        }
        return [Candidate(g, gen, predicted=predicted.get(id(g))) for g in offspring], state

    def tell(self, state: State, judgements: Sequence[Judgement]) -> State:
        state = dict(state)
        fitness = dict(state["fitness"])
        for j in judgements:
            if j.ok:
                fitness[j.id] = [j.ret, float(j.size), j.blocks]
        state["fitness"] = fitness
        if state["phase"] == "seed":
            population = [j.id for j in judgements if j.ok]
            if not population:
                raise EvolutionError("every genome of the seed population failed its assessment")
            return self._close(state, population, nevals=len(judgements))
        if state["phase"] == "breed":
            offspring = [j.id for j in judgements if j.ok]
            rng = rng_from(state)
            state["selection_seed"] = int(rng.integers(2**31))
            state["rng"] = rng_state(rng)
            state["pool"] = list(state["population"]) + offspring
            state["nevals"] = len(offspring)
            pending: list[str] = []
            if self.cfg.reevaluate:
                for gid in self._select(state):
                    if fitness[gid][2] < 2 and gid not in pending:
                        pending.append(gid)
            if pending:
                state.update(phase="reeval", pending=pending)
                return state
        population = self._select(state)
        return self._close(state, population, nevals=state["nevals"])

    # ------------------------------------------------------------- helpers
    def genome(self, gid: str) -> Genome:
        """The trained genome of an assessed id (loaded once)."""
        if gid not in self._genomes:
            self._genomes[gid] = self.ctx.load(gid)
        return self._genomes[gid]

    def _select(self, state: State) -> list[str]:
        """DEAP's selection over ``pool`` on the current fitness (DEAP's random seeded)."""
        inds = []
        for gid in state["pool"]:
            ind = GenomeIndividual(self.genome(gid))
            ret, size, _ = state["fitness"][gid]
            ind.fitness.values = (ret, size)
            inds.append(ind)
        random.seed(state["selection_seed"])
        return [ind.id for ind in self.select(inds, self.cfg.mu)]

    def _close(self, state: State, population: list[str], nevals: int) -> State:
        fit = state["fitness"]
        keep = set(population)
        state.update(
            closed=True,
            phase="breed",
            population=population,
            fitness={g: f for g, f in fit.items() if g in keep},
            stats={
                "nevals": nevals,
                **population_stats([fit[g][:2] for g in population]),
                **_screen_stats(state.get("screen")),
            },
        )
        for key in ("pending", "pool", "selection_seed", "nevals", "screen"):
            state.pop(key, None)
        self._genomes = {g: v for g, v in self._genomes.items() if g in keep}
        return state

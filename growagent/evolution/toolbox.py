"""The DEAP side of the search: fitness, individuals and the toolbox.

DEAP's in-place ``return ind,`` convention lives here only: the reusable
``operators`` package stays pure, and :func:`mutate_individual` adapts it.

Objectives are ``(return, size)`` with weights ``(+1, -1)``: return up, policy
parameters (or MACs) down.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from deap import base, creator, tools

import operators
from genomes import Genome

FITNESS_WEIGHTS = (1.0, -1.0)

if not hasattr(creator, "GrowFitness"):
    creator.create("GrowFitness", base.Fitness, weights=FITNESS_WEIGHTS)


class GenomeIndividual:
    """A genome with a DEAP fitness; the population holds these.

    Attributes
    ----------
    genome : Genome
        The (trained, after assessment) genome.
    fitness : deap.base.Fitness
        ``(return, size)``; invalid until assessed.
    predicted : float or None
        The predictor's score, given before assessment (None without one).
    """

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


def same_objectives(a: GenomeIndividual, b: GenomeIndividual) -> bool:
    """Pareto-front twin test, called only when fitnesses are equal: always a twin.

    Two agents with the same return and size are interchangeable on the
    front (they may differ in critic or architecture), so the first one found
    is kept.
    """
    return True


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


def mutate_individual(
    ind: GenomeIndividual,
    *,
    rng: np.random.Generator,
    weights: dict[str, float] | None,
    limits: operators.Limits | None,
    seen: set[str],
    tries: int = 8,
    critic_share: float = 1.0,
) -> tuple[GenomeIndividual, ...]:
    """Mutate through the operators registry; avoid architectures in ``seen``.

    Draws up to ``tries`` children and keeps the first whose structural hash
    is not in ``seen`` and, unless this child is one of the ``critic_share``
    allowed to, whose policy differs from the parent's (see
    :func:`policy_signature`); else the last one drawn that changes the
    policy, else the last one drawn. The parent is untouched (operators are
    pure); the child carries no fitness yet. Returns ``()`` when no operator
    applies within the limits.
    """
    need_policy = critic_share < 1.0 and float(rng.random()) >= critic_share
    parent_sig = policy_signature(ind.genome) if need_policy else None
    child = fallback = None
    for _ in range(tries):
        try:
            child = operators.mutate(ind.genome, rng, weights=weights, limits=limits)
        except operators.NotApplicable:
            break
        changes_policy = not need_policy or policy_signature(child) != parent_sig
        if changes_policy:
            fallback = child
            if child.structural_hash() not in seen:
                break
    child = fallback if fallback is not None else child
    return () if child is None else (GenomeIndividual(child),)


def screen_first(
    candidates: list[GenomeIndividual], k: int, *, seen: set[str]
) -> list[GenomeIndividual]:
    """Keep the first ``k`` candidates, preferring architectures not yet seen.

    The default screen (no predictor). Chosen architectures are added to ``seen``.
    """
    return take_distinct(candidates, k, seen)


def take_distinct(ranked: list[GenomeIndividual], k: int, seen: set[str]) -> list[GenomeIndividual]:
    """The first ``k`` of ``ranked`` with new structural hashes, topped up with repeats."""
    chosen: list[GenomeIndividual] = []
    hashes = set(seen)
    for ind in ranked:
        h = ind.genome.structural_hash()
        if h not in hashes and len(chosen) < k:
            chosen.append(ind)
            hashes.add(h)
    for ind in ranked:
        if len(chosen) >= k:
            break
        if ind not in chosen:
            chosen.append(ind)
    seen.update(ind.genome.structural_hash() for ind in chosen)
    return chosen


def build_toolbox(
    *,
    rng: np.random.Generator,
    evaluate: Callable[[list[GenomeIndividual]], None],
    select: str = "nsga2",
    tournsize: int = 3,
    operator_weights: dict[str, float] | None = None,
    limits: operators.Limits | None = None,
    critic_share: float = 1.0,
) -> base.Toolbox:
    """A DEAP toolbox with ``mutate``, ``screen``, ``select``, ``evaluate`` and ``seen``.

    ``screen(candidates, k)`` keeps ``k`` of ``screen_factor * k`` candidate
    children (the predictor replaces it); ``screen_quality(offspring)``
    returns extra logbook fields once they are assessed.

    ``evaluate`` takes the list of unassessed individuals, runs them through
    the executor and sets their fitness (and trained genome) in place.
    """
    toolbox = base.Toolbox()
    seen: set[str] = set()
    toolbox.seen = seen
    toolbox.register(
        "mutate",
        mutate_individual,
        rng=rng,
        weights=operator_weights,
        limits=limits,
        seen=seen,
        critic_share=critic_share,
    )
    toolbox.register("screen", screen_first, seen=seen)
    toolbox.register("screen_quality", lambda offspring: {})
    toolbox.screen_factor = 1
    if select == "nsga2":
        toolbox.register("select", tools.selNSGA2)
    elif select == "tournament":
        toolbox.register("select", tools.selTournament, tournsize=tournsize)
    else:
        raise ValueError(f"Expected select 'nsga2' or 'tournament' (got {select!r})")
    toolbox.register("evaluate", evaluate)
    toolbox.register("reevaluate", lambda inds: None)
    return toolbox

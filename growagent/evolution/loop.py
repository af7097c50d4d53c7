"""The generational loop, in the style of ``deap.algorithms.eaMuPlusLambda``."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import numpy as np
from deap import base, tools

from growagent.evolution.toolbox import GenomeIndividual

Hook = Callable[[int, list[GenomeIndividual], tools.Logbook], None]


def _by_id(ind: GenomeIndividual) -> str:
    """Pareto updates go in id order, so equal-fitness twins resolve the same way
    whatever order the executor finished in (and when a resume rebuilds the front)."""
    return ind.id


class EvolutionError(RuntimeError):
    """The search cannot go on (e.g. no seed genome could be assessed)."""


def ea_mu_plus_lambda(
    population: list[GenomeIndividual],
    toolbox: base.Toolbox,
    *,
    mu: int,
    lambda_: int,
    ngen: int,
    rng: np.random.Generator,
    stats: tools.Statistics | None = None,
    halloffame: tools.ParetoFront | None = None,
    start_gen: int = 0,
    logbook: tools.Logbook | None = None,
    hooks: Sequence[Hook] = (),
) -> tuple[list[GenomeIndividual], tools.Logbook]:
    """(mu + lambda) evolution with mutation only; returns ``(population, logbook)``.

    Pseudocode::

        evaluate(individuals of population with invalid fitness)
        for g in start_gen + 1 .. ngen:
            candidates = [mutate(uniform choice of population) for _ in screen_factor * lambda_]
            offspring = screen(candidates, lambda_)   # predictor ranking, or the first ones
            evaluate(offspring)                # assess: distil, train, evaluate
            offspring = those assessed successfully
            halloffame.update(sorted(offspring, key=_by_id))
            reevaluate(select(population + offspring, mu))   # fresh episodes for would-be survivors
            population = select(population + offspring, mu)
            record stats and the screen's quality; call hooks (the archive checkpoint)

    Crossover is not used: splicing two graph genomes does not preserve
    either parent's function, which is the point of the operators.

    Parameters
    ----------
    population : list of GenomeIndividual
        The starting population (assessed or not).
    toolbox : deap.base.Toolbox
        Needs ``mutate``, ``screen``, ``screen_quality``, ``screen_factor``,
        ``evaluate`` (a list of individuals -> fitness set in place),
        ``reevaluate`` (the same, for individuals to be judged on more
        episodes) and ``select`` (see :func:`growagent.evolution.toolbox.build_toolbox`).
    mu, lambda_ : int
        Population size kept and offspring per generation.
    ngen : int
        Last generation number.
    rng : numpy.random.Generator
        The only source of randomness (parent choice, operator draws, and a
        seed for DEAP's ``random``-based selection), so a run is reproducible.
    stats, halloffame, logbook : DEAP objects, optional
    start_gen : int
        Generation the population belongs to (0 for a new run, larger on resume).
        Generation 0 (assessing the seeds) runs only when ``logbook`` is empty,
        so a run resumed after generation 0 goes straight on to generation 1.
    hooks : sequence of callables
        ``hook(gen, population, logbook)`` after every generation.
    """
    if logbook is None:
        logbook = tools.Logbook()
        logbook.header = ["gen", "nevals", *(stats.fields if stats else [])]

    # Generation 0: assess the seed population
    if start_gen == 0 and len(logbook) == 0:
        invalid = [ind for ind in population if not ind.fitness.valid]
        toolbox.evaluate(invalid)
        population = [ind for ind in population if ind.fitness.valid]
        if not population:
            raise EvolutionError("every genome of the seed population failed its assessment")
        if halloffame is not None:
            halloffame.update(sorted(population, key=_by_id))
        record = stats.compile(population) if stats else {}
        logbook.record(gen=0, nevals=len(invalid), **record)
        for hook in hooks:
            hook(0, population, logbook)

    for gen in range(start_gen + 1, ngen + 1):
        # Vary: each candidate is a mutation of a uniformly drawn parent
        n_candidates = toolbox.screen_factor * lambda_
        parents = [population[int(rng.integers(len(population)))] for _ in range(n_candidates)]
        candidates = [child for parent in parents for child in toolbox.mutate(parent)]

        # Screen: keep lambda_ of them (ranked by the predictor when there is one)
        offspring = toolbox.screen(candidates, lambda_)

        # Evaluate: short training and evaluation through the executor
        toolbox.evaluate(offspring)
        quality = toolbox.screen_quality(offspring)
        offspring = [ind for ind in offspring if ind.fitness.valid]
        if halloffame is not None:
            halloffame.update(sorted(offspring, key=_by_id))

        # Re-evaluate: would-be survivors seen on one block of episodes get a
        # fresh one, so a child that was lucky once is demoted before it is kept
        # (DEAP's random is seeded from rng for tournaments)
        selection_seed = int(rng.integers(2**31))
        random.seed(selection_seed)
        toolbox.reevaluate(toolbox.select(population + offspring, mu))

        # Select the next population on the updated returns
        random.seed(selection_seed)
        population = toolbox.select(population + offspring, mu)

        # Record and checkpoint
        record = stats.compile(population) if stats else {}
        logbook.record(gen=gen, nevals=len(offspring), **quality, **record)
        for hook in hooks:
            hook(gen, population, logbook)
    return population, logbook

"""The generational loop with real DEAP and real operators, on a synthetic fitness."""

import numpy as np
import pytest
from deap import tools

import genomes
from growagent.evolution.loop import EvolutionError, ea_mu_plus_lambda
from growagent.evolution.toolbox import GenomeIndividual, build_toolbox, same_objectives


def _fitness(ind):
    # a made-up objective: reward hidden units (capped), pay for policy parameters
    g = ind.genome
    units = sum(g.units(n) for n in g.hidden_nodes)
    return (float(min(units, 12)), float(g.num_params("policy")))


def _run(seed, ngen=4, fail=False):
    rng = np.random.default_rng(seed)

    def evaluate(inds):
        for ind in inds:
            if not fail:
                ind.fitness.values = _fitness(ind)

    toolbox = build_toolbox(rng=rng, evaluate=evaluate)
    population = [GenomeIndividual(genomes.mlp(3, 2, hidden=[2], seed=i)) for i in range(4)]
    for i, ind in enumerate(population):
        ind.genome.meta["lineage"]["id"] = f"seed{i}"
    pareto = tools.ParetoFront(similar=same_objectives)
    calls = []
    pop, log = ea_mu_plus_lambda(
        population,
        toolbox,
        mu=4,
        lambda_=6,
        ngen=ngen,
        rng=rng,
        halloffame=pareto,
        hooks=[lambda gen, p, lb: calls.append((gen, len(p)))],
    )
    return pop, log, pareto, calls


def test_loop_selects_checkpoints_and_improves():
    pop, log, pareto, calls = _run(seed=0)
    assert calls == [(g, 4) for g in range(5)]
    assert [r["gen"] for r in log] == list(range(5))
    assert max(ind.fitness.values[0] for ind in pop) > 2.0  # seeds have 2 units; growth found more
    fits = [ind.fitness.values for ind in pareto]
    for a in fits:  # the front is non-dominated
        assert not any(b[0] >= a[0] and b[1] <= a[1] and b != a for b in fits)


def test_loop_is_reproducible_from_its_seed():
    ids = lambda pop: [ind.id for ind in pop]  # noqa: E731
    assert ids(_run(seed=3)[0]) == ids(_run(seed=3)[0])
    assert ids(_run(seed=3)[0]) != ids(_run(seed=4)[0])


def test_a_seed_population_that_cannot_be_assessed_stops_the_run():
    with pytest.raises(EvolutionError, match="seed population"):
        _run(seed=0, fail=True)

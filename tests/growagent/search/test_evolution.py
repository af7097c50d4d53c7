"""The evolution strategy driven by hand (ask / tell) with real DEAP and real operators,
on a synthetic fitness: no executor, archive or teacher is involved."""

import json

import pytest

import operators
from growagent.config import load_config
from growagent.search import Judgement
from growagent.search.base import Context
from growagent.search.evolution import Evolution, EvolutionError

SPACES = ({"type": "box", "shape": [3]}, {"type": "discrete", "n": 2})


def _fitness(g):
    # a made-up objective: reward hidden units (capped), pay for policy parameters
    units = sum(g.units(n) for n in g.hidden_nodes)
    return float(min(units, 12)), g.num_params("policy")


def _run(seed, ngen=4, fail=False, stop_after=None, state=None, store=None):
    cfg = load_config(
        {
            "seed": seed,
            "evolution": {"generations": ngen, "mu": 4, "offspring": 6, "seeds": ["mlp:2"] * 4},
            "predictor": {"enabled": False},
        }
    )
    store = {} if store is None else store
    ctx = Context("X", SPACES, seed, operators.Limits(max_units=16), "tanh", "params", store.get)
    strategy = Evolution(cfg, ctx)
    state = strategy.init() if state is None else state
    closed, steps = [], 0
    while not strategy.done(state) and steps != stop_after:
        candidates, state = strategy.ask(state)
        judged = []
        for c in candidates:
            store[c.id] = c.genome
            ret, size = _fitness(c.genome)
            judged.append(Judgement(c.id, not fail, c.genome, ret=ret, size=size, blocks=2))
        state = strategy.tell(state, judged)
        state = json.loads(json.dumps(state))  # the state is plain JSON
        steps += 1
        if state["closed"]:
            closed.append((state["generation"], len(state["population"]), state["stats"]))
    return state, closed, store


def test_evolution_selects_closes_every_generation_and_improves():
    _, closed, _ = _run(seed=0)
    assert [(g, n) for g, n, _ in closed] == [(g, 4) for g in range(5)]
    assert closed[-1][2]["ret_max"] > 2.0  # seeds have 2 units; growth found more
    assert closed[0][2]["nevals"] == 4 and all(st["nevals"] == 6 for _, _, st in closed[1:])


def test_evolution_is_reproducible_from_its_seed_and_resumes_from_any_state():
    a = _run(seed=3)[0]["population"]
    assert a == _run(seed=3)[0]["population"]
    assert a != _run(seed=4)[0]["population"]
    half, _, store = _run(seed=3, stop_after=2)
    assert _run(seed=3, state=half, store=store)[0]["population"] == a


def test_a_seed_population_that_cannot_be_assessed_stops_the_run():
    with pytest.raises(EvolutionError, match="seed population"):
        _run(seed=0, fail=True)


@pytest.mark.parametrize("inherit", ["weights", "reinit"])
def test_children_inherit_their_parents_function_unless_reinit_is_asked(inherit):
    import numpy as np
    import torch

    cfg = load_config(
        {
            "evolution": {
                "generations": 1,
                "mu": 2,
                "offspring": 4,
                "seeds": ["mlp:4"] * 2,
                "operator_weights": {"widen": 1.0},  # function-preserving
                "inherit": inherit,
            },
            "predictor": {"enabled": False},
        }
    )
    store = {}
    ctx = Context("X", SPACES, 0, operators.Limits(max_units=16), "tanh", "params", store.get)
    strategy = Evolution(cfg, ctx)
    seeds, state = strategy.ask(strategy.init())
    for c in seeds:
        store[c.id] = c.genome
    state = strategy.tell(
        state, [Judgement(c.id, True, c.genome, ret=1.0, size=1, blocks=2) for c in seeds]
    )
    children, _ = strategy.ask(state)
    x = torch.as_tensor(np.random.default_rng(0).normal(size=(16, 3)), dtype=torch.float32)
    for c in children:
        parent = store[c.genome.meta["lineage"]["parents"][0]]
        same = torch.allclose(
            c.genome.compile().forward(x)[0], parent.compile().forward(x)[0], atol=1e-5
        )
        assert same == (inherit == "weights")
        assert c.genome.meta["lineage"]["operator"] == "widen"


def test_inherit_is_checked():
    with pytest.raises(ValueError, match=r"evolution\.inherit"):
        load_config({"evolution": {"inherit": "lamarck"}})
    with pytest.raises(ValueError, match=r"firefly\.selection"):
        load_config({"firefly": {"selection": "best"}})

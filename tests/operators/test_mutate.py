"""The registry, the random mutator and size caps as decorators."""

from __future__ import annotations

import numpy as np
import pytest

import genomes
from operators import REGISTRY, Limits, NotApplicable, depth, limited, mutate, widen
from operators.testing import random_genome


def test_mutate_respects_weights_and_validates() -> None:
    g = genomes.mlp(3, 2, hidden=[4, 4])
    rng = np.random.default_rng(0)
    used = [
        mutate(g, rng, weights={"widen": 1.0, "add_skip": 3.0}).meta["lineage"]["operator"]
        for _ in range(40)
    ]
    assert set(used) == {"widen", "add_skip"}
    assert used.count("add_skip") > used.count("widen")


def test_mutate_falls_back_and_raises_when_nothing_applies() -> None:
    g = genomes.minimal(3, 2)
    child = mutate(g, np.random.default_rng(0), weights={"widen": 5.0, "add_layer": 1.0})
    assert child.meta["lineage"]["operator"] == "add_layer"
    with pytest.raises(NotApplicable, match="no operator applies"):
        mutate(g, np.random.default_rng(0), weights={"widen": 1.0, "prune_units": 1.0})
    with pytest.raises(KeyError, match="nope"):
        mutate(g, np.random.default_rng(0), weights={"nope": 1.0})


def test_limits_hold_over_many_mutations() -> None:
    limits = Limits(max_units=6, max_hidden_nodes=4, max_params=300, max_depth=4)
    rng = np.random.default_rng(0)
    for seed in range(10):
        g = random_genome(np.random.default_rng(seed), max_hidden=2, max_units=4)
        for _ in range(15):
            try:
                g = mutate(g, rng, limits=limits)
            except NotApplicable:
                break
            assert limits.violation(g) is None, g.summary()
            assert depth(g) <= 4


def test_limited_decorator_refuses_and_lets_shrinking_through() -> None:
    g = genomes.mlp(3, 2, hidden=[8])
    capped = limited(Limits(max_units=4))(widen)
    with pytest.raises(NotApplicable, match="max_units=4"):
        capped(g, rng=np.random.default_rng(0))
    prune = limited(Limits(max_units=4))(REGISTRY["prune_units"].fn)
    assert prune(g, rng=np.random.default_rng(0), node="h0").units("h0") == 7

"""genomes.testing.random_genome: valid, seeded and varied."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from genomes.registry import ACTIVATIONS
from genomes.testing import random_genome


def test_seeded_and_valid() -> None:
    for seed in range(5):
        a = random_genome(np.random.default_rng(seed), random_names=True)
        b = random_genome(np.random.default_rng(seed), random_names=True)
        assert a.to_dict() == b.to_dict()


def test_covers_the_shapes_operators_must_handle() -> None:
    rng = np.random.default_rng(0)
    seen: collections.Counter[str] = collections.Counter()
    for _ in range(200):
        g = random_genome(rng)
        g.validate()
        seen["box" if g.is_continuous else "discrete"] += 1
        seen.update(g.graph.nodes[n]["activation"] for n in g.hidden_nodes)
        if any(g.graph.in_degree(n) > 1 for n in g.graph):
            seen["multi-input"] += 1
        pol = g.part_nodes("policy") - {g.input_node, g.policy_node}
        val = g.part_nodes("value") - {g.input_node, g.value_node}
        if pol & val:
            seen["shared"] += 1
        elif pol and val:
            seen["separate"] += 1
        if not g.hidden_nodes:
            seen["no hidden"] += 1
        skip = any(g.graph.has_edge(u, w) for u, v in g.graph.edges for w in g.graph.successors(v))
        seen["skip"] += skip
    for key in [
        *ACTIVATIONS,
        "box",
        "discrete",
        "multi-input",
        "shared",
        "separate",
        "no hidden",
        "skip",
    ]:
        assert seen[key] >= 5, (key, seen)


def test_fixed_sizes_and_options() -> None:
    rng = np.random.default_rng(1)
    g = random_genome(
        rng,
        obs_dim=7,
        n_actions=3,
        continuous=False,
        min_hidden=3,
        max_hidden=3,
        activations=["relu"],
    )
    assert g.units(g.input_node) == 7 and g.units(g.policy_node) == 3
    assert len(g.hidden_nodes) == 3
    assert {g.graph.nodes[n]["activation"] for n in g.hidden_nodes} == {"relu"}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"activations": []},
        {"activations": ["swish2"]},
        {"min_hidden": 3, "max_hidden": 2},
        {"max_units": 0},
    ],
)
def test_bad_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        random_genome(np.random.default_rng(0), **kwargs)  # type: ignore[arg-type]

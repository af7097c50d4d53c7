"""deepen, add_layer, add_skip: specific behaviour beyond the contract test."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

import genomes
from operators import NotApplicable, add_layer, add_skip, deepen
from operators.base import output_change
from operators.structure import add_skip_sites, deepen_sites
from operators.testing import random_genome

X = np.random.default_rng(1).standard_normal((32, 3))


def test_deepen_identity_after_relu_moves_edges() -> None:
    g = genomes.mlp(3, 2, hidden=[4], activation="relu")
    child = deepen(g, rng=np.random.default_rng(0), node="h0", mode="identity")
    assert list(child.graph.successors("h0")) == ["n0"]
    assert child.graph.nodes["n0"]["activation"] == "relu"
    assert output_change(g, child, X)["max_abs"] == 0.0


def test_deepen_tanh_refuses_identity_and_uses_zero_path() -> None:
    g = genomes.mlp(3, 2, hidden=[4], activation="tanh")
    assert "h0" not in deepen_sites(g, mode="identity")
    with pytest.raises(NotApplicable):
        deepen(g, rng=np.random.default_rng(0), node="h0", mode="identity")
    child = deepen(g, rng=np.random.default_rng(0), node="h0")
    assert child.meta["lineage"]["params"]["form"] == "zero_path"
    assert child.graph.has_edge("h0", "policy") and child.graph.has_edge("n0", "policy")
    assert output_change(g, child, X)["max_abs"] == 0.0


def test_add_layer_is_parallel_and_exact_at_zero_eps() -> None:
    g = genomes.mlp(3, 2, hidden=[4])
    child = add_layer(g, rng=np.random.default_rng(0), source="h0", target="policy")
    assert child.graph.has_edge("h0", "policy")
    assert child.graph.has_edge("h0", "n0") and child.graph.has_edge("n0", "policy")
    assert output_change(g, child, X)["max_abs"] == 0.0
    moved = add_layer(g, rng=np.random.default_rng(0), source="h0", target="policy", eps=0.1)
    assert output_change(g, moved, X)["max_abs"] > 0


def test_add_skip_never_makes_a_cycle_or_touches_input_and_heads() -> None:
    for seed in range(50):
        g = random_genome(np.random.default_rng(seed))
        for u, v in add_skip_sites(g):
            assert g.graph.nodes[v]["kind"] != "input"
            assert g.graph.nodes[u]["kind"] in ("input", "hidden")
            h = g.graph.copy()
            h.add_edge(u, v)
            assert nx.is_directed_acyclic_graph(h)
    g = genomes.mlp(3, 2, hidden=[4, 4], shared=True)
    with pytest.raises(NotApplicable):
        add_skip(g, rng=np.random.default_rng(0), source="h1", target="h0")
    assert add_skip(
        g, rng=np.random.default_rng(0), source="input", target="policy"
    ).graph.has_edge("input", "policy")

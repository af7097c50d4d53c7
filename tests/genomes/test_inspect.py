"""Parameter and MAC counts, structural hash, summary."""

from __future__ import annotations

import networkx as nx
import numpy as np

import genomes
from genomes import Genome
from genomes.testing import random_genome


def skip_genome() -> Genome:
    """input(3) -> a(4, relu) -> b(5, tanh) -> policy(2); input -> b (skip); a -> value."""
    g = Genome(
        meta={
            "observation_space": {"type": "box", "shape": [3]},
            "action_space": {"type": "discrete", "n": 2},
        }
    )
    g.add_node("input", kind="input", units=3)
    g.add_node("a", units=4, activation="relu")
    g.add_node("b", units=5, activation="tanh")
    g.add_node("policy", kind="policy", units=2)
    g.add_node("value", kind="value", units=1)
    for u, v in [("input", "a"), ("a", "b"), ("input", "b"), ("b", "policy"), ("a", "value")]:
        g.add_edge(u, v)
    return g.validate()


def test_counts_by_hand() -> None:
    g = skip_genome()
    a = 3 * 4 + 4
    b = 4 * 5 + 3 * 5 + 5
    pol = 5 * 2 + 2
    val = 4 * 1 + 1
    assert g.num_params() == a + b + pol + val == 73
    assert g.num_params("policy") == a + b + pol
    assert g.num_params("value") == a + val
    assert g.macs() == 12 + 20 + 15 + 10 + 4
    assert g.macs("policy") == 12 + 20 + 15 + 10
    assert g.macs("value") == 12 + 4
    assert genomes.num_params(g, "policy") == g.num_params("policy")
    assert genomes.macs(g, "value") == g.macs("value")


def test_mlp_counts_match_torch_modules() -> None:
    box = {"type": "box", "shape": [3], "low": [-1.0] * 3, "high": [1.0] * 3}
    g = genomes.mlp(8, box, hidden=[64, 64])
    actor = 8 * 64 + 64 + 64 * 64 + 64 + 64 * 3 + 3 + 3  # + log_std
    critic = 8 * 64 + 64 + 64 * 64 + 64 + 64 + 1
    assert g.num_params("policy") == actor
    assert g.num_params("value") == critic
    assert g.num_params() == actor + critic
    assert g.macs() == 2 * (8 * 64 + 64 * 64) + 64 * 3 + 64
    assert genomes.mlp(4, 2).num_params() == 9155  # the SB3 default network


def relabel(g: Genome, rng: np.random.Generator) -> Genome:
    names = {
        n: f"n{int(rng.integers(10**9))}_{i}"
        for i, n in enumerate(rng.permutation(list(g.graph.nodes)))
    }
    return Genome(nx.relabel_nodes(g.graph, names, copy=True), g.meta)


def resize(g: Genome, node: str, units: int) -> Genome:
    g = g.copy()
    g.graph.nodes[node]["units"] = units
    g.graph.nodes[node]["bias"] = np.zeros(units)
    for u, v in list(g.graph.in_edges(node)) + list(g.graph.out_edges(node)):
        g.graph.edges[u, v]["weight"] = np.zeros((g.units(v), g.units(u)))
    return g.validate()


def test_hash_invariant_under_relabelling_and_weights() -> None:
    rng = np.random.default_rng(0)
    for _ in range(60):
        g = random_genome(rng)
        h = g.structural_hash()
        renamed = relabel(g, rng).validate()
        assert renamed.structural_hash() == h
        assert genomes.structural_hash(renamed) == h
        heavier = g.copy()
        for _, _, w in heavier.graph.edges(data="weight"):
            w *= 3.0
        assert heavier.structural_hash() == h


def test_hash_sensitive_to_width_activation_and_edges() -> None:
    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(60):
        g = random_genome(rng, min_hidden=2, activations=["relu", "tanh"])
        h = g.structural_hash()
        node = g.hidden_nodes[int(rng.integers(len(g.hidden_nodes)))]
        assert resize(g, node, g.units(node) + 1).structural_hash() != h
        flipped = g.copy()
        d = flipped.graph.nodes[node]
        d["activation"] = "tanh" if d["activation"] == "relu" else "relu"
        assert flipped.structural_hash() != h
        order = g.topological_order()
        missing = [
            (u, v)
            for i, u in enumerate(order)
            for v in order[i + 1 :]
            if not g.graph.has_edge(u, v)
            and g.graph.nodes[u]["kind"] not in ("policy", "value")
            and g.graph.nodes[v]["kind"] != "input"
        ]
        if missing:
            u, v = missing[int(rng.integers(len(missing)))]
            extra = g.copy()
            extra.add_edge(u, v)
            assert extra.validate().structural_hash() != h
            checked += 1
    assert checked > 30


def test_hash_distinguishes_discrete_from_box() -> None:
    box = {"type": "box", "shape": [2], "low": [-1.0, -1.0], "high": [1.0, 1.0]}
    assert genomes.mlp(4, 2).structural_hash() != genomes.mlp(4, box).structural_hash()


def test_summary_lists_every_node_and_totals() -> None:
    g = skip_genome()
    text = g.summary()
    lines = text.splitlines()
    assert lines[0].split() == ["node", "kind", "units", "activation", "inputs", "params"]
    rows = {line.split()[0]: line.split() for line in lines[1:-1]}
    assert set(rows) == set(g.graph.nodes)
    assert rows["b"] == ["b", "hidden", "5", "tanh", "a,input", "40"]
    assert rows["input"][3] == "-"
    assert lines[-1] == "total: 73 parameters (policy 68, value 21); 61 MACs (policy 57)"
    assert "params=73" in repr(g)

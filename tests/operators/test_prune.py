"""prune_units and remove_node: lossy, with the change measured and reported."""

from __future__ import annotations

import numpy as np
import pytest

import genomes
from operators import NotApplicable, prune_units, remove_node, unit_importance
from operators.base import delete_units, output_change
from operators.testing import check_preservation


def test_prune_reports_the_measured_change() -> None:
    g = genomes.mlp(4, 2, hidden=[8, 8])
    x = np.random.default_rng(1).standard_normal((50, 4))
    child = prune_units(g, rng=np.random.default_rng(0), node="h1", units=3, inputs=x)
    assert child.units("h1") == 5
    reported = child.meta["lineage"]["params"]["output_change"]
    assert reported == output_change(g, child, x)
    report = check_preservation(
        prune_units, g, np.random.default_rng(0), preservation="lossy", params={"inputs": x}
    )
    assert report.ok


def test_prune_removes_a_dead_unit_exactly_with_compensation() -> None:
    g = genomes.mlp(4, 2, hidden=[6], activation="tanh", shared=True)
    g.graph.edges["input", "h0"]["weight"][2] = 0.0  # unit 2 is constant tanh(b_2)
    g.graph.nodes["h0"]["bias"][2] = 0.7
    x = np.random.default_rng(1).standard_normal((50, 4))
    for criterion in ("taylor", "magnitude"):
        score = unit_importance(g, "h0", x, criterion)
        if criterion == "taylor":
            assert int(np.argmin(score)) == 2
    child = prune_units(g, rng=np.random.default_rng(0), node="h0", inputs=x)
    assert child.meta["lineage"]["params"]["removed"] == [2]
    assert child.meta["lineage"]["params"]["output_change"]["max_abs"] < 1e-12


def test_taylor_pruning_beats_random_removal() -> None:
    g = genomes.mlp(4, 2, hidden=[16], activation="tanh", shared=True, seed=3)
    x = np.random.default_rng(1).standard_normal((200, 4))
    taylor = prune_units(g, rng=np.random.default_rng(0), node="h0", units=4, inputs=x)
    t_change = taylor.meta["lineage"]["params"]["output_change"]["rms"]
    rng = np.random.default_rng(5)
    rand = []
    for _ in range(10):
        drop = rng.choice(16, size=4, replace=False)
        child = g.copy()
        delete_units(child, "h0", sorted(drop.tolist()))
        rand.append(output_change(g, child, x)["rms"])
    assert t_change < np.mean(rand)


def test_remove_node_is_exact_for_identity_and_bridges_edges() -> None:
    g = genomes.mlp(3, 2, hidden=[4, 5], activation="identity", shared=True)
    x = np.random.default_rng(1).standard_normal((80, 3))
    for bridge in ("linear", "lstsq"):
        child = remove_node(g, rng=np.random.default_rng(0), node="h1", inputs=x, bridge=bridge)
        assert "h1" not in child.graph and child.graph.has_edge("h0", "policy")
        assert child.meta["lineage"]["params"]["output_change"]["max_abs"] < 1e-8


def test_remove_node_lstsq_beats_linear_bridge_for_tanh() -> None:
    g = genomes.mlp(3, 2, hidden=[6, 6], activation="tanh", shared=True, seed=2)
    x = np.random.default_rng(1).standard_normal((200, 3))
    rms = {
        b: remove_node(g, rng=np.random.default_rng(0), node="h1", inputs=x, bridge=b).meta[
            "lineage"
        ]["params"]["output_change"]["rms"]
        for b in ("linear", "lstsq")
    }
    assert rms["lstsq"] < rms["linear"]


def test_prune_needs_two_units() -> None:
    g = genomes.mlp(3, 2, hidden=[1], shared=True)
    with pytest.raises(NotApplicable):
        prune_units(g, rng=np.random.default_rng(0))

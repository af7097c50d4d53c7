"""The contract test: every registered operator keeps its declared preservation class."""

from __future__ import annotations

import numpy as np
import pytest

import genomes
from genomes import Genome
from genomes.registry import ACTIVATIONS
from operators import REGISTRY, NotApplicable
from operators.testing import check_preservation


def test_random_genomes_cover_the_cases(random_genomes: list[Genome]) -> None:
    acts = {
        genome.graph.nodes[v]["activation"]
        for genome in random_genomes
        for v in genome.hidden_nodes
    }
    assert acts == set(ACTIVATIONS)
    assert any(g.is_continuous for g in random_genomes)
    assert any(not g.is_continuous for g in random_genomes)
    assert any(any(g.graph.in_degree(v) > 1 for v in g.hidden_nodes) for g in random_genomes)
    skip = [
        g
        for g in random_genomes
        if g.graph.has_edge(g.input_node, g.policy_node) and g.hidden_nodes
    ]
    assert skip
    shared = [
        g
        for g in random_genomes
        if set(g.graph.predecessors(g.policy_node)) == set(g.graph.predecessors(g.value_node))
    ]
    assert 0 < len(shared) < len(random_genomes)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_operator_preserves_its_class(name: str, random_genomes: list[Genome]) -> None:
    spec = REGISTRY[name]
    applied, ratios = 0, []
    for seed, genome in enumerate(random_genomes):
        rng = np.random.default_rng(seed)
        try:
            report = check_preservation(
                spec.fn, genome, rng, preservation=spec.preservation, eps=1e-3
            )
        except NotApplicable:
            assert not spec.sites(genome), f"{name} raised NotApplicable with sites available"
            continue
        assert report.ok, (seed, report.failures, report.changes)
        applied += 1
        ratios += [report.changes["ratio"]] if "ratio" in report.changes else []
    assert applied >= 150
    if spec.preservation == "eps2":
        # change(eps) / change(eps/2) is about 4 (O(eps^2)) across genomes
        assert len(ratios) >= 100
        assert 3.8 < float(np.median(ratios)) < 4.2


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_operator_is_pure_and_records_lineage(name: str, random_genomes: list[Genome]) -> None:
    spec = REGISTRY[name]
    for seed, genome in enumerate(random_genomes[:40]):
        if not spec.sites(genome):
            with pytest.raises(NotApplicable):
                spec.fn(genome, rng=np.random.default_rng(seed))
            continue
        parent = genome.copy()
        parent.meta["lineage"]["id"] = "parent-id"
        before = genomes.dumps(parent)
        child = spec.fn(parent, rng=np.random.default_rng(seed))
        assert genomes.dumps(parent) == before
        lineage = child.meta["lineage"]
        assert lineage["operator"] == name
        assert lineage["parents"] == ["parent-id"]
        assert isinstance(lineage["id"], str) and len(lineage["id"]) == 16
        again = spec.fn(parent, rng=np.random.default_rng(seed))
        assert genomes.dumps(again) == genomes.dumps(child)  # seeded: reproducible
        genomes.loads(genomes.dumps(child))  # round trip of the lineage params


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_operator_keeps_dropped_inputs_dropped(name: str, dropped_genomes: list[Genome]) -> None:
    """On genomes that drop input features, every operator keeps its class and the drop."""
    assert len(dropped_genomes) == 60
    spec = REGISTRY[name]
    applied, ratios = 0, []
    for seed, genome in enumerate(dropped_genomes):
        if not spec.sites(genome):
            continue
        rng = np.random.default_rng(seed)
        report = check_preservation(spec.fn, genome, rng, preservation=spec.preservation)
        if "ratio" in report.changes:
            # a split across the kink of elu/relu-like units is not O(eps^2) on every
            # genome (with or without dropped features): judge the ratios together
            ratios.append(report.changes["ratio"])
            assert all(f.startswith("change ratio") for f in report.failures), report.failures
        else:
            assert report.ok, (seed, report.failures, report.changes)
        child = spec.fn(genome, rng=np.random.default_rng(seed))
        assert set(genome.dropped_inputs) <= set(child.dropped_inputs)
        for v in child.graph.successors(child.input_node):
            assert not child.graph.edges[child.input_node, v]["weight"][
                :, child.dropped_inputs
            ].any()
        applied += 1
    assert applied >= 40
    if ratios:
        assert 3.8 < float(np.median(ratios)) < 4.2
        assert np.mean([3 <= r <= 5 for r in ratios]) > 0.9


def test_eps_growth_is_not_exact_for_positive_eps(random_genomes: list[Genome]) -> None:
    spec = REGISTRY["grow_units"]
    changed = 0
    for seed, genome in enumerate(random_genomes[:30]):
        if spec.sites(genome):
            report = check_preservation(
                spec.fn,
                genome,
                np.random.default_rng(seed),
                preservation="exact",
                params={"eps": 0.5},
            )
            changed += not report.ok
    assert changed > 10  # the checker can fail: eps > 0 really changes the function

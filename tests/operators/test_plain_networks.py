"""A NAS user's plain network (no value head, no log_std) goes through every operator."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import genomes
import operators
from genomes import Genome
from operators import REGISTRY, NotApplicable
from operators.testing import check_preservation, random_genome


def regression_networks() -> list[Genome]:
    """What a user builds with ``genomes`` alone: a factory net and an imported Sequential."""
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 6), nn.Tanh(), nn.Linear(6, 1))
    return [
        genomes.network(3, 1, hidden=[8, 8], activation="relu"),
        genomes.network(4, 2, hidden=[5], activation="tanh", seed=3),
        genomes.network((2, 2), 1, hidden=[], seed=1),  # a linear model
        genomes.from_sequential(seq),
    ]


@pytest.fixture(scope="module")
def plain_genomes() -> list[Genome]:
    """Random plain networks: skips, multi-input nodes, every activation."""
    torch.set_num_threads(1)
    return [random_genome(np.random.default_rng(seed), value_head=False) for seed in range(60)]


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_user_regression_network_passes_check_preservation(name: str) -> None:
    spec = REGISTRY[name]
    applied = 0
    for seed, genome in enumerate(regression_networks()):
        assert genome.is_plain
        rng = np.random.default_rng(seed)
        params = {}
        if spec.preservation == "lossy":
            # real inputs: the reported output change must equal the measured one
            params["inputs"] = rng.standard_normal((64, genome.units(genome.input_node)))
        try:
            report = check_preservation(
                spec.fn, genome, rng, preservation=spec.preservation, params=params
            )
        except NotApplicable:
            assert not spec.sites(genome), f"{name} raised NotApplicable with sites available"
            continue
        assert report.ok, (seed, report.failures, report.changes)
        child = spec.fn(genome, rng=np.random.default_rng(seed), **params)
        assert child.is_plain and "log_std" not in child.graph.nodes[child.output_node]
        applied += 1
    assert applied >= 3  # the linear model has no hidden node for most operators


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_operator_keeps_its_class_on_random_plain_networks(
    name: str, plain_genomes: list[Genome]
) -> None:
    spec = REGISTRY[name]
    applied = 0
    for seed, genome in enumerate(plain_genomes):
        rng = np.random.default_rng(seed)
        try:
            report = check_preservation(spec.fn, genome, rng, preservation=spec.preservation)
        except NotApplicable:
            assert not spec.sites(genome), f"{name} raised NotApplicable with sites available"
            continue
        assert report.ok, (seed, report.failures, report.changes)
        applied += 1
    assert applied >= 40


def test_mutate_and_firefly_grow_keep_a_plain_network_plain() -> None:
    rng = np.random.default_rng(0)
    g = genomes.network(3, 1, hidden=[4])
    for _ in range(15):
        g = operators.mutate(g, rng)
        assert g.is_plain
    x = torch.randn(128, 3)
    y = torch.sin(x).sum(dim=1, keepdim=True)

    def mse(module: torch.nn.Module) -> torch.Tensor:
        out, value = module(x)
        assert value is None
        return ((out - y) ** 2).mean()

    grown = operators.firefly_grow(g, mse, rng=rng, eps=1e-2)
    assert grown.is_plain and grown.num_params() > g.num_params()
    with torch.no_grad():
        before, after = float(mse(g.compile())), float(mse(grown.compile()))
    assert after < before  # the chosen growth step lowers the regression loss

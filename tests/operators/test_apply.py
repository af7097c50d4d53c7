"""OperatorSpec.apply: every registered operator at every kind of site, sites listed once."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import genomes
import operators.inputs
import operators.prune
import operators.structure
import operators.units
from genomes import Genome
from operators import REGISTRY, NotApplicable, OperatorSpec, mutate
from operators.spec import SITE_PARAMS, Site

SITE_FUNCTIONS = [
    (operators.units, "widen_sites"),
    (operators.units, "split_sites"),
    (operators.structure, "deepen_sites"),
    (operators.structure, "add_layer_sites"),
    (operators.structure, "add_skip_sites"),
    (operators.prune, "prune_sites"),
    (operators.prune, "remove_node_sites"),
    (operators.inputs, "drop_input_sites"),
]


def _recorded_site(spec: OperatorSpec, child: Genome) -> Site:
    """The site as the child's lineage records it."""
    params = child.meta["lineage"]["params"]
    parts = tuple(params[k] for k in SITE_PARAMS[spec.site_kind])
    return parts if len(parts) > 1 else parts[0]


@pytest.fixture
def sites_never_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Operators given a site must check just that site, not list all of them."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an operator listed its sites although it was given one")

    for module, name in SITE_FUNCTIONS:
        monkeypatch.setattr(module, name, refuse)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_apply_at_every_site(
    name: str,
    random_genomes: list[Genome],
    dropped_genomes: list[Genome],
    sites_never_listed: None,
) -> None:
    spec = REGISTRY[name]  # holds the real site functions, the modules' names are patched
    applied = 0
    for seed, genome in enumerate(random_genomes[:25] + dropped_genomes[:10]):
        sites = list(spec.sites(genome))
        for site in sites[:6]:
            child = spec.apply(genome, site, rng=np.random.default_rng(seed))
            assert child.meta["lineage"]["operator"] == name
            assert _recorded_site(spec, child) == site
            applied += 1
    assert applied >= 60


def _non_site(spec: OperatorSpec, genome: Genome) -> Site:
    """A well-formed site of the right type that ``genome`` does not offer."""
    kind = spec.site_kind
    if kind == "node":
        return "no-such-node"
    if kind == "feature":
        return genome.units(genome.input_node)
    if kind == "edge":
        return (genome.policy_node, genome.input_node)
    return (genome.hidden_nodes[0], genome.units(genome.hidden_nodes[0]))


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_apply_refuses_a_site_not_offered_and_a_malformed_one(name: str) -> None:
    spec = REGISTRY[name]
    g = genomes.mlp(3, 2, hidden=[4, 4], shared=True)
    rng = np.random.default_rng(0)
    with pytest.raises(NotApplicable, match="not applicable"):
        spec.apply(g, _non_site(spec, g), rng=rng)
    malformed: Any = {"node": 3, "feature": "x", "edge": "input", "unit": ("h0", "1")}
    with pytest.raises(ValueError, match="expected site"):
        spec.apply(g, malformed[spec.site_kind], rng=rng)
    site = spec.sites(g)[0]
    again = dict(spec.site_params(site))
    with pytest.raises(ValueError, match="not in params"):
        spec.apply(g, site, rng=rng, **again)
    with pytest.raises(ValueError, match="rng"):
        spec.apply(g, site, rng=0)  # type: ignore[arg-type]


def test_apply_accepts_a_list_for_a_tuple_site_and_passes_params() -> None:
    g = genomes.mlp(3, 2, hidden=[4], shared=True)
    site: Any = ["h0", 2]  # as JSON lineage gives it back
    child = REGISTRY["split"].apply(g, site, rng=np.random.default_rng(0), eps=0.5)
    assert child.meta["lineage"]["params"]["unit"] == 2
    assert child.meta["lineage"]["params"]["eps"] == 0.5
    child = REGISTRY["add_layer"].apply(g, ("h0", "policy"), rng=np.random.default_rng(0), units=3)
    assert child.units(child.meta["lineage"]["params"]["new_node"]) == 3


def test_mutate_lists_each_operators_sites_once(random_genomes: list[Genome]) -> None:
    calls: dict[str, int] = {}

    def counted(spec: OperatorSpec) -> OperatorSpec:
        def sites(genome: Genome) -> Any:
            calls[spec.name] = calls.get(spec.name, 0) + 1
            return spec.sites(genome)

        return OperatorSpec(
            spec.name, spec.fn, sites, spec.preservation, spec.eps_param, spec.grows, spec.site_kind
        )

    registry = {name: counted(spec) for name, spec in REGISTRY.items()}
    for seed, genome in enumerate(random_genomes[:20]):
        for name in registry:
            calls.clear()
            try:
                mutate(genome, np.random.default_rng(seed), weights={name: 1.0}, registry=registry)
            except NotApplicable:
                pass
            assert calls == {name: 1}


def test_operator_spec_rejects_an_unknown_site_kind() -> None:
    spec = REGISTRY["widen"]
    with pytest.raises(ValueError, match="site_kind"):
        OperatorSpec("w", spec.fn, spec.sites, "exact", site_kind="layer")  # type: ignore[arg-type]

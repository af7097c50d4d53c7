"""NotApplicable means "no such site on this genome"; a malformed argument is a ValueError."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import genomes
from genomes import Genome
from operators import (
    REGISTRY,
    NotApplicable,
    add_layer,
    add_skip,
    deepen,
    drop_input,
    firefly_grow,
    grow_units,
    mutate,
    prune_units,
    remove_node,
    split,
    unit_importance,
    widen,
)


def _genome() -> Genome:
    g = genomes.mlp(3, 2, hidden=[4, 1], activation="tanh", shared=True)
    g.meta["dropped_inputs"] = [1]
    for v in g.graph.successors("input"):
        g.graph.edges["input", v]["weight"][:, 1] = 0.0
    return g.validate()


# (operator, keyword arguments, the argument the message must name)
MALFORMED: list[tuple[Any, dict[str, Any], str]] = [
    (widen, {"units": 0}, "units"),
    (widen, {"units": -2}, "units"),
    (widen, {"units": 1.5}, "units"),
    (widen, {"units": True}, "units"),
    (widen, {"noise": -0.1}, "noise"),
    (widen, {"noise": float("nan")}, "noise"),
    (widen, {"node": 0}, "node"),
    (split, {"eps": -1e-2}, "eps"),
    (split, {"node": "h0", "unit": -1}, "unit"),
    (split, {"unit": 1}, "node with unit"),
    (split, {"node": "h0", "unit": 0, "delta": [1.0, 2.0]}, "delta"),
    (split, {"node": "h0", "unit": 0, "delta": [np.nan, 0.0, 0.0, 0.0]}, "delta"),
    (grow_units, {"units": 0}, "units"),
    (grow_units, {"eps": -1.0}, "eps"),
    (deepen, {"mode": "residual"}, "mode"),
    (deepen, {"node": ("h0",)}, "node"),
    (add_layer, {"source": "h0"}, "source and target"),
    (add_layer, {"units": 0}, "units"),
    (add_layer, {"activation": "swish2"}, "activation"),
    (add_layer, {"eps": -0.5}, "eps"),
    (add_skip, {"target": "policy"}, "source and target"),
    (add_skip, {"source": 1, "target": 2}, "source"),
    (prune_units, {"units": 0}, "units"),
    (prune_units, {"criterion": "l1"}, "criterion"),
    (prune_units, {"compensate": "yes"}, "compensate"),
    (prune_units, {"inputs": np.zeros((4, 5))}, "inputs"),
    (prune_units, {"inputs": np.zeros((0, 3))}, "inputs"),
    (prune_units, {"inputs": np.full((4, 3), np.inf)}, "inputs"),
    (remove_node, {"bridge": "cubic"}, "bridge"),
    (remove_node, {"inputs": [[1.0, 2.0]]}, "inputs"),
    (drop_input, {"feature": -1}, "feature"),
    (drop_input, {"feature": 1.0}, "feature"),
    (drop_input, {"feature": "x0"}, "feature"),
    (drop_input, {"inputs": np.ones((3, 2))}, "inputs"),
]

# (operator, keyword arguments): well formed, but not a site of _genome()
NOT_A_SITE: list[tuple[Any, dict[str, Any]]] = [
    (widen, {"node": "policy"}),
    (widen, {"node": "nope"}),
    (split, {"node": "h0", "unit": 4}),
    (split, {"node": "input", "unit": 0}),
    (grow_units, {"node": "value"}),
    (deepen, {"node": "policy"}),
    (deepen, {"node": "h0", "mode": "identity"}),  # tanh: no identity layer
    (add_layer, {"source": "input", "target": "policy"}),  # no such edge
    (add_skip, {"source": "input", "target": "h0"}),  # the edge exists
    (add_skip, {"source": "h1", "target": "h0"}),  # a cycle
    (add_skip, {"source": "h0", "target": "h0"}),
    (prune_units, {"node": "h1"}),  # one unit
    (remove_node, {"node": "input"}),
    (drop_input, {"feature": 3}),
    (drop_input, {"feature": 1}),  # dropped already
]


@pytest.mark.parametrize(("op", "params", "named"), MALFORMED)
def test_a_malformed_argument_is_a_value_error_naming_it(
    op: Any, params: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValueError, match=named) as info:
        op(_genome(), rng=np.random.default_rng(0), **params)
    assert not isinstance(info.value, NotApplicable)
    assert "expected" in str(info.value)


@pytest.mark.parametrize(("op", "params"), NOT_A_SITE)
def test_a_site_the_genome_does_not_offer_is_not_applicable(
    op: Any, params: dict[str, Any]
) -> None:
    with pytest.raises(NotApplicable, match="not applicable"):
        op(_genome(), rng=np.random.default_rng(0), **params)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_operator_checks_rng_and_refuses_only_missing_sites(name: str) -> None:
    spec = REGISTRY[name]
    with pytest.raises(ValueError, match="rng"):
        spec.fn(_genome(), rng=0)  # type: ignore[arg-type]  # mypy catches it too
    minimal = genomes.minimal(1, 2)
    minimal.meta["dropped_inputs"] = []
    if spec.sites(minimal):
        spec.fn(minimal, rng=np.random.default_rng(0))
    else:
        with pytest.raises(NotApplicable, match="no site"):
            spec.fn(minimal, rng=np.random.default_rng(0))


def test_firefly_grow_arguments() -> None:
    g = _genome()
    x = torch.randn(8, 3)

    def loss(m: torch.nn.Module) -> torch.Tensor:
        out: torch.Tensor = m(x)[0].pow(2).mean()
        return out

    rng = np.random.default_rng(0)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"eps": -1.0}, "eps"),
        ({"split_eps": float("inf")}, "split_eps"),
        ({"k": 0}, "k"),
        ({"fraction": -0.1}, "fraction"),
        ({"candidates": ("splot",)}, "candidates"),
        ({"candidates": "split"}, "candidates"),
        ({"candidates": ()}, "candidates"),
        ({"new_per_node": -1}, "new_per_node"),
        ({"layer_units": 0}, "layer_units"),
        ({"selection": "best"}, "selection"),
        ({"dtype": torch.int64}, "dtype"),
    ]
    for params, named in cases:
        with pytest.raises(ValueError, match=named):
            firefly_grow(g, loss, rng=rng, **params)
    with pytest.raises(ValueError, match="loss_fn"):
        firefly_grow(g, "loss", rng=rng)  # type: ignore[arg-type]
    with pytest.raises(NotApplicable, match="no site"):
        firefly_grow(genomes.minimal(3, 2), loss, rng=rng, candidates=("split", "grow"))


def test_mutate_and_unit_importance_arguments() -> None:
    g = _genome()
    with pytest.raises(ValueError, match="weights"):
        mutate(g, np.random.default_rng(0), weights={"widen": -1.0})
    with pytest.raises(ValueError, match="weights"):
        mutate(g, np.random.default_rng(0), weights={"widen": float("nan")})
    with pytest.raises(KeyError, match="nope"):
        mutate(g, np.random.default_rng(0), weights={"nope": 1.0})
    with pytest.raises(ValueError, match="rng"):
        mutate(g, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="criterion"):
        unit_importance(g, "h0", np.ones((2, 3)), "l1")  # type: ignore[arg-type]

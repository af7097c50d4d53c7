"""widen, split, grow_units: specific behaviour beyond the contract test."""

from __future__ import annotations

import numpy as np
import pytest

import genomes
from operators import NotApplicable, grow_units, split, widen
from operators.base import output_change


def test_widen_fixes_every_outgoing_edge_including_heads() -> None:
    g = genomes.mlp(3, 2, hidden=[4, 4], shared=True)
    g.add_edge("h0", "policy", np.ones((2, 4)))  # h0 feeds h1 and the policy head
    child = widen(g, rng=np.random.default_rng(0), node="h0", units=3)
    assert child.units("h0") == 7
    for w in ("h1", "policy"):
        assert child.graph.edges["h0", w]["weight"].shape[1] == 7
    x = np.random.default_rng(1).standard_normal((16, 3))
    assert output_change(g, child, x)["max_abs"] < 1e-12


def test_widen_noise_breaks_symmetry_and_stays_exact() -> None:
    g = genomes.mlp(3, 2, hidden=[4], activation="relu", shared=True)
    child = widen(g, rng=np.random.default_rng(0), node="h0", units=2, noise=0.3)
    copied = child.meta["lineage"]["params"]["copied"]
    w = child.graph.edges["h0", "policy"]["weight"]
    assert not np.allclose(w[:, 4], w[:, copied[0]])
    x = np.random.default_rng(1).standard_normal((16, 3))
    assert output_change(g, child, x)["max_abs"] < 1e-12


def test_split_change_is_second_order_and_zero_for_identity_units() -> None:
    g = genomes.mlp(3, 2, hidden=[4], activation="tanh", shared=True)
    x = np.random.default_rng(1).standard_normal((32, 3))
    changes = [
        output_change(g, split(g, rng=np.random.default_rng(0), node="h0", unit=2, eps=e), x)[
            "max_abs"
        ]
        for e in (1e-2, 5e-3, 2.5e-3)
    ]
    assert 3.9 < changes[0] / changes[1] < 4.1
    assert 3.9 < changes[1] / changes[2] < 4.1
    lin = genomes.mlp(3, 2, hidden=[4], activation="identity", shared=True)
    child = split(lin, rng=np.random.default_rng(0), node="h0", eps=0.5)
    assert output_change(lin, child, x)["max_abs"] < 1e-12


def test_split_uses_the_given_direction() -> None:
    g = genomes.mlp(3, 2, hidden=[4], shared=True)
    delta = [1.0, 0.0, 0.0, 0.0]
    child = split(g, rng=np.random.default_rng(0), node="h0", unit=1, eps=0.1, delta=delta)
    w0, w1 = g.graph.edges["input", "h0"]["weight"], child.graph.edges["input", "h0"]["weight"]
    assert np.isclose(w1[1, 0] - w0[1, 0], 0.1) and np.isclose(w1[4, 0] - w0[1, 0], -0.1)
    with pytest.raises(ValueError, match="delta of shape"):
        split(g, rng=np.random.default_rng(0), node="h0", unit=1, delta=[1.0])


def test_unit_operators_refuse_heads_and_missing_sites() -> None:
    g = genomes.minimal(3, 2)
    for op in (widen, split, grow_units):
        with pytest.raises(NotApplicable):
            op(g, rng=np.random.default_rng(0))
    with pytest.raises(NotApplicable, match="policy"):
        widen(genomes.mlp(3, 2, hidden=[4]), rng=np.random.default_rng(0), node="policy")


def test_grow_units_change_is_first_order() -> None:
    g = genomes.mlp(3, 2, hidden=[4], shared=True)
    x = np.random.default_rng(1).standard_normal((32, 3))
    a, b = (
        output_change(g, grow_units(g, rng=np.random.default_rng(0), node="h0", eps=e), x)[
            "max_abs"
        ]
        for e in (1e-2, 5e-3)
    )
    assert 1.9 < a / b < 2.1

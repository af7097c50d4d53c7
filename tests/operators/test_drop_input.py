"""drop_input: below the linear floor, with the dropped features kept out of counts and training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import genomes
from genomes import Genome
from operators import (
    REGISTRY,
    NotApplicable,
    drop_input,
    drop_input_sites,
    mutate,
    output_change,
    widen,
)
from operators.base import outputs
from operators.testing import check_preservation

X = np.random.default_rng(1).standard_normal((64, 8))


def _cartpole_with_noise() -> Genome:
    """A linear CartPole agent on 4 real features and 4 appended noise features it ignores."""
    g = genomes.minimal(8, 2, seed=0)
    for v in g.graph.successors("input"):
        g.graph.edges["input", v]["weight"][:, 4:] = 0.0
    return g


def test_dropping_a_feature_whose_weights_are_zero_is_exact() -> None:
    g = _cartpole_with_noise()
    child = g
    for j in (4, 5, 6, 7):
        for inputs in (None, X):
            step = drop_input(child, rng=np.random.default_rng(j), feature=j, inputs=inputs)
            assert step.meta["lineage"]["params"]["output_change"]["max_abs"] == 0.0
        child = step
    assert output_change(g, child, X)["max_abs"] == 0.0
    assert child.dropped_inputs == [4, 5, 6, 7]
    # the linear floor goes from (8 + 1) * 2 = 18 policy parameters to (4 + 1) * 2 = 10
    assert (g.num_params("policy"), child.num_params("policy")) == (18, 10)
    assert (g.num_params(), child.num_params()) == (27, 15)
    assert child.macs("policy") == 8
    assert child.structural_hash() != g.structural_hash()
    assert drop_input_sites(child) == [0, 1, 2, 3]


def test_the_dropped_feature_no_longer_affects_the_outputs() -> None:
    g = genomes.mlp(8, 3, hidden=[6], activation="tanh", seed=2)  # separate trunks
    child = drop_input(g, rng=np.random.default_rng(0), feature=2)
    moved = X.copy()
    moved[:, 2] += 10 * np.random.default_rng(3).standard_normal(len(X))
    assert np.array_equal(outputs(child, X), outputs(child, moved))
    assert not np.array_equal(outputs(g, X), outputs(g, moved))
    for v in child.graph.successors("input"):  # value trunk included
        assert not child.graph.edges["input", v]["weight"][:, 2].any()
    assert g.num_params("policy") - child.num_params("policy") == g.units("h0")


def test_lineage_records_the_feature_and_the_measured_change() -> None:
    g = genomes.mlp(8, 2, hidden=[4], seed=1)
    child = drop_input(g, rng=np.random.default_rng(0), feature=5, inputs=X)
    lineage = child.meta["lineage"]
    assert lineage["operator"] == "drop_input"
    params = lineage["params"]
    assert params["feature"] == 5 and params["inputs"] == "given" and params["n_inputs"] == 64
    assert params["output_change"] == output_change(g, child, X)
    assert params["output_change"]["max_abs"] > 0
    report = check_preservation(
        drop_input, g, np.random.default_rng(0), preservation="lossy", params={"inputs": X}
    )
    assert report.ok, report.failures
    assert genomes.loads(genomes.dumps(child)).dropped_inputs == [5]


def test_compensation_drops_a_constant_feature_exactly() -> None:
    g = genomes.mlp(8, 2, hidden=[4], activation="tanh", seed=1)
    x = X.copy()
    x[:, 3] = 0.7
    kept = drop_input(g, rng=np.random.default_rng(0), feature=3, inputs=x)
    assert kept.meta["lineage"]["params"]["output_change"]["max_abs"] < 1e-12
    plain = drop_input(g, rng=np.random.default_rng(0), feature=3, inputs=x, compensate=False)
    assert plain.meta["lineage"]["params"]["output_change"]["max_abs"] > 1e-3


def test_training_cannot_revive_dropped_weights() -> None:
    g = drop_input(genomes.mlp(8, 2, hidden=[4], seed=0), rng=np.random.default_rng(0), feature=6)
    module = g.compile(dtype=torch.float64)
    opt = torch.optim.Adam(module.parameters(), lr=0.1)
    x = torch.as_tensor(X)
    for _ in range(5):
        opt.zero_grad()
        pol, val = module(x)
        assert val is not None
        (pol.pow(2).sum() + val.sum()).backward()
        opt.step()
    fused = module.weights[module.node_names.index("h0")]
    assert not fused[6].any()  # the row that reads feature 6 got no gradient
    trained = g.with_weights_from(module)
    assert trained.validate().dropped_inputs == [6]
    assert trained.num_params() == g.num_params()
    assert not np.array_equal(trained.graph.nodes["h0"]["bias"], g.graph.nodes["h0"]["bias"])


def test_weights_written_back_from_a_module_stay_zero() -> None:
    g = drop_input(genomes.minimal(8, 2, seed=0), rng=np.random.default_rng(0), feature=1)
    module = g.compile(dtype=torch.float64)
    with torch.no_grad():
        module.weights[module.node_names.index("policy")][1] = 5.0  # e.g. a hand-written pass
    back = g.with_weights_from(module)
    assert not back.graph.edges["input", "policy"]["weight"][:, 1].any()
    with torch.no_grad():
        assert np.allclose(module(torch.as_tensor(X))[0].numpy(), outputs(back, X)[:, :2])


def test_validate_rejects_weights_on_a_dropped_feature_and_a_malformed_list() -> None:
    g = drop_input(genomes.minimal(4, 2), rng=np.random.default_rng(0), feature=0)
    g.graph.edges["input", "value"]["weight"][0, 0] = 1.0
    with pytest.raises(genomes.InputError, match="dropped input feature 0"):
        g.validate()
    for bad in ([4], [2, 1], [1, 1], ["1"], 1, [True]):
        h = genomes.minimal(4, 2)
        h.meta["dropped_inputs"] = bad
        with pytest.raises(genomes.InputError, match="dropped_inputs"):
            h.validate()


def test_every_feature_can_go_and_then_there_is_no_site() -> None:
    g = genomes.mlp(3, 2, hidden=[4], shared=True)
    rng = np.random.default_rng(0)
    for _ in range(3):
        g = mutate(g, rng, weights={"drop_input": 1.0})
    assert g.dropped_inputs == [0, 1, 2]
    assert g.num_params("policy") == 4 + 2 * 4 + 2  # biases and h0 -> policy
    assert np.ptp(outputs(g, X[:, :3]), axis=0).max() == 0.0  # a constant policy
    with pytest.raises(NotApplicable, match="no site"):
        drop_input(g, rng=rng)
    assert not REGISTRY["drop_input"].grows


def test_growth_after_a_drop_keeps_it() -> None:
    g = drop_input(
        genomes.mlp(5, 2, hidden=[4], activation="relu", shared=True),
        rng=np.random.default_rng(0),
        feature=2,
    )
    rng = np.random.default_rng(1)
    for name in ("grow_units", "split", "deepen", "add_layer", "add_skip", "remove_node"):
        for seed in range(5):
            child = REGISTRY[name].fn(g, rng=np.random.default_rng(seed))
            assert child.dropped_inputs == [2]
            x = rng.standard_normal((16, 5))
            moved = x.copy()
            moved[:, 2] = 100.0
            assert np.array_equal(outputs(child, x), outputs(child, moved)), name
    widened = widen(g, rng=rng, node="h0", units=3)
    assert widened.num_params("policy") - g.num_params("policy") == 3 * (4 + 1 + 2)

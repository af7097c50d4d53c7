"""Plain networks (one output head, no value head, no log_std) and tuple shapes in spaces."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import genomes
from genomes import Genome, GenomeError, HeadError
from genomes.testing import random_genome


def test_network_is_a_plain_regression_network() -> None:
    g = genomes.network(3, 1, hidden=[8, 4], activation="relu", seed=1)
    assert g.is_plain and not genomes.mlp(3, 2).is_plain
    assert g.nodes_of_kind("value") == []
    assert g.output_node == g.policy_node == "output"
    assert "log_std" not in g.graph.nodes["output"]
    assert g.meta["action_space"] == {"type": "box", "shape": [1]}
    assert g.num_params() == g.num_params("policy") == (3 * 8 + 8) + (8 * 4 + 4) + (4 + 1)
    assert g.num_params("value") == 0
    assert g.macs() == g.macs("policy") == 3 * 8 + 8 * 4 + 4
    assert g.summary().splitlines()[-1] == f"total: {g.num_params()} parameters; {g.macs()} MACs"
    with pytest.raises(HeadError, match="plain network"):
        _ = g.value_node


def test_compiled_plain_network_returns_out_and_none() -> None:
    g = genomes.network((2, 3), 2, hidden=[5])
    m = g.compile(dtype=torch.float64)
    x = torch.randn(7, 2, 3, dtype=torch.float64)
    out, value = m(x)
    assert value is None and m.log_std is None and m.plain
    assert out.shape == (7, 2)
    assert torch.equal(m.policy(x), out)
    # the same function by hand: h = tanh(W0 x + b0), out = W1 h + b1
    w0, w1 = g.graph.edges["input", "h0"]["weight"], g.graph.edges["h0", "output"]["weight"]
    ref = np.tanh(x.reshape(7, 6).numpy() @ w0.T) @ w1.T
    assert np.allclose(out.detach().numpy(), ref, atol=1e-12)
    with pytest.raises(GenomeError, match="plain network"):
        m.value(x)
    with pytest.raises(GenomeError, match="value head"):
        g.compile(part="value")
    policy_only = g.compile(dtype=torch.float64, part="policy")
    assert torch.equal(policy_only(x)[0], out)


def test_trained_weights_write_back_into_a_plain_network() -> None:
    g = genomes.network(3, 2, hidden=[4])
    m = g.compile()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.25)
    back = g.with_weights_from(m)
    assert back.is_plain
    x = torch.randn(5, 3)
    assert torch.equal(back.compile()(x)[0], m(x)[0])


def test_plain_network_round_trips_bitwise(tmp_path: Path) -> None:
    for seed in range(20):
        g = random_genome(np.random.default_rng(seed), value_head=False, random_names=True)
        text = genomes.dumps(g)
        back = genomes.loads(text)
        assert back.is_plain
        assert genomes.dumps(back) == text
        assert back.structural_hash() == g.structural_hash()
    g = genomes.network(4, 3, hidden=[6])
    path = genomes.save(g, tmp_path / "net.json")
    assert genomes.dumps(genomes.load(path)) == genomes.dumps(g)


def test_plain_network_to_pyg() -> None:
    g = genomes.network(3, 1, hidden=[8])
    data = genomes.to_pyg(g)
    assert data.node_names == ["input", "h0", "output"]
    assert data.x[:, genomes.KINDS["value"].index].sum() == 0
    assert data.x[2, genomes.KINDS["policy"].index] == 1
    assert int(data.num_params) == int(data.num_params_policy) == g.num_params()


def test_plain_network_rejects_log_std() -> None:
    g = genomes.network(3, 2, hidden=[])
    g.graph.nodes["output"]["log_std"] = np.zeros(2)
    with pytest.raises(HeadError, match="no log_std in a plain network"):
        g.validate()


def test_network_accepts_class_logits() -> None:
    g = genomes.network(4, {"type": "discrete", "n": 3}, hidden=[8])
    assert g.is_plain and not g.is_continuous
    assert g.units(g.output_node) == 3


def test_tuple_and_int_shapes_inside_space_dicts() -> None:
    lists = genomes.mlp({"type": "box", "shape": [3]}, 2, hidden=[4])
    for shape in [(3,), 3, np.int64(3), [np.int64(3)]]:
        g = genomes.mlp({"type": "box", "shape": shape}, 2, hidden=[4])
        assert g.meta["observation_space"] == {"type": "box", "shape": [3]}
        assert genomes.dumps(g) == genomes.dumps(lists)
    box = {"type": "box", "shape": (2,), "low": (-1.0, -1.0), "high": np.ones(2)}
    g = genomes.mlp((3,), box, hidden=[4])
    assert g.meta["action_space"] == {
        "type": "box",
        "shape": [2],
        "low": [-1.0, -1.0],
        "high": [1.0, 1.0],
    }
    assert genomes.loads(genomes.dumps(g)).structural_hash() == g.structural_hash()
    # a Genome built directly from dicts with tuple shapes validates too
    direct = Genome(meta={"observation_space": {"type": "box", "shape": (3,)}, **g.meta})
    assert direct.meta["observation_space"]["shape"] == [3]


def test_tuple_shapes_as_spaces() -> None:
    assert genomes.network((2, 2), (3,), hidden=[]).units("input") == 4
    assert genomes.mlp((2, 2), 3).observation_space == {"type": "box", "shape": [2, 2]}
    assert genomes.mlp(4, (2,)).is_continuous
    with pytest.raises(TypeError, match="shape tuple"):
        genomes.mlp("four", 2)


def _golden() -> str:
    """A digest of actor-critic genomes' files, outputs, summaries and hashes."""
    h = hashlib.sha256()
    box = {"type": "box", "shape": [2], "low": [-1, -1], "high": [1, 1]}
    gs = [genomes.mlp(4, 2), genomes.mlp(3, box, hidden=[5]), genomes.minimal(2, 3)]
    gs += [random_genome(np.random.default_rng(s)) for s in range(20)]
    torch.manual_seed(0)
    x = torch.randn(7, 6, dtype=torch.float64)
    for g in gs:
        h.update(genomes.dumps(g).encode())
        with torch.no_grad():
            pol, val = g.compile(dtype=torch.float64)(x[:, : g.units(g.input_node)])
        assert val is not None
        h.update(pol.numpy().tobytes() + val.numpy().tobytes())
        h.update((g.summary() + g.structural_hash()).encode())
    return h.hexdigest()


def test_actor_critic_genomes_are_unchanged() -> None:
    # recorded before plain networks existed
    assert _golden() == "0a99b4a624912071db6ca8344c982bdf24714dec18fb78b2ec60d195fec27843"


# --------------------------------------------------------------- from_sequential
def test_from_sequential_copies_weights_exactly() -> None:
    torch.manual_seed(0)
    seq = nn.Sequential(
        nn.Linear(5, 16),
        nn.ReLU(),
        nn.Linear(16, 8),
        nn.Tanh(),
        nn.Identity(),
        nn.Linear(8, 8, bias=False),
        nn.Linear(8, 2),
    )
    g = genomes.from_sequential(seq)
    assert g.is_plain
    assert g.topological_order() == ["input", "h0", "h1", "h2", "output"]
    assert [g.graph.nodes[n]["activation"] for n in ("h0", "h1", "h2", "output")] == [
        "relu",
        "tanh",
        "identity",
        "identity",
    ]
    # the bias-free Linear gets a zero bias: every genome node has one
    assert g.num_params() == sum(p.numel() for p in seq.parameters()) + 8
    lin = seq[0]
    assert isinstance(lin, nn.Linear)
    assert np.array_equal(g.graph.edges["input", "h0"]["weight"], lin.weight.detach().double())
    assert not g.graph.nodes["h2"]["bias"].any()
    x = torch.randn(64, 5)
    with torch.no_grad():
        assert torch.allclose(g.compile()(x)[0], seq(x), rtol=0, atol=1e-6)
        ref64 = seq.double()(x.double())
        assert torch.allclose(g.compile(dtype=torch.float64)(x.double())[0], ref64, atol=1e-12)


@pytest.mark.parametrize(
    "act", [nn.ReLU(), nn.Tanh(), nn.ELU(), nn.GELU(), nn.SiLU(), nn.Sigmoid(), nn.Identity()]
)
def test_from_sequential_each_activation(act: nn.Module) -> None:
    torch.manual_seed(1)
    seq = nn.Sequential(nn.Linear(3, 6), act, nn.Linear(6, 2), act).double()
    g = genomes.from_sequential(seq)
    x = torch.randn(32, 3, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(g.compile(dtype=torch.float64)(x)[0], seq(x), atol=1e-12)


@pytest.mark.parametrize(
    ("seq", "needles"),
    [
        (
            nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.5), nn.BatchNorm1d(4)),
            ["layer 2", "Dropout", "Linear"],
        ),
        (nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(), nn.Linear(4, 1)), ["layer 1", "LeakyReLU"]),
        (nn.Sequential(nn.Linear(3, 4), nn.ELU(alpha=0.5)), ["layer 1", "ELU(alpha=0.5)"]),
        (nn.Sequential(nn.Linear(3, 4), nn.GELU(approximate="tanh")), ["layer 1", "GELU"]),
        (nn.Sequential(nn.Tanh(), nn.Linear(3, 4)), ["layer 0", "Linear before"]),
        (nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.ReLU()), ["layer 2", "two in a row"]),
        (nn.Sequential(nn.Linear(3, 4), nn.Linear(5, 1)), ["layer 1", "in_features=4", "got 5"]),
        (nn.Sequential(nn.Identity()), ["at least one Linear"]),
    ],
)
def test_from_sequential_names_the_first_unsupported_layer(
    seq: nn.Sequential, needles: list[str]
) -> None:
    with pytest.raises(ValueError) as info:
        genomes.from_sequential(seq)
    for needle in needles:
        assert needle in str(info.value), (needle, str(info.value))


def test_from_sequential_wants_a_sequential() -> None:
    with pytest.raises(TypeError, match="Sequential"):
        genomes.from_sequential(nn.Linear(3, 1))  # type: ignore[arg-type]

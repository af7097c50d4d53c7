"""compile() agrees with the documented formula; writing weights back is exact."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import genomes
from genomes import Genome
from genomes.errors import GenomeError
from genomes.testing import random_genome

torch.set_num_threads(1)


def act(name: str, z: np.ndarray) -> np.ndarray:
    """The activations, written out independently of the package's registry."""
    if name == "identity":
        return z
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "silu":
        return z / (1.0 + np.exp(-z))
    if name == "elu":
        return np.where(z > 0, z, np.expm1(np.minimum(z, 0.0)))
    if name == "gelu":
        return 0.5 * z * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))
    raise AssertionError(name)


def reference_forward(g: Genome, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """h_v = act_v(b_v + sum_{u->v} W_uv @ h_u), evaluated node by node in float64."""
    h: dict[str, np.ndarray] = {}
    pending = set(g.graph.nodes)
    while pending:
        for v in sorted(pending):
            preds = list(g.graph.predecessors(v))
            if all(p in h for p in preds):
                break
        d = g.graph.nodes[v]
        if d["kind"] == "input":
            h[v] = obs
        else:
            z = np.tile(d["bias"], (obs.shape[0], 1))
            for u in preds:
                z = z + h[u] @ g.graph.edges[u, v]["weight"].T
            h[v] = act(d["activation"], z)
        pending.remove(v)
    return h[g.policy_node], h[g.value_node][:, 0]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_compile_matches_reference_on_random_genomes(dtype: torch.dtype) -> None:
    rng = np.random.default_rng(0)
    tol = {torch.float64: 1e-10, torch.float32: 1e-4}[dtype]
    for _ in range(80):
        g = random_genome(rng, weight_scale=2.0)
        obs = rng.normal(size=(5, g.units(g.input_node))) * 2.0
        want_pi, want_v = reference_forward(g, obs)
        module = g.compile(dtype=dtype)
        with torch.no_grad():
            pi, v = module(torch.tensor(obs, dtype=dtype))
        assert pi.dtype == dtype and v is not None
        np.testing.assert_allclose(pi.numpy(), want_pi, rtol=tol, atol=tol)
        np.testing.assert_allclose(v.numpy(), want_v, rtol=tol, atol=tol)
        if g.is_continuous:
            assert module.log_std is not None
            np.testing.assert_array_equal(
                module.log_std.detach().double().numpy(),
                g.graph.nodes[g.policy_node]["log_std"].astype(
                    np.float32 if dtype == torch.float32 else np.float64
                ),
            )
        else:
            assert module.log_std is None


def test_parts_compute_the_same_heads() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        g = random_genome(rng, min_hidden=2)
        x = torch.tensor(rng.normal(size=(3, g.units(g.input_node))))
        full = g.compile(dtype=torch.float64)
        pol = g.compile(dtype=torch.float64, part="policy")
        val = g.compile(dtype=torch.float64, part="value")
        with torch.no_grad():
            pi, v = full(x)
            pi_only, none = pol(x)
            _, v_only = val(x)
        assert none is None and v is not None and v_only is not None
        assert torch.equal(pi, pi_only) and torch.equal(v, v_only)
        assert sum(p.numel() for p in pol.parameters()) == g.num_params("policy")
        assert sum(p.numel() for p in full.parameters()) == g.num_params()
        # One head of the full module: the same values, and only that head's
        # nodes take part (their weights alone get gradients).
        assert torch.equal(full.policy(x), pi) and torch.equal(full.value(x), v)
        for head, part in ((full.policy, "policy"), (full.value, "value")):
            full.zero_grad(set_to_none=True)
            head(x).sum().backward()
            touched = {
                n for n, w in zip(full.node_names, full.weights, strict=True) if w.grad is not None
            }
            assert touched == g.part_nodes(part) - {g.input_node}
        with pytest.raises(GenomeError, match="no value head"):
            pol.value(x)


def test_module_layout_and_input_handling() -> None:
    g = genomes.mlp(6, 3, hidden=[5], shared=True)
    m = g.compile()
    assert m.node_names == ["h0", "policy", "value"]
    assert m.sources == [["input"], ["h0"], ["h0"]]
    assert [tuple(w.shape) for w in m.weights] == [(6, 5), (5, 3), (5, 1)]  # transposed
    assert all(w.is_contiguous() for w in m.weights)
    obs = np.random.default_rng(0).normal(size=(4, 2, 3))  # float64, unflattened
    pi, v = m(torch.tensor(obs))
    pi2, _ = m(torch.tensor(obs, dtype=torch.float32).reshape(4, 6))
    assert pi.dtype == torch.float32 and tuple(v.shape) == (4,)
    assert torch.equal(pi, pi2)


def test_multi_input_nodes_fuse_one_matmul() -> None:
    g = random_genome(np.random.default_rng(5), min_hidden=4, skip_prob=1.0)
    m = g.compile()
    for name, srcs, w in zip(m.node_names, m.sources, m.weights):
        assert srcs == sorted(g.graph.predecessors(name))
        assert w.shape == (sum(g.units(s) for s in srcs), g.units(name))
    assert any(len(s) > 1 for s in m.sources)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_with_weights_from_is_exact_after_training(dtype: torch.dtype) -> None:
    rng = np.random.default_rng(2)
    for i in range(10):
        g = random_genome(rng, min_hidden=1, continuous=bool(i % 2))
        m = g.compile(dtype=dtype)
        x = torch.tensor(rng.normal(size=(8, g.units(g.input_node))), dtype=dtype)
        opt = torch.optim.Adam(m.parameters(), lr=0.05)
        for _ in range(2):
            pi, v = m(x)
            assert v is not None
            loss = (pi**2).sum() + (v - 1).pow(2).sum()
            if m.log_std is not None:
                loss = loss + m.log_std.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        trained = g.with_weights_from(m)
        assert trained.validate() is not g
        again = trained.compile(dtype=dtype)
        for a, b in zip(m.parameters(), again.parameters(), strict=True):
            assert torch.equal(a, b)
        with torch.no_grad():
            assert torch.equal(m(x)[0], again(x)[0])
            assert torch.equal(m(x)[1], again(x)[1])  # type: ignore[arg-type]
        # the parent is untouched and the trained copy really moved
        assert genomes.dumps(g) != genomes.dumps(trained)
        # and the written-back genome survives a file round trip bitwise
        loaded = genomes.loads(genomes.dumps(trained)).compile(dtype=dtype)
        with torch.no_grad():
            assert torch.equal(m(x)[0], loaded(x)[0])


def test_with_weights_from_rejects_other_structure() -> None:
    a = genomes.mlp(4, 2, hidden=[8])
    b = genomes.mlp(4, 2, hidden=[8], shared=True)
    with pytest.raises(genomes.GenomeError, match="does not match"):
        b.with_weights_from(a.compile())


def test_gradients_flow_to_every_parameter() -> None:
    g = random_genome(np.random.default_rng(9), min_hidden=3, continuous=True, activations=["tanh"])
    m = g.compile(dtype=torch.float64)
    pi, v = m(torch.randn(4, g.units(g.input_node), dtype=torch.float64))
    assert v is not None and m.log_std is not None
    (pi.sum() + v.sum() + m.log_std.sum()).backward()
    assert all(p.grad is not None for p in m.parameters())

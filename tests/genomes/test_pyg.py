"""to_pyg(): shapes, features and determinism."""

from __future__ import annotations

import math

import numpy as np
import torch

import genomes
from genomes.pyg import NUM_NODE_FEATURES, node_features
from genomes.registry import ACTIVATIONS, KINDS
from genomes.testing import random_genome


def test_shapes_and_features_on_random_genomes() -> None:
    rng = np.random.default_rng(0)
    nk, na = len(KINDS), len(ACTIVATIONS)
    for _ in range(30):
        g = random_genome(rng)
        data = genomes.to_pyg(g)
        n, e = g.graph.number_of_nodes(), g.graph.number_of_edges()
        assert data.num_nodes == n
        assert tuple(data.x.shape) == (n, NUM_NODE_FEATURES)
        assert data.edge_index.dtype == torch.long and tuple(data.edge_index.shape) == (2, e)
        assert tuple(data.edge_attr.shape) == (e, 2)
        assert data.node_names == g.topological_order()
        x = data.x
        assert torch.all(x[:, :nk].sum(1) == 1) and torch.all(x[:, nk : nk + na].sum(1) == 1)
        for row, name in enumerate(data.node_names):
            d = g.graph.nodes[name]
            assert x[row, KINDS[d["kind"]].index] == 1
            assert x[row, nk + ACTIVATIONS[d.get("activation", "identity")].index] == 1
            assert math.isclose(float(x[row, nk + na]), math.log2(d["units"] + 1), rel_tol=1e-6)
            in_deg = math.log2(g.graph.in_degree(name) + 1)
            assert math.isclose(float(x[row, nk + na + 1]), in_deg, rel_tol=1e-6)
        edges = {(data.node_names[u], data.node_names[v]) for u, v in data.edge_index.t().tolist()}
        assert edges == set(g.graph.edges)
        # topological rows: every edge goes forward
        assert bool(torch.all(data.edge_index[0] < data.edge_index[1]))
        assert float(x[0, nk + na + 3]) == 0.0 and float(x[:, nk + na + 3].max()) == 1.0
        assert int(data.num_params) == g.num_params()
        assert int(data.macs_policy) == g.macs("policy")
        assert float(data.continuous) == float(g.is_continuous)


def test_deterministic_and_batchable() -> None:
    from torch_geometric.data import Batch

    g = random_genome(np.random.default_rng(3), min_hidden=3)
    a, b = genomes.to_pyg(g), g.to_pyg()
    assert torch.equal(a.x, b.x) and torch.equal(a.edge_index, b.edge_index)
    batch = Batch.from_data_list([a, genomes.to_pyg(genomes.minimal(3, 2))])
    assert batch.num_graphs == 2 and tuple(batch.num_params.shape) == (2,)


def test_node_features_params_column() -> None:
    names, x = node_features(genomes.mlp(4, 2, hidden=[8], shared=True))
    params = dict(zip(names, (2 ** x[:, -1] - 1).round().int().tolist(), strict=True))
    assert params == {"input": 0, "h0": 40, "policy": 18, "value": 9}

"""A ``torch_geometric.data.Data`` view of a genome, for GNN predictors.

torch_geometric is imported inside :func:`to_pyg` only (without it, an
ImportError names the extra: ``pip install 'growagent[pyg]'``). The node features
are built by :func:`node_features` (plain torch), so they can be inspected or
reused without torch_geometric.

Node features, one row per node in :meth:`Genome.topological_order`, in this
column order (``NUM_NODE_FEATURES`` columns in all):

====================  ==============  ==========================================
columns               name            value
====================  ==============  ==========================================
``len(KINDS)``        kind one-hot    1 at ``KINDS[kind].index``
``len(ACTIVATIONS)``  act. one-hot    1 at ``ACTIVATIONS[activation].index``
                                      (the input node's activation is identity)
1                     log units       ``log2(units + 1)``
1                     log in-degree   ``log2(in_degree + 1)``
1                     log out-degree  ``log2(out_degree + 1)``
1                     depth           longest path from the input / longest
                                      path to any head (0 at the input, 1 at
                                      the deepest head)
1                     log params      ``log2(1 + parameters of the node)``
                                      (bias, incoming weights, ``log_std``)
====================  ==============  ==========================================

Edge features (``edge_attr``, one row per edge of ``edge_index``):
``log2(units_u * units_v + 1)`` and whether the edge is a skip (it spans more
than one depth level).

Graph-level attributes (tensors of shape ``[1]``): ``num_params``,
``num_params_policy``, ``macs``, ``macs_policy``, ``continuous`` (1.0 for a
Box action space), plus ``node_names`` (a list of str, the row order).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch

from genomes._optional import require
from genomes.registry import ACTIVATIONS, KINDS

if TYPE_CHECKING:
    from genomes.genome import Genome

NUM_NODE_FEATURES = len(KINDS) + len(ACTIVATIONS) + 5
"""Width of :func:`node_features`'s output with the registries as they are now."""


def _depths(genome: Genome, order: list[str]) -> dict[str, int]:
    depth: dict[str, int] = {}
    for n in order:
        preds = list(genome.graph.predecessors(n))
        depth[n] = 1 + max(depth[p] for p in preds) if preds else 0
    return depth


def node_features(genome: Genome) -> tuple[list[str], torch.Tensor]:
    """The node order and the ``[num_nodes, NUM_NODE_FEATURES]`` float32 features.

    Examples
    --------
    >>> import genomes
    >>> names, x = node_features(genomes.minimal(3, 2))
    >>> names, tuple(x.shape)
    (['input', 'policy', 'value'], (3, 16))
    >>> x[0, :4].tolist()  # the input node's kind one-hot
    [1.0, 0.0, 0.0, 0.0]
    """
    g = genome.graph
    order = genome.topological_order()
    depth = _depths(genome, order)
    max_depth = max(depth.values(), default=0) or 1
    n_kinds, n_acts = len(KINDS), len(ACTIVATIONS)
    width = n_kinds + n_acts + 5
    x = torch.zeros(len(order), width, dtype=torch.float32)
    for row, n in enumerate(order):
        d = g.nodes[n]
        units = int(d["units"])
        x[row, KINDS[d["kind"]].index] = 1.0
        x[row, n_kinds + ACTIVATIONS[d.get("activation", "identity")].index] = 1.0
        params = 0
        if d["kind"] != "input":
            params = units * (1 + ("log_std" in d)) + sum(
                units * int(g.nodes[u]["units"]) for u in g.predecessors(n)
            )
        base = n_kinds + n_acts
        x[row, base] = math.log2(units + 1)
        x[row, base + 1] = math.log2(g.in_degree(n) + 1)
        x[row, base + 2] = math.log2(g.out_degree(n) + 1)
        x[row, base + 3] = depth[n] / max_depth
        x[row, base + 4] = math.log2(params + 1)
    return order, x


def to_pyg(genome: Genome) -> Any:
    """A ``torch_geometric.data.Data`` with the documented node and edge features.

    Parameters
    ----------
    genome : Genome
        A valid genome.

    Returns
    -------
    torch_geometric.data.Data
        ``x`` (``[num_nodes, NUM_NODE_FEATURES]`` float32), ``edge_index``
        (``[2, num_edges]`` int64, rows index ``node_names``, edges sorted by
        (source row, target row)), ``edge_attr`` (``[num_edges, 2]``), and the
        graph-level attributes listed in this module's docstring. The order is
        deterministic: relabelling nodes changes only ``node_names`` and, where
        ties are broken by name, the row order.

    Examples
    --------
    >>> import genomes
    >>> data = genomes.to_pyg(genomes.mlp(4, 2, hidden=[8], shared=True))
    >>> data.num_nodes, data.edge_index.tolist()
    (4, [[0, 1, 1], [1, 2, 3]])
    >>> int(data.num_params)
    67
    """
    require("torch_geometric", feature="genomes.to_pyg", extra="pyg")
    from torch_geometric.data import Data

    order, x = node_features(genome)
    row = {n: i for i, n in enumerate(order)}
    depth = _depths(genome, order)
    g = genome.graph
    pairs = sorted((row[u], row[v]) for u, v in g.edges)
    edge_index = torch.tensor(pairs, dtype=torch.long).reshape(-1, 2).t().contiguous()
    attrs = []
    for u, v in pairs:
        nu, nv = order[u], order[v]
        size = int(g.nodes[nu]["units"]) * int(g.nodes[nv]["units"])
        attrs.append([math.log2(size + 1), float(depth[nv] - depth[nu] > 1)])
    edge_attr = torch.tensor(attrs, dtype=torch.float32).reshape(-1, 2)

    def scalar(value: float) -> torch.Tensor:
        return torch.tensor([float(value)], dtype=torch.float32)

    return Data(
        x=x,
        edge_index=edge_index,
        edge_attr=edge_attr,
        num_nodes=len(order),
        node_names=list(order),
        num_params=scalar(genome.num_params()),
        num_params_policy=scalar(genome.num_params("policy")),
        macs=scalar(genome.macs()),
        macs_policy=scalar(genome.macs("policy")),
        continuous=scalar(genome.is_continuous),
    )

"""A GIN performance predictor over genome graphs (torch-geometric).

The model reads ``genome.to_pyg()`` graphs: three GIN layers over the node
features, sum and mean pooling, then an MLP that also sees a few
graph-level features (log parameters and MACs of the policy and of the whole
network, and the action-space kind). It outputs one score per graph; only
its order matters (it is trained with a ranking loss).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch_geometric.nn import GINConv, global_add_pool, global_mean_pool

GRAPH_FEATURES = 5
"""Graph-level inputs: log2 of num_params, num_params_policy, macs, macs_policy; continuous."""


def graph_features(data: Any) -> torch.Tensor:
    """The ``[num_graphs, GRAPH_FEATURES]`` graph-level inputs of a (batched) ``Data``."""
    cols = [
        torch.log2(1.0 + data.num_params.float()),
        torch.log2(1.0 + data.num_params_policy.float()),
        torch.log2(1.0 + data.macs.float()),
        torch.log2(1.0 + data.macs_policy.float()),
        data.continuous.float(),
    ]
    return torch.stack(cols, dim=1)


def _mlp(inp: int, hidden: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inp, hidden), nn.ReLU(), nn.Linear(hidden, out))


class GINPredictor(nn.Module):
    """Score genome graphs; higher means a better expected return.

    Parameters
    ----------
    node_features : int
        Width of the node features (``genomes.pyg.NUM_NODE_FEATURES``).
    hidden : int
        Width of the GIN layers and the readout MLP.
    layers : int
        Number of GIN layers (message-passing rounds).
    extra : int
        Width of per-graph flat features read from ``data.flat`` (``[num_graphs,
        extra]``) beside the graph-level inputs; 0 for the architecture alone.

    Examples
    --------
    >>> import genomes
    >>> from torch_geometric.data import Batch
    >>> from genomes.pyg import NUM_NODE_FEATURES
    >>> model = GINPredictor(NUM_NODE_FEATURES)
    >>> batch = Batch.from_data_list([genomes.mlp(4, 2, [8]).to_pyg(), genomes.minimal(4, 2).to_pyg()])
    >>> model(batch).shape
    torch.Size([2])
    """

    def __init__(self, node_features: int, hidden: int = 32, layers: int = 3, extra: int = 0):
        super().__init__()
        self.extra = extra
        self.convs = nn.ModuleList(
            GINConv(_mlp(node_features if i == 0 else hidden, hidden, hidden), train_eps=True)
            for i in range(layers)
        )
        self.readout = _mlp(2 * hidden * layers + GRAPH_FEATURES + extra, hidden, 1)
        self.scale = 1.0 / math.sqrt(hidden)

    def forward(self, data: Any) -> torch.Tensor:
        """Scores ``[num_graphs]`` for a ``torch_geometric`` batch."""
        x, edge_index, batch = data.x, data.edge_index, data.batch
        pooled = []
        for conv in self.convs:
            x = torch.relu(conv(x, edge_index))
            pooled += [global_add_pool(x, batch) * self.scale, global_mean_pool(x, batch)]
        flat = [data.flat] if self.extra else []
        h = torch.cat([*pooled, graph_features(data), *flat], dim=1)
        out: torch.Tensor = self.readout(h).squeeze(-1)
        return out

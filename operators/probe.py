"""A differentiable forward pass that exposes every node's pre-activation and output.

:class:`ProbeNet` computes the same function as ``genome.compile()`` with one
parameter per edge, and keeps ``z[node]`` and ``h[node]`` of the last forward
pass (with gradients retained), which first- and second-order importance
scores need. It has the compiled module's interface (``forward(obs) ->
(policy_out, value)``, ``log_std``; ``value`` is ``None`` for a plain
network), so a ``loss_fn`` written for a compiled genome works on it
unchanged. Like the compiled module, it reads the genome's
dropped input features as 0.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from genomes import Genome
from genomes.registry import ACTIVATIONS


class ProbeNet(nn.Module):
    """``genome`` as a module with per-edge weights and retained intermediates.

    Parameters
    ----------
    genome : Genome
        A valid genome.
    dtype : torch.dtype
        Parameter dtype.

    Attributes
    ----------
    z, h : dict of str to Tensor
        Pre-activations and outputs of every computed node from the last
        forward pass (``h`` also holds the input); gradients are retained.

    Examples
    --------
    >>> import torch, genomes
    >>> g = genomes.mlp(3, 2, hidden=[4])
    >>> net = ProbeNet(g, torch.float64)
    >>> ref = g.compile(dtype=torch.float64)(torch.ones(2, 3, dtype=torch.float64))[0]
    >>> x = torch.ones(2, 3, dtype=torch.float64)
    >>> bool(torch.allclose(net(x)[0], ref))
    True
    """

    def __init__(self, genome: Genome, dtype: torch.dtype = torch.float32):
        super().__init__()
        g = genome.graph
        self.input_node = genome.input_node
        self.order = [n for n in genome.topological_order() if n != self.input_node]
        self.preds = {n: sorted(g.predecessors(n), key=str) for n in self.order}
        self.edge_index: dict[tuple[str, str], int] = {}
        self.node_index: dict[str, int] = {}
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for n in self.order:
            self.node_index[n] = len(self.biases)
            self.biases.append(nn.Parameter(torch.tensor(g.nodes[n]["bias"], dtype=dtype)))
            for u in self.preds[n]:
                self.edge_index[(u, n)] = len(self.weights)
                w = torch.tensor(np.asarray(g.edges[u, n]["weight"]), dtype=dtype)
                self.weights.append(nn.Parameter(w))
        self.acts = {n: ACTIVATIONS[g.nodes[n]["activation"]].torch_fn for n in self.order}
        self.policy_node = genome.policy_node
        self.value_node: str | None = None if genome.is_plain else genome.value_node
        pol = g.nodes[self.policy_node]
        self.log_std: nn.Parameter | None = None
        if "log_std" in pol:
            self.log_std = nn.Parameter(torch.tensor(pol["log_std"], dtype=dtype))
        self.z: dict[str, torch.Tensor] = {}
        self.h: dict[str, torch.Tensor] = {}
        self.dropped = torch.tensor(genome.dropped_inputs, dtype=torch.int64)

    def weight(self, u: str, v: str) -> nn.Parameter:
        """The parameter of edge ``u -> v``."""
        w: nn.Parameter = self.weights[self.edge_index[(u, v)]]
        return w

    def bias(self, v: str) -> nn.Parameter:
        """The bias parameter of ``v``."""
        b: nn.Parameter = self.biases[self.node_index[v]]
        return b

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(policy_out [batch, units], value [batch])``; fills ``z`` and ``h``.

        ``value`` is ``None`` for a plain network.
        """
        x = obs.reshape(obs.shape[0], -1)
        if len(self.dropped):
            x = x.index_fill(1, self.dropped, 0.0)
        h = {self.input_node: x}
        self.z = {}
        for n in self.order:
            z = self.bias(n).expand(x.shape[0], -1)
            for u in self.preds[n]:
                z = z + h[u] @ self.weight(u, n).T
            if z.requires_grad:
                z.retain_grad()
            out = self.acts[n](z)
            if out.requires_grad and out is not z:
                out.retain_grad()
            self.z[n] = z
            h[n] = out
        self.h = h
        if self.value_node is None:
            return h[self.policy_node], None
        return h[self.policy_node], h[self.value_node].squeeze(-1)

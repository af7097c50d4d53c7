"""Compile a :class:`~genomes.genome.Genome` into a ``torch.nn.Module`` and back.

The module walks a precomputed topological order. Each node's incoming edges
are fused into one weight matrix applied to the concatenation of its inputs,
so a node costs one matrix multiply however many edges enter it. The matrix
is stored transposed, ``[sum(units_u), units_v]``, so that the multiply is a
plain ``addmm(bias, x, w)``: no transpose in the forward pass and none in
the backward pass, which matters for the small networks trained here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from torch import nn

from genomes.errors import GenomeError
from genomes.registry import ACTIVATIONS

if TYPE_CHECKING:
    from genomes.genome import Genome, Part


def _tensor(arr: np.ndarray[Any, Any], dtype: torch.dtype) -> torch.Tensor:
    """A contiguous tensor copy of ``arr`` (a transposed array would slow every matmul)."""
    return torch.tensor(np.ascontiguousarray(arr), dtype=dtype)


class GenomeModule(nn.Module):
    """A compiled genome: ``forward(obs) -> (policy_out, value)``.

    ``policy_out`` is the logits (Discrete) or the action mean (Box), shape
    ``[batch, units]``; ``value`` has shape ``[batch]`` (``None`` when the
    module was compiled with ``part="policy"``). ``log_std`` is a parameter
    for a Box action space, else ``None``.

    A plain network (:attr:`Genome.is_plain`) returns ``(out, None)``, as a
    policy-only module does, so code written for compiled genomes runs on
    it unchanged; :meth:`policy` returns ``out`` alone.

    Attributes
    ----------
    node_names : list of str
        Computed nodes in evaluation order (the input excluded).
    sources : list of list of str
        For each computed node, its input nodes in the row order of its
        fused weight.
    weights : ParameterList
        For each computed node, its fused incoming weight, transposed:
        ``[sum(units_u), units_v]`` (the genome's edge weights are
        ``[units_v, units_u]``).
    biases : ParameterList
        For each computed node, its bias ``[units_v]``.
    activations : list of str
        For each computed node, its activation's registry name.
    source_positions : list of list of int
        For each computed node, its sources as positions in the list of
        outputs (0 is the input, ``k + 1`` is computed node ``k``).
    part_steps : dict of str to list of int
        For each part this module can compute (``"all"``, ``"policy"``,
        ``"value"``), the computed nodes it needs, in evaluation order.
    plain : bool
        The genome is a plain network (no value head).
    dropped_inputs : Tensor or None
        The genome's dropped input features (int64 index), set to zero in
        every observation: their weights get no gradient and stay zero.

    Examples
    --------
    >>> import torch, genomes
    >>> m = genomes.mlp(4, 2, hidden=[8]).compile()
    >>> logits, value = m(torch.zeros(3, 4))
    >>> tuple(logits.shape), tuple(value.shape)
    ((3, 2), (3,))
    >>> net = genomes.network(4, 1, hidden=[8]).compile()
    >>> out, none = net(torch.zeros(3, 4))
    >>> tuple(out.shape), none
    ((3, 1), None)
    """

    def __init__(self, genome: Genome, dtype: torch.dtype, part: Part = "all"):
        super().__init__()
        if part == "value" and genome.is_plain:
            raise GenomeError("Part 'value': expected a value head (got none: a plain network)")
        keep = genome.part_nodes(part)
        order = [n for n in genome.topological_order() if n in keep]
        inp = genome.input_node
        if inp not in keep:
            raise GenomeError(f"Part {part!r} does not depend on the input node {inp!r}")
        self.node_names: list[str] = [n for n in order if n != inp]
        index = {inp: 0} | {n: i + 1 for i, n in enumerate(self.node_names)}
        self.sources: list[list[str]] = []
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        sources_index: list[list[int]] = []
        self.activations: list[str] = []
        acts: list[Callable[[torch.Tensor], torch.Tensor]] = []
        for n in self.node_names:
            srcs = sorted(genome.graph.predecessors(n), key=str)
            self.sources.append(srcs)
            units = genome.units(n)
            if srcs:
                w = np.concatenate([genome.graph.edges[s, n]["weight"] for s in srcs], axis=1)
            else:
                w = np.zeros((units, 0))
            self.weights.append(nn.Parameter(_tensor(w.T, dtype)))
            self.biases.append(nn.Parameter(_tensor(genome.graph.nodes[n]["bias"], dtype)))
            self.activations.append(genome.graph.nodes[n]["activation"])
            acts.append(ACTIVATIONS[self.activations[-1]].torch_fn)
            sources_index.append([index[s] for s in srcs])
        self.source_positions = sources_index
        self.part = part
        self.policy_index = index[genome.policy_node] if genome.policy_node in keep else -1
        self.plain = plain = genome.is_plain
        self.value_index = (
            -1 if plain or genome.value_node not in keep else index[genome.value_node]
        )
        # One plan per part this module can compute: the steps it needs, in order.
        heads = (self.policy_index, self.value_index)
        self._plans: dict[str, list[_Step]] = {}
        self.part_steps: dict[str, list[int]] = {}
        parts: tuple[Part, ...] = ("all", "policy") if plain else ("all", "policy", "value")
        for p in parts if part == "all" else (part,):
            needed = genome.part_nodes(p)
            steps = [k for k, n in enumerate(self.node_names) if n in needed]
            self.part_steps[p] = steps
            self._plans[p] = _plan(steps, sources_index, acts, heads)
        self.obs_units = genome.units(inp)
        dropped = genome.dropped_inputs
        self.dropped_inputs: torch.Tensor | None
        self.register_buffer(
            "dropped_inputs",
            torch.tensor(dropped, dtype=torch.int64) if dropped else None,
            persistent=False,
        )
        self._drops = bool(dropped)  # a plain attribute: read on every forward
        pol = genome.graph.nodes[genome.policy_node]
        self.log_std: nn.Parameter | None = None
        if "log_std" in pol and part != "value":
            self.log_std = nn.Parameter(_tensor(pol["log_std"], dtype))

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Evaluate the network on a batch of observations ``[batch, obs...]``.

        Observations of another floating dtype are cast to the module's dtype.
        """
        h = self._run(obs, self._plans[self.part])
        policy = h[self.policy_index] if self.policy_index >= 0 else h[-1]
        value = h[self.value_index] if self.value_index >= 0 else None
        assert policy is not None
        return policy, None if value is None else value.squeeze(-1)

    def policy(self, obs: torch.Tensor) -> torch.Tensor:
        """Only the policy output: nodes that only the value head needs are skipped.

        Examples
        --------
        >>> import torch, genomes
        >>> m = genomes.mlp(4, 2, hidden=[8]).compile()
        >>> x = torch.ones(3, 4)
        >>> torch.equal(m.policy(x), m(x)[0])
        True
        """
        if self.policy_index < 0:
            raise GenomeError(f"A module compiled for part {self.part!r} has no policy head")
        out = self._run(obs, self._plans["policy"])[self.policy_index]
        assert out is not None
        return out

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """Only the value output, shape ``[batch]``: policy-only nodes are skipped.

        Examples
        --------
        >>> import torch, genomes
        >>> m = genomes.mlp(4, 2, hidden=[8]).compile()
        >>> x = torch.ones(3, 4)
        >>> torch.equal(m.value(x), m(x)[1])
        True
        """
        if self.value_index < 0:
            what = "a plain network" if self.plain else f"part {self.part!r}"
            raise GenomeError(f"A module compiled for {what} has no value head")
        out = self._run(obs, self._plans["value"])[self.value_index]
        assert out is not None
        return out.squeeze(-1)

    def _run(self, obs: torch.Tensor, plan: list[_Step]) -> list[torch.Tensor | None]:
        """Outputs of the plan's nodes by position (0: the input; freed ones are None)."""
        x = obs.reshape(obs.shape[0], self.obs_units) if obs.dim() != 2 else obs
        # ParameterList's own iterator costs ~1 us per item; its dict is ordered by index.
        weights = cast("list[torch.Tensor]", list(self.weights._parameters.values()))
        biases = cast("list[torch.Tensor]", list(self.biases._parameters.values()))
        dtype = biases[0].dtype
        h: list[torch.Tensor | None] = [None] * (len(weights) + 1)
        x = x if x.dtype == dtype else x.to(dtype)
        if self._drops:
            x = x.index_fill(1, self.dropped_inputs, 0.0)  # type: ignore[arg-type]
        h[0] = x
        for k, srcs, act, release in plan:
            if len(srcs) == 1:
                z = torch.addmm(biases[k], h[srcs[0]], weights[k])  # type: ignore[arg-type]
            else:
                z = torch.addmm(biases[k], torch.cat([h[s] for s in srcs], dim=1), weights[k])  # type: ignore[misc]
            h[k + 1] = act(z)
            for i in release:
                h[i] = None
        return h


_Step = tuple[int, list[int], Callable[[torch.Tensor], torch.Tensor], list[int]]
"""One node's evaluation: its position, its sources' positions in the list of
outputs (0 is the input), its activation, and the outputs to free after it."""


def _plan(
    steps: list[int],
    sources: list[list[int]],
    acts: list[Callable[[torch.Tensor], torch.Tensor]],
    heads: tuple[int, int],
) -> list[_Step]:
    """The evaluation steps for the nodes at positions ``steps`` (in topological order).

    Each intermediate output is freed right after its last reader, so a big
    batch reuses the allocator's cached blocks instead of holding every
    layer's output alive; the head outputs are kept.
    """
    last_use: dict[int, int] = {}
    for j, k in enumerate(steps):
        for i in sources[k]:
            last_use[i] = j
    release: list[list[int]] = [[] for _ in steps]
    for i, j in last_use.items():
        if i not in heads:
            release[j].append(i)
    return [(k, sources[k], acts[k], release[j]) for j, k in enumerate(steps)]


def compile_genome(
    genome: Genome, dtype: torch.dtype | None = None, part: Part = "all"
) -> GenomeModule:
    """Compile ``genome`` to a :class:`GenomeModule`.

    Parameters
    ----------
    genome : Genome
        A valid genome.
    dtype : torch.dtype, optional
        ``torch.float32`` (default) or ``torch.float64``.
    part : {"all", "policy", "value"}
        Keep only the nodes needed for one head (``"policy"`` is what acting
        needs at deployment).

    Examples
    --------
    >>> import torch, genomes
    >>> g = genomes.minimal(3, 2)
    >>> m = compile_genome(g, dtype=torch.float64, part="policy")
    >>> m(torch.ones(1, 3))[1] is None
    True
    """
    return GenomeModule(genome, dtype or torch.float32, part)


def weights_from_module(genome: Genome, module: GenomeModule) -> Genome:
    """A copy of ``genome`` carrying the module's weights, exactly.

    float32 values convert to float64 without rounding, so compiling the
    result again gives a bitwise-identical module. Weights from dropped input
    features, which the module never reads, are written back as zero.

    Examples
    --------
    >>> import torch, genomes
    >>> g = genomes.minimal(3, 2)
    >>> m = g.compile()
    >>> with torch.no_grad():
    ...     _ = m.biases[0].fill_(0.5)
    >>> float(g.with_weights_from(m).graph.nodes[m.node_names[0]]["bias"][0])
    0.5
    """
    child = genome.copy()
    graph = child.graph
    inp, dropped = child.input_node, child.dropped_inputs
    for name, srcs, w, b in zip(
        module.node_names, module.sources, module.weights, module.biases, strict=True
    ):
        if name not in graph or sorted(graph.predecessors(name), key=str) != srcs:
            raise GenomeError(f"Node {name!r}: the module does not match this genome's structure")
        fused = w.detach().cpu().double().numpy()  # [sum(units_u), units_v]
        row = 0
        for s in srcs:
            width = child.units(s)
            graph.edges[s, name]["weight"] = fused[row : row + width].T.copy()
            if s == inp and dropped:
                graph.edges[s, name]["weight"][:, dropped] = 0.0
            row += width
        graph.nodes[name]["bias"] = b.detach().cpu().double().numpy().copy()
    if module.log_std is not None:
        graph.nodes[child.policy_node]["log_std"] = (
            module.log_std.detach().cpu().double().numpy().copy()
        )
    return child

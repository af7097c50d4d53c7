"""Inspection: parameter and MAC counts, structural hash, text summary."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from genomes.genome import Genome, Part


def _node_params(genome: Genome, node: str) -> int:
    data = genome.graph.nodes[node]
    if data["kind"] == "input":
        return 0
    total = int(data["units"])
    if "log_std" in data:
        total += int(data["units"])
    for u, _ in genome.graph.in_edges(node):
        total += _read_units(genome, u) * int(data["units"])
    return total


def _read_units(genome: Genome, node: str) -> int:
    """Units of ``node`` that its successors read: all but the dropped inputs."""
    units = genome.units(node)
    if genome.graph.nodes[node]["kind"] == "input":
        units -= len(genome.dropped_inputs)
    return units


def num_params(genome: Genome, part: Part = "all") -> int:
    """Trainable scalars needed to compute ``part``.

    ``"policy"`` counts what acting needs at deployment (the policy head, its
    ancestors and ``log_std``); ``"value"`` the critic (nothing in a plain
    network); ``"all"`` everything, shared nodes once. Weights from dropped
    input features (:attr:`Genome.dropped_inputs`) are fixed at zero and do
    not count.

    Examples
    --------
    >>> import genomes
    >>> g = genomes.mlp(4, 2)
    >>> g.num_params("policy"), g.num_params("value"), g.num_params()
    (4610, 4545, 9155)
    """
    nodes = genome.part_nodes(part)
    return sum(_node_params(genome, n) for n in nodes)


def macs(genome: Genome, part: Part = "all") -> int:
    """Multiply-accumulates of one forward pass (one observation) for ``part``.

    Examples
    --------
    >>> import genomes
    >>> genomes.mlp(4, 2, hidden=[8], shared=True).macs()
    56
    """
    nodes = genome.part_nodes(part)
    g = genome.graph
    return sum(_read_units(genome, u) * g.nodes[v]["units"] for u, v in g.edges if v in nodes)


def _digest(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


def structural_hash(genome: Genome) -> str:
    """A hash of the architecture alone, invariant to node names and weights.

    Weisfeiler-Lehman refinement over node labels (kind, units, activation,
    whether a ``log_std`` is present) using both predecessors and successors,
    plus the space descriptions and the dropped input features. Equal
    architectures give equal hashes;
    a different width, activation or edge gives a different one (WL can in
    principle collide on exotic non-isomorphic graphs).

    Examples
    --------
    >>> import genomes
    >>> a = genomes.mlp(4, 2, hidden=[8], seed=0)
    >>> b = genomes.mlp(4, 2, hidden=[8], seed=1)
    >>> a.structural_hash() == b.structural_hash()
    True
    >>> a.structural_hash() == genomes.mlp(4, 2, hidden=[9]).structural_hash()
    False
    """
    g = genome.graph
    labels = {
        n: _digest(d["kind"], d["units"], d.get("activation"), "log_std" in d)
        for n, d in g.nodes(data=True)
    }
    history = sorted(labels.values())
    for _ in range(max(1, g.number_of_nodes())):
        labels = {
            n: _digest(
                labels[n],
                sorted(labels[p] for p in g.predecessors(n)),
                sorted(labels[s] for s in g.successors(n)),
            )
            for n in g.nodes
        }
        history.extend(sorted(labels.values()))
    space: tuple[object, ...] = (
        genome.meta.get("observation_space", {}).get("shape"),
        genome.meta.get("action_space"),
    )
    if genome.dropped_inputs:
        space += (genome.dropped_inputs,)
    return hashlib.sha256("|".join([*history, repr(space)]).encode()).hexdigest()[:32]


def summary(genome: Genome) -> str:
    """A text table: node, kind, units, activation, inputs, parameters.

    Examples
    --------
    >>> import genomes
    >>> print(genomes.minimal(3, 2).summary())  # doctest: +NORMALIZE_WHITESPACE
    node    kind    units  activation  inputs  params
    input   input   3      -           -       0
    policy  policy  2      identity    input   8
    value   value   1      identity    input   4
    total: 12 parameters (policy 8, value 4); 9 MACs (policy 6)

    A plain network has one head, so the total is the whole story:

    >>> print(genomes.network(3, 2, hidden=[]).summary())  # doctest: +NORMALIZE_WHITESPACE
    node    kind    units  activation  inputs  params
    input   input   3      -           -       0
    output  policy  2      identity    input   8
    total: 8 parameters; 6 MACs
    """
    rows = [("node", "kind", "units", "activation", "inputs", "params")]
    for n in genome.topological_order():
        d = genome.graph.nodes[n]
        preds = sorted(map(str, genome.graph.predecessors(n)))
        act = "-" if d["kind"] == "input" else str(d["activation"])
        inputs = ",".join(preds) if preds else "-"
        rows.append((str(n), d["kind"], str(d["units"]), act, inputs, str(_node_params(genome, n))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    if genome.is_plain:
        lines.append(f"total: {num_params(genome)} parameters; {macs(genome)} MACs")
    else:
        lines.append(
            f"total: {num_params(genome)} parameters (policy {num_params(genome, 'policy')}, "
            f"value {num_params(genome, 'value')}); {macs(genome)} MACs "
            f"(policy {macs(genome, 'policy')})"
        )
    return "\n".join(lines)

"""Operators that add nodes or edges: ``deepen``, ``add_layer``, ``add_skip``.

None of them can create a cycle, an edge into the input or an edge out of a
head: new edges only go from a node to one of its descendants-to-be.
"""

from __future__ import annotations

from typing import Literal

import networkx as nx
import numpy as np

from genomes import Genome
from genomes.registry import ACTIVATIONS
from operators.base import (
    activation_of,
    finish,
    fresh_name,
    init_weight,
    is_idempotent,
    is_kind,
    not_a_site,
    pick,
)
from operators.checks import (
    check_choice,
    check_float,
    check_int,
    check_name,
    check_pair,
    check_rng,
)

DeepenMode = Literal["auto", "identity", "zero_path"]
DEEPEN_MODES = ("auto", "identity", "zero_path")


def _feeders(genome: Genome) -> list[str]:
    """Nodes with outgoing edges (the input and hidden nodes), topological order."""
    return [n for n in genome.topological_order() if genome.graph.out_degree(n)]


def deepen_sites(genome: Genome, mode: DeepenMode = "auto") -> list[str]:
    """Nodes after which a node can be inserted (for ``identity``: relu/identity ones).

    >>> import genomes
    >>> deepen_sites(genomes.mlp(3, 2, hidden=[4], activation="tanh"), mode="identity")
    ['input']
    """
    check_choice("deepen", "mode", mode, DEEPEN_MODES)
    nodes = _feeders(genome)
    if mode == "identity":
        nodes = [n for n in nodes if is_idempotent(genome, n)]
    return list(nodes)


def deepen(
    genome: Genome,
    *,
    rng: np.random.Generator,
    node: str | None = None,
    mode: DeepenMode = "auto",
) -> Genome:
    """Net2DeeperNet: insert a node ``d`` with ``units(node)`` units right after ``node``.

    ``identity`` form: ``h_d = act(I @ h_node)`` with ``act`` the node's own
    activation, and every outgoing edge of ``node`` moves to ``d``. This is
    exact when ``act(act(x)) = act(x)``: relu after relu, identity after
    identity or after the input; heads keep their identity activation and
    are never moved. ``zero_path`` form (for tanh, elu, gelu, silu, sigmoid
    nodes, where no identity layer exists): ``d`` keeps ``node``'s activation,
    gets random incoming weights ``N(0, 1/units)`` from ``node`` and feeds all of
    ``node``'s successors with zero weights; ``node``'s edges stay. Exact, and
    ``d`` is trained through its zero outgoing weights. ``auto`` uses
    ``identity`` where it is exact and ``zero_path`` elsewhere; ``identity``
    on a non-idempotent node raises :class:`NotApplicable`.

    Parameters
    ----------
    genome : Genome
        The parent (not modified).
    rng : numpy.random.Generator
        Chooses the node (if not given) and zero-path weights.
    node : str, optional
        The site: the input or a hidden node (with ``mode="identity"``: one
        with a relu or identity activation); random by default.
    mode : {"auto", "identity", "zero_path"}
        See above.

    Returns
    -------
    Genome
        The child; preservation class ``exact``.

    Examples
    --------
    >>> import numpy as np, genomes
    >>> g = genomes.mlp(3, 2, hidden=[4], activation="relu", shared=True)
    >>> child = deepen(g, rng=np.random.default_rng(0), node="h0")
    >>> child.meta["lineage"]["params"]["form"], sorted(child.graph.successors("h0"))
    ('identity', ['n0'])
    """
    what = "deepen"
    check_rng(what, rng)
    check_choice(what, "mode", mode, DEEPEN_MODES)
    if node is None:
        v = str(pick(rng, deepen_sites(genome, mode), what))
    else:
        v = check_name(what, "node", node)
        feeds = is_kind(genome, v, "input", "hidden") and genome.graph.out_degree(v) > 0
        if not feeds or (mode == "identity" and not is_idempotent(genome, v)):
            kinds = "a relu or identity" if mode == "identity" else "the input or a"
            raise not_a_site(what, v, f"{kinds} hidden node with outgoing edges")
    child = genome.copy()
    g = child.graph
    d = fresh_name(child)
    n = child.units(v)
    act = activation_of(child, v)
    form = (
        "identity"
        if mode == "identity" or (mode == "auto" and is_idempotent(child, v))
        else "zero_path"
    )
    child.add_node(d, kind="hidden", units=n, activation=act)
    succs = sorted(g.successors(v), key=str)
    if form == "identity":
        for w in succs:
            weight = g.edges[v, w]["weight"]
            g.remove_edge(v, w)
            child.add_edge(d, w, weight)
        child.add_edge(v, d, np.eye(n))
    else:
        child.add_edge(v, d, init_weight(rng, n, n))
        for w in succs:
            child.add_edge(d, w)
    return finish(child, genome, rng, what, {"node": v, "new_node": d, "form": form})


def add_layer_sites(genome: Genome) -> list[tuple[str, str]]:
    """Existing edges ``(u, w)``: the new node goes on a path parallel to one.

    >>> import genomes
    >>> add_layer_sites(genomes.minimal(3, 2))
    [('input', 'policy'), ('input', 'value')]
    """
    return [
        (str(u), str(w))
        for u, w in sorted(genome.graph.edges, key=lambda e: (str(e[0]), str(e[1])))
    ]


def add_layer(
    genome: Genome,
    *,
    rng: np.random.Generator,
    source: str | None = None,
    target: str | None = None,
    units: int | None = None,
    activation: str | None = None,
    eps: float = 0.0,
) -> Genome:
    """Firefly's deeper step: a new node on a path ``source -> new -> target``.

    The new node gets incoming weights ``N(0, 1/units_source)``, zero bias and
    outgoing weight ``eps * N(0, 1/units)``; the edge ``source -> target``
    is kept. Exact at ``eps=0``, change O(eps) otherwise.

    Parameters
    ----------
    genome : Genome
        The parent (not modified).
    rng : numpy.random.Generator
        Chooses the edge (if not given) and the new weights.
    source, target : str, optional
        The site: an existing edge; random by default (give both or neither).
    units : int, optional
        Width (>= 1) of the new node; by default the width of the hidden end
        of the edge (the source's, else the target's), and 8 for input -> head.
    activation : str, optional
        A registered activation; by default the hidden end's activation
        (target first), else ``"relu"``.
    eps : float
        Scale (>= 0) of the new outgoing weight.

    Returns
    -------
    Genome
        The child; preservation class ``eps``.

    Examples
    --------
    >>> import numpy as np, genomes
    >>> child = add_layer(genomes.minimal(3, 2), rng=np.random.default_rng(0),
    ...                   source="input", target="policy", units=4)
    >>> child.hidden_nodes, child.units("n0")
    (['n0'], 4)
    """
    what = "add_layer"
    check_rng(what, rng)
    check_pair(what, ("source", "target"), source, target)
    if units is not None:
        units = check_int(what, "units", units, minimum=1)
    if activation is not None:
        check_choice(what, "activation", activation, ACTIVATIONS)
    eps = check_float(what, "eps", eps, minimum=0.0)
    if source is None or target is None:
        u, w = pick(rng, add_layer_sites(genome), what)
    else:
        u, w = check_name(what, "source", source), check_name(what, "target", target)
        if not genome.graph.has_edge(u, w):
            raise not_a_site(what, (u, w), "an existing edge")
    u, w = str(u), str(w)
    kinds = genome.graph.nodes
    hidden_ends = [x for x in (w, u) if kinds[x]["kind"] == "hidden"]
    if units is None:
        units = genome.units(u) if u in hidden_ends else (genome.units(w) if hidden_ends else 8)
    if activation is None:
        activation = activation_of(genome, hidden_ends[0]) if hidden_ends else "relu"
    child = genome.copy()
    d = fresh_name(child)
    child.add_node(d, kind="hidden", units=units, activation=activation)
    child.add_edge(u, d, init_weight(rng, units, child.units(u)))
    child.add_edge(d, w, eps * init_weight(rng, child.units(w), units))
    params = {"source": u, "target": w, "new_node": d, "units": units}
    params |= {"activation": activation, "eps": eps}
    return finish(child, genome, rng, what, params)


def add_skip_sites(genome: Genome) -> list[tuple[str, str]]:
    """Pairs ``(u, v)`` with no edge yet where ``u -> v`` keeps the graph a valid DAG.

    ``u`` is the input or hidden, ``v`` hidden or a head, and ``v`` is not an
    ancestor of ``u``.

    >>> import genomes
    >>> add_skip_sites(genomes.mlp(3, 2, hidden=[4], shared=True))
    [('input', 'policy'), ('input', 'value')]
    >>> add_skip_sites(genomes.mlp(3, 2, hidden=[4, 4], shared=True))
    [('input', 'h1'), ('input', 'policy'), ('input', 'value'), ('h0', 'policy'), ('h0', 'value')]
    """
    g = genome.graph
    order = genome.topological_order()
    out: list[tuple[str, str]] = []
    for u in order:
        if genome.graph.nodes[u]["kind"] not in ("input", "hidden"):
            continue
        ancestors = nx.ancestors(g, u)
        for v in order:
            if v == u or v in ancestors or g.has_edge(u, v):
                continue
            if g.nodes[v]["kind"] == "input":
                continue
            out.append((u, v))
    return out


def _is_skip_site(genome: Genome, u: str, v: str) -> bool:
    """True when ``(u, v)`` is among :func:`add_skip_sites` (checked without listing them)."""
    g = genome.graph
    return (
        is_kind(genome, u, "input", "hidden")
        and is_kind(genome, v, "hidden", "policy", "value")
        and u != v
        and not g.has_edge(u, v)
        and not nx.has_path(g, v, u)
    )


def add_skip(
    genome: Genome,
    *,
    rng: np.random.Generator,
    source: str | None = None,
    target: str | None = None,
) -> Genome:
    """A new zero-weight edge ``source -> target``; never a cycle, never into the input.

    Parameters
    ----------
    genome : Genome
        The parent (not modified).
    rng : numpy.random.Generator
        Chooses the pair (if not given).
    source, target : str, optional
        The site: a new edge; random among :func:`add_skip_sites` by
        default (give both or neither).

    Returns
    -------
    Genome
        The child; preservation class ``exact``.

    Examples
    --------
    >>> import numpy as np, genomes
    >>> g = genomes.mlp(3, 2, hidden=[4, 4], shared=True)
    >>> add_skip(g, rng=np.random.default_rng(0), source="input", target="h1").graph.has_edge(
    ...     "input", "h1")
    True
    """
    what = "add_skip"
    check_rng(what, rng)
    check_pair(what, ("source", "target"), source, target)
    if source is None or target is None:
        u, v = pick(rng, add_skip_sites(genome), what)
    else:
        u, v = check_name(what, "source", source), check_name(what, "target", target)
        if not _is_skip_site(genome, u, v):
            raise not_a_site(
                what, (u, v), "a new edge from the input or a hidden node that makes no cycle"
            )
    child = genome.copy()
    child.add_edge(str(u), str(v))
    return finish(child, genome, rng, what, {"source": u, "target": v})

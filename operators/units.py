"""Operators that change the width of one hidden node: ``widen``, ``split``, ``grow_units``.

Notation: hidden node ``v`` has units ``j = 0..n-1``; unit ``j`` computes
``h_j = act(b_j + sum_u W_uv[j, :] @ h_u)`` and feeds every successor ``w``
through column ``W_vw[:, j]``. New units are appended after the old ones, and
every outgoing edge of ``v`` (to hidden nodes and to heads alike) is fixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from genomes import Genome
from operators.base import (
    Array,
    append_units,
    finish,
    incoming_rows,
    init_weight,
    is_kind,
    not_a_site,
    pick,
)
from operators.checks import check_float, check_int, check_name, check_rng


def _hidden_node(genome: Genome, rng: np.random.Generator, node: str | None, what: str) -> str:
    """The requested hidden node, or one drawn from :func:`widen_sites`."""
    if node is None:
        return str(pick(rng, widen_sites(genome), what))
    if not is_kind(genome, check_name(what, "node", node), "hidden"):
        raise not_a_site(what, node, "a hidden node")
    return node


def widen_sites(genome: Genome) -> list[str]:
    """Hidden nodes (heads and the input have fixed widths).

    >>> import genomes
    >>> widen_sites(genomes.mlp(3, 2, hidden=[4], shared=True))
    ['h0']
    """
    return list(genome.hidden_nodes)


def widen(
    genome: Genome,
    *,
    rng: np.random.Generator,
    node: str | None = None,
    units: int = 1,
    noise: float = 0.0,
) -> Genome:
    """Net2WiderNet: add ``units`` copies of randomly chosen units of a hidden node.

    A copy ``k`` of unit ``j`` gets ``j``'s incoming weights and bias, so
    ``h_k = h_j``. With ``c_j`` the number of units now computing ``h_j``,
    every outgoing column of those units becomes ``W_vw[:, j] / c_j``, so each
    successor receives the same sum. ``noise`` > 0 breaks the symmetry while
    staying exact: a copy's outgoing column gets ``+ noise * N(0, 1)`` and its
    original the opposite, which leaves the sum (and so the function) unchanged.

    Parameters
    ----------
    genome : Genome
        The parent (not modified).
    rng : numpy.random.Generator
        Chooses the node (if not given), the copied units and the noise.
    node : str, optional
        The site: a hidden node; random by default.
    units : int
        Number of units to add (>= 1).
    noise : float
        Scale (>= 0) of the symmetry-breaking outgoing noise (exact either way).

    Returns
    -------
    Genome
        The child; preservation class ``exact``.

    Examples
    --------
    >>> import numpy as np, genomes
    >>> g = genomes.mlp(3, 2, hidden=[4])
    >>> child = widen(g, rng=np.random.default_rng(0), node="h0", units=2)
    >>> child.units("h0"), g.units("h0")
    (6, 4)
    """
    what = "widen"
    check_rng(what, rng)
    units = check_int(what, "units", units, minimum=1)
    noise = check_float(what, "noise", noise, minimum=0.0)
    v = _hidden_node(genome, rng, node, what)
    child = genome.copy()
    g = child.graph
    n = child.units(v)
    src = rng.integers(n, size=units)
    counts = np.ones(n) + np.bincount(src, minlength=n)
    incoming = {u: g.edges[u, v]["weight"][src].copy() for u in g.predecessors(v)}
    bias = g.nodes[v]["bias"][src].copy()
    outgoing: dict[str, Array] = {}
    for w in list(g.successors(v)):
        old = g.edges[v, w]["weight"] / counts[None, :]
        new = old[:, src].copy()
        if noise:
            eta = noise * rng.standard_normal(new.shape)
            new += eta
            np.subtract.at(old.T, src, eta.T)
        g.edges[v, w]["weight"] = old
        outgoing[w] = new
    append_units(child, v, incoming, bias, outgoing)
    params = {"node": v, "units": units, "copied": src.tolist(), "noise": noise}
    return finish(child, genome, rng, what, params)


def split_sites(genome: Genome) -> list[tuple[str, int]]:
    """Every unit ``(node, index)`` of every hidden node.

    >>> import genomes
    >>> split_sites(genomes.mlp(3, 2, hidden=[2], shared=True))
    [('h0', 0), ('h0', 1)]
    """
    return [(v, j) for v in genome.hidden_nodes for j in range(genome.units(v))]


def split(
    genome: Genome,
    *,
    rng: np.random.Generator,
    node: str | None = None,
    unit: int | None = None,
    eps: float = 1e-2,
    delta: Sequence[float] | None = None,
) -> Genome:
    """Splitting descent: unit ``j`` becomes two units with incoming ``w_j ± eps*delta``.

    ``w_j`` is the unit's incoming vector (its rows of every incoming edge,
    predecessors sorted by name, then its bias). The original keeps
    ``w_j + eps*delta``, the new unit gets ``w_j - eps*delta``, and both get
    half the outgoing columns. The change of every output is
    ``eps**2/2 * delta^T (d^2 out / d w_j^2) delta + O(eps**4)``: O(eps**2),
    and zero for a linear (identity) unit.

    Parameters
    ----------
    genome : Genome
        The parent (not modified).
    rng : numpy.random.Generator
        Chooses the unit (if not given) and a random ``delta``.
    node, unit : str and int, optional
        The site ``(node, unit)``: a unit of a hidden node; random by
        default. ``node`` alone picks a random unit of it; ``unit`` needs
        ``node``.
    eps : float
        Step size (>= 0).
    delta : sequence of float, optional
        Direction, length ``fan_in + 1``; a random unit vector by default.
        :func:`operators.firefly_grow` passes the splitting-matrix direction.

    Returns
    -------
    Genome
        The child; preservation class ``eps2``.

    Examples
    --------
    >>> import numpy as np, genomes
    >>> g = genomes.mlp(3, 2, hidden=[4])
    >>> split(g, rng=np.random.default_rng(0), node="v0", unit=1).units("v0")
    5
    """
    what = "split"
    check_rng(what, rng)
    eps = check_float(what, "eps", eps, minimum=0.0)
    if node is None and unit is not None:
        raise ValueError(f"{what}: expected node with unit (got unit={unit!r} and no node)")
    if unit is not None:
        unit = check_int(what, "unit", unit, minimum=0)
    if node is None:
        v, j = pick(rng, split_sites(genome), what)
    else:
        v = _hidden_node(genome, rng, node, what)
        j = int(rng.integers(genome.units(v))) if unit is None else unit
        if j >= genome.units(v):
            raise not_a_site(what, (v, j), f"a unit index < {genome.units(v)}")
    v, j = str(v), int(j)
    child = genome.copy()
    g = child.graph
    preds = sorted(g.predecessors(v), key=str)
    sizes = [child.units(u) for u in preds]
    fan = sum(sizes) + 1
    if delta is None:
        d = rng.standard_normal(fan)
        d /= np.linalg.norm(d)
    else:
        try:
            d = np.asarray(delta, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{what}: expected delta to be numbers (got {delta!r:.60})") from None
        if d.shape != (fan,) or not np.all(np.isfinite(d)):
            raise ValueError(f"{what}: expected finite delta of shape ({fan},) (got {d.shape})")
    split_in_place(child, v, j, eps, d)
    params: dict[str, Any] = {"node": v, "unit": j, "eps": eps}
    params["delta"] = "random" if delta is None else d.tolist()
    return finish(child, genome, rng, what, params)


def split_in_place(genome: Genome, v: str, j: int, eps: float, d: Array) -> None:
    """The edit of :func:`split` on ``genome`` itself (no copy, no validation)."""
    g = genome.graph
    preds = sorted(g.predecessors(v), key=str)
    sizes = [genome.units(u) for u in preds]
    rows = incoming_rows(genome, v, j)
    new_rows: dict[str, Array] = {}
    col = 0
    for u, size in zip(preds, sizes, strict=True):
        step = eps * d[col : col + size]
        g.edges[u, v]["weight"][j] = rows[u] + step
        new_rows[u] = (rows[u] - step)[None, :]
        col += size
    b = float(g.nodes[v]["bias"][j])
    g.nodes[v]["bias"][j] = b + eps * d[-1]
    outgoing: dict[str, Array] = {}
    for w in g.successors(v):
        g.edges[v, w]["weight"][:, j] *= 0.5
        outgoing[w] = g.edges[v, w]["weight"][:, [j]].copy()
    append_units(genome, v, new_rows, np.array([b - eps * d[-1]]), outgoing)


def grow_units(
    genome: Genome,
    *,
    rng: np.random.Generator,
    node: str | None = None,
    units: int = 1,
    eps: float = 0.0,
) -> Genome:
    """Firefly's new neurons: ``units`` new units with random inputs and ``eps``-scaled outputs.

    New incoming rows are ``N(0, 1/fan_in)``, biases zero, outgoing columns
    ``eps * N(0, 1/units_v)``. At ``eps=0`` the child computes exactly the
    parent's function (the new units are invisible until trained);
    otherwise the change is O(eps).

    Parameters
    ----------
    genome : Genome
        The parent (not modified).
    rng : numpy.random.Generator
        Chooses the node (if not given) and the new weights.
    node : str, optional
        The site: a hidden node; random by default.
    units : int
        Number of new units (>= 1).
    eps : float
        Scale (>= 0) of the new outgoing weights.

    Returns
    -------
    Genome
        The child; preservation class ``eps``.

    Examples
    --------
    >>> import numpy as np, genomes
    >>> g = genomes.mlp(3, 2, hidden=[4])
    >>> grow_units(g, rng=np.random.default_rng(0), node="h0", units=3).units("h0")
    7
    """
    what = "grow_units"
    check_rng(what, rng)
    units = check_int(what, "units", units, minimum=1)
    eps = check_float(what, "eps", eps, minimum=0.0)
    v = _hidden_node(genome, rng, node, what)
    child = genome.copy()
    g = child.graph
    preds = sorted(g.predecessors(v), key=str)
    fan = sum(child.units(u) for u in preds)
    incoming: dict[str, Array] = {}
    full = init_weight(rng, units, fan)
    col = 0
    for u in preds:
        incoming[u] = full[:, col : col + child.units(u)].copy()
        col += child.units(u)
    n = child.units(v)
    outgoing = {
        w: eps * rng.standard_normal((child.units(w), units)) / np.sqrt(n + units)
        for w in sorted(g.successors(v), key=str)
    }
    append_units(child, v, incoming, np.zeros(units), outgoing)
    params = {"node": v, "units": units, "eps": eps}
    return finish(child, genome, rng, what, params)

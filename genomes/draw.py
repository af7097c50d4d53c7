"""Draw a genome as a layered DAG picture (PNG or SVG) with matplotlib.

matplotlib is imported inside :func:`figure` (no pyplot, no display, no
system graphviz), so ``import genomes`` stays light.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from genomes.genome import Genome

KIND_COLOURS: dict[str, str] = {
    "input": "#9ecae1",
    "hidden": "#e0e0e0",
    "policy": "#fdae6b",
    "value": "#a1d99b",
}
"""Fill colour of each node kind; unknown kinds are drawn white."""

NODE_SIZE = 2600
"""Node marker area in points squared (matplotlib's ``s``)."""
COLUMN_INCHES = 2.2
"""Horizontal distance between two depth columns."""
ROW_INCHES = 1.3
"""Vertical distance between two nodes of one column."""
CLEARANCE_INCHES = 0.08
"""Gap an edge keeps from every node it does not end at."""
RADS = (0.0, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0, 1.3)
"""Curvatures tried for an edge (``arc3`` ``rad``), gentlest first; each both ways."""


def layers(genome: Genome) -> dict[str, int]:
    """Layer of each node: its longest-path depth from a source (the input at 0).

    >>> import genomes
    >>> sorted(layers(genomes.mlp(4, 2, hidden=[8], shared=True)).items())
    [('h0', 1), ('input', 0), ('policy', 2), ('value', 2)]
    """
    depth: dict[str, int] = {}
    for node in nx.topological_sort(genome.graph):
        preds = list(genome.graph.predecessors(node))
        depth[node] = 1 + max(depth[p] for p in preds) if preds else 0
    return depth


def positions(genome: Genome) -> dict[str, tuple[float, float]]:
    """Where each node is drawn: ``(column, row)``, column = depth, heads in the last column.

    >>> import genomes
    >>> positions(genomes.mlp(4, 2, hidden=[8]))["policy"]
    (2.0, 0.5)
    """
    g = genome.graph
    depth = layers(genome)
    last = max(depth.values(), default=0)
    for n, d in g.nodes(data=True):
        if d.get("kind") in ("policy", "value"):
            depth[n] = last
    columns: dict[int, list[str]] = {}
    for n in sorted(g.nodes, key=str):
        columns.setdefault(depth[n], []).append(n)
    pos: dict[str, tuple[float, float]] = {}
    for col, names in columns.items():
        # heads: policy above value; elsewhere by name, spread around y = 0
        names.sort(key=lambda n: (g.nodes[n].get("kind") != "policy", str(n)))
        for i, n in enumerate(names):
            pos[n] = (float(col), (len(names) - 1) / 2.0 - i)
    return pos


def _arc(a: np.ndarray, b: np.ndarray, rad: float, n: int = 64) -> np.ndarray:
    """Points of matplotlib's ``arc3`` connection from ``a`` to ``b`` (a quadratic Bezier)."""
    control = (a + b) / 2 + rad * np.array([b[1] - a[1], a[0] - b[0]])
    t = np.linspace(0.0, 1.0, n)[:, None]
    points: np.ndarray = (1 - t) ** 2 * a + 2 * t * (1 - t) * control + t**2 * b
    return points


def curvatures(
    genome: Genome, pos: dict[str, tuple[float, float]] | None = None
) -> dict[tuple[str, str], float]:
    """The ``arc3`` curvature each edge is drawn with: 0 (straight) where that clears the nodes.

    An edge is straight when its line keeps clear of every node it does not
    end at; otherwise it takes the gentlest arc in :data:`RADS` that does
    (bending to the side fewer arcs use), so a skip edge ``x -> y`` never
    reads as a path through the nodes between them.

    >>> import genomes
    >>> g = genomes.mlp(4, 2, hidden=[8, 8])
    >>> g = g.copy(); g.graph.add_edge("input", "h1")
    >>> rads = curvatures(g)
    >>> rads[("input", "h0")], rads[("input", "h1")] != 0
    (0.0, True)
    """
    pos = positions(genome) if pos is None else pos
    scale = np.array([COLUMN_INCHES, ROW_INCHES])
    at = {n: np.asarray(p) * scale for n, p in pos.items()}
    reach = math.sqrt(NODE_SIZE) / 2 / 72 + CLEARANCE_INCHES  # node radius in inches, plus gap
    rads: dict[tuple[str, str], float] = {}
    bends = {1: 0, -1: 0}  # arcs bent each way so far
    for u, v in sorted(genome.graph.edges, key=lambda e: (pos[e[0]][0] - pos[e[1]][0], e)):
        others = np.array([at[n] for n in at if n not in (u, v)]).reshape(-1, 2)
        best, best_gap = 0.0, -math.inf
        for magnitude in RADS:
            sides = sorted((1, -1), key=lambda s: bends[s]) if magnitude else [1]
            for side in sides:
                curve = _arc(at[u], at[v], side * magnitude)
                gap = (
                    np.min(np.linalg.norm(curve[:, None, :] - others[None], axis=-1))
                    if len(others)
                    else math.inf
                )
                if gap > best_gap:
                    best, best_gap = side * magnitude, gap
                if gap >= reach:
                    break
            if best_gap >= reach:
                break
        rads[(u, v)] = best
        if best:
            bends[1 if best > 0 else -1] += 1
    return rads


def figure(genome: Genome) -> Figure:
    """The picture :func:`draw` saves, as a matplotlib ``Figure`` (not registered with pyplot).

    One data unit is :data:`COLUMN_INCHES` across and :data:`ROW_INCHES` up,
    so the curvatures of :func:`curvatures` hold on the page.
    """
    from genomes._optional import require

    require("matplotlib", feature="genomes.draw", extra="plot")
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    g = genome.graph
    pos = positions(genome)
    rads = curvatures(genome, pos)
    depth = layers(genome)
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    # arcs may bow beyond the nodes: make room for them in the limits
    for (u, v), rad in rads.items():
        if rad:
            scale = np.array([COLUMN_INCHES, ROW_INCHES])
            curve = _arc(np.asarray(pos[u]) * scale, np.asarray(pos[v]) * scale, rad) / scale
            ys.extend([float(curve[:, 1].min()), float(curve[:, 1].max())])
    xlim = (min(xs) - 0.45, max(xs) + 0.45)
    ylim = (min(ys) - 0.5, max(ys) + 0.5)
    fig = Figure(
        figsize=(
            (xlim[1] - xlim[0]) * COLUMN_INCHES,
            (ylim[1] - ylim[0]) * ROW_INCHES,
        )
    )
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_axis_off()
    common = {"ax": ax, "arrows": True, "arrowstyle": "-|>", "arrowsize": 12}
    for (u, v), rad in sorted(rads.items()):
        skip = depth[v] - depth[u] > 1
        patches = nx.draw_networkx_edges(
            g,
            pos,
            edgelist=[(u, v)],
            edge_color="#3465a4" if skip else "#555555",
            style="dashed" if skip else "solid",
            connectionstyle=f"arc3,rad={rad}",
            node_size=NODE_SIZE,
            **common,
        )
        for patch in patches:
            patch.set_clip_on(False)
    colours = [KIND_COLOURS.get(str(d.get("kind")), "#ffffff") for _, d in g.nodes(data=True)]
    nx.draw_networkx_nodes(
        g, pos, ax=ax, node_color=colours, node_size=NODE_SIZE, edgecolors="#333333"
    )
    labels = {}
    for n, d in g.nodes(data=True):
        act = "" if d.get("kind") == "input" else f"\n{d.get('activation')}"
        labels[n] = f"{n}\n{d.get('units')}{act}"
    nx.draw_networkx_labels(g, pos, labels=labels, ax=ax, font_size=8)
    handles = [Patch(facecolor=c, edgecolor="#333333", label=k) for k, c in KIND_COLOURS.items()]
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        fontsize=7,
        frameon=False,
        ncol=4,
    )
    ax.set_title(
        f"{genome.num_params()} parameters, {genome.macs()} MACs; "
        f"hash {genome.structural_hash()[:8]}",
        fontsize=9,
    )
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    return fig


def draw(genome: Genome, path: str | Path, *, dpi: int = 120) -> Path:
    """Draw ``genome`` to ``path``; the suffix (``.png`` or ``.svg``) picks the format.

    Nodes sit in columns by depth (longest path from the input; heads in the
    last column), labelled with name, units and activation and coloured by
    kind. Edges are straight where the line clears every other node and
    curved otherwise (see :func:`curvatures`), so each one visibly runs from
    its source to its target; skip edges, which jump over a column, are
    dashed and blue.

    Parameters
    ----------
    genome : Genome
        The genome to draw.
    path : str or Path
        Output file, ``*.png`` or ``*.svg``; parent folders are created.
    dpi : int
        Resolution of a PNG.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If the suffix is neither ``.png`` nor ``.svg``.

    Examples
    --------
    >>> import genomes, tempfile, os
    >>> p = genomes.draw(genomes.mlp(4, 2, hidden=[8]), os.path.join(tempfile.mkdtemp(), "g.svg"))
    >>> p.read_text()[:5]
    '<?xml'
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise ValueError(f"Expected a .png or .svg path (got {str(path)!r})")
    fig = figure(genome)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format=fmt, dpi=dpi, bbox_inches="tight")
    return path

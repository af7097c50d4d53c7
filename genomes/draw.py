"""Draw a genome as a layered DAG picture (PNG or SVG) with matplotlib.

matplotlib is imported inside :func:`draw` (Agg backend, no display, no
system graphviz), so ``import genomes`` stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import networkx as nx

if TYPE_CHECKING:
    from genomes.genome import Genome

KIND_COLOURS: dict[str, str] = {
    "input": "#9ecae1",
    "hidden": "#e0e0e0",
    "policy": "#fdae6b",
    "value": "#a1d99b",
}
"""Fill colour of each node kind; unknown kinds are drawn white."""


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


def draw(genome: Genome, path: str | Path, *, dpi: int = 120) -> Path:
    """Draw ``genome`` to ``path``; the suffix (``.png`` or ``.svg``) picks the format.

    Nodes sit in columns by depth (longest path from the input; heads in the
    last column), labelled with name, units and activation and coloured by
    kind. Edges between adjacent columns are straight; skip edges, which jump
    over a column, are drawn curved and dashed so they stay visible.

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

    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

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
    tallest = max(len(v) for v in columns.values())
    fig: Figure = plt.figure(figsize=(max(4.0, 2.2 * (last + 1)), max(3.0, 1.3 * tallest)))
    try:
        ax = fig.add_subplot(1, 1, 1)
        ax.set_axis_off()
        straight = [(u, v) for u, v in g.edges if depth[v] - depth[u] <= 1]
        skips = [(u, v) for u, v in g.edges if depth[v] - depth[u] > 1]
        common = {"ax": ax, "arrows": True, "arrowstyle": "-|>", "arrowsize": 12, "node_size": 2600}
        nx.draw_networkx_edges(g, pos, edgelist=straight, edge_color="#555555", **common)
        nx.draw_networkx_edges(
            g,
            pos,
            edgelist=skips,
            edge_color="#3465a4",
            style="dashed",
            connectionstyle="arc3,rad=0.25",
            **common,
        )
        colours = [KIND_COLOURS.get(str(d.get("kind")), "#ffffff") for _, d in g.nodes(data=True)]
        nx.draw_networkx_nodes(
            g, pos, ax=ax, node_color=colours, node_size=2600, edgecolors="#333333"
        )
        labels = {}
        for n, d in g.nodes(data=True):
            act = "" if d.get("kind") == "input" else f"\n{d.get('activation')}"
            labels[n] = f"{n}\n{d.get('units')}{act}"
        nx.draw_networkx_labels(g, pos, labels=labels, ax=ax, font_size=8)
        handles = [
            Patch(facecolor=c, edgecolor="#333333", label=k) for k, c in KIND_COLOURS.items()
        ]
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
        ax.margins(0.15)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format=fmt, dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path

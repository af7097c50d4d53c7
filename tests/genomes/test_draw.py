"""draw() writes real PNG and SVG pictures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import genomes
from genomes.draw import curvatures, layers
from genomes.testing import random_genome


def test_png_and_svg(tmp_path: Path) -> None:
    g = random_genome(np.random.default_rng(0), min_hidden=3, skip_prob=0.5)
    png = genomes.draw(g, tmp_path / "g.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 5000
    svg = g.draw(tmp_path / "deep" / "g.svg")
    text = svg.read_text()
    assert text.startswith("<?xml") and "<svg" in text
    for name in g.graph.nodes:
        assert str(name) in text  # labels are text in the SVG


def test_bad_suffix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"png or \.svg"):
        genomes.draw(genomes.minimal(2, 2), tmp_path / "g.jpg")
    assert not (tmp_path / "g.jpg").exists()


def test_layers_are_longest_paths() -> None:
    g = random_genome(np.random.default_rng(1), min_hidden=4)
    depth = layers(g)
    assert depth[g.input_node] == 0
    for u, v in g.graph.edges:
        assert depth[v] > depth[u]


def _drawn_edges(g: genomes.Genome) -> list[tuple[str, str, float]]:
    """Each drawn arrow as (node nearest its start, node nearest its end, closest
    approach to any other node in units of the node radius)."""
    from genomes.draw import figure

    fig = figure(g)
    fig.draw_without_rendering()  # fixes the arrows' shrinking to the figure's dpi
    ax = fig.axes[0]
    (nodes,) = ax.collections
    names = list(g.graph.nodes)
    centres = ax.transData.transform(nodes.get_offsets())
    radius = np.sqrt(nodes.get_sizes()[0]) / 2 * fig.dpi / 72
    out = []
    for patch in ax.patches:
        path = patch.get_transform().transform_path(patch.get_path())
        # the shaft is the first drawn segment (the head follows)
        line = next(seg for seg, code in path.iter_bezier() if code != path.MOVETO)
        points = np.array([line.point_at_t(t) for t in np.linspace(0, 1, 200)])
        ends = [names[int(np.argmin(np.linalg.norm(centres - p, axis=1)))] for p in points[[0, -1]]]
        others = [i for i, n in enumerate(names) if n not in ends]
        gaps = np.linalg.norm(points[:, None] - centres[others][None], axis=-1)
        out.append((ends[0], ends[1], float(gaps.min()) / radius if others else np.inf))
    return out


@pytest.mark.parametrize("seed", range(40, 48))
def test_every_edge_runs_from_its_source_to_its_target(seed: int) -> None:
    # a skip edge x -> y must not pass through a node between them, where it
    # would read as x -> h plus h -> y (with every skip edge bent by a fixed
    # arc3 rad=0.25, as before, each of these seeds has such an edge)
    g = random_genome(np.random.default_rng(seed), min_hidden=4, skip_prob=0.6)
    drawn = _drawn_edges(g)
    assert sorted((u, v) for u, v, _ in drawn) == sorted(g.graph.edges)
    for u, v, gap in drawn:
        assert gap > 1.0, f"edge {u} -> {v} passes through another node ({gap:.2f} radii)"


def test_skip_edge_over_a_chain_is_curved() -> None:
    g = genomes.mlp(3, 2, hidden=[4, 4, 4])
    g.graph.add_edge("input", "h2")  # in line with h0 and h1
    rads = curvatures(g)
    assert rads[("input", "h2")] != 0
    assert all(r == 0 for e, r in rads.items() if e != ("input", "h2"))

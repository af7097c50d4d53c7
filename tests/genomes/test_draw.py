"""draw() writes real PNG and SVG pictures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import genomes
from genomes.draw import layers
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

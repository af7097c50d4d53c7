"""The run report: what the page shows, built from a real archive."""

from __future__ import annotations

import html
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import genomes
from growagent.archive import Archive
from growagent.config import load_config
from growagent.report import ancestry_tree, hypervolume_reference, hypervolumes, write_report

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")


def _genome(gid, hidden, parents=(), operator="seed"):
    g = genomes.mlp(4, 2, hidden=list(hidden)) if hidden else genomes.minimal(4, 2)
    g.meta["lineage"] = {"id": gid, "parents": list(parents), "operator": operator, "params": {}}
    return g


def _agent(a, gid, generation, ret, hidden=(), parents=(), operator="seed"):
    g = _genome(gid, hidden, parents, operator)
    a.add_genome(g, generation=generation)
    size = g.num_params("policy")
    row = {"status": "ok", "return_mean": ret, "return_std": 1.0, "policy_params": size}
    a.add_assessment(gid, generation, 0, {**row, "policy_macs": g.macs("policy")})
    a.add_evaluation(gid, "search", 0, [ret - 1.0, ret + 1.0], generation)
    return size


@pytest.fixture
def run_dir(tmp_path):
    """A finished run's archive, written through the Archive API.

    s0 and s1 are seeds; c1 is made from both (two parents), c2 from c1; the
    champion c2 and c1 are the final front; d1 is dominated; x1 failed.
    """
    with Archive(tmp_path / "archive.sqlite") as a:
        cfg = load_config({"name": "fixture", "env": "CartPole-v1", "heldout_episodes": 4})
        a.set_meta("config", cfg.to_dict())
        _agent(a, "s0", 0, 10.0)
        _agent(a, "s1", 0, 12.0, hidden=(8,))
        _agent(a, "c1", 1, 30.0, hidden=(4,), parents=("s0", "s1"), operator="merge")
        _agent(a, "d1", 1, 5.0, hidden=(16,), parents=("s1",), operator="widen")
        _agent(a, "c2", 2, 25.0, hidden=(2,), parents=("c1",), operator="prune_units")
        a.add_genome(_genome("x1", (3,), ("s0",), "widen"), generation=2)
        a.add_assessment("x1", 2, 0, {"status": "failed", "error": "NaN"})
        for gen in range(3):
            stats = {"gen": gen, "nevals": 2, "ret_max": 10.0 * (gen + 1), "size_min": 10}
            a.add_generation(gen, [], [], stats, {})
        a.add_evaluation("c2", "heldout", 10**6, [23.0, 24.0, 25.0, 26.0])
        a.add_evaluation("c1", "heldout", 10**6, [27.0, 28.0, 29.0, 30.0])
        a.set_meta("front", ["c2", "c1"])
        a.set_meta("champion", "c2")
        a.set_meta("champion_heldout", {"mean": 24.5, "se": 0.559, "episodes": 4})
        a.set_meta("teacher_heldout", {"mean": 31.25, "se": 0.25, "episodes": 4})
    return tmp_path


def _text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_page_leads_with_held_out_returns(run_dir):
    page = write_report(run_dir).read_text()
    text = _text(page)
    assert "held-out return 24.50 ± 0.56 over 4 unseen episodes" in text
    assert "the teacher: 31.25 ± 0.25 over 4 episodes" in text


def test_front_is_a_table_with_search_and_heldout_side_by_side(run_dir):
    page = write_report(run_dir).read_text()
    assert '"policy_params"' not in page and "[{" not in page  # no JSON dump
    front = page.split("<h2>Pareto front</h2>")[1].split("</table>")[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", front)
    cells = [[_text(c).strip() for c in re.findall(r"<td>(.*?)</td>", r)] for r in rows[1:]]
    assert [c[0] for c in cells] == ["c2 ★", "c1"]  # the champion marked
    # search return ± SE (pooled over [ret-1, ret+1]) beside held-out ± SE
    assert cells[0][3:6] == ["25.00 ± 0.71", "2", "24.50 ± 0.56"]
    assert cells[1][3:6] == ["30.00 ± 0.71", "2", "28.50 ± 0.56"]


def test_config_is_toml(run_dir):
    page = write_report(run_dir).read_text()
    config = _text(page.split("<h2>Config</h2>")[1])
    assert 'env = "CartPole-v1"' in config and "[search]" in config
    assert "{" not in config  # not JSON


def test_hypervolume_per_generation_from_the_front_so_far(run_dir):
    with Archive(run_dir / "archive.sqlite", readonly=True) as a:
        scores = a.scores()
    sizes = {s.genome_id: s.params for s in scores}
    ref = hypervolume_reference(scores, "params")
    assert ref == (-5.0, pytest.approx(1.1 * max(sizes.values())))
    volumes = hypervolumes(scores, "params", ref)

    def area(front):  # (return, size) points of a 2-D front, largest return first
        total, top = 0.0, ref[1]
        for ret, size in sorted(front, reverse=True):
            total += (ret - 5.0) * (top - size) if size < top else 0.0
            top = min(top, size)
        return total

    # generation 0: s1 (12, bigger) and s0 (10, smaller); generation 1 adds c1, 2 adds c2
    g0 = area([(12.0, sizes["s1"]), (10.0, sizes["s0"])])
    assert volumes[0] == pytest.approx(g0)
    assert volumes[1] > volumes[0] and volumes[2] >= volumes[1]
    page = write_report(run_dir).read_text()
    assert "reference point: return 5 (the worst seen in the run)" in _text(page)


def test_plots_written(run_dir):
    out = write_report(run_dir).parent
    for name in ["returns", "front", "hypervolume", "sizes", "pareto", "lineage", "champion"]:
        assert (out / f"{name}.png").stat().st_size > 1000, name


def test_generation_axes_have_integer_ticks():
    from matplotlib.figure import Figure

    from growagent.report import _generation_axis

    fig = Figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1, 2], [1.0, 2.0, 3.0])
    _generation_axis(ax)
    fig.draw_without_rendering()
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)


def test_ancestry_is_a_tree_with_operators(run_dir):
    with Archive(run_dir / "archive.sqlite", readonly=True) as a:
        tree = ancestry_tree(a, "c2")
    assert tree["id"] == "c2" and tree["operator"] == "prune_units"
    (c1,) = tree["parents"]
    assert c1["operator"] == "merge"
    assert [p["id"] for p in c1["parents"]] == ["s0", "s1"]  # both parents, not a chain
    page = write_report(run_dir).read_text()
    lineage = page.split("<h2>Ancestry of the champion</h2>")[1].split("<h2>")[0]
    assert lineage.count("<ul") == 3 and "merge" in lineage and "prune_units" in lineage


def test_ancestry_walk_stops_on_a_parent_cycle(tmp_path):
    with Archive(tmp_path / "archive.sqlite") as a:  # a corrupt archive: a <- b <- a
        a.add_genome(_genome("a", (2,), ("b",), "widen"), generation=1)
        a.add_genome(_genome("b", (2,), ("a",), "widen"), generation=1)
        tree = ancestry_tree(a, "a")
    (b,) = tree["parents"]
    (again,) = b["parents"]
    assert again == {"id": "a", "parents": [], "note": "shown above"}


def test_a_long_ancestry_is_cut_to_the_newest_generations_and_renders(tmp_path):
    from growagent.report import MAX_TREE_DEPTH, _tree_figure, _tree_html

    with Archive(tmp_path / "archive.sqlite") as a:  # a lineage 1,500 generations deep
        a.add_genome(_genome("g0", (2,), (), "seed"), generation=0)
        for i in range(1, 1500):
            a.add_genome(_genome(f"g{i}", (2,), (f"g{i - 1}",), "widen"), generation=i)
        tree = ancestry_tree(a, "g1499")
    depth, node = 0, tree
    while node["parents"]:
        (node,) = node["parents"]
        depth += 1
    assert depth == MAX_TREE_DEPTH and node["note"] == "older ancestors not shown"
    assert "older ancestors not shown" in _tree_html(tree, "g1499")
    _tree_figure(tree)  # no RecursionError


def _shoot(index: Path, out: Path) -> np.ndarray:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    from matplotlib.image import imread

    spec = importlib.util.spec_from_file_location(
        "report_screenshot", ROOT / "benchmarks/report_screenshot.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.screenshot(index, out, width=1280, height=1600)
    assert out.exists()
    return imread(out)


def test_screenshot_of_the_page_is_not_blank(run_dir, tmp_path):
    pixels = _shoot(write_report(run_dir), tmp_path / "page.png")
    assert pixels.shape[:2] == (1600, 1280)
    assert pixels[..., :3].std() > 0.05  # text, tables and plots, not a blank page


TINY = """\
name = "tiny"
env = "CartPole-v1"
seed = 0
heldout_episodes = 4

[teacher]
steps = 4096
hidden = [16]
min_return = 0.0  # a poor teacher is enough for a picture of the page

[evolution]
generations = 2
mu = 2
offspring = 2
seeds = ["minimal", "mlp:4"]

[assess]
eval_episodes = 2

[assess.distill]
env_steps = 256
teacher_states = 256
probe_states = 64
grad_steps = 50

[executor]
kind = "serial"
"""


@pytest.mark.slow
def test_screenshot_of_a_tiny_real_run(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    run = tmp_path / "run"
    subprocess.run(
        [sys.executable, "-m", "growagent.cli.main", "run", str(config), "-o", str(run), "-q"],
        check=True,
        cwd=tmp_path,
        timeout=300,
    )
    index = write_report(run)
    assert "held-out return" in index.read_text()
    pixels = _shoot(index, tmp_path / "page.png")
    assert pixels[..., :3].std() > 0.05

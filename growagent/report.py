"""Run reports: PNG plots and an ``index.html`` built from the archive alone.

The page leads with what a reader looks for: the champion's held-out return
against the teacher's, and the final Pareto front as a table with each
agent's search and held-out return side by side (with standard errors).
Plots: return, hypervolume and policy size per generation; every assessed
agent's return against its size with the front, the teacher and an
SB3-sized 64x64 policy marked; the front's search and held-out returns; the
champion's ancestry as a tree; the champion's graph. The generation table,
the ancestry as an indented list and the run config as TOML follow.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import genomes
from growagent.archive import Archive, Score
from growagent.config import load_archived_config
from growagent.mapping import ConfigError
from growagent.predictor.features import POLISHED
from growagent.search.base import nondominated

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


# ------------------------------------------------------------------ queries
def ancestry_tree(archive: Archive, genome_id: str) -> dict[str, Any]:
    """The ancestry of ``genome_id`` as a tree, following every parent in
    ``meta["lineage"]["parents"]``.

    Each node is a dict: ``id``, ``operator`` (how it was made from its
    parents), ``params`` (the operator's scalar parameters), ``size`` (policy
    parameters), ``generation``, ``ret`` (assessed return or None),
    ``parents`` (subtrees) and ``note``: ``"not in archive"`` for an id the
    archive lacks, ``"shown above"`` for an ancestor reached a second time
    (shared ancestry, or a corrupt archive whose parent links loop), whose
    subtree is not repeated.
    """
    visited: set[str] = set()

    def node(gid: str) -> dict[str, Any]:
        out: dict[str, Any] = {"id": gid, "parents": [], "note": ""}
        if gid in visited:
            out["note"] = "shown above"
            return out
        visited.add(gid)
        if not archive.has_genome(gid):
            out["note"] = "not in archive"
            return out
        lineage = archive.genome(gid).meta.get("lineage", {})
        row = archive.ancestry(gid) or {}
        params = lineage.get("params") or {}
        out.update(
            operator=lineage.get("operator"),
            params={k: v for k, v in params.items() if isinstance(v, (int, float, str))},
            size=row.get("size"),
            generation=row.get("generation"),
            ret=row.get("ret"),
        )
        out["pending"] = [str(p) for p in lineage.get("parents") or []]
        return out

    # iterative depth-first walk: a long lineage cannot hit the recursion limit, and
    # the page (drawn recursively) shows the newest MAX_TREE_DEPTH generations of it
    root = node(genome_id)
    stack = [(root, 0)]
    while stack:
        current, depth = stack.pop()
        pending = current.pop("pending", [])
        if pending and depth >= MAX_TREE_DEPTH:
            current["note"] = "older ancestors not shown"
            continue
        for parent in pending:
            child = node(parent)
            current["parents"].append(child)
            stack.append((child, depth + 1))
    return root


PREDICTOR_COLUMNS = (
    "pred_tau",
    "pred_rho",
    "tau_parent",
    "tau_size",
    "tau_ridge",
    "tau_forest",
    "screen_ratio",
    "explore_share",
)
"""Generation statistics of the screen shown in the generations table when present."""

MAX_TREE_DEPTH = 50
"""Generations of ancestry the report shows (older ones are summarised in one note)."""


def hypervolume_reference(scores: list[Score], objective: str) -> tuple[float, float]:
    """The reference point, in minimisation form ``(-return, size)``: the worst
    return of the run and 1.1 times its largest size."""
    worst = min(s.ret for s in scores)
    return (-worst, 1.1 * max(s.size(objective) for s in scores))


def hypervolumes(scores: list[Score], objective: str, ref: tuple[float, float]) -> dict[int, float]:
    """Hypervolume of the front of every agent assessed up to each generation.

    The front is DEAP's non-dominated sort of ``(return, size)``; the volume
    is moocore's (the library DEAP's own ``hypervolume`` calls) over
    ``(-return, size)`` against ``ref``.
    """
    import moocore

    out: dict[int, float] = {}
    for generation in sorted({s.generation for s in scores}):
        seen = {s.genome_id: s for s in scores if s.generation <= generation}
        front = nondominated({g: (s.ret, float(s.size(objective))) for g, s in seen.items()})
        points = np.array([[-seen[g].ret, seen[g].size(objective)] for g in front], dtype=float)
        out[generation] = float(moocore.hypervolume(points, ref=np.asarray(ref, dtype=float)))
    return out


# ------------------------------------------------------------------- format
def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _pm(mean: float | None, se: float | None) -> str:
    """``mean ± se`` for the page (blank when there is no mean)."""
    if mean is None:
        return ""
    if se is None or math.isnan(se):
        return f"{mean:.2f}"
    return f"{mean:.2f} ± {se:.2f}"


def _table(header: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    """An HTML table from already-escaped cells."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join(
        f'<tr class="{(classes or [""] * len(rows))[i]}">'
        + "".join(f"<td>{c}</td>" for c in row)
        + "</tr>"
        for i, row in enumerate(rows)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _tree_html(tree: dict[str, Any], champion: str) -> str:
    """The ancestry tree as nested lists, child first, each parent under the
    operator that made the child from it."""
    label = f"<code>{html.escape(tree['id'])}</code>"
    if tree["id"] == champion:
        label += " (champion)"
    if tree["note"]:
        return f"<li>{label} <i>{html.escape(tree['note'])}</i></li>"
    facts = [f"generation {_fmt(tree['generation'])}", f"{_fmt(tree['size'])} parameters"]
    if tree["ret"] is not None:
        facts.append(f"return {tree['ret']:.2f}")
    inner = ""
    if tree["parents"]:
        params = ", ".join(f"{k}={v}" for k, v in tree["params"].items())
        made = html.escape(f"{tree['operator']}({params})")
        inner = f"<div class=op>made by <b>{made}</b> from</div><ul>"
        inner += "".join(_tree_html(p, champion) for p in tree["parents"]) + "</ul>"
    elif tree["operator"]:
        inner = f" <span class=op>({html.escape(str(tree['operator']))})</span>"
    return f"<li>{label}: {html.escape(', '.join(facts))}{inner}</li>"


# -------------------------------------------------------------------- plots
def _generation_axis(ax: Axes) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("generation")


def _save(fig: Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight")


def _tree_figure(tree: dict[str, Any]) -> Figure:
    """The ancestry tree: the oldest ancestors left, the champion right,
    operators on the edges."""
    import networkx as nx
    from matplotlib.figure import Figure

    graph = nx.DiGraph()
    pos: dict[int, tuple[float, float]] = {}
    leaves = [0]

    def place(node: dict[str, Any], depth: int) -> float:
        key = len(pos)
        ret = "" if node.get("ret") is None else f"\n{node['ret']:.1f}"
        size = "" if node.get("size") is None else f"\n{node['size']}p"
        graph.add_node(key, label=f"{node['id'][:8]}{size}{ret}")
        pos[key] = (0.0, 0.0)
        ys = []
        for parent in node["parents"]:
            child_key = len(pos)
            ys.append(place(parent, depth + 1))
            graph.add_edge(child_key, key, label=str(node.get("operator") or ""))
        y = float(np.mean(ys)) if ys else float(leaves[0])
        if not ys:
            leaves[0] += 1
        pos[key] = (-float(depth), -y)
        return y

    place(tree, 0)
    depth = max(-x for x, _ in pos.values()) + 1
    fig = Figure(figsize=(max(5.0, 1.8 * depth), 1.1 * leaves[0] + 0.9))
    ax = fig.add_subplot(1, 1, 1)
    ax.set_axis_off()
    nx.draw_networkx_edges(graph, pos, ax=ax, arrows=True, node_size=2000, edge_color="#777777")
    colours = ["#fdae6b" if k == 0 else "#e0e0e0" for k in graph.nodes]  # 0: the champion
    nx.draw_networkx_nodes(
        graph, pos, ax=ax, node_size=2000, node_color=colours, edgecolors="#333333"
    )
    nodes = dict(graph.nodes(data="label"))
    nx.draw_networkx_labels(graph, pos, labels=nodes, ax=ax, font_size=6)
    edge_labels = {(u, v): d for u, v, d in graph.edges(data="label")}
    nx.draw_networkx_edge_labels(graph, pos, edge_labels=edge_labels, ax=ax, font_size=6)
    ax.set_title("Ancestry of the champion (oldest left; edges: the operator)", fontsize=9)
    xs, ys = [p[0] for p in pos.values()], [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.5, max(xs) + 0.5)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    return fig


# ------------------------------------------------------------------- report
def write_report(run_dir: str | Path) -> Path:
    """Write ``report/`` (PNGs and ``index.html``) for a run; return the HTML path."""
    from matplotlib.figure import Figure

    run_dir = Path(run_dir)
    out = run_dir / "report"
    with Archive(run_dir / "archive.sqlite", readonly=True) as archive:
        out.mkdir(parents=True, exist_ok=True)
        gens = archive.generations()
        rows = list(archive.assessments())
        failed = sum(1 for r in rows if r["status"] != "ok")
        config = archive.get_meta("config") or {}
        try:  # the config module's own serialiser, as config.toml is written
            resolved = load_archived_config(config)
            config_text = resolved.to_toml()
            objective = resolved.search.size_objective
        except ConfigError as exc:  # a config this version no longer reads
            config_text = f"# not readable by this version ({exc}); as stored:\n{config!r}"
            objective = "params"
        scores = [s for s in archive.scores() if not s.genome_id.endswith(POLISHED)]
        everything = {s.genome_id: s for s in archive.scores()}
        champion_id = archive.get_meta("champion")
        champion_held = archive.get_meta("champion_heldout")
        teacher_held = archive.get_meta("teacher_heldout")
        teacher_ret = archive.get_meta("teacher_return")
        teacher = archive.genome("teacher") if archive.has_genome("teacher") else None
        front_ids = archive.get_meta("front") or nondominated(
            {s.genome_id: (s.ret, float(s.size(objective))) for s in scores}
        )
        front = []
        for gid in front_ids:
            if gid in everything:
                held = archive.pooled_return(gid, ("heldout",))
                front.append((everything[gid], held))
        tree = ancestry_tree(archive, champion_id) if champion_id else None
        champion = archive.genome(champion_id) if champion_id else None
    size_name = "policy MACs" if objective == "macs" else "policy parameters"

    # Return per generation
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot(1, 1, 1)
    xs = [g["generation"] for g in gens]
    ax.plot(xs, [g["stats"].get("ret_max") for g in gens], "o-", label="best (search)")
    ax.plot(xs, [g["stats"].get("ret_median") for g in gens], "s--", label="median (search)")
    if teacher_held:
        ax.axhline(teacher_held["mean"], color="C3", ls=":", label="teacher (held-out)")
    _generation_axis(ax)
    ax.set(ylabel="return", title="Return of the population")
    ax.legend(fontsize=8, loc="best")
    _save(fig, out / "returns.png")

    # Hypervolume per generation
    ref = hypervolume_reference(scores, objective) if scores else (0.0, 0.0)
    volumes = hypervolumes(scores, objective, ref) if scores else {}
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(list(volumes), list(volumes.values()), "o-")
    _generation_axis(ax)
    ax.set(ylabel="hypervolume", title="Hypervolume of the front so far")
    _save(fig, out / "hypervolume.png")

    # Policy size per generation
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter(
        [s.generation for s in scores],
        [s.size(objective) for s in scores],
        c="0.6",
        s=14,
        label="assessed agent",
    )
    by_gen: dict[int, list[int]] = {}
    for s in scores:
        by_gen.setdefault(s.generation, []).append(s.size(objective))
    gs = sorted(by_gen)
    ax.plot(gs, [float(np.median(by_gen[g])) for g in gs], "o-", label="median")
    ax.plot(gs, [min(by_gen[g]) for g in gs], "s--", label="smallest")
    if scores:
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    _generation_axis(ax)
    ax.set(ylabel=f"{size_name} (log)", title="Size of the assessed agents")
    ax.legend(fontsize=8)
    _save(fig, out / "sizes.png")

    # Return against size, with the front
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter(
        [s.size(objective) for s in scores],
        [s.ret for s in scores],
        c="0.7",
        s=14,
        label="assessed",
    )
    all_front = nondominated({s.genome_id: (s.ret, float(s.size(objective))) for s in scores})
    ax.step(
        [everything[g].size(objective) for g in all_front],
        [everything[g].ret for g in all_front],
        "C0o-",
        where="post",
        label="Pareto front",
    )
    if teacher is not None:
        tsize = teacher.macs("policy") if objective == "macs" else teacher.num_params("policy")
        if teacher_ret is not None:
            ax.scatter([tsize], [teacher_ret], marker="*", s=160, c="C3", label="teacher", zorder=3)
        ref_net = genomes.mlp(teacher.observation_space, teacher.action_space, hidden=[64, 64])
        rsize = ref_net.macs("policy") if objective == "macs" else ref_net.num_params("policy")
        ax.axvline(rsize, color="C2", ls="--", label="SB3-sized 64x64 policy")
    if champion_id in everything:
        c = everything[champion_id]
        ax.scatter(
            [c.size(objective)], [c.ret], marker="D", s=80, c="C1", label="champion", zorder=4
        )
    ax.set_xscale("log")
    ax.set(xlabel=f"{size_name} (log)", ylabel="return (search)", title="Return against size")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3)
    _save(fig, out / "pareto.png")

    # The front: search and held-out returns side by side
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot(1, 1, 1)
    at = np.arange(len(front), dtype=float)
    ax.errorbar(
        at - 0.1,
        [s.ret for s, _ in front],
        yerr=[0.0 if math.isnan(s.se) else s.se for s, _ in front],
        fmt="o",
        capsize=3,
        label="search return",
    )
    held_at = [i for i, (_, h) in enumerate(front) if h is not None]
    ax.errorbar(
        at[held_at] + 0.1,
        [front[i][1][0] for i in held_at],  # type: ignore[index]
        yerr=[front[i][1][1] for i in held_at],  # type: ignore[index]
        fmt="s",
        capsize=3,
        label="held-out return",
    )
    if teacher_held:
        ax.axhline(teacher_held["mean"], color="C3", ls=":", label="teacher (held-out)")
    ax.set_xticks(at, [f"{s.size(objective)}" for s, _ in front])
    ax.set(xlabel=size_name, ylabel="return (± standard error)", title="The final front")
    ax.legend(fontsize=8)
    _save(fig, out / "front.png")

    # Ancestry of the champion
    if tree is not None:
        fig = _tree_figure(tree)
        _save(fig, out / "lineage.png")
    if champion is not None:
        champion.draw(out / "champion.png")

    # ---------------------------------------------------------------- page
    def esc(value: Any) -> str:
        return html.escape(_fmt(value))

    held_line = "no held-out evaluation (heldout_episodes = 0)"
    if champion_held:
        held_line = (
            f"<b>{_pm(champion_held['mean'], champion_held.get('se'))}</b> "
            f"over {champion_held['episodes']} unseen episodes"
        )
    teacher_line = ""
    if teacher_held:
        teacher_line = (
            f"; the teacher: <b>{_pm(teacher_held['mean'], teacher_held.get('se'))}</b> "
            f"over {teacher_held['episodes']} episodes"
        )
        if teacher is not None:
            teacher_line += f", {teacher.num_params('policy')} policy parameters"
    champ_size = everything[champion_id].size(objective) if champion_id in everything else None

    front_rows, front_classes = [], []
    for s, held in front:
        front_rows.append(
            [
                f"<code>{esc(s.genome_id)}</code>" + (" ★" if s.genome_id == champion_id else ""),
                esc(s.size(objective)),
                esc(s.generation),
                html.escape(_pm(s.ret, s.se)),
                esc(s.episodes),
                html.escape(_pm(*held[:2])) if held else "",
                esc(held[2]) if held else "",
            ]
        )
        front_classes.append("champion" if s.genome_id == champion_id else "")
    front_table = _table(
        [
            "agent",
            html.escape(size_name),
            "generation",
            "search return",
            "episodes",
            "held-out return",
            "episodes",
        ],
        front_rows,
        front_classes,
    )
    cols = ["generation", "nevals", "ret_max", "ret_median", "size_min", "size_median"]
    cols += [c for c in PREDICTOR_COLUMNS if any(c in g["stats"] for g in gens)]
    gen_rows = [
        [esc(g["stats"].get(c, g.get(c))) for c in cols]
        + [f"{volumes[g['generation']]:.6g}" if g["generation"] in volumes else ""]
        for g in gens
    ]
    gen_table = _table([*cols, "hypervolume"], gen_rows)
    name = html.escape(str(config.get("name", run_dir.name)))
    figures = [
        ("returns.png", "Best and median search return of each generation."),
        ("front.png", "The final front: search and held-out return of each agent."),
        ("hypervolume.png", "Hypervolume of the front of all agents assessed so far."),
        ("sizes.png", f"{size_name.capitalize()} of each assessed agent, by generation."),
        ("pareto.png", "Every assessed agent's search return against its size."),
    ]
    if champion is not None:
        figures.append(("champion.png", "The champion's graph."))
    gallery = "".join(
        f'<figure><img src="{src}" alt="{html.escape(cap)}"><figcaption>{html.escape(cap)}'
        "</figcaption></figure>"
        for src, cap in figures
    )
    lineage_html = (
        '<img class=wide src="lineage.png" alt="ancestry of the champion">'
        f"<ul class=tree>{_tree_html(tree, str(champion_id))}</ul>"
        if tree is not None
        else "<p>(no champion yet)</p>"
    )
    summary = champion.summary() if champion is not None else "(no champion yet)"
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>growagent report: {name}</title>
<style>
body{{font-family:sans-serif;max-width:1200px;margin:auto;padding:0 12px;color:#222}}
.headline{{font-size:1.15em;background:#f3f7fb;border-left:4px solid #3465a4;padding:8px 12px}}
.gallery{{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:10px}}
figure{{margin:0}} figure img{{width:100%;height:auto}}
figcaption{{font-size:.85em;color:#555}} img.wide{{max-width:100%}}
table{{border-collapse:collapse;font-size:.9em;margin:6px 0}}
th,td{{border:1px solid #bbb;padding:3px 8px;text-align:right}} th{{background:#eee}}
td:first-child,th:first-child{{text-align:left}} tr.champion{{background:#fff4e0;font-weight:bold}}
pre{{background:#f4f4f4;padding:8px;overflow-x:auto}} pre.config{{columns:3 20em}} .op{{color:#555}}
ul.tree,ul.tree ul{{list-style:none;padding-left:1.4em;border-left:1px dotted #aaa}}
</style></head><body>
<h1>growagent run: {name}</h1>
<p class=headline>Champion <code>{esc(champion_id)}</code> ({esc(champ_size)} {size_name}):
held-out return {held_line}{teacher_line}.</p>
<p>Environment <b>{html.escape(str(config.get("env", "?")))}</b>; {len(gens)} generations
recorded; {len(rows) - failed} agents assessed, {failed} failed. The search return is pooled
over each agent's search and re-evaluation episodes; the held-out return is measured after the
search on episodes it never saw; ± is the standard error.</p>
<h2>Pareto front</h2>{front_table}
<p>★ the champion: the smallest agent within the run's <code>champion_tolerance</code> of the
best held-out return.</p>
<div class=gallery>{gallery}</div>
<h2>Generations</h2>{gen_table}
<p>pred_tau, pred_rho: Kendall tau and Spearman correlation between the predictor's scores, made
before assessment, and the returns measured after it, over that generation's children (empty when
the predictor did not screen). tau_parent, tau_size, tau_ridge, tau_forest: the same out-of-sample
Kendall tau for the baselines (the parent's return; the policy's size; ridge regression and extra
trees on the flat features), each fitted on earlier generations only. screen_ratio: candidates
made per child assessed; explore_share: the share of children chosen for exploration.
Hypervolume: the area dominated by the front of every agent assessed up to that generation
(DEAP's non-dominated sort, moocore's hypervolume) in minimisation form
(&minus;return, {size_name}), against the reference point: return {-ref[0]:.4g} (the
worst seen in the run) and {ref[1]:.4g} {size_name} (1.1 &times; the largest seen).</p>
<h2>Ancestry of the champion</h2>{lineage_html}
<h2>Champion</h2><pre>{html.escape(summary)}</pre>
<h2>Config</h2><p>The resolved run config, as saved in <code>config.toml</code>.</p>
<pre class=config>{html.escape(config_text)}</pre>
</body></html>
"""
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index

"""Run reports: PNG plots and an ``index.html`` built from the archive alone.

Plots: best and median return per generation; every assessed agent's return
against policy parameters with the Pareto front, the teacher and the
SB3-sized 64x64 reference marked; the champion's lineage.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import genomes
from genomes import Genome
from growagent.archive import Archive


def _pareto(points: list[tuple[str, float, int]]) -> list[tuple[str, float, int]]:
    """Non-dominated points (return up, size down), smallest first."""
    front = []
    for gid, ret, size in sorted(points, key=lambda p: (p[2], -p[1])):
        if not front or ret > front[-1][1]:
            front.append((gid, ret, size))
    return front


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def lineage(archive: Archive, genome_id: str) -> list[dict[str, Any]]:
    """Ancestors of ``genome_id`` back to a seed, oldest first, with their returns."""
    chain = []
    current: str | None = genome_id
    while current:
        row = archive.ancestry(current)
        if row is None:
            break
        chain.append(row)
        current = row["parent"]
    return chain[::-1]


def write_report(run_dir: str | Path) -> Path:
    """Write ``report/`` (PNGs and ``index.html``) for a run; return the HTML path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    out = run_dir / "report"
    with Archive(run_dir / "archive.sqlite", readonly=True) as archive:
        out.mkdir(parents=True, exist_ok=True)
        gens = archive.generations()
        rows = [r for r in archive.assessments() if r["status"] == "ok"]
        failed = sum(1 for r in archive.assessments() if r["status"] != "ok")
        champion_id = archive.get_meta("champion")
        config = archive.get_meta("config") or {}
        teacher = archive.genome("teacher") if archive.has_genome("teacher") else None
        teacher_ret = archive.get_meta("teacher_return")
        chain = lineage(archive, champion_id) if champion_id else []
        champion: Genome | None = archive.genome(champion_id) if champion_id else None

    # Return per generation
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [g["generation"] for g in gens]
    ax.plot(xs, [g["stats"].get("ret_max") for g in gens], "o-", label="best")
    ax.plot(xs, [g["stats"].get("ret_median") for g in gens], "s--", label="median")
    ax.set(xlabel="generation", ylabel="return", title="Return of the population")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "returns.png", dpi=100)
    plt.close(fig)

    # Pareto front: return against policy parameters
    points = [(r["genome_id"], float(r["return_mean"]), int(r["policy_params"])) for r in rows]
    front = _pareto(points)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter([p[2] for p in points], [p[1] for p in points], c="0.7", s=14, label="assessed")
    ax.step(
        [p[2] for p in front], [p[1] for p in front], "C0o-", where="post", label="Pareto front"
    )
    if teacher is not None:
        size = teacher.num_params("policy")
        if teacher_ret is not None:
            ax.scatter([size], [teacher_ret], marker="*", s=160, c="C3", label="teacher", zorder=3)
        else:
            ax.axvline(size, color="C3", ls=":", label="teacher size")
        ref = genomes.mlp(teacher.observation_space, teacher.action_space, hidden=[64, 64])
        ax.axvline(ref.num_params("policy"), color="C2", ls="--", label="SB3-sized 64x64 policy")
    if champion is not None:
        cp = [p for p in points if p[0] == champion_id]
        if cp:
            ax.scatter([cp[0][2]], [cp[0][1]], marker="D", s=80, c="C1", label="champion", zorder=4)
    ax.set_xscale("log")
    ax.set(xlabel="policy parameters (log)", ylabel="return", title="Return against size")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "pareto.png", dpi=100)
    plt.close(fig)

    # Lineage of the champion
    fig, ax = plt.subplots(figsize=(6, 4))
    if chain:
        ax.plot(
            range(len(chain)),
            [c["ret"] if c["ret"] is not None else float("nan") for c in chain],
            "o-",
        )
        for i, c in enumerate(chain):
            ax.annotate(
                f"{c['operator']}\n{c['size']}p",
                (i, c["ret"] or 0),
                fontsize=7,
                textcoords="offset points",
                xytext=(0, 6),
                ha="center",
            )
    ax.set(xlabel="ancestor (oldest first)", ylabel="return", title="Lineage of the champion")
    fig.tight_layout()
    fig.savefig(out / "lineage.png", dpi=100)
    plt.close(fig)

    # Generation table (with the predictor's Kendall tau when it screened)
    cols = ["generation", "nevals", "ret_max", "ret_median", "size_min", "size_median", "pred_tau"]
    table = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(_fmt(g['stats'].get(c, g.get(c))))}</td>" for c in cols)
        + "</tr>"
        for g in gens
    )
    gen_table = (
        "<table border=1 cellspacing=0 cellpadding=3><tr>"
        + "".join(f"<th>{c}</th>" for c in cols)
        + f"</tr>{table}</table>"
    )
    summary = champion.summary() if champion is not None else "(no champion yet)"
    if champion is not None:
        champion.draw(out / "champion.png")
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>growagent report: {html.escape(str(config.get("name", run_dir.name)))}</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:auto}} img{{max-width:48%}} pre{{background:#f4f4f4;padding:8px}}</style>
</head><body>
<h1>growagent run: {html.escape(str(config.get("name", run_dir.name)))}</h1>
<p>Environment <b>{html.escape(str(config.get("env", "?")))}</b>; {len(gens)} generations recorded;
{len(rows)} agents assessed, {failed} failed. Champion: <b>{html.escape(str(champion_id))}</b>.</p>
<img src="returns.png" alt="return per generation"> <img src="pareto.png" alt="Pareto front">
<img src="lineage.png" alt="lineage of the champion"> {'<img src="champion.png" alt="champion graph">' if champion is not None else ""}
<h2>Generations</h2>{gen_table}
<p>pred_tau: Kendall tau between the predictor's scores, made before assessment, and the returns
measured after it, over that generation's children (empty when the predictor did not screen).</p>
<h2>Champion</h2><pre>{html.escape(summary)}</pre>
<h2>Pareto front</h2><pre>{html.escape(json.dumps([{"id": g, "return": r, "policy_params": s} for g, r, s in front], indent=1))}</pre>
<h2>Config</h2><pre>{html.escape(json.dumps(config, indent=1))}</pre>
</body></html>
"""
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index

"""The bench's output: one Markdown section per task (table, command, plots).

The section sits between ``<!-- bench ENV -->`` and ``<!-- bench ENV end -->``
in the doc and is rewritten whole by every ``growagent bench``, so the doc
shows what the code measured and nothing else. Hypervolumes are moocore's,
in minimisation form ``(-return, policy parameters)``, against one reference
point per task shared by every row (stated under the table).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from growagent.bench.record import RowResult
from growagent.search.base import nondominated


@dataclass(frozen=True)
class TaskInfo:
    """What a task's section states besides the rows."""

    env: str
    teacher_heldout: float
    teacher_params: int
    random_return: float
    command: str


def reference(task: TaskInfo, results: Sequence[RowResult]) -> tuple[float, float]:
    """The hypervolume reference ``(return, size)``: the random policy's return (or the
    worst return seen, if lower) and 1.1 times the largest policy seen."""
    returns = [r for x in results for r, _ in x.front] + [r for x in results for _, r, _ in x.curve]
    sizes = [s for x in results for _, s in x.front] + [s for x in results for _, _, s in x.curve]
    return min([task.random_return, *returns]), 1.1 * max(sizes, default=1)


def hypervolume(points: Sequence[tuple[float, int]], ref: tuple[float, float]) -> float:
    """Hypervolume of the non-dominated ``(return, size)`` points against ``ref``."""
    import moocore

    inside = [(r, s) for r, s in points if r > ref[0] and s < ref[1]]
    if not inside:
        return 0.0
    front = nondominated({str(i): (r, float(s)) for i, (r, s) in enumerate(inside)})
    xy = np.array([[-inside[int(i)][0], inside[int(i)][1]] for i in front], dtype=float)
    return float(moocore.hypervolume(xy, ref=np.array([-ref[0], ref[1]], dtype=float)))


def _spread(values: Sequence[float], fmt: str = "{:.1f}") -> str:
    """``mean ± sd`` (sample standard deviation) of the finite values, ``-`` if none."""
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "-"
    mean = fmt.format(float(np.mean(values)))
    if len(values) == 1:
        return mean
    return f"{mean} ± {fmt.format(float(np.std(values, ddof=1)))}"


def table(task: TaskInfo, rows: Sequence[str], results: Sequence[RowResult]) -> list[str]:
    """The task's table: one line per row, mean ± standard deviation over seeds."""
    ref = reference(task, [x for x in results if x.status == "ok"])
    lines = [
        "| row | best held-out return | smallest within 5% of the teacher (policy params, "
        "per seed) | hypervolume | wall s | assessments | env steps | note |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        mine = sorted((x for x in results if x.row == row), key=lambda x: x.seed)
        ok = [x for x in mine if x.status == "ok"]
        notes = sorted({x.note or x.status for x in mine if x.status != "ok" or x.note})
        note = "; ".join(notes)
        if not ok:
            lines.append(f"| {row} | - | - | - | - | - | - | {note} |")
            continue
        best = _spread([x.best if x.best is not None else math.nan for x in ok])
        small = " / ".join(str(x.smallest_within(task.teacher_heldout) or "none") for x in ok)
        hv = _spread([hypervolume(x.front, ref) for x in ok], "{:.4g}")
        wall = _spread([x.wall for x in ok])
        n = _spread([float(x.assessments) for x in ok if x.assessments is not None], "{:.0f}")
        if all(x.env_steps is not None for x in ok):
            steps = _spread([float(x.env_steps or 0) for x in ok], "{:,.0f}")
        elif all(x.env_steps_bound is not None for x in ok):
            steps = "≤ " + _spread([float(x.env_steps_bound or 0) for x in ok], "{:,.0f}")
        else:
            steps = "not recorded"
        lines.append(f"| {row} | {best} | {small} | {hv} | {wall} | {n} | {steps} | {note} |")
    return lines


def section(
    task: TaskInfo,
    rows: Sequence[str],
    results: Sequence[RowResult],
    seeds: Sequence[int],
    plots: Sequence[Path],
    doc_dir: Path,
) -> str:
    """The Markdown between the task's markers."""
    ok = [x for x in results if x.status == "ok"]
    ref = reference(task, ok)
    text = [
        f"### {task.env}",
        "",
        f"Produced on {time.strftime('%Y-%m-%d %H:%M')} by:",
        "",
        "```sh",
        task.command,
        "```",
        "",
        f"Seeds {', '.join(map(str, seeds))}; mean ± standard deviation over seeds. Teacher "
        f"(64x64 PPO, shared by every row): held-out return {task.teacher_heldout:.1f} with "
        f"{task.teacher_params} policy parameters; random policy {task.random_return:.1f}. "
        "Held-out figures are over 100 episodes no search saw. Hypervolume of the held-out "
        f"front, reference point return {ref[0]:.4g}, size {ref[1]:.4g} policy parameters. "
        "Env steps of search rows are an upper bound (student steps of the distillation "
        "plus PPO fine-tune, per assessment; the archive does not count them).",
        "",
        *table(task, rows, results),
        "",
    ]
    for plot in plots:
        text.append(f"![{plot.stem}]({plot.relative_to(doc_dir).as_posix()})")
    return "\n".join(text) + "\n"


def plots(
    task: TaskInfo, rows: Sequence[str], results: Sequence[RowResult], where: Path
) -> list[Path]:
    """The held-out fronts per row, and hypervolume against wall time; PNG paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [x for x in results if x.status == "ok"]
    ref = reference(task, ok)
    stem = task.env.replace("/", "_").replace(":", "_")
    where.mkdir(parents=True, exist_ok=True)
    front_png = where / f"bench-{stem}-fronts.png"
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, row in enumerate(rows):  # a marker per row: rows that found the same agent overlap
        points = sorted((s, r) for x in ok if x.row == row for r, s in x.front)
        if points:
            marker = "os^vD<>pP*Xh"[i % 12]
            ax.plot(*zip(*points, strict=True), marker, ls="", alpha=0.6, label=row, mfc="none")
    ax.axhline(task.teacher_heldout, color="grey", ls="--", label="teacher")
    ax.set_xscale("log")
    ax.set_xlabel("policy parameters")
    ax.set_ylabel("held-out return (100 episodes)")
    ax.set_title(f"{task.env}: held-out fronts (every seed)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(front_png, dpi=100)
    plt.close(fig)

    hv_png = where / f"bench-{stem}-hypervolume.png"
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, row in enumerate(rows):
        color = f"C{i % 10}"
        for j, x in enumerate(sorted((x for x in ok if x.row == row), key=lambda x: x.seed)):
            ts = [t for t, _, _ in x.curve]
            if len(x.curve) > 1:  # a search: the front of its search returns as it grew
                hv = [hypervolume([(r, s) for t2, r, s in x.curve if t2 <= t], ref) for t in ts]
                ax.plot(ts, hv, "-", color=color, alpha=0.6)
            final = hypervolume(x.front, ref)
            ax.plot([x.wall], [final], "o", color=color, label=row if j == 0 else None)
    ax.set_xlabel("wall seconds")
    ax.set_ylabel("hypervolume")
    ax.set_title(f"{task.env}: hypervolume; lines: search returns, dots: held-out at the end")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(hv_png, dpi=100)
    plt.close(fig)
    return [front_png, hv_png]


def write_section(doc: Path, env: str, body: str) -> None:
    """Put ``body`` between ``env``'s markers in ``doc`` (appended if they are not there)."""
    start, end = f"<!-- bench {env} -->", f"<!-- bench {env} end -->"
    text = doc.read_text(encoding="utf-8") if doc.exists() else BENCH_DOC_HEAD
    if start in text and end in text:
        head, rest = text.split(start, 1)
        tail = rest.split(end, 1)[1]
    else:
        head, tail = text.rstrip("\n") + "\n\n", "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(f"{head}{start}\n{body}{end}{tail}", encoding="utf-8")


BENCH_DOC_HEAD = """# Benchmarks: every strategy and component under one budget

Written by `growagent bench` (see `growagent bench --help`): each task's
section below, between its markers, is replaced by the command that measured
it, so none of it is edited by hand.
"""

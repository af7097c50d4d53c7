"""How well does a cheap fitness rank architectures like a long training does?

For each architecture (tiny to 64x64):

- "true" score: PPO (rl-zoo settings, observation normalisation) for
  ``--true-steps`` steps, final deterministic return (``--episodes`` fixed
  episode seeds), mean over ``--true-seeds`` training seeds;
- proxy (a): PPO from scratch for ``--budget`` seconds;
- proxy (b): distillation from a PPO-trained 64x64 teacher for 75% of the
  same budget, then PPO fine-tuning (learning rate x0.3) for the remaining
  25% (column "distil+ft"; "distil" (b0) is the same run evaluated before
  the fine-tune).

Each proxy runs with ``--proxy-seeds`` seeds. We report Kendall's tau-b of
each proxy's mean against the true score (with a normal-approximation
p-value), the proxy's spread (std across seeds, averaged over
architectures), and how well the true score agrees with itself
(tau of one training seed against the mean of the others), which bounds
what any proxy can reach.

Budgets are measured with ``--clock``: ``cpu`` (default) is the process CPU
time, so that load from other jobs on a shared machine does not shrink a
proxy's budget; ``wall`` is the wall clock. Runs are spread over
``--workers`` processes (one torch thread each).

The env's table is written into ``--out`` between markers
``<!-- fidelity:ENV start -->`` / ``<!-- fidelity:ENV end -->``: an existing
section for the same env is replaced, otherwise the section is appended, so
hand-written text outside the markers survives a re-run.

    python benchmarks/fitness_fidelity.py --env Acrobot-v1 --budget 6 --true-steps 120000 \
        --teacher-steps 200000 --workers 2
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import json
import math
import multiprocessing as mp
import statistics
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

import genomes
from genomes import Genome
from growagent.distill import DistillConfig, distill, train_teacher
from growagent.rl import evaluate, genome_spaces, train_ppo, zoo_config

ARCHS: list[tuple[str, dict[str, Any]]] = [
    ("linear", dict(hidden=[])),
    ("1 tanh", dict(hidden=[1])),
    ("2 tanh", dict(hidden=[2])),
    ("2 relu", dict(hidden=[2], activation="relu")),
    ("4 tanh", dict(hidden=[4])),
    ("4 sigmoid", dict(hidden=[4], activation="sigmoid")),
    ("2x2 tanh", dict(hidden=[2, 2])),
    ("8 tanh", dict(hidden=[8])),
    ("8 relu shared", dict(hidden=[8], activation="relu", shared=True)),
    ("4x4 tanh", dict(hidden=[4, 4])),
    ("16 tanh", dict(hidden=[16])),
    ("8x8 relu", dict(hidden=[8, 8], activation="relu")),
    ("32 tanh", dict(hidden=[32])),
    ("16x16 tanh", dict(hidden=[16, 16])),
    ("32x32 tanh shared", dict(hidden=[32, 32], shared=True)),
    ("64x64 tanh", dict(hidden=[64, 64])),
]

PROXIES = {
    "ppo": "(a) PPO from scratch",
    "dist": "(b0) distillation only",
    "dft": "(b) distillation + fine-tune",
}

EVAL_SEED = 10_000

# The module, not the function the package re-exports under the same name.
_distill_module = importlib.import_module("growagent.distill.a2d")


def kendall_tau_b(x: list[float], y: list[float]) -> float:
    """Kendall's tau-b rank correlation (handles ties).

    Parameters
    ----------
    x, y : list of float
        Paired observations, same length.

    Returns
    -------
    float
        Tau-b in [-1, 1]; 0 if either list is constant.

    Examples
    --------
    >>> kendall_tau_b([1, 2, 3], [1, 2, 3]), kendall_tau_b([1, 2, 3], [3, 2, 1])
    (1.0, -1.0)
    >>> kendall_tau_b([1, 1, 1], [1, 2, 3])
    0.0
    """
    if len(x) != len(y):
        raise ValueError(f"kendall_tau_b: lengths differ ({len(x)} vs {len(y)})")
    n = len(x)
    conc = disc = tx = ty = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                tx += 1
            elif dy == 0:
                ty += 1
            elif dx == dy:
                conc += 1
            else:
                disc += 1
    denom = np.sqrt((conc + disc + tx) * (conc + disc + ty))
    return float((conc - disc) / denom) if denom else 0.0


def tau_p_value(tau: float, n: int) -> float:
    """Two-sided p-value of Kendall's tau under independence (normal approximation, no ties).

    Parameters
    ----------
    tau : float
        The observed tau.
    n : int
        Number of pairs (at least 2).

    Returns
    -------
    float
        Probability of an ``|tau|`` at least this large by chance.

    Examples
    --------
    >>> round(tau_p_value(0.0, 16), 3), tau_p_value(0.5, 16) < 0.01
    (1.0, True)
    """
    if n < 2:
        raise ValueError(f"tau_p_value: need at least 2 pairs, got {n}")
    sigma = math.sqrt(2 * (2 * n + 5) / (9 * n * (n - 1)))
    return math.erfc(abs(tau) / sigma / math.sqrt(2))


def _clock(name: str) -> Callable[[], float]:
    if name == "cpu":
        return time.process_time
    if name == "wall":
        return time.perf_counter
    raise ValueError(f"clock must be 'cpu' or 'wall', got {name!r}")


@contextlib.contextmanager
def _distill_clock(clock: Callable[[], float]) -> Iterator[None]:
    # distill() measures DistillConfig.max_seconds with time.perf_counter; point its module's
    # ``time`` at the chosen clock for the duration of the call (growagent is not edited).
    saved = _distill_module.time
    _distill_module.time = types.SimpleNamespace(perf_counter=clock)  # type: ignore[assignment]
    try:
        yield
    finally:
        _distill_module.time = saved


def _timed_ppo(
    genome: Genome, env: str, seconds: float, seed: int, cfg: Any, clock: Callable[[], float]
) -> tuple[Genome, int]:
    t0 = clock()
    trained, log = train_ppo(
        genome,
        env,
        total_steps=10**9,
        config=cfg,
        seed=seed,
        callback=lambda _: clock() - t0 < seconds,
    )
    return trained, log.total_steps


def _score(g: Genome, env: str, episodes: int) -> float:
    return float(evaluate(g, env, episodes=episodes, seed=EVAL_SEED).mean)


def run_task(task: dict[str, Any]) -> dict[str, Any]:
    """Run one unit of the study (a true-score training or one seed of both proxies).

    Parameters
    ----------
    task : dict
        ``kind`` ("true" or "proxy"), ``arch`` (index into ``ARCHS``), ``seed``,
        ``env``, ``episodes``, ``clock``, and ``true_steps`` (true) or ``budget``
        and ``teacher`` (JSON text of the teacher genome; proxy).

    Returns
    -------
    dict
        The task's keys ``kind``, ``arch``, ``seed`` plus its scores and step counts.

    Examples
    --------
    >>> r = run_task(dict(kind="true", arch=0, seed=0, env="CartPole-v1", episodes=2,
    ...                   clock="cpu", true_steps=256))
    >>> sorted(r)
    ['arch', 'cpu', 'kind', 'seed', 'true', 'true_steps']
    """
    torch.set_num_threads(1)
    env, episodes, seed = task["env"], task["episodes"], task["seed"]
    clock = _clock(task["clock"])
    _name, kw = ARCHS[task["arch"]]
    obs, act = genome_spaces(env)
    cfg = zoo_config(env, normalize_obs=True)
    out: dict[str, Any] = dict(kind=task["kind"], arch=task["arch"], seed=seed)
    c0 = time.process_time()
    if task["kind"] == "true":
        g = genomes.mlp(obs, act, seed=seed, **kw)
        trained, log = train_ppo(g, env, total_steps=task["true_steps"], config=cfg, seed=seed)
        out.update(true=_score(trained, env, episodes), true_steps=log.total_steps)
    elif task["kind"] == "proxy":
        budget = float(task["budget"])
        teacher = genomes.loads(task["teacher"])
        g = genomes.mlp(obs, act, seed=100 + seed, **kw)
        trained, n_ppo = _timed_ppo(g, env, budget, 100 + seed, cfg, clock)
        dcfg = DistillConfig(steps=10**9, max_seconds=0.75 * budget)
        with _distill_clock(clock):
            d, dlog = distill(g, teacher, env, config=dcfg, seed=100 + seed)
        ft_cfg = dataclasses.replace(cfg, learning_rate=cfg.learning_rate * 0.3)
        dft, n_ft = _timed_ppo(d, env, 0.25 * budget, 100 + seed, ft_cfg, clock)
        out.update(
            ppo=_score(trained, env, episodes),
            dist=_score(d, env, episodes),
            dft=_score(dft, env, episodes),
            ppo_steps=n_ppo,
            dist_steps=dlog.total_steps,
            ft_steps=n_ft,
        )
    else:
        raise ValueError(f"run_task: unknown kind {task['kind']!r} (expected 'true' or 'proxy')")
    out["cpu"] = time.process_time() - c0
    return out


def main() -> None:
    """Command-line entry point (see the module docstring)."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--env", default="CartPole-v1")
    ap.add_argument("--budget", type=float, default=2.0, help="proxy budget per run (s)")
    ap.add_argument("--clock", choices=["cpu", "wall"], default="cpu", help="budget clock")
    ap.add_argument("--true-steps", type=int, default=60_000)
    ap.add_argument("--true-seeds", type=int, default=3)
    ap.add_argument("--proxy-seeds", type=int, default=3)
    ap.add_argument("--teacher-steps", type=int, default=50_000)
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--workers", type=int, default=1, help="processes (one torch thread each)")
    ap.add_argument("--out", default="docs/fidelity.md")
    ap.add_argument("--json", default=None, help="also write raw per-seed results here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    env = args.env
    cfg = zoo_config(env, normalize_obs=True)
    t_all = time.perf_counter()
    t0 = time.perf_counter()
    teacher = train_teacher(env, total_steps=args.teacher_steps, seed=0, config=cfg)
    t_teacher = time.perf_counter() - t0
    teacher_ret = _score(teacher, env, args.episodes)
    print(
        f"teacher: {args.teacher_steps} steps, {t_teacher:.1f}s, return {teacher_ret:.1f}",
        flush=True,
    )
    common = dict(env=env, episodes=args.episodes, clock=args.clock)
    teacher_text = genomes.dumps(teacher)
    tasks: list[dict[str, Any]] = []
    # Biggest networks first so the slowest tasks do not end up alone at the tail.
    for a in reversed(range(len(ARCHS))):
        tasks += [
            dict(common, kind="true", arch=a, seed=s, true_steps=args.true_steps)
            for s in range(args.true_seeds)
        ]
    for a in reversed(range(len(ARCHS))):
        tasks += [
            dict(common, kind="proxy", arch=a, seed=s, budget=args.budget, teacher=teacher_text)
            for s in range(args.proxy_seeds)
        ]
    results: list[dict[str, Any]] = []
    if args.workers > 1:
        with mp.get_context("spawn").Pool(args.workers) as pool:
            for r in pool.imap_unordered(run_task, tasks):
                results.append(r)
                _progress(r, len(results), len(tasks), t_all)
    else:
        for t in tasks:
            results.append(run_task(t))
            _progress(results[-1], len(results), len(tasks), t_all)
    rows = _rows(results, env)
    true_mean = [float(np.mean(r["true"])) for r in rows]
    summary: dict[str, tuple[float, float, float]] = {}
    for key in PROXIES:
        means = [float(np.mean(r[key])) for r in rows]
        spread = statistics.mean(float(np.std(r[key])) for r in rows)
        tau = kendall_tau_b(means, true_mean)
        summary[key] = (tau, tau_p_value(tau, len(rows)), spread)
        print(f"{key}: tau {tau:.3f}, mean spread {spread:.1f}", flush=True)
    self_tau = _self_consistency(rows)
    total = time.perf_counter() - t_all
    print(f"true-score self-consistency tau {self_tau:.3f}; total {total / 60:.1f} min", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(dict(args=vars(args), results=results), indent=1))
    section = _section(args, rows, summary, self_tau, teacher_ret, t_teacher, total)
    _write_section(Path(args.out), env, section)


def _progress(r: dict[str, Any], done: int, total: int, t_all: float) -> None:
    name = ARCHS[r["arch"]][0]
    vals = " ".join(f"{k} {r[k]:.1f}" for k in ("true", "ppo", "dist", "dft") if k in r)
    print(
        f"[{done}/{total} {time.perf_counter() - t_all:6.0f}s] {r['kind']:5s} {name:18s}"
        f" seed {r['seed']} {vals} (cpu {r['cpu']:.1f}s)",
        flush=True,
    )


def _rows(results: list[dict[str, Any]], env: str) -> list[dict[str, Any]]:
    obs, act = genome_spaces(env)
    rows = []
    for a, (name, kw) in enumerate(ARCHS):
        mine = sorted((r for r in results if r["arch"] == a), key=lambda r: r["seed"])
        true = [r for r in mine if r["kind"] == "true"]
        prox = [r for r in mine if r["kind"] == "proxy"]
        row: dict[str, Any] = dict(
            name=name,
            params=genomes.mlp(obs, act, seed=0, **kw).num_params("policy"),
            true=[r["true"] for r in true],
        )
        for key in (*PROXIES, "ppo_steps", "dist_steps", "ft_steps"):
            row[key] = [r[key] for r in prox]
        rows.append(row)
    return rows


def _self_consistency(rows: list[dict[str, Any]]) -> float:
    """Mean over true seeds i of tau(true seed i, mean of the other true seeds)."""
    k = min(len(r["true"]) for r in rows)
    if k < 2:
        return float("nan")
    taus = []
    for i in range(k):
        one = [r["true"][i] for r in rows]
        rest = [float(np.mean([v for j, v in enumerate(r["true"]) if j != i])) for r in rows]
        taus.append(kendall_tau_b(one, rest))
    return float(np.mean(taus))


def _section(
    args: Any,
    rows: list[dict[str, Any]],
    summary: dict[str, tuple[float, float, float]],
    self_tau: float,
    teacher_ret: float,
    t_teacher: float,
    total: float,
) -> str:
    def ms(v: list[float]) -> str:
        return f"{np.mean(v):.1f} ± {np.std(v):.1f}"

    steps = {k: int(np.mean([np.mean(r[k]) for r in rows])) for k in ("ppo_steps", "dist_steps")}
    lines = [
        f"## {args.env}",
        "",
        f"Produced by `python benchmarks/fitness_fidelity.py --env {args.env} --budget {args.budget}"
        f" --clock {args.clock} --true-steps {args.true_steps} --true-seeds {args.true_seeds}"
        f" --proxy-seeds {args.proxy_seeds} --teacher-steps {args.teacher_steps}"
        f" --episodes {args.episodes} --workers {args.workers}`"
        f" (one torch thread per process, 2-core machine shared with other jobs;"
        f" total {total / 60:.1f} min wall time).",
        "",
        f"- Returns are mean deterministic returns over {args.episodes} fixed episode seeds.",
        f"- True score: PPO with rl-zoo settings (+ obs normalisation) for {args.true_steps} steps,"
        f" final deterministic return, mean ± std over {args.true_seeds} training seeds.",
        f"- Teacher: 64x64 tanh, PPO for {args.teacher_steps} steps ({t_teacher:.0f} s),"
        f" return {teacher_ret:.1f}.",
        f"- Proxies get the same budget per run, {args.budget} s of {args.clock} time:"
        f" (a) PPO from scratch (on average {steps['ppo_steps']} env steps);"
        f" (b) distillation for 75% of it (on average {steps['dist_steps']} env steps),"
        " then PPO fine-tuning (learning rate x0.3) for 25%;"
        " (b0) is run (b) evaluated before its fine-tune.",
        f"  Each proxy runs with {args.proxy_seeds} seeds; spread is the std across those seeds,"
        " averaged over architectures.",
        f"- Self-consistency of the true score (tau of one training seed against the mean of the"
        f" others, averaged): {self_tau:.3f}. Under independence, |tau| > 0.37 has p < 0.05"
        f" for {len(rows)} architectures.",
        "",
        "| proxy | Kendall tau-b vs true | p (normal approx.) | mean spread across seeds |",
        "| --- | --- | --- | --- |",
    ]
    for key, (tau, p, spread) in summary.items():
        lines.append(f"| {PROXIES[key]} | {tau:.3f} | {p:.3f} | {spread:.1f} |")
    lines += [
        "",
        "| architecture | policy params | true | (a) PPO | (b0) distil | (b) distil+ft |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['params']} | {ms(r['true'])} | {ms(r['ppo'])}"
            f" | {ms(r['dist'])} | {ms(r['dft'])} |"
        )
    return "\n".join(lines) + "\n"


def _write_section(path: Path, env: str, section: str) -> None:
    start, end = f"<!-- fidelity:{env} start -->", f"<!-- fidelity:{env} end -->"
    block = f"{start}\n{section}{end}\n"
    text = path.read_text() if path.exists() else "# Fitness fidelity\n\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote the {env} section of {path}")


if __name__ == "__main__":
    main()

"""How well does a cheap fitness rank architectures like a long training does?

For each architecture (tiny to 64x64):
- "true" score: PPO (rl-zoo settings) for ``--true-steps`` steps, mean
  deterministic return over ``--true-seeds`` seeds;
- proxy (a): PPO from scratch for ``--budget`` seconds of wall time;
- proxy (b): distillation from a PPO-trained 64x64 teacher for 75% of the
  same wall time, then PPO fine-tuning for the remaining 25%
  (column "distil+ft"; "distil" is the same run evaluated before the fine-tune).
Each proxy runs with 3 seeds. We report Kendall's tau-b of each proxy's mean
against the true score, and the proxy's spread (std across seeds, averaged
over architectures). The table goes to docs/fidelity.md.

    python benchmarks/fitness_fidelity.py --env CartPole-v1 --budget 2 --true-steps 60000
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
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


def kendall_tau_b(x: list[float], y: list[float]) -> float:
    """Kendall's tau-b (handles ties).

    >>> kendall_tau_b([1, 2, 3], [1, 2, 3]), kendall_tau_b([1, 2, 3], [3, 2, 1])
    (1.0, -1.0)
    """
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


def timed_ppo(genome: Genome, env: str, seconds: float, seed: int, cfg: Any) -> Genome:
    t0 = time.perf_counter()
    trained, _ = train_ppo(
        genome,
        env,
        total_steps=10**9,
        config=cfg,
        seed=seed,
        callback=lambda _: time.perf_counter() - t0 < seconds,
    )
    return trained


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--env", default="CartPole-v1")
    ap.add_argument("--budget", type=float, default=2.0, help="proxy wall time per run (s)")
    ap.add_argument("--true-steps", type=int, default=60_000)
    ap.add_argument("--true-seeds", type=int, default=3)
    ap.add_argument("--teacher-steps", type=int, default=50_000)
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--out", default="docs/fidelity.md")
    args = ap.parse_args()
    torch.set_num_threads(1)
    env = args.env
    obs, act = genome_spaces(env)
    cfg = zoo_config(env, normalize_obs=True)
    t_all = time.perf_counter()
    t0 = time.perf_counter()
    teacher = train_teacher(env, total_steps=args.teacher_steps, seed=0, config=cfg)
    t_teacher = time.perf_counter() - t0
    teacher_ret = evaluate(teacher, env, episodes=args.episodes, seed=10_000).mean
    print(
        f"teacher: {args.teacher_steps} steps, {t_teacher:.1f}s, return {teacher_ret:.1f}",
        flush=True,
    )

    def score(g: Genome) -> float:
        return evaluate(g, env, episodes=args.episodes, seed=10_000).mean

    rows = []
    for name, kw in ARCHS:
        g0 = genomes.mlp(obs, act, seed=0, **kw)
        true = [
            score(
                train_ppo(
                    genomes.mlp(obs, act, seed=s, **kw),
                    env,
                    total_steps=args.true_steps,
                    config=cfg,
                    seed=s,
                )[0]
            )
            for s in range(args.true_seeds)
        ]
        ppo_p, dist_p, dft_p = [], [], []
        for s in range(3):
            g = genomes.mlp(obs, act, seed=100 + s, **kw)
            ppo_p.append(score(timed_ppo(g, env, args.budget, 100 + s, cfg)))
            dcfg = DistillConfig(steps=10**9, max_seconds=0.75 * args.budget)
            d, _ = distill(g, teacher, env, config=dcfg, seed=100 + s)
            dist_p.append(score(d))
            ft_cfg = dataclasses.replace(cfg, learning_rate=cfg.learning_rate * 0.3)
            dft_p.append(score(timed_ppo(d, env, 0.25 * args.budget, 100 + s, ft_cfg)))
        row = dict(
            name=name, params=g0.num_params("policy"), true=true, ppo=ppo_p, dist=dist_p, dft=dft_p
        )
        rows.append(row)
        print(
            f"{name:18s} params {row['params']:5d} true {np.mean(true):6.1f} ppo {np.mean(ppo_p):6.1f}"
            f" distil {np.mean(dist_p):6.1f} distil+ft {np.mean(dft_p):6.1f}",
            flush=True,
        )
    true_mean = [float(np.mean(r["true"])) for r in rows]
    summary = {}
    for key in ("ppo", "dist", "dft"):
        means = [float(np.mean(r[key])) for r in rows]
        spread = statistics.mean(float(np.std(r[key])) for r in rows)
        summary[key] = (kendall_tau_b(means, true_mean), spread)
        print(f"{key}: tau {summary[key][0]:.3f}, mean spread {spread:.1f}", flush=True)
    total = time.perf_counter() - t_all
    write_doc(Path(args.out), args, rows, summary, teacher_ret, t_teacher, total)


def write_doc(
    path: Path,
    args: Any,
    rows: list[dict[str, Any]],
    summary: dict[str, Any],
    teacher_ret: float,
    t_teacher: float,
    total: float,
) -> None:
    def ms(v: list[float]) -> str:
        return f"{np.mean(v):.1f} ± {np.std(v):.1f}"

    names = {
        "ppo": "(a) PPO from scratch",
        "dist": "(b0) distillation only",
        "dft": "(b) distillation + fine-tune",
    }
    lines = [
        "# Fitness fidelity",
        "",
        "Does a cheap fitness rank architectures the way a long training does?",
        f"Produced by `python benchmarks/fitness_fidelity.py --env {args.env} --budget {args.budget}"
        f" --true-steps {args.true_steps} --true-seeds {args.true_seeds} --teacher-steps {args.teacher_steps}`"
        f" (one thread, 2-core machine shared with other jobs; total {total / 60:.1f} min).",
        "",
        f"- Environment: {args.env}. Returns are mean deterministic returns over {args.episodes} fixed episode seeds.",
        f"- True score: PPO with rl-zoo settings (+ obs normalisation) for {args.true_steps} steps, mean over {args.true_seeds} seeds.",
        f"- Teacher: 64x64 tanh, PPO for {args.teacher_steps} steps ({t_teacher:.0f} s), return {teacher_ret:.1f}.",
        f"- Proxies get the same wall time per run, {args.budget} s: (a) PPO from scratch; (b) distillation for 75% of it,"
        " then PPO fine-tuning (learning rate x0.3) for 25%; (b0) is run (b) evaluated before its fine-tune.",
        "  Each proxy runs with 3 seeds; spread is the std across those seeds.",
        "",
        "| proxy | Kendall tau-b vs true | mean spread across 3 seeds |",
        "| --- | --- | --- |",
    ]
    for key, (tau, spread) in summary.items():
        lines.append(f"| {names[key]} | {tau:.3f} | {spread:.1f} |")
    lines += [
        "",
        "| architecture | policy params | true | (a) PPO | (b0) distil | (b) distil+ft |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['params']} | {ms(r['true'])} | {ms(r['ppo'])} | {ms(r['dist'])} | {ms(r['dft'])} |"
        )
    lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

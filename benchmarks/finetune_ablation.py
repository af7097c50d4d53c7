"""Why does a PPO fine-tune after distillation ruin a distilled agent? An ablation.

One student (default: the 36-parameter linear LunarLander policy) is distilled
once from a cached PPO teacher; then the shipped fine-tune of
``runs/lunarlander.toml`` is run from that same distilled genome with one
suspect changed at a time, and every result is evaluated on the same unseen
episodes. Prints a Markdown table (mean +- standard error).

    python benchmarks/finetune_ablation.py --env LunarLander-v3 --episodes 100
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

import genomes
from growagent.distill import DistillConfig, distill, get_teacher
from growagent.rl import evaluate, genome_spaces
from growagent.rl.ppo import PPOConfig, train_ppo, zoo_config

SHIPPED = PPOConfig(
    num_envs=16,
    num_steps=256,
    num_minibatches=16,
    update_epochs=4,
    gamma=0.999,
    gae_lambda=0.98,
    ent_coef=0.01,
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="LunarLander-v3")
    p.add_argument("--teacher-steps", type=int, default=1_000_000)
    p.add_argument("--hidden", default="", help="student hidden widths, e.g. 16 (empty: linear)")
    p.add_argument("--distill-steps", type=int, default=65_536)
    p.add_argument("--finetune-steps", type=int, default=20_000)
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--eval-seed", type=int, default=777)
    p.add_argument("--cache", default="runs/.bench-cache")
    args = p.parse_args()
    torch.set_num_threads(1)
    teacher = get_teacher(
        args.env,
        cache_dir=args.cache,
        total_steps=args.teacher_steps,
        config=zoo_config(args.env),
    )
    obs, act = genome_spaces(args.env)
    hidden = [int(w) for w in args.hidden.split(",") if w]
    student = genomes.mlp(obs, act, hidden=hidden, seed=1) if hidden else genomes.minimal(obs, act)
    dcfg = DistillConfig(
        steps=args.distill_steps, epochs=1, buffer_size=16384, batch_size=256, lr=3e-3
    )
    t0 = time.perf_counter()
    distilled, dlog = distill(student, teacher, args.env, config=dcfg, seed=1)
    t_distill = time.perf_counter() - t0

    def heldout(g: genomes.Genome) -> tuple[float, float]:
        ev = evaluate(g, args.env, episodes=args.episodes, seed=args.eval_seed)
        return ev.mean, ev.std / np.sqrt(args.episodes)

    rows = [
        ("teacher", heldout(teacher), 0.0),
        ("distilled, no fine-tune", heldout(distilled), 0.0),
    ]
    variants = {
        "shipped fine-tune (fresh running obs normalisation)": SHIPPED,
        "frozen obs statistics (the teacher's: none here)": dataclasses.replace(
            SHIPPED, normalize_obs=False
        ),
        "frozen obs + no entropy bonus": dataclasses.replace(
            SHIPPED, normalize_obs=False, ent_coef=0.0
        ),
        "frozen obs + no entropy + lr x0.1": dataclasses.replace(
            SHIPPED, normalize_obs=False, ent_coef=0.0, learning_rate=3e-5
        ),
        "fresh obs normalisation + no entropy + lr x0.1": dataclasses.replace(
            SHIPPED, ent_coef=0.0, learning_rate=3e-5
        ),
    }
    for name, cfg in variants.items():
        t0 = time.perf_counter()
        tuned, _ = train_ppo(
            distilled, args.env, total_steps=args.finetune_steps, config=cfg, seed=1
        )
        rows.append((name, heldout(tuned), time.perf_counter() - t0))
    print(
        f"\n{args.env}: student {student.num_params('policy')} policy parameters, "
        f"distilled in {t_distill:.1f} s ({dlog.total_steps} steps); fine-tune "
        f"{args.finetune_steps} PPO steps; held out on {args.episodes} episodes from seed "
        f"{args.eval_seed}\n"
    )
    print("| variant | held-out return +- s.e. | fine-tune s |")
    print("| --- | --- | --- |")
    for name, (mean, se), secs in rows:
        print(f"| {name} | {mean:.1f} +- {se:.1f} | {secs:.1f} |")


if __name__ == "__main__":
    main()

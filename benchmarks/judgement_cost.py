"""What one child's judgement costs, phase by phase, on one core.

Judges a few architectures with ``assess`` at the run config's settings
(default: ``runs/lunarlander.toml``) against a cached teacher and the run's
shared teacher states, and prints the seconds spent per phase (from the
assessment's ``info["seconds"]``), the steps taken, and the held-out return of
the judged genome next to its search return.

    OMP_NUM_THREADS=1 python benchmarks/judgement_cost.py --config runs/lunarlander.toml
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one BLAS thread: "one core" means one
# benchmarks/operators.py would shadow the operators package
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import torch

import genomes
from growagent.assess import assess
from growagent.config import load_config
from growagent.distill.states import teacher_states
from growagent.distill.teacher import get_teacher
from growagent.rl import evaluate, genome_spaces, zoo_config

ARCHS = {"linear": [], "2 tanh": [2], "8 tanh": [8], "16 tanh": [16], "64x64 tanh": [64, 64]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="runs/lunarlander.toml")
    p.add_argument("--cache", default="runs/.bench-cache")
    p.add_argument("--heldout-episodes", type=int, default=100)
    args = p.parse_args()
    torch.set_num_threads(1)
    cfg = load_config(args.config)
    teacher = get_teacher(
        cfg.env,
        cache_dir=args.cache,
        total_steps=cfg.teacher.steps,
        hidden=tuple(cfg.teacher.hidden),
        config=zoo_config(cfg.env),
    )
    d = cfg.assess.distill
    assert d is not None, "the config must distil"
    t0 = time.perf_counter()
    teacher_states(
        teacher,
        cfg.env,
        d.teacher_states + d.probe_states,
        seed=d.teacher_seed,
        num_envs=d.num_envs,
        cache_dir=f"{args.cache}/states",
    )
    print(
        f"{cfg.env}: shared teacher states ready in {time.perf_counter() - t0:.2f} s (once per run)"
    )
    obs, act = genome_spaces(cfg.env)
    phases = ["distill_env", "distill_label", "distill_grad", "distill_probe", "eval"]
    print(
        "\n| architecture | policy params | wall s | "
        + " | ".join(f"{ph} s" for ph in phases)
        + " | grad steps | env steps | search return | held-out return |"
    )
    print("| --- " * (len(phases) + 7) + "|")
    for name, hidden in ARCHS.items():
        g = genomes.mlp(obs, act, hidden=hidden, seed=1) if hidden else genomes.minimal(obs, act)
        a = assess(g, cfg.assess, seed=1, teacher=teacher, cache_dir=f"{args.cache}/states")
        assert a.status == "ok", a.error
        h = evaluate(a.genome, cfg.env, episodes=args.heldout_episodes, seed=cfg.heldout_seed)
        sec = a.info["seconds"]
        print(
            f"| {name} | {g.num_params('policy')} | {a.wall_time:.2f} | "
            + " | ".join(f"{sec.get(ph, 0.0):.2f}" for ph in phases)
            + f" | {a.info['distill_grad_steps']} | {a.info['distill_env_steps']} | "
            f"{a.objectives['return']:.1f} +- {a.info['eval_stderr']:.1f} | "
            f"{h.mean:.1f} +- {h.stderr:.1f} |"
        )


if __name__ == "__main__":
    main()

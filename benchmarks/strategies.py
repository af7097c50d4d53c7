"""Every search strategy under one assessment budget, on small tasks, several seeds.

For each environment a PPO teacher is trained once (cached); then each
strategy searches with the same number of assessments (distillations), on
the process executor. Every front is judged on held-out episodes the search
never saw. Prints a Markdown table: best held-out return of the front, the
smallest policy within 5% of the teacher's held-out return, and wall time
(median over seeds, with the per-seed values).

    python benchmarks/strategies.py --envs CartPole-v1 Acrobot-v1 --seeds 0 1 2 --budget 36
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)  # benchmarks/operators.py would shadow the operators package

import numpy as np

import genomes
import growagent
from growagent.archive import Archive
from growagent.distill import get_teacher
from growagent.rl.ppo import zoo_config

STRATEGIES = ["evolution", "random", "metaqnn", "firefly"]


def config(env: str, strategy: str, seed: int, budget: int, teacher: str) -> dict:
    """One run's config: the same space, judgement and number of assessments for all."""
    seeds = ["minimal", "mlp:4", "mlp:8", "mlp:16,16"]
    offspring = 8
    gens = max(1, (budget - len(seeds)) // offspring)
    branches = 2
    prune = 4
    return {
        "name": f"{env}-{strategy}-{seed}",
        "env": env,
        "seed": seed,
        "heldout_episodes": 100,
        "teacher": {"path": teacher},
        "search": {
            "strategy": strategy,
            "max_params": 3000,
            "max_hidden_nodes": 4,
            "max_units": 32,
        },
        "evolution": {"generations": gens, "mu": 8, "offspring": offspring, "seeds": seeds},
        "random": {"assessments": budget, "batch": 4},
        "metaqnn": {"architectures": budget, "batch": 4, "widths": [1, 2, 4, 8, 16, 32]},
        "firefly": {
            "steps": (budget - 1 - prune) // branches,
            "branches": branches,
            "prune_steps": prune,
        },
        "assess": {"finetune_steps": 0},  # the default judgement otherwise
        "executor": {"kind": "process", "workers": 2},
        # the strategies are compared on what they find within the same budget:
        # polishing the front would be the same for all and add assessments beyond it
        "polish": {"factor": 0},
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--envs", nargs="+", default=["CartPole-v1", "Acrobot-v1"])
    p.add_argument("--strategies", nargs="+", default=STRATEGIES)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--budget", type=int, default=36, help="assessments per run")
    p.add_argument("--teacher-steps", type=int, default=100_000)
    p.add_argument("--out", default="runs/.bench-strategies")
    p.add_argument("--json", help="also write the rows here")
    p.add_argument("--doc", help="write the table into this Markdown file (docs/strategies.md)")
    args = p.parse_args()
    out = Path(args.out)
    rows = []
    for env in args.envs:
        teacher = get_teacher(
            env, cache_dir=out / "teachers", total_steps=args.teacher_steps, config=zoo_config(env)
        )
        tpath = genomes.save(teacher, out / "teachers" / f"{env}.json")
        for strategy in args.strategies:
            for seed in args.seeds:
                run_dir = out / f"{env}-{strategy}-{seed}"
                shutil.rmtree(run_dir, ignore_errors=True)
                t0 = time.perf_counter()
                res = growagent.run(
                    config(env, strategy, seed, args.budget, str(tpath)), out=run_dir, quiet=True
                )
                wall = time.perf_counter() - t0
                th = res.teacher_heldout or {"mean": float("nan")}
                floor = th["mean"] - 0.05 * abs(th["mean"])
                held = [e for e in res.pareto if e.heldout is not None]
                within = [e.size for e in held if e.heldout >= floor]
                row = {
                    "env": env,
                    "strategy": strategy,
                    "seed": seed,
                    "best_heldout": max(e.heldout for e in held),
                    "smallest_within_5pct": min(within) if within else None,
                    "teacher_heldout": th["mean"],
                    "wall": wall,
                    "assessments": sum(
                        1 for _ in Archive(run_dir / "archive.sqlite", readonly=True).assessments()
                    ),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    table = markdown(rows, args)
    print(table)
    if args.doc:
        write_section(Path(args.doc), table)


def markdown(rows: list[dict], args: argparse.Namespace) -> str:
    """The results as Markdown: one row per environment and strategy."""
    cmd = (
        f"python benchmarks/strategies.py --envs {' '.join(args.envs)} "
        f"--seeds {' '.join(map(str, args.seeds))} --budget {args.budget} "
        f"--teacher-steps {args.teacher_steps} --doc docs/strategies.md"
    )
    lines = [
        f"Produced on {time.strftime('%Y-%m-%d %H:%M')} by `{cmd}` (2-core machine, "
        "process executor with 2 workers, one run at a time). Every run has the same "
        f"budget of {args.budget} assessments and the same judgement; the held-out "
        "figures are over 100 episodes the search never saw. Per seed, in seed order.",
        "",
        "| env | strategy | best held-out return | smallest policy within 5% of the "
        "teacher (parameters) | wall s (median) | assessments |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for env in args.envs:
        for strategy in args.strategies:
            rs = [r for r in rows if r["env"] == env and r["strategy"] == strategy]
            if not rs:
                continue
            best = " / ".join(f"{r['best_heldout']:.1f}" for r in rs)
            small = " / ".join(str(r["smallest_within_5pct"] or "none") for r in rs)
            wall = np.median([r["wall"] for r in rs])
            n = " / ".join(str(r["assessments"]) for r in rs)
            lines.append(f"| {env} | {strategy} | {best} | {small} | {wall:.0f} | {n} |")
        t = next(r["teacher_heldout"] for r in rows if r["env"] == env)
        lines.append(f"| {env} | teacher (64x64) | {t:.1f} | | | |")
    return "\n".join(lines) + "\n"


def write_section(path: Path, table: str) -> None:
    """Put ``table`` between the strategies markers of ``path`` (replacing what was there)."""
    start, end = "<!-- strategies table -->", "<!-- strategies table end -->"
    text = path.read_text()
    head = text.split(start)[0]
    tail = text.split(end, 1)[1] if end in text else "\n"
    path.write_text(f"{head}{start}\n{table}{end}{tail}")


if __name__ == "__main__":
    main()

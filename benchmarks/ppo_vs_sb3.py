"""growagent PPO against Stable-Baselines3 PPO, side by side in one process.

Same network (64x64 tanh, separate actor and critic trunks, orthogonal
init), same rl-baselines3-zoo hyperparameters, torch on one thread. For each
env and seed, both trainers run back to back; we report training
environment steps per second and the final deterministic return, measured
for both agents with growagent's ``evaluate`` on the same episode seeds
(the SB3 model is converted with ``growagent.distill.sb3.from_sb3``).

    python benchmarks/ppo_vs_sb3.py --envs CartPole-v1 --steps 100000 --seeds 0 1 2
    python benchmarks/ppo_vs_sb3.py --envs LunarLander-v3 --steps 200000 --seeds 0

``--only ours`` or ``--only sb3`` trains one side alone and prints its time
and return per seed (no ratio): for comparing returns over more seeds than
the side-by-side runs can afford.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import genomes
from growagent.distill.sb3 import from_sb3
from growagent.rl import evaluate, genome_spaces, train_ppo, zoo_config

# rl-baselines3-zoo hyperparams/ppo.yml, in SB3's names.
SB3_ZOO = {
    "CartPole-v1": dict(
        n_envs=8,
        n_steps=32,
        batch_size=256,
        gae_lambda=0.8,
        gamma=0.98,
        n_epochs=20,
        ent_coef=0.0,
        learning_rate="lin_1e-3",
        clip_range="lin_0.2",
    ),
    "LunarLander-v3": dict(
        n_envs=16,
        n_steps=1024,
        batch_size=64,
        gae_lambda=0.98,
        gamma=0.999,
        n_epochs=4,
        ent_coef=0.01,
    ),
}


def _schedule(v: object) -> object:
    if isinstance(v, str) and v.startswith("lin_"):
        x = float(v[4:])
        return lambda frac: frac * x
    return v


def run_sb3(env_id: str, steps: int, seed: int) -> tuple[float, object]:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    hp = dict(SB3_ZOO[env_id])
    # SB3's make_vec_env defaults to render_mode="rgb_array", with which
    # LunarLander adds engine-flame particles to its physics world and steps
    # several times slower; our envs have no render mode, so neither has SB3's.
    venv = make_vec_env(
        env_id, n_envs=hp.pop("n_envs"), seed=seed, env_kwargs={"render_mode": None}
    )
    hp = {k: _schedule(v) for k, v in hp.items()}
    model = PPO("MlpPolicy", venv, seed=seed, device="cpu", verbose=0, **hp)
    t0 = time.perf_counter()
    model.learn(steps)
    return time.perf_counter() - t0, model


def run_ours(env_id: str, steps: int, seed: int) -> tuple[float, genomes.Genome]:
    obs, act = genome_spaces(env_id)
    genome = genomes.mlp(obs, act, hidden=[64, 64], activation="tanh", seed=seed)
    t0 = time.perf_counter()
    trained, _ = train_ppo(genome, env_id, total_steps=steps, config=zoo_config(env_id), seed=seed)
    return time.perf_counter() - t0, trained


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--envs", nargs="+", default=["CartPole-v1"])
    ap.add_argument("--steps", nargs="+", type=int, default=[100_000], help="one budget per env")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--eval-episodes", type=int, default=20)
    ap.add_argument("--only", choices=["ours", "sb3"], help="train one side alone (returns only)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    budgets = args.steps * len(args.envs) if len(args.steps) == 1 else args.steps
    if args.only:
        run_one_side(args.only, args.envs, budgets, args.seeds, args.eval_episodes)
        return
    print(
        "env                seed  steps    ours s  sb3 s  ours sps  sb3 sps  ratio  ours ret  sb3 ret"
    )
    for env_id, steps in zip(args.envs, budgets, strict=True):
        # One short untimed run of each first, so neither side's first timed
        # run pays the process's one-time costs (imports, kernel set-up).
        run_ours(env_id, 4096, 0)
        run_sb3(env_id, 4096, 0)
        ratios, r_ours, r_sb3 = [], [], []
        for seed in args.seeds:
            t_ours, g_ours = run_ours(env_id, steps, seed)
            t_sb3, model = run_sb3(env_id, steps, seed)
            g_sb3 = from_sb3(model)
            e_ours = evaluate(g_ours, env_id, episodes=args.eval_episodes, seed=10_000).mean
            e_sb3 = evaluate(g_sb3, env_id, episodes=args.eval_episodes, seed=10_000).mean
            ratio = t_sb3 / t_ours
            ratios.append(ratio)
            r_ours.append(e_ours)
            r_sb3.append(e_sb3)
            print(
                f"{env_id:18s} {seed:4d} {steps:7d} {t_ours:8.1f} {t_sb3:6.1f} {steps / t_ours:9.0f}"
                f" {steps / t_sb3:8.0f} {ratio:6.2f} {e_ours:9.1f} {e_sb3:8.1f}",
                flush=True,
            )
        print(
            f"{env_id}: speed ratio (SB3 time / ours) median {statistics.median(ratios):.2f}, "
            f"mean {statistics.mean(ratios):.2f}, range {min(ratios):.2f}-{max(ratios):.2f}; "
            f"return ours {statistics.mean(r_ours):.1f} vs SB3 {statistics.mean(r_sb3):.1f} "
            f"(params: {g_ours.num_params('all')} vs {g_sb3.num_params('all')})",
            flush=True,
        )


def run_one_side(
    side: str, envs: list[str], budgets: list[int], seeds: list[int], episodes: int
) -> None:
    """Train one side alone per env and seed; print its time and return."""
    print(f"env                seed  steps  {side:>6s} s  return")
    for env_id, steps in zip(envs, budgets, strict=True):
        returns = []
        for seed in seeds:
            if side == "ours":
                seconds, genome = run_ours(env_id, steps, seed)
            else:
                seconds, model = run_sb3(env_id, steps, seed)
                genome = from_sb3(model)
            result = evaluate(genome, env_id, episodes=episodes, seed=10_000)
            returns.append(result.mean)
            print(
                f"{env_id:18s} {seed:4d} {steps:7d} {seconds:8.1f}  {result.mean:6.1f} "
                f"± {result.std:.1f}",
                flush=True,
            )
        print(f"{env_id}: {side} mean return {statistics.mean(returns):.1f}", flush=True)


if __name__ == "__main__":
    main()

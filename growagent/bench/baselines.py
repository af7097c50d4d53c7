"""The rows with no search: one fixed network trained for the default row's wall time.

``sb3-ppo``: Stable-Baselines3's PPO with its default ``MlpPolicy`` (64x64),
SB3's default hyperparameters on 8 envs. ``ppo-small``: growagent's own PPO on
an MLP with the hidden widths of the default row's champion. ``agilerl``: the
peer, run by ``benchmarks/peers/agilerl/run.py`` in its own virtual
environment. Each is judged like a search row's front: one agent, held out on
the same 100 unseen episodes.
"""

from __future__ import annotations

import json
import math
import subprocess
import time
from pathlib import Path
from typing import Any

import torch

import genomes
from genomes import Genome
from growagent.bench.record import RowResult
from growagent.rl import evaluate, genome_spaces, train_ppo, zoo_config
from growagent.rl.ppo import PPOConfig

HELDOUT_EPISODES = 100
HELDOUT_SEED = 1_000_000
"""The held-out episodes of every row (``RunConfig.heldout_seed``'s default)."""

PEERS = Path(__file__).resolve().parents[2] / "benchmarks" / "peers"
"""Where the peers' own environments live (in a source checkout)."""


def heldout(genome: Genome, env: str) -> float:
    """Mean return on the held-out episodes."""
    return evaluate(genome, env, episodes=HELDOUT_EPISODES, seed=HELDOUT_SEED).mean


def sb3_ppo(env: str, seed: int, wall: float) -> RowResult:
    """SB3 PPO (default MlpPolicy, default hyperparameters, 8 envs) for ``wall`` seconds,
    torch on one thread as growagent's assessments are."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    from growagent.distill.sb3 import from_sb3

    class StopAtWall(BaseCallback):
        def __init__(self, deadline: float):
            super().__init__()
            self.deadline = deadline

        def _on_step(self) -> bool:
            return time.perf_counter() < self.deadline

    torch.set_num_threads(1)
    venv = make_vec_env(env, n_envs=8, seed=seed, env_kwargs={"render_mode": None})
    model = PPO("MlpPolicy", venv, seed=seed, device="cpu", verbose=0)
    t0 = time.perf_counter()
    model.learn(10**9, callback=StopAtWall(t0 + wall))
    seconds = time.perf_counter() - t0
    genome = from_sb3(model)
    size, ret = genome.num_params("policy"), heldout(genome, env)
    return RowResult(
        env=env,
        row="sb3-ppo",
        seed=seed,
        front=[(ret, size)],
        curve=[(seconds, ret, size)],
        wall=seconds,
        env_steps=int(model.num_timesteps),
        note="SB3 defaults, 8 envs, 64x64 MlpPolicy",
    )


def small_network(champion: Genome, seed: int, activation: str = "tanh") -> Genome:
    """A freshly initialised MLP with the champion's hidden widths, in topological order
    (a champion with skip connections becomes the chain of its nodes)."""
    obs, act = champion.observation_space, champion.action_space
    order = [n for n in champion.topological_order() if n in set(champion.hidden_nodes)]
    return genomes.mlp(obs, act, hidden=[champion.units(n) for n in order], activation=activation)


def ppo_small(env: str, seed: int, wall: float, champion: Genome) -> RowResult:
    """growagent's PPO (the zoo preset) on :func:`small_network` for ``wall`` seconds.

    A short calibration measures its steps per second so that the run's step budget
    (over which the zoo's learning rate anneals) ends near ``wall``; a callback stops
    it at ``wall`` in any case.
    """
    genome = small_network(champion, seed)
    config = zoo_config(env)
    rollout = config.num_envs * config.num_steps
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    _, probe = train_ppo(genome, env, total_steps=2 * rollout, config=config, seed=seed)
    rate = probe.total_steps / max(probe.wall_time, 1e-6)
    left = max(0.0, wall - (time.perf_counter() - t0))
    steps = max(rollout, int(left * rate) // rollout * rollout)
    deadline = time.perf_counter() + left

    def stop(entry: dict[str, float]) -> bool:
        return time.perf_counter() < deadline

    trained, log = train_ppo(
        genome, env, total_steps=steps, config=config, seed=seed, callback=stop
    )
    seconds = time.perf_counter() - t0
    size = trained.num_params("policy")
    ret = heldout(trained, env)
    widths = [champion.units(n) for n in champion.hidden_nodes]
    return RowResult(
        env=env,
        row="ppo-small",
        seed=seed,
        front=[(ret, size)],
        curve=[(seconds, ret, size)],
        wall=seconds,
        env_steps=probe.total_steps + log.total_steps,
        note=f"hidden {widths or 'none (linear)'} from the default row's champion",
    )


def ppo_rate(env: str, seed: int = 0) -> float:
    """Environment steps per second of growagent's PPO (the fine-tune's default
    :class:`PPOConfig`) on a small network: used to give the no-distill row as many
    PPO steps as the default spends time per assessment."""
    obs, act = genome_spaces(env)
    genome = genomes.mlp(obs, act, hidden=[8], seed=seed)
    config = PPOConfig()
    _, log = train_ppo(
        genome, env, total_steps=2 * config.num_envs * config.num_steps, config=config, seed=seed
    )
    return log.total_steps / max(log.wall_time, 1e-6)


def finetune_steps_for(seconds: float, rate: float) -> int:
    """PPO steps that take about ``seconds`` at ``rate``, in whole rollouts (at least one)."""
    config = PPOConfig()
    rollout = config.num_envs * config.num_steps
    return max(rollout, math.ceil(seconds * rate / rollout) * rollout)


AGILERL_HINT = "not installed (see benchmarks/peers/agilerl/README.md)"


def agilerl(env: str, seed: int, wall: float, directory: Path) -> RowResult:
    """AgileRL's evolutionary PPO for ``wall`` seconds, in its own venv (if it is there)."""
    peer = PEERS / "agilerl"
    python = peer / ".venv" / "bin" / "python"
    if not python.exists():
        return RowResult(
            env=env, row="agilerl", seed=seed, status="not installed", note=AGILERL_HINT
        )
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / "agilerl.json"
    cmd = [str(python), str(peer / "run.py"), "--env", env, "--seed", str(seed)]
    cmd += ["--wall", f"{wall:.1f}", "--out", str(out)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=wall + 600, check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0 or not out.exists():
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return RowResult(
            env=env, row="agilerl", seed=seed, status="failed", note=f"run.py failed: {tail}"
        )
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    ret, size = float(data["heldout"]), int(data["policy_params"])
    return RowResult(
        env=env,
        row="agilerl",
        seed=seed,
        front=[(ret, size)],
        curve=[(float(data.get("train_seconds", seconds)), ret, size)],
        wall=seconds,
        env_steps=data.get("env_steps"),
        note=f"agilerl {data.get('version', '?')}, population {data.get('population', '?')}, "
        f"{data.get('cycles', '?')} cycles in {float(data.get('train_seconds', seconds)):.0f} s",
    )

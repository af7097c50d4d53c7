"""Evaluate a genome's policy on fixed episode seeds."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from genomes import Genome
from growagent.rl.envs import EnvLike, make_vec_env
from growagent.rl.normalize import normalize_obs
from growagent.rl.policy import ActionHead, check_genome_matches
from growagent.rl.ppo import NonFiniteTrainingError


@dataclass
class EvalResult:
    """Returns of evaluation episodes."""

    mean: float
    """Mean episode return."""
    std: float
    """Standard deviation of the episode returns."""
    returns: list[float] = field(default_factory=list)
    """Return of each episode, in seed order."""
    lengths: list[int] = field(default_factory=list)
    """Length of each episode, in seed order."""


def evaluate(
    genome: Genome,
    env: EnvLike,
    *,
    episodes: int = 10,
    seed: int = 0,
    deterministic: bool = True,
    max_steps: int = 100_000,
) -> EvalResult:
    """Run ``episodes`` episodes with the genome's policy and report their returns.

    All episodes run side by side in one vector env reset with ``seed`` (a
    sync env gives episode ``i`` the seed ``seed + i``; a natively vectorised
    env such as CartPole draws them from one generator seeded with ``seed``),
    so results are reproducible for a seed. Observations are normalised with
    the genome's frozen ``meta["obs_norm"]``.

    Parameters
    ----------
    genome : Genome
        The agent.
    env : str or callable
        A gymnasium id or env factory.
    episodes : int
        Number of episodes.
    seed : int
        Seed of the episodes.
    deterministic : bool
        Act with the mode (argmax / mean); else sample (seeded by ``seed``).
    max_steps : int
        Safety cap on steps per episode.

    Returns
    -------
    EvalResult

    Raises
    ------
    NonFiniteTrainingError
        If the env returns NaN/inf observations or rewards.

    Examples
    --------
    >>> import genomes
    >>> r = evaluate(genomes.minimal(4, 2), "CartPole-v1", episodes=3, seed=0)
    >>> len(r.returns), r.mean > 0
    (3, True)
    """
    venv = make_vec_env(env, episodes, seed)
    try:
        check_genome_matches(genome, venv.single_observation_space, venv.single_action_space)
        module = genome.compile(torch.float32, part="policy")
        head = ActionHead(genome)
        gen = torch.Generator().manual_seed(seed)
        norm = genome.meta.get("obs_norm")
        obs = venv.growagent_first_obs
        returns = np.zeros(episodes)
        lengths = np.zeros(episodes, dtype=np.int64)
        running = np.ones(episodes, dtype=bool)
        with torch.no_grad():
            for _ in range(max_steps):
                if not np.isfinite(obs[running]).all():
                    raise NonFiniteTrainingError("Non-finite observation from the environment")
                x = torch.from_numpy(normalize_obs(norm, obs.reshape(episodes, -1)))
                out, _ = module(x)
                if deterministic:
                    action = head.deterministic(out)
                else:
                    action = head.sample(out, module.log_std, gen)[0]
                obs, reward, term, trunc, _ = venv.step(head.to_env(action))
                reward = np.asarray(reward, dtype=np.float64)
                if not np.isfinite(reward[running]).all():
                    raise NonFiniteTrainingError("Non-finite reward from the environment")
                returns += np.where(running, reward, 0.0)
                lengths += running
                running &= ~np.logical_or(term, trunc)
                if not running.any():
                    break
    finally:
        venv.close()
    return EvalResult(
        mean=float(returns.mean()),
        std=float(returns.std()),
        returns=returns.tolist(),
        lengths=lengths.tolist(),
    )

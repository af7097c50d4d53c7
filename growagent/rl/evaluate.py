"""Evaluate a genome's policy on fixed episode seeds.

Episode ``i`` of an evaluation from ``seed`` is the episode that starts with
``env.reset(seed=seed + i)``, whatever genome is evaluated: every genome meets
the same episodes (common random numbers), so their returns compare with
less noise than independent draws would give. Episodes run on a small pool
of envs; a finished env starts the next unplayed seed, so no env steps are
spent on episodes that are already over, and the policy's forward pass is
batched over the envs still running.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from genomes import Genome
from growagent.rl.envs import EnvLike, check_spaces, make_env
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

    @property
    def stderr(self) -> float:
        """Standard error of the mean return (``std / sqrt(episodes)``)."""
        n = len(self.returns)
        return self.std / math.sqrt(n) if n else float("nan")


def evaluate(
    genome: Genome,
    env: EnvLike,
    *,
    episodes: int = 10,
    seed: int = 0,
    deterministic: bool = True,
    max_steps: int = 100_000,
    pool: int = 16,
) -> EvalResult:
    """Run ``episodes`` episodes with the genome's policy and report their returns.

    Episode ``i`` is reset with seed ``seed + i`` (see the module docstring),
    so results are reproducible and the same episodes are played by every
    genome. Observations are normalised with the genome's frozen
    ``meta["obs_norm"]``.

    Parameters
    ----------
    genome : Genome
        The agent.
    env : str or callable
        A gymnasium id or env factory.
    episodes : int
        Number of episodes.
    seed : int
        Seed of the first episode.
    deterministic : bool
        Act with the mode (argmax / mean); else sample (seeded by ``seed``).
    max_steps : int
        Safety cap on steps per episode.
    pool : int
        Envs stepped side by side (at most ``episodes``).

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
    if episodes < 1:
        raise ValueError(f"Expected episodes >= 1 (got {episodes})")
    envs = [make_env(env) for _ in range(min(pool, episodes))]
    try:
        check_spaces(envs[0].observation_space, envs[0].action_space)
        check_genome_matches(genome, envs[0].observation_space, envs[0].action_space)
        module = genome.compile(torch.float32, part="policy")
        head = ActionHead(genome)
        gen = torch.Generator().manual_seed(seed)
        norm = genome.meta.get("obs_norm")
        returns = np.zeros(episodes)
        lengths = np.zeros(episodes, dtype=np.int64)
        episode_of = [-1] * len(envs)  # which episode each env plays (-1: none left)
        obs: list[np.ndarray | None] = [None] * len(envs)
        next_episode = 0

        def start(k: int) -> None:
            nonlocal next_episode
            if next_episode >= episodes:
                episode_of[k], obs[k] = -1, None
                return
            episode_of[k] = next_episode
            obs[k] = np.asarray(envs[k].reset(seed=seed + next_episode)[0])
            next_episode += 1

        for k in range(len(envs)):
            start(k)
        with torch.no_grad():
            while True:
                active = [k for k in range(len(envs)) if episode_of[k] >= 0]
                if not active:
                    break
                batch = np.stack([np.asarray(obs[k]).reshape(-1) for k in active])
                if not np.isfinite(batch).all():
                    raise NonFiniteTrainingError("Non-finite observation from the environment")
                out, _ = module(torch.from_numpy(normalize_obs(norm, batch)))
                if deterministic:
                    action = head.deterministic(out)
                else:
                    action = head.sample(out, module.log_std, gen)[0]
                actions = head.to_env(action)
                for j, k in enumerate(active):
                    a = actions[j] if head.continuous else int(actions[j])
                    o, reward, term, trunc, _ = envs[k].step(a)
                    if not math.isfinite(float(reward)):
                        raise NonFiniteTrainingError("Non-finite reward from the environment")
                    i = episode_of[k]
                    returns[i] += float(reward)
                    lengths[i] += 1
                    obs[k] = np.asarray(o)
                    if term or trunc or lengths[i] >= max_steps:
                        start(k)
    finally:
        for e in envs:
            e.close()
    return EvalResult(
        mean=float(returns.mean()),
        std=float(returns.std()),
        returns=returns.tolist(),
        lengths=lengths.tolist(),
    )


def evaluate_random(
    env: EnvLike, *, episodes: int = 10, seed: int = 0, max_steps: int = 100_000
) -> EvalResult:
    """Returns of a uniformly random policy on the episodes :func:`evaluate` plays.

    Episode ``i`` starts from ``reset(seed=seed + i)`` and samples its actions
    from the action space seeded with ``seed + i``: the baseline a trained
    agent must clearly beat.

    Examples
    --------
    >>> r = evaluate_random("CartPole-v1", episodes=20, seed=0)
    >>> 5 < r.mean < 60
    True
    """
    if episodes < 1:
        raise ValueError(f"Expected episodes >= 1 (got {episodes})")
    e = make_env(env)
    returns, lengths = [], []
    try:
        for i in range(episodes):
            e.reset(seed=seed + i)
            e.action_space.seed(seed + i)
            total, steps, done = 0.0, 0, False
            while not done and steps < max_steps:
                _, reward, term, trunc, _ = e.step(e.action_space.sample())
                if not math.isfinite(float(reward)):
                    raise NonFiniteTrainingError("Non-finite reward from the environment")
                total, steps, done = total + float(reward), steps + 1, bool(term or trunc)
            returns.append(total)
            lengths.append(steps)
    finally:
        e.close()
    arr = np.asarray(returns)
    return EvalResult(float(arr.mean()), float(arr.std()), arr.tolist(), lengths)

"""AgileRL's evolutionary PPO on one task for a wall time; the best agent, held out, as JSON.

Runs in its own virtual environment (``benchmarks/peers/agilerl/.venv``, see
the README beside this file), never in growagent's. A population of PPO
agents trains with AgileRL's ``train_on_policy`` loop (tournament selection,
and mutations of architecture, parameters, activation and RL
hyperparameters), one evolution cycle per call, until ``--wall`` seconds
have passed. The best agent of the last population (on AgileRL's own test
fitness) is then played on 100 held-out episodes: episode ``i`` resets with
seed ``heldout_seed + i`` and acts with the mode of its policy, as
growagent's held-out evaluation does.

    benchmarks/peers/agilerl/.venv/bin/python benchmarks/peers/agilerl/run.py \\
        --env CartPole-v1 --wall 60 --out /tmp/agilerl.json
"""

from __future__ import annotations

import argparse
import json
import time
from importlib.metadata import version
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from agilerl.hpo.mutation import Mutations
from agilerl.hpo.tournament import TournamentSelection
from agilerl.training.train_on_policy import train_on_policy
from agilerl.utils.utils import create_population, make_vect_envs

INIT_HP = {
    "POP_SIZE": 4,
    "BATCH_SIZE": 128,
    "LR": 1e-3,
    "LEARN_STEP": 1024,
    "GAMMA": 0.99,
    "GAE_LAMBDA": 0.95,
    "ACTION_STD_INIT": 0.6,
    "CLIP_COEF": 0.2,
    "ENT_COEF": 0.01,
    "VF_COEF": 0.5,
    "MAX_GRAD_NORM": 0.5,
    "TARGET_KL": None,
    "UPDATE_EPOCHS": 4,
}
"""PPO settings of the population (AgileRL's PPO defaults, a shorter rollout)."""

NET_CONFIG = {"encoder_config": {"hidden_size": [64]}, "head_config": {"hidden_size": [64]}}
"""The starting network of every agent; architecture mutations change it from there."""


class CountSteps(gym.vector.VectorWrapper):
    """Counts the env steps (all sub-envs) AgileRL takes, for training and its own tests."""

    def __init__(self, env: gym.vector.VectorEnv):
        super().__init__(env)
        self.count = 0

    def step(self, actions: Any) -> Any:
        self.count += self.num_envs
        return super().step(actions)


def policy_params(agent: Any) -> int:
    """Parameters of the agent's deployed policy network (its actor)."""
    return sum(p.numel() for p in agent.actor.parameters())


def act(agent: Any, obs: np.ndarray) -> Any:
    """The mode of the agent's policy (the argmax of its logits, or its mean, clipped)
    for one observation. AgileRL's own ``sample=False`` path returns no action, so
    this reads the head's output directly."""
    with torch.no_grad():
        batch = agent.preprocess_observation(obs[None])
        latent = agent.actor.extract_features(batch)
        out = agent.actor.head_net.wrapped(latent)[0].cpu().numpy()
    if isinstance(agent.action_space, gym.spaces.Box):
        return np.clip(out, agent.action_space.low, agent.action_space.high)
    return int(np.argmax(out))


def heldout(agent: Any, env_id: str, episodes: int, seed: int) -> list[float]:
    """Returns of ``episodes`` episodes from seeds ``seed``, ``seed + 1``, ..."""
    env = gym.make(env_id)
    agent.set_training_mode(False)
    returns = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(agent, obs))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return returns


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="CartPole-v1")
    p.add_argument("--wall", type=float, default=60.0, help="training seconds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="the JSON result")
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--heldout-seed", type=int, default=1_000_000)
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--evo-steps", type=int, default=2048, help="env steps per agent per cycle")
    args = p.parse_args()
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)  # noqa: NPY002 (AgileRL draws from the global generator)
    torch.set_num_threads(1)

    env = CountSteps(make_vect_envs(args.env, num_envs=args.num_envs, should_async_vector=False))
    pop = create_population(
        "PPO",
        NET_CONFIG,
        INIT_HP,
        observation_space=env.single_observation_space,
        action_space=env.single_action_space,
        population_size=INIT_HP["POP_SIZE"],
        num_envs=args.num_envs,
        device="cpu",
    )
    tournament = TournamentSelection(2, True, INIT_HP["POP_SIZE"])
    mutations = Mutations(
        no_mutation=0.4,
        architecture=0.2,
        new_layer_prob=0.2,
        parameters=0.2,
        activation=0,
        rl_hp=0.2,
        mutation_sd=0.1,
        rand_seed=args.seed,
        device="cpu",
    )
    t0 = time.perf_counter()
    cycles, fitnesses = 0, [float("nan")]
    while time.perf_counter() - t0 < args.wall:
        cycles += 1
        # one evolution cycle per call: agents keep their step counts between calls
        pop, fitnesses = train_on_policy(
            env,
            args.env,
            "PPO",
            pop,
            max_steps=cycles * args.evo_steps,
            evo_steps=args.evo_steps,
            selection_strategy=tournament,
            mutation=mutations,
            verbose=False,
        )
    seconds = time.perf_counter() - t0
    env.close()
    best = max(pop, key=lambda a: float(np.mean(a.fitness[-1])) if a.fitness else -np.inf)
    returns = heldout(best, args.env, args.episodes, args.heldout_seed)
    result = {
        "env": args.env,
        "seed": args.seed,
        "heldout": float(np.mean(returns)),
        "heldout_se": float(np.std(returns) / np.sqrt(len(returns))),
        "policy_params": policy_params(best),
        "train_seconds": seconds,
        "cycles": cycles,
        "env_steps": env.count,
        "population": INIT_HP["POP_SIZE"],
        "fitness": [float(f) for f in np.ravel(fitnesses)],
        "version": version("agilerl"),
        "torch": torch.__version__,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Vectorised, seeded gymnasium environments with a space check.

Every vector environment made here uses gymnasium's *next-step* autoreset
(the default of ``gymnasium.make_vec`` and of CartPole's native vector env):
when sub-environment ``i`` ends at step ``t``, the observation returned at
``t`` is its final observation, and the next ``step`` call ignores ``i``'s
action and returns the first observation of a new episode with reward 0.
PPO and evaluation rely on this single convention.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import gymnasium
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorEnv

EnvLike = str | Callable[[], gymnasium.Env]
"""A registered gymnasium id or a zero-argument factory returning an env."""


class UnsupportedEnvError(ValueError):
    """The environment's observation or action space is not supported."""


def check_spaces(obs_space: Any, act_space: Any) -> None:
    """Raise :class:`UnsupportedEnvError` unless obs is a Box and action a Discrete or Box.

    Examples
    --------
    >>> from gymnasium import spaces
    >>> check_spaces(spaces.Box(-1, 1, (3,)), spaces.Discrete(2))
    >>> check_spaces(spaces.Discrete(5), spaces.Discrete(2))
    Traceback (most recent call last):
    ...
    growagent.rl.envs.UnsupportedEnvError: Expected a Box observation space (got Discrete(5))
    """
    if not isinstance(obs_space, spaces.Box):
        raise UnsupportedEnvError(f"Expected a Box observation space (got {obs_space})")
    if isinstance(act_space, spaces.Discrete):
        return
    if isinstance(act_space, spaces.Box):
        if not (act_space.is_bounded("both")):
            raise UnsupportedEnvError(f"Expected a bounded Box action space (got {act_space})")
        return
    raise UnsupportedEnvError(f"Expected a Discrete or Box action space (got {act_space})")


def env_spaces(env: EnvLike | VectorEnv) -> tuple[spaces.Box, spaces.Space[Any]]:
    """The single (not batched) observation and action spaces of ``env``.

    Parameters
    ----------
    env : str, callable or VectorEnv
        A gymnasium id, an env factory, or a vector env.

    Returns
    -------
    (obs_space, act_space)

    Raises
    ------
    UnsupportedEnvError
        If the spaces are not a Box observation and a Discrete/Box action.

    Examples
    --------
    >>> obs, act = env_spaces("CartPole-v1")
    >>> obs.shape, act.n
    ((4,), np.int64(2))
    """
    if isinstance(env, VectorEnv):
        obs_space, act_space = env.single_observation_space, env.single_action_space
    else:
        e = gymnasium.make(env) if isinstance(env, str) else env()
        try:
            obs_space, act_space = e.observation_space, e.action_space
        finally:
            e.close()
    check_spaces(obs_space, act_space)
    return obs_space, act_space


def resolve_id(env_id: str) -> str:
    """Import the module of a ``"module:EnvId-v0"`` id (it registers the env); return the id.

    >>> resolve_id("CartPole-v1")
    'CartPole-v1'
    """
    module, sep, name = env_id.partition(":")
    if not sep:
        return env_id
    importlib.import_module(module)
    return name


def make_env(env: EnvLike) -> gymnasium.Env:
    """One env from a gymnasium id (``"module:Id"`` imports the module first) or a factory."""
    if isinstance(env, str):
        return gymnasium.make(resolve_id(env))
    if callable(env):
        return env()
    raise TypeError(f"Expected a gymnasium id or an env factory (got {type(env).__name__})")


def make_vec_env(env: EnvLike, num_envs: int, seed: int) -> VectorEnv:
    """A seeded vector env with next-step autoreset.

    Uses the env's native vectorisation when it has one (``CartPole-v1``),
    else a :class:`gymnasium.vector.SyncVectorEnv` (one process; the search
    parallelises over genomes, not over env copies). The env is reset with
    ``seed`` (sub-env ``i`` gets ``seed + i``) and its action space seeded.

    Parameters
    ----------
    env : str or callable
        A gymnasium id or a zero-argument factory.
    num_envs : int
        Number of copies.
    seed : int
        Seed of the first reset.

    Returns
    -------
    gymnasium.vector.VectorEnv
        Already reset; read ``env.growagent_first_obs`` for the first observation.

    Raises
    ------
    UnsupportedEnvError
        For unsupported spaces (the space is named).

    Examples
    --------
    >>> venv = make_vec_env("CartPole-v1", num_envs=4, seed=0)
    >>> venv.growagent_first_obs.shape
    (4, 4)
    >>> venv.close()
    """
    if num_envs < 1:
        raise ValueError(f"Expected num_envs >= 1 (got {num_envs})")
    if isinstance(env, str):
        env = resolve_id(env)
        spec = gymnasium.spec(env)
        if spec.vector_entry_point is not None:
            venv = gymnasium.make_vec(env, num_envs, vectorization_mode="vector_entry_point")
        else:
            venv = gymnasium.make_vec(
                env,
                num_envs,
                vectorization_mode="sync",
                vector_kwargs={"autoreset_mode": AutoresetMode.NEXT_STEP},
            )
    elif callable(env):
        venv = SyncVectorEnv([env] * num_envs, autoreset_mode=AutoresetMode.NEXT_STEP)
    else:
        raise TypeError(f"Expected a gymnasium id or an env factory (got {type(env).__name__})")
    mode = venv.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    if mode != AutoresetMode.NEXT_STEP:
        venv.close()
        raise UnsupportedEnvError(f"Expected next-step autoreset (got {mode})")
    try:
        check_spaces(venv.single_observation_space, venv.single_action_space)
    except UnsupportedEnvError:
        venv.close()
        raise
    obs, _ = venv.reset(seed=seed)
    venv.action_space.seed(seed)
    venv.growagent_first_obs = obs  # type: ignore[attr-defined]
    return venv


def genome_spaces(env: EnvLike | VectorEnv) -> tuple[dict[str, Any], dict[str, Any]]:
    """JSON-safe space descriptions of ``env`` for ``genomes.mlp`` / ``genomes.minimal``.

    Observation bounds are kept only when all are finite: infinite bounds
    (CartPole's) cannot be written to a genome JSON file.

    Examples
    --------
    >>> obs, act = genome_spaces("CartPole-v1")
    >>> obs, act
    ({'type': 'box', 'shape': [4]}, {'type': 'discrete', 'n': 2})
    """
    import numpy as np

    from genomes.spaces import describe_action_space, describe_observation_space

    obs_space, act_space = env_spaces(env)
    obs = describe_observation_space(obs_space)
    if not (np.isfinite(obs.get("low", 0.0)).all() and np.isfinite(obs.get("high", 0.0)).all()):
        obs = {"type": "box", "shape": obs["shape"]}
    return obs, describe_action_space(act_space)

"""Vectorised, seeded gymnasium environments with a space check.

Every vector environment made here uses gymnasium's *next-step* autoreset
(the default of ``gymnasium.make_vec`` and of CartPole's native vector env):
when sub-environment ``i`` ends at step ``t``, the observation returned at
``t`` is its final observation, and the next ``step`` call ignores ``i``'s
action and returns the first observation of a new episode with reward 0.
PPO and evaluation rely on this single convention.

Where an environment crosses a process boundary (executor payloads, the run
config, genome tags) it is an :class:`EnvRef`: a string naming it plus
keyword arguments. The string is a gymnasium id (``"CartPole-v1"``),
``"module:EnvId"`` (import ``module``, which registers ``EnvId``) or
``"module:factory"`` (import ``module`` and call its module-level callable
``factory(**kwargs)``). Only a reference the user wrote may name a module:
see "Trust model" in ``docs/reliability.md``.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorEnv


class UnsupportedEnvError(ValueError):
    """The environment cannot be used: an unsupported space, or (subclass) a bad reference."""


class EnvRefError(UnsupportedEnvError):
    """An env reference names no importable module, registered id or module-level factory."""


@dataclass(frozen=True)
class EnvRef:
    """An environment by name, with keyword arguments: what workers can rebuild.

    Calling it makes the env (:func:`make_env`), so it serves wherever an env
    factory does, and every process that holds it builds the same env.

    Parameters
    ----------
    ref : str
        ``"EnvId"``, ``"module:EnvId"`` or ``"module:factory"`` (see the module docstring).
    kwargs : dict
        Passed to ``gymnasium.make`` (an id) or to the factory.

    Examples
    --------
    >>> env = EnvRef("CartPole-v1", {"sutton_barto_reward": True})
    >>> env().unwrapped._sutton_barto_reward
    True
    >>> str(env), str(EnvRef("CartPole-v1"))
    ('CartPole-v1 {"sutton_barto_reward": true}', 'CartPole-v1')
    """

    ref: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.ref, str) or not self.ref.strip():
            raise EnvRefError(f"env: expected a gymnasium id or 'module:name' (got {self.ref!r})")
        if not isinstance(self.kwargs, Mapping) or not all(isinstance(k, str) for k in self.kwargs):
            raise EnvRefError(f"env_kwargs: expected a table of named values (got {self.kwargs!r})")

    @property
    def module(self) -> str | None:
        """The module the reference imports, if any."""
        module, sep, _ = self.ref.partition(":")
        return module if sep else None

    def __call__(self) -> gymnasium.Env:
        return make_env(self)

    def __str__(self) -> str:
        if not self.kwargs:
            return self.ref
        return f"{self.ref} {json.dumps(dict(self.kwargs), sort_keys=True, default=repr)}"

    def __repr__(self) -> str:  # stable across processes: it keys the teacher-state cache
        kwargs = json.dumps(dict(self.kwargs), sort_keys=True, default=repr)
        return f"EnvRef({self.ref!r}, {kwargs})"


EnvLike = str | EnvRef | Callable[[], gymnasium.Env]
"""A gymnasium id or reference string, an :class:`EnvRef`, or a zero-argument env factory."""


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
        e = make_env(env)
        try:
            obs_space, act_space = e.observation_space, e.action_space
        finally:
            e.close()
    check_spaces(obs_space, act_space)
    assert isinstance(obs_space, spaces.Box)  # checked just above
    return obs_space, act_space


def resolve(ref: str) -> str | Callable[..., gymnasium.Env]:
    """The gymnasium id or the factory a reference names; imports its module part.

    ``"module:name"`` imports ``module``; ``name`` is then a gymnasium id if
    the module registered it, else a module-level callable (``a.b`` for an
    attribute of a class is allowed). Only call this on references the user
    wrote (see "Trust model" in ``docs/reliability.md``).

    Raises
    ------
    EnvRefError
        The module cannot be imported, or it neither registers nor defines ``name``.

    Examples
    --------
    >>> resolve("CartPole-v1")
    'CartPole-v1'
    >>> resolve("gymnasium.envs.classic_control.cartpole:CartPoleEnv").__name__
    'CartPoleEnv'
    >>> resolve("nosuchmodule_xyz:Env-v0")
    Traceback (most recent call last):
    ...
    growagent.rl.envs.EnvRefError: env 'nosuchmodule_xyz:Env-v0': cannot import nosuchmodule_xyz (No module named 'nosuchmodule_xyz')
    """
    module, sep, name = ref.partition(":")
    if not sep:
        return ref
    if not module or not name:
        raise EnvRefError(f"env: expected 'module:EnvId' or 'module:factory' (got {ref!r})")
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise EnvRefError(f"env {ref!r}: cannot import {module} ({exc})") from None
    if name in gymnasium.registry:
        return name
    obj: Any = mod
    for part in name.split("."):
        obj = getattr(obj, part, None)
    if obj is None or not callable(obj):
        hint = ""
        if module in ("__main__", "__mp_main__"):
            hint = (
                "; a factory from the launching script must be defined at its top level, "
                'with the launch under `if __name__ == "__main__":`'
            )
        raise EnvRefError(
            f"env {ref!r}: {module} registers no env id {name!r} and defines no callable "
            f"{name!r}{hint}"
        )
    return obj  # type: ignore[no-any-return]


def as_ref(env: str | EnvRef) -> EnvRef:
    """An :class:`EnvRef` for a reference string (an EnvRef passes through)."""
    return env if isinstance(env, EnvRef) else EnvRef(env)


def with_kwargs(env: EnvLike, kwargs: Mapping[str, Any] | None) -> EnvLike:
    """``env`` to be made with ``kwargs``: an :class:`EnvRef` for a string or EnvRef, the
    factory with its arguments bound otherwise (in-process use only).

    >>> with_kwargs("CartPole-v1", {"render_mode": None})
    EnvRef('CartPole-v1', {"render_mode": null})
    >>> with_kwargs("CartPole-v1", None)
    EnvRef('CartPole-v1', {})
    """
    kwargs = dict(kwargs or {})
    if isinstance(env, str | EnvRef):
        ref = as_ref(env)
        return EnvRef(ref.ref, {**ref.kwargs, **kwargs})
    if not kwargs:
        return env
    import functools

    return functools.partial(env, **kwargs)


def env_reference(env: str | EnvRef | Callable[..., Any]) -> str:
    """The ``"module:name"`` reference of a module-level env factory (a string passes through).

    Worker processes rebuild the env by importing that name, so a lambda, a
    nested function, a ``functools.partial`` or an object without a
    module-level name cannot be sent to them.

    Raises
    ------
    EnvRefError
        One line saying why the factory has no importable name and what to do.

    Examples
    --------
    >>> from gymnasium.envs.classic_control.cartpole import CartPoleEnv
    >>> env_reference(CartPoleEnv)
    'gymnasium.envs.classic_control.cartpole:CartPoleEnv'
    >>> env_reference(lambda: None)
    Traceback (most recent call last):
    ...
    growagent.rl.envs.EnvRefError: env: a lambda cannot reach worker processes, which import the env factory by name: define it with `def` at module level (pass its settings as env_kwargs), or use the serial executor
    """
    if isinstance(env, EnvRef):
        return env.ref
    if isinstance(env, str):
        return env
    module = getattr(env, "__module__", None)
    qualname = getattr(env, "__qualname__", None)
    fix = (
        "define it with `def` at module level (pass its settings as env_kwargs), "
        "or use the serial executor"
    )
    if not isinstance(module, str) or not isinstance(qualname, str) or "<" in qualname:
        what = (
            "a lambda"
            if qualname == "<lambda>"
            else f"{qualname} (defined inside a function)"
            if isinstance(qualname, str)
            else f"a {type(env).__name__} object"
        )
        raise EnvRefError(
            f"env: {what} cannot reach worker processes, which import the env factory by "
            f"name: {fix}"
        )
    obj: Any = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    if obj is not env:
        raise EnvRefError(
            f"env: {module}.{qualname} is not that factory any more (redefined or decorated), "
            f"so worker processes cannot import it by name: {fix}"
        )
    return f"{module}:{qualname}"


def make_env(env: EnvLike) -> gymnasium.Env:
    """One env from a reference string, an :class:`EnvRef` or a factory.

    Raises
    ------
    EnvRefError
        An unresolvable reference, or a factory that returns no gymnasium env.
    """
    if isinstance(env, str | EnvRef):
        ref = as_ref(env)
        target = resolve(ref.ref)
        if isinstance(target, str):
            return gymnasium.make(target, **ref.kwargs)
        made = target(**ref.kwargs)
        if not isinstance(made, gymnasium.Env):
            raise EnvRefError(
                f"env {ref.ref!r}: expected the factory to return a gymnasium.Env "
                f"(got {type(made).__name__})"
            )
        return made
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
    env : str, EnvRef or callable
        A reference (``"EnvId"``, ``"module:EnvId"``, ``"module:factory"``), an
        :class:`EnvRef` (with keyword arguments) or a zero-argument factory.
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
    target: Any = None
    if isinstance(env, str | EnvRef):
        env = as_ref(env)
        target = resolve(env.ref)
    if isinstance(target, str):
        assert isinstance(env, EnvRef)
        spec = gymnasium.spec(target)
        if spec.vector_entry_point is not None and not env.kwargs:
            venv = gymnasium.make_vec(target, num_envs, vectorization_mode="vector_entry_point")
        else:  # with kwargs, exactly the env gymnasium.make(target, **kwargs) gives
            venv = gymnasium.make_vec(
                target,
                num_envs,
                vectorization_mode="sync",
                vector_kwargs={"autoreset_mode": AutoresetMode.NEXT_STEP},
                **env.kwargs,
            )
    elif callable(env):  # a factory, or an EnvRef naming one
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

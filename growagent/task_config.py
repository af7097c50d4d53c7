"""How one genome is trained and judged: the ``[assess]`` table and its PPO and
distillation tables, with the rl-baselines3-zoo PPO presets.

Plain data, so a run config loads without torch or gymnasium; the code that
uses them is :mod:`growagent.rl.ppo`, :mod:`growagent.distill.a2d` and
:mod:`growagent.assess`, which re-export them. Read and written through
:mod:`growagent.mapping`, like every config table.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from growagent.mapping import ConfigError, Table, require


def _require_number(value: Any, key: str, low: float, high: float, closed: bool) -> None:
    """``value`` is a finite number in ``[low, high]`` (``(low, high]`` unless ``closed``)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and value <= high and (value >= low if closed else value > low)
    top = "" if high == math.inf else f" and <= {high:g}"
    require(ok, key, f"a finite number {'>=' if closed else '>'} {low:g}{top}", value)


def _require_count(value: Any, key: str, least: int) -> None:
    """``value`` is an integer of at least ``least`` (1: "a positive integer")."""
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= least
    require(ok, key, "a positive integer" if least == 1 else f"an integer >= {least}", value)


@dataclass
class PPOConfig(Table):
    """PPO hyperparameters (names follow CleanRL; defaults are SB3 / rl-zoo-like).

    See :func:`zoo_config` for tuned per-environment presets.
    """

    num_envs: int = 8
    """Parallel environment copies."""
    num_steps: int = 128
    """Vector steps per rollout (a rollout holds ``num_envs * num_steps`` transitions)."""
    learning_rate: float = 3e-4
    """Adam learning rate (initial value when annealed)."""
    anneal_lr: bool = False
    """Decay the learning rate linearly to 0 over training (rl-zoo ``lin_``)."""
    anneal_clip: bool = False
    """Decay the clip coefficient linearly to 0 over training (rl-zoo ``lin_``)."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    num_minibatches: int = 4
    """Minibatches per epoch (minibatch size = rollout size / this)."""
    update_epochs: int = 10
    """Passes over each rollout."""
    clip_coef: float = 0.2
    """Surrogate clip range."""
    clip_vloss: bool = False
    """Clip the value loss like CleanRL (SB3's default is no clipping)."""
    ent_coef: float = 0.0
    """Entropy bonus coefficient."""
    vf_coef: float = 0.5
    """Value loss coefficient (value loss is the plain MSE, as in SB3)."""
    max_grad_norm: float = 0.5
    """Global gradient-norm clip."""
    norm_adv: bool = True
    """Normalise advantages per minibatch."""
    target_kl: float | None = None
    """Stop an update's epochs early when the approximate KL exceeds this."""
    normalize_obs: bool = True
    """Maintain running observation statistics (stored in ``genome.meta["obs_norm"]``).
    If False, existing statistics in the genome are used frozen, else none."""
    obs_clip: float = 10.0
    """Clip range of normalised observations."""
    adam_eps: float = 1e-5
    """Adam epsilon (SB3 uses 1e-5 for PPO)."""

    def __post_init__(self) -> None:
        for key in ("num_envs", "num_steps", "num_minibatches", "update_epochs"):
            _require_count(getattr(self, key), f"ppo.{key}", 1)
        ranges = {
            "learning_rate": (0.0, math.inf, False),
            "gamma": (0.0, 1.0, True),
            "gae_lambda": (0.0, 1.0, True),
            "clip_coef": (0.0, math.inf, False),
            "ent_coef": (0.0, math.inf, True),
            "vf_coef": (0.0, math.inf, True),
            "max_grad_norm": (0.0, math.inf, False),
            "obs_clip": (0.0, math.inf, False),
            "adam_eps": (0.0, math.inf, False),
        }
        for key, (low, high, closed) in ranges.items():
            _require_number(getattr(self, key), f"ppo.{key}", low, high, closed)
        if self.target_kl is not None:
            _require_number(self.target_kl, "ppo.target_kl", 0.0, math.inf, False)
        require(
            self.num_envs * self.num_steps >= self.num_minibatches,
            "ppo.num_minibatches",
            "at most num_envs * num_steps",
            self.num_minibatches,
        )


_ZOO: dict[str, dict[str, Any]] = {
    # rl-baselines3-zoo hyperparams/ppo.yml (normalize: false unless stated).
    "CartPole-v1": dict(
        num_envs=8,
        num_steps=32,
        num_minibatches=1,
        gae_lambda=0.8,
        gamma=0.98,
        update_epochs=20,
        ent_coef=0.0,
        learning_rate=1e-3,
        anneal_lr=True,
        anneal_clip=True,
        normalize_obs=False,
    ),
    "LunarLander-v3": dict(
        num_envs=16,
        num_steps=1024,
        num_minibatches=256,
        gae_lambda=0.98,
        gamma=0.999,
        update_epochs=4,
        ent_coef=0.01,
        normalize_obs=False,
    ),
    "Acrobot-v1": dict(
        num_envs=16,
        num_steps=256,
        num_minibatches=16,
        gae_lambda=0.94,
        gamma=0.99,
        update_epochs=4,
        ent_coef=0.0,
        normalize_obs=True,
    ),
    "Pendulum-v1": dict(
        num_envs=4,
        num_steps=1024,
        num_minibatches=64,
        gae_lambda=0.95,
        gamma=0.9,
        update_epochs=10,
        ent_coef=0.0,
        learning_rate=1e-3,
        normalize_obs=False,
    ),
}


def zoo_config(env_id: str, **overrides: Any) -> PPOConfig:
    """The rl-baselines3-zoo PPO hyperparameters for ``env_id`` (defaults otherwise).

    Pendulum's zoo entry uses gSDE, which this PPO does not implement; the
    rest of its settings are kept.

    Examples
    --------
    >>> zoo_config("CartPole-v1").num_steps
    32
    >>> zoo_config("Unknown-v0", num_envs=2).num_envs
    2
    """
    return PPOConfig(**{**_ZOO.get(env_id, {}), **overrides})


@dataclass
class DistillConfig(Table):
    """Distillation settings: a budget in env steps and gradient steps, and the optimiser."""

    env_steps: int = 8192
    """Student-driven env steps (all envs together; a multiple of ``num_envs``)."""
    teacher_states: int = 8192
    """Teacher-driven states to learn from (shared by all students of a run)."""
    probe_states: int = 1024
    """Further teacher states held out: the early-stop signal and the KL proxy."""
    teacher_seed: int = 0
    """Seed of the teacher-state collection (the same for every student, so they share it)."""
    grad_steps: int = 3000
    """Minibatch gradient steps in all (fewer only if training stops early)."""
    batch_size: int = 256
    """Minibatch size (drawn uniformly, with replacement, from the states gathered so far)."""
    num_envs: int = 8
    """Parallel env copies, for the student's and the teacher's collection."""
    rollout_steps: int = 64
    """Vector steps per student collection round (gradient steps are spread over the rounds)."""
    sample_actions: bool = True
    """The student samples its actions while collecting (wider coverage); else acts with the mode."""
    temperature: float = 1.0
    """Softmax temperature of the discrete KL."""
    value_coef: float = 0.5
    """Weight of the value MSE against the policy KL."""
    scale_value: bool = True
    """Measure the value error in units of the spread of the teacher's values (their
    standard deviation over the teacher states, at least 1). Raw values run to hundreds of return points
    on LunarLander, so an unscaled MSE swamps the policy KL: in a shared trunk the
    critic takes over the features, and everywhere the global gradient clip shrinks
    the policy's share of each step."""
    lr: float = 1e-2
    """Adam learning rate."""
    max_grad_norm: float = 1.0
    """Global gradient-norm clip."""
    check_every: int = 200
    """Gradient steps between two probe measurements."""
    patience: int = 3
    """Stop after this many probe measurements without a relative KL improvement of ``min_improvement``."""
    min_improvement: float = 0.0
    """Relative fall of the best probe KL that counts as progress; 0 (the default) never
    stops early. Off by default: on Pendulum a 2-unit student's probe KL stalls while its
    return still climbs (-540 stopped early, -265 with the whole budget)."""
    max_seconds: float | None = None
    """Stop at the first probe measurement past this wall time (None: no limit)."""
    backend: str = "auto"
    """Minibatch step: ``auto`` (NumPy where it applies), ``numpy`` or ``torch``."""

    def __post_init__(self) -> None:
        for key in ("num_envs", "rollout_steps", "batch_size", "check_every", "patience"):
            _require_count(getattr(self, key), f"distill.{key}", 1)
        for key in ("env_steps", "teacher_states", "probe_states", "grad_steps"):
            _require_count(getattr(self, key), f"distill.{key}", 0)
        require(
            self.env_steps % self.num_envs == 0,
            "distill.env_steps",
            f"a multiple of num_envs={self.num_envs}",
            self.env_steps,
        )
        if self.env_steps + self.teacher_states == 0:
            raise ConfigError(
                "distill.env_steps: no states to learn from (it and teacher_states are both 0)",
                key="distill.env_steps",
            )
        require(
            self.backend in ("auto", "numpy", "torch"),
            "distill.backend",
            "'auto', 'numpy' or 'torch'",
            self.backend,
        )
        for key in ("temperature", "lr", "max_grad_norm"):
            _require_number(getattr(self, key), f"distill.{key}", 0.0, math.inf, False)
        for key in ("value_coef", "min_improvement"):
            _require_number(getattr(self, key), f"distill.{key}", 0.0, math.inf, True)
        if self.max_seconds is not None:
            _require_number(self.max_seconds, "distill.max_seconds", 0.0, math.inf, False)


@dataclass
class TaskConfig(Table):
    """How a genome is trained and judged (the run file's ``[assess]`` table)."""

    env: str | Callable[..., Any] = "CartPole-v1"
    """Gymnasium id, ``"module:EnvId"`` or ``"module:factory"`` (see
    :mod:`growagent.rl.envs`), or an env factory: a module-level one is sent to workers
    by its ``module:name``, any other (a lambda) works in this process only."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of ``gymnasium.make`` (or of the factory)."""
    num_envs: int | None = None
    """If set, overrides ``ppo.num_envs`` and ``distill.num_envs``."""
    distill: DistillConfig | None = field(default_factory=DistillConfig)
    """Distillation settings; ``None`` (or no teacher given) skips distillation."""
    finetune_steps: int = 0
    """PPO steps after distillation (the whole training when there is no teacher)."""
    ppo: PPOConfig = field(default_factory=PPOConfig)
    """PPO settings of the fine-tune."""
    eval_episodes: int = 32
    """Deterministic evaluation episodes (episode ``i`` starts from seed ``eval_seed + i``)."""
    eval_seed: int = 10_000
    """Seed of the evaluation episodes (the same for every genome, so returns compare)."""
    threads: int | None = 1
    """``torch.set_num_threads`` during the assessment (``None`` leaves it alone)."""

    def __post_init__(self) -> None:
        require(
            isinstance(self.env_kwargs, dict) and all(isinstance(k, str) for k in self.env_kwargs),
            "assess.env_kwargs",
            "a table of named values",
            self.env_kwargs,
        )
        if self.num_envs is not None:
            _require_count(self.num_envs, "assess.num_envs", 1)
        _require_count(self.finetune_steps, "assess.finetune_steps", 0)
        _require_count(self.eval_episodes, "assess.eval_episodes", 1)
        _require_count(self.eval_seed, "assess.eval_seed", 0)
        if self.threads is not None:
            _require_count(self.threads, "assess.threads", 1)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; a factory env becomes its ``module:name`` reference.

        Raises
        ------
        EnvRefError
            For a factory workers cannot import by name (a lambda, a nested function).

        Examples
        --------
        >>> t = TaskConfig(env="Acrobot-v1", finetune_steps=100)
        >>> TaskConfig.from_dict(t.to_dict()) == t
        True
        >>> TaskConfig.from_dict({"envv": "x"})
        Traceback (most recent call last):
        ...
        growagent.mapping.ConfigError: Unknown key 'envv' in config; valid keys: distill, ...
        """
        data = super().to_dict()
        if not isinstance(self.env, str):
            from growagent.rl.envs import env_reference  # imports gymnasium

            data["env"] = env_reference(self.env)
        return data

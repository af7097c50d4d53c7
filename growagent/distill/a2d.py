"""Actor-critic distillation (Auto-Agent-Distiller, Fu et al. 2021).

The student learns to match the teacher's action distribution (KL from
teacher to student) and its value (MSE) on two kinds of states:

- **teacher states**, where the teacher drove the env. They are the same for
  every student of a run, so they are collected once and shared (see
  :mod:`growagent.distill.states`);
- **student states**, where the student itself drove the env, labelled by
  the teacher, so the student also learns on the states its own mistakes
  lead to (as in DAgger).

The budget is explicit and honoured exactly: ``env_steps`` student-driven
env steps and ``grad_steps`` minibatch gradient steps (spread evenly over
the student's collection rounds; each minibatch is drawn uniformly from all
states gathered so far). Training can stop early when the policy KL on a
fixed held-out probe of teacher states stops falling (``min_improvement``). The student uses the
teacher's frozen observation statistics, which are copied into its metadata.

The minibatch step is one object chosen once (:func:`make_step`): a NumPy
forward/backward pass where the genome allows it (Discrete actions,
activations with an output-based derivative), else autograd. Both step the
same flat Adam; ``tests/growagent/distill/test_distill.py`` checks they agree.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from genomes import Genome
from genomes.compile import GenomeModule
from growagent.distill.losses import (
    gaussian_kl,
    kl_divergence_with_logits,
    kl_with_logits_numpy,
    value_mse,
    value_mse_numpy,
)
from growagent.distill.states import TeacherStates, collect_teacher_states
from growagent.rl.envs import EnvLike, make_vec_env
from growagent.rl.normalize import normalize_obs
from growagent.rl.numpy_net import NumpyNet, unsupported_reason
from growagent.rl.optim import FlatAdam
from growagent.rl.policy import ActionHead, check_genome_matches
from growagent.rl.ppo import NonFiniteTrainingError
from growagent.task_config import DistillConfig as DistillConfig  # defined torch-free


@dataclass
class DistillLog:
    """What happened during :func:`distill`."""

    env_steps: int = 0
    """Student-driven env steps taken."""
    teacher_env_steps: int = 0
    """Teacher-driven env steps taken here (0 when the states came from a cache)."""
    grad_steps: int = 0
    """Minibatch gradient steps taken."""
    stopped_early: bool = False
    """Whether the probe KL stopped falling before the budget was spent."""
    backend: str = ""
    """``numpy`` or ``torch``: which minibatch step ran."""
    checks: list[int] = field(default_factory=list)
    """Gradient steps at each probe measurement (the first is 0, before training)."""
    kl: list[float] = field(default_factory=list)
    """Policy KL(teacher || student) on the probe states at each measurement."""
    value_mse: list[float] = field(default_factory=list)
    """Value MSE on the probe states at each measurement."""
    student_returns: list[float] = field(default_factory=list)
    """Returns of episodes the student completed while collecting."""
    seconds: dict[str, float] = field(default_factory=dict)
    """Time per phase: ``teacher_states``, ``env`` (student collection), ``label``
    (teacher outputs on student states), ``grad``, ``probe``."""
    wall_time: float = 0.0
    """Seconds spent in :func:`distill`."""

    @property
    def total_steps(self) -> int:
        """Env steps taken here (student-driven plus teacher-driven)."""
        return self.env_steps + self.teacher_env_steps


# ----------------------------------------------------------------- the step


def distill_loss(
    module: GenomeModule,
    continuous: bool,
    cfg: DistillConfig,
    x: torch.Tensor,
    t_out: torch.Tensor,
    t_log_std: Any,
    t_val: torch.Tensor,
    value_weight: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Total loss ``kl + value_weight * mse``, policy KL(teacher || student) and value MSE."""
    s_out, s_val = module(x)
    if continuous:
        assert module.log_std is not None  # a Box action head always has one
        kl = gaussian_kl(t_out, t_log_std, s_out, module.log_std)
    else:
        kl = kl_divergence_with_logits(t_out, s_out, cfg.temperature)
    mse = value_mse(t_val, s_val)
    return kl + value_weight * mse, kl, mse


class TorchStep:
    """One distillation minibatch step through autograd (any action space, any activation)."""

    name = "torch"

    def __init__(
        self,
        module: GenomeModule,
        opt: FlatAdam,
        head: ActionHead,
        cfg: DistillConfig,
        value_weight: float,
    ):
        self.module, self.opt, self.cfg = module, opt, cfg
        self.continuous = head.continuous
        self.value_weight = value_weight

    def __call__(
        self, x: np.ndarray, t_out: np.ndarray, t_log_std: Any, t_val: np.ndarray
    ) -> float:
        self.opt.zero_grad()
        loss, _, _ = distill_loss(
            self.module,
            self.continuous,
            self.cfg,
            torch.from_numpy(x),
            torch.from_numpy(t_out),
            t_log_std,
            torch.from_numpy(t_val),
            self.value_weight,
        )
        loss.backward()  # type: ignore[no-untyped-call]
        self.opt.clip_and_step(self.cfg.lr, self.cfg.max_grad_norm)
        return float(loss.detach())


class NumpyStep:
    """The same step for a Discrete policy with a hand-written backward pass (no autograd)."""

    name = "numpy"

    def __init__(
        self,
        module: GenomeModule,
        opt: FlatAdam,
        head: ActionHead,
        cfg: DistillConfig,
        value_weight: float,
    ):
        self.net = NumpyNet(module)  # reads and writes the module's (flat) memory
        self.opt, self.cfg = opt, cfg
        self.value_weight = value_weight

    def __call__(
        self, x: np.ndarray, t_out: np.ndarray, t_log_std: Any, t_val: np.ndarray
    ) -> float:
        s_out, s_val = self.net.forward(x)
        kl, g_out = kl_with_logits_numpy(t_out, s_out, self.cfg.temperature)
        mse, g_val = value_mse_numpy(t_val, s_val)
        self.net.backward(
            g_out.astype(s_out.dtype), (self.value_weight * g_val).astype(s_val.dtype)
        )
        self.opt.clip_and_step(self.cfg.lr, self.cfg.max_grad_norm)
        return kl + self.value_weight * mse


def make_step(
    module: GenomeModule,
    opt: FlatAdam,
    head: ActionHead,
    cfg: DistillConfig,
    value_weight: float | None = None,
) -> TorchStep | NumpyStep:
    """The minibatch step for this student, chosen once (see :attr:`DistillConfig.backend`).

    ``value_weight`` multiplies the value MSE (default ``cfg.value_coef``; see
    :func:`value_weight`).
    """
    w = cfg.value_coef if value_weight is None else value_weight
    reason = "Box action space" if head.continuous else unsupported_reason(module)
    if cfg.backend == "numpy" and reason is not None:
        raise ValueError(f"distill.backend = 'numpy' cannot run this student: {reason}")
    if cfg.backend == "torch" or reason is not None:
        return TorchStep(module, opt, head, cfg, w)
    return NumpyStep(module, opt, head, cfg, w)


def value_weight(cfg: DistillConfig, teacher_values: np.ndarray) -> float:
    """Weight of the value MSE: ``value_coef``, divided by the teacher values' variance
    (at least 1) when ``scale_value`` is set, so the error is counted in units of
    their spread. The floor keeps a near-constant critic (a CartPole teacher's values
    sit near 50 with a spread of 0.2) from being weighted up.

    Examples
    --------
    >>> value_weight(DistillConfig(), np.array([-10.0, 10.0]))
    0.005
    >>> value_weight(DistillConfig(), np.array([50.1, 49.9]))
    0.5
    >>> value_weight(DistillConfig(scale_value=False), np.array([-10.0, 10.0]))
    0.5
    """
    if not cfg.scale_value or len(teacher_values) < 2:
        return cfg.value_coef
    var = float(np.var(teacher_values, dtype=np.float64))
    return cfg.value_coef / max(var, 1.0)


# ----------------------------------------------------------------- distill


def distill(
    student: Genome,
    teacher: Genome,
    env: EnvLike,
    *,
    config: DistillConfig | None = None,
    seed: int = 0,
    states: TeacherStates | None = None,
) -> tuple[Genome, DistillLog]:
    """Distil ``teacher`` into ``student`` (policy KL + value MSE).

    Parameters
    ----------
    student : Genome
        The network to train; not modified.
    teacher : Genome
        A trained genome for the same env.
    env : str or callable
        A gymnasium id or env factory.
    config : DistillConfig, optional
        Settings (defaults: ``DistillConfig()``).
    seed : int
        Seeds the student's envs, its action sampling and the minibatch draws.
    states : TeacherStates, optional
        ``teacher_states + probe_states`` teacher states (the last
        ``probe_states`` are the probe), e.g. from
        :func:`growagent.distill.states.teacher_states`; collected here if not given.

    Returns
    -------
    (Genome, DistillLog)
        The trained student (with the teacher's ``obs_norm``) and a log.

    Raises
    ------
    NonFiniteTrainingError
        On NaN/inf observations, rewards or losses.

    Examples
    --------
    >>> import genomes
    >>> teacher = genomes.mlp(4, 2, hidden=[8])
    >>> cfg = DistillConfig(env_steps=512, teacher_states=512, probe_states=128, grad_steps=40)
    >>> s, log = distill(genomes.minimal(4, 2), teacher, "CartPole-v1", config=cfg)  # doctest: +SKIP
    >>> log.env_steps, log.grad_steps, log.teacher_env_steps  # doctest: +SKIP
    (512, 40, 640)
    """
    cfg = config or DistillConfig()
    if student.action_space != teacher.action_space:
        raise ValueError(
            f"Student action space {student.action_space} differs from the teacher's "
            f"{teacher.action_space}"
        )
    t0 = time.perf_counter()
    log = DistillLog()
    need = cfg.teacher_states + cfg.probe_states
    if states is None:
        states = collect_teacher_states(
            teacher, env, need, seed=cfg.teacher_seed, num_envs=cfg.num_envs
        )
        log.teacher_env_steps = math.ceil(need / cfg.num_envs) * cfg.num_envs
    elif len(states) != need:
        raise ValueError(
            f"Expected {need} teacher states (teacher_states + probe_states), got {len(states)}"
        )
    log.seconds["teacher_states"] = time.perf_counter() - t0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if cfg.env_steps > 0:
            venv = make_vec_env(env, cfg.num_envs, seed)
            try:
                check_genome_matches(
                    student, venv.single_observation_space, venv.single_action_space
                )
                trained = _distill(student, teacher, venv, states, cfg, seed, log)
            finally:
                venv.close()
        else:
            trained = _distill(student, teacher, None, states, cfg, seed, log)
    log.wall_time = time.perf_counter() - t0
    return trained, log


def _distill(
    student: Genome,
    teacher: Genome,
    venv: Any,
    states: TeacherStates,
    cfg: DistillConfig,
    seed: int,
    log: DistillLog,
) -> Genome:
    s_mod = student.compile(torch.float32)
    t_mod = teacher.compile(torch.float32)
    t_mod.requires_grad_(False)
    head = ActionHead(student)
    opt = FlatAdam([p for p in s_mod.parameters() if p.requires_grad], eps=1e-8, betas=(0.9, 0.999))
    train, probe = states.split(cfg.probe_states)
    v_weight = value_weight(cfg, train.value)
    step = make_step(s_mod, opt, head, cfg, v_weight)
    log.backend = step.name
    t_log_std = t_mod.log_std
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    norm = teacher.meta.get("obs_norm")
    seconds = dict.fromkeys(("env", "label", "grad", "probe"), 0.0)

    # One buffer for every state the student learns from: the teacher's first,
    # the student's own appended as they are collected.
    n_total = len(train) + cfg.env_steps
    buf_x = np.empty((n_total, train.obs.shape[1]), dtype=np.float32)
    buf_out = np.empty((n_total, train.policy.shape[1]), dtype=np.float32)
    buf_val = np.empty(n_total, dtype=np.float32)
    size = len(train)
    buf_x[:size], buf_out[:size], buf_val[:size] = train.obs, train.policy, train.value

    best = math.inf
    stale = 0
    t_start = time.perf_counter()

    def measure() -> bool:
        """Probe KL and value MSE now; True when training should stop."""
        nonlocal best, stale
        t = time.perf_counter()
        if len(probe):
            with torch.no_grad():
                _, kl, mse = distill_loss(
                    s_mod,
                    head.continuous,
                    cfg,
                    torch.from_numpy(probe.obs),
                    torch.from_numpy(probe.policy),
                    t_log_std,
                    torch.from_numpy(probe.value),
                    v_weight,
                )
            log.checks.append(log.grad_steps)
            log.kl.append(float(kl))
            log.value_mse.append(float(mse))
            if not math.isfinite(float(kl)):
                raise NonFiniteTrainingError("Non-finite distillation loss")
        seconds["probe"] += time.perf_counter() - t
        if len(probe) and cfg.min_improvement > 0:
            if log.kl[-1] < best * (1.0 - cfg.min_improvement):
                best, stale = log.kl[-1], 0
            else:
                stale += 1
                if stale >= cfg.patience:
                    log.stopped_early = True
                    return True
        over = cfg.max_seconds is not None and time.perf_counter() - t_start > cfg.max_seconds
        return over

    def train_until(target: int) -> bool:
        """Gradient steps up to ``target`` in all; True when training should stop."""
        while log.grad_steps < target:
            t = time.perf_counter()
            idx = rng.integers(size, size=cfg.batch_size)
            loss = step(buf_x[idx], buf_out[idx], t_log_std, buf_val[idx])
            log.grad_steps += 1
            seconds["grad"] += time.perf_counter() - t
            if not math.isfinite(loss):
                raise NonFiniteTrainingError("Non-finite distillation loss")
            if log.grad_steps % cfg.check_every == 0 and measure():
                return True
        return False

    measure()
    stop = False
    per_round = cfg.num_envs * cfg.rollout_steps
    rounds = math.ceil(cfg.env_steps / per_round) if cfg.env_steps else 0
    if rounds == 0:
        stop = train_until(cfg.grad_steps)
    else:
        raw = venv.growagent_first_obs
        ep_ret = np.zeros(cfg.num_envs)
        for r in range(rounds):
            # Collect: the student drives its envs; the teacher labels the states after.
            t = time.perf_counter()
            n_steps = min(cfg.rollout_steps, (cfg.env_steps - log.env_steps) // cfg.num_envs)
            first = size
            with torch.no_grad():
                for _ in range(n_steps):
                    if not np.isfinite(raw).all():
                        raise NonFiniteTrainingError("Non-finite observation from the environment")
                    x = normalize_obs(norm, raw.reshape(cfg.num_envs, -1))
                    buf_x[size : size + cfg.num_envs] = x
                    size += cfg.num_envs
                    out = s_mod.policy(torch.from_numpy(x))
                    if cfg.sample_actions:
                        action = head.sample(out, s_mod.log_std, gen)[0]
                    else:
                        action = head.deterministic(out)
                    raw, reward, term, trunc, _ = venv.step(head.to_env(action))
                    reward = np.asarray(reward, dtype=np.float64)
                    if not np.isfinite(reward).all():
                        raise NonFiniteTrainingError("Non-finite reward from the environment")
                    ep_ret += reward
                    done = np.logical_or(term, trunc)
                    log.student_returns.extend(float(v) for v in ep_ret[done])
                    ep_ret[done] = 0.0
            log.env_steps += n_steps * cfg.num_envs
            seconds["env"] += time.perf_counter() - t
            t = time.perf_counter()
            with torch.no_grad():
                t_out, t_val = t_mod(torch.from_numpy(buf_x[first:size]))
            buf_out[first:size], buf_val[first:size] = t_out.numpy(), t_val.numpy().reshape(-1)
            seconds["label"] += time.perf_counter() - t
            # Train: this round's share of the gradient steps
            if train_until(cfg.grad_steps * (r + 1) // rounds):
                stop = True
                break
    if not stop and (not log.checks or log.checks[-1] != log.grad_steps):
        measure()
    log.seconds.update(seconds)
    trained = student.with_weights_from(s_mod)
    trained.meta["obs_norm"] = None if norm is None else dict(norm)
    return trained

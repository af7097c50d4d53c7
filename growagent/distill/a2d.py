"""Actor-critic distillation (Auto-Agent-Distiller, Fu et al. 2021).

The student learns to match the teacher's action distribution (KL from
teacher to student) and its value (MSE) on states gathered by rolling out
both networks: a configurable share of the parallel envs is driven by the
teacher and the rest by the student itself, so the student also learns on
the states its own mistakes lead to (as in DAgger). The student uses the
teacher's frozen observation statistics, which are copied into its metadata.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from genomes import Genome
from growagent.distill.losses import gaussian_kl, kl_divergence_with_logits, value_mse
from growagent.rl.envs import EnvLike, make_vec_env
from growagent.rl.normalize import normalize_obs
from growagent.rl.policy import ActionHead, check_genome_matches
from growagent.rl.ppo import NonFiniteTrainingError


@dataclass
class DistillConfig:
    """Distillation settings."""

    steps: int = 8192
    """Environment steps collected in total (all envs, teacher and student driven)."""
    num_envs: int = 8
    """Parallel environment copies."""
    rollout_steps: int = 64
    """Vector steps collected between training phases."""
    teacher_fraction: float = 0.5
    """Share of the envs driven by the teacher (rounded; the rest by the student)."""
    sample_actions: bool = True
    """Actors sample from their policies (wider state coverage); else act with the mode."""
    temperature: float = 1.0
    """Softmax temperature of the discrete KL."""
    value_coef: float = 0.5
    """Weight of the value MSE against the policy KL."""
    lr: float = 3e-3
    """Adam learning rate."""
    epochs: int = 4
    """Passes over the state buffer after each collection."""
    batch_size: int = 256
    """Minibatch size."""
    buffer_size: int = 8192
    """Most recent states kept for training."""
    max_grad_norm: float = 1.0
    """Global gradient-norm clip."""
    max_seconds: float | None = None
    """Stop after the collection/training round that crosses this wall time (None: no limit)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DistillConfig:
        """Build from a dict; unknown keys raise ``ValueError`` listing the valid ones."""
        valid = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(valid))
        if unknown:
            raise ValueError(f"DistillConfig: unknown keys {unknown} (valid: {valid})")
        return cls(**data)


@dataclass
class DistillLog:
    """What happened during :func:`distill`."""

    total_steps: int = 0
    """Environment steps collected."""
    wall_time: float = 0.0
    """Seconds spent."""
    kl: list[float] = field(default_factory=list)
    """Per collection: policy KL(teacher || student) on the new states, before training on them."""
    value_mse: list[float] = field(default_factory=list)
    """Per collection: value MSE on the new states, before training on them."""
    student_returns: list[float] = field(default_factory=list)
    """Returns of episodes completed in student-driven envs."""


def _policy_kl(
    head_cont: bool, t_out: torch.Tensor, t_ls: Any, s_out: torch.Tensor, s_ls: Any, temp: float
) -> torch.Tensor:
    if head_cont:
        return gaussian_kl(t_out, t_ls, s_out, s_ls)
    return kl_divergence_with_logits(t_out, s_out, temp)


def distill(
    student: Genome,
    teacher: Genome,
    env: EnvLike,
    *,
    config: DistillConfig | None = None,
    seed: int = 0,
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
        Seeds envs, sampling and minibatch order.

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
    >>> cfg = DistillConfig(steps=512, num_envs=4, rollout_steps=32)
    >>> s, log = distill(genomes.minimal(4, 2), teacher, "CartPole-v1", config=cfg)
    >>> len(log.kl), log.total_steps
    (4, 512)
    """
    cfg = config or DistillConfig()
    if student.action_space != teacher.action_space:
        raise ValueError(
            f"Student action space {student.action_space} differs from the teacher's "
            f"{teacher.action_space}"
        )
    t0 = time.perf_counter()
    venv = make_vec_env(env, cfg.num_envs, seed)
    try:
        check_genome_matches(student, venv.single_observation_space, venv.single_action_space)
        check_genome_matches(teacher, venv.single_observation_space, venv.single_action_space)
        trained, log = _distill(student, teacher, venv, cfg, seed)
    finally:
        venv.close()
    log.wall_time = time.perf_counter() - t0
    return trained, log


def _distill(
    student: Genome, teacher: Genome, venv: Any, cfg: DistillConfig, seed: int
) -> tuple[Genome, DistillLog]:
    s_mod = student.compile(torch.float32)
    t_mod = teacher.compile(torch.float32)
    t_mod.requires_grad_(False)
    head = ActionHead(student)
    params = list(s_mod.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    norm = teacher.meta.get("obs_norm")
    n = cfg.num_envs
    n_teacher = min(n, max(0, round(cfg.teacher_fraction * n)))
    by_teacher = torch.zeros(n, dtype=torch.bool)
    by_teacher[:n_teacher] = True
    student_envs = ~by_teacher.numpy()
    t_ls = t_mod.log_std
    log = DistillLog()
    iterations = max(1, math.ceil(cfg.steps / (n * cfg.rollout_steps)))
    raw = venv.growagent_first_obs
    ep_ret = np.zeros(n)
    buf_x: list[torch.Tensor] = []
    buf_out: list[torch.Tensor] = []
    buf_val: list[torch.Tensor] = []

    def act(out: torch.Tensor, log_std: Any) -> torch.Tensor:
        if cfg.sample_actions:
            return head.sample(out, log_std, gen)[0]
        return head.deterministic(out)

    t_start = time.perf_counter()
    for _it in range(iterations):
        if cfg.max_seconds is not None and time.perf_counter() - t_start > cfg.max_seconds:
            break
        xs, outs, vals = [], [], []
        with torch.no_grad():
            for _t in range(cfg.rollout_steps):
                if not np.isfinite(raw).all():
                    raise NonFiniteTrainingError("Non-finite observation from the environment")
                x = torch.from_numpy(normalize_obs(norm, raw.reshape(n, -1)))
                t_out, t_val = t_mod(x)
                s_out, _ = s_mod(x)
                a_t, a_s = act(t_out, t_ls), act(s_out, s_mod.log_std)
                mask = by_teacher.view(-1, *([1] * (a_t.dim() - 1)))
                action = torch.where(mask, a_t, a_s)
                xs.append(x)
                outs.append(t_out)
                vals.append(t_val)
                raw, reward, term, trunc, _ = venv.step(head.to_env(action))
                reward = np.asarray(reward, dtype=np.float64)
                if not np.isfinite(reward).all():
                    raise NonFiniteTrainingError("Non-finite reward from the environment")
                ep_ret += reward
                done = np.logical_or(term, trunc)
                for i in np.flatnonzero(done & student_envs):
                    log.student_returns.append(float(ep_ret[i]))
                ep_ret[done] = 0.0
            new_x, new_out, new_val = torch.cat(xs), torch.cat(outs), torch.cat(vals)
            s_out, s_val = s_mod(new_x)
            log.kl.append(
                float(
                    _policy_kl(
                        head.continuous, new_out, t_ls, s_out, s_mod.log_std, cfg.temperature
                    )
                )
            )
            log.value_mse.append(float(value_mse(new_val, s_val)))
        log.total_steps += n * cfg.rollout_steps
        buf_x.append(new_x)
        buf_out.append(new_out)
        buf_val.append(new_val)
        while sum(len(b) for b in buf_x) - len(buf_x[0]) >= cfg.buffer_size:
            buf_x.pop(0), buf_out.pop(0), buf_val.pop(0)
        b_x, b_out, b_val = torch.cat(buf_x), torch.cat(buf_out), torch.cat(buf_val)
        size = b_x.shape[0]
        for _epoch in range(cfg.epochs):
            perm = torch.from_numpy(rng.permutation(size))
            for start in range(0, size, cfg.batch_size):
                idx = perm[start : start + cfg.batch_size]
                s_out, s_val = s_mod(b_x[idx])
                loss = _policy_kl(
                    head.continuous, b_out[idx], t_ls, s_out, s_mod.log_std, cfg.temperature
                ) + cfg.value_coef * value_mse(b_val[idx], s_val)
                if not torch.isfinite(loss):
                    raise NonFiniteTrainingError("Non-finite distillation loss")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                opt.step()

    trained = student.with_weights_from(s_mod)
    trained.meta["obs_norm"] = None if norm is None else dict(norm)
    return trained, log

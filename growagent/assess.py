"""Judge one genome: distil and/or fine-tune it for a budget, then evaluate.

:func:`assess` is the one call the search makes per candidate. It never
raises for a bad genome or a misbehaving environment: it returns an
:class:`Assessment` with ``status="failed"`` and the reason. Executors move
bytes: :func:`assess_bytes` takes and returns JSON.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

import genomes
from genomes import Genome
from growagent.distill.a2d import distill
from growagent.distill.states import teacher_states
from growagent.rl.envs import EnvRef, with_kwargs
from growagent.rl.evaluate import evaluate
from growagent.rl.ppo import train_ppo
from growagent.task_config import TaskConfig as TaskConfig  # defined torch-free, re-exported


@dataclass
class Assessment:
    """The outcome of :func:`assess`."""

    status: Literal["ok", "failed"]
    """``"ok"`` or ``"failed"``."""
    error: str | None = None
    """Why it failed (exception type and message)."""
    objectives: dict[str, float] = field(default_factory=dict)
    """``return`` (mean deterministic return), ``params`` and ``macs`` of the policy."""
    eval_std: float = float("nan")
    """Standard deviation of the evaluation returns."""
    wall_time: float = 0.0
    """Seconds spent in :func:`assess`."""
    genome: Genome | None = None
    """The trained genome (Lamarckian: weights and obs statistics), if ok."""
    info: dict[str, Any] = field(default_factory=dict)
    """Extra figures: evaluation returns, training steps, final distillation KL."""

    def to_json(self) -> str:
        """JSON text (the genome through ``genomes.to_dict``)."""
        d = {
            "status": self.status,
            "error": self.error,
            "objectives": self.objectives,
            "eval_std": None if math.isnan(self.eval_std) else self.eval_std,
            "wall_time": self.wall_time,
            "genome": None if self.genome is None else genomes.to_dict(self.genome),
            "info": self.info,
        }
        return json.dumps(d, allow_nan=False, default=float)

    @classmethod
    def from_json(cls, text: str | bytes) -> Assessment:
        """Parse :meth:`to_json`'s output.

        Examples
        --------
        >>> a = Assessment("failed", error="boom")
        >>> Assessment.from_json(a.to_json()).error
        'boom'
        """
        d = json.loads(text)
        return cls(
            status=d["status"],
            error=d["error"],
            objectives=d["objectives"],
            eval_std=float("nan") if d["eval_std"] is None else d["eval_std"],
            wall_time=d["wall_time"],
            genome=None if d["genome"] is None else genomes.from_dict(d["genome"]),
            info=d.get("info", {}),
        )


def assess(
    genome: Genome,
    task: TaskConfig,
    *,
    seed: int,
    teacher: Genome | None = None,
    cache_dir: str | Path | None = None,
) -> Assessment:
    """Train ``genome`` for the task's budget, evaluate it, return its objectives.

    Steps: distil from ``teacher`` (when both it and ``task.distill`` are
    given), then PPO for ``task.finetune_steps`` (if > 0), then a
    deterministic evaluation on ``task.eval_episodes`` episodes from
    ``task.eval_seed``.

    Parameters
    ----------
    genome : Genome
        The candidate; not modified.
    task : TaskConfig
        Budgets and settings.
    seed : int
        Seed of training.
    teacher : Genome, optional
        Trained teacher for distillation.
    cache_dir : path, optional
        Where the run keeps its shared teacher states (see
        :mod:`growagent.distill.states`); without it they are collected here.

    Returns
    -------
    Assessment
        ``status="failed"`` with ``error`` set if anything went wrong
        (invalid genome, non-finite values, an env that raises); never raises
        for those.

    Examples
    --------
    >>> import genomes
    >>> task = TaskConfig(env="CartPole-v1", distill=None, finetune_steps=1024, eval_episodes=2)
    >>> a = assess(genomes.minimal(4, 2), task, seed=0)
    >>> a.status, a.objectives["params"]
    ('ok', 10)
    """
    t0 = time.perf_counter()
    old_threads = torch.get_num_threads()
    info: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    info["seconds"] = seconds
    try:
        env = with_kwargs(task.env, task.env_kwargs)
        if task.threads is not None:
            torch.set_num_threads(task.threads)
        genome.validate()
        trained = genome
        ppo_cfg, dist_cfg = task.ppo, task.distill
        if task.num_envs is not None:
            ppo_cfg = dataclasses.replace(ppo_cfg, num_envs=task.num_envs)
            if dist_cfg is not None:
                dist_cfg = dataclasses.replace(dist_cfg, num_envs=task.num_envs)
        distilled = teacher is not None and dist_cfg is not None
        if distilled:
            assert teacher is not None and dist_cfg is not None
            t = time.perf_counter()
            states = teacher_states(
                teacher,
                env,
                dist_cfg.teacher_states + dist_cfg.probe_states,
                seed=dist_cfg.teacher_seed,
                num_envs=dist_cfg.num_envs,
                cache_dir=cache_dir,
            )
            seconds["teacher_states"] = time.perf_counter() - t
            trained, dlog = distill(
                trained, teacher, env, config=dist_cfg, seed=seed, states=states
            )
            info["distill_env_steps"] = dlog.env_steps
            info["distill_grad_steps"] = dlog.grad_steps
            info["distill_stopped_early"] = dlog.stopped_early
            info["distill_backend"] = dlog.backend
            info["distill_kl"] = dlog.kl[-1] if dlog.kl else None
            info["distill_value_mse"] = dlog.value_mse[-1] if dlog.value_mse else None
            for phase in ("env", "label", "grad", "probe"):
                seconds[f"distill_{phase}"] = dlog.seconds.get(phase, 0.0)
        if task.finetune_steps > 0:
            if distilled:
                # The distilled weights expect the teacher's frozen input statistics;
                # a fresh running normalisation would feed them other inputs (on
                # LunarLander it turned a 253-return agent into -52: docs/fidelity.md).
                ppo_cfg = dataclasses.replace(ppo_cfg, normalize_obs=False)
            t = time.perf_counter()
            trained, plog = train_ppo(
                trained, env, total_steps=task.finetune_steps, config=ppo_cfg, seed=seed
            )
            info["ppo_steps"] = plog.total_steps
            seconds["finetune"] = time.perf_counter() - t
        t = time.perf_counter()
        ev = evaluate(trained, env, episodes=task.eval_episodes, seed=task.eval_seed)
        seconds["eval"] = time.perf_counter() - t
        if not math.isfinite(ev.mean):
            raise ValueError(f"Non-finite evaluation return {ev.mean}")
        info["eval_returns"] = ev.returns
        info["eval_stderr"] = ev.stderr
        trained.validate()  # non-finite weights fail here
        return Assessment(
            status="ok",
            objectives={
                "return": ev.mean,
                "params": trained.num_params("policy"),
                "macs": trained.macs("policy"),
            },
            eval_std=ev.std,
            wall_time=time.perf_counter() - t0,
            genome=trained,
            info=info,
        )
    except Exception as exc:
        return Assessment(
            status="failed",
            error=f"{type(exc).__name__}: {exc}",
            wall_time=time.perf_counter() - t0,
            info=info,
        )
    finally:
        torch.set_num_threads(old_threads)


def assess_bytes(payload: bytes) -> bytes:
    """:func:`assess` over JSON bytes, for executors.

    ``payload`` is ``{"genome": genome dict, "task": TaskConfig dict, "seed":
    int, "teacher": genome dict or null, "cache_dir": path or null}``; the result is
    :meth:`Assessment.to_json` encoded as UTF-8. A malformed payload gives a
    failed assessment, not an exception.

    Examples
    --------
    >>> out = Assessment.from_json(assess_bytes(b"{}"))
    >>> out.status, out.error
    ('failed', "Bad payload: KeyError: 'genome'")
    """
    t0 = time.perf_counter()
    try:
        data = json.loads(payload)
        genome = genomes.from_dict(data["genome"])
        task = TaskConfig.from_dict(data["task"])
        seed = int(data["seed"])
        teacher = None if data.get("teacher") is None else genomes.from_dict(data["teacher"])
        cache_dir = data.get("cache_dir")
        if cache_dir is not None and not isinstance(cache_dir, str):
            raise TypeError(f"cache_dir: expected a path string (got {type(cache_dir).__name__})")
    except Exception as exc:
        failed = Assessment(
            "failed",
            error=f"Bad payload: {type(exc).__name__}: {exc}",
            wall_time=time.perf_counter() - t0,
        )
        return failed.to_json().encode()
    return assess(genome, task, seed=seed, teacher=teacher, cache_dir=cache_dir).to_json().encode()


def make_payload(
    genome: Genome,
    task: TaskConfig,
    *,
    seed: int,
    teacher: Genome | None = None,
    cache_dir: str | Path | None = None,
) -> bytes:
    """The JSON bytes :func:`assess_bytes` expects.

    Examples
    --------
    >>> import genomes
    >>> p = make_payload(genomes.minimal(4, 2), TaskConfig(), seed=3)
    >>> json.loads(p)["seed"]
    3
    """
    return json.dumps(
        {
            "genome": genomes.to_dict(genome),
            "task": task.to_dict(),
            "seed": seed,
            "teacher": None if teacher is None else genomes.to_dict(teacher),
            "cache_dir": None if cache_dir is None else str(cache_dir),
        },
        allow_nan=False,
    ).encode()


def evaluate_bytes(payload: bytes) -> bytes:
    """Evaluate a genome (no training) over JSON bytes, for executors.

    ``payload`` is ``{"genome": genome dict, "env": env reference, "env_kwargs":
    dict (optional), "episodes": int, "seed": int}``; the result is ``{"status": "ok", "returns": [...]}``
    or ``{"status": "failed", "error": "..."}``, never an exception.

    Examples
    --------
    >>> import genomes
    >>> p = json.dumps({"genome": genomes.to_dict(genomes.minimal(4, 2)), "env": "CartPole-v1",
    ...                 "episodes": 2, "seed": 0}).encode()
    >>> out = json.loads(evaluate_bytes(p))
    >>> out["status"], len(out["returns"])
    ('ok', 2)
    >>> json.loads(evaluate_bytes(b"{}"))["status"]
    'failed'
    """
    old_threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        data = json.loads(payload)
        genome = genomes.from_dict(data["genome"])
        env = EnvRef(data["env"], data.get("env_kwargs") or {})
        ev = evaluate(genome, env, episodes=int(data["episodes"]), seed=int(data["seed"]))
        if not math.isfinite(ev.mean):
            raise ValueError(f"Non-finite evaluation return {ev.mean}")
        out: dict[str, Any] = {"status": "ok", "returns": ev.returns}
    except Exception as exc:
        out = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    finally:
        torch.set_num_threads(old_threads)
    return json.dumps(out, allow_nan=False).encode()

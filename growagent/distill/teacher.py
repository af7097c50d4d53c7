"""Teachers: train one with PPO, load one (genome JSON or SB3 zip), cache it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import genomes
from genomes import Genome
from growagent.rl.envs import EnvLike, EnvRef, as_ref, genome_spaces
from growagent.rl.ppo import PPOConfig, train_ppo, zoo_config


def train_teacher(
    env: EnvLike,
    *,
    total_steps: int,
    hidden: Sequence[int] = (64, 64),
    seed: int = 0,
    config: PPOConfig | None = None,
    callback: Callable[[dict[str, float]], bool | None] | None = None,
) -> Genome:
    """Train a ``genomes.mlp`` teacher (tanh, separate trunks) with PPO.

    Parameters
    ----------
    env : str or callable
        A gymnasium id or env factory.
    total_steps : int
        PPO budget in environment steps.
    hidden : sequence of int
        Hidden widths of the teacher.
    seed : int
        Seed of initialisation and training.
    config : PPOConfig, optional
        Defaults to :func:`growagent.rl.zoo_config` for a known id (with
        observation normalisation on), else ``PPOConfig()``.
    callback : callable, optional
        Passed to :func:`growagent.rl.ppo.train_ppo` (called after each update).

    Returns
    -------
    Genome
        Tagged ``{"role": "teacher"}``, with its ``obs_norm``.

    Examples
    --------
    >>> t = train_teacher("CartPole-v1", total_steps=1024, hidden=(8,))  # doctest: +SKIP
    >>> t.meta["tags"]["role"]  # doctest: +SKIP
    'teacher'
    """
    obs_space, act_space = genome_spaces(env)
    if config is None:
        config = zoo_config(env, normalize_obs=True) if isinstance(env, str) else PPOConfig()
    genome = genomes.mlp(obs_space, act_space, hidden=list(hidden), activation="tanh", seed=seed)
    trained, _ = train_ppo(
        genome, env, total_steps=total_steps, config=config, seed=seed, callback=callback
    )
    trained.meta["tags"]["role"] = "teacher"
    return trained


def load_teacher(path: str | Path, vecnormalize: str | Path | None = None) -> Genome:
    """Load a teacher from a genome JSON file or a Stable-Baselines3 PPO/A2C ``.zip``.

    Parameters
    ----------
    path : str or Path
        ``*.json`` genome or ``*.zip`` SB3 PPO/A2C model, read without
        unpickling anything (:mod:`growagent.distill.sb3`).
    vecnormalize : str or Path, optional
        The zip's ``VecNormalize`` statistics exported as JSON (SB3's own
        ``.pkl`` is refused: see :mod:`growagent.distill.sb3` for the export).

    Returns
    -------
    Genome

    Raises
    ------
    genomes.GenomeError
        For a malformed or unsupported file (an ``SB3ConversionError`` for zips).
    """
    path = Path(path)
    if path.suffix == ".zip":
        from growagent.distill.sb3 import load_sb3_zip

        return load_sb3_zip(path, vecnormalize=vecnormalize)
    return genomes.load(path)


def teacher_key(
    env_id: str, total_steps: int, seed: int, hidden: Sequence[int], config: PPOConfig | None
) -> str:
    """Hash of everything that determines a trained teacher.

    Examples
    --------
    >>> teacher_key("CartPole-v1", 1000, 0, (64, 64), None) == teacher_key("CartPole-v1", 1000, 0, [64, 64], None)
    True
    """
    blob = json.dumps(
        {
            "env": env_id,
            "total_steps": int(total_steps),
            "seed": int(seed),
            "hidden": [int(h) for h in hidden],
            "config": None if config is None else config.to_dict(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def get_teacher(
    env_id: str | EnvRef,
    *,
    cache_dir: str | Path,
    total_steps: int,
    seed: int = 0,
    hidden: Sequence[int] = (64, 64),
    config: PPOConfig | None = None,
    callback: Callable[[dict[str, float]], bool | None] | None = None,
) -> Genome:
    """Train a teacher once and cache it as ``cache_dir/teacher-<env>-<hash>.json``.

    Later calls with the same arguments load the file instead of training.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> a = get_teacher("CartPole-v1", cache_dir=d, total_steps=512, hidden=(4,))
    >>> b = get_teacher("CartPole-v1", cache_dir=d, total_steps=512, hidden=(4,))
    >>> genomes.dumps(a) == genomes.dumps(b)
    True
    """
    cache_dir = Path(cache_dir)
    name = str(env_id)  # an EnvRef's reference and kwargs
    key = teacher_key(name, total_steps, seed, hidden, config)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in as_ref(env_id).ref)
    path = cache_dir / f"teacher-{safe}-{key}.json"
    if path.exists():
        return genomes.load(path)
    teacher = train_teacher(
        env_id, total_steps=total_steps, hidden=hidden, seed=seed, config=config, callback=callback
    )
    cache_dir.mkdir(parents=True, exist_ok=True)
    genomes.save(teacher, path)
    return teacher


class TeacherError(RuntimeError):
    """The teacher is no better than a random policy (or below the configured floor)."""


def check_teacher(
    teacher_return: Sequence[float],
    env: EnvLike,
    *,
    seed: int,
    min_return: float | None = None,
) -> dict[str, float]:
    """Check a teacher's evaluation returns against a floor; the figures of the check.

    ``teacher_return`` are the teacher's returns on the episodes from ``seed``
    on. The floor is ``min_return`` when given; otherwise a random policy is
    played on the same episodes and the teacher must beat its mean by more
    than three standard errors of the difference and by at least 5% of the
    random mean's magnitude (a teacher at the random policy's level teaches
    nothing, and every student would match it).

    Raises
    ------
    TeacherError
        One line with both returns and what to do.
    """
    import numpy as np

    from growagent.rl.evaluate import evaluate_random

    t = np.asarray(teacher_return, dtype=np.float64)
    mean, se = float(t.mean()), float(t.std() / np.sqrt(t.size))
    out = {"mean": mean, "se": se}
    if min_return is not None:
        out["floor"] = float(min_return)
        if mean < min_return:
            raise TeacherError(
                f"the teacher returns {mean:.1f} +- {se:.1f}, below teacher.min_return "
                f"({min_return:g}): train it longer (teacher.steps, teacher.ppo) or load a "
                "better one (teacher.path)"
            )
        return out
    r = evaluate_random(env, episodes=int(t.size), seed=seed)
    r_se = r.std / np.sqrt(t.size)
    floor = r.mean + max(3.0 * float(np.hypot(se, r_se)), 0.05 * abs(r.mean))
    out.update(random_mean=r.mean, random_se=float(r_se), floor=float(floor))
    if mean <= floor:
        raise TeacherError(
            f"the teacher returns {mean:.1f} +- {se:.1f}, not clearly better than a random "
            f"policy ({r.mean:.1f} +- {r_se:.1f}): train it longer (teacher.steps, "
            "teacher.ppo), load a better one (teacher.path), or set teacher.min_return"
        )
    return out

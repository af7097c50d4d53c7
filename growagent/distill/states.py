"""Teacher states: what the teacher saw and said, collected once and shared by every student.

Every child of a run distils the same teacher, so the states the *teacher*
drives the env into (and the teacher's outputs on them) are the same for
all of them. :func:`collect_teacher_states` gathers them once;
:func:`teacher_states` caches them in a run directory as a NumPy ``.npz``
(read with ``allow_pickle=False``: loading runs no code) named by a key that
hashes the teacher's weights and the collection settings, so a changed
teacher or setting never reuses stale states. A process keeps the states it
loaded in memory, so a worker reads the file once per run.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

import genomes
from genomes import Genome
from growagent.rl.envs import EnvLike, EnvRef, make_vec_env
from growagent.rl.normalize import normalize_obs
from growagent.rl.policy import ActionHead, check_genome_matches
from growagent.rl.ppo import NonFiniteTrainingError

_FIELDS = ("obs", "policy", "value")


@dataclass
class TeacherStates:
    """States (normalised as the teacher sees them) with the teacher's outputs on them."""

    obs: np.ndarray
    """``[n, obs_units]`` float32 observations, after the teacher's ``obs_norm``."""
    policy: np.ndarray
    """``[n, policy_units]`` float32 teacher logits (Discrete) or means (Box)."""
    value: np.ndarray
    """``[n]`` float32 teacher values."""
    key: str = ""
    """The cache key (see :func:`states_key`)."""

    def __len__(self) -> int:
        return int(self.obs.shape[0])

    def split(self, n_probe: int) -> tuple[TeacherStates, TeacherStates]:
        """The first ``len - n_probe`` states for training and the last ``n_probe`` as a probe."""
        cut = max(0, len(self) - n_probe)
        head = TeacherStates(self.obs[:cut], self.policy[:cut], self.value[:cut], self.key)
        tail = TeacherStates(self.obs[cut:], self.policy[cut:], self.value[cut:], self.key)
        return head, tail

    def save(self, path: str | Path) -> Path:
        """Write an ``.npz`` atomically (a killed run never leaves half a file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
        os.close(fd)
        try:
            with open(tmp, "wb") as f:
                np.savez(f, obs=self.obs, policy=self.policy, value=self.value, key=self.key)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    @classmethod
    def load(cls, path: str | Path) -> TeacherStates:
        """Read :meth:`save`'s file (no pickle); raises ``ValueError`` on a malformed one."""
        try:
            with np.load(path, allow_pickle=False) as f:
                data = {k: f[k] for k in (*_FIELDS, "key")}
        except (OSError, KeyError, ValueError) as exc:
            raise ValueError(f"{path}: not a teacher-states file ({exc})") from None
        n = data["obs"].shape[0]
        if data["policy"].shape[0] != n or data["value"].shape != (n,):
            raise ValueError(f"{path}: arrays of different lengths")
        return cls(
            data["obs"].astype(np.float32),
            data["policy"].astype(np.float32),
            data["value"].astype(np.float32),
            str(data["key"]),
        )


def states_key(teacher: Genome, env: EnvLike, n: int, seed: int, num_envs: int) -> str:
    """Hash of the teacher's JSON and the collection settings.

    Examples
    --------
    >>> import genomes
    >>> t = genomes.mlp(4, 2, hidden=[4])
    >>> states_key(t, "CartPole-v1", 64, 0, 8) == states_key(t, "CartPole-v1", 64, 0, 8)
    True
    >>> states_key(t, "CartPole-v1", 64, 0, 8) == states_key(t, "CartPole-v1", 64, 1, 8)
    False
    """
    if isinstance(env, str | EnvRef):  # an EnvRef without kwargs keys as its bare id
        env_name = str(env)
    else:
        env_name = getattr(env, "__qualname__", repr(env))
    blob = json.dumps(
        {
            "teacher": genomes.dumps(teacher),
            "env": env_name,
            "n": n,
            "seed": seed,
            "envs": num_envs,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def collect_teacher_states(
    teacher: Genome, env: EnvLike, n: int, *, seed: int, num_envs: int = 8
) -> TeacherStates:
    """Roll the teacher out (sampling its actions, for wider coverage) and record ``n`` states.

    Raises
    ------
    NonFiniteTrainingError
        On NaN/inf observations or rewards.

    Examples
    --------
    >>> import genomes
    >>> s = collect_teacher_states(genomes.mlp(4, 2, hidden=[4]), "CartPole-v1", 100, seed=0)
    >>> len(s), s.obs.shape[1], s.policy.shape[1], s.value.shape
    (100, 4, 2, (100,))
    """
    if n < 1:
        raise ValueError(f"Expected n >= 1 teacher states (got {n})")
    venv = make_vec_env(env, num_envs, seed)
    try:
        check_genome_matches(teacher, venv.single_observation_space, venv.single_action_space)
        module = teacher.compile(torch.float32)
        head = ActionHead(teacher)
        gen = torch.Generator().manual_seed(seed)
        norm = teacher.meta.get("obs_norm")
        raw: np.ndarray = cast(Any, venv).growagent_first_obs  # set by make_vec_env
        xs, outs, vals = [], [], []
        got = 0
        with torch.no_grad():
            while got < n:
                if not np.isfinite(raw).all():
                    raise NonFiniteTrainingError("Non-finite observation from the environment")
                x = torch.from_numpy(normalize_obs(norm, raw.reshape(num_envs, -1)))
                out, val = module(x)
                xs.append(x.numpy())
                outs.append(out.numpy())
                vals.append(val.numpy().reshape(-1))
                got += num_envs
                action = head.sample(out, module.log_std, gen)[0]
                raw, reward, *_ = venv.step(head.to_env(action))
                if not np.isfinite(np.asarray(reward, dtype=np.float64)).all():
                    raise NonFiniteTrainingError("Non-finite reward from the environment")
    finally:
        venv.close()
    key = states_key(teacher, env, n, seed, num_envs)
    return TeacherStates(
        np.concatenate(xs)[:n], np.concatenate(outs)[:n], np.concatenate(vals)[:n], key
    )


_MEMORY: dict[str, TeacherStates] = {}
"""States this process has loaded or collected, by key (a worker reads the cache once)."""


def teacher_states(
    teacher: Genome,
    env: EnvLike,
    n: int,
    *,
    seed: int,
    num_envs: int = 8,
    cache_dir: str | Path | None = None,
) -> TeacherStates:
    """The teacher's states from memory, then ``cache_dir``, else collected (and cached).

    The file is ``cache_dir/teacher-states-<key>.npz``; an unreadable file or
    one whose stored key differs is collected again and overwritten.

    Examples
    --------
    >>> import genomes, tempfile
    >>> t, d = genomes.mlp(4, 2, hidden=[4]), tempfile.mkdtemp()
    >>> a = teacher_states(t, "CartPole-v1", 64, seed=0, cache_dir=d)
    >>> _MEMORY.clear()
    >>> b = teacher_states(t, "CartPole-v1", 64, seed=0, cache_dir=d)  # read from the file
    >>> bool((a.obs == b.obs).all())
    True
    """
    key = states_key(teacher, env, n, seed, num_envs)
    if key in _MEMORY:
        return _MEMORY[key]
    path = None if cache_dir is None else Path(cache_dir) / f"teacher-states-{key}.npz"
    states: TeacherStates | None = None
    if path is not None and path.exists():
        try:
            states = TeacherStates.load(path)
        except ValueError:
            states = None
        if states is not None and (states.key != key or len(states) != n):
            states = None
    if states is None:
        states = collect_teacher_states(teacher, env, n, seed=seed, num_envs=num_envs)
        if path is not None:
            states.save(path)
    _MEMORY.clear()  # one run's states at a time per process
    _MEMORY[key] = states
    return states

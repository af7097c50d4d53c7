"""Convert a Stable-Baselines3 PPO/A2C actor-critic into a :class:`~genomes.Genome`.

Needs the ``sb3`` extra. Only the default ``MlpPolicy`` shape is supported:
a flatten features extractor, ``mlp_extractor.policy_net`` and
``value_net`` made of ``Linear`` layers with one activation, and linear
``action_net`` / ``value_net`` heads (Gaussian ``log_std`` for Box actions;
gSDE is rejected). ``VecNormalize`` statistics become ``meta["obs_norm"]``.
Loading uses SB3's own loader, so only load zips you trust.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from genomes import Genome
from genomes.spaces import describe_action_space, describe_observation_space

_ACTIVATIONS = {
    "Tanh": "tanh",
    "ReLU": "relu",
    "ELU": "elu",
    "GELU": "gelu",
    "SiLU": "silu",
    "Sigmoid": "sigmoid",
}


class SB3ConversionError(ValueError):
    """The SB3 model uses a structure this converter does not support."""


def _np(t: Any) -> np.ndarray:
    return t.detach().cpu().double().numpy()


def _chain(g: Genome, prefix: str, seq: Any, activation: str) -> str:
    import torch.nn as nn

    prev = "input"
    layers = [m for m in seq if isinstance(m, nn.Linear)]
    others = [m for m in seq if not isinstance(m, nn.Linear)]
    for m in others:
        if _ACTIVATIONS.get(type(m).__name__) != activation:
            raise SB3ConversionError(f"Unsupported layer in {prefix} trunk: {m}")
    for i, lin in enumerate(layers):
        name = f"{prefix}{i}"
        g.add_node(
            name, kind="hidden", units=lin.out_features, activation=activation, bias=_np(lin.bias)
        )
        g.add_edge(prev, name, _np(lin.weight))
        prev = name
    return prev


def from_sb3(model: Any, vec_normalize: Any = None) -> Genome:
    """A genome computing exactly the SB3 model's policy and value.

    Parameters
    ----------
    model : stable_baselines3 PPO or A2C
        A model with an ``ActorCriticPolicy`` (``MlpPolicy``).
    vec_normalize : stable_baselines3 VecNormalize, optional
        Its observation statistics go to ``meta["obs_norm"]`` (reward
        normalisation does not affect acting and is dropped).

    Returns
    -------
    Genome

    Raises
    ------
    SB3ConversionError
        For unsupported policies (gSDE, custom extractors, squashed outputs).
    """
    from stable_baselines3.common.torch_layers import FlattenExtractor

    policy = model.policy
    if getattr(policy, "use_sde", False):
        raise SB3ConversionError("gSDE policies are not supported")
    if not isinstance(policy.features_extractor, FlattenExtractor):
        raise SB3ConversionError(
            f"Unsupported features extractor {type(policy.features_extractor).__name__}"
        )
    act_name = _ACTIVATIONS.get(policy.activation_fn.__name__)
    if act_name is None:
        raise SB3ConversionError(f"Unsupported activation {policy.activation_fn.__name__}")
    obs = describe_observation_space(policy.observation_space)
    if not (np.isfinite(obs.get("low", 0.0)).all() and np.isfinite(obs.get("high", 0.0)).all()):
        obs = {"type": "box", "shape": obs["shape"]}  # infinite bounds are not JSON
    act = describe_action_space(policy.action_space)
    g = Genome(meta={"observation_space": obs, "action_space": act})
    n_obs = int(np.prod(obs["shape"]))
    g.add_node("input", kind="input", units=n_obs)
    actor = _chain(g, "h", policy.mlp_extractor.policy_net, act_name)
    critic = _chain(g, "v", policy.mlp_extractor.value_net, act_name)
    an, vn = policy.action_net, policy.value_net
    log_std = _np(policy.log_std) if act["type"] == "box" else None
    g.add_node(
        "policy",
        kind="policy",
        units=an.out_features,
        activation="identity",
        bias=_np(an.bias),
        log_std=log_std,
    )
    g.add_node("value", kind="value", units=1, activation="identity", bias=_np(vn.bias))
    g.add_edge(actor, "policy", _np(an.weight))
    g.add_edge(critic, "value", _np(vn.weight))
    if vec_normalize is not None and getattr(vec_normalize, "norm_obs", False):
        rms = vec_normalize.obs_rms
        g.meta["obs_norm"] = {
            "mean": np.asarray(rms.mean, dtype=np.float64).ravel().tolist(),
            "var": np.asarray(rms.var, dtype=np.float64).ravel().tolist(),
            "count": float(rms.count),
            "clip": float(vec_normalize.clip_obs),
            "epsilon": float(vec_normalize.epsilon),
        }
    g.meta["tags"]["role"] = "teacher"
    g.meta["tags"]["source"] = f"sb3:{type(model).__name__}"
    return g.validate()


def load_sb3_zip(path: str | Path, vecnormalize: str | Path | None = None) -> Genome:
    """Load an SB3 PPO or A2C ``.zip`` (and optional ``VecNormalize`` file) as a genome.

    Raises
    ------
    ImportError
        If stable_baselines3 is not installed (``pip install growagent[sb3]``).
    SB3ConversionError
        If the file holds neither a PPO nor an A2C model, or an unsupported policy.
    """
    try:
        from stable_baselines3 import A2C, PPO
    except ImportError as exc:
        raise ImportError(
            "Loading an SB3 zip needs stable_baselines3: pip install 'growagent[sb3]'"
        ) from exc
    model = None
    errors = []
    for cls in (PPO, A2C):
        try:
            model = cls.load(str(path), device="cpu")
            break
        except Exception as exc:
            errors.append(f"{cls.__name__}: {exc}")
    if model is None:
        raise SB3ConversionError(f"{path}: not an SB3 PPO/A2C zip ({'; '.join(errors)})")
    vn = None
    if vecnormalize is not None:
        import gymnasium
        from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

        obs_space, act_space = model.observation_space, model.action_space

        class _Spaces(gymnasium.Env):  # type: ignore[type-arg]
            observation_space = obs_space
            action_space = act_space

        vn = VecNormalize.load(str(vecnormalize), DummyVecEnv([_Spaces]))
    return from_sb3(model, vn)

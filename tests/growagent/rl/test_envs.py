import re

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces

from growagent.rl.envs import UnsupportedEnvError, env_spaces, genome_spaces, make_vec_env
from growagent.rl.normalize import RunningMeanStd, normalize_obs


def test_cartpole_uses_native_vectorisation_and_pendulum_sync():
    cp = make_vec_env("CartPole-v1", 4, seed=0)
    pe = make_vec_env("Pendulum-v1", 2, seed=0)
    assert type(cp).__name__ == "CartPoleVectorEnv"
    assert isinstance(pe, gymnasium.vector.SyncVectorEnv)
    assert cp.growagent_first_obs.shape == (4, 4)
    assert pe.growagent_first_obs.shape == (2, 3)
    cp.close()
    pe.close()


def test_seeded_resets_repeat():
    a = make_vec_env("Pendulum-v1", 3, seed=7).growagent_first_obs
    b = make_vec_env("Pendulum-v1", 3, seed=7).growagent_first_obs
    c = make_vec_env("Pendulum-v1", 3, seed=8).growagent_first_obs
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


class DiscreteObsEnv(gymnasium.Env):
    observation_space = spaces.Discrete(5)
    action_space = spaces.Discrete(2)


class MultiDiscreteActEnv(gymnasium.Env):
    observation_space = spaces.Box(-1, 1, (2,))
    action_space = spaces.MultiDiscrete([2, 3])


@pytest.mark.parametrize(
    ("factory", "named"),
    [(DiscreteObsEnv, "Discrete(5)"), (MultiDiscreteActEnv, "MultiDiscrete([2 3])")],
)
def test_unsupported_spaces_are_named(factory, named):
    with pytest.raises(UnsupportedEnvError, match=re.escape(named)):
        env_spaces(factory)
    with pytest.raises(UnsupportedEnvError, match="Expected"):
        make_vec_env(factory, 2, seed=0)


def test_genome_spaces_are_json_safe():
    obs, act = genome_spaces("Pendulum-v1")
    assert obs["low"] == [-1.0, -1.0, -8.0]
    assert act == {"type": "box", "shape": [1], "low": [-2.0], "high": [2.0]}
    obs, _ = genome_spaces("CartPole-v1")
    assert "low" not in obs


def test_running_mean_std_matches_numpy_and_round_trips():
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(1000, 3))
    rms = RunningMeanStd((3,))
    for chunk in np.split(data, 10):
        rms.update(chunk)
    assert np.allclose(rms.mean, data.mean(0), atol=1e-6)
    assert np.allclose(rms.var, data.var(0), rtol=1e-3)
    meta = rms.to_meta()
    x = rng.normal(size=(5, 3)) * 50
    assert np.array_equal(normalize_obs(meta, x), rms.normalize(x))
    assert np.abs(normalize_obs(meta, x)).max() <= meta["clip"]
    assert np.array_equal(RunningMeanStd.from_meta(meta).normalize(x), rms.normalize(x))

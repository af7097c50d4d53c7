import numpy as np
import pytest
import torch

sb3 = pytest.importorskip("stable_baselines3")

from growagent.distill import load_teacher  # noqa: E402
from growagent.rl import evaluate  # noqa: E402
from growagent.rl.normalize import normalize_obs  # noqa: E402


def _ours(genome, obs):
    module = genome.compile(torch.float64)
    x = torch.from_numpy(normalize_obs(genome.meta["obs_norm"], obs).astype(np.float64))
    with torch.no_grad():
        out, value = module(x)
    return out.numpy(), value.numpy()


@pytest.mark.parametrize(("algo", "env_id"), [("PPO", "CartPole-v1"), ("A2C", "Pendulum-v1")])
def test_sb3_zip_teacher_acts_like_sb3_predict(tmp_path, algo, env_id):
    torch.set_num_threads(1)
    cls = getattr(sb3, algo)
    kwargs = {"n_steps": 64, "batch_size": 64, "n_epochs": 1} if algo == "PPO" else {"n_steps": 8}
    model = cls("MlpPolicy", env_id, seed=0, device="cpu", **kwargs)
    model.learn(256)
    model.save(tmp_path / "model.zip")
    genome = load_teacher(tmp_path / "model.zip")

    env = model.get_env()
    obs = np.stack([env.observation_space.sample() for _ in range(64)])
    expected, _ = model.predict(obs, deterministic=True)
    values = model.policy.predict_values(torch.as_tensor(obs)).detach().numpy().ravel()
    out, ours_values = _ours(genome, obs)
    if genome.is_continuous:
        low, high = env.action_space.low, env.action_space.high
        assert np.allclose(np.clip(out, low, high), expected, atol=1e-5)
        assert np.allclose(
            genome.graph.nodes["policy"]["log_std"], model.policy.log_std.detach().numpy()
        )
    else:
        assert np.array_equal(out.argmax(-1), expected)
    assert np.allclose(ours_values, values, atol=1e-4)
    assert np.isfinite(evaluate(genome, env_id, episodes=2).mean)


def test_sb3_vecnormalize_stats_become_obs_norm(tmp_path):
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    venv = VecNormalize(make_vec_env("CartPole-v1", n_envs=2, seed=0))
    model = sb3.PPO("MlpPolicy", venv, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(256)
    model.save(tmp_path / "m.zip")
    venv.save(str(tmp_path / "vn.pkl"))
    genome = load_teacher(tmp_path / "m.zip", vecnormalize=tmp_path / "vn.pkl")
    obs = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    expected, _ = model.predict(venv.normalize_obs(obs), deterministic=True)
    out, _ = _ours(genome, obs)
    assert np.allclose(genome.meta["obs_norm"]["mean"], venv.obs_rms.mean)
    assert np.array_equal(out.argmax(-1), expected)

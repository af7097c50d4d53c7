import gymnasium
import numpy as np
import pytest
import torch
from gymnasium import spaces

import genomes
from growagent.rl import PPOConfig, evaluate, genome_spaces, train_ppo, zoo_config
from growagent.rl.optim import FlatAdam
from growagent.rl.policy import ActionHead
from growagent.rl.ppo import (
    ClosedFormTorchStep,
    Minibatch,
    NonFiniteTrainingError,
    NumpyStep,
    TorchStep,
    _neg_adv,
    _neg_adv_per_minibatch,
    make_ppo_step,
)


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def test_same_seed_same_weights_and_different_seed_differs():
    g = genomes.mlp(4, 2, hidden=[8])
    cfg = PPOConfig(num_envs=4, num_steps=64)
    a, log_a = train_ppo(g, "CartPole-v1", total_steps=1024, config=cfg, seed=3)
    b, log_b = train_ppo(g, "CartPole-v1", total_steps=1024, config=cfg, seed=3)
    c, _ = train_ppo(g, "CartPole-v1", total_steps=1024, config=cfg, seed=4)
    assert genomes.dumps(a) == genomes.dumps(b)
    assert log_a.episode_returns == log_b.episode_returns
    assert genomes.dumps(a) != genomes.dumps(c)
    assert genomes.dumps(g) == genomes.dumps(genomes.mlp(4, 2, hidden=[8]))  # input untouched


@pytest.mark.slow
def test_ppo_learns_cartpole_well_above_random():
    obs, act = genome_spaces("CartPole-v1")
    g = genomes.mlp(obs, act, hidden=[32, 32])
    trained, log = train_ppo(g, "CartPole-v1", total_steps=25_000, config=zoo_config("CartPole-v1"))
    result = evaluate(trained, "CartPole-v1", episodes=10, seed=100)
    assert evaluate(g, "CartPole-v1", episodes=10, seed=100).mean < 50
    assert result.mean > 200  # random play scores about 22
    assert log.total_steps >= 25_000


@pytest.mark.slow
def test_ppo_learns_pendulum_above_random():
    obs, act = genome_spaces("Pendulum-v1")
    g = genomes.mlp(obs, act, hidden=[64, 64])
    cfg = zoo_config("Pendulum-v1", num_steps=256, num_minibatches=16, normalize_obs=True)
    before = evaluate(g, "Pendulum-v1", episodes=5, seed=100).mean
    trained, _ = train_ppo(g, "Pendulum-v1", total_steps=40_000, config=cfg)
    after = evaluate(trained, "Pendulum-v1", episodes=5, seed=100).mean
    assert before < -1000  # random / untrained: about -1200 .. -1500
    assert after > before + 300
    assert np.all(np.isfinite(trained.graph.nodes["policy"]["log_std"]))


class ConstantEnv(gymnasium.Env):
    """Reward 1 every step; the episode ends after 5 steps by truncation or termination."""

    observation_space = spaces.Box(-1.0, 1.0, (1,))
    action_space = spaces.Discrete(2)

    def __init__(self, terminate: bool):
        self.terminate = terminate
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        end = self.t >= 5
        return (
            np.zeros(1, dtype=np.float32),
            1.0,
            end and self.terminate,
            end and not self.terminate,
            {},
        )


@pytest.mark.parametrize("clip_vloss", [False, True])
@pytest.mark.parametrize(("terminate", "expected"), [(False, 10.0), (True, 2.63)])
def test_truncation_bootstraps_and_termination_does_not(terminate, expected, clip_vloss):
    # gamma = 0.9: an endless stream of 1s is worth 10; a 5-step episode seen
    # from each of its steps is worth on average mean((1 - 0.9**k) / 0.1, k=1..5) = 2.63.
    g = genomes.minimal(1, 2)
    cfg = PPOConfig(
        num_envs=4,
        num_steps=50,
        gamma=0.9,
        gae_lambda=1.0,
        learning_rate=0.05,
        normalize_obs=False,
        update_epochs=4,
        max_grad_norm=100.0,
        clip_vloss=clip_vloss,  # the autograd loss; the value still converges
    )
    trained, _ = train_ppo(g, lambda: ConstantEnv(terminate), total_steps=12_000, config=cfg)
    value = trained.compile()(torch.zeros(1, 1))[1].item()
    assert value == pytest.approx(expected, rel=0.1)


class NaNRewardEnv(ConstantEnv):
    def step(self, action):
        obs, _, term, trunc, info = super().step(action)
        return obs, float("nan"), term, trunc, info


def test_nan_reward_raises_clear_error():
    with pytest.raises(NonFiniteTrainingError, match="reward"):
        train_ppo(
            genomes.minimal(1, 2),
            lambda: NaNRewardEnv(False),
            total_steps=64,
            config=PPOConfig(num_envs=2, num_steps=32),
        )


class HugeRewardEnv(ConstantEnv):
    def step(self, action):
        obs, _, term, trunc, info = super().step(action)
        return obs, 3e38, term, trunc, info  # finite, but its square overflows float32


@pytest.mark.parametrize("activation", ["tanh", "gelu"])  # NumPy passes and autograd
def test_overflowing_loss_raises_one_clear_error(activation, recwarn):
    with pytest.raises(NonFiniteTrainingError, match="Non-finite loss at update 0"):
        train_ppo(
            genomes.mlp(1, 2, hidden=[4], activation=activation),
            lambda: HugeRewardEnv(False),
            total_steps=64,
            config=PPOConfig(num_envs=2, num_steps=32, normalize_obs=False),
        )
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_genome_env_mismatch_is_named():
    with pytest.raises(ValueError, match="input has 3 units"):
        train_ppo(genomes.minimal(3, 2), "CartPole-v1", total_steps=64)


def test_flat_adam_matches_torch_adam_after_global_norm_clip():
    torch.manual_seed(0)
    ours = [torch.nn.Parameter(torch.randn(5, 3)), torch.nn.Parameter(torch.randn(3))]
    ref = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    opt = FlatAdam(ours, eps=1e-5, betas=(0.9, 0.999))
    ref_opt = torch.optim.Adam(ref, lr=1e-2, eps=1e-5)
    for step in range(40):
        x = torch.randn(7, 5)
        scale = 10.0 if step % 2 else 0.01  # alternately clipped and not
        for params in (ours, ref):
            ((x @ params[0] + params[1]) ** 2).sum().mul(scale).backward()
        opt.clip_and_step(1e-2, 0.5)
        opt.zero_grad()
        torch.nn.utils.clip_grad_norm_(ref, 0.5)
        ref_opt.step()
        ref_opt.zero_grad()
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    opt.check_grads_are_views()


def test_per_minibatch_advantage_normalisation_matches_one_slice_at_a_time():
    adv = torch.randn(103, generator=torch.Generator().manual_seed(1))
    for mb_size in (1, 10, 103, 200):
        expected = torch.cat([_neg_adv(adv[s : s + mb_size], True) for s in range(0, 103, mb_size)])
        torch.testing.assert_close(_neg_adv_per_minibatch(adv, mb_size, True), expected)
    torch.testing.assert_close(_neg_adv_per_minibatch(adv, 10, False), -adv)


def test_target_kl_stops_updates_early():
    g = genomes.mlp(4, 2, hidden=[16])
    base = dict(num_envs=4, num_steps=64, num_minibatches=4, update_epochs=5, learning_rate=1e-2)
    _, free = train_ppo(g, "CartPole-v1", total_steps=1024, config=PPOConfig(**base), seed=0)
    _, tight = train_ppo(
        g, "CartPole-v1", total_steps=1024, config=PPOConfig(**base, target_kl=1e-9), seed=0
    )
    assert [u["minibatches"] for u in free.updates] == [20.0] * 4
    # The first minibatch leaves the policy where the rollout was made (KL 0);
    # the second sees the first step's change and stops the update.
    assert all(u["minibatches"] == 2.0 for u in tight.updates)
    assert all(np.isfinite(u["policy_loss"]) and np.isfinite(u["entropy"]) for u in tight.updates)


def _steps_taken(step_class, genome, minibatches, cfg):
    """Parameters and per-step (stats, log_ratio) after ``step_class`` steps ``minibatches``."""
    module = genome.compile(torch.float64)
    opt = FlatAdam(list(module.parameters()), eps=cfg.adam_eps, betas=(0.9, 0.999))
    step = step_class(module, opt, ActionHead(genome), cfg)
    out = [step(mb, lr=1e-2, clip=0.2, with_entropy=True) for mb in minibatches]
    return opt.param.clone(), out


@pytest.mark.parametrize("ent_coef", [0.0, 0.01])
def test_the_three_minibatch_steps_agree(ent_coef):
    genome = genomes.mlp(4, 3, hidden=[8, 8], seed=1)
    cfg = PPOConfig(ent_coef=ent_coef, max_grad_norm=0.5)  # the clip binds
    rng = np.random.default_rng(0)
    module = genome.compile(torch.float64)
    minibatches = []
    for _ in range(6):
        obs = rng.normal(size=(32, 4))
        act = rng.integers(0, 3, size=(32, 1))
        with torch.no_grad():
            logits = module(torch.from_numpy(obs))[0]
        logp = torch.log_softmax(logits, 1).gather(1, torch.from_numpy(act)).squeeze(1).numpy()
        # Old log-probabilities off the current ones: ratios inside and outside the clip range.
        old_logp = logp + rng.normal(scale=0.3, size=32)
        returns, old_value = rng.normal(size=32), rng.normal(size=32)
        minibatches.append(Minibatch(obs, act, old_logp, rng.normal(size=32), returns, old_value))

    ref_param, ref_out = _steps_taken(TorchStep, genome, minibatches, cfg)
    for step_class in (ClosedFormTorchStep, NumpyStep):
        param, out = _steps_taken(step_class, genome, minibatches, cfg)
        torch.testing.assert_close(param, ref_param, rtol=1e-9, atol=1e-12)
        for (stats, log_ratio), (ref_stats, ref_log_ratio) in zip(out, ref_out, strict=True):
            torch.testing.assert_close(stats, ref_stats)
            torch.testing.assert_close(log_ratio, ref_log_ratio)
    assert float((ref_param - _steps_taken(TorchStep, genome, [], cfg)[0]).abs().max()) > 1e-3


@pytest.mark.parametrize(
    ("genome", "config", "expected"),
    [
        (genomes.mlp(4, 2, hidden=[8]), {}, NumpyStep),
        (genomes.mlp(4, 2, hidden=[8], activation="gelu"), {}, ClosedFormTorchStep),
        (genomes.mlp(4, 2, hidden=[8]), {"clip_vloss": True}, TorchStep),
        (
            genomes.mlp(3, {"type": "box", "shape": [1], "low": [-2.0], "high": [2.0]}),
            {},
            TorchStep,
        ),
    ],
    ids=["discrete", "gelu", "clip_vloss", "box"],
)
def test_make_ppo_step_picks_the_fastest_step_that_applies(genome, config, expected):
    module = genome.compile(torch.float32)
    opt = FlatAdam(list(module.parameters()), eps=1e-5, betas=(0.9, 0.999))
    step = make_ppo_step(module, opt, ActionHead(genome), PPOConfig(**config))
    assert type(step) is expected
    assert (step.net is not None) == (expected is NumpyStep)  # the rollout acts with it


def test_train_ppo_docstring_example():
    # train_ppo's docstring example, skipped as a doctest because it trains
    g = genomes.mlp(4, 2, hidden=[16])
    trained, log = train_ppo(g, "CartPole-v1", total_steps=2048, seed=0)
    assert (log.total_steps, trained.meta["obs_norm"] is not None) == (2048, True)

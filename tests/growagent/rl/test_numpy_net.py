"""The NumPy forward and backward passes agree with the compiled module and autograd."""

import numpy as np
import pytest
import torch

import genomes
import growagent.rl.ppo as ppo_module
from growagent.rl import PPOConfig, train_ppo
from growagent.rl.numpy_net import NumpyNet, unsupported_reason
from operators.structure import add_skip


def _randomised(genome: genomes.Genome, seed: int) -> genomes.Genome:
    """``genome`` with every weight and bias drawn at random (zero skips become live)."""
    rng = np.random.default_rng(seed)
    g = genome.copy()
    for _, _, data in g.graph.edges(data=True):
        data["weight"] = rng.normal(0.0, 0.7, data["weight"].shape)
    for _, data in g.graph.nodes(data=True):
        if "bias" in data:
            data["bias"] = rng.normal(0.0, 0.5, data["bias"].shape)
    return g


def _genomes() -> dict[str, genomes.Genome]:
    rng = np.random.default_rng(0)
    skipped = add_skip(genomes.mlp(5, 3, hidden=[6, 4]), rng=rng, source="input", target="h1")
    skipped = add_skip(skipped, rng=rng, source="h0", target="policy")
    return {
        "tanh": genomes.mlp(5, 3, hidden=[6, 4]),
        "relu": genomes.mlp(5, 3, hidden=[6], activation="relu"),
        "sigmoid": genomes.mlp(5, 3, hidden=[6, 6], activation="sigmoid"),
        "elu": genomes.mlp(5, 3, hidden=[6], activation="elu"),
        "linear": genomes.minimal(5, 3),
        "shared trunk": genomes.mlp(5, 3, hidden=[6, 4], shared=True),
        "skips": skipped,
    }


@pytest.mark.parametrize("name", list(_genomes()))
def test_forward_and_backward_equal_the_module_and_autograd(name):
    genome = _randomised(_genomes()[name], seed=1)
    module = genome.compile(torch.float64)
    for p in module.parameters():
        p.grad = torch.full_like(p, 123.0)  # stale values the backward pass must overwrite
    net = NumpyNet(module)
    gen = np.random.default_rng(2)
    obs = gen.normal(size=(16, 5))
    g_policy, g_value = gen.normal(size=(16, 3)), gen.normal(size=16)

    policy, value = net.forward(obs)
    np.testing.assert_allclose(net.policy(obs), policy)
    ref_policy, ref_value = module(torch.from_numpy(obs))
    np.testing.assert_allclose(policy, ref_policy.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(value, ref_value.detach().numpy(), rtol=1e-12)

    net.backward(g_policy, g_value)
    ours = [p.grad.clone() for p in module.parameters()]
    module.zero_grad()
    torch.autograd.backward(
        (ref_policy, ref_value), (torch.from_numpy(g_policy), torch.from_numpy(g_value))
    )
    for mine, ref in zip(ours, [p.grad for p in module.parameters()], strict=True):
        torch.testing.assert_close(mine, ref, rtol=1e-10, atol=1e-12)
    assert any(float(r.abs().max()) > 0.1 for r in ours)  # gradients are not trivially zero


def test_unsupported_modules_are_named():
    gelu = genomes.mlp(4, 2, hidden=[8], activation="gelu").compile()
    assert "gelu" in unsupported_reason(gelu)
    box = genomes.mlp(3, {"type": "box", "shape": [1], "low": [-2.0], "high": [2.0]}).compile()
    assert "Box" in unsupported_reason(box)
    policy_only = genomes.mlp(4, 2, hidden=[8]).compile(part="policy")
    assert "part" in unsupported_reason(policy_only)
    with pytest.raises(ValueError, match="gelu"):
        NumpyNet(gelu)
    with pytest.raises(ValueError, match="grad"):
        NumpyNet(genomes.mlp(4, 2, hidden=[8]).compile())


@pytest.mark.parametrize("activation", ["tanh", "gelu"])
def test_ppo_trains_the_same_with_the_numpy_passes_as_with_autograd(monkeypatch, activation):
    """Two updates of CartPole PPO: hand-written passes vs autograd, same seed, same weights."""
    genome = genomes.mlp(4, 2, hidden=[16, 16], activation=activation, seed=0)
    kwargs = dict(total_steps=2 * 4 * 128, seed=3)
    # An entropy bonus, and minibatches of unequal size (episode ends are masked out).
    config = PPOConfig(num_envs=4, num_steps=128, num_minibatches=5, update_epochs=2, ent_coef=0.01)
    used: list[bool] = []
    real = ppo_module.NumpyNet

    def spy(module):
        used.append(True)
        return real(module)

    monkeypatch.setattr(ppo_module, "NumpyNet", spy)
    fast, fast_log = train_ppo(genome, "CartPole-v1", config=config, **kwargs)
    assert used == ([True] if activation == "tanh" else [])  # gelu falls back to autograd

    monkeypatch.setattr(ppo_module, "unsupported_reason", lambda module: "forced autograd")
    slow, slow_log = train_ppo(genome, "CartPole-v1", config=config, **kwargs)
    assert fast_log.episode_returns == slow_log.episode_returns  # same actions in rollout 1
    for (_, _, a), (_, _, b) in zip(
        fast.graph.edges(data=True), slow.graph.edges(data=True), strict=True
    ):
        np.testing.assert_allclose(a["weight"], b["weight"], atol=1e-5)
    moved = max(
        float(np.abs(a["weight"] - b["weight"]).max())
        for (_, _, a), (_, _, b) in zip(
            fast.graph.edges(data=True), genome.graph.edges(data=True), strict=True
        )
    )
    assert moved > 1e-3  # training changed the weights


def test_dropped_input_features_read_as_zero_and_get_no_gradient():
    import operators

    g = genomes.mlp(8, 2, hidden=[4], seed=0)
    g = operators.drop_input(g, rng=np.random.default_rng(0), feature=3)
    m = g.compile(torch.float64)
    for p in m.parameters():
        p.grad = torch.zeros_like(p)
    net = NumpyNet(m)
    x = np.random.default_rng(1).normal(size=(5, 8))
    pol, val = net.forward(x)
    ref_pol, _ = m(torch.from_numpy(x))
    np.testing.assert_allclose(pol, ref_pol.detach().numpy(), atol=1e-12)
    net.backward(np.ones_like(pol), np.ones_like(val))
    x2 = x.copy()
    x2[:, 3] += 100.0  # the dropped feature must not change anything
    np.testing.assert_allclose(net.forward(x2)[0], pol, atol=1e-12)
    first = m.source_positions[0]
    assert first[0] == 0  # the first node reads the input: rows 0..7 of its weight
    assert np.all(net.weight_grads[0][3] == 0.0)
    assert np.any(net.weight_grads[0][2] != 0.0)

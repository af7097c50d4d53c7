"""The hand-differentiated categorical PPO loss agrees with autograd and the textbook formula."""

import pytest
import torch
import torch.nn.functional as F

from growagent.rl.losses import categorical_ppo_grads, clipped_surrogate, ppo_loss


def test_clipped_surrogate_matches_the_textbook_formula_and_gradient():
    gen = torch.Generator().manual_seed(0)
    neg_adv = torch.randn(500, generator=gen)
    # Ratios inside and outside the clip range, and exactly on its edges.
    edges = torch.tensor([0.8, 1.2] * 2)
    ratio_values = torch.cat([torch.rand(496, generator=gen) * 1.2 + 0.4, edges])
    for clip in (0.2, 0.05):
        ours = ratio_values.clone().requires_grad_()
        ref = ratio_values.clone().requires_grad_()
        loss = clipped_surrogate(neg_adv, ours, clip)
        expected = torch.max(neg_adv * ref, neg_adv * ref.clamp(1 - clip, 1 + clip)).mean()
        loss.backward()
        expected.backward()
        assert loss.item() == pytest.approx(expected.item(), abs=1e-7)
        torch.testing.assert_close(ours.grad, ref.grad)
        assert (ours.grad == 0).sum() > 50  # the clipped branch really is taken


def _numpy_grads(logits, value, action, old_logp, neg_adv, returns, **kwargs):
    """categorical_ppo_grads on the NumPy views of torch tensors; torch tensors back."""
    (g_logits, g_value), stats, log_ratio = categorical_ppo_grads(
        logits.detach().numpy(),
        value.detach().numpy(),
        action.numpy()[:, 0],
        old_logp.numpy(),
        neg_adv.numpy(),
        returns.numpy(),
        **kwargs,
    )
    to_torch = torch.from_numpy
    return (to_torch(g_logits), to_torch(g_value)), to_torch(stats), to_torch(log_ratio)


def _batch(n: int, n_actions: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, n_actions, generator=gen, dtype=torch.float64) * 2
    value = torch.randn(n, generator=gen, dtype=torch.float64)
    action = torch.randint(0, n_actions, (n, 1), generator=gen)
    # Old log-probabilities near the current ones, so some ratios fall inside
    # the clip range and some outside.
    old_logp = F.log_softmax(logits, 1).gather(1, action).squeeze(1)
    old_logp = old_logp + torch.randn(n, generator=gen, dtype=torch.float64) * 0.3
    neg_adv = torch.randn(n, generator=gen, dtype=torch.float64)
    returns = torch.randn(n, generator=gen, dtype=torch.float64)
    return logits, value, action, old_logp, neg_adv, returns


@pytest.mark.parametrize("ent_coef", [0.0, 0.01, 0.5])
@pytest.mark.parametrize(("n", "n_actions"), [(1, 2), (64, 2), (257, 5)])
def test_closed_form_gradients_equal_autograd_of_the_loss(ent_coef, n, n_actions):
    logits, value, action, old_logp, neg_adv, returns = _batch(n, n_actions, seed=n + n_actions)
    kwargs = dict(clip=0.2, vf_coef=0.5, ent_coef=ent_coef)
    (g_logits, g_value), stats, log_ratio = _numpy_grads(
        logits, value, action, old_logp, neg_adv, returns, **kwargs
    )

    l_ref, v_ref = logits.clone().requires_grad_(), value.clone().requires_grad_()
    logp_all = F.log_softmax(l_ref, 1)
    entropy = -(logp_all.exp() * logp_all).sum(1)
    new_logp = logp_all.gather(1, action).squeeze(1)
    loss, ref_stats, ref_log_ratio = ppo_loss(
        new_logp, entropy, v_ref, old_logp, neg_adv, returns, value, **kwargs
    )
    loss.backward()

    assert stats.dtype == log_ratio.dtype == g_logits.dtype == g_value.dtype == torch.float64
    torch.testing.assert_close(stats, ref_stats)
    torch.testing.assert_close(log_ratio, ref_log_ratio)
    torch.testing.assert_close(g_logits, l_ref.grad)
    torch.testing.assert_close(g_value, v_ref.grad)
    if n > 1:  # both branches of the clip were exercised
        ratio = log_ratio.exp()
        assert ((ratio < 0.8) | (ratio > 1.2)).any() and ((ratio > 0.8) & (ratio < 1.2)).any()


def test_gradients_flow_into_the_network_like_the_autograd_loss():
    gen = torch.Generator().manual_seed(3)
    net = torch.nn.Linear(4, 3).double()
    obs = torch.randn(32, 4, generator=gen, dtype=torch.float64)
    _, value, action, old_logp, neg_adv, returns = _batch(32, 3, seed=3)
    kwargs = dict(clip=0.2, vf_coef=0.5, ent_coef=0.01)

    out = net(obs)
    v = out.sum(1) + value  # a value head sharing the network
    grads, _, _ = _numpy_grads(out, v, action, old_logp, neg_adv, returns, **kwargs)
    torch.autograd.backward((out, v), grads)
    ours = [p.grad.clone() for p in net.parameters()]

    net.zero_grad()
    out = net(obs)
    v = out.sum(1) + value
    logp_all = F.log_softmax(out, 1)
    entropy = -(logp_all.exp() * logp_all).sum(1)
    new_logp = logp_all.gather(1, action).squeeze(1)
    ppo_loss(new_logp, entropy, v, old_logp, neg_adv, returns, v.detach(), **kwargs)[0].backward()
    for a, b in zip(ours, [p.grad for p in net.parameters()], strict=True):
        torch.testing.assert_close(a, b)


def test_entropy_is_only_computed_when_asked_or_in_the_loss():
    batch = _batch(8, 2, seed=1)
    _, stats, _ = _numpy_grads(*batch, clip=0.2, vf_coef=0.5, ent_coef=0.0, with_entropy=False)
    assert torch.isnan(stats[2])
    _, stats, _ = _numpy_grads(*batch, clip=0.2, vf_coef=0.5, ent_coef=0.0)
    assert stats[2] > 0


def test_float32_inputs_give_float32_gradients():
    logits, value, action, old_logp, neg_adv, returns = (t.float() for t in _batch(16, 3, seed=2))
    (g_logits, g_value), stats, log_ratio = _numpy_grads(
        logits,
        value,
        action.long(),
        old_logp,
        neg_adv,
        returns,
        clip=0.2,
        vf_coef=0.5,
        ent_coef=0.01,
    )
    assert {g_logits.dtype, g_value.dtype, stats.dtype, log_ratio.dtype} == {torch.float32}

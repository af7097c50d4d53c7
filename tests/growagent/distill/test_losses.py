import torch
from torch.distributions import Categorical, Normal, kl_divergence

from growagent.distill.losses import gaussian_kl, kl_divergence_with_logits, value_mse


def test_categorical_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    t, s = torch.randn(16, 5, generator=g), torch.randn(16, 5, generator=g)
    expected = kl_divergence(Categorical(logits=t), Categorical(logits=s)).mean()
    assert torch.allclose(kl_divergence_with_logits(t, s), expected, atol=1e-6)
    assert float(kl_divergence_with_logits(t, t)) == 0.0
    # temperature flattens both distributions, shrinking the divergence
    assert kl_divergence_with_logits(t, s, temperature=4.0) < kl_divergence_with_logits(t, s)


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(1)
    tm, sm = torch.randn(8, 3, generator=g), torch.randn(8, 3, generator=g)
    tls, sls = torch.randn(3, generator=g) * 0.3, torch.randn(3, generator=g) * 0.3
    expected = kl_divergence(Normal(tm, tls.exp()), Normal(sm, sls.exp())).sum(-1).mean()
    assert torch.allclose(gaussian_kl(tm, tls, sm, sls), expected, atol=1e-5)


def test_value_mse_is_gradient_friendly():
    s = torch.tensor([0.0, 1.0], requires_grad=True)
    loss = value_mse(torch.tensor([1.0, 1.0]), s)
    loss.backward()
    assert float(loss.detach()) == 0.5
    assert s.grad.tolist() == [-1.0, 0.0]

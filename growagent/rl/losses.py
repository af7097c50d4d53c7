"""PPO's minibatch loss, written two ways that agree.

:func:`ppo_loss` builds the loss from autograd ops, for any action space:
the clipped surrogate on ``r = exp(log pi(a|s) - log pi_old(a|s))``, the
value loss (plain or clipped) and the entropy bonus.

:func:`categorical_ppo_grads` is the same loss for a categorical policy
with a plain value loss, differentiated by hand and written in NumPy: it
returns the gradient with respect to the logits and values, which a
hand-written backward pass (:mod:`growagent.rl.numpy_net`) or autograd then
carries through the network. Training a small network is dominated by
per-op overhead, and this loss would otherwise add about a dozen nodes to
the autograd graph of every minibatch.
``tests/growagent/rl/test_ppo_losses.py`` checks that the two give the same
gradients.

Both return the detached ``[policy_loss, value_loss, entropy]`` for logging
(entropy NaN when not computed) and the detached log-ratios (for
approximate KL and the clip fraction).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray

Array = NDArray[np.floating]


def clipped_surrogate(neg_adv: torch.Tensor, ratio: torch.Tensor, clip: float) -> torch.Tensor:
    """PPO's clipped policy loss: the mean of ``max(-A * r, -A * clip(r, 1 - c, 1 + c))``.

    ``neg_adv`` is ``-A``. Where the clipped term is strictly the larger, the
    ratio lies outside the clip range and that term is a constant, so it is
    computed without autograd: the graph holds one product, a ``where`` and
    a mean. Value and gradient equal those of the formula above.

    Examples
    --------
    >>> ratio = torch.tensor([0.5, 1.0, 1.5], requires_grad=True)
    >>> loss = clipped_surrogate(torch.tensor([1.0, -1.0, -1.0]), ratio, 0.2)
    >>> round(loss.item(), 4)  # mean of 0.8 (clipped), -1.0, -1.2 (clipped)
    -0.4667
    >>> loss.backward()
    >>> [round(g, 4) + 0.0 for g in ratio.grad.tolist()]  # none through the clipped terms
    [0.0, -0.3333, 0.0]
    """
    unclipped = neg_adv * ratio
    with torch.no_grad():
        clipped = neg_adv * ratio.clamp(1 - clip, 1 + clip)
        use_clipped = clipped > unclipped
    return torch.where(use_clipped, clipped, unclipped).mean()


def ppo_loss(
    new_logp: torch.Tensor,
    entropy: torch.Tensor | None,
    value: torch.Tensor,
    old_logp: torch.Tensor,
    neg_adv: torch.Tensor,
    returns: torch.Tensor,
    old_value: torch.Tensor,
    *,
    clip: float,
    vf_coef: float,
    ent_coef: float,
    clip_vloss: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PPO's loss from the policy's log-probabilities, entropies and values (autograd).

    Parameters
    ----------
    new_logp, entropy, value : Tensor
        ``[batch]``, from the network being trained (``entropy`` may be None
        when ``ent_coef`` is 0 and it is not logged).
    old_logp, neg_adv, returns, old_value : Tensor
        ``[batch]``, from the rollout; ``neg_adv`` is minus the (normalised)
        advantages.
    clip, vf_coef, ent_coef : float
        Clip range and loss coefficients.
    clip_vloss : bool
        Clip the value change to ``clip`` as CleanRL does.

    Examples
    --------
    >>> z = torch.zeros(2)
    >>> loss, stats, _ = ppo_loss(z, None, torch.ones(2), z, -torch.ones(2), z, z,
    ...                           clip=0.2, vf_coef=0.5, ent_coef=0.0)
    >>> loss.item(), stats[:2].tolist()
    (-0.5, [-1.0, 1.0])
    """
    log_ratio = new_logp - old_logp
    pg_loss = clipped_surrogate(neg_adv, log_ratio.exp(), clip)
    if clip_vloss:
        v_clipped = old_value + (value - old_value).clamp(-clip, clip)
        v_loss = torch.max((value - returns) ** 2, (v_clipped - returns) ** 2).mean()
    else:
        v_loss = F.mse_loss(value, returns)
    loss = torch.add(pg_loss, v_loss, alpha=vf_coef)
    ent = entropy.mean() if entropy is not None else torch.tensor(float("nan"))
    if ent_coef != 0.0:
        loss = torch.sub(loss, ent, alpha=ent_coef)
    stats = torch.stack((pg_loss, v_loss, ent)).detach()
    return loss, stats, log_ratio.detach()


def categorical_ppo_grads(
    logits: Array,
    value: Array,
    action: NDArray[np.int64],
    old_logp: Array,
    neg_adv: Array,
    returns: Array,
    *,
    clip: float,
    vf_coef: float,
    ent_coef: float,
    with_entropy: bool = True,
) -> tuple[tuple[Array, Array], Array, Array]:
    """:func:`ppo_loss` for a categorical policy and a plain value loss, differentiated by hand.

    Works on NumPy arrays (float32 or float64; the results have the inputs'
    dtype): at minibatch sizes NumPy's per-op cost is about a third of
    torch's. Returns the gradients of the loss with respect to ``logits``
    and ``value``, with ``stats`` and ``log_ratio`` as :func:`ppo_loss`
    returns them. Carry the gradients through a network with
    :meth:`growagent.rl.numpy_net.NumpyNet.backward`, or through a torch
    module with ``torch.autograd.backward``.

    With ``N`` samples, ``p = softmax(logits)``, ``e_a`` the one-hot taken
    action and ``H`` the entropy, the gradients per sample are

    - surrogate: ``(c / N) * (e_a - p)``, with ``c = -A * r`` where the
      unclipped term is taken and 0 where the clipped one is (a constant);
    - value loss: ``2 * vf_coef * (v - R) / N`` with respect to ``v``;
    - entropy bonus ``-ent_coef * mean(H)``: ``(ent_coef / N) * p * (log p + H)``.

    Parameters
    ----------
    logits : ndarray
        ``[batch, n_actions]``, from the network being trained.
    value : ndarray
        ``[batch]``, from the network being trained.
    action : ndarray of int
        ``[batch]``, the actions taken.
    old_logp, neg_adv, returns : ndarray
        ``[batch]``, as in :func:`ppo_loss`.
    clip, vf_coef, ent_coef : float
        Clip range and loss coefficients.
    with_entropy : bool
        Compute the entropy for logging even when ``ent_coef`` is 0.

    Returns
    -------
    (g_logits, g_value), stats, log_ratio
        ``stats`` is ``[policy_loss, value_loss, entropy]``.

    Examples
    --------
    >>> import numpy as np
    >>> grads, stats, _ = categorical_ppo_grads(
    ...     np.zeros((2, 3)), np.ones(2), np.array([0, 2]), np.log(np.full(2, 1 / 3)),
    ...     -np.ones(2), np.zeros(2), clip=0.2, vf_coef=0.5, ent_coef=0.0)
    >>> stats.round(4).tolist()  # policy, value loss; entropy log 3
    [-1.0, 1.0, 1.0986]
    >>> grads[0][0].round(4).tolist()
    [-0.3333, 0.1667, 0.1667]
    """
    n = logits.shape[0]
    inv_n = 1 / n  # sums times 1/n: ndarray.mean costs several times a sum at this size
    rows = np.arange(n)
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    probs = exp / total
    logp_all = shifted - np.log(total)
    log_ratio = logp_all[rows, action] - old_logp
    ratio = np.exp(log_ratio)
    unclipped = neg_adv * ratio
    clipped = neg_adv * np.minimum(np.maximum(ratio, 1 - clip), 1 + clip)
    use_clipped = clipped > unclipped
    pg_loss = np.where(use_clipped, clipped, unclipped).sum() * inv_n
    coef = np.where(use_clipped, 0, unclipped) * inv_n
    g_logits = probs * -coef[:, None]
    g_logits[rows, action] += coef

    diff = value - returns
    v_loss = np.dot(diff, diff) * inv_n
    g_value = diff * (2 * vf_coef * inv_n)

    entropy = np.nan
    if with_entropy or ent_coef != 0.0:
        ent_each = -(probs * logp_all).sum(axis=1)
        entropy = ent_each.sum() * inv_n
        if ent_coef != 0.0:
            g_logits += probs * (logp_all + ent_each[:, None]) * (ent_coef * inv_n)
    stats = np.array([pg_loss, v_loss, entropy], dtype=logits.dtype)
    return (g_logits, g_value), stats, log_ratio

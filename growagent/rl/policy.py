"""Action distributions over a compiled genome's policy output.

Discrete spaces use a categorical distribution over the logits; Box spaces a
diagonal Gaussian with the genome's state-independent ``log_std``. Actions
sent to a Box env are clipped to its bounds; log-probabilities are of the
unclipped sample (as in CleanRL and Stable-Baselines3).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray

from genomes import Genome

_LOG_2PI = math.log(2.0 * math.pi)


class ActionHead:
    """Sampling, log-probabilities and entropy for one genome's action space.

    Parameters
    ----------
    genome : Genome
        Supplies the action-space description.

    Examples
    --------
    >>> import genomes, torch
    >>> head = ActionHead(genomes.minimal(4, 3))
    >>> head.deterministic(torch.tensor([[0.0, 2.0, 1.0]])).tolist()
    [1]
    """

    def __init__(self, genome: Genome):
        space = genome.action_space
        self.continuous = genome.is_continuous
        self.start = int(space.get("start", 0)) if not self.continuous else 0
        if self.continuous:
            shape = tuple(space["shape"])
            self.low = np.asarray(space["low"], dtype=np.float32).reshape(shape)
            self.high = np.asarray(space["high"], dtype=np.float32).reshape(shape)

    def sample(
        self, out: torch.Tensor, log_std: torch.Tensor | None, gen: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample actions and their log-probabilities from policy output ``out``."""
        if self.continuous:
            assert log_std is not None
            noise = torch.randn(out.shape, generator=gen, dtype=out.dtype)
            action = out + log_std.exp() * noise
            logp = (-0.5 * noise.pow(2) - log_std - 0.5 * _LOG_2PI).sum(-1)
            return action, logp
        logp_all = F.log_softmax(out, dim=-1)
        # Gumbel-max: argmax(logp - log(-log u)) is a categorical sample.
        u = torch.rand(out.shape, generator=gen, dtype=out.dtype).clamp_(min=1e-12)
        action = (logp_all - (-u.log()).log()).argmax(-1)
        return action, logp_all.gather(-1, action.unsqueeze(-1)).squeeze(-1)

    def rollout_noise(
        self, n_steps: int, n_envs: int, n_out: int, gen: torch.Generator
    ) -> torch.Tensor:
        """The sampling noise of a whole rollout, drawn in one call.

        Gumbel noise ``-log(-log(u))`` for a Discrete space, standard normal
        noise for a Box; shape ``[n_steps, n_envs, n_out]``. Pass row ``t``
        to :meth:`sample_into` at step ``t``.

        Examples
        --------
        >>> import genomes, torch
        >>> head = ActionHead(genomes.minimal(4, 3))
        >>> head.rollout_noise(5, 2, 3, torch.Generator().manual_seed(0)).shape
        torch.Size([5, 2, 3])
        """
        if self.continuous:
            return torch.randn((n_steps, n_envs, n_out), generator=gen)
        u = torch.rand((n_steps, n_envs, n_out), generator=gen).clamp_(min=1e-12)
        return u.log_().neg_().log_().neg_()

    def sample_into(
        self,
        out: torch.Tensor,
        std: torch.Tensor | None,
        noise: torch.Tensor,
        action: torch.Tensor,
        logp: torch.Tensor | None,
    ) -> None:
        """Sample with precomputed ``noise`` (see :meth:`rollout_noise`), writing in place.

        Discrete: ``action`` (long, ``[batch, 1]``) gets the Gumbel-max sample
        and ``logp`` (``[batch, 1]``) its log-probability. Box: ``action``
        (``[batch, n]``) gets ``out + std * noise``; its log-probability
        depends only on the noise and ``log_std`` (see :meth:`noise_log_prob`),
        so ``logp`` is not written.

        Examples
        --------
        >>> import genomes, torch
        >>> head = ActionHead(genomes.minimal(4, 2))
        >>> noise = torch.tensor([[0.0, 5.0]])
        >>> act, logp = torch.zeros(1, 1, dtype=torch.long), torch.zeros(1, 1)
        >>> head.sample_into(torch.zeros(1, 2), None, noise, act, logp)
        >>> act.item(), round(logp.item(), 4)
        (1, -0.6931)
        """
        if self.continuous:
            assert std is not None
            torch.addcmul(out, std, noise, out=action)
            return
        assert logp is not None
        logp_all = F.log_softmax(out, dim=-1)
        torch.argmax(logp_all + noise, dim=-1, keepdim=True, out=action)
        torch.gather(logp_all, -1, action, out=logp)

    @staticmethod
    def sample_categorical_numpy(
        logits: NDArray[np.floating[Any]],
        noise: NDArray[np.floating[Any]],
        action: NDArray[np.int64],
    ) -> None:
        """:meth:`sample_into`'s Gumbel-max sample for a Discrete space, on NumPy arrays.

        Writes ``argmax(logits + noise)`` into ``action`` ``[batch]``; the
        log-softmax's shift is the same for every action, so the logits do.
        Get the log-probabilities afterwards, for a whole rollout at once, with
        :meth:`categorical_log_prob_numpy`.

        Examples
        --------
        >>> import numpy as np
        >>> act = np.zeros(1, dtype=np.int64)
        >>> ActionHead.sample_categorical_numpy(np.zeros((1, 2)), np.array([[0.0, 5.0]]), act)
        >>> act.tolist()
        [1]
        """
        np.argmax(logits + noise, axis=-1, out=action)

    @staticmethod
    def categorical_log_prob_numpy(
        logits: NDArray[np.floating[Any]], action: NDArray[np.int64]
    ) -> NDArray[np.floating[Any]]:
        """Log-probabilities of ``action`` ``[...]`` under ``softmax(logits)`` ``[..., n]``.

        Examples
        --------
        >>> import numpy as np
        >>> logp = ActionHead.categorical_log_prob_numpy(np.zeros((2, 1, 2)), np.array([[0], [1]]))
        >>> logp.shape, round(float(logp[0, 0]), 4)
        ((2, 1), -0.6931)
        """
        shifted = logits - logits.max(axis=-1, keepdims=True)
        logp_all = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        return np.take_along_axis(logp_all, action[..., None], axis=-1)[..., 0]

    @staticmethod
    def noise_log_prob(noise: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
        """Gaussian log-probability of ``mean + exp(log_std) * noise`` (last axis summed).

        Examples
        --------
        >>> import torch
        >>> round(ActionHead.noise_log_prob(torch.zeros(1, 1), torch.zeros(1)).item(), 4)
        -0.9189
        """
        return (-0.5 * noise.pow(2) - log_std - 0.5 * _LOG_2PI).sum(-1)

    def log_prob(
        self, out: torch.Tensor, log_std: torch.Tensor | None, action: torch.Tensor
    ) -> torch.Tensor:
        """Log-probability of ``action`` per sample (see :meth:`log_prob_entropy`).

        Examples
        --------
        >>> import genomes, torch
        >>> head = ActionHead(genomes.minimal(4, 2))
        >>> round(head.log_prob(torch.zeros(1, 2), None, torch.tensor([[1]])).item(), 4)
        -0.6931
        """
        if self.continuous:
            assert log_std is not None
            z = (action - out) / log_std.exp()
            return (-0.5 * z.pow(2) - log_std - 0.5 * _LOG_2PI).sum(-1)
        index = action if action.dim() == 2 else action.unsqueeze(-1)
        return F.log_softmax(out, dim=-1).gather(-1, index.long()).squeeze(-1)

    def log_prob_entropy(
        self,
        out: torch.Tensor,
        log_std: torch.Tensor | None,
        action: torch.Tensor,
        entropy_grad: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probability of ``action`` and the entropy, per sample.

        For a Discrete space ``action`` holds indices of shape ``[batch]`` or
        ``[batch, 1]``. With ``entropy_grad=False`` the entropy is computed
        without autograd (for logging when it does not enter the loss).

        Examples
        --------
        >>> import genomes, torch
        >>> head = ActionHead(genomes.minimal(4, 2))
        >>> logp, ent = head.log_prob_entropy(torch.zeros(1, 2), None, torch.tensor([1]))
        >>> round(logp.item(), 4), round(ent.item(), 4)
        (-0.6931, 0.6931)
        """
        if self.continuous:
            assert log_std is not None
            logp = self.log_prob(out, log_std, action)
            with torch.set_grad_enabled(entropy_grad and torch.is_grad_enabled()):
                ent = (0.5 + 0.5 * _LOG_2PI + log_std).sum().expand(out.shape[0])
            return logp, ent
        logp_all = F.log_softmax(out, dim=-1)
        index = action if action.dim() == 2 else action.unsqueeze(-1)
        logp = logp_all.gather(-1, index.long()).squeeze(-1)
        if entropy_grad:
            ent = -(logp_all.exp() * logp_all).sum(-1)
        else:
            with torch.no_grad():
                ent = -(logp_all.exp() * logp_all).sum(-1)
        return logp, ent

    def deterministic(self, out: torch.Tensor) -> torch.Tensor:
        """The mode: argmax of the logits or the Gaussian mean."""
        return out if self.continuous else out.argmax(-1)

    def to_env(self, action: torch.Tensor) -> NDArray[Any]:
        """Convert a batch of actions to what the env expects (clipped for Box)."""
        a = action.numpy()
        if self.continuous:
            return a.clip(self.low, self.high)
        return a + self.start if self.start else a

    def to_env_numpy(self, action: NDArray[Any]) -> NDArray[Any]:
        """Like :meth:`to_env` for a NumPy batch; always returns a new array.

        Examples
        --------
        >>> import genomes, numpy as np
        >>> ActionHead(genomes.minimal(4, 2)).to_env_numpy(np.array([1, 0])).tolist()
        [1, 0]
        """
        if self.continuous:
            return action.clip(self.low, self.high)
        return action + self.start if self.start else action.copy()


def check_genome_matches(genome: Genome, obs_space: Any, act_space: Any) -> None:
    """Raise ``ValueError`` if the genome's input or policy head does not fit the env.

    Examples
    --------
    >>> import genomes
    >>> from gymnasium import spaces
    >>> check_genome_matches(genomes.minimal(3, 2), spaces.Box(-1, 1, (4,)), spaces.Discrete(2))
    Traceback (most recent call last):
    ...
    ValueError: Genome input has 3 units but the env observation has 4 values
    """
    n_obs = int(np.prod(obs_space.shape))
    units = genome.units(genome.input_node)
    if units != n_obs:
        raise ValueError(
            f"Genome input has {units} units but the env observation has {n_obs} values"
        )
    desc = genome.action_space
    if hasattr(act_space, "n"):
        if desc["type"] != "discrete" or int(desc["n"]) != int(act_space.n):
            raise ValueError(f"Genome action space {desc} does not match the env's {act_space}")
    elif desc["type"] != "box" or list(desc["shape"]) != list(act_space.shape):
        raise ValueError(f"Genome action space {desc} does not match the env's {act_space}")

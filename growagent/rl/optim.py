"""Adam over one flat parameter vector, shared by PPO and distillation."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


class FlatAdam:
    """Adam over one flat parameter vector, with the global-norm gradient clip.

    The module's parameters are rebound as views of one flat tensor and their
    ``.grad`` as views of one flat gradient (autograd accumulates into an
    existing ``.grad`` in place), so zeroing, clipping and the Adam step are a
    few vector ops instead of a Python loop over tensors. The step is
    ``torch.optim.Adam(fused=True)``'s kernel (``amsgrad=False``, no weight
    decay) called directly on the flat vector; the clip is
    ``clip_grad_norm_``'s (one norm over all gradients, scaled by
    ``max_norm / (norm + 1e-6)`` when that is below 1), passed to the kernel
    as the divisor it applies to the gradient.
    """

    def __init__(self, params: list[nn.Parameter], eps: float, betas: tuple[float, float]):
        with torch.no_grad():
            self.param = torch.cat([p.detach().reshape(-1) for p in params])
        self.grad = torch.zeros_like(self.param)
        offset = 0
        for p in params:
            n = p.numel()
            p.data = self.param[offset : offset + n].view_as(p)
            p.grad = self.grad[offset : offset + n].view_as(p)
            offset += n
        self.params = params
        self.exp_avg = torch.zeros_like(self.param)
        self.exp_avg_sq = torch.zeros_like(self.param)
        self.step_count = torch.zeros(())
        # NumPy views: the norm and the two scalars cost less as NumPy ops.
        self._grad_np = self.grad.numpy()
        self._divisor = torch.ones(())
        self._divisor_np = self._divisor.numpy()
        self._step_np = self.step_count.numpy()
        self.eps = eps
        self.beta1, self.beta2 = betas

    def zero_grad(self) -> None:
        self.grad.zero_()

    def check_grads_are_views(self) -> None:
        """Raise if autograd replaced a ``.grad`` view (then the flat gradient is stale)."""
        base = self.grad.data_ptr()
        end = base + self.grad.numel() * self.grad.element_size()
        for p in self.params:
            g = p.grad
            if g is None or not base <= g.data_ptr() < end:
                raise RuntimeError("Internal error: a parameter gradient left the flat buffer")

    @torch.no_grad()
    def clip_and_step(self, lr: float, max_norm: float) -> None:
        # Dividing by max(1, (norm + 1e-6) / max_norm) is the clip's multiplication.
        g = self._grad_np
        norm = math.sqrt(float(np.dot(g, g)))
        self._divisor_np[...] = max(1.0, (norm + 1e-6) / max_norm)
        self._step_np += 1
        torch._fused_adam_(
            [self.param],
            [self.grad],
            [self.exp_avg],
            [self.exp_avg_sq],
            [],
            [self.step_count],
            amsgrad=False,
            lr=lr,
            beta1=self.beta1,
            beta2=self.beta2,
            weight_decay=0.0,
            eps=self.eps,
            maximize=False,
            grad_scale=self._divisor,
        )

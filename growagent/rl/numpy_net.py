"""A compiled genome's forward and backward passes in NumPy, for small batches.

PPO trains small networks on minibatches of tens of samples. There a layer's
arithmetic takes a few microseconds and the framework's overhead per op is
larger: torch's dispatcher costs about three times NumPy's per op, and
autograd adds a graph and an engine run to every minibatch. A backward pass
written by hand for the genome's one building block (a fused matrix
multiply, a bias and an activation) has neither cost; a PPO minibatch step
on a 64x64 network is about twice as fast as with autograd.

:class:`NumpyNet` reads and writes the module's own memory: its weights are
NumPy views of the module's parameters and its gradients are written into
the parameters' ``.grad`` tensors, so a torch optimiser steps them as usual
and the module sees every update. ``tests/growagent/rl/test_numpy_net.py``
checks both passes against the module and autograd.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from genomes.compile import GenomeModule
from genomes.registry import ACTIVATIONS

Array = NDArray[Any]


def unsupported_reason(module: GenomeModule) -> str | None:
    """Why :class:`NumpyNet` cannot run ``module``, or ``None`` if it can.

    It needs both heads (``part="all"``), no ``log_std`` (a Box action space
    trains with autograd) and activations whose derivative is a function of
    their output (not gelu or silu).

    Examples
    --------
    >>> import genomes
    >>> unsupported_reason(genomes.mlp(4, 2, hidden=[8]).compile()) is None
    True
    >>> unsupported_reason(genomes.mlp(4, 2, hidden=[8], activation="gelu").compile())
    "activation 'gelu' has no output-based derivative"
    """
    if module.part != "all":
        return f"module compiled for part {module.part!r}"
    if module.log_std is not None:
        return "Box action space (log_std)"
    for name in module.activations:
        if ACTIVATIONS[name].numpy_grad is None:
            return f"activation {name!r} has no output-based derivative"
    return None


class NumpyNet:
    """Forward and backward passes of a :class:`GenomeModule` on its own memory.

    Parameters
    ----------
    module : GenomeModule
        A float32 or float64 module that :func:`unsupported_reason` accepts,
        whose parameters already have their ``.grad`` tensors (the backward
        pass writes into them, overwriting, as after ``zero_grad``).

    Examples
    --------
    >>> import numpy as np, torch, genomes
    >>> m = genomes.mlp(4, 2, hidden=[8]).compile()
    >>> for p in m.parameters():
    ...     p.grad = torch.zeros_like(p)
    >>> net = NumpyNet(m)
    >>> obs = np.ones((3, 4), dtype=np.float32)
    >>> logits, value = net.forward(obs)
    >>> ref_logits, ref_value = m(torch.from_numpy(obs))
    >>> np.allclose(logits, ref_logits.detach().numpy(), atol=1e-6)
    True
    >>> net.backward(np.ones_like(logits), np.zeros_like(value))
    >>> m.biases[m.node_names.index("policy")].grad.tolist()  # d sum(logits) / d bias
    [3.0, 3.0]
    """

    def __init__(self, module: GenomeModule):
        reason = unsupported_reason(module)
        if reason is not None:
            raise ValueError(f"NumpyNet cannot run this module: {reason}")
        weights, biases = list(module.weights), list(module.biases)
        if any(p.grad is None for p in weights + biases):
            raise ValueError("NumpyNet needs the module's parameters to have .grad tensors")
        self.weights = [w.detach().numpy() for w in weights]  # [sum(in), out], shared
        self.biases = [b.detach().numpy() for b in biases]
        self.weight_grads = [w.grad.numpy() for w in weights]
        self.bias_grads = [b.grad.numpy() for b in biases]
        self._activations = [ACTIVATIONS[name] for name in module.activations]
        self._sources = module.source_positions
        self._steps = module.part_steps
        self.policy_index = module.policy_index
        self.value_index = module.value_index
        dropped = module.dropped_inputs
        self._dropped = None if dropped is None else dropped.numpy()
        # Each node's sources other than the input, as (position, first row,
        # end row) of its fused weight: the rows the backward pass reads.
        widths = [module.obs_units] + [b.shape[0] for b in self.biases]
        self._rows: list[list[tuple[int, int, int]]] = []
        for srcs in self._sources:
            bounds = np.cumsum([0] + [widths[s] for s in srcs])
            rows = [(s, int(bounds[i]), int(bounds[i + 1])) for i, s in enumerate(srcs)]
            self._rows.append([r for r in rows if r[0] != 0])
        self._outputs: list[Array | None] = []
        self._inputs: list[Array | None] = []
        self._ones: Array = np.ones(0, dtype=self.biases[0].dtype)

    def policy(self, obs: Array) -> Array:
        """The policy output for ``obs`` ``[batch, obs_units]``; only the nodes it needs run.

        Examples
        --------
        >>> import numpy as np, torch, genomes
        >>> m = genomes.mlp(4, 2, hidden=[8]).compile()
        >>> for p in m.parameters():
        ...     p.grad = torch.zeros_like(p)
        >>> obs = np.ones((3, 4), dtype=np.float32)
        >>> np.allclose(NumpyNet(m).policy(obs), m.policy(torch.from_numpy(obs)).detach())
        True
        """
        out = self._run(obs, "policy")[0][self.policy_index]
        assert out is not None
        return out

    def forward(self, obs: Array) -> tuple[Array, Array]:
        """Policy output ``[batch, units]`` and value ``[batch]``; kept for :meth:`backward`."""
        h, inputs = self._run(obs, "all")
        self._outputs, self._inputs = h, inputs
        policy, value = h[self.policy_index], h[self.value_index]
        assert policy is not None and value is not None
        return policy, value[:, 0]

    def backward(self, g_policy: Array, g_value: Array) -> None:
        """Write the parameter gradients for output gradients of the last :meth:`forward`.

        ``g_policy`` is ``[batch, units]``, ``g_value`` ``[batch]``. Every
        weight and bias gradient is overwritten.
        """
        h, inputs = self._outputs, self._inputs
        grads: list[Array | None] = [None] * len(h)
        grads[self.policy_index] = g_policy
        grads[self.value_index] = g_value[:, None]
        batch = g_policy.shape[0]
        if self._ones.shape[0] != batch:
            self._ones = np.ones(batch, dtype=self.biases[0].dtype)
        for k in reversed(self._steps["all"]):
            g_out, y, x = grads[k + 1], h[k + 1], inputs[k]
            if g_out is None:  # the node reaches neither head
                self.weight_grads[k].fill(0)
                self.bias_grads[k].fill(0)
                continue
            assert y is not None and x is not None
            grad_fn = self._activations[k].numpy_grad
            assert grad_fn is not None
            g = grad_fn(y, g_out)  # [batch, out]: the gradient before the activation
            np.matmul(x.T, g, out=self.weight_grads[k])
            np.matmul(self._ones, g, out=self.bias_grads[k])
            rows = self._rows[k]
            if not rows:  # its only source is the input, which needs no gradient
                continue
            g_in = g @ self.weights[k].T
            for s, start, end in rows:
                part = g_in[:, start:end]
                previous = grads[s]
                grads[s] = part if previous is None else previous + part

    def _run(self, obs: Array, part: str) -> tuple[list[Array | None], list[Array | None]]:
        """Run the part's nodes; outputs by position (0: the input), inputs by node."""
        h: list[Array | None] = [None] * (len(self.weights) + 1)
        inputs: list[Array | None] = [None] * len(self.weights)
        if self._dropped is not None:  # as GenomeModule does: dropped features read as 0
            obs = obs.copy()
            obs[:, self._dropped] = 0.0
        h[0] = obs
        for k in self._steps[part]:
            srcs = self._sources[k]
            x = h[srcs[0]] if len(srcs) == 1 else np.concatenate([h[s] for s in srcs], axis=1)
            assert x is not None
            z = x @ self.weights[k]
            z += self.biases[k]
            h[k + 1] = self._activations[k].numpy_fn(z)
            inputs[k] = x
        return h, inputs

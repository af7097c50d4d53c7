"""Registries of node kinds and activations.

Both are plain dicts so another project can register its own entries::

    >>> from genomes.registry import ACTIVATIONS, KINDS
    >>> sorted(KINDS)
    ['hidden', 'input', 'policy', 'value']
    >>> "tanh" in ACTIVATIONS
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Activation:
    """An elementwise activation in torch and NumPy, with its properties.

    Attributes
    ----------
    name : str
        Registry key, stored in genome files.
    torch_fn : callable
        Tensor -> Tensor.
    numpy_fn : callable
        ndarray -> ndarray (used by tests and by reference forward passes).
    idempotent : bool
        ``f(f(x)) == f(x)``: an identity layer inserted after a node with this
        activation is exact (relu, identity).
    zero_at_zero : bool
        ``f(0) == 0``.
    index : int
        Stable integer id, used as a node feature by ``to_pyg``.
    numpy_grad : callable or None
        ``(y, g) -> g * f'(x)`` for ``y = f(x)``: the derivative written in
        terms of the *output*, so a hand-written backward pass needs no
        pre-activations. ``None`` when ``f'`` is not a function of ``f(x)``
        (gelu, silu).

    Examples
    --------
    >>> import numpy as np
    >>> tanh = ACTIVATIONS["tanh"]
    >>> y = tanh.numpy_fn(np.array([0.0, 1.0]))
    >>> np.allclose(tanh.numpy_grad(y, np.ones(2)), 1 - np.tanh([0.0, 1.0]) ** 2)
    True
    """

    name: str
    torch_fn: Callable[[torch.Tensor], torch.Tensor]
    numpy_fn: Callable[[Array], Array]
    idempotent: bool
    zero_at_zero: bool
    index: int
    numpy_grad: Callable[[Array, Array], Array] | None = None


def _np_gelu(x: Array) -> Array:
    from math import erf, sqrt

    verf = np.vectorize(erf)
    return np.asarray(0.5 * x * (1.0 + verf(x / sqrt(2.0))), dtype=x.dtype)


def _np_sigmoid(x: Array) -> Array:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=x.dtype)


def _np_elu(x: Array) -> Array:
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


def _np_silu(x: Array) -> Array:
    return x * _np_sigmoid(x)


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _grad_identity(y: Array, g: Array) -> Array:
    return g


def _grad_relu(y: Array, g: Array) -> Array:
    return g * (y > 0)


def _grad_tanh(y: Array, g: Array) -> Array:
    out = np.square(y)  # g * (1 - y**2), with one temporary
    np.subtract(1, out, out=out)
    return np.multiply(out, g, out=out)


def _grad_sigmoid(y: Array, g: Array) -> Array:
    return g * (y * (1 - y))


def _grad_elu(y: Array, g: Array) -> Array:
    # elu(x) = exp(x) - 1 for x <= 0, whose derivative exp(x) is y + 1.
    return g * np.where(y > 0, 1, y + 1)


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation("identity", _identity, lambda x: x, True, True, 0, _grad_identity),
        Activation("relu", torch.relu, lambda x: np.maximum(x, 0), True, True, 1, _grad_relu),
        Activation("tanh", torch.tanh, np.tanh, False, True, 2, _grad_tanh),
        Activation("elu", F.elu, _np_elu, False, True, 3, _grad_elu),
        Activation("gelu", F.gelu, _np_gelu, False, True, 4),
        Activation("silu", F.silu, _np_silu, False, True, 5),
        Activation("sigmoid", torch.sigmoid, _np_sigmoid, False, False, 6, _grad_sigmoid),
    ]
}
"""Activation name -> :class:`Activation`."""


@dataclass(frozen=True)
class Kind:
    """A node kind.

    Attributes
    ----------
    name : str
        Registry key.
    is_head : bool
        A head is an output of the network (policy, value).
    unique : bool
        Exactly one node of this kind must exist.
    index : int
        Stable integer id, used as a node feature by ``to_pyg``.
    """

    name: str
    is_head: bool
    unique: bool
    index: int


KINDS: dict[str, Kind] = {
    k.name: k
    for k in [
        Kind("input", False, True, 0),
        Kind("hidden", False, False, 1),
        Kind("policy", True, True, 2),
        Kind("value", True, True, 3),
    ]
}
"""Node kind name -> :class:`Kind`."""

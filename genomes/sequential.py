"""Import a ``torch.nn.Sequential`` of ``Linear`` layers and activations as a plain network.

:func:`from_sequential` turns ``Linear -> activation -> Linear -> ...`` into
a chain of nodes: each ``Linear`` becomes a node (its weight the incoming
edge, its bias the node's bias) whose activation is the module that follows
it (``identity`` when none does). The last ``Linear`` is the output head.
Weights are copied exactly (float32 values are float64 numbers), so the
compiled genome computes what the ``Sequential`` computes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from genomes.genome import Genome
from genomes.registry import ACTIVATIONS

MODULE_ACTIVATIONS: dict[type[nn.Module], str] = {
    nn.ReLU: "relu",
    nn.Tanh: "tanh",
    nn.ELU: "elu",
    nn.GELU: "gelu",
    nn.SiLU: "silu",
    nn.Sigmoid: "sigmoid",
}
"""Activation module type -> name in :data:`genomes.ACTIVATIONS` (``nn.Identity`` is skipped)."""


def _activation(module: nn.Module) -> str | None:
    """The registry name of an activation module, or ``None`` if it has none here."""
    name = MODULE_ACTIVATIONS.get(type(module))
    if name == "elu" and float(getattr(module, "alpha", 1.0)) != 1.0:
        return None  # the registry's elu has alpha = 1
    if name == "gelu" and getattr(module, "approximate", "none") != "none":
        return None  # the registry's gelu is the exact (erf) form
    return name if name in ACTIVATIONS else None


def _np(t: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.asarray(t.detach().cpu().double().numpy(), dtype=np.float64)


def from_sequential(seq: nn.Sequential) -> Genome:
    """A plain network (see :func:`genomes.network`) computing what ``seq`` computes.

    Parameters
    ----------
    seq : torch.nn.Sequential
        ``Linear`` layers, each optionally followed by one activation
        (``ReLU``, ``Tanh``, ``ELU`` with ``alpha=1``, ``GELU`` without
        approximation, ``SiLU``, ``Sigmoid``); ``Identity`` modules are
        skipped. An activation after the last ``Linear`` becomes the output
        head's activation. A ``Linear`` without bias gets a zero bias (every
        node of a genome has one, so it counts as parameters).

    Returns
    -------
    Genome
        Nodes ``input``, ``h0``, ``h1``, ... and ``output`` (the policy head,
        the only head); ``meta["observation_space"]`` is a box of the first
        layer's ``in_features``, ``meta["action_space"]`` a box of the last
        layer's ``out_features``.

    Raises
    ------
    TypeError
        If ``seq`` is not a ``torch.nn.Sequential``.
    ValueError
        Naming the first layer that cannot be converted: an unsupported
        module, an activation with no ``Linear`` before it, two activations
        in a row, or ``in_features`` that do not match the previous layer;
        or when ``seq`` holds no ``Linear``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> seq = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))
    >>> g = from_sequential(seq)
    >>> [n for n in g.topological_order()], g.is_plain
    (['input', 'h0', 'output'], True)
    >>> x = torch.randn(5, 3)
    >>> torch.allclose(g.compile()(x)[0], seq(x), atol=1e-6)
    True
    >>> from_sequential(nn.Sequential(nn.Linear(3, 8), nn.Dropout(0.1), nn.Linear(8, 1)))
    Traceback (most recent call last):
    ...
    ValueError: from_sequential: layer 1 (Dropout(p=0.1, inplace=False)) is not supported; expected Linear, Identity or one of ['ELU', 'GELU', 'ReLU', 'SiLU', 'Sigmoid', 'Tanh']
    """
    if not isinstance(seq, nn.Sequential):
        raise TypeError(
            f"from_sequential: expected a torch.nn.Sequential (got {type(seq).__name__})"
        )
    supported = sorted(t.__name__ for t in MODULE_ACTIVATIONS)
    # (linear, activation name, index of the linear) for each node, in order
    layers: list[tuple[nn.Linear, str, int]] = []
    for i, m in enumerate(seq):
        where = f"from_sequential: layer {i} ({m})"
        if isinstance(m, nn.Identity):
            continue
        if isinstance(m, nn.Linear):
            if layers and m.in_features != layers[-1][0].out_features:
                raise ValueError(
                    f"{where}: expected in_features={layers[-1][0].out_features} "
                    f"to match the previous Linear (got {m.in_features})"
                )
            layers.append((m, "identity", i))
            continue
        act = _activation(m)
        if act is None:
            raise ValueError(
                f"{where} is not supported; expected Linear, Identity or one of {supported}"
            )
        if not layers:
            raise ValueError(f"{where}: expected a Linear before the first activation")
        lin, previous, j = layers[-1]
        if previous != "identity":
            raise ValueError(f"{where}: expected one activation after a Linear (got two in a row)")
        layers[-1] = (lin, act, j)
    if not layers:
        raise ValueError("from_sequential: expected at least one Linear layer (got none)")
    first, last = layers[0][0], layers[-1][0]
    g = Genome(
        meta={
            "observation_space": {"type": "box", "shape": [first.in_features]},
            "action_space": {"type": "box", "shape": [last.out_features]},
        }
    )
    g.add_node("input", kind="input", units=first.in_features)
    prev = "input"
    for k, (lin, act, _) in enumerate(layers):
        head = k == len(layers) - 1
        name = "output" if head else f"h{k}"
        bias = None if lin.bias is None else _np(lin.bias)
        kind = "policy" if head else "hidden"
        g.add_node(name, kind=kind, units=lin.out_features, activation=act, bias=bias)
        g.add_edge(prev, name, _np(lin.weight))
        prev = name
    return g.validate()

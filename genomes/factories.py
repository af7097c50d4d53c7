"""Factories for common genomes: :func:`mlp` and :func:`minimal` (actor-critic) and
:func:`network` (a plain network with one output head)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from genomes.genome import Genome
from genomes.spaces import (
    SpaceLike,
    describe_action_space,
    describe_observation_space,
    flat_size,
    normalise,
)


def orthogonal(rows: int, cols: int, gain: float, rng: np.random.Generator) -> NDArray[np.float64]:
    """An orthogonal matrix of shape ``(rows, cols)`` scaled by ``gain``.

    >>> w = orthogonal(3, 3, 1.0, np.random.default_rng(0))
    >>> bool(np.allclose(w @ w.T, np.eye(3)))
    True
    """
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return np.asarray(gain * q[:rows, :cols], dtype=np.float64)


def reinitialised(genome: Genome, rng: np.random.Generator) -> Genome:
    """A copy of ``genome`` with fresh weights, as :func:`mlp` initialises them.

    Every edge gets an orthogonal matrix (gain 0.01 into the policy head, 1
    into the value head or a plain network's output, sqrt(2) elsewhere),
    every bias and ``log_std`` zeros. The architecture, the input statistics
    and the metadata are kept. This undoes function preservation: a child
    made by an operator and then re-initialised starts from scratch (the
    ablation of growagent's ``[evolution] inherit = "reinit"``).

    Examples
    --------
    >>> g = mlp(3, 2, [4])
    >>> r = reinitialised(g, np.random.default_rng(1))
    >>> r.structural_hash() == g.structural_hash(), r.num_params() == g.num_params()
    (True, True)
    >>> w = lambda x: x.graph.edges["input", "h0"]["weight"]
    >>> bool(np.array_equal(w(r), w(g)))
    False
    """
    out = genome.copy()
    dropped = out.dropped_inputs
    for u, v in out.graph.edges:
        kind = out.graph.nodes[v]["kind"]
        gain = 0.01 if kind == "policy" else 1.0 if kind in ("value", "output") else np.sqrt(2.0)
        w = orthogonal(out.units(v), out.units(u), gain, rng)
        if dropped and out.graph.nodes[u]["kind"] == "input":
            w[:, dropped] = 0.0  # a dropped input stays unread
        out.graph.edges[u, v]["weight"] = w
    for _, attrs in out.graph.nodes(data=True):
        for key in ("bias", "log_std"):
            if attrs.get(key) is not None:
                attrs[key] = np.zeros_like(attrs[key])
    return out


def _empty(observation_space: SpaceLike, action_space: SpaceLike) -> tuple[Genome, int, int]:
    obs = describe_observation_space(observation_space)
    act = describe_action_space(action_space)
    g = Genome(meta={"observation_space": obs, "action_space": act})
    n_obs, n_act = flat_size(obs), flat_size(act)
    g.add_node("input", kind="input", units=n_obs)
    log_std = np.zeros(n_act) if act["type"] == "box" else None
    g.add_node("policy", kind="policy", units=n_act, activation="identity", log_std=log_std)
    g.add_node("value", kind="value", units=1, activation="identity")
    return g, n_obs, n_act


def _chain(
    g: Genome,
    prefix: str,
    hidden: Sequence[int],
    activation: str,
    rng: np.random.Generator,
) -> str:
    prev = "input"
    for i, width in enumerate(hidden):
        name = f"{prefix}{i}"
        g.add_node(name, kind="hidden", units=width, activation=activation)
        g.add_edge(prev, name, orthogonal(width, g.units(prev), np.sqrt(2.0), rng))
        prev = name
    return prev


def mlp(
    observation_space: SpaceLike,
    action_space: SpaceLike,
    hidden: Sequence[int] = (64, 64),
    activation: str = "tanh",
    shared: bool = False,
    seed: int = 0,
) -> Genome:
    """A multilayer perceptron actor-critic.

    Weights use CleanRL's orthogonal initialisation (gain sqrt(2) for hidden
    layers, 0.01 for the policy head, 1 for the value head), zero biases and
    ``log_std = 0`` for a Box action space.

    Parameters
    ----------
    observation_space : int or gymnasium Box
        Observation size or space.
    action_space : int or gymnasium Discrete/Box
        Number of discrete actions or the space.
    hidden : sequence of int
        Widths of the hidden layers.
    activation : str
        Activation of the hidden layers.
    shared : bool
        One trunk feeding both heads; by default separate actor (``h0``, ``h1``
        ...) and critic (``v0``, ``v1`` ...) trunks.
    seed : int
        Seed of the initialisation.

    Returns
    -------
    Genome

    Examples
    --------
    >>> g = mlp(4, 2)
    >>> g.num_params()
    9155
    >>> mlp(4, 2, hidden=[16], shared=True).num_params()
    131
    """
    rng = np.random.default_rng(seed)
    g, _, n_act = _empty(observation_space, action_space)
    actor = _chain(g, "h", hidden, activation, rng)
    critic = actor if shared else _chain(g, "v", hidden, activation, rng)
    g.add_edge(actor, "policy", orthogonal(n_act, g.units(actor), 0.01, rng))
    g.add_edge(critic, "value", orthogonal(1, g.units(critic), 1.0, rng))
    return g.validate()


def minimal(observation_space: SpaceLike, action_space: SpaceLike, seed: int = 0) -> Genome:
    """The smallest genome: the input wired straight to both heads (a linear policy).

    Examples
    --------
    >>> minimal(4, 2).num_params()
    15
    """
    return mlp(observation_space, action_space, hidden=(), seed=seed)


def output_space(outputs: Any) -> dict[str, Any]:
    """Describe a plain network's output: an int or shape tuple is a box of that shape.

    A description dict (``box``, or ``discrete`` for class logits) is kept.

    >>> output_space(1), output_space((2, 3))
    ({'type': 'box', 'shape': [1]}, {'type': 'box', 'shape': [2, 3]})
    """
    if isinstance(outputs, dict):
        return describe_action_space(outputs)
    desc = normalise({"type": "box", "shape": outputs})
    if not isinstance(desc["shape"], list):
        raise TypeError(
            f"Expected the outputs as an int, a shape tuple or a space dict (got {outputs!r})"
        )
    return dict(desc)


def network(
    inputs: SpaceLike,
    outputs: Any,
    hidden: Sequence[int] = (64, 64),
    activation: str = "tanh",
    seed: int = 0,
) -> Genome:
    """A plain multilayer perceptron: one output head, no value head, no ``log_std``.

    For uses outside RL (regression, classification, any NAS on a
    feed-forward network). The nodes are ``input``, ``h0``, ``h1``, ... and
    ``output`` (of kind ``policy``, the genome's only head). Every operator
    and :func:`operators.testing.check_preservation` accept it, and
    ``compile()`` gives a module whose ``forward(x)`` returns ``(out, None)``
    (``module.policy(x)`` returns ``out`` alone).

    Weights are orthogonal (gain sqrt(2) for hidden layers, 1 for the
    output), biases zero.

    Parameters
    ----------
    inputs : int, tuple of int or dict
        Input size or shape (inputs are flattened), or a box description.
    outputs : int, tuple of int or dict
        Output size or shape; stored as ``meta["action_space"] = {"type":
        "box", "shape": [...]}``. A ``{"type": "discrete", "n": n}`` dict
        marks the outputs as class logits.
    hidden : sequence of int
        Widths of the hidden layers (empty: a linear model).
    activation : str
        Activation of the hidden layers (a name in ``genomes.ACTIVATIONS``).
    seed : int
        Seed of the initialisation.

    Returns
    -------
    Genome
        With :attr:`Genome.is_plain` true.

    Examples
    --------
    >>> import torch
    >>> g = network(3, 1, hidden=[8], activation="relu")
    >>> g.num_params(), g.macs(), g.output_node
    (41, 32, 'output')
    >>> out, _ = g.compile()(torch.zeros(5, 3))
    >>> tuple(out.shape)
    (5, 1)
    """
    rng = np.random.default_rng(seed)
    obs = describe_observation_space(inputs)
    out = output_space(outputs)
    g = Genome(meta={"observation_space": obs, "action_space": out})
    g.add_node("input", kind="input", units=flat_size(obs))
    g.add_node("output", kind="policy", units=flat_size(out), activation="identity")
    last = _chain(g, "h", hidden, activation, rng)
    g.add_edge(last, "output", orthogonal(g.units("output"), g.units(last), 1.0, rng))
    return g.validate()

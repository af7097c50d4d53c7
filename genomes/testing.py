"""Helpers for testing code that consumes genomes: seeded random valid genomes.

:func:`random_genome` draws small but structurally varied genomes (skip edges,
nodes with several inputs, shared, separate or partly shared trunks,
discrete or Box heads, every registered activation), so that an operator or a
serialiser can be checked on many shapes rather than on one MLP.

    >>> import numpy as np
    >>> from genomes.testing import random_genome
    >>> rng = np.random.default_rng(0)
    >>> gs = [random_genome(rng) for _ in range(20)]
    >>> all(g.validate() is g for g in gs)
    True
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from genomes.genome import Genome
from genomes.registry import ACTIVATIONS

Trunk = Literal["shared", "separate", "partial"]


def random_genome(
    rng: np.random.Generator,
    *,
    obs_dim: int | None = None,
    n_actions: int | None = None,
    continuous: bool | None = None,
    max_hidden: int = 5,
    min_hidden: int = 0,
    max_units: int = 6,
    skip_prob: float = 0.3,
    trunk: Trunk | None = None,
    activations: Sequence[str] | None = None,
    weight_scale: float = 1.0,
    random_names: bool = False,
    value_head: bool = True,
) -> Genome:
    """A random valid genome, drawn from ``rng`` only (same seed, same genome).

    Construction: hidden nodes are split into groups by ``trunk`` (one group
    for ``"shared"``; an actor and a critic group for ``"separate"``; a
    shared prefix followed by the two groups for ``"partial"``). Each hidden
    node reads from the previous node of its group (or the input) plus, with
    probability ``skip_prob`` each, any other earlier node it may see; the
    heads read from the last node of their group, from every node of their
    group that would otherwise feed nothing, and from random skips. So every
    node lies on an input-to-head path and the graph is a DAG by
    construction.

    Parameters
    ----------
    rng : numpy.random.Generator
        The only source of randomness.
    obs_dim : int, optional
        Input units; random in ``[1, 6]`` by default.
    n_actions : int, optional
        Policy head units; random in ``[1, 4]`` by default (at least 2 for a
        discrete space).
    continuous : bool, optional
        Box action space (policy head with ``log_std``) when True, Discrete
        when False; a coin flip by default.
    max_hidden, min_hidden : int
        Range of the number of hidden nodes (inclusive).
    max_units : int
        Hidden node widths are drawn in ``[1, max_units]``.
    skip_prob : float
        Probability of each optional extra edge from an earlier visible node.
    trunk : {"shared", "separate", "partial"}, optional
        Trunk layout; random by default.
    activations : sequence of str, optional
        Activations drawn for hidden nodes; every registered one by default.
    weight_scale : float
        Weights are ``N(0, weight_scale**2 / fan_in)``; biases
        ``N(0, 0.1**2)``; ``log_std`` ``N(0, 0.3**2)``.
    random_names : bool
        Use random node names (including for the input and heads) instead of
        ``input``, ``policy``, ``value``, ``h0``, ``h1`` ... .
    value_head : bool
        False draws a plain network (``genome.is_plain``): no value head, no
        ``log_std``, one shared trunk. True (the default) draws the same
        genomes as before the option existed.

    Returns
    -------
    Genome
        Validated.

    Examples
    --------
    >>> import numpy as np
    >>> g = random_genome(np.random.default_rng(1), obs_dim=3, continuous=True, trunk="shared")
    >>> g.units(g.input_node), g.is_continuous
    (3, True)
    >>> a = random_genome(np.random.default_rng(7), random_names=True)
    >>> b = random_genome(np.random.default_rng(7), random_names=True)
    >>> a.to_dict() == b.to_dict()
    True
    >>> random_genome(np.random.default_rng(1), value_head=False).is_plain
    True
    """
    acts = list(ACTIVATIONS) if activations is None else list(activations)
    if not acts:
        raise ValueError("Expected at least one activation (got none)")
    unknown = [a for a in acts if a not in ACTIVATIONS]
    if unknown:
        raise ValueError(f"Expected registered activations (got unknown {unknown})")
    if min_hidden < 0 or max_hidden < min_hidden or max_units < 1:
        raise ValueError(
            f"Expected 0 <= min_hidden <= max_hidden and max_units >= 1 "
            f"(got {min_hidden}, {max_hidden}, {max_units})"
        )
    n_obs = int(rng.integers(1, 7)) if obs_dim is None else int(obs_dim)
    box = bool(rng.integers(2)) if continuous is None else bool(continuous)
    if n_actions is None:
        n_act = int(rng.integers(1 if box else 2, 5))
    else:
        n_act = int(n_actions)
    if not value_head and trunk not in (None, "shared"):
        raise ValueError(f"Expected trunk 'shared' for a plain network (got {trunk!r})")
    if not value_head:
        layout: Trunk = "shared"
    else:
        layout = trunk or ("shared", "separate", "partial")[int(rng.integers(3))]
    n_hidden = int(rng.integers(min_hidden, max_hidden + 1))

    used: set[str] = set()

    def name(default: str) -> str:
        if not random_names:
            return default
        while True:
            letters = rng.choice(list(string.ascii_lowercase), size=int(rng.integers(1, 6)))
            candidate = "".join(letters) + str(int(rng.integers(100)))
            if candidate not in used:
                used.add(candidate)
                return candidate

    if box:
        action_space: dict[str, Any] = {
            "type": "box",
            "shape": [n_act],
            "low": [-1.0] * n_act,
            "high": [1.0] * n_act,
        }
    else:
        action_space = {"type": "discrete", "n": n_act}
    g = Genome(
        meta={"observation_space": {"type": "box", "shape": [n_obs]}, "action_space": action_space}
    )
    inp = name("input")
    g.add_node(inp, kind="input", units=n_obs)

    # Group of each hidden node: "s" shared, "a" actor, "c" critic.
    if layout == "shared":
        groups = ["s"] * n_hidden
    else:
        n_shared = int(rng.integers(0, n_hidden + 1)) if layout == "partial" else 0
        rest = [("a", "c")[int(rng.integers(2))] for _ in range(n_hidden - n_shared)]
        groups = ["s"] * n_shared + sorted(rest)  # actor nodes first, then critic nodes

    def visible(reader: str) -> set[str]:
        # Which groups a node of group ``reader`` may read from.
        return {
            "s": {"s"},
            "a": {"s", "a"},
            "c": {"s", "c"},
            "policy": {"s", "a"},
            "value": {"s", "c"},
        }[reader]

    def weight(rows: int, cols: int) -> np.ndarray:
        return np.asarray(rng.standard_normal((rows, cols)) * weight_scale / np.sqrt(cols))

    hidden: list[tuple[str, str]] = []  # (name, group) in creation (= topological) order

    def connect(target: str, group: str, fresh: bool) -> None:
        seen = [inp] + [n for n, grp in hidden if grp in visible(group) and n != target]
        # primary input: the latest visible node (keeps the graph deep)
        chosen = {seen[-1]}
        for s in seen[:-1]:
            if rng.random() < skip_prob:
                chosen.add(s)
        if fresh:
            # nodes of this group (or shared ones) that feed nothing yet must feed this one
            chosen |= {
                n for n, grp in hidden if grp in visible(group) and g.graph.out_degree(n) == 0
            }
        for s in sorted(chosen, key=seen.index):
            g.add_edge(s, target, weight(g.units(target), g.units(s)))

    for grp in groups:
        node = name(f"h{len(hidden)}")
        act = acts[int(rng.integers(len(acts)))]
        units = int(rng.integers(1, max_units + 1))
        g.add_node(node, kind="hidden", units=units, activation=act, bias=rng.normal(0, 0.1, units))
        connect(node, grp, fresh=False)
        hidden.append((node, grp))

    log_std = rng.normal(0, 0.3, n_act) if box and value_head else None
    pol = name("policy")
    g.add_node(pol, kind="policy", units=n_act, bias=rng.normal(0, 0.1, n_act), log_std=log_std)
    if value_head:
        val = name("value")
        g.add_node(val, kind="value", units=1, bias=rng.normal(0, 0.1, 1))
    # Heads read from their group; dead-end nodes of a group feed its head, and
    # shared dead ends feed the policy (a "partial" trunk's critic may also see them).
    connect(pol, "policy", fresh=True)
    if value_head:
        connect(val, "value", fresh=True)
    return g.validate()

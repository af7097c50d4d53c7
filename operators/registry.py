"""The operator registry, size caps as decorators, and the random mutator.

>>> import numpy as np, genomes, operators
>>> sorted(operators.REGISTRY)  # doctest: +NORMALIZE_WHITESPACE
['add_layer', 'add_skip', 'deepen', 'drop_input', 'grow_units', 'prune_units', 'remove_node',
 'split', 'widen']
>>> child = operators.mutate(genomes.mlp(3, 2, hidden=[4]), np.random.default_rng(0))
>>> child.meta["lineage"]["operator"] in operators.REGISTRY
True
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np

from genomes import Genome
from operators.base import NotApplicable, pick
from operators.checks import check_rng
from operators.inputs import drop_input, drop_input_sites
from operators.prune import prune_sites, prune_units, remove_node, remove_node_sites
from operators.spec import Operator, OperatorSpec
from operators.structure import (
    add_layer,
    add_layer_sites,
    add_skip,
    add_skip_sites,
    deepen,
    deepen_sites,
)
from operators.units import grow_units, split, split_sites, widen, widen_sites

REGISTRY: dict[str, OperatorSpec] = {
    s.name: s
    for s in [
        OperatorSpec("widen", widen, widen_sites, "exact"),
        OperatorSpec("split", split, split_sites, "eps2", eps_param="eps", site_kind="unit"),
        OperatorSpec("grow_units", grow_units, widen_sites, "eps", eps_param="eps"),
        OperatorSpec("deepen", deepen, deepen_sites, "exact"),
        OperatorSpec(
            "add_layer", add_layer, add_layer_sites, "eps", eps_param="eps", site_kind="edge"
        ),
        OperatorSpec("add_skip", add_skip, add_skip_sites, "exact", site_kind="edge"),
        OperatorSpec("prune_units", prune_units, prune_sites, "lossy", grows=False),
        OperatorSpec("remove_node", remove_node, remove_node_sites, "lossy", grows=False),
        OperatorSpec(
            "drop_input", drop_input, drop_input_sites, "lossy", grows=False, site_kind="feature"
        ),
    ]
}
"""Operator name -> :class:`OperatorSpec`. Add your own entries to extend :func:`mutate`."""


def depth(genome: Genome) -> int:
    """Number of computed nodes on the longest input-to-head path.

    >>> import genomes
    >>> depth(genomes.mlp(3, 2, hidden=[4, 4])), depth(genomes.minimal(3, 2))
    (3, 1)
    """
    longest: dict[str, int] = {}
    for n in nx.topological_sort(genome.graph):
        longest[n] = max((longest[u] + 1 for u in genome.graph.predecessors(n)), default=0)
    return max(longest.values(), default=0)


@dataclass(frozen=True)
class Limits:
    """Caps on a child's size, enforced by :func:`limited` (``None`` = no cap).

    Attributes
    ----------
    max_units : int or None
        Units of any hidden node.
    max_hidden_nodes : int or None
        Number of hidden nodes.
    max_params : int or None
        Total parameters (``genome.num_params()``).
    max_depth : int or None
        Computed nodes on the longest input-to-head path (see :func:`depth`).
    min_hidden_nodes : int
        A shrinking operator may not leave fewer hidden nodes.
    """

    max_units: int | None = None
    max_hidden_nodes: int | None = None
    max_params: int | None = None
    max_depth: int | None = None
    min_hidden_nodes: int = 0

    def violation(self, genome: Genome) -> str | None:
        """A message naming the first cap ``genome`` breaks, or ``None``.

        >>> import genomes
        >>> Limits(max_units=8).violation(genomes.mlp(3, 2, hidden=[16]))
        "node 'h0' has 16 units (max_units=8)"
        """
        hidden = genome.hidden_nodes
        if self.max_units is not None:
            for v in hidden:
                if genome.units(v) > self.max_units:
                    return f"node {v!r} has {genome.units(v)} units (max_units={self.max_units})"
        if self.max_hidden_nodes is not None and len(hidden) > self.max_hidden_nodes:
            return f"{len(hidden)} hidden nodes (max_hidden_nodes={self.max_hidden_nodes})"
        if len(hidden) < self.min_hidden_nodes:
            return f"{len(hidden)} hidden nodes (min_hidden_nodes={self.min_hidden_nodes})"
        if self.max_params is not None and genome.num_params() > self.max_params:
            return f"{genome.num_params()} parameters (max_params={self.max_params})"
        if self.max_depth is not None and depth(genome) > self.max_depth:
            return f"depth {depth(genome)} (max_depth={self.max_depth})"
        return None


def limited(limits: Limits) -> Callable[[Operator | Callable[..., Genome]], Operator]:
    """Decorator: the operator raises :class:`NotApplicable` when its child breaks ``limits``.

    A child that breaks a cap its parent already broke is let through when it
    is no larger (so pruning an oversized genome stays possible).

    Examples
    --------
    >>> import numpy as np, genomes
    >>> from operators.units import widen
    >>> capped = limited(Limits(max_units=4))(widen)
    >>> capped(genomes.mlp(3, 2, hidden=[4]), rng=np.random.default_rng(0), node="h0")
    Traceback (most recent call last):
    ...
    operators.base.NotApplicable: widen: node 'h0' has 5 units (max_units=4)
    """

    def decorate(op: Operator | Callable[..., Genome]) -> Operator:
        name = getattr(op, "__name__", type(op).__name__)

        @functools.wraps(op)
        def wrapper(genome: Genome, /, *, rng: np.random.Generator, **params: Any) -> Genome:
            child = op(genome, rng=rng, **params)
            problem = limits.violation(child)
            shrank = child.num_params() <= genome.num_params() and depth(child) <= depth(genome)
            if problem is not None and not (shrank and limits.violation(genome) is not None):
                raise NotApplicable(f"{name}: {problem}")
            return child

        return wrapper

    return decorate


def _is_weight(x: Any) -> bool:
    """True for a finite number >= 0 (not a bool)."""
    try:
        return not isinstance(x, bool) and math.isfinite(float(x)) and float(x) >= 0
    except (TypeError, ValueError):
        return False


def mutate(
    genome: Genome,
    rng: np.random.Generator,
    weights: Mapping[str, float] | None = None,
    limits: Limits | None = None,
    registry: Mapping[str, OperatorSpec] | None = None,
) -> Genome:
    """Apply one random operator at a random site.

    Operators are drawn without replacement with probability proportional to
    ``weights`` (all 1 by default; 0 disables one); an operator that has no
    site or raises :class:`NotApplicable` (including a broken cap) is
    skipped and the next one drawn. For each, the sites are listed once and
    one is drawn uniformly and passed to :meth:`OperatorSpec.apply`, with
    the operator's default parameters.

    Parameters
    ----------
    genome : Genome
        The parent (not modified).
    rng : numpy.random.Generator
        The only source of randomness.
    weights : mapping of str to float, optional
        Operator name -> relative probability (finite, >= 0). Unknown names
        raise ``KeyError``; a negative or non-finite weight ``ValueError``.
    limits : Limits, optional
        Size caps, applied with :func:`limited`.
    registry : mapping, optional
        Operators to draw from; :data:`REGISTRY` by default.

    Returns
    -------
    Genome
        The child, with ``lineage["operator"]`` naming the operator used.

    Raises
    ------
    NotApplicable
        When no operator applies.
    """
    check_rng("mutate", rng)
    specs = dict(REGISTRY if registry is None else registry)
    w = {name: 1.0 for name in specs} if weights is None else dict(weights)
    unknown = sorted(set(w) - set(specs))
    if unknown:
        raise KeyError(f"Unknown operators {unknown} (expected names from {sorted(specs)})")
    bad = {n: x for n, x in w.items() if not _is_weight(x)}
    if bad:
        raise ValueError(f"mutate: expected finite weights >= 0 (got {bad})")
    names = [n for n in sorted(w) if w[n] > 0]
    p = np.array([w[n] for n in names], dtype=np.float64)
    order = (
        list(rng.choice(len(names), size=len(names), replace=False, p=p / p.sum())) if names else []
    )
    tried = []
    for i in order:
        spec = specs[names[int(i)]]
        sites = spec.sites(genome)
        if not sites:
            tried.append(f"{spec.name} (no site)")
            continue
        site = pick(rng, sites, spec.name)
        if limits is not None:
            spec = dataclasses.replace(spec, fn=limited(limits)(spec.fn))
        try:
            return spec.apply(genome, site, rng=rng)
        except NotApplicable as exc:
            tried.append(str(exc))
    raise NotApplicable(f"mutate: no operator applies ({'; '.join(tried) or 'none enabled'})")

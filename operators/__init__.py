"""operators: function-preserving growth, pruning and firefly's guided growth of genomes.

Every operator is a pure function ``op(genome, *, rng, **params) -> Genome``:
the parent is never modified, the child is validated and its
``meta["lineage"]`` records the operator, its parameters (including the site
chosen) and a new id drawn from ``rng``. See ``docs/operators.md``.

Depends on :mod:`genomes`, NumPy, networkx and torch only.

    >>> import numpy as np, genomes, operators
    >>> g = genomes.mlp(4, 2, hidden=[8])
    >>> child = operators.widen(g, rng=np.random.default_rng(0), node="h0", units=2)
    >>> child.units("h0"), child.meta["lineage"]["operator"]
    (10, 'widen')
"""

from operators.base import NotApplicable, OperatorSpec, Preservation, Site, output_change
from operators.firefly import firefly_grow
from operators.probe import ProbeNet
from operators.prune import prune_units, remove_node, unit_importance
from operators.registry import REGISTRY, Limits, depth, limited, mutate
from operators.structure import add_layer, add_skip, deepen
from operators.units import grow_units, split, widen

__all__ = [
    "REGISTRY",
    "Limits",
    "NotApplicable",
    "OperatorSpec",
    "Preservation",
    "ProbeNet",
    "Site",
    "add_layer",
    "add_skip",
    "deepen",
    "depth",
    "firefly_grow",
    "grow_units",
    "limited",
    "mutate",
    "output_change",
    "prune_units",
    "remove_node",
    "split",
    "unit_importance",
    "widen",
]

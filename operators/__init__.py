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
    >>> child = operators.REGISTRY["widen"].apply(g, "h0", rng=np.random.default_rng(0), units=2)
    >>> child.units("h0")
    10

To write your own operator: copy the parent, edit the copy, and return
:func:`finish`; draw a site with :func:`pick` or check a requested one with
:func:`require_site`; raise :class:`NotApplicable` only when there is no site
(``ValueError`` for a malformed argument); register an :class:`OperatorSpec`
and check it with :mod:`operators.testing`.
"""

from operators.base import (
    NotApplicable,
    finish,
    output_change,
    pick,
    require_site,
    zero_dropped_inputs,
)
from operators.firefly import firefly_grow
from operators.inputs import drop_input, drop_input_sites
from operators.probe import ProbeNet
from operators.prune import prune_units, remove_node, unit_importance
from operators.registry import REGISTRY, Limits, depth, limited, mutate
from operators.spec import Operator, OperatorSpec, Preservation, Site, SiteKind
from operators.structure import add_layer, add_skip, deepen
from operators.units import grow_units, split, widen

__all__ = [
    "REGISTRY",
    "Limits",
    "NotApplicable",
    "Operator",
    "OperatorSpec",
    "Preservation",
    "ProbeNet",
    "Site",
    "SiteKind",
    "add_layer",
    "add_skip",
    "deepen",
    "depth",
    "drop_input",
    "drop_input_sites",
    "finish",
    "firefly_grow",
    "grow_units",
    "limited",
    "mutate",
    "output_change",
    "pick",
    "prune_units",
    "remove_node",
    "require_site",
    "split",
    "unit_importance",
    "widen",
    "zero_dropped_inputs",
]

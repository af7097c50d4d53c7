"""How an operator is described, registered and applied: :class:`OperatorSpec`.

A spec names an operator, lists where it applies (``sites(genome)``), says
what type of site that is (:data:`SiteKind`) and declares how far the child's
function may move (:data:`Preservation`). :meth:`OperatorSpec.apply` applies
the operator at one given site.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from genomes import Genome

Site = str | int | tuple[str, str] | tuple[str, int]
"""Where an operator applies: a node name, an input feature index, an edge
``(source, target)`` or a unit ``(node, index)``; see :data:`SiteKind`."""

SiteKind = Literal["node", "feature", "edge", "unit"]
"""The type of an operator's sites, and the keywords that name one:

- ``"node"``: a node name ``str``, passed as ``node=``;
- ``"feature"``: an input feature index ``int``, passed as ``feature=``;
- ``"edge"``: ``(source, target)`` node names, passed as ``source=, target=``;
- ``"unit"``: ``(node, index)``, passed as ``node=, unit=``.
"""

SITE_PARAMS: dict[str, tuple[str, ...]] = {
    "node": ("node",),
    "feature": ("feature",),
    "edge": ("source", "target"),
    "unit": ("node", "unit"),
}
"""Site kind -> the operator keywords its parts are passed as."""

_INT = (int, np.integer)
_SITE_TYPES: dict[str, tuple[tuple[type, ...], ...]] = {
    "node": ((str,),),
    "feature": (_INT,),
    "edge": ((str,), (str,)),
    "unit": ((str,), _INT),
}
_SITE_EXAMPLES = {"node": "'h0'", "feature": "3", "edge": "('input', 'h0')", "unit": "('h0', 2)"}

Preservation = Literal["exact", "eps2", "eps", "lossy"]
"""How far the child's function may be from the parent's.

``exact``: equal up to rounding. ``eps2``: change O(eps**2) in the operator's
``eps``. ``eps``: exact at ``eps=0``, O(eps) otherwise. ``lossy``: any change;
the operator measures and reports it in the child's lineage.
"""


class Operator(Protocol):
    """The calling convention of an operator: ``op(genome, *, rng, **params) -> Genome``.

    ``rng`` is keyword-only and the only source of randomness; the parent is
    not modified. A function with its own keywords (``node=``, ``eps=``) is
    an operator, but mypy cannot match it to this protocol (which lets a
    caller pass any keyword), so places that accept operators take
    ``Operator | Callable[..., Genome]``: calls through them are still
    checked against this signature.
    """

    def __call__(self, genome: Genome, /, *, rng: np.random.Generator, **params: Any) -> Genome:
        """Return a new genome (the child) made from ``genome``."""
        ...


@dataclass(frozen=True)
class OperatorSpec:
    """A registered operator.

    Attributes
    ----------
    name : str
        Registry key; also written to ``lineage["operator"]``.
    fn : Operator
        The operator.
    sites : callable
        ``sites(genome) -> list`` of the places where ``fn`` applies.
    preservation : {"exact", "eps2", "eps", "lossy"}
        Declared preservation class, checked by :mod:`operators.testing`.
    eps_param : str or None
        Name of the keyword that scales the change (``"eps"``) for the
        ``eps`` and ``eps2`` classes.
    grows : bool
        True when the operator can only add parameters or depth (size caps apply).
    site_kind : {"node", "feature", "edge", "unit"}
        The type of the sites, which says how :meth:`apply` passes a site to
        ``fn`` (see :data:`SiteKind`).

    Examples
    --------
    >>> import numpy as np, genomes, operators
    >>> spec = operators.REGISTRY["add_skip"]
    >>> g = genomes.mlp(3, 2, hidden=[4], shared=True)
    >>> spec.sites(g)
    [('input', 'policy'), ('input', 'value')]
    >>> child = spec.apply(g, ("input", "policy"), rng=np.random.default_rng(0))
    >>> child.meta["lineage"]["params"]
    {'source': 'input', 'target': 'policy'}
    """

    name: str
    fn: Operator | Callable[..., Genome]
    sites: Callable[[Genome], Sequence[Site]]
    preservation: Preservation
    eps_param: str | None = None
    grows: bool = True
    site_kind: SiteKind = "node"

    def __post_init__(self) -> None:
        if self.site_kind not in SITE_PARAMS:
            raise ValueError(
                f"OperatorSpec {self.name!r}: expected site_kind in {sorted(SITE_PARAMS)} "
                f"(got {self.site_kind!r})"
            )

    def site_params(self, site: Site) -> dict[str, Any]:
        """The keywords that pass ``site`` to :attr:`fn`, e.g. ``{"node": "h0"}``.

        Raises :class:`ValueError` when ``site`` does not have this operator's
        site type (a list is accepted for a tuple, as JSON lineage gives).
        """
        kind = self.site_kind
        parts = tuple(site) if isinstance(site, (tuple, list)) else (site,)
        types = _SITE_TYPES[kind]
        if len(parts) != len(types) or not all(
            isinstance(p, t) and not isinstance(p, bool) for p, t in zip(parts, types, strict=True)
        ):
            raise ValueError(
                f"{self.name}: expected site to be a {kind} like {_SITE_EXAMPLES[kind]} "
                f"(got {site!r})"
            )
        return dict(zip(SITE_PARAMS[kind], parts, strict=True))

    def apply(
        self, genome: Genome, site: Site, /, *, rng: np.random.Generator, **params: Any
    ) -> Genome:
        """Apply the operator at ``site`` (one of ``sites(genome)``) with ``params``.

        The site is passed as the keywords of :attr:`site_kind`; the built-in
        operators then check just that site (they do not list all of them).

        Raises
        ------
        NotApplicable
            ``site`` is not one of this genome's sites.
        ValueError
            ``site`` does not have the operator's site type, ``params`` names
            the site again, or a parameter is malformed.
        """
        where = self.site_params(site)
        clash = sorted(set(where) & set(params))
        if clash:
            raise ValueError(
                f"{self.name}: the site gives {', '.join(clash)}; expected it not in params"
            )
        return self.fn(genome, rng=rng, **where, **params)

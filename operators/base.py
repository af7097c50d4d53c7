"""Shared pieces of every operator: the error, site choice, lineage and weight edits.

An operator is a plain function ``op(genome, *, rng, **params) -> Genome``.
It copies the parent, edits the copy, records its lineage and validates it.
The helpers here do the unit-level edits (append or delete units of a node)
that several operators share, so each operator reads as its math. How an
operator is described and registered is in :mod:`operators.spec`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import torch
from numpy.typing import NDArray

from genomes import Genome
from genomes.registry import ACTIVATIONS
from operators.spec import Operator as Operator  # re-exported: the spec used to live here
from operators.spec import OperatorSpec as OperatorSpec
from operators.spec import Preservation as Preservation
from operators.spec import Site as Site

Array = NDArray[np.float64]
T = TypeVar("T")


class NotApplicable(Exception):
    """The operator has no site on this genome, or the requested site is not one of them.

    Only that: a malformed argument (wrong type, a negative count, an unknown
    mode) is the caller's mistake and raises :class:`ValueError` instead.
    """


# --------------------------------------------------------------- bookkeeping
def activation_of(genome: Genome, node: str) -> str:
    """The activation name of ``node`` (the input counts as ``identity``)."""
    if genome.graph.nodes[node]["kind"] == "input":
        return "identity"
    return str(genome.graph.nodes[node].get("activation", "identity"))


def is_kind(genome: Genome, node: str, *kinds: str) -> bool:
    """True when ``node`` exists in ``genome`` and is of one of ``kinds``."""
    return node in genome.graph and genome.graph.nodes[node].get("kind") in kinds


def is_idempotent(genome: Genome, node: str) -> bool:
    """True when ``act(act(x)) == act(x)`` for ``node``'s activation (relu, identity)."""
    return ACTIVATIONS[activation_of(genome, node)].idempotent


def fresh_name(genome: Genome, prefix: str = "n") -> str:
    """The first name ``prefix<k>`` not used in ``genome``.

    >>> import genomes
    >>> fresh_name(genomes.mlp(3, 2, hidden=[4]))
    'n0'
    """
    k = 0
    while f"{prefix}{k}" in genome.graph:
        k += 1
    return f"{prefix}{k}"


def pick(rng: np.random.Generator, sites: Sequence[T], what: str) -> T:
    """Draw one of ``sites`` uniformly, or raise :class:`NotApplicable` naming ``what``.

    An operator called without a site calls its sites function once and
    picks from it.

    >>> pick(np.random.default_rng(0), ["h0", "h1"], "my_op")
    'h1'
    >>> pick(np.random.default_rng(0), [], "my_op")
    Traceback (most recent call last):
    ...
    operators.base.NotApplicable: my_op: no site fits this genome
    """
    if not sites:
        raise NotApplicable(f"{what}: no site fits this genome")
    return sites[int(rng.integers(len(sites)))]


def require_site(site: T, sites: Collection[T], what: str) -> T:
    """Return a requested ``site`` if it is among ``sites``, else raise :class:`NotApplicable`.

    >>> require_site("h0", ["h0", "h1"], "my_op")
    'h0'
    >>> require_site("policy", ["h0", "h1"], "my_op")
    Traceback (most recent call last):
    ...
    operators.base.NotApplicable: my_op: site 'policy' is not applicable (expected one of ['h0', 'h1'])
    """
    if site not in sites:
        raise NotApplicable(
            f"{what}: site {site!r} is not applicable (expected one of {sites!r:.200})"
        )
    return site


def not_a_site(what: str, site: object, expected: str) -> NotApplicable:
    """The error for a requested site that this genome does not offer (raise it)."""
    return NotApplicable(f"{what}: site {site!r} is not applicable (expected {expected})")


def zero_dropped_inputs(genome: Genome) -> None:
    """Zero, in place, every weight that reads a dropped input feature.

    This is the child evaluated with those features set to 0, as the parent
    already was, so it keeps any function-preserving edit function-preserving.
    """
    dropped = genome.dropped_inputs
    if dropped:
        inp = genome.input_node
        for v in genome.graph.successors(inp):
            genome.graph.edges[inp, v]["weight"][:, dropped] = 0.0


def finish(
    child: Genome, parent: Genome, rng: np.random.Generator, name: str, params: Mapping[str, Any]
) -> Genome:
    """Record the child's lineage, validate it and return it.

    The new id is drawn from ``rng`` so a seeded run gives the same ids.
    Weights that read dropped input features are zeroed first
    (:func:`zero_dropped_inputs`), so an operator need not track them; a
    lossy operator that measures its change calls that itself before
    measuring.

    Examples
    --------
    >>> import genomes
    >>> g = genomes.minimal(3, 2)
    >>> child = finish(g.copy(), g, np.random.default_rng(0), "noop", {"node": "policy"})
    >>> child.meta["lineage"]["operator"], child.meta["lineage"]["params"]
    ('noop', {'node': 'policy'})
    """
    zero_dropped_inputs(child)
    parent_id = parent.id
    child.meta["lineage"] = {
        "id": rng.bytes(8).hex(),
        "parents": [] if parent_id is None else [parent_id],
        "operator": name,
        "params": jsonable(dict(params)),
    }
    return child.validate()


def jsonable(obj: Any) -> Any:
    """``obj`` with NumPy scalars and arrays turned into plain Python values.

    >>> jsonable({"a": np.int64(2), "b": (np.float64(0.5),)})
    {'a': 2, 'b': [0.5]}
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    return obj


def init_weight(rng: np.random.Generator, rows: int, cols: int) -> Array:
    """A random weight ``[rows, cols]`` with entries ``N(0, 1/cols)``."""
    return np.asarray(rng.standard_normal((rows, cols)) / np.sqrt(max(cols, 1)), dtype=np.float64)


# -------------------------------------------------------------- unit edits
def append_units(
    genome: Genome,
    node: str,
    incoming: Mapping[str, Array],
    bias: Array,
    outgoing: Mapping[str, Array],
) -> None:
    """Append ``k`` units to ``node`` in place.

    ``incoming[u]`` is ``[k, units_u]`` for every predecessor ``u``, ``bias``
    is ``[k]``, ``outgoing[w]`` is ``[units_w, k]`` for every successor ``w``.
    """
    g = genome.graph
    k = len(bias)
    for u in g.predecessors(node):
        g.edges[u, node]["weight"] = np.vstack([g.edges[u, node]["weight"], incoming[u]])
    for w in g.successors(node):
        g.edges[node, w]["weight"] = np.hstack([g.edges[node, w]["weight"], outgoing[w]])
    g.nodes[node]["bias"] = np.concatenate([g.nodes[node]["bias"], bias])
    g.nodes[node]["units"] = int(g.nodes[node]["units"]) + k


def delete_units(genome: Genome, node: str, index: Sequence[int]) -> None:
    """Delete the units ``index`` of ``node`` in place (rows in, columns out)."""
    g = genome.graph
    keep = np.setdiff1d(np.arange(genome.units(node)), np.asarray(index, dtype=np.int64))
    for u in g.predecessors(node):
        g.edges[u, node]["weight"] = g.edges[u, node]["weight"][keep].copy()
    for w in g.successors(node):
        g.edges[node, w]["weight"] = g.edges[node, w]["weight"][:, keep].copy()
    g.nodes[node]["bias"] = g.nodes[node]["bias"][keep].copy()
    g.nodes[node]["units"] = len(keep)


def incoming_rows(genome: Genome, node: str, unit: int) -> dict[str, Array]:
    """The incoming weight row of ``unit`` from each predecessor (copies)."""
    g = genome.graph
    return {u: g.edges[u, node]["weight"][unit].copy() for u in g.predecessors(node)}


# ------------------------------------------------------------ measurement
def default_inputs(genome: Genome, rng: np.random.Generator, n: int = 64) -> Array:
    """A batch of ``n`` standard-normal observations for ``genome``."""
    return np.asarray(rng.standard_normal((n, genome.units(genome.input_node))), dtype=np.float64)


def input_batch(genome: Genome, rng: np.random.Generator, inputs: Any, n: int, what: str) -> Array:
    """``inputs`` as a float64 batch ``[batch, obs]``, or :func:`default_inputs` when ``None``.

    Raises :class:`ValueError` naming ``inputs`` for an empty, misshapen or
    non-finite batch.
    """
    if inputs is None:
        return default_inputs(genome, rng, n)
    obs = genome.units(genome.input_node)
    try:
        x = np.asarray(inputs, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: expected inputs to be an array of numbers") from None
    if x.ndim == 1 and x.size == obs:
        x = x[None, :]
    if x.ndim < 2 or x.shape[0] == 0 or int(np.prod(x.shape[1:])) != obs:
        raise ValueError(
            f"{what}: expected a non-empty inputs batch of shape [batch, {obs}] (got {x.shape})"
        )
    x = x.reshape(len(x), obs)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what}: expected finite inputs (got NaN or inf)")
    return x


def outputs(genome: Genome, inputs: Array, dtype: torch.dtype = torch.float64) -> Array:
    """Policy output and value side by side, ``[batch, units_policy + 1]``, as float64.

    A plain network has no value: its output alone, ``[batch, units_policy]``.

    >>> import genomes
    >>> outputs(genomes.minimal(3, 2), np.ones((4, 3))).shape
    (4, 3)
    >>> outputs(genomes.network(3, 2, hidden=[]), np.ones((4, 3))).shape
    (4, 2)
    """
    module = genome.compile(dtype=dtype)
    with torch.no_grad():
        pol, val = module(torch.as_tensor(np.asarray(inputs), dtype=dtype))
    out = pol if val is None else torch.cat([pol, val[:, None]], dim=1)
    return np.asarray(out.double().numpy(), dtype=np.float64)


def output_change(parent: Genome, child: Genome, inputs: Array) -> dict[str, float]:
    """The measured change of the outputs (policy and value) on ``inputs`` in float64.

    For a plain network, of its one output.

    Returns ``{"max_abs", "rms", "rel"}``; ``rel`` is ``max_abs`` over the
    parent's largest absolute output (at least 1).

    >>> import genomes
    >>> g = genomes.mlp(3, 2, hidden=[4])
    >>> output_change(g, g, np.ones((2, 3)))["max_abs"]
    0.0
    """
    a = outputs(parent, inputs)
    b = outputs(child, inputs)
    diff = np.abs(a - b)
    scale = max(1.0, float(np.max(np.abs(a))))
    return {
        "max_abs": float(diff.max()),
        "rms": float(np.sqrt(np.mean(diff**2))),
        "rel": float(diff.max() / scale),
    }

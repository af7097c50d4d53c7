"""The :class:`Genome`: a DAG of unit groups with weights.

Every node but the input computes ``h_v = act_v(b_v + sum_{u->v} W_uv @ h_u)``.
An actor-critic genome has a policy head and a value head; a *plain network*
(``genomes.network``, ``genomes.from_sequential``) has the policy head as its
only output, no value head and no ``log_std``. Weights live as float64 NumPy
arrays on the graph (``bias`` and, on a Box policy head, ``log_std`` on
nodes; ``weight`` of shape ``[units_v, units_u]`` on edges), so operators can be checked exactly in float64 and a float32
module writes its weights back without loss.
"""

from __future__ import annotations

import copy as _copy
import itertools
import math
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import networkx as nx
import numpy as np
from numpy.typing import NDArray

from genomes.errors import (
    ActivationError,
    CycleError,
    DanglingEdgeError,
    HeadError,
    InputError,
    KindError,
    NonFiniteError,
    ShapeError,
    SpaceError,
    UnreachableError,
)
from genomes.registry import ACTIVATIONS, KINDS
from genomes.spaces import flat_size, normalise

if TYPE_CHECKING:
    import torch

    from genomes.compile import GenomeModule

FORMAT_VERSION = 1
"""Version of the serialised genome format written by this package."""

Part = Literal["policy", "value", "all"]


def _check_array(arr: Any, shape: tuple[int, ...], what: str) -> None:
    """Raise unless ``arr`` is a finite real array of ``shape``; ``what`` starts the message."""
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "iuf":
        got = type(arr).__name__ if not isinstance(arr, np.ndarray) else f"dtype {arr.dtype}"
        raise ShapeError(f"{what}: expected a real NumPy array of shape {shape} (got {got})")
    if arr.shape != shape:
        raise ShapeError(f"{what}: expected shape {shape} (got {arr.shape})")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise NonFiniteError(f"{what}: expected finite values (got {bad} NaN or inf)")


def _check_space(desc: Any, key: str, types: tuple[str, ...]) -> None:
    """Raise :class:`SpaceError` unless ``desc`` is a well-formed space description."""
    if not isinstance(desc, dict) or desc.get("type") not in types:
        raise SpaceError(
            f"Metadata {key!r}: expected a dict with type in {list(types)} (got {desc!r:.100})"
        )
    if desc["type"] == "discrete":
        n = desc.get("n")
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise SpaceError(f"Metadata {key!r}: expected a positive integer 'n' (got {n!r:.60})")
        start = desc.get("start", 0)
        if not isinstance(start, int) or isinstance(start, bool):
            raise SpaceError(f"Metadata {key!r}: expected an integer 'start' (got {start!r:.60})")
        return
    shape = desc.get("shape")
    if (
        not isinstance(shape, list)
        or not shape
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in shape)
    ):
        raise SpaceError(
            f"Metadata {key!r}: expected a non-empty list of positive ints as 'shape' "
            f"(got {shape!r:.60})"
        )
    _check_bounds(desc, key, flat_size(desc))


def _is_finite_number(x: Any) -> bool:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    try:
        return math.isfinite(float(x))
    except OverflowError:  # an int beyond float range
        return False


def _check_bounds(desc: dict[str, Any], key: str, size: int) -> None:
    """A box's ``low``/``high``: both or neither, ``size`` finite numbers each, low <= high."""
    if ("low" in desc) != ("high" in desc):
        raise SpaceError(f"Metadata {key!r}: expected both 'low' and 'high' or neither")
    if "low" not in desc:
        return
    bounds = []
    for name in ("low", "high"):
        values = desc[name]
        if (
            not isinstance(values, list)
            or len(values) != size
            or not all(_is_finite_number(x) for x in values)
        ):
            raise SpaceError(
                f"Metadata {key!r}: expected {size} finite numbers as {name!r} (got {values!r:.60})"
            )
        bounds.append(values)
    for i, (lo, hi) in enumerate(zip(*bounds, strict=True)):
        if lo > hi:
            raise SpaceError(f"Metadata {key!r}: expected low <= high (got {lo} > {hi} at {i})")


def _as_array(x: Any, shape: tuple[int, ...] | None = None) -> NDArray[np.float64]:
    arr = np.array(x, dtype=np.float64, copy=True)
    if shape is not None and arr.shape != shape:
        raise ShapeError(f"Expected shape {shape} (got {arr.shape})")
    return arr


class Genome:
    """A network architecture and its weights, as a networkx DAG.

    Parameters
    ----------
    graph : networkx.DiGraph, optional
        The graph; copied. Empty by default.
    meta : dict, optional
        Metadata: ``observation_space``, ``action_space``, ``obs_norm``,
        ``lineage``, ``tags``. Deep-copied; a space's ``shape`` given as an
        int or a tuple is stored as a list (:func:`genomes.spaces.normalise`).

    Examples
    --------
    >>> import genomes
    >>> g = genomes.mlp(4, 2, hidden=[8])
    >>> g.num_params()
    107
    >>> g.policy_node, g.value_node
    ('policy', 'value')
    """

    def __init__(self, graph: nx.DiGraph | None = None, meta: dict[str, Any] | None = None):
        self.graph: nx.DiGraph = nx.DiGraph() if graph is None else _copy.deepcopy(graph)
        self.meta: dict[str, Any] = {} if meta is None else _copy.deepcopy(meta)
        for key in ("observation_space", "action_space"):
            if key in self.meta:
                self.meta[key] = normalise(self.meta[key])
        self.meta.setdefault("tags", {})
        self.meta.setdefault("lineage", {"id": None, "parents": [], "operator": None, "params": {}})
        self.meta.setdefault("obs_norm", None)

    # ------------------------------------------------------------------ build
    def add_node(
        self,
        name: str,
        *,
        kind: str = "hidden",
        units: int,
        activation: str = "identity",
        bias: Any = None,
        log_std: Any = None,
    ) -> None:
        """Add a node (in place; used while building a genome).

        ``bias`` defaults to zeros. ``log_std`` is only for a Box policy head.
        """
        attrs: dict[str, Any] = {"kind": kind, "units": int(units), "activation": activation}
        if kind != "input":
            attrs["bias"] = np.zeros(units) if bias is None else _as_array(bias, (int(units),))
        if log_std is not None:
            attrs["log_std"] = _as_array(log_std, (int(units),))
        self.graph.add_node(name, **attrs)

    def add_edge(self, u: str, v: str, weight: Any = None) -> None:
        """Add an edge ``u -> v`` (in place). ``weight`` defaults to zeros."""
        shape = (self.units(v), self.units(u))
        w = np.zeros(shape) if weight is None else _as_array(weight, shape)
        self.graph.add_edge(u, v, weight=w)

    # ------------------------------------------------------------- accessors
    def units(self, node: str) -> int:
        """Number of units of ``node``."""
        return int(self.graph.nodes[node]["units"])

    def nodes_of_kind(self, kind: str) -> list[str]:
        """Names of the nodes of ``kind``, in insertion order."""
        return [n for n, k in self.graph.nodes(data="kind") if k == kind]

    def _unique(self, kind: str) -> str:
        found = self.nodes_of_kind(kind)
        if len(found) != 1:
            raise HeadError(f"Expected exactly one {kind!r} node (got {len(found)}: {found})")
        return found[0]

    @property
    def input_node(self) -> str:
        """Name of the input node."""
        found = self.nodes_of_kind("input")
        if len(found) != 1:
            raise InputError(f"Expected exactly one input node (got {len(found)}: {found})")
        return found[0]

    @property
    def policy_node(self) -> str:
        """Name of the policy head."""
        return self._unique("policy")

    @property
    def value_node(self) -> str:
        """Name of the value head (:class:`HeadError` for a plain network, which has none)."""
        found = self.nodes_of_kind("value")
        if not found:
            raise HeadError("Expected a 'value' head (got none: this genome is a plain network)")
        return self._unique("value")

    @property
    def output_node(self) -> str:
        """Name of the main output: the policy head (a plain network's only head)."""
        return self.policy_node

    @property
    def is_plain(self) -> bool:
        """True for a plain network: the policy head is its only output (no value head).

        Examples
        --------
        >>> import genomes
        >>> genomes.network(3, 1, hidden=[4]).is_plain, genomes.mlp(3, 1).is_plain
        (True, False)
        """
        return not self.nodes_of_kind("value")

    @property
    def hidden_nodes(self) -> list[str]:
        """Names of the hidden nodes, in topological order."""
        return [n for n in self.topological_order() if self.graph.nodes[n]["kind"] == "hidden"]

    @property
    def action_space(self) -> dict[str, Any]:
        """The action-space description (see :mod:`genomes.spaces`)."""
        return dict(self.meta["action_space"])

    @property
    def observation_space(self) -> dict[str, Any]:
        """The observation-space description (see :mod:`genomes.spaces`)."""
        return dict(self.meta["observation_space"])

    @property
    def is_continuous(self) -> bool:
        """True for a Box action space (Gaussian policy)."""
        return bool(self.meta["action_space"]["type"] == "box")

    @property
    def dropped_inputs(self) -> list[int]:
        """Input features the network does not read (``meta["dropped_inputs"]``, sorted).

        Every weight reading them is zero and is not a parameter; compiled
        modules zero these features of the observation, so training keeps
        the weights at zero. ``operators.drop_input`` adds to the list.
        """
        return [int(j) for j in self.meta.get("dropped_inputs") or []]

    @property
    def id(self) -> str | None:
        """This genome's id from its lineage, if one was assigned."""
        value = self.meta["lineage"].get("id")
        return None if value is None else str(value)

    def topological_order(self) -> list[str]:
        """Nodes in a deterministic topological order (ties broken by name)."""
        return list(nx.lexicographical_topological_sort(self.graph, key=str))

    def part_nodes(self, part: Part = "all") -> set[str]:
        """Nodes needed to compute ``part``: ``"policy"``, ``"value"`` or ``"all"``.

        The value part of a plain network is empty.
        """
        if part == "all":
            return set(self.graph.nodes)
        if part == "value" and self.is_plain:
            return set()
        head = self.policy_node if part == "policy" else self.value_node
        return set(nx.ancestors(self.graph, head)) | {head}

    def copy(self) -> Genome:
        """A deep copy (graph, weights and metadata)."""
        return Genome(self.graph, self.meta)

    # -------------------------------------------------------------- validate
    def validate(self) -> Genome:
        """Check every structural rule; return ``self`` or raise.

        Raises
        ------
        InvalidGenomeError
            A subclass naming the offending node or edge: ``KindError``,
            ``ActivationError``, ``InputError``, ``HeadError``,
            ``DanglingEdgeError``, ``CycleError``, ``ShapeError``,
            ``NonFiniteError``, ``SpaceError``, ``UnreachableError``.

        Examples
        --------
        >>> import genomes
        >>> g = genomes.mlp(4, 2, hidden=[8])
        >>> g.graph.nodes["h0"]["activation"] = "swish2"
        >>> g.validate()
        Traceback (most recent call last):
        ...
        genomes.errors.ActivationError: Node 'h0': expected an activation in [...] (got 'swish2')
        """
        g = self.graph
        for u, v in g.edges:
            for end in (u, v):
                if not g.nodes[end]:
                    raise DanglingEdgeError(f"Edge {u!r}->{v!r}: node {end!r} does not exist")
        for n, data in g.nodes(data=True):
            kind = data.get("kind")
            if not isinstance(kind, str) or kind not in KINDS:
                raise KindError(f"Node {n!r}: expected a kind in {sorted(KINDS)} (got {kind!r})")
            act = data.get("activation", "identity")
            if not isinstance(act, str) or act not in ACTIVATIONS:
                raise ActivationError(
                    f"Node {n!r}: expected an activation in {sorted(ACTIVATIONS)} (got {act!r})"
                )
            units = data.get("units")
            if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units < 1:
                raise ShapeError(f"Node {n!r}: expected a positive integer 'units' (got {units!r})")
        inputs = self.nodes_of_kind("input")
        if len(inputs) != 1:
            raise InputError(f"Expected exactly one input node (got {len(inputs)}: {inputs})")
        inp = inputs[0]
        if g.in_degree(inp):
            raise InputError(
                f"Input node {inp!r}: expected no incoming edges (got {list(g.predecessors(inp))})"
            )
        policies, values = self.nodes_of_kind("policy"), self.nodes_of_kind("value")
        if len(policies) != 1:
            raise HeadError(f"Expected exactly one 'policy' head (got {len(policies)}: {policies})")
        if len(values) > 1:
            raise HeadError(
                f"Expected one 'value' head, or none in a plain network (got {len(values)}: {values})"
            )
        heads = policies + values
        for head in heads:
            if g.out_degree(head):
                raise HeadError(
                    f"Head {head!r}: expected no outgoing edges (got {list(g.successors(head))})"
                )
        for value in values:
            if g.nodes[value]["units"] != 1:
                raise HeadError(
                    f"Value head {value!r}: expected 1 unit (got {g.nodes[value]['units']})"
                )
        try:
            cycle = nx.find_cycle(g)
        except nx.NetworkXNoCycle:
            cycle = None
        if cycle:
            path = " -> ".join(repr(e[0]) for e in cycle) + f" -> {cycle[0][0]!r}"
            raise CycleError(f"Expected an acyclic graph (got the cycle {path})")
        self._validate_arrays()
        self._validate_spaces()
        self._validate_dropped_inputs()
        reach_in = nx.descendants(g, inp) | {inp}
        reach_out = set(heads)
        for h in heads:
            reach_out |= nx.ancestors(g, h)
        for n in self.topological_order():
            if n not in reach_in:
                raise UnreachableError(f"Node {n!r}: expected a path from the input (got none)")
            if n not in reach_out:
                raise UnreachableError(f"Node {n!r}: expected a path to a head (got none)")
        return self

    def _validate_arrays(self) -> None:
        g = self.graph
        for n, data in g.nodes(data=True):
            if data["kind"] == "input":
                continue
            if "bias" not in data:
                raise ShapeError(f"Node {n!r}: expected a bias (got none)")
            for key in ("bias", "log_std"):
                if key in data:
                    _check_array(data[key], (int(data["units"]),), f"Node {n!r}: {key}")
        for u, v, w in g.edges(data="weight"):
            expected = (int(g.nodes[v]["units"]), int(g.nodes[u]["units"]))
            _check_array(w, expected, f"Edge {u!r}->{v!r}: weight")

    def _validate_spaces(self) -> None:
        meta = self.meta
        if "observation_space" not in meta or "action_space" not in meta:
            raise SpaceError(
                "Expected 'observation_space' and 'action_space' in metadata (got "
                f"{sorted(k for k in ('observation_space', 'action_space') if k in meta)})"
            )
        _check_space(meta["observation_space"], "observation_space", ("box",))
        _check_space(meta["action_space"], "action_space", ("box", "discrete"))
        inp = self.input_node
        obs = flat_size(meta["observation_space"])
        if self.units(inp) != obs:
            raise ShapeError(
                f"Input node {inp!r}: expected {obs} units for the observation space (got {self.units(inp)})"
            )
        pol = self.policy_node
        act = flat_size(meta["action_space"])
        if self.units(pol) != act:
            raise HeadError(
                f"Policy head {pol!r}: expected {act} units for the action space (got {self.units(pol)})"
            )
        has_log_std = "log_std" in self.graph.nodes[pol]
        if self.is_plain:
            if has_log_std:
                raise HeadError(
                    f"Policy head {pol!r}: expected no log_std in a plain network "
                    "(no value head); an actor-critic genome needs a value head"
                )
            return
        if self.is_continuous and not has_log_std:
            raise HeadError(
                f"Policy head {pol!r}: expected a log_std for a box action space (got none)"
            )
        if not self.is_continuous and has_log_std:
            raise HeadError(f"Policy head {pol!r}: expected no log_std for a discrete action space")

    def _validate_dropped_inputs(self) -> None:
        dropped = self.meta.get("dropped_inputs")
        if dropped is None:
            return
        inp = self.input_node
        n = self.units(inp)
        if (
            not isinstance(dropped, list)
            or not all(isinstance(j, int) and not isinstance(j, bool) for j in dropped)
            or any(not 0 <= j < n for j in dropped)
            or any(a >= b for a, b in itertools.pairwise(dropped))
        ):
            raise InputError(
                "Metadata 'dropped_inputs': expected a sorted list of distinct feature "
                f"indices in [0, {n}) (got {dropped!r:.100})"
            )
        for v in self.graph.successors(inp):
            w = self.graph.edges[inp, v]["weight"][:, dropped]
            if np.any(w != 0):
                j = dropped[int(np.nonzero(np.any(w != 0, axis=0))[0][0])]
                raise InputError(
                    f"Edge {inp!r}->{v!r}: expected zero weights from the dropped input "
                    f"feature {j} (got nonzero ones)"
                )

    # --------------------------------------------------- delegating helpers
    def compile(self, dtype: torch.dtype | None = None, part: Part = "all") -> GenomeModule:
        """Compile to a :class:`torch.nn.Module`; see :func:`genomes.compile.compile_genome`."""
        from genomes.compile import compile_genome

        return compile_genome(self, dtype=dtype, part=part)

    def with_weights_from(self, module: GenomeModule) -> Genome:
        """A copy whose weights are read back from a compiled module."""
        from genomes.compile import weights_from_module

        return weights_from_module(self, module)

    def num_params(self, part: Part = "all") -> int:
        """Number of trainable scalars needed for ``part`` (``log_std`` counts for policy)."""
        from genomes.inspect import num_params

        return num_params(self, part)

    def macs(self, part: Part = "all") -> int:
        """Multiply-accumulates of one forward pass for ``part``."""
        from genomes.inspect import macs

        return macs(self, part)

    def structural_hash(self) -> str:
        """Hash of the architecture, invariant to node names and weights."""
        from genomes.inspect import structural_hash

        return structural_hash(self)

    def summary(self) -> str:
        """A text table of nodes, kinds, units, activations and parameters."""
        from genomes.inspect import summary

        return summary(self)

    def to_dict(self) -> dict[str, Any]:
        """The versioned, JSON-ready dict form (see ``docs/genome-format.md``)."""
        from genomes.io import to_dict

        return to_dict(self)

    def save(self, path: str | Path) -> Path:
        """Write the genome as JSON to ``path``."""
        from genomes.io import save

        return save(self, path)

    def draw(self, path: str | Path) -> Path:
        """Draw the graph to a PNG or SVG file."""
        from genomes.draw import draw

        return draw(self, path)

    def to_pyg(self) -> Any:
        """A ``torch_geometric.data.Data`` view of the graph."""
        from genomes.pyg import to_pyg

        return to_pyg(self)

    def edges_into(self, node: str) -> Iterable[tuple[str, str]]:
        """Incoming edges of ``node``, sorted by source name."""
        return sorted(self.graph.in_edges(node), key=lambda e: str(e[0]))

    def __repr__(self) -> str:
        n_hidden = len(self.nodes_of_kind("hidden"))
        return (
            f"Genome(nodes={self.graph.number_of_nodes()}, hidden={n_hidden}, "
            f"edges={self.graph.number_of_edges()}, params={self.num_params()})"
        )

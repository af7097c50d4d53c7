"""Save and load genomes: versioned JSON, weights as base64, no pickle.

The format is documented in ``docs/genome-format.md``. Reading goes through
plain dicts; every field is type-checked and the genome is validated, so an
untrusted file can only produce a valid genome or a :class:`FormatError` /
:class:`InvalidGenomeError` naming the problem. Nothing is ever executed.
"""

from __future__ import annotations

import base64
import json
import math
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
from numpy.typing import NDArray

from genomes.errors import FormatError, GenomeError
from genomes.genome import FORMAT_VERSION, Genome

FORMAT_NAME = "growagent.genome"

_READERS: dict[int, Callable[[dict[str, Any]], Genome]] = {}


def encode_array(arr: NDArray[Any]) -> dict[str, Any]:
    """Encode an array as ``{"dtype", "shape", "data"}`` (little-endian, base64).

    >>> encode_array(np.array([1.0]))
    {'dtype': 'float64', 'shape': [1], 'data': 'AAAAAAAA8D8='}
    """
    a = np.ascontiguousarray(arr, dtype=np.dtype("<f8"))
    return {
        "dtype": "float64",
        "shape": list(a.shape),
        "data": base64.b64encode(a.tobytes()).decode("ascii"),
    }


def decode_array(obj: Any, where: str) -> NDArray[np.float64]:
    """Decode :func:`encode_array`'s output; ``where`` names the field in errors."""
    if not isinstance(obj, dict) or set(obj) != {"dtype", "shape", "data"}:
        raise FormatError(
            f"{where}: expected an object with dtype, shape and data (got {obj!r:.80})"
        )
    if obj["dtype"] != "float64":
        raise FormatError(f"{where}: expected dtype 'float64' (got {obj['dtype']!r})")
    shape = obj["shape"]
    if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise FormatError(f"{where}: expected a list of non-negative ints as shape (got {shape!r})")
    if not isinstance(obj["data"], str):
        raise FormatError(f"{where}: expected base64 text as data")
    try:
        raw = base64.b64decode(obj["data"], validate=True)
    except ValueError as exc:
        raise FormatError(f"{where}: data is not valid base64 ({exc})") from None
    count = math.prod(shape)
    if len(raw) != 8 * count:
        raise FormatError(f"{where}: expected {8 * count} bytes for shape {shape} (got {len(raw)})")
    return np.frombuffer(raw, dtype="<f8").astype(np.float64).reshape(shape)


def to_dict(genome: Genome) -> dict[str, Any]:
    """The JSON-ready dict form of ``genome`` (format version 1).

    Examples
    --------
    >>> import genomes
    >>> d = to_dict(genomes.minimal(3, 2))
    >>> d["format"], d["format_version"], [n["id"] for n in d["nodes"]]
    ('growagent.genome', 1, ['input', 'policy', 'value'])
    """
    nodes = []
    for n in genome.topological_order():
        d = genome.graph.nodes[n]
        entry: dict[str, Any] = {"id": n, "kind": d["kind"], "units": int(d["units"])}
        if d["kind"] != "input":
            entry["activation"] = d["activation"]
            entry["bias"] = encode_array(d["bias"])
        if "log_std" in d:
            entry["log_std"] = encode_array(d["log_std"])
        nodes.append(entry)
    edges = [
        {"source": u, "target": v, "weight": encode_array(genome.graph.edges[u, v]["weight"])}
        for u, v in sorted(genome.graph.edges, key=lambda e: (str(e[0]), str(e[1])))
    ]
    meta = {k: genome.meta[k] for k in sorted(genome.meta)}
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "meta": json.loads(json.dumps(meta, allow_nan=False, default=_json_default)),
        "nodes": nodes,
        "edges": edges,
    }


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    raise TypeError(f"Metadata value of type {type(obj).__name__} is not JSON serialisable")


def _require(obj: dict[str, Any], key: str, types: type | tuple[type, ...], where: str) -> Any:
    if key not in obj:
        raise FormatError(f"{where}: missing field {key!r}")
    value = obj[key]
    if not isinstance(value, types) or (
        isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,))
    ):
        raise FormatError(f"{where}: field {key!r} has the wrong type ({type(value).__name__})")
    return value


def _is_number(x: Any) -> bool:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    return isinstance(x, int) or math.isfinite(x)


def _check_meta(meta: dict[str, Any]) -> None:
    """Type-check the optional metadata fields (the spaces are checked by ``validate``)."""
    norm = meta.get("obs_norm")
    if norm is not None:
        if not isinstance(norm, dict):
            raise FormatError(f"meta.obs_norm: expected null or an object (got {norm!r:.60})")
        for key in ("mean", "var"):
            values = norm.get(key)
            if not isinstance(values, list) or not all(_is_number(x) for x in values):
                raise FormatError(f"meta.obs_norm.{key}: expected a list of finite numbers")
        if len(norm["mean"]) != len(norm["var"]) or any(x < 0 for x in norm["var"]):
            raise FormatError("meta.obs_norm: expected mean and var of equal length, var >= 0")
        for key in ("count", "clip", "epsilon"):
            if not _is_number(norm.get(key)):
                raise FormatError(f"meta.obs_norm.{key}: expected a finite number")
    lineage = meta.get("lineage", {})
    if not isinstance(lineage, dict):
        raise FormatError(f"meta.lineage: expected an object (got {lineage!r:.60})")
    for key in ("id", "operator"):
        if not isinstance(lineage.get(key), (str, type(None))):
            raise FormatError(f"meta.lineage.{key}: expected a string or null")
    parents = lineage.get("parents", [])
    if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
        raise FormatError("meta.lineage.parents: expected a list of strings")
    if not isinstance(lineage.get("params", {}), dict):
        raise FormatError("meta.lineage.params: expected an object")
    if not isinstance(meta.get("tags", {}), dict):
        raise FormatError("meta.tags: expected an object")


def _read_v1(data: dict[str, Any]) -> Genome:
    meta = _require(data, "meta", dict, "genome")
    _check_meta(meta)
    genome = Genome(meta=meta)
    nodes = _require(data, "nodes", list, "genome")
    edges = _require(data, "edges", list, "genome")
    for i, node in enumerate(nodes):
        where = f"nodes[{i}]"
        if not isinstance(node, dict):
            raise FormatError(f"{where}: expected an object")
        name = _require(node, "id", str, where)
        where = f"node {name!r}"
        if name in genome.graph:
            raise FormatError(f"{where}: duplicate node id")
        attrs: dict[str, Any] = {
            "kind": _require(node, "kind", str, where),
            "units": _require(node, "units", int, where),
            "activation": node.get("activation", "identity"),
        }
        if not isinstance(attrs["activation"], str):
            raise FormatError(f"{where}: field 'activation' has the wrong type")
        for key in ("bias", "log_std"):
            if key in node:
                attrs[key] = decode_array(node[key], f"{where} {key}")
        genome.graph.add_node(name, **attrs)
    for i, edge in enumerate(edges):
        where = f"edges[{i}]"
        if not isinstance(edge, dict):
            raise FormatError(f"{where}: expected an object")
        u = _require(edge, "source", str, where)
        v = _require(edge, "target", str, where)
        where = f"edge {u!r}->{v!r}"
        for end in (u, v):
            if end not in genome.graph:
                from genomes.errors import DanglingEdgeError

                raise DanglingEdgeError(f"Edge {u!r}->{v!r}: node {end!r} does not exist")
        if genome.graph.has_edge(u, v):
            raise FormatError(f"{where}: duplicate edge")
        genome.graph.add_edge(u, v, weight=decode_array(edge.get("weight"), f"{where} weight"))
    genome.validate()
    norm = genome.meta.get("obs_norm")
    if norm is not None and len(norm["mean"]) != genome.units(genome.input_node):
        raise FormatError(
            f"meta.obs_norm: expected {genome.units(genome.input_node)} means and variances, "
            f"one per input unit (got {len(norm['mean'])})"
        )
    return genome


_READERS[1] = _read_v1


def from_dict(data: Any) -> Genome:
    """Build and validate a genome from :func:`to_dict`'s output (any known version).

    Raises
    ------
    FormatError
        When the structure is not a genome file of a known version.
    InvalidGenomeError
        When it is, but the genome breaks a rule.
    """
    if not isinstance(data, dict):
        raise FormatError(f"Expected a JSON object at the top level (got {type(data).__name__})")
    if data.get("format") != FORMAT_NAME:
        raise FormatError(f"Expected format {FORMAT_NAME!r} (got {data.get('format')!r})")
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version not in _READERS:
        raise FormatError(f"Expected format_version in {sorted(_READERS)} (got {version!r})")
    return _READERS[version](data)


def dumps(genome: Genome) -> str:
    """The genome as a JSON string."""
    return json.dumps(to_dict(genome), indent=1, allow_nan=False)


MAX_FILE_BYTES = 64 * 2**20
"""The largest genome file :func:`load` reads (64 MiB, far above any agent this
package searches: a million float64 weights take 11 MB of base64)."""

MAX_DEPTH = 32
"""The deepest nesting of JSON arrays and objects a genome file may hold
(a genome needs 5; metadata tags get the rest)."""


def _check_depth(data: Any) -> None:
    """Raise FormatError if ``data`` nests deeper than :data:`MAX_DEPTH` (walked iteratively)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children = (
            value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        )
        for child in children:
            if isinstance(child, (dict, list)):
                if depth >= MAX_DEPTH:
                    raise FormatError(f"Expected JSON nested at most {MAX_DEPTH} levels deep")
                stack.append((child, depth + 1))


def loads(text: str | bytes) -> Genome:
    """Parse a genome from a JSON string (validated; never runs code).

    Raises
    ------
    FormatError
        For text that is not JSON, nests deeper than :data:`MAX_DEPTH`
        levels or holds NaN, infinity or an integer of more than 4300 digits.
    InvalidGenomeError
        For a well-formed file whose genome breaks a rule.
    """
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FormatError(f"Not valid JSON: {exc}") from None
    except FormatError:  # NaN or infinity (a ValueError, so caught before the next one)
        raise
    except RecursionError:  # the C parser recurses once per level
        raise FormatError(f"Expected JSON nested at most {MAX_DEPTH} levels deep") from None
    except ValueError:  # an integer beyond Python's int-string conversion limit
        raise FormatError("Not valid JSON: an integer of more than 4300 digits") from None
    _check_depth(data)
    return from_dict(data)


def _reject_constant(name: str) -> float:
    raise FormatError(f"Expected finite numbers (got {name})")


def save(genome: Genome, path: str | Path) -> Path:
    """Write ``genome`` as JSON, atomically (a crash never leaves half a file).

    Examples
    --------
    >>> import genomes, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "g.json")
    >>> g = genomes.minimal(3, 2)
    >>> genomes.load(genomes.save(g, p)).structural_hash() == g.structural_hash()
    True
    """
    path = Path(path)
    text = dumps(genome)
    path.parent.mkdir(parents=True, exist_ok=True)
    # not mkstemp, which makes the file 0600: O_EXCL gives the same safety and
    # the umask applies, as it does for open(path, "w")
    tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _read_regular_file(path: Path) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_FILE_BYTES`.

    A FIFO, a device or a directory raises FormatError before it is read
    (a FIFO would block, ``/dev/zero`` never ends). The file is opened
    non-blocking and checked again, so a FIFO swapped in after the first
    check cannot block either.
    """
    _check_regular(path, os.stat(path))
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        _check_regular(path, os.fstat(fd))
        data = f.read(MAX_FILE_BYTES + 1)
    _check_regular(path, None, len(data))  # it grew since the check
    return data


def _check_regular(path: Path, st: os.stat_result | None, size: int | None = None) -> None:
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO, socket or device"
        raise FormatError(f"{path}: expected a regular file (got {kind})")
    size = st.st_size if st is not None else size
    if size is not None and size > MAX_FILE_BYTES:
        raise FormatError(
            f"{path}: expected a genome file of at most {MAX_FILE_BYTES // 2**20} MiB "
            f"(got {size} bytes)"
        )


def load(path: str | Path) -> Genome:
    """Read a genome file written by :func:`save`.

    Only a regular file of at most :data:`MAX_FILE_BYTES` (64 MiB) is read: a
    FIFO, a device or a directory is refused before reading.

    Raises
    ------
    FormatError, InvalidGenomeError
        With a message naming the file and the problem.
    """
    path = Path(path)
    try:
        text = _read_regular_file(path)
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return loads(text)
    except GenomeError as exc:
        raise type(exc)(f"{path}: {exc}") from None


def to_node_link(genome: Genome) -> dict[str, Any]:
    """Node-link JSON (weights as nested lists), every networkx key explicit.

    Examples
    --------
    >>> import genomes
    >>> sorted(to_node_link(genomes.minimal(2, 2)))
    ['directed', 'edges', 'graph', 'meta', 'multigraph', 'nodes']
    """
    g = nx.DiGraph()
    for n, d in genome.graph.nodes(data=True):
        g.add_node(n, **{k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in d.items()})
    for u, v, w in genome.graph.edges(data="weight"):
        g.add_edge(u, v, weight=np.asarray(w).tolist())
    data: dict[str, Any] = nx.node_link_data(
        g, source="source", target="target", name="id", key="key", edges="edges"
    )
    data["meta"] = json.loads(json.dumps(genome.meta, default=_json_default))
    return data


def write_graphml(genome: Genome, path: str | Path) -> Path:
    """GraphML export; arrays are stored as JSON text attributes."""
    g = nx.DiGraph()
    for n, d in genome.graph.nodes(data=True):
        attrs = {
            k: (json.dumps(v.tolist()) if isinstance(v, np.ndarray) else v) for k, v in d.items()
        }
        g.add_node(str(n), **attrs)
    for u, v, w in genome.graph.edges(data="weight"):
        g.add_edge(str(u), str(v), weight=json.dumps(np.asarray(w).tolist()))
    path = Path(path)
    nx.write_graphml(g, path, named_key_ids=True)
    return path

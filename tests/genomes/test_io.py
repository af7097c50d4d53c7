"""Save/load: bitwise round trips, exports, and malformed files."""

from __future__ import annotations

import base64
import copy
import json
import os
import stat
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest

import genomes
from genomes import FormatError, Genome, GenomeError
from genomes.testing import random_genome


def assert_identical(a: Genome, b: Genome) -> None:
    assert set(a.graph.nodes) == set(b.graph.nodes)
    assert set(a.graph.edges) == set(b.graph.edges)
    for n, d in a.graph.nodes(data=True):
        e = b.graph.nodes[n]
        assert set(d) == set(e)
        for key in ("kind", "units", "activation"):
            assert d.get(key) == e.get(key)
        for key in ("bias", "log_std"):
            if key in d:
                assert e[key].dtype == np.float64
                assert d[key].tobytes() == e[key].tobytes()
    for u, v, w in a.graph.edges(data="weight"):
        assert w.tobytes() == b.graph.edges[u, v]["weight"].tobytes()
    assert a.meta == b.meta


def with_meta(g: Genome) -> Genome:
    g.meta["obs_norm"] = {
        "mean": [0.1] * g.units(g.input_node),
        "var": [2.5] * g.units(g.input_node),
        "count": 1234.0,
        "clip": 10.0,
        "epsilon": 1e-8,
    }
    g.meta["lineage"] = {
        "id": "g42",
        "parents": ["g7"],
        "operator": "widen",
        "params": {"units": 2},
    }
    g.meta["tags"] = {"env": "CartPole-v1", "note": "ünïcode ok"}
    return g


def test_round_trip_is_bitwise_for_random_genomes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for i in range(100):
        g = with_meta(random_genome(rng, random_names=bool(i % 2), weight_scale=3.0))
        text = genomes.dumps(g)
        back = genomes.loads(text)
        assert_identical(g, back)
        assert genomes.dumps(back) == text
        assert genomes.from_dict(genomes.to_dict(g)).to_dict() == genomes.to_dict(g)
    path = genomes.save(g, tmp_path / "sub" / "g.json")
    assert_identical(g, genomes.load(path))
    assert g.save(tmp_path / "h.json").read_text() == path.read_text()


def test_extreme_floats_survive() -> None:
    g = genomes.minimal(2, 2)
    w = g.graph.edges["input", "policy"]["weight"]
    w[:] = [[5e-324, -0.0], [np.finfo(np.float64).max, 1 / 3]]
    back = genomes.loads(genomes.dumps(g))
    assert back.graph.edges["input", "policy"]["weight"].tobytes() == w.tobytes()


def test_file_is_versioned_human_readable_json() -> None:
    d = json.loads(genomes.dumps(genomes.minimal(3, 2)))
    assert d["format"] == "growagent.genome"
    assert d["format_version"] == genomes.FORMAT_VERSION == 1
    assert set(d) == {"format", "format_version", "meta", "nodes", "edges"}
    assert d["nodes"][1] == {
        "id": "policy",
        "kind": "policy",
        "units": 2,
        "activation": "identity",
        "bias": {"dtype": "float64", "shape": [2], "data": base64.b64encode(bytes(16)).decode()},
    }
    assert set(d["edges"][0]) == {"source", "target", "weight"}


def valid_dict() -> dict[str, Any]:
    return genomes.to_dict(genomes.mlp(3, 2, hidden=[4]))


def set_path(d: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    d = copy.deepcopy(d)
    target: Any = d
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return d


BAD_TEXTS = {
    "not json": "{nodes: [",
    "empty": "",
    "top-level list": "[]",
    "bad utf-8": b"\xff\xfe{",
    "NaN literal": json.dumps(valid_dict()).replace('"units": 4', '"units": NaN', 1),
    "Infinity literal": json.dumps(valid_dict()).replace('"units": 4', '"units": Infinity', 1),
}


@pytest.mark.parametrize("name", sorted(BAD_TEXTS))
def test_malformed_text_gives_format_error(name: str) -> None:
    with pytest.raises(FormatError):
        genomes.loads(BAD_TEXTS[name])


def b64(n: int) -> str:
    return base64.b64encode(bytes(n)).decode()


BAD_DICTS: dict[str, tuple[tuple[Any, ...], Any, str]] = {
    "wrong version": (("format_version",), 99, "format_version"),
    "version as string": (("format_version",), "1", "format_version"),
    "wrong format name": (("format",), "keras", "format"),
    "bad base64": (("edges", 0, "weight", "data"), "!!not base64!!", "base64"),
    "wrong byte count": (("edges", 0, "weight", "data"), b64(8), "bytes"),
    "wrong dtype": (("edges", 0, "weight", "dtype"), "float32", "dtype"),
    "negative shape": (("nodes", 1, "bias", "shape"), [-4], "shape"),
    "units as string": (("nodes", 1, "units"), "4", "units"),
    "units as bool": (("nodes", 1, "units"), True, "units"),
    "id not a string": (("nodes", 1, "id"), 7, "id"),
    "node not an object": (("nodes", 1), "h0", r"nodes\[1\]"),
    "nodes not a list": (("nodes",), {"h0": 1}, "nodes"),
    "weight missing": (("edges", 0, "weight"), None, "weight"),
    "meta not an object": (("meta",), [], "meta"),
    "activation not a string": (("nodes", 1, "activation"), 3, "activation"),
}


@pytest.mark.parametrize("name", sorted(BAD_DICTS))
def test_malformed_structure_gives_format_error(name: str) -> None:
    path, value, needle = BAD_DICTS[name]
    bad = set_path(valid_dict(), path, value)
    with pytest.raises(FormatError, match=needle):
        genomes.from_dict(bad)
    with pytest.raises(FormatError):
        genomes.loads(json.dumps(bad))


def test_duplicate_node_and_edge_are_format_errors() -> None:
    d = valid_dict()
    d["nodes"].append(copy.deepcopy(d["nodes"][1]))
    with pytest.raises(FormatError, match="duplicate node"):
        genomes.from_dict(d)
    d = valid_dict()
    d["edges"].append(copy.deepcopy(d["edges"][0]))
    with pytest.raises(FormatError, match="duplicate edge"):
        genomes.from_dict(d)


def test_invalid_genome_in_a_valid_file_is_named() -> None:
    d = valid_dict()
    d["edges"][0]["target"] = "ghost"
    with pytest.raises(genomes.DanglingEdgeError, match="ghost"):
        genomes.from_dict(d)
    d = valid_dict()
    d["nodes"][1]["activation"] = "swish2"
    with pytest.raises(genomes.ActivationError, match="swish2"):
        genomes.from_dict(d)


def test_load_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{")
    with pytest.raises(FormatError, match=r"broken\.json"):
        genomes.load(path)
    with pytest.raises(FormatError, match="cannot read"):
        genomes.load(tmp_path / "missing.json")


JUNK: list[Any] = [None, 0, -1, 1.5, True, "", "x", [], {}, [1, 2], {"a": 1}, 10**30]


def mutate(obj: Any, rng: np.random.Generator) -> Any:
    """Replace or delete one random leaf or container in a JSON tree."""
    obj = copy.deepcopy(obj)
    parent: Any = None
    key: Any = None
    node = obj
    while isinstance(node, (dict, list)) and node and rng.random() < 0.75:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        parent, key = node, keys[int(rng.integers(len(keys)))]
        node = node[key]
    if parent is None:
        return JUNK[int(rng.integers(len(JUNK)))]
    if rng.random() < 0.3 and isinstance(parent, dict):
        del parent[key]
    else:
        parent[key] = copy.deepcopy(JUNK[int(rng.integers(len(JUNK)))])
    return obj


def test_fuzzed_files_raise_only_genome_errors() -> None:
    rng = np.random.default_rng(1)
    source = genomes.to_dict(with_meta(random_genome(rng, min_hidden=2, continuous=True)))
    outcomes = {"ok": 0, "error": 0}
    for _ in range(400):
        bad = source
        for _ in range(int(rng.integers(1, 4))):
            bad = mutate(bad, rng)
        try:
            g = genomes.loads(json.dumps(bad))
        except GenomeError:
            outcomes["error"] += 1
        else:
            g.validate()
            outcomes["ok"] += 1
    assert outcomes["error"] > 200


def test_node_link_export_names_every_key() -> None:
    g = random_genome(np.random.default_rng(3), min_hidden=2)
    data = genomes.to_node_link(g)
    json.dumps(data, allow_nan=False)
    assert "edges" in data and "links" not in data
    back = nx.node_link_graph(
        data, source="source", target="target", name="id", key="key", edges="edges"
    )
    assert set(back.edges) == set(g.graph.edges)
    u, v = next(iter(g.graph.edges))
    assert np.array_equal(np.array(back.edges[u, v]["weight"]), g.graph.edges[u, v]["weight"])
    assert data["meta"]["action_space"] == g.meta["action_space"]


def test_graphml_export(tmp_path: Path) -> None:
    g = random_genome(np.random.default_rng(4), min_hidden=2)
    path = genomes.write_graphml(g, tmp_path / "g.graphml")
    back = nx.read_graphml(path)
    assert set(back.nodes) == {str(n) for n in g.graph.nodes}
    assert set(back.edges) == {(str(u), str(v)) for u, v in g.graph.edges}
    for n, d in back.nodes(data=True):
        assert d["kind"] == g.graph.nodes[n]["kind"]
        assert int(d["units"]) == g.units(n)


@pytest.mark.parametrize(
    ("norm", "needle"),
    [
        (
            {"mean": [0.0], "var": [1.0], "count": 1.0, "clip": 5.0, "epsilon": 1e-8},
            "one per input",
        ),
        ({"mean": [0.0] * 3, "var": [-1.0] * 3, "count": 1.0, "clip": 5.0, "epsilon": 1e-8}, "var"),
        ({"mean": [0.0] * 3, "var": [1.0] * 3, "count": 1.0, "clip": 5.0}, "epsilon"),
        ([0.0], "obs_norm"),
    ],
)
def test_bad_obs_norm_is_a_format_error(norm: Any, needle: str) -> None:
    d = valid_dict()
    d["meta"]["obs_norm"] = norm
    with pytest.raises(FormatError, match=needle):
        genomes.from_dict(d)


def test_obs_norm_and_lineage_round_trip() -> None:
    g = with_meta(genomes.mlp(3, 2, hidden=[4]))
    back = genomes.loads(genomes.dumps(g))
    assert back.meta["obs_norm"] == g.meta["obs_norm"]
    assert back.id == "g42" and back.meta["lineage"]["parents"] == ["g7"]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_save_writes_with_the_umask_mode_and_leaves_no_temp_file(
    tmp_path: Path, umask: int, mode: int
) -> None:
    old = os.umask(umask)
    try:
        path = genomes.save(genomes.minimal(3, 2), tmp_path / "g.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode  # as open(path, "w") would give
    assert [p.name for p in tmp_path.iterdir()] == ["g.json"]


# ------------------------------------------------- hostile files (issue 15, item 6)
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "g.json"
    os.mkfifo(fifo)
    with pytest.raises(FormatError, match="expected a regular file"):
        genomes.load(fifo)  # before the fix: blocks forever waiting for a writer


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/null"])
def test_a_device_is_refused_without_reading(path: str) -> None:
    with pytest.raises(FormatError, match="expected a regular file"):
        genomes.load(path)  # before the fix: /dev/zero read until memory ran out


def test_a_directory_is_a_format_error(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="expected a regular file"):
        genomes.load(tmp_path)


def test_a_file_over_the_size_cap_is_refused(tmp_path: Path, monkeypatch: Any) -> None:
    from genomes import io

    path = genomes.save(genomes.minimal(2, 2), tmp_path / "g.json")
    monkeypatch.setattr(io, "MAX_FILE_BYTES", path.stat().st_size - 1)
    with pytest.raises(FormatError, match="at most"):
        genomes.load(path)


@pytest.mark.parametrize("depth", [40, 1_000, 100_000])
def test_deeply_nested_json_is_a_format_error(depth: int) -> None:
    text = "[" * depth + "]" * depth
    with pytest.raises(FormatError, match="nested"):
        genomes.loads(text)  # before the fix: RecursionError from 1000 levels on
    d = genomes.to_dict(genomes.minimal(2, 2))
    deep: Any = 1
    for _ in range(depth if depth < 1000 else 40):
        deep = {"x": deep}
    d["meta"]["tags"]["deep"] = deep
    with pytest.raises(FormatError, match="nested"):
        genomes.loads(json.dumps(d))


def test_an_integer_too_long_to_read_is_a_format_error() -> None:
    with pytest.raises(FormatError, match="4300 digits"):
        genomes.loads('{"format": ' + "9" * 5000 + "}")


def _box_file(low: Any, high: Any) -> str:
    g = genomes.minimal(3, {"type": "box", "shape": [2]})
    d = genomes.to_dict(g)
    d["meta"]["action_space"].update(low=low, high=high)
    return json.dumps(d)


@pytest.mark.parametrize(
    "low, high, needle",
    [
        (["-1", "-1"], [1, 1], "finite numbers as 'low'"),
        ([-1], [1], "2 finite numbers as 'low'"),
        ([-1, -1], [1, 1, 1], "2 finite numbers as 'high'"),
        ([2, 2], [-2, -2], "low <= high"),
        ([-1, True], [1, 1], "finite numbers"),
        ([-1, 1e308 * 10], [1, 1], None),  # json writes Infinity: not JSON
        (None, [1, 1], "finite numbers as 'low'"),
    ],
)
def test_action_bounds_are_validated(low: Any, high: Any, needle: str | None) -> None:
    if needle is None:
        with pytest.raises(FormatError, match="finite"):
            genomes.loads(_box_file(low, high))
        return
    with pytest.raises(GenomeError, match=needle):
        genomes.loads(_box_file(low, high))


def test_good_action_bounds_load() -> None:
    g = genomes.loads(_box_file([-2, -1.5], [2, 1.5]))
    assert g.action_space["low"] == [-2, -1.5]

import sqlite3

import pytest

import genomes
from growagent.archive import Archive, ArchiveError


def _genome(gid, hidden=(4,), parent=None):
    g = genomes.mlp(4, 2, hidden=list(hidden))
    g.meta["lineage"] = {
        "id": gid,
        "parents": [parent] if parent else [],
        "operator": "widen",
        "params": {"node": "h0"},
    }
    return g


def test_genomes_assessments_generations_round_trip(tmp_path):
    path = tmp_path / "archive.sqlite"
    with Archive(path) as a:
        a.set_meta("config", {"env": "CartPole-v1"})
        g = _genome("a1")
        a.add_genome(g, generation=0)
        a.add_genome(_genome("a2", (8,), parent="a1"), generation=1)
        a.add_assessment("a1", 0, 7, {"status": "ok", "return_mean": 99.5, "wall_time": 1.0})
        a.add_assessment("a2", 1, 8, {"status": "failed", "error": "NaN reward"})
        a.add_generation(0, ["a1"], ["a1"], {"ret_max": 99.5}, {"state": {"state": 2**100}})
    # a second connection, read-only, sees everything that was committed
    with Archive(path, readonly=True) as r:
        assert r.get_meta("config") == {"env": "CartPole-v1"}
        assert genomes.dumps(r.genome("a1")) == genomes.dumps(g)
        rows = list(r.assessments())
        assert [row["status"] for row in rows] == ["ok", "failed"]
        assert rows[1]["error"] == "NaN reward"
        last = r.last_generation()
        assert last["population"] == ["a1"] and last["rng_state"]["state"]["state"] == 2**100
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    parent = db.execute("SELECT parent_id, operator FROM genomes WHERE id='a2'").fetchone()
    assert parent == ("a1", "widen")


def test_missing_and_foreign_files_are_clear_errors(tmp_path):
    with pytest.raises(ArchiveError, match="no archive here"):
        Archive(tmp_path / "nope.sqlite", readonly=True)
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(ArchiveError, match="not a growagent archive"):
        Archive(bad)


def test_genome_without_id_is_refused(tmp_path):
    with Archive(tmp_path / "a.sqlite") as a, pytest.raises(ArchiveError, match="lineage id"):
        a.add_genome(genomes.minimal(4, 2))
    with Archive(tmp_path / "a.sqlite") as a, pytest.raises(ArchiveError, match="no genome"):
        a.genome("zzz")


def test_read_only_open_handles_uri_characters_in_the_path(tmp_path):
    run = tmp_path / "exp#1 50%?"
    run.mkdir()
    with Archive(run / "archive.sqlite") as a:
        a.set_meta("config", {"x": 1})
    with Archive(run / "archive.sqlite", readonly=True) as r:
        assert r.get_meta("config") == {"x": 1}

import sqlite3

import numpy as np
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


# ------------------------------------------- corrupt archives (issue 15, item 6)
def _small_archive(path):
    with Archive(path) as a:
        a.set_meta("config", {"env": "CartPole-v1"})
        a.set_meta("champion", "a1")
        a.add_genome(_genome("a1"), generation=0)
        row = {"status": "ok", "return_mean": 9.0, "policy_params": 10, "policy_macs": 10}
        a.add_assessment("a1", 0, 7, row)
        a.add_evaluation("a1", "search", 7, [8.0, 10.0], generation=0)
        a.add_generation(0, ["a1"], ["a1"], {"ret_max": 9.0}, {})
        rng = np.random.default_rng(0).bit_generator.state
        a.checkpoint(0, "evolution", {"generation": 0, "rng": rng})
    return path


def _corrupt(path, sql, *args):
    db = sqlite3.connect(path)
    with db:
        db.execute(sql, args)
    db.close()


def _read_everything(path):
    with Archive(path, readonly=True) as a:
        a.get_meta("config"), a.get_meta("champion")
        a.scores(), a.generations(), a.last_step(), a.genome("a1"), a.ancestry("a1")


@pytest.mark.parametrize(
    "sql, args, needle",
    [
        (
            "UPDATE meta SET value = ? WHERE key = 'config'",
            ["{not json"],
            "table meta, row 'config'",
        ),
        ("UPDATE meta SET value = ? WHERE key = 'champion'", ["[1, 2]"], "row 'champion'"),
        ("UPDATE generations SET stats = ?", ["\x1b[2J{bad"], "column stats: not valid JSON"),
        ("UPDATE generations SET population = ?", ["[1, 2]"], "unexpected population"),
        ("UPDATE generations SET stats = ?", ['{"ret_max": "x"}'], "unexpected stats"),
        ("UPDATE assessments SET return_mean = ?", ["ninety"], "unexpected return_mean"),
        ("UPDATE assessments SET policy_params = NULL", [], "policy_params"),
        ("UPDATE assessments SET generation = 'x'", [], "unexpected generation"),
        ("UPDATE evaluations SET episodes = ?", [b"\xff\x00"], "unexpected episodes"),
        ("UPDATE genomes SET body = ?", ['{"format": 1}'], "table genomes, row 'a1': corrupt body"),
        ("UPDATE genomes SET body = ?", [b"\xfe\xff\x1b"], "unexpected body b'"),
        ("UPDATE genomes SET body = CAST(X'FEFF1B5B324A' AS TEXT)", [], "not valid UTF-8"),
        ("UPDATE steps SET state = ?", ['{"generation": 0, "rng": {"bit_generator": "X"}}'], "rng"),
        ("UPDATE steps SET state = ?", ["[" * 5000], "not valid JSON"),
    ],
)
def test_a_corrupt_row_is_an_archive_error_naming_it(tmp_path, sql, args, needle):
    path = _small_archive(tmp_path / "archive.sqlite")
    _read_everything(path)  # sound before the corruption
    _corrupt(path, sql, *args)
    with pytest.raises(ArchiveError, match=needle) as info:
        _read_everything(path)
    message = str(info.value)
    assert message.isprintable() and len(message) < 400  # no raw bytes, no escape codes


def test_a_damaged_database_file_is_an_archive_error(tmp_path):
    path = _small_archive(tmp_path / "archive.sqlite")
    data = bytearray(path.read_bytes())
    for i in range(4096, len(data), 97):  # every page after the first
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    with pytest.raises(ArchiveError):
        _read_everything(path)

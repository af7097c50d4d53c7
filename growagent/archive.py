"""The run archive: one SQLite database (WAL) per run directory.

Every genome, every assessment, every generation and the run config are
written as they arrive, each in its own transaction, so a killed run loses
nothing that finished. Resume, reports and the user all read the same file;
the schema is documented in ``docs/archive.md``.

    >>> import tempfile, genomes
    >>> a = Archive(tempfile.mkdtemp() + "/archive.sqlite")
    >>> g = genomes.minimal(4, 2)
    >>> g.meta["lineage"]["id"] = "g0"
    >>> a.add_genome(g, generation=0)
    >>> a.genome("g0").num_params()
    15
    >>> a.close()
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

import genomes
from genomes import Genome

SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS genomes (
    id TEXT PRIMARY KEY,
    parent_id TEXT,
    operator TEXT,
    operator_params TEXT,
    structural_hash TEXT NOT NULL,
    params INTEGER NOT NULL,
    policy_params INTEGER NOT NULL,
    policy_macs INTEGER NOT NULL,
    generation INTEGER,
    body TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS assessments (
    genome_id TEXT PRIMARY KEY REFERENCES genomes(id),
    generation INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    return_mean REAL,
    return_std REAL,
    policy_params INTEGER,
    policy_macs INTEGER,
    predicted REAL,
    attempts INTEGER NOT NULL,
    wall_time REAL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS evaluations (
    genome_id TEXT NOT NULL REFERENCES genomes(id),
    kind TEXT NOT NULL,
    seed INTEGER NOT NULL,
    episodes INTEGER NOT NULL,
    return_mean REAL NOT NULL,
    return_std REAL NOT NULL,
    generation INTEGER,
    created REAL NOT NULL,
    PRIMARY KEY (genome_id, kind, seed)
);
CREATE TABLE IF NOT EXISTS generations (
    generation INTEGER PRIMARY KEY,
    population TEXT NOT NULL,
    pareto TEXT NOT NULL,
    stats TEXT NOT NULL,
    rng_state TEXT NOT NULL,
    created REAL NOT NULL
);
"""


def pool(rows: list[dict[str, Any]]) -> tuple[float, float, int] | None:
    """Pool evaluation rows (``episodes``, ``return_mean``, ``return_std``) into one sample.

    Returns ``(mean, standard error, episodes)``, or None for no rows.

    Examples
    --------
    >>> rows = [dict(episodes=2, return_mean=1.0, return_std=1.0),
    ...         dict(episodes=2, return_mean=3.0, return_std=1.0)]
    >>> mean, se, n = pool(rows)  # the sample (0, 2, 2, 4)
    >>> mean, round(se, 4), n
    (2.0, 0.7071, 4)
    """
    n = sum(int(r["episodes"]) for r in rows)
    if n == 0:
        return None
    mean = sum(r["episodes"] * r["return_mean"] for r in rows) / n
    second = sum(r["episodes"] * (r["return_std"] ** 2 + r["return_mean"] ** 2) for r in rows) / n
    var = max(0.0, second - mean**2)
    return float(mean), float(np.sqrt(var / n)), n


class ArchiveError(RuntimeError):
    """The archive file is missing, locked or not a growagent archive."""


class Archive:
    """A run's SQLite archive.

    Parameters
    ----------
    path : str or Path
        Database file; created with the schema if missing.
    readonly : bool
        Open an existing archive for reading only.
    """

    def __init__(self, path: str | Path, readonly: bool = False):
        self.path = Path(path)
        if readonly and not self.path.exists():
            raise ArchiveError(f"{self.path}: no archive here")
        uri = self.path.resolve().as_uri() + "?mode=ro" if readonly else str(self.path)
        try:
            self.db = sqlite3.connect(uri, uri=readonly, timeout=30.0)
            if not readonly:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.executescript(SCHEMA)
                with self.db:
                    self.db.execute(
                        "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                        (str(SCHEMA_VERSION),),
                    )
                    # Version 1 had no evaluations table; the schema script just added it.
                    self.db.execute(
                        "UPDATE meta SET value = ? WHERE key = 'schema_version' AND value = '1'",
                        (str(SCHEMA_VERSION),),
                    )
            version = self.get_meta("schema_version")
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(f"{self.path}: not a growagent archive ({exc})") from None
        if version not in ("1", str(SCHEMA_VERSION)):
            raise ArchiveError(
                f"{self.path}: expected schema version {SCHEMA_VERSION} (got {version!r})"
            )
        self._has_evaluations = version != "1"

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ meta
    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON value under ``key`` (config, teacher id, status...)."""
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                (key, json.dumps(value, sort_keys=True)),
            )

    def get_meta(self, key: str, default: Any = None) -> Any:
        """The JSON value under ``key`` (the schema version is stored as text)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            return default
        if key == "schema_version":
            return row[0]
        return json.loads(row[0])

    # --------------------------------------------------------------- genomes
    def add_genome(
        self, genome: Genome, generation: int | None = None, replace: bool = False
    ) -> None:
        """Insert a genome; if its id is already there, keep the old row unless ``replace``.

        ``replace=True`` stores a genome's trained weights over its untrained
        version (Lamarckian inheritance).
        """
        lineage = genome.meta["lineage"]
        gid = lineage.get("id")
        if not gid:
            raise ArchiveError("Expected a genome with a lineage id (got none)")
        parents = lineage.get("parents") or []
        with self.db:
            self.db.execute(
                f"INSERT OR {'REPLACE' if replace else 'IGNORE'} INTO genomes "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    gid,
                    parents[0] if parents else None,
                    lineage.get("operator"),
                    json.dumps(lineage.get("params", {}), sort_keys=True),
                    genome.structural_hash(),
                    genome.num_params(),
                    genome.num_params("policy"),
                    genome.macs("policy"),
                    generation,
                    genomes.dumps(genome),
                    time.time(),
                ),
            )

    def genome(self, genome_id: str) -> Genome:
        """Load a genome by id."""
        row = self.db.execute("SELECT body FROM genomes WHERE id = ?", (genome_id,)).fetchone()
        if row is None:
            raise ArchiveError(f"{self.path}: no genome with id {genome_id!r}")
        return genomes.loads(row[0])

    def has_genome(self, genome_id: str) -> bool:
        """Whether a genome with this id is stored."""
        q = "SELECT 1 FROM genomes WHERE id = ?"
        return self.db.execute(q, (genome_id,)).fetchone() is not None

    # ----------------------------------------------------------- assessments
    def add_assessment(
        self, genome_id: str, generation: int, seed: int, row: dict[str, Any]
    ) -> None:
        """Record one assessment; ``row`` holds status, error, return_mean, ..."""
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO assessments VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    genome_id,
                    generation,
                    seed,
                    row["status"],
                    row.get("error"),
                    row.get("return_mean"),
                    row.get("return_std"),
                    row.get("policy_params"),
                    row.get("policy_macs"),
                    row.get("predicted"),
                    row.get("attempts", 1),
                    row.get("wall_time"),
                    time.time(),
                ),
            )

    def assessment(self, genome_id: str) -> dict[str, Any] | None:
        """The assessment row of a genome as a dict, or None."""
        cur = self.db.execute("SELECT * FROM assessments WHERE genome_id = ?", (genome_id,))
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([c[0] for c in cur.description], row, strict=True))

    def assessments(self) -> Iterator[dict[str, Any]]:
        """Every assessment row, in insertion order."""
        cur = self.db.execute("SELECT * FROM assessments ORDER BY rowid")
        names = [c[0] for c in cur.description]
        for row in cur:
            yield dict(zip(names, row, strict=True))

    # ----------------------------------------------------------- evaluations
    def add_evaluation(
        self,
        genome_id: str,
        kind: str,
        seed: int,
        returns: list[float],
        generation: int | None = None,
    ) -> None:
        """Record the returns of ``len(returns)`` episodes from ``seed`` on.

        ``kind`` is ``search`` (the assessment's own episodes), ``reeval``
        (further episodes of the same common sequence, for survivors) or
        ``heldout`` (unseen episodes, after the search).
        """
        arr = np.asarray(returns, dtype=np.float64)
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO evaluations VALUES (?,?,?,?,?,?,?,?)",
                (
                    genome_id,
                    kind,
                    int(seed),
                    int(arr.size),
                    float(arr.mean()),
                    float(arr.std()),
                    generation,
                    time.time(),
                ),
            )

    def evaluations(
        self, genome_id: str | None = None, kinds: tuple[str, ...] | None = None
    ) -> list[dict[str, Any]]:
        """Evaluation rows (all, or one genome's), optionally of some kinds only, oldest first."""
        if not self._has_evaluations:
            return []
        q, args = "SELECT * FROM evaluations", []
        where = []
        if genome_id is not None:
            where.append("genome_id = ?")
            args.append(genome_id)
        if kinds is not None:
            where.append(f"kind IN ({','.join('?' * len(kinds))})")
            args.extend(kinds)
        if where:
            q += " WHERE " + " AND ".join(where)
        cur = self.db.execute(q + " ORDER BY rowid", args)
        names = [c[0] for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur]

    def pooled_return(
        self, genome_id: str, kinds: tuple[str, ...] = ("search", "reeval")
    ) -> tuple[float, float, int] | None:
        """Mean, standard error and number of episodes over a genome's evaluations of ``kinds``.

        Blocks are pooled as one sample (means weighted by episodes; the
        variance from the blocks' second moments). None if there is none.
        """
        return pool(self.evaluations(genome_id, kinds))

    # ----------------------------------------------------------- generations
    def add_generation(
        self,
        generation: int,
        population: list[str],
        pareto: list[str],
        stats: dict[str, Any],
        rng_state: dict[str, Any],
    ) -> None:
        """Record a finished generation: the checkpoint resume starts from."""
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO generations VALUES (?,?,?,?,?,?)",
                (
                    generation,
                    json.dumps(population),
                    json.dumps(pareto),
                    json.dumps(stats, sort_keys=True),
                    json.dumps(rng_state, sort_keys=True),
                    time.time(),
                ),
            )

    def generations(self) -> list[dict[str, Any]]:
        """Every finished generation, oldest first, JSON fields decoded."""
        cur = self.db.execute("SELECT * FROM generations ORDER BY generation")
        names = [c[0] for c in cur.description]
        out = []
        for row in cur:
            d = dict(zip(names, row, strict=True))
            for key in ("population", "pareto", "stats", "rng_state"):
                d[key] = json.loads(d[key])
            out.append(d)
        return out

    def last_generation(self) -> dict[str, Any] | None:
        """The newest finished generation, or None."""
        gens = self.generations()
        return gens[-1] if gens else None

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
import math
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import genomes
from genomes import Genome

SCHEMA_VERSION = 3

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
CREATE TABLE IF NOT EXISTS steps (
    step INTEGER PRIMARY KEY,
    generation INTEGER NOT NULL,
    strategy TEXT NOT NULL,
    state TEXT NOT NULL,
    created REAL NOT NULL
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


# ---------------------------------------------------------------- row layout
# What each column must hold when read back. A corrupt file (a flipped bit, a
# hand edit, a NULL or text where a number belongs) raises ArchiveError naming
# the table, the row and the column, never a TypeError deep in a report.

_Check = Callable[[Any], bool]


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_real(x: Any) -> bool:
    return (isinstance(x, float) and math.isfinite(x)) or (_is_int(x) and abs(x) < 2**63)


def _optional(check: _Check) -> _Check:
    return lambda x: x is None or check(x)


def _is_str(x: Any) -> bool:
    return isinstance(x, str)


def _is_ids(x: Any) -> bool:
    return isinstance(x, list) and all(isinstance(i, str) for i in x)


def _is_dict(x: Any) -> bool:
    return isinstance(x, dict)


_NUMERIC_STATS = ("gen", "nevals", "ret_max", "ret_median", "size_min", "size_median", "pred_tau")


def _is_stats(x: Any) -> bool:
    """A generation's statistics: numbers (the plotted ones), None or text."""
    return (
        isinstance(x, dict)
        and all(v is None or _is_real(v) or isinstance(v, str) for v in x.values())
        and all(_optional(_is_real)(x.get(k)) for k in _NUMERIC_STATS)
    )


def _is_heldout(x: Any) -> bool:
    return (
        isinstance(x, dict)
        and _is_real(x.get("mean"))
        and _optional(_is_real)(x.get("se"))
        and _is_int(x.get("episodes"))
    )


def _is_rng_state(x: Any) -> bool:
    """A NumPy bit generator's state (``bit_generator.state``) that NumPy accepts."""
    if not isinstance(x, dict) or not isinstance(x.get("bit_generator"), str):
        return False
    try:
        rng = np.random.default_rng()
        rng.bit_generator.state = x
    except (TypeError, ValueError, KeyError, OverflowError):
        return False
    return True


_COLUMNS: dict[str, dict[str, _Check]] = {
    "genomes": {
        "id": _is_str,
        "parent_id": _optional(_is_str),
        "operator": _optional(_is_str),
        "structural_hash": _is_str,
        "params": _is_int,
        "policy_params": _is_int,
        "policy_macs": _is_int,
        "generation": _optional(_is_int),
        "body": _is_str,
        "created": _is_real,
    },
    "assessments": {
        "genome_id": _is_str,
        "generation": _is_int,
        "seed": _is_int,
        "status": _is_str,
        "error": _optional(_is_str),
        "return_mean": _optional(_is_real),
        "return_std": _optional(_is_real),
        "policy_params": _optional(_is_int),
        "policy_macs": _optional(_is_int),
        "predicted": _optional(_is_real),
        "attempts": _is_int,
        "wall_time": _optional(_is_real),
        "created": _is_real,
    },
    "evaluations": {
        "genome_id": _is_str,
        "kind": _is_str,
        "seed": _is_int,
        "episodes": lambda x: _is_int(x) and x >= 0,
        "return_mean": _is_real,
        "return_std": _is_real,
        "generation": _optional(_is_int),
        "created": _is_real,
    },
    "steps": {"step": _is_int, "generation": _is_int, "strategy": _is_str, "state": _is_dict},
    "generations": {
        "generation": _is_int,
        "population": _is_ids,
        "pareto": _is_ids,
        "stats": _is_stats,
        "rng_state": _is_dict,  # resume restores the generator from the step (checked there)
        "created": _is_real,
    },
}
"""Each table's columns and the check its value must pass (JSON columns after decoding)."""

_JSON_COLUMNS = {
    "genomes": ("operator_params",),
    "steps": ("state",),
    "generations": ("population", "pareto", "stats", "rng_state"),
}

_META: dict[str, _Check] = {
    "config": _is_dict,
    "status": _is_str,
    "champion": _is_str,
    "front": _is_ids,
    "polished": _is_ids,
    "champion_heldout": _is_heldout,
    "teacher_heldout": _is_heldout,
    "teacher_return": _is_real,
    "teacher_check": lambda x: (
        isinstance(x, dict) and all(_is_real(v) or isinstance(v, str) for v in x.values())
    ),
    "search_front": lambda x: (
        isinstance(x, dict) and _optional(_is_int)(x.get("step")) and _is_ids(x.get("ids"))
    ),
}
"""The meta keys growagent reads, and the check their (JSON) values must pass."""


def _shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: corrupt bytes are escaped, never echoed."""
    try:
        text = repr(value)
    except ValueError:  # an int beyond the int-string conversion limit
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _db_message(exc: sqlite3.DatabaseError) -> str:
    """SQLite's message, without the raw bytes it quotes from an undecodable cell."""
    text = str(exc)
    if text.startswith("Could not decode to UTF-8"):
        return "a text cell is not valid UTF-8"
    return text if text.isprintable() and len(text) <= 120 else _shown(text, 120)


def _decode_json(text: Any, where: str) -> Any:
    """A JSON column's value, or ArchiveError naming ``where``."""
    if not isinstance(text, (str, bytes)):
        raise ArchiveError(f"{where}: expected JSON text (got {_shown(text)})")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError, bad UTF-8, too deep, too long
        raise ArchiveError(f"{where}: not valid JSON ({_shown(text, 40)})") from None


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
    # x * x, not x ** 2: a huge value gives inf instead of OverflowError
    second = sum(
        r["episodes"] * (r["return_std"] * r["return_std"] + r["return_mean"] * r["return_mean"])
        for r in rows
    )
    var = max(0.0, second / n - mean * mean)
    return float(mean), float(np.sqrt(var / n)), n


@dataclass(frozen=True)
class Score:
    """One successful assessment as the search sees it (see :meth:`Archive.scores`)."""

    genome_id: str
    generation: int
    ret: float
    """Mean return pooled over the search and re-evaluation episodes."""
    se: float
    """Its standard error (NaN without evaluation rows)."""
    episodes: int
    blocks: int
    """Evaluation blocks pooled (1 after the assessment, 2 after a re-evaluation)."""
    params: int
    """Policy parameters."""
    macs: int
    """Policy multiply-accumulates."""
    predicted: float | None
    """The predictor's score given before assessment."""
    search_return: float
    """The assessment's own mean return (its first block)."""

    def size(self, objective: str) -> int:
        """The size objective's value: ``params`` or ``macs``."""
        return self.macs if objective == "macs" else self.params


def block(returns: list[float]) -> dict[str, Any]:
    """One evaluation block as stored: ``episodes``, ``return_mean``, ``return_std``."""
    arr = np.asarray(returns, dtype=np.float64)
    return {
        "episodes": int(arr.size),
        "return_mean": float(arr.mean()),
        "return_std": float(arr.std()),
    }


def _score(row: dict[str, Any], blocks: list[dict[str, Any]]) -> Score | None:
    if row["status"] != "ok" or row["return_mean"] is None:
        return None
    if row["policy_params"] is None or row["policy_macs"] is None:
        raise ArchiveError(
            f"table assessments, row {_shown(row['genome_id'], 40)}: "
            "expected policy_params and policy_macs for an ok assessment (got NULL)"
        )
    pooled = pool(blocks)
    ret, se, n = (float(row["return_mean"]), float("nan"), 0) if pooled is None else pooled
    return Score(
        genome_id=row["genome_id"],
        generation=row["generation"],
        ret=ret,
        se=se,
        episodes=n,
        blocks=len(blocks),
        params=int(row["policy_params"]),
        macs=int(row["policy_macs"]),
        predicted=row["predicted"],
        search_return=float(row["return_mean"]),
    )


class ArchiveError(RuntimeError):
    """The archive file is missing, locked, corrupt or not a growagent archive."""


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
                    # Versions 1 and 2 lacked the evaluations and steps tables; the
                    # schema script just added them.
                    self.db.execute(
                        "UPDATE meta SET value = ? WHERE key = 'schema_version' "
                        "AND value IN ('1', '2')",
                        (str(SCHEMA_VERSION),),
                    )
            version = self.get_meta("schema_version")
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(f"{self.path}: not a growagent archive ({exc})") from None
        if version not in ("1", "2", str(SCHEMA_VERSION)):
            raise ArchiveError(
                f"{self.path}: expected schema version {SCHEMA_VERSION} (got {version!r})"
            )
        self._has_evaluations = version != "1"
        self._has_steps = version == str(SCHEMA_VERSION)

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    # --------------------------------------------------------------- reading
    def _fetch(self, sql: str, args: Any = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and every row of a query; a damaged file raises ArchiveError."""
        try:
            cur = self.db.execute(sql, args)
            rows = cur.fetchall()
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(
                f"{self.path}: cannot read the archive ({_db_message(exc)})"
            ) from None
        return [c[0] for c in cur.description or ()], rows

    def _records(self, table: str, sql: str, args: Any = ()) -> list[dict[str, Any]]:
        """The rows of a query on ``table`` as dicts, JSON columns decoded, every column
        checked against :data:`_COLUMNS` (ArchiveError names the row and column)."""
        names, rows = self._fetch(sql, args)
        checks = _COLUMNS[table]
        out = []
        for row in rows:
            d = dict(zip(names, row, strict=True))
            where = f"{self.path}: table {table}, row {_shown(row[0], 40)}"
            for col in _JSON_COLUMNS.get(table, ()):
                if col in d:
                    d[col] = _decode_json(d[col], f"{where}, column {col}")
            for col, value in d.items():
                check = checks.get(col)
                if check is not None and not check(value):
                    raise ArchiveError(f"{where}: unexpected {col} {_shown(value)} (corrupt?)")
            out.append(d)
        return out

    def _write(self, sql: str, args: Any) -> None:
        """Run one statement in its own transaction; a damaged file raises ArchiveError."""
        try:
            with self.db:
                self.db.execute(sql, args)
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(
                f"{self.path}: cannot write the archive ({_db_message(exc)})"
            ) from None

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ meta
    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON value under ``key`` (config, teacher id, status...)."""
        self._write(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, sort_keys=True))
        )

    def get_meta(self, key: str, default: Any = None) -> Any:
        """The JSON value under ``key`` (the schema version is stored as text).

        A value that is not JSON, or not what growagent stores under a known
        key (:data:`_META`), raises ArchiveError.
        """
        _, rows = self._fetch("SELECT value FROM meta WHERE key = ?", (key,))
        if not rows:
            return default
        where = f"{self.path}: table meta, row {key!r}"
        if key == "schema_version":
            return rows[0][0]
        value = _decode_json(rows[0][0], where)
        check = _META.get(key)
        if check is not None and value is not None and not check(value):
            raise ArchiveError(f"{where}: unexpected value {_shown(value)} (corrupt?)")
        return value

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
        self._write(
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
        """Load a genome by id (ArchiveError if it is missing or its body is corrupt)."""
        rows = self._records("genomes", "SELECT id, body FROM genomes WHERE id = ?", (genome_id,))
        if not rows:
            raise ArchiveError(f"{self.path}: no genome with id {_shown(genome_id)}")
        try:
            return genomes.loads(rows[0]["body"])
        except genomes.GenomeError as exc:
            raise ArchiveError(
                f"{self.path}: table genomes, row {_shown(genome_id, 40)}: "
                f"corrupt body ({_shown(str(exc), 100)})"
            ) from None

    def ancestry(self, genome_id: str) -> dict[str, Any] | None:
        """A genome's ``id``, ``parent``, ``operator``, ``size`` (policy parameters),
        ``generation`` and assessed ``ret`` (None if not assessed), or None."""
        rows = self._records(
            "genomes",
            "SELECT g.id, g.parent_id, g.operator, g.policy_params, g.generation, "
            "a.return_mean AS ret FROM genomes g LEFT JOIN assessments a ON a.genome_id = g.id "
            "WHERE g.id = ?",
            (genome_id,),
        )
        if not rows:
            return None
        r = rows[0]
        if not _optional(_is_real)(r["ret"]):
            raise ArchiveError(
                f"{self.path}: table assessments, row {_shown(genome_id, 40)}: "
                f"unexpected return_mean {_shown(r['ret'])} (corrupt?)"
            )
        return {
            "id": r["id"],
            "parent": r["parent_id"],
            "operator": r["operator"],
            "size": r["policy_params"],
            "generation": r["generation"],
            "ret": r["ret"],
        }

    def has_genome(self, genome_id: str) -> bool:
        """Whether a genome with this id is stored."""
        return bool(self._fetch("SELECT 1 FROM genomes WHERE id = ?", (genome_id,))[1])

    # ----------------------------------------------------------- assessments
    def add_assessment(
        self, genome_id: str, generation: int, seed: int, row: dict[str, Any]
    ) -> None:
        """Record one assessment; ``row`` holds status, error, return_mean, ..."""
        self._write(
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
        q = "SELECT * FROM assessments WHERE genome_id = ?"
        rows = self._records("assessments", q, (genome_id,))
        return rows[0] if rows else None

    def assessments(self, generation: int | None = None) -> Iterator[dict[str, Any]]:
        """Every assessment row (of one generation), in insertion order."""
        q, args = "SELECT * FROM assessments", []
        if generation is not None:
            q, args = q + " WHERE generation = ?", [generation]
        yield from self._records("assessments", q + " ORDER BY rowid", args)

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
        b = block(returns)
        self._write(
            "INSERT OR REPLACE INTO evaluations VALUES (?,?,?,?,?,?,?,?)",
            (
                genome_id,
                kind,
                int(seed),
                b["episodes"],
                b["return_mean"],
                b["return_std"],
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
        return self._records("evaluations", q + " ORDER BY rowid", args)

    def pooled_return(
        self, genome_id: str, kinds: tuple[str, ...] = ("search", "reeval")
    ) -> tuple[float, float, int] | None:
        """Mean, standard error and number of episodes over a genome's evaluations of ``kinds``.

        Blocks are pooled as one sample (means weighted by episodes; the
        variance from the blocks' second moments). None if there is none.
        """
        return pool(self.evaluations(genome_id, kinds))

    def scores(self, upto_generation: int | None = None) -> list[Score]:
        """The successful assessments (up to a generation) with pooled returns, by genome id.

        The return is pooled over each genome's search and re-evaluation
        episodes (the assessment's own mean for an archive without them).
        """
        blocks: dict[str, list[dict[str, Any]]] = {}
        for row in self.evaluations(kinds=("search", "reeval")):
            blocks.setdefault(row["genome_id"], []).append(row)
        out = []
        for row in self.assessments():
            if upto_generation is not None and row["generation"] > upto_generation:
                continue
            score = _score(row, blocks.get(row["genome_id"], []))
            if score is not None:
                out.append(score)
        return sorted(out, key=lambda s: s.genome_id)

    def score(self, genome_id: str) -> Score | None:
        """One genome's :class:`Score` (None if it has no successful assessment)."""
        row = self.assessment(genome_id)
        if row is None:
            return None
        return _score(row, self.evaluations(genome_id, ("search", "reeval")))

    def structural_hashes(self, upto_generation: int | None = None) -> set[str]:
        """Structural hashes of the genomes made by the search (up to a generation)."""
        q = "SELECT structural_hash FROM genomes WHERE generation IS NOT NULL"
        args: tuple[int, ...] = ()
        if upto_generation is not None:
            q, args = q + " AND generation <= ?", (upto_generation,)
        return {r["structural_hash"] for r in self._records("genomes", q, args)}

    # ----------------------------------------------------------------- steps
    def checkpoint(
        self,
        step: int,
        strategy: str,
        state: dict[str, Any],
        generation: dict[str, Any] | None = None,
    ) -> None:
        """Record a finished step: the strategy's state (JSON) and, when the step closed a
        generation, that generation's record (``generation``, ``population``, ``pareto``,
        ``stats``, ``rng_state``), in one transaction."""
        try:
            with self.db:
                self.db.execute(
                    "INSERT OR REPLACE INTO steps VALUES (?,?,?,?,?)",
                    (
                        step,
                        int(state["generation"]),
                        strategy,
                        json.dumps(state, sort_keys=True, allow_nan=False),
                        time.time(),
                    ),
                )
                if generation is not None:
                    self._add_generation(**generation)
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(
                f"{self.path}: cannot write the archive ({_db_message(exc)})"
            ) from None

    def last_step(self) -> dict[str, Any] | None:
        """The newest checkpointed step (``step``, ``generation``, ``strategy``, ``state``)."""
        if not self._has_steps:
            return None
        rows = self._records(
            "steps",
            "SELECT step, generation, strategy, state FROM steps ORDER BY step DESC LIMIT 1",
        )
        if not rows:
            return None
        rng = rows[0]["state"].get("rng")
        if rng is not None and not _is_rng_state(rng):
            raise ArchiveError(
                f"{self.path}: table steps, row {rows[0]['step']}: unexpected rng {_shown(rng)} "
                "(corrupt?)"
            )
        return rows[0]

    # ----------------------------------------------------------- generations
    def add_generation(
        self,
        generation: int,
        population: list[str],
        pareto: list[str],
        stats: dict[str, Any],
        rng_state: dict[str, Any],
    ) -> None:
        """Record a finished generation (the per-generation record reports read)."""
        try:
            with self.db:
                self._add_generation(generation, population, pareto, stats, rng_state)
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(
                f"{self.path}: cannot write the archive ({_db_message(exc)})"
            ) from None

    def _add_generation(
        self,
        generation: int,
        population: list[str],
        pareto: list[str],
        stats: dict[str, Any],
        rng_state: dict[str, Any],
    ) -> None:
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
        return self._records("generations", "SELECT * FROM generations ORDER BY generation")

    def last_generation(self) -> dict[str, Any] | None:
        """The newest finished generation, or None."""
        gens = self.generations()
        return gens[-1] if gens else None

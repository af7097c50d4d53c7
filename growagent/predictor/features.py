"""What the predictor knows about a child before it is assessed.

Under Lamarckian inheritance a child starts where its parent stood, so its
return is mostly its parent's return plus what the operator did. A
:class:`Sample` holds a genome (for the graph encoding, ``genome.to_pyg()``)
and the flat features of :data:`FEATURES`: the parent's measured return and
its standard error, the parent's distillation KL, the operator, the change in
policy and critic size, and the generation.

Everything is read from a run's archive and uses only what was known before
the child's generation began (evaluations of earlier generations), so a
resumed run builds exactly the same samples.

Returns are standardised per archive (by the mean and spread of its
assessments before the generation predicted), which makes archives of
different tasks comparable for a warm start.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

import operators
from genomes import Genome

if TYPE_CHECKING:
    from growagent.archive import Archive

POLISHED = ".polished"
"""Suffix of a polished agent's id (``<front agent id>.polished``); the evaluator makes
them, the predictor leaves them out (they are not children of the search)."""

OPERATORS = (*sorted(operators.REGISTRY), "firefly_grow")
"""Operators with their own one-hot column; any other (or none, a seed) is ``other``."""

FEATURES = (
    "has_parent",
    "parent_return",
    "parent_se",
    "parent_log_kl",
    "log_policy_params",
    "log_critic_params",
    "delta_log_policy",
    "delta_log_critic",
    "hidden_nodes",
    "generation",
    *(f"op_{name}" for name in OPERATORS),
    "op_other",
)
"""Column names of :meth:`Sample.vector`, in order."""


@dataclass
class Sample:
    """One genome as the predictor sees it (``target`` is None until assessed)."""

    genome: Genome
    generation: int
    operator: str | None = None
    parent_return: float | None = None
    parent_se: float | None = None
    parent_kl: float | None = None
    parent_policy_params: int | None = None
    parent_critic_params: int | None = None
    target: float | None = None
    """The assessment's return on its own episodes (what the screen predicts)."""
    id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def vector(self, centre: float, spread: float) -> np.ndarray:
        """The flat features, returns standardised by ``(r - centre) / spread``."""
        g = self.genome
        policy = g.num_params("policy")
        critic = g.num_params() - policy
        has_parent = self.parent_return is not None
        ret = (self.parent_return - centre) / spread if has_parent else 0.0  # type: ignore[operator]
        se = (self.parent_se or 0.0) / spread if has_parent else 0.0
        kl = math.log10(max(self.parent_kl, 1e-6)) if self.parent_kl is not None else 0.0
        pp = self.parent_policy_params or policy
        pc = self.parent_critic_params if self.parent_critic_params is not None else critic
        ops = [float(self.operator == name) for name in OPERATORS]
        ops.append(float(self.operator not in OPERATORS))
        return np.array(
            [
                float(has_parent),
                ret,
                se,
                kl,
                math.log2(1 + policy),
                math.log2(1 + critic),
                math.log2(1 + policy) - math.log2(1 + pp),
                math.log2(1 + critic) - math.log2(1 + pc),
                float(len(g.hidden_nodes)),
                math.log1p(self.generation),
                *ops,
            ]
        )


@dataclass
class Scale:
    """How returns are standardised: ``(r - centre) / spread``."""

    centre: float = 0.0
    spread: float = 1.0

    @classmethod
    def of(cls, targets: Iterable[float]) -> Scale:
        t = np.asarray(list(targets), dtype=np.float64)
        if t.size == 0:
            return cls()
        spread = float(t.std())
        return cls(float(t.mean()), spread if spread > 1e-9 else 1.0)


def matrix(samples: Sequence[Sample], scale: Scale) -> np.ndarray:
    """``[len(samples), len(FEATURES)]`` flat features."""
    if not samples:
        return np.zeros((0, len(FEATURES)))
    return np.stack([s.vector(scale.centre, scale.spread) for s in samples])


class ArchiveView:
    """Samples from a run's archive, with genomes loaded once.

    ``samples(before=g)`` are the assessed genomes of generations ``< g``;
    ``candidates(genomes, g)`` describes not-yet-assessed children of
    generation ``g``. Both read only evaluations made before generation ``g``.
    """

    def __init__(self, archive: Archive):
        self.archive = archive
        self._genomes: dict[str, Genome] = {}

    def genome(self, gid: str) -> Genome:
        if gid not in self._genomes:
            self._genomes[gid] = self.archive.genome(gid)
        return self._genomes[gid]

    def _returns(self, before: int | None) -> dict[str, tuple[float, float]]:
        """Each genome's pooled return and standard error over evaluations before ``before``."""
        from growagent.archive import pool

        blocks: dict[str, list[dict[str, Any]]] = {}
        for row in self.archive.evaluations(kinds=("search", "reeval")):
            gen = row["generation"]
            if before is None or gen is None or gen < before:
                blocks.setdefault(row["genome_id"], []).append(row)
        out = {}
        for gid, rows in blocks.items():
            # by episode block, not by insertion: a resumed run may write them in another order
            pooled = pool(sorted(rows, key=lambda r: (r["kind"], r["seed"])))
            if pooled is not None:
                out[gid] = (pooled[0], pooled[1])
        return out

    def _assessed(self, before: int | None) -> list[dict[str, Any]]:
        """Successful assessments before ``before``, by generation then id (not by
        insertion, which a resumed run may change)."""
        rows = [
            r
            for r in self.archive.assessments()
            if r["status"] == "ok"
            and r["return_mean"] is not None
            and not r["genome_id"].endswith(POLISHED)
            and (before is None or r["generation"] < before)
        ]
        return sorted(rows, key=lambda r: (r["generation"], r["genome_id"]))

    def _describe(
        self,
        genome: Genome,
        generation: int,
        returns: dict[str, tuple[float, float]],
        rows: dict[str, dict[str, Any]],
    ) -> Sample:
        lineage = genome.meta["lineage"]
        parents = lineage.get("parents") or []
        sample = Sample(genome, generation, operator=lineage.get("operator"), id=genome.id or "")
        parent = parents[0] if parents else None
        if parent is not None and parent in returns:
            sample.parent_return, sample.parent_se = returns[parent]
            pg = self.genome(parent)
            sample.parent_policy_params = pg.num_params("policy")
            sample.parent_critic_params = pg.num_params() - sample.parent_policy_params
            kl = pg.meta["tags"].get("distill_kl")
            sample.parent_kl = float(kl) if isinstance(kl, int | float) else None
        elif parent is not None and parent in rows:  # an archive without evaluations
            sample.parent_return = float(rows[parent]["return_mean"])
        return sample

    def samples(self, before: int | None = None) -> list[Sample]:
        """Assessed genomes of generations ``< before`` (all if None), with targets."""
        out = []
        by_id = {r["genome_id"]: r for r in self._assessed(None)}
        returns: dict[int, dict[str, tuple[float, float]]] = {}
        for r in self._assessed(before):
            gen = int(r["generation"])
            if gen not in returns:
                returns[gen] = self._returns(gen)
            s = self._describe(self.genome(r["genome_id"]), gen, returns[gen], by_id)
            s.target = float(r["return_mean"])
            s.extra["predicted"] = r["predicted"]
            out.append(s)
        return out

    def candidates(self, genomes_: Sequence[Genome], generation: int) -> list[Sample]:
        """Children of ``generation`` not yet assessed."""
        returns = self._returns(generation)
        by_id = {r["genome_id"]: r for r in self._assessed(generation)}
        return [self._describe(g, generation, returns, by_id) for g in genomes_]

    def scale(self, before: int | None = None) -> Scale:
        """The standardisation of this archive's returns before ``before``."""
        return Scale.of(float(r["return_mean"]) for r in self._assessed(before))

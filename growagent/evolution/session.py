"""The state of one run while it executes: teacher, assessment, screening, checkpoints.

:class:`RunSession` connects the DEAP loop to the rest: it sends individuals
through the executor as byte payloads and commits each result to the
archive, screens candidates with the predictor, and checkpoints every
generation. :mod:`growagent.runner` builds one per run or resume.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from deap import tools

import genomes
import operators
from genomes import Genome
from growagent.archive import Archive, pool
from growagent.assess import Assessment, TaskConfig
from growagent.config import RunConfig
from growagent.evolution.toolbox import GenomeIndividual, take_distinct
from growagent.executors import Executor
from growagent.mapping import ConfigError

TASK_FN = "growagent.assess:assess_bytes"
"""The executor task: JSON payload in, :class:`Assessment` JSON out."""
EVAL_FN = "growagent.assess:evaluate_bytes"
"""The executor task that only evaluates (re-evaluations and the held-out front)."""


def seed_genome(
    spec: str, env_id: str, env_spaces: tuple[Any, Any], index: int, activation: str
) -> Genome:
    obs, act = env_spaces
    if spec == "minimal":
        g = genomes.minimal(obs, act, seed=index)
    elif spec.startswith("mlp:"):
        try:
            hidden = [int(w) for w in spec[4:].split(",") if w.strip()]
        except ValueError:
            raise ConfigError(f"evolution.seeds: expected mlp:W1,W2,... (got {spec!r})") from None
        g = genomes.mlp(obs, act, hidden=hidden, activation=activation, seed=index)
    else:
        g = genomes.load(spec)
    g.meta["lineage"] = {
        "id": f"seed{index}",
        "parents": [],
        "operator": "seed",
        "params": {"spec": spec},
    }
    g.meta["tags"]["env"] = env_id
    return g


def assessment_seed(run_seed: int, genome_id: str) -> int:
    return (run_seed * 1_000_003 + zlib.crc32(genome_id.encode())) % (2**31)


class RunSession:
    """The state of one run while it executes (used by ``run`` and ``resume``)."""

    def __init__(self, cfg: RunConfig, run_dir: Path, quiet: bool):
        self.cfg = cfg
        self.run_dir = run_dir
        self.quiet = quiet
        self.archive = Archive(run_dir / "archive.sqlite")
        self.executor: Executor | None = None
        self.teacher: Genome | None = None
        self.teacher_dict: dict[str, Any] | None = None
        self.task: TaskConfig = cfg.assess

    def say(self, msg: str) -> None:
        if not self.quiet:
            print(msg, flush=True)

    # --------------------------------------------------------------- teacher
    def get_teacher(self) -> Genome:
        from growagent.distill.teacher import get_teacher, load_teacher
        from growagent.rl.ppo import zoo_config

        cfg = self.cfg
        cached = self.run_dir / "teacher.json"
        if cached.exists():
            teacher = genomes.load(cached)
        elif cfg.teacher.path:
            teacher = load_teacher(cfg.teacher.path)
        else:
            self.say(f"training the teacher: PPO {cfg.teacher.steps} steps on {cfg.env}")
            bar = progress(cfg.teacher.steps, "teacher", self.quiet, unit="step")

            def advance(entry: dict[str, float]) -> None:
                bar.update(min(int(entry["step"]), cfg.teacher.steps) - bar.n)

            try:
                teacher = get_teacher(
                    cfg.env,
                    cache_dir=self.run_dir / "cache",
                    total_steps=cfg.teacher.steps,
                    seed=cfg.seed,
                    hidden=tuple(cfg.teacher.hidden),
                    config=zoo_config(cfg.env),
                    callback=advance,
                )
            finally:
                bar.close()
        teacher.meta["lineage"] = {
            "id": "teacher",
            "parents": [],
            "operator": "teacher",
            "params": {},
        }
        teacher.meta["tags"]["env"] = cfg.env
        genomes.save(teacher, cached)
        self.archive.add_genome(teacher, generation=None)
        if self.archive.get_meta("teacher_return") is None:
            from growagent.rl.evaluate import evaluate

            ev = evaluate(
                teacher, cfg.env, episodes=self.task.eval_episodes, seed=self.task.eval_seed
            )
            self.archive.set_meta("teacher_return", ev.mean)
            self.say(
                f"teacher: return {ev.mean:.1f}, {teacher.num_params('policy')} policy parameters"
            )
        self.teacher = teacher
        self.teacher_dict = genomes.to_dict(teacher)
        self.prepare_teacher_states()
        return teacher

    @property
    def cache_dir(self) -> Path:
        """Where the run keeps what its workers share (the teacher states)."""
        return (self.run_dir / "cache").resolve()

    def prepare_teacher_states(self) -> None:
        """Collect the teacher's states once, before any worker needs them."""
        d = self.task.distill
        if d is None or self.teacher is None:
            return
        from growagent.distill.states import teacher_states

        teacher_states(
            self.teacher,
            self.cfg.env,
            d.teacher_states + d.probe_states,
            seed=d.teacher_seed,
            num_envs=d.num_envs,
            cache_dir=self.cache_dir,
        )

    # ------------------------------------------------------------- evaluate
    def size_of(self, g: Genome) -> int:
        if self.cfg.evolution.size_objective == "macs":
            return g.macs("policy")
        return g.num_params("policy")

    def evaluate(self, inds: list[GenomeIndividual], generation: int) -> None:
        """Assess individuals through the executor, committing each result."""
        todo: list[GenomeIndividual] = []
        for ind in inds:
            row = self.archive.assessment(ind.id)
            if row is not None:  # finished before an interruption: reuse it
                self._apply(ind, row)
            else:
                todo.append(ind)
        if not todo:
            return
        assert self.executor is not None
        payloads = [
            json.dumps(
                {
                    "genome": genomes.to_dict(ind.genome),
                    "task": self.task.to_dict(),
                    "seed": assessment_seed(self.cfg.seed, ind.id),
                    "teacher": self.teacher_dict,
                    "cache_dir": str(self.cache_dir),
                }
            ).encode()
            for ind in todo
        ]
        bar = progress(len(todo), f"gen {generation}", self.quiet)
        for result in self.executor.run(TASK_FN, payloads):
            ind = todo[result.index]
            seed = assessment_seed(self.cfg.seed, ind.id)
            if result.output is not None:
                a = Assessment.from_json(result.output.decode())
            else:
                a = Assessment("failed", error=str(result.error))
            trained = a.genome if a.status == "ok" and a.genome is not None else ind.genome
            trained.meta["lineage"] = ind.genome.meta["lineage"]
            self.archive.add_genome(trained, generation=generation, replace=True)
            row = {
                "status": a.status,
                "error": a.error,
                "return_mean": a.objectives.get("return"),
                "return_std": None if math.isnan(a.eval_std) else a.eval_std,
                "policy_params": trained.num_params("policy"),
                "policy_macs": trained.macs("policy"),
                "attempts": result.attempts,
                "wall_time": a.wall_time,
                "predicted": ind.predicted,
            }
            self.archive.add_assessment(ind.id, generation, seed, row)
            if a.status == "ok" and "eval_returns" in a.info:
                self.archive.add_evaluation(
                    ind.id, "search", self.task.eval_seed, a.info["eval_returns"], generation
                )
            self._apply(ind, self.archive.assessment(ind.id) or row)
            bar.update(1)
        bar.close()

    def _apply(self, ind: GenomeIndividual, row: dict[str, Any]) -> None:
        """Set an individual's trained genome and fitness from the archive.

        The return is the pooled mean over its search and re-evaluation
        episodes (the assessment's own mean for an archive without them).
        """
        if row["status"] != "ok" or row["return_mean"] is None:
            return
        ind.genome = self.archive.genome(ind.id)
        pooled = self.archive.pooled_return(ind.id)
        ret = float(row["return_mean"]) if pooled is None else pooled[0]
        ind.fitness.values = (ret, float(self.size_of(ind.genome)))

    def front(self, generation: int | None = None) -> list[GenomeIndividual]:
        """Non-dominated assessed agents of the archive (up to ``generation``) on pooled returns.

        Built from the archive rather than from an incrementally updated hall
        of fame, so re-evaluations made after a genome entered the front
        count. Sorted by size then return; of agents with equal return and
        size only the first id is kept.
        """
        inds = []
        for row in sorted(self.archive.assessments(), key=lambda r: r["genome_id"]):
            if row["status"] != "ok" or (generation is not None and row["generation"] > generation):
                continue
            ind = GenomeIndividual(self.archive.genome(row["genome_id"]))
            self._apply(ind, row)
            if ind.fitness.valid:
                inds.append(ind)
        if not inds:
            return []
        front = tools.sortNondominated(inds, len(inds), first_front_only=True)[0]
        out, seen = [], set()
        for ind in sorted(front, key=lambda i: (i.fitness.values[1], -i.fitness.values[0], i.id)):
            if ind.fitness.values not in seen:
                seen.add(ind.fitness.values)
                out.append(ind)
        return out

    # ---------------------------------------------------------- re-evaluate
    def reeval_seed(self, block: int) -> int:
        """First seed of re-evaluation block ``block`` (1, 2, ...): the common sequence goes on."""
        return self.task.eval_seed + block * self.task.eval_episodes

    def reevaluate(self, inds: list[GenomeIndividual], generation: int) -> None:
        """Give individuals evaluated on one block of episodes a second, fresh one.

        A child that scored high on the search's episodes by luck scores
        lower on new ones, and its pooled return falls before selection keeps
        it (the winner's curse of selecting on noisy means). Results are
        committed to the archive and reused on resume.
        """
        todo = []
        for ind in inds:
            if not ind.fitness.valid:
                continue
            done = self.archive.evaluations(ind.id, ("search", "reeval"))
            if len(done) < 2:
                todo.append(ind)
        if not todo:
            return
        assert self.executor is not None
        seed = self.reeval_seed(1)
        payloads = [self.eval_payload(ind.genome, self.task.eval_episodes, seed) for ind in todo]
        for result in self.executor.run(EVAL_FN, payloads):
            ind = todo[result.index]
            out = json.loads(result.output) if result.output is not None else None
            if out is None or out["status"] != "ok":
                continue  # keep the search estimate; the failure is not the genome's fitness
            self.archive.add_evaluation(ind.id, "reeval", seed, out["returns"], generation)
            self._apply(
                ind, self.archive.assessment(ind.id) or {"status": "missing", "return_mean": None}
            )

    def eval_payload(self, genome: Genome, episodes: int, seed: int) -> bytes:
        return json.dumps(
            {
                "genome": genomes.to_dict(genome),
                "env": self.cfg.env,
                "episodes": episodes,
                "seed": seed,
            }
        ).encode()

    def _heldout_rows(self, gid: str) -> list[dict[str, Any]]:
        rows = self.archive.evaluations(gid, ("heldout",))
        return [r for r in rows if r["seed"] == self.cfg.heldout_seed]

    def heldout(self, genome_ids: list[str]) -> dict[str, tuple[float, float]]:
        """Held-out mean and standard error of each genome, on ``heldout_episodes`` unseen episodes.

        Evaluations already in the archive are reused; new ones are committed.
        """
        cfg = self.cfg
        out: dict[str, tuple[float, float]] = {}
        todo = []
        for gid in genome_ids:
            rows = self._heldout_rows(gid)
            if rows and rows[0]["episodes"] == cfg.heldout_episodes:
                p = pool(rows)
                assert p is not None
                out[gid] = (p[0], p[1])
            else:
                todo.append(gid)
        if todo:
            assert self.executor is not None
            payloads = [
                self.eval_payload(self.archive.genome(g), cfg.heldout_episodes, cfg.heldout_seed)
                for g in todo
            ]
            bar = progress(len(todo), "held-out", self.quiet)
            for result in self.executor.run(EVAL_FN, payloads):
                gid = todo[result.index]
                res = json.loads(result.output) if result.output is not None else None
                bar.update(1)
                if res is None or res["status"] != "ok":
                    continue
                self.archive.add_evaluation(gid, "heldout", cfg.heldout_seed, res["returns"])
                p = pool(self._heldout_rows(gid))
                assert p is not None
                out[gid] = (p[0], p[1])
            bar.close()
        return out

    # ------------------------------------------------------------ predictor
    def screen(
        self, candidates: list[GenomeIndividual], k: int, *, generation: int, seen: set[str]
    ) -> list[GenomeIndividual]:
        """Rank candidates with a predictor trained on earlier generations; keep ``k``.

        Only assessments of generations before ``generation`` are used, so a
        resumed run trains exactly the same predictor.
        """
        from growagent.predictor import train_predictor

        pcfg = self.cfg.predictor
        rows = sorted(
            (
                r
                for r in self.archive.assessments()
                if r["status"] == "ok" and r["generation"] < generation
            ),
            key=lambda r: r["genome_id"],
        )
        returns = [float(r["return_mean"]) for r in rows]
        if len(rows) < pcfg.min_samples or len(set(returns)) < 2:
            return take_distinct(candidates, k, seen)
        predictor = train_predictor(
            [self.archive.genome(r["genome_id"]) for r in rows],
            returns,
            epochs=pcfg.epochs,
            hidden=pcfg.hidden,
            seed=self.cfg.seed + generation,
        )
        for ind, score in zip(candidates, predictor.score([c.genome for c in candidates])):
            ind.predicted = float(score)
        ranked = sorted(candidates, key=lambda c: -(c.predicted or 0.0))
        return take_distinct(ranked, k, seen)

    @staticmethod
    def screen_quality(offspring: list[GenomeIndividual]) -> dict[str, Any]:
        """Kendall tau between predictions (made before) and measured returns."""
        from growagent.predictor import kendall_tau

        pairs = [
            (ind.predicted, ind.fitness.values[0])
            for ind in offspring
            if ind.predicted is not None and ind.fitness.valid
        ]
        if len(pairs) < 3:
            return {}
        tau = kendall_tau([p for p, _ in pairs], [r for _, r in pairs])
        return {"pred_tau": None if np.isnan(tau) else round(tau, 4), "pred_n": len(pairs)}

    # ----------------------------------------------------------- checkpoint
    def checkpoint(
        self, rng: np.random.Generator, pareto: tools.ParetoFront
    ) -> Callable[[int, list[GenomeIndividual], tools.Logbook], None]:
        def hook(gen: int, population: list[GenomeIndividual], logbook: tools.Logbook) -> None:
            stats = dict(logbook[-1])
            front = self.front(gen)
            self.archive.add_generation(
                gen,
                [ind.id for ind in population],
                [ind.id for ind in front],
                stats,
                rng_state(rng),
            )
            best = max(ind.fitness.values[0] for ind in population)
            small = min(ind.fitness.values[1] for ind in population)
            self.say(
                f"gen {gen:3d}: best return {best:8.2f}  smallest policy {int(small)}  "
                f"front size {len(front)}"
            )

        return hook


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    state: dict[str, Any] = rng.bit_generator.state
    return json.loads(json.dumps(state))


def progress(total: int, desc: str, quiet: bool, unit: str = "agent") -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, disable=quiet, leave=False, unit=unit)


def run_stats() -> tools.Statistics:
    stats = tools.Statistics(key=lambda ind: ind.fitness.values)
    stats.register("ret_max", lambda v: float(max(x[0] for x in v)))
    stats.register("ret_median", lambda v: float(np.median([x[0] for x in v])))
    stats.register("size_min", lambda v: float(min(x[1] for x in v)))
    stats.register("size_median", lambda v: float(np.median([x[1] for x in v])))
    return stats


def limits_of(cfg: RunConfig) -> operators.Limits:
    return operators.Limits(
        max_params=cfg.evolution.max_params,
        max_hidden_nodes=cfg.evolution.max_hidden_nodes,
        max_units=cfg.evolution.max_units,
    )

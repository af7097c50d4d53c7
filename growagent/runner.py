"""Launch and resume runs: ``growagent.run(config) -> RunResult``.

A run directory holds ``archive.sqlite`` (the checkpoint and the record),
``config.toml`` (the resolved config), ``teacher.json``, ``pareto.json`` and
``report/``. Resume continues from the last finished generation in the
archive; assessments that finished after it are reused, not redone.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from deap import tools

import genomes
import operators
from genomes import Genome
from growagent.archive import Archive
from growagent.assess import Assessment, TaskConfig
from growagent.config import RunConfig, load_config
from growagent.evolution.loop import ea_mu_plus_lambda
from growagent.evolution.toolbox import (
    GenomeIndividual,
    build_toolbox,
    same_objectives,
    take_distinct,
)
from growagent.executors import Executor, make_executor
from growagent.mapping import ConfigError
from growagent.tomlwrite import dumps as toml_dumps

TASK_FN = "growagent.assess:assess_bytes"


@dataclass
class ParetoEntry:
    """One agent on the Pareto front."""

    genome: Genome
    ret: float
    size: int

    @property
    def id(self) -> str:
        """The genome's lineage id."""
        return str(self.genome.id)


@dataclass
class RunResult:
    """What a run returns.

    Attributes
    ----------
    run_dir : Path
        The run directory.
    pareto : list of ParetoEntry
        Non-dominated agents (return up, size down), smallest first.
    champion : ParetoEntry
        The smallest Pareto agent whose return is within ``champion_tolerance``
        (relative) of the best return on the front.
    archive : Path
        The SQLite archive (open it with :class:`growagent.archive.Archive`).
    logbook : deap.tools.Logbook
        Per-generation statistics.
    teacher_return : float | None
        The teacher's evaluation return, for reference.
    heldout : dict or None
        The champion's held-out evaluation: ``mean``, ``std``, ``episodes``.
    """

    run_dir: Path
    pareto: list[ParetoEntry]
    champion: ParetoEntry
    archive: Path
    logbook: Any = None
    teacher_return: float | None = None
    heldout: dict[str, float] | None = None


def _seed_genome(
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


def _assessment_seed(run_seed: int, genome_id: str) -> int:
    return (run_seed * 1_000_003 + zlib.crc32(genome_id.encode())) % (2**31)


class _Run:
    """The state of one run while it executes (used by :func:`run` and :func:`resume`)."""

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
            bar = _progress(cfg.teacher.steps, "teacher", self.quiet, unit="step")

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
        return teacher

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
                    "seed": _assessment_seed(self.cfg.seed, ind.id),
                    "teacher": self.teacher_dict,
                }
            ).encode()
            for ind in todo
        ]
        bar = _progress(len(todo), f"gen {generation}", self.quiet)
        for result in self.executor.run(TASK_FN, payloads):
            ind = todo[result.index]
            seed = _assessment_seed(self.cfg.seed, ind.id)
            if result.output is not None:
                a = Assessment.from_json(result.output.decode())
            else:
                a = Assessment.failure(str(result.error))
            trained = a.genome if a.status == "ok" and a.genome is not None else ind.genome
            trained.meta["lineage"] = ind.genome.meta["lineage"]
            self.archive.add_genome(trained, generation=generation, replace=True)
            row = {
                "status": a.status,
                "error": a.error,
                "return_mean": a.objectives.get("return"),
                "return_std": a.objectives.get("return_std"),
                "policy_params": trained.num_params("policy"),
                "policy_macs": trained.macs("policy"),
                "attempts": result.attempts,
                "wall_time": a.wall_time,
                "predicted": ind.predicted,
            }
            self.archive.add_assessment(ind.id, generation, seed, row)
            self._apply(ind, self.archive.assessment(ind.id) or row)
            bar.update(1)
        bar.close()

    def _apply(self, ind: GenomeIndividual, row: dict[str, Any]) -> None:
        if row["status"] != "ok" or row["return_mean"] is None:
            return
        ind.genome = self.archive.genome(ind.id)
        ind.fitness.values = (float(row["return_mean"]), float(self.size_of(ind.genome)))

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
            self.archive.add_generation(
                gen,
                [ind.id for ind in population],
                [ind.id for ind in pareto],
                stats,
                _rng_state(rng),
            )
            best = max(ind.fitness.values[0] for ind in population)
            small = min(ind.fitness.values[1] for ind in population)
            self.say(
                f"gen {gen:3d}: best return {best:8.2f}  smallest policy {int(small)}  "
                f"pareto size {len(pareto)}"
            )

        return hook


def _rng_state(rng: np.random.Generator) -> dict[str, Any]:
    state: dict[str, Any] = rng.bit_generator.state
    return json.loads(json.dumps(state))


def _progress(total: int, desc: str, quiet: bool, unit: str = "agent") -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, disable=quiet, leave=False, unit=unit)


def _stats() -> tools.Statistics:
    stats = tools.Statistics(key=lambda ind: ind.fitness.values)
    stats.register("ret_max", lambda v: float(max(x[0] for x in v)))
    stats.register("ret_median", lambda v: float(np.median([x[0] for x in v])))
    stats.register("size_min", lambda v: float(min(x[1] for x in v)))
    stats.register("size_median", lambda v: float(np.median([x[1] for x in v])))
    return stats


def _limits(cfg: RunConfig) -> operators.Limits:
    return operators.Limits(
        max_params=cfg.evolution.max_params,
        max_hidden_nodes=cfg.evolution.max_hidden_nodes,
        max_units=cfg.evolution.max_units,
    )


def run(
    config: str | Path | dict[str, Any] | RunConfig,
    *,
    out: str | Path | None = None,
    executor: str | None = None,
    workers: int | None = None,
    seed: int | None = None,
    quiet: bool = False,
) -> RunResult:
    """Run an evolution from a config (TOML path, dict or :class:`RunConfig`).

    Parameters
    ----------
    config : path, dict or RunConfig
    out : path, optional
        The run directory (default ``config.out / config.name``).
    executor, workers : optional
        Override ``[executor] kind`` and ``workers``.
    seed : int, optional
        Override the master seed.
    quiet : bool
        No progress output.

    Returns
    -------
    RunResult
    """
    cfg = load_config(config)
    if executor is not None:
        cfg.executor.kind = executor  # type: ignore[assignment]
    if workers is not None:
        cfg.executor.workers = workers
    if seed is not None:
        cfg.seed = seed
    run_dir = Path(out) if out is not None else cfg.run_dir
    _check_inputs(cfg)
    if (run_dir / "archive.sqlite").exists():
        raise FileExistsError(
            f"{run_dir} already holds a run; use 'growagent resume {run_dir}' or another --out"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.toml").write_text(toml_dumps(cfg.to_dict()), encoding="utf-8")
    state = _Run(cfg, run_dir, quiet)
    state.archive.set_meta("config", cfg.to_dict())
    state.archive.set_meta("status", "running")
    return _execute(state, resume_from=None)


def _check_inputs(cfg: RunConfig) -> None:
    """Fail fast, before anything is written, on a bad environment or teacher path."""
    from growagent.rl.envs import genome_spaces

    genome_spaces(cfg.env)
    if cfg.teacher.path and not Path(cfg.teacher.path).exists():
        raise FileNotFoundError(f"teacher.path: {cfg.teacher.path} does not exist")
    for spec in cfg.evolution.seeds:
        if spec != "minimal" and not spec.startswith("mlp:") and not Path(spec).exists():
            raise FileNotFoundError(
                f"evolution.seeds: {spec!r} is neither 'minimal', 'mlp:W,...' nor an existing file"
            )


def resume(
    run_dir: str | Path,
    *,
    executor: str | None = None,
    workers: int | None = None,
    generations: int | None = None,
    quiet: bool = False,
) -> RunResult:
    """Continue a run from its archive's last finished generation.

    ``generations`` raises the total number of generations (to extend a run
    that finished).
    """
    run_dir = Path(run_dir)
    path = run_dir / "archive.sqlite"
    if not path.exists():
        raise FileNotFoundError(f"{run_dir}: no archive.sqlite here; is this a run directory?")
    with Archive(path, readonly=True) as a:
        data = a.get_meta("config")
        last = a.last_generation()
    if data is None:
        raise ConfigError(f"{path}: the archive holds no run config")
    cfg = load_config(data)
    if executor is not None:
        cfg.executor.kind = executor  # type: ignore[assignment]
    if workers is not None:
        cfg.executor.workers = workers
    if generations is not None:
        cfg.evolution.generations = generations
    state = _Run(cfg, run_dir, quiet)
    state.archive.set_meta("config", cfg.to_dict())
    return _execute(state, resume_from=last)


def _execute(state: _Run, resume_from: dict[str, Any] | None) -> RunResult:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small networks: more threads only oversubscribe the cores
    try:
        return _evolve(state, resume_from)
    finally:
        torch.set_num_threads(threads)


def _evolve(state: _Run, resume_from: dict[str, Any] | None) -> RunResult:
    cfg = state.cfg
    from growagent.rl.envs import genome_spaces

    spaces = genome_spaces(cfg.env)
    state.get_teacher()
    rng = np.random.default_rng(cfg.seed)
    pareto = tools.ParetoFront(similar=same_objectives)
    stats = _stats()
    logbook = tools.Logbook()
    logbook.header = ["gen", "nevals", *stats.fields]
    toolbox = build_toolbox(
        rng=rng,
        evaluate=lambda inds: None,
        select=cfg.evolution.select,
        tournsize=cfg.evolution.tournsize,
        operator_weights=cfg.evolution.operator_weights or None,
        limits=_limits(cfg),
    )
    start_gen = 0
    if resume_from is None:
        population = [
            GenomeIndividual(_seed_genome(spec, cfg.env, spaces, i, cfg.evolution.seed_activation))
            for i, spec in enumerate(cfg.evolution.seeds)
        ]
        for ind in population:
            state.archive.add_genome(ind.genome, generation=0)
            toolbox.seen.add(ind.genome.structural_hash())
    else:
        start_gen = int(resume_from["generation"])
        population, restored = _restore(state, start_gen, resume_from, pareto, toolbox.seen)
        rng.bit_generator.state = resume_from["rng_state"]
        for record in restored:
            logbook.record(**record)
        state.say(f"resuming after generation {start_gen}")
    gen_holder = {"gen": start_gen}

    def evaluate(inds: list[GenomeIndividual]) -> None:
        state.evaluate(inds, gen_holder["gen"])

    def advance(gen: int, population: list[GenomeIndividual], lb: tools.Logbook) -> None:
        gen_holder["gen"] = gen + 1

    toolbox.register("evaluate", evaluate)
    if cfg.predictor.enabled:
        toolbox.register(
            "screen",
            lambda cands, k: state.screen(
                cands, k, generation=gen_holder["gen"], seen=toolbox.seen
            ),
        )
        toolbox.register("screen_quality", state.screen_quality)
        toolbox.screen_factor = cfg.predictor.screen_factor
    state.executor = make_executor(
        cfg.executor.kind,
        workers=cfg.executor.workers,
        timeout=cfg.executor.timeout,
        retries=cfg.executor.retries,
        address=cfg.executor.address,
    )
    if start_gen:
        gen_holder["gen"] = start_gen + 1
    try:
        population, logbook = ea_mu_plus_lambda(
            population,
            toolbox,
            mu=cfg.evolution.mu,
            lambda_=cfg.evolution.offspring,
            ngen=cfg.evolution.generations,
            rng=rng,
            stats=stats,
            halloffame=pareto,
            start_gen=start_gen,
            logbook=logbook,
            hooks=[state.checkpoint(rng, pareto), advance],
        )
    finally:
        state.executor.close()
    result = _result(state, list(pareto), logbook)
    state.archive.set_meta("status", "finished")
    state.archive.close()
    return result


def _restore(
    state: _Run,
    last_gen: int,
    last: dict[str, Any],
    pareto: tools.ParetoFront,
    seen: set[str],
) -> tuple[list[GenomeIndividual], list[dict[str, Any]]]:
    archive = state.archive
    rows = archive.db.execute(
        "SELECT id, structural_hash FROM genomes WHERE generation IS NOT NULL AND generation <= ?",
        (last_gen,),
    ).fetchall()
    seen.update(h for _, h in rows)
    # Rebuild the Pareto front in the order results arrived (as the original run did)
    for row in archive.assessments():
        if row["generation"] > last_gen or row["status"] != "ok":
            continue
        ind = GenomeIndividual(archive.genome(row["genome_id"]))
        state._apply(ind, row)
        pareto.update([ind])
    population = []
    for gid in last["population"]:
        ind = GenomeIndividual(archive.genome(gid))
        state._apply(ind, archive.assessment(gid) or {"status": "missing", "return_mean": None})
        population.append(ind)
    records = [g["stats"] for g in archive.generations() if g["generation"] <= last_gen]
    return population, records


def _result(state: _Run, front: list[GenomeIndividual], logbook: tools.Logbook) -> RunResult:
    entries = sorted(
        (
            ParetoEntry(ind.genome, ind.fitness.values[0], int(ind.fitness.values[1]))
            for ind in front
        ),
        key=lambda e: (e.size, -e.ret),
    )
    if not entries:
        raise RuntimeError("No agent was assessed successfully; see the archive's errors")
    best = max(e.ret for e in entries)
    threshold = best - state.cfg.evolution.champion_tolerance * abs(best)
    champion = next(e for e in entries if e.ret >= threshold)
    run_dir = state.run_dir
    genomes.save(champion.genome, run_dir / "champion.json")
    (run_dir / "pareto.json").write_text(
        json.dumps([{"id": e.id, "return": e.ret, "size": e.size} for e in entries], indent=1),
        encoding="utf-8",
    )
    state.archive.set_meta("champion", champion.id)
    heldout = None
    if state.cfg.heldout_episodes > 0:
        from growagent.rl.evaluate import evaluate

        ev = evaluate(
            champion.genome,
            state.cfg.env,
            episodes=state.cfg.heldout_episodes,
            seed=state.cfg.heldout_seed,
        )
        heldout = {"mean": ev.mean, "std": ev.std, "episodes": state.cfg.heldout_episodes}
        state.archive.set_meta("champion_heldout", heldout)
    return RunResult(
        run_dir=run_dir,
        pareto=entries,
        champion=champion,
        archive=run_dir / "archive.sqlite",
        logbook=logbook,
        teacher_return=state.archive.get_meta("teacher_return"),
        heldout=heldout,
    )

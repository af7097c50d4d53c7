"""Launch and resume runs: ``growagent.run(config) -> RunResult``.

A run directory holds ``archive.sqlite`` (the checkpoint and the record),
``config.toml`` (the resolved config), ``teacher.json``, ``pareto.json`` and
``report/``. Resume continues from the last finished generation in the
archive; assessments that finished after it are reused, not redone.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from deap import tools

import genomes
from genomes import Genome
from growagent.archive import Archive
from growagent.config import RunConfig, load_config
from growagent.evolution.loop import EvolutionError, ea_mu_plus_lambda
from growagent.evolution.session import (
    RunSession,
    limits_of,
    run_stats,
    seed_genome,
)
from growagent.evolution.toolbox import GenomeIndividual, build_toolbox, same_objectives
from growagent.executors import make_executor
from growagent.mapping import ConfigError
from growagent.tomlwrite import dumps as toml_dumps


@dataclass
class ParetoEntry:
    """One agent on the Pareto front."""

    genome: Genome
    ret: float
    """The search's return: pooled over its search and re-evaluation episodes."""
    size: int
    se: float = float("nan")
    """Standard error of ``ret``."""
    heldout: float | None = None
    """Mean return on the run's held-out episodes (None if not evaluated)."""
    heldout_se: float | None = None
    """Standard error of ``heldout``."""

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
        The smallest agent of the final front whose held-out return is within
        ``champion_tolerance`` (relative) of the front's best held-out return
        (of the best search return when ``heldout_episodes = 0``).
    archive : Path
        The SQLite archive (open it with :class:`growagent.archive.Archive`).
    logbook : deap.tools.Logbook
        Per-generation statistics.
    teacher_return : float | None
        The teacher's return on the search's episodes, for reference.
    heldout : dict or None
        The champion's held-out evaluation: ``mean``, ``se``, ``episodes``.
    teacher_heldout : dict or None
        The teacher's held-out evaluation on the same episodes.
    """

    run_dir: Path
    pareto: list[ParetoEntry]
    champion: ParetoEntry
    archive: Path
    logbook: Any = None
    teacher_return: float | None = None
    heldout: dict[str, float] | None = None
    teacher_heldout: dict[str, float] | None = None


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
    cfg = _override(cfg, executor=executor, workers=workers, seed=seed)
    run_dir = Path(out) if out is not None else cfg.run_dir
    _check_inputs(cfg)
    if (run_dir / "archive.sqlite").exists():
        raise FileExistsError(
            f"{run_dir} already holds a run; use 'growagent resume {run_dir}' or another --out"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.toml").write_text(toml_dumps(cfg.to_dict()), encoding="utf-8")
    state = RunSession(cfg, run_dir, quiet)
    state.archive.set_meta("config", cfg.to_dict())
    state.archive.set_meta("status", "running")
    return _execute(state, resume_from=None)


def _override(
    cfg: RunConfig,
    *,
    executor: str | None = None,
    workers: int | None = None,
    seed: int | None = None,
    generations: int | None = None,
) -> RunConfig:
    """Apply command-line overrides through the dataclasses, so they are validated too."""
    ex: dict[str, Any] = {}
    if executor is not None:
        ex["kind"] = executor
    if workers is not None:
        ex["workers"] = workers
    changes: dict[str, Any] = {"executor": dataclasses.replace(cfg.executor, **ex)}
    if seed is not None:
        changes["seed"] = seed
    if generations is not None:
        changes["evolution"] = dataclasses.replace(cfg.evolution, generations=generations)
    return dataclasses.replace(cfg, **changes)


def _check_inputs(cfg: RunConfig) -> None:
    """Fail fast, before anything is written, on a bad environment or teacher path."""
    from growagent.rl.envs import genome_spaces

    obs, act = genome_spaces(cfg.env)
    if cfg.teacher.path and not Path(cfg.teacher.path).exists():
        raise FileNotFoundError(f"teacher.path: {cfg.teacher.path} does not exist")
    if cfg.teacher.path.endswith(".json"):
        teacher = genomes.load(cfg.teacher.path)
        got = (teacher.observation_space.get("shape"), teacher.action_space)
        if list(got[0] or []) != list(obs["shape"]) or _act_key(got[1]) != _act_key(act):
            raise ConfigError(
                f"teacher.path: {cfg.teacher.path} is for observations {got[0]} and actions "
                f"{_act_key(got[1])}, but {cfg.env} has {obs['shape']} and {_act_key(act)}"
            )
    for spec in cfg.evolution.seeds:
        if spec != "minimal" and not spec.startswith("mlp:") and not Path(spec).exists():
            raise FileNotFoundError(
                f"evolution.seeds: {spec!r} is neither 'minimal', 'mlp:W,...' nor an existing file"
            )


def _act_key(space: dict[str, Any]) -> str:
    if space.get("type") == "discrete":
        return f"Discrete({space['n']})"
    return f"Box{tuple(space.get('shape', []))}"


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
    cfg = _override(cfg, executor=executor, workers=workers, generations=generations)
    state = RunSession(cfg, run_dir, quiet)
    state.archive.set_meta("config", cfg.to_dict())
    return _execute(state, resume_from=last)


def _execute(state: RunSession, resume_from: dict[str, Any] | None) -> RunResult:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small networks: more threads only oversubscribe the cores
    try:
        return _evolve(state, resume_from)
    finally:
        torch.set_num_threads(threads)


def _evolve(state: RunSession, resume_from: dict[str, Any] | None) -> RunResult:
    cfg = state.cfg
    from growagent.rl.envs import genome_spaces

    spaces = genome_spaces(cfg.env)
    state.get_teacher()
    rng = np.random.default_rng(cfg.seed)
    pareto = tools.ParetoFront(similar=same_objectives)
    stats = run_stats()
    logbook = tools.Logbook()
    logbook.header = ["gen", "nevals", *stats.fields]
    toolbox = build_toolbox(
        rng=rng,
        evaluate=lambda inds: None,
        select=cfg.evolution.select,
        tournsize=cfg.evolution.tournsize,
        operator_weights=cfg.evolution.operator_weights or None,
        limits=limits_of(cfg),
        critic_share=cfg.evolution.critic_share,
    )
    start_gen = 0
    if resume_from is None:
        population = [
            GenomeIndividual(seed_genome(spec, cfg.env, spaces, i, cfg.evolution.seed_activation))
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
    if cfg.evolution.reevaluate:
        toolbox.register("reevaluate", lambda inds: state.reevaluate(inds, gen_holder["gen"]))
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
    if resume_from is not None:  # the next generation to make is the one after the checkpoint
        gen_holder["gen"] = start_gen + 1
    try:
        population, logbook = _loop(
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
            state=state,
        )
        result = _result(state, logbook)
    finally:
        state.executor.close()
    state.archive.set_meta("status", "finished")
    state.archive.close()
    return result


def _loop(*args: Any, state: RunSession, **kwargs: Any) -> Any:
    """The DEAP loop, with a failed seed population explained from the archive."""
    try:
        return ea_mu_plus_lambda(*args, **kwargs)
    except EvolutionError as exc:
        errors = [r["error"] for r in state.archive.assessments() if r["error"]]
        reason = f" (first error: {errors[0].splitlines()[0]})" if errors else ""
        raise EvolutionError(f"{exc}{reason}") from None


def _restore(
    state: RunSession,
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
    # Rebuild the Pareto front as the loop built it: generation by generation, in id order
    rows = [r for r in archive.assessments() if r["generation"] <= last_gen and r["status"] == "ok"]
    for row in sorted(rows, key=lambda r: (r["generation"], r["genome_id"])):
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


def final_front(state: RunSession) -> list[ParetoEntry]:
    """The run's front (see :meth:`RunSession.front`) as entries, smallest first."""
    entries = []
    for ind in state.front():
        pooled = state.archive.pooled_return(ind.id)
        se = pooled[1] if pooled is not None else float("nan")
        ret, size = ind.fitness.values
        entries.append(ParetoEntry(ind.genome, ret, int(size), se=se))
    return entries


def _result(state: RunSession, logbook: tools.Logbook) -> RunResult:
    entries = final_front(state)
    if not entries:
        raise RuntimeError("No agent was assessed successfully; see the archive's errors")
    cfg = state.cfg
    teacher_heldout = None
    if cfg.heldout_episodes > 0:
        ids = [e.id for e in entries] + (["teacher"] if state.teacher is not None else [])
        held = state.heldout(ids)
        for e in entries:
            if e.id in held:
                e.heldout, e.heldout_se = held[e.id]
        if "teacher" in held:
            mean, se = held["teacher"]
            teacher_heldout = {"mean": mean, "se": se, "episodes": cfg.heldout_episodes}
            state.archive.set_meta("teacher_heldout", teacher_heldout)
    judged = [e for e in entries if e.heldout is not None]
    if judged:  # the champion is chosen on unseen episodes, not on the search's own
        best = max(e.heldout for e in judged if e.heldout is not None)
        threshold = best - cfg.evolution.champion_tolerance * abs(best)
        champion = next(e for e in judged if e.heldout is not None and e.heldout >= threshold)
    else:
        best = max(e.ret for e in entries)
        threshold = best - cfg.evolution.champion_tolerance * abs(best)
        champion = next(e for e in entries if e.ret >= threshold)
    run_dir = state.run_dir
    genomes.save(champion.genome, run_dir / "champion.json")
    (run_dir / "pareto.json").write_text(
        json.dumps(
            [
                {
                    "id": e.id,
                    "return": e.ret,
                    "return_se": None if e.se != e.se else e.se,
                    "heldout": e.heldout,
                    "heldout_se": e.heldout_se,
                    "size": e.size,
                }
                for e in entries
            ],
            indent=1,
        ),
        encoding="utf-8",
    )
    state.archive.set_meta("champion", champion.id)
    state.archive.set_meta("front", [e.id for e in entries])
    heldout = None
    if champion.heldout is not None:
        heldout = {
            "mean": champion.heldout,
            "se": champion.heldout_se,
            "episodes": cfg.heldout_episodes,
        }
        state.archive.set_meta("champion_heldout", heldout)
    return RunResult(
        run_dir=run_dir,
        pareto=entries,
        champion=champion,
        archive=run_dir / "archive.sqlite",
        logbook=logbook,
        teacher_return=state.archive.get_meta("teacher_return"),
        heldout=heldout,
        teacher_heldout=teacher_heldout,
    )

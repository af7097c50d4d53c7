"""Launch and resume searches: ``growagent.run(config) -> RunResult``.

A run directory holds ``archive.sqlite`` (the checkpoint and the record),
``config.toml`` (the resolved config), ``teacher.json``, ``pareto.json`` and
``report/``. Resume continues from the last checkpointed step in the
archive; assessments that finished after it are reused, not redone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from deap import tools

import genomes
from genomes import Genome, GenomeError
from growagent.archive import Archive, ArchiveError
from growagent.config import RunConfig, check_registered, load_archived_config, load_config
from growagent.executors import make_executor
from growagent.mapping import ConfigError
from growagent.search.base import Context, seed_genome
from growagent.search.driver import drive, make_strategy
from growagent.search.evaluator import Evaluator, limits_of
from growagent.search.evolution import EvolutionError
from growagent.search.reporters import Reporter, default_reporters


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
    env: str | Callable[..., Any] | None = None,
    out: str | Path | None = None,
    executor: str | None = None,
    workers: int | None = None,
    seed: int | None = None,
    strategy: str | None = None,
    quiet: bool = False,
    reporters: Sequence[Reporter] = (),
) -> RunResult:
    """Run a search from a config (TOML path, dict or :class:`RunConfig`).

    Parameters
    ----------
    config : path, dict or RunConfig
        Its ``env`` may be an env factory (a module-level function or class), as
        ``env`` below.
    env : str or callable, optional
        Override the config's env: a reference string, or a module-level env factory,
        which worker processes import by its ``module:name`` (a lambda or a nested
        function raises ConfigError). The reference is what the run's config records.
    out : path, optional
        The run directory (default ``config.out / config.name``).
    executor, workers : optional
        Override ``[executor] kind`` and ``workers``.
    seed : int, optional
        Override the master seed.
    strategy : str, optional
        Override ``[search] strategy`` (``evolution``, ``random``, ``firefly``, ``metaqnn``).
    quiet : bool
        No progress output.
    reporters : sequence of Reporter
        Extra :class:`growagent.search.reporters.Reporter` s (the checkpoint, and the
        console and progress bars unless ``quiet``, are always there).

    Returns
    -------
    RunResult
    """
    if isinstance(config, dict) and callable(config.get("env")):
        config = {**config, "env": _reference(config["env"])}
    cfg = load_config(config)
    if env is not None or not isinstance(cfg.env, str):
        cfg = dataclasses.replace(cfg, env=_reference(cfg.env if env is None else env))
    cfg = _override(cfg, executor=executor, workers=workers, seed=seed, strategy=strategy)
    _check_env_reaches_workers(cfg)
    run_dir = Path(out) if out is not None else cfg.run_dir
    check_registered(cfg)
    _check_inputs(cfg)  # everything that can be checked is, before the first byte is written
    _check_new_run_dir(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with _locked(run_dir):
        _check_new_run_dir(run_dir)  # again, now that no other process can write here
        _create_archive(run_dir, cfg)
        return _execute(cfg, run_dir, resume=False, quiet=quiet, reporters=reporters)


LEFTOVERS = {".lock", "archive.sqlite.new", "archive.sqlite.new-journal", "archive.sqlite.new-wal"}
"""What an interrupted start may leave in a run directory: it still counts as empty."""


def _check_new_run_dir(run_dir: Path) -> None:
    """A run starts only in a new or empty directory (nothing of the user's is overwritten)."""
    if (run_dir / "archive.sqlite").exists():
        raise FileExistsError(
            f"{run_dir} already holds a run; use 'growagent resume {run_dir}' or another --out"
        )
    if run_dir.exists() and not run_dir.is_dir():
        raise FileExistsError(f"{run_dir} exists and is not a directory; choose another --out")
    if run_dir.is_dir():
        others = sorted(set(os.listdir(run_dir)) - LEFTOVERS)
        if others:
            shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
            raise FileExistsError(
                f"{run_dir} exists and holds files that are not a run's ({shown}); a run is "
                "written only into a new or empty directory: choose another --out or name"
            )


def _create_archive(run_dir: Path, cfg: RunConfig) -> None:
    """Make ``archive.sqlite`` with its config in one step (built aside, then renamed), so a
    kill at any moment leaves either no run or one that ``resume`` continues."""
    fresh = run_dir / "archive.sqlite.new"
    for leftover in LEFTOVERS - {".lock"}:
        (run_dir / leftover).unlink(missing_ok=True)
    with Archive(fresh) as a:
        a.set_meta("config", cfg.to_dict())
        a.set_meta("status", "running")
    os.replace(fresh, run_dir / "archive.sqlite")
    (run_dir / "config.toml").write_text(cfg.to_toml(), encoding="utf-8")


class RunInUseError(RuntimeError):
    """Another process holds the run directory's lock."""


@contextlib.contextmanager
def _locked(run_dir: Path) -> Iterator[None]:
    """Hold the run directory's exclusive lock (``.lock``): one process writes a run at a time."""
    path = run_dir / ".lock"
    with open(path, "a+", encoding="ascii") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            pid = f.read().strip() or "?"
            raise RunInUseError(
                f"{run_dir} is in use by another growagent process (pid {pid}); "
                "wait for it to end or stop it first"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _override(
    cfg: RunConfig,
    *,
    executor: str | None = None,
    workers: int | None = None,
    seed: int | None = None,
    generations: int | None = None,
    strategy: str | None = None,
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
    if strategy is not None:
        from growagent.config import STRATEGIES

        if strategy not in STRATEGIES:
            raise ConfigError(
                f"strategy: expected one of {', '.join(STRATEGIES)} (got {strategy!r})"
            )
        # checked above: SearchConfig itself does not re-check a replaced field
        changes["search"] = dataclasses.replace(cfg.search, strategy=cast(Any, strategy))
    if generations is not None:
        changes["evolution"] = dataclasses.replace(cfg.evolution, generations=generations)
    return dataclasses.replace(cfg, **changes)


def _reference(env: str | Callable[..., Any]) -> str:
    """The ``module:name`` reference of an env factory (a string passes through)."""
    from growagent.rl.envs import EnvRefError, env_reference

    try:
        return env_reference(env)
    except EnvRefError as exc:
        raise ConfigError(str(exc)) from None


def _check_env_reaches_workers(cfg: RunConfig) -> None:
    """A factory of an interactive session (no script file) cannot be imported by workers."""
    import sys

    if cfg.executor.kind == "serial" or not cfg.env.startswith("__main__:"):
        return
    main = sys.modules.get("__main__")
    if getattr(main, "__file__", None) is None and getattr(main, "__spec__", None) is None:
        raise ConfigError(
            f"env: {cfg.env[len('__main__:') :]} is defined in an interactive session, which "
            "worker processes cannot import: move it to a module file (env = 'module:name'), "
            "or use executor = 'serial'"
        )


def _check_resume_env(cfg: RunConfig, run_dir: Path, env: str | Callable[..., Any] | None) -> None:
    """Resume's trust rule: an archived config is data, so its env module is imported
    only when the caller names the same reference (see docs/reliability.md)."""
    given = None if env is None else _reference(env)
    module, sep, name = cfg.env.partition(":")
    if given is not None and given != cfg.env:
        raise ConfigError(f"--env {given!r} is not the run's env {cfg.env!r}")
    if sep and given is None:
        if module in ("__main__", "__mp_main__"):
            raise ConfigError(
                f"{run_dir}: the run's env is the factory {name!r} of the script that launched "
                f"it; resume it from that script: growagent.resume(run_dir, env={name})"
            )
        raise ConfigError(
            f"{run_dir}: the run's env {cfg.env!r} imports the module {module!r}, and a run "
            f"directory may come from anyone: if you trust it, name it: "
            f"growagent resume {run_dir} --env {cfg.env}"
        )


def _check_inputs(cfg: RunConfig) -> None:
    """Fail fast, before anything is written, on a bad environment or teacher path."""
    from growagent.rl.envs import EnvRef, genome_spaces

    obs, act = genome_spaces(EnvRef(cfg.env, cfg.env_kwargs))
    if cfg.teacher.path and not Path(cfg.teacher.path).exists():
        raise FileNotFoundError(f"teacher.path: {cfg.teacher.path} does not exist")
    if cfg.teacher.path and not Path(cfg.teacher.path).is_file():
        raise ConfigError(f"teacher.path: {cfg.teacher.path} is not a file")
    if cfg.teacher.vecnormalize and not Path(cfg.teacher.vecnormalize).is_file():
        raise FileNotFoundError(f"teacher.vecnormalize: {cfg.teacher.vecnormalize} is not a file")
    if cfg.teacher.path.endswith(".json"):
        teacher = genomes.load(cfg.teacher.path)
        got = (teacher.observation_space.get("shape"), teacher.action_space)
        if list(got[0] or []) != list(obs["shape"]) or _act_key(got[1]) != _act_key(act):
            raise ConfigError(
                f"teacher.path: {cfg.teacher.path} is for observations {got[0]} and actions "
                f"{_act_key(got[1])}, but {cfg.env} has {obs['shape']} and {_act_key(act)}"
            )
    specs = cfg.evolution.seeds if cfg.search.strategy == "evolution" else []
    if cfg.search.strategy == "firefly":
        specs = [cfg.firefly.start]
    where = "firefly.start" if cfg.search.strategy == "firefly" else "evolution.seeds"
    ctx = Context(
        cfg.env if isinstance(cfg.env, str) else "env",
        (obs, act),
        cfg.seed,
        limits_of(cfg),
        cfg.search.activation,
        cfg.search.size_objective,
        load=genomes.load,
    )
    for i, spec in enumerate(specs):
        if spec != "minimal" and not spec.startswith("mlp:") and not Path(spec).is_file():
            raise FileNotFoundError(
                f"{where}: {spec!r} is neither 'minimal', 'mlp:W,...' nor an existing file"
            )
        try:
            seed = seed_genome(spec, ctx, i)
        except (GenomeError, ValueError) as exc:
            raise ConfigError(f"{where}: {spec!r}: {exc}") from None
        if _act_key(seed.action_space) != _act_key(act) or list(
            seed.observation_space.get("shape") or []
        ) != list(obs["shape"]):
            raise ConfigError(f"{where}: {spec!r} does not fit {cfg.env}'s spaces")


def _act_key(space: dict[str, Any]) -> str:
    if space.get("type") == "discrete":
        return f"Discrete({space['n']})"
    return f"Box{tuple(space.get('shape', []))}"


def resume(
    run_dir: str | Path,
    *,
    env: str | Callable[..., Any] | None = None,
    executor: str | None = None,
    workers: int | None = None,
    generations: int | None = None,
    quiet: bool = False,
    reporters: Sequence[Reporter] = (),
) -> RunResult:
    """Continue a run from its archive's last finished generation.

    ``generations`` raises the total number of generations (to extend a run
    that finished).

    The archived config is a data file, so an env reference with a module part
    (``"module:EnvId"``, ``"module:factory"``) is imported only when ``env``
    names the same reference (or is the same module-level factory); otherwise
    ConfigError says how to confirm it. A plain gymnasium id needs nothing.
    """
    run_dir = Path(run_dir)
    path = run_dir / "archive.sqlite"
    if not path.exists():
        raise FileNotFoundError(f"{run_dir}: no archive.sqlite here; is this a run directory?")
    with Archive(path, readonly=True) as a:
        data = a.get_meta("config")
    if data is None:
        raise ConfigError(f"{path}: the archive holds no run config")
    cfg = load_archived_config(data)
    _check_resume_env(cfg, run_dir, env)
    cfg = _override(cfg, executor=executor, workers=workers, generations=generations)
    _check_env_reaches_workers(cfg)
    with _locked(run_dir):
        if not (run_dir / "config.toml").exists():  # killed right after the archive was made
            (run_dir / "config.toml").write_text(cfg.to_toml(), encoding="utf-8")
        return _execute(cfg, run_dir, resume=True, quiet=quiet, reporters=reporters)


def _execute(
    cfg: RunConfig,
    run_dir: Path,
    *,
    resume: bool,
    quiet: bool,
    reporters: Sequence[Reporter] = (),
) -> RunResult:
    """Build the evaluator and the strategy, drive the search, then judge the front."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small networks: more threads only oversubscribe the cores
    say = (lambda msg: None) if quiet else (lambda msg: print(msg, flush=True))
    evaluator = Evaluator(cfg, run_dir, say)
    try:
        evaluator.archive.set_meta("config", cfg.to_dict())
        last = evaluator.archive.last_step() if resume else None
        if resume and last is None and evaluator.archive.last_generation() is not None:
            raise ArchiveError(f"{run_dir}: made by an older growagent (no steps); cannot resume")
        if last is not None and last["strategy"] != cfg.search.strategy:
            raise ConfigError(
                f"search.strategy: the run used {last['strategy']!r} (got {cfg.search.strategy!r})"
            )
        evaluator.start(
            make_executor(
                cfg.executor.kind,
                workers=cfg.executor.workers,
                timeout=cfg.executor.timeout,
                retries=cfg.executor.retries,
                address=cfg.executor.address,
                adaptive=cfg.executor.adaptive_timeout,
                min_timeout=cfg.executor.min_timeout,
                memory_mb=cfg.executor.memory_mb,
                max_tasks=cfg.executor.max_tasks,
            )
        )
        strategy = make_strategy(cfg, evaluator)
        try:
            state = drive(
                strategy, evaluator, [*default_reporters(strategy.name, quiet), *reporters], last
            )
        except EvolutionError as exc:
            errors = [r["error"] for r in evaluator.archive.assessments() if r["error"]]
            reason = f" (first error: {errors[0].splitlines()[0]})" if errors else ""
            raise EvolutionError(f"{exc}{reason}") from None
        evaluator.archive.set_meta("strategy_result", strategy.result(state))
        evaluator.polish()
        result = _result(evaluator)
        for r in reporters:
            r.end_run(result)
        evaluator.archive.set_meta("status", "finished")
        return result
    finally:
        evaluator.close()
        evaluator.archive.close()
        torch.set_num_threads(threads)


def final_front(evaluator: Evaluator) -> list[ParetoEntry]:
    """The run's front (see :meth:`Evaluator.final_front`) as entries, smallest first."""
    objective = evaluator.cfg.search.size_objective
    return [
        ParetoEntry(evaluator.archive.genome(s.genome_id), s.ret, s.size(objective), se=s.se)
        for s in evaluator.final_front()
    ]


def _result(state: Evaluator) -> RunResult:
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
        threshold = best - cfg.search.champion_tolerance * abs(best)
        champion = next(e for e in judged if e.heldout is not None and e.heldout >= threshold)
    else:
        best = max(e.ret for e in entries)
        threshold = best - cfg.search.champion_tolerance * abs(best)
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
        assert champion.heldout_se is not None  # set together with heldout
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
        logbook=_logbook(state.archive),
        teacher_return=state.archive.get_meta("teacher_return"),
        heldout=heldout,
        teacher_heldout=teacher_heldout,
    )


def _logbook(archive: Archive) -> tools.Logbook:
    """Per-generation statistics from the archive's records, as a DEAP logbook."""
    logbook = tools.Logbook()
    for g in archive.generations():
        logbook.record(**g["stats"])
    return logbook

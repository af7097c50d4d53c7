"""Run configuration: dataclasses loaded from TOML, strictly.

A run file (see ``runs/cartpole.toml``) has top-level keys ``name``, ``env``,
``seed``, ``out`` and the tables ``[teacher]``, ``[evolution]``,
``[assess]`` (with ``[assess.ppo]`` and ``[assess.distill]``),
``[predictor]`` and ``[executor]``. Unknown keys are rejected with the list of valid ones; the
resolved config is saved in the run's archive and as ``config.toml``.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from growagent.assess import TaskConfig
from growagent.mapping import ConfigError, from_mapping, to_mapping


def _require(ok: bool, where: str, what: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"{where}: expected {what} (got {value!r})")


@dataclass
class TeacherConfig:
    """How the run gets its teacher."""

    path: str = ""
    """A genome JSON or SB3 ``.zip`` to load; empty trains one with PPO."""
    steps: int = 100_000
    """PPO environment steps when training the teacher (rl-zoo settings for the env)."""
    hidden: list[int] = field(default_factory=lambda: [64, 64])
    """Hidden widths of the teacher network."""

    def __post_init__(self) -> None:
        _require(self.steps >= 1, "teacher.steps", "a positive integer", self.steps)
        _require(all(w >= 1 for w in self.hidden), "teacher.hidden", "positive widths", self.hidden)


@dataclass
class EvolutionConfig:
    """The (mu + lambda) search."""

    generations: int = 5
    """Generations after the seed population (generation 0)."""
    mu: int = 8
    """Population size kept after each selection."""
    offspring: int = 8
    """Children made and assessed per generation (lambda)."""
    select: Literal["nsga2", "tournament"] = "nsga2"
    """Selection: NSGA-II on (return, size), or tournament."""
    tournsize: int = 3
    """Tournament size when ``select = "tournament"``."""
    size_objective: Literal["params", "macs"] = "params"
    """Size to minimise: policy parameters or policy multiply-accumulates."""
    seeds: list[str] = field(default_factory=lambda: ["minimal", "mlp:4", "mlp:8", "mlp:8,8"])
    """Seed population: ``minimal``, ``mlp:W1,W2,...`` or a genome file path."""
    seed_activation: str = "tanh"
    """Hidden activation of ``mlp:`` seeds."""
    operator_weights: dict[str, float] = field(default_factory=dict)
    """Relative weight of each operator (registry name); empty: the defaults."""
    max_params: int = 5000
    """Children above this many parameters are not made."""
    max_hidden_nodes: int = 6
    """Children above this many hidden nodes are not made."""
    max_units: int = 64
    """No node grows beyond this many units."""
    champion_tolerance: float = 0.05
    """The champion is the smallest agent of the final front whose held-out return is
    within this fraction of the front's best held-out return."""
    reevaluate: bool = True
    """Would-be survivors judged on one block of ``assess.eval_episodes`` episodes get a
    second block (the next seeds of the common sequence) before selection; their
    return is then the mean over both."""
    critic_share: float = 0.0
    """Share of children that may change only the critic (value-only nodes); the rest
    must change the deployed policy (redrawn otherwise)."""

    def __post_init__(self) -> None:
        import operators

        e = "evolution"
        _require(self.generations >= 0, f"{e}.generations", "an integer >= 0", self.generations)
        for key in ("mu", "offspring", "tournsize", "max_params", "max_hidden_nodes", "max_units"):
            value = getattr(self, key)
            _require(value >= 1, f"{e}.{key}", "a positive integer", value)
        _require(bool(self.seeds), f"{e}.seeds", "at least one seed genome", self.seeds)
        tol = self.champion_tolerance
        _require(tol >= 0, f"{e}.champion_tolerance", "a number >= 0", tol)
        share = self.critic_share
        _require(0 <= share <= 1, f"{e}.critic_share", "a number in [0, 1]", share)
        unknown = sorted(set(self.operator_weights) - set(operators.REGISTRY))
        _require(
            not unknown,
            f"{e}.operator_weights",
            f"operators among {', '.join(sorted(operators.REGISTRY))}",
            unknown,
        )
        negative = {k: w for k, w in self.operator_weights.items() if w < 0}
        _require(not negative, f"{e}.operator_weights", "weights >= 0", negative)


@dataclass
class PredictorConfig:
    """The GNN predictor that screens candidate children before assessment."""

    enabled: bool = True
    """Screen candidates with the predictor (once it has enough data)."""
    screen_factor: int = 3
    """Candidates made per child assessed; the best-ranked are kept."""
    min_samples: int = 12
    """Assessed genomes (from earlier generations) needed before screening starts."""
    epochs: int = 150
    """Full-batch training epochs, retrained from scratch every generation."""
    hidden: int = 32
    """Width of the GIN layers."""

    def __post_init__(self) -> None:
        for key in ("screen_factor", "epochs", "hidden"):
            value = getattr(self, key)
            _require(value >= 1, f"predictor.{key}", "a positive integer", value)
        _require(
            self.min_samples >= 2, "predictor.min_samples", "an integer >= 2", self.min_samples
        )


@dataclass
class ExecutorConfig:
    """Where assessments run."""

    kind: Literal["serial", "process", "ray"] = "process"
    """``serial`` (in process), ``process`` (local workers) or ``ray``."""
    workers: int = 0
    """Parallel workers; 0 means one per core."""
    timeout: float = 900.0
    """Seconds one assessment may take before it is killed and retried."""
    retries: int = 1
    """Extra attempts for a task that failed, timed out or lost its worker."""
    address: str = ""
    """Ray cluster address; empty starts a local Ray instance."""

    def __post_init__(self) -> None:
        _require(self.workers >= 0, "executor.workers", "an integer >= 0", self.workers)
        _require(self.timeout > 0, "executor.timeout", "a number > 0", self.timeout)
        _require(self.retries >= 0, "executor.retries", "an integer >= 0", self.retries)


@dataclass
class RunConfig:
    """Everything a run needs; saved with the run."""

    name: str = "run"
    """Run name; the run directory is ``out/name``."""
    env: str = "CartPole-v1"
    """Gymnasium environment id."""
    seed: int = 0
    """Master seed: the whole run is reproducible from it (serial executor)."""
    out: str = "runs"
    """Parent folder of the run directory."""
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    """The teacher (trained once per run and cached in the run directory)."""
    evolution: EvolutionConfig = field(default_factory=EvolutionConfig)
    """The search."""
    assess: TaskConfig = field(default_factory=TaskConfig)
    """How one genome is trained and judged (its ``env`` is set from ``env``)."""
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    """The GNN predictor that screens candidate children."""
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    """Where assessments run."""
    heldout_episodes: int = 100
    """Unseen episodes on which every agent of the final front (and the teacher) is
    evaluated; the champion is chosen on them (0 skips it: chosen on search returns)."""
    heldout_seed: int = 1_000_000
    """First episode seed of the held-out evaluation (unseen during the search)."""

    def __post_init__(self) -> None:
        self.assess = dataclasses.replace(self.assess, env=self.env)
        _require(self.seed >= 0, "seed", "an integer >= 0", self.seed)
        _require(
            self.heldout_episodes >= 0, "heldout_episodes", "an integer >= 0", self.heldout_episodes
        )
        a = self.assess
        _require(
            a.eval_episodes >= 1, "assess.eval_episodes", "a positive integer", a.eval_episodes
        )
        _require(
            a.finetune_steps >= 0, "assess.finetune_steps", "an integer >= 0", a.finetune_steps
        )
        threads = a.threads
        _require(threads is None or threads >= 1, "assess.threads", "a positive integer", threads)
        _require(
            a.num_envs is None or a.num_envs >= 1,
            "assess.num_envs",
            "a positive integer",
            a.num_envs,
        )

    @property
    def run_dir(self) -> Path:
        """Where this run's outputs go."""
        return Path(self.out) / self.name

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain data (``distill = false`` when distillation is off)."""
        data: dict[str, Any] = to_mapping(self)
        data["assess"] = self.assess.to_dict()
        data["assess"].pop("env", None)
        if data["assess"]["distill"] is None:
            data["assess"]["distill"] = False
        return data


def load_config(source: str | Path | dict[str, Any] | RunConfig) -> RunConfig:
    """A :class:`RunConfig` from a TOML path, a dict or a config object.

    Raises
    ------
    ConfigError
        One line naming the file and the problem (bad TOML, unknown key, wrong type).

    Examples
    --------
    >>> load_config({"env": "CartPole-v1", "evolution": {"mu": 4}}).evolution.mu
    4
    """
    if isinstance(source, RunConfig):
        return source
    if isinstance(source, dict):
        return from_mapping(RunConfig, _prepare(source))
    path = Path(source)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    try:
        return from_mapping(RunConfig, _prepare(data))
    except (ConfigError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _prepare(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    if isinstance(data.get("assess"), dict):
        assess = dict(data["assess"])
        if "env" in assess:
            raise ConfigError("Unknown key 'env' in [assess]; set the top-level 'env' instead")
        assess["env"] = data.get("env", RunConfig.env)
        if assess.get("distill") is False:  # TOML has no null: `distill = false` turns it off
            assess["distill"] = None
        data["assess"] = from_mapping(TaskConfig, assess, "assess")
    return data

"""Run configuration: dataclasses loaded from TOML, strictly.

A run file (see ``runs/cartpole.toml``) has top-level keys ``name``, ``env``,
``seed``, ``out`` and the tables ``[teacher]``, ``[search]`` (the strategy and the
space), one table per strategy (``[evolution]``, ``[random]``, ``[firefly]``,
``[metaqnn]``),
``[assess]`` (with ``[assess.ppo]`` and ``[assess.distill]``),
``[predictor]`` and ``[executor]``. Unknown keys are rejected with the list of valid ones; the
resolved config is saved in the run's archive and as ``config.toml``.

Every table is a dataclass that checks its own ranges in ``__post_init__``; all
of them are read and written by the one serialiser of :mod:`growagent.mapping`,
and every problem is a :class:`ConfigError`. Loading a config imports neither
torch nor gymnasium: names that point into registries other code may extend
(activations, operators) are checked by :func:`check_registered` when a run
starts.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import tomli_w

from growagent.mapping import ConfigError as ConfigError  # one error type, importable here too
from growagent.mapping import from_mapping, to_mapping
from growagent.mapping import require as _require
from growagent.task_config import PPOConfig, TaskConfig, zoo_config


@dataclass
class TeacherConfig:
    """How the run gets its teacher."""

    path: str = ""
    """A genome JSON or SB3 ``.zip`` to load; empty trains one with PPO."""
    vecnormalize: str = ""
    """SB3 ``VecNormalize`` statistics saved with the ``.zip`` in ``path`` (their frozen
    observation normalisation becomes part of the teacher genome)."""
    steps: int = 100_000
    """PPO environment steps when training the teacher."""
    hidden: list[int] = field(default_factory=lambda: [64, 64])
    """Hidden widths of the teacher network."""
    ppo: dict[str, Any] = field(default_factory=dict)
    """PPO settings of the teacher's training (the fields of
    :class:`growagent.rl.ppo.PPOConfig`), over the rl-baselines3-zoo preset of
    the environment where there is one (CartPole, Acrobot, LunarLander, Pendulum)."""
    min_return: float | None = None
    """The teacher's return (mean over ``check_episodes`` episodes) below which the run
    stops; None: it must beat a random policy by more than three standard errors
    and by 5% of the random policy's return span (measured on the spot)."""
    check_episodes: int = 20
    """Episodes of the teacher check (and of the random policy it is compared with)."""

    def __post_init__(self) -> None:
        _require(self.steps >= 1, "teacher.steps", "a positive integer", self.steps)
        _require(all(w >= 1 for w in self.hidden), "teacher.hidden", "positive widths", self.hidden)
        _require(
            self.check_episodes >= 1,
            "teacher.check_episodes",
            "a positive integer",
            self.check_episodes,
        )
        _require(
            self.min_return is None or math.isfinite(self.min_return),
            "teacher.min_return",
            "a finite number",
            self.min_return,
        )
        _require(
            not self.vecnormalize or self.path.endswith(".zip"),
            "teacher.vecnormalize",
            "an SB3 .zip teacher.path beside it",
            self.vecnormalize,
        )
        self.ppo_config(env=None)

    def ppo_config(self, env: str | None) -> PPOConfig:
        """The teacher's :class:`~growagent.rl.ppo.PPOConfig` for ``env`` (the zoo preset
        of a known id, overridden by ``ppo``); raises ConfigError naming a bad key."""
        preset = zoo_config(env or "").to_dict()
        return PPOConfig.from_dict({**preset, **self.ppo}, "teacher.ppo")


MAX_POPULATION = 10_000
"""The most genomes a population or a generation may hold (each one is trained)."""

STRATEGIES = ("evolution", "random", "firefly", "metaqnn")
"""The search strategies (``[search] strategy``); each has a table of its own."""


@dataclass
class SearchConfig:
    """The search: which strategy, and the space every strategy searches."""

    strategy: Literal["evolution", "random", "firefly", "metaqnn"] = "evolution"
    """``evolution`` (DEAP mu + lambda, table ``[evolution]``), ``random`` (``[random]``),
    ``firefly`` (firefly descent, ``[firefly]``) or ``metaqnn`` (``[metaqnn]``)."""
    size_objective: Literal["params", "macs"] = "params"
    """Size to minimise: policy parameters or policy multiply-accumulates."""
    activation: str = "tanh"
    """Hidden activation of generated layers (``mlp:`` seeds, random and firefly starts)."""
    max_params: int = 5000
    """No genome above this many parameters is made."""
    max_hidden_nodes: int = 6
    """No genome above this many hidden nodes is made."""
    max_units: int = 64
    """No node grows beyond this many units."""
    champion_tolerance: float = 0.05
    """The champion is the smallest agent of the final front whose held-out return is
    within this fraction of the front's best held-out return."""

    def __post_init__(self) -> None:
        for key in ("max_params", "max_hidden_nodes", "max_units"):
            value = getattr(self, key)
            _require(value >= 1, f"search.{key}", "a positive integer", value)
        tol = self.champion_tolerance
        _require(tol >= 0, "search.champion_tolerance", "a number >= 0", tol)


@dataclass
class EvolutionConfig:
    """The (mu + lambda) search (``strategy = "evolution"``)."""

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
    seeds: list[str] = field(default_factory=lambda: ["minimal", "mlp:4", "mlp:8", "mlp:8,8"])
    """Seed population: ``minimal``, ``mlp:W1,W2,...`` or a genome file path."""
    operator_weights: dict[str, float] = field(default_factory=dict)
    """Relative weight of each operator (registry name); empty: the defaults."""
    reevaluate: bool = True
    """Would-be survivors judged on one block of ``assess.eval_episodes`` episodes get a
    second block (the next seeds of the common sequence) before selection; their
    return is then the mean over both."""
    critic_share: float = 0.0
    """Share of children that may change only the critic (value-only nodes); the rest
    must change the deployed policy (redrawn otherwise)."""
    inherit: str = "weights"
    """``weights``: a child starts from its parent's trained weights (function-preserving
    operators, Lamarckian); ``reinit``: its weights are drawn afresh (an ablation)."""

    def __post_init__(self) -> None:
        e = "evolution"
        _require(self.generations >= 0, f"{e}.generations", "an integer >= 0", self.generations)
        for key in ("mu", "offspring", "tournsize"):
            value = getattr(self, key)
            _require(value >= 1, f"{e}.{key}", "a positive integer", value)
        for key in ("mu", "offspring"):  # every one is a trained network: a typo, not a plan
            value = getattr(self, key)
            _require(value <= MAX_POPULATION, f"{e}.{key}", f"at most {MAX_POPULATION}", value)
        _require(bool(self.seeds), f"{e}.seeds", "at least one seed genome", self.seeds)
        share = self.critic_share
        _require(0 <= share <= 1, f"{e}.critic_share", "a number in [0, 1]", share)
        inherit = self.inherit
        _require(inherit in ("weights", "reinit"), f"{e}.inherit", "'weights' or 'reinit'", inherit)
        negative = {k: w for k, w in self.operator_weights.items() if w < 0}
        _require(not negative, f"{e}.operator_weights", "weights >= 0", negative)


@dataclass
class RandomConfig:
    """Random search (``strategy = "random"``): chain MLPs drawn within the limits."""

    assessments: int = 40
    """Architectures assessed in all."""
    batch: int = 8
    """Architectures drawn and assessed per step."""

    def __post_init__(self) -> None:
        for key in ("assessments", "batch"):
            value = getattr(self, key)
            _require(value >= 1, f"random.{key}", "a positive integer", value)


@dataclass
class FireflyConfig:
    """Firefly neural architecture descent (``strategy = "firefly"``) on one network."""

    start: str = "minimal"
    """The first genome: ``minimal``, ``mlp:W1,...`` or a genome file."""
    steps: int = 12
    """Growth steps (each assesses ``branches`` children)."""
    branches: int = 2
    """Children grown per step from the current network (different draws); the best
    assessed one becomes the current network if it improves on it."""
    target: float | None = None
    """Stop growing once the current network's return reaches this (none: use the budget)."""
    prune_steps: int = 0
    """After growth, steps that remove the least important units or nodes and keep the
    child when its return stays within ``prune_tolerance`` of the best one."""
    prune_tolerance: float = 0.05
    """Relative return loss a pruning step may cost."""
    fraction: float = 0.35
    """Share of the hidden units added per growth step (firefly's default)."""
    eps: float = 0.01
    """Step of the new units' outgoing weights."""
    split_eps: float = 0.1
    """Step of neuron splits."""
    new_per_node: int = 2
    """Candidate new units per hidden node."""
    layer_units: int = 4
    """Width of a candidate new layer (the minimal genome can only grow layers)."""
    loss_states: int = 1024
    """Recent teacher states on which the growth loss is measured."""
    selection: str = "score"
    """``score``: grow the candidate units whose gradient lowers the loss most (firefly);
    ``random``: grow randomly chosen candidates (an ablation)."""

    def __post_init__(self) -> None:
        for key in ("steps", "branches", "new_per_node", "layer_units", "loss_states"):
            value = getattr(self, key)
            _require(value >= 1, f"firefly.{key}", "a positive integer", value)
        _require(self.prune_steps >= 0, "firefly.prune_steps", "an integer >= 0", self.prune_steps)
        _require(0 < self.fraction <= 1, "firefly.fraction", "a number in (0, 1]", self.fraction)
        sel = self.selection
        _require(sel in ("score", "random"), "firefly.selection", "'score' or 'random'", sel)


@dataclass
class MetaQNNConfig:
    """MetaQNN (``strategy = "metaqnn"``): tabular Q-learning over a layer grammar."""

    architectures: int = 40
    """Architectures sampled and assessed in all."""
    batch: int = 4
    """Architectures sampled per step with the current Q-table (assessed in parallel)."""
    widths: list[int] = field(default_factory=lambda: [2, 4, 8, 16, 32])
    """Widths a hidden layer may take."""
    activations: list[str] = field(default_factory=list)
    """Activations a hidden layer may take (empty: ``[search] activation`` only)."""
    max_depth: int = 3
    """Most hidden layers (and at most ``[search] max_hidden_nodes``)."""
    learning_rate: float = 0.01
    """Q-learning rate (0.01 in the paper)."""
    discount: float = 1.0
    """Discount (1: none, as in the paper)."""
    q_init: float = 0.5
    """Initial Q-value of every state-action pair (0.5 in the paper)."""
    replay: int = 100
    """Architectures sampled from the replay memory for Q-updates after each step."""
    schedule: list[list[float]] = field(
        default_factory=lambda: [
            [1.0, 1500],
            [0.9, 100],
            [0.8, 100],
            [0.7, 100],
            [0.6, 150],
            [0.5, 150],
            [0.4, 150],
            [0.3, 150],
            [0.2, 150],
            [0.1, 150],
        ]
    )
    """``[epsilon, share]`` pairs: the paper's schedule (models per epsilon), scaled so the
    shares add up to ``architectures``."""
    size_weight: float = 0.1
    """Reward = return scaled to [0, 1] by the returns seen so far, minus ``size_weight``
    times log size over log ``[search] max_params``."""

    def __post_init__(self) -> None:
        for key in ("architectures", "batch", "max_depth"):
            value = getattr(self, key)
            _require(value >= 1, f"metaqnn.{key}", "a positive integer", value)
        _require(
            bool(self.widths) and all(w >= 1 for w in self.widths),
            "metaqnn.widths",
            "positive widths",
            self.widths,
        )
        lr = self.learning_rate
        _require(0 < lr <= 1, "metaqnn.learning_rate", "a number in (0, 1]", lr)
        _require(0 <= self.discount <= 1, "metaqnn.discount", "a number in [0, 1]", self.discount)
        _require(self.replay >= 0, "metaqnn.replay", "an integer >= 0", self.replay)
        ok = bool(self.schedule) and all(
            len(p) == 2 and 0 <= p[0] <= 1 and p[1] > 0 for p in self.schedule
        )
        _require(ok, "metaqnn.schedule", "[[epsilon in 0..1, share > 0], ...]", self.schedule)
        _require(self.size_weight >= 0, "metaqnn.size_weight", "a number >= 0", self.size_weight)


PREDICTOR_MODELS = ("forest", "ridge", "gin", "gin-arch", "parent", "size")
"""The names of ``growagent.predictor.models.MODELS`` (kept here so a config loads without torch)."""


@dataclass
class PredictorConfig:
    """The performance predictor that screens candidate children before assessment.

    See ``docs/predictor.md`` for what each model is and how they compare.
    """

    enabled: bool = True
    """Screen candidates with the predictor (once it has enough data)."""
    model: str = "ridge"
    """``forest``, ``ridge``, ``gin`` (GINs that also read the parent's return), ``gin-arch``
    (the architecture alone), ``parent`` (the parent's return) or ``size``."""
    screen_factor: int = 3
    """Candidates made per child assessed; the best-ranked are kept."""
    explore: float = 0.25
    """Share of each generation's children chosen for exploration, not for their score."""
    explore_by: str = "uncertainty"
    """``uncertainty`` (the least certain of the rest) or ``random``."""
    min_samples: int = 12
    """Assessed genomes (from earlier generations) needed before screening starts."""
    warm_start: list[str] = field(default_factory=list)
    """Archives (``archive.sqlite`` of earlier runs, any task) whose assessments join the
    training data from the first generation on."""
    baselines: bool = True
    """Log each generation's out-of-sample tau of the cheap baselines too."""
    epochs: int = 150
    """GIN models: full-batch training epochs, retrained from scratch every generation."""
    hidden: int = 32
    """GIN models: width of the GIN layers."""
    members: int = 3
    """GIN models: ensemble members (their spread is the uncertainty)."""

    def __post_init__(self) -> None:
        for key in ("screen_factor", "epochs", "hidden", "members"):
            value = getattr(self, key)
            _require(value >= 1, f"predictor.{key}", "a positive integer", value)
        _require(
            self.min_samples >= 2, "predictor.min_samples", "an integer >= 2", self.min_samples
        )
        _require(
            self.model in PREDICTOR_MODELS,
            "predictor.model",
            f"one of {list(PREDICTOR_MODELS)}",
            self.model,
        )
        _require(0 <= self.explore <= 1, "predictor.explore", "a number in [0, 1]", self.explore)
        _require(
            self.explore_by in ("uncertainty", "random"),
            "predictor.explore_by",
            "'uncertainty' or 'random'",
            self.explore_by,
        )
        for path in self.warm_start:
            _require(Path(path).is_file(), "predictor.warm_start", "paths of archive files", path)


@dataclass
class PolishConfig:
    """The last step of a run: the front's agents distilled longer, then judged afresh.

    The search trains each child briefly and selects on noisy returns, so the
    front it ends with is both under-trained and flattered: its agents are the
    ones that were lucky on the search's episodes (the winner's curse). Each
    front agent is therefore distilled again from its search weights with
    ``factor`` times the assessment's env and gradient steps (no early stop),
    and evaluated on ``episodes`` episodes from ``seed``, which no selection
    has seen. The run's front is then the non-dominated set of the polished
    agents, and their return is that fresh evaluation. Needs distillation
    (``assess.distill``); skipped without it.
    """

    factor: int = 4
    """Multiplier of ``assess.distill``'s ``env_steps`` and ``grad_steps``; 0 turns polishing off."""
    episodes: int = 100
    """Fresh evaluation episodes of each polished agent."""
    seed: int = 2_000_000
    """First episode seed of that evaluation (apart from the search's and the held-out ones)."""

    def __post_init__(self) -> None:
        _require(self.factor >= 0, "polish.factor", "an integer >= 0", self.factor)
        _require(self.episodes >= 1, "polish.episodes", "a positive integer", self.episodes)
        _require(self.seed >= 0, "polish.seed", "an integer >= 0", self.seed)


@dataclass
class ExecutorConfig:
    """Where assessments run."""

    kind: Literal["serial", "process", "ray"] = "process"
    """``serial`` (in process), ``process`` (local workers) or ``ray``."""
    workers: int = 0
    """Parallel workers; 0 means one per core."""
    timeout: float = 900.0
    """Seconds one task (an assessment, an evaluation) may take before it is killed
    and retried: the limit until ``adaptive_timeout`` has durations to go by."""
    adaptive_timeout: float = 10.0
    """Once three tasks of a kind have finished, a task of that kind may take this
    many times their median duration (at least ``min_timeout``, at most
    ``timeout``): a hanging env holds a worker minutes, not ``timeout``; 0 turns it off."""
    min_timeout: float = 60.0
    """The least time limit ``adaptive_timeout`` may set, in seconds."""
    retries: int = 1
    """Extra attempts for a task that failed, timed out or lost its worker."""
    memory_mb: int = 0
    """A process worker whose resident memory passes this many MiB is killed and its
    task fails; 0: the machine's memory over (workers + 1), at least 1024."""
    max_tasks: int = 200
    """A process worker is replaced by a fresh one after this many tasks."""
    address: str = ""
    """Ray cluster address; empty starts a local Ray instance."""

    def __post_init__(self) -> None:
        _require(self.workers >= 0, "executor.workers", "an integer >= 0", self.workers)
        _require(
            math.isfinite(self.timeout) and self.timeout > 0,
            "executor.timeout",
            "a number > 0",
            self.timeout,
        )
        _require(
            math.isfinite(self.adaptive_timeout) and self.adaptive_timeout >= 0,
            "executor.adaptive_timeout",
            "a number >= 0",
            self.adaptive_timeout,
        )
        _require(
            math.isfinite(self.min_timeout) and self.min_timeout > 0,
            "executor.min_timeout",
            "a number > 0",
            self.min_timeout,
        )
        _require(self.retries >= 0, "executor.retries", "an integer >= 0", self.retries)
        _require(self.memory_mb >= 0, "executor.memory_mb", "an integer >= 0", self.memory_mb)
        _require(self.max_tasks >= 1, "executor.max_tasks", "a positive integer", self.max_tasks)


@dataclass
class RunConfig:
    """Everything a run needs; saved with the run."""

    name: str = "run"
    """Run name; the run directory is ``out/name``."""
    env: str = "CartPole-v1"
    """Gymnasium id, ``"module:EnvId"`` (the module registers it) or ``"module:factory"``
    (a module-level callable); see docs/environments.md."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of ``gymnasium.make`` (or of the factory), for every env of the run."""
    seed: int = 0
    """Master seed: the whole run is reproducible from it (serial executor)."""
    out: str = "runs"
    """Parent folder of the run directory."""
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    """The teacher (trained once per run and cached in the run directory)."""
    search: SearchConfig = field(default_factory=SearchConfig)
    """The strategy and the space it searches."""
    evolution: EvolutionConfig = field(default_factory=EvolutionConfig)
    """The evolution strategy's settings."""
    random: RandomConfig = field(default_factory=RandomConfig)
    """Random search's settings."""
    firefly: FireflyConfig = field(default_factory=FireflyConfig)
    """Firefly descent's settings."""
    metaqnn: MetaQNNConfig = field(default_factory=MetaQNNConfig)
    """MetaQNN's settings."""
    assess: TaskConfig = field(default_factory=TaskConfig)
    """How one genome is trained and judged (its ``env`` is set from ``env``)."""
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    """The GNN predictor that screens candidate children."""
    polish: PolishConfig = field(default_factory=PolishConfig)
    """The front's agents, distilled longer and judged on fresh episodes at the end."""
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    """Where assessments run."""
    heldout_episodes: int = 100
    """Unseen episodes on which every agent of the final front (and the teacher) is
    evaluated; the champion is chosen on them (0 skips it: chosen on search returns)."""
    heldout_seed: int = 1_000_000
    """First episode seed of the held-out evaluation (unseen during the search)."""

    def __post_init__(self) -> None:
        _require(
            isinstance(self.name, str)
            and re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}", self.name) is not None,
            "name",
            "a plain name (letters, digits, '.', '_', '-'; no path: the run directory is out/name)",
            self.name,
        )
        _require(
            isinstance(self.env_kwargs, dict) and all(isinstance(k, str) for k in self.env_kwargs),
            "env_kwargs",
            "a table of named values",
            self.env_kwargs,
        )
        _require(self.seed >= 0, "seed", "an integer >= 0", self.seed)
        _require(
            self.heldout_episodes >= 0, "heldout_episodes", "an integer >= 0", self.heldout_episodes
        )
        _require(self.heldout_seed >= 0, "heldout_seed", "an integer >= 0", self.heldout_seed)
        self.assess = dataclasses.replace(self.assess, env=self.env, env_kwargs=self.env_kwargs)

    @property
    def run_dir(self) -> Path:
        """Where this run's outputs go."""
        return Path(self.out) / self.name

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain data (``distill = false`` when distillation is off)."""
        data: dict[str, Any] = to_mapping(self)
        del data["assess"]["env"], data["assess"]["env_kwargs"]  # the top-level ones
        if data["assess"]["distill"] is None:
            data["assess"]["distill"] = False
        return data

    def to_toml(self) -> str:
        """The resolved config as TOML that :func:`load_config` reads back to an equal config.

        TOML has no null: a ``None`` whose default is ``None`` too is left out, and any
        other ``None`` (``assess.threads = None``) is written ``false``, which the loader
        reads back as ``None`` for a field that takes ``None`` and is not a bool.
        """
        defaults = RunConfig(env=self.env).to_dict()
        return tomli_w.dumps(_without_none(self.to_dict(), defaults))


def _without_none(data: dict[str, Any], defaults: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        default = defaults.get(key) if isinstance(defaults, dict) else None
        if isinstance(value, dict):
            out[key] = _without_none(value, default)
        elif value is not None:
            out[key] = value
        elif default is not None:
            out[key] = False
    return out


def load_config(source: str | Path | dict[str, Any] | RunConfig) -> RunConfig:
    """A :class:`RunConfig` from a TOML path, a dict or a config object.

    Raises
    ------
    ConfigError
        One line naming the file and the problem (bad TOML, unknown key, wrong type,
        a value out of range).

    Examples
    --------
    >>> load_config({"env": "CartPole-v1", "evolution": {"mu": 4}}).evolution.mu
    4
    >>> load_config({"assess": {"size_objective": "macs"}})
    Traceback (most recent call last):
    ...
    growagent.mapping.ConfigError: Unknown key 'size_objective' in [assess]; the size the search minimises is [search] size_objective
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
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}", key=exc.key) from None


def load_archived_config(data: dict[str, Any]) -> RunConfig:
    """The config a run's archive holds (``Archive.get_meta("config")``) as a :class:`RunConfig`.

    As :func:`load_config`, but keys that older versions wrote into every archive
    and never read are dropped (``[assess] size_objective``), so their runs still
    resume and report.

    Examples
    --------
    >>> old = RunConfig().to_dict()
    >>> old["assess"]["size_objective"] = "params"
    >>> load_archived_config(old) == RunConfig()
    True
    """
    assess = data.get("assess")
    if isinstance(assess, dict) and "size_objective" in assess:
        data = {**data, "assess": {k: v for k, v in assess.items() if k != "size_objective"}}
    return load_config(data)


def check_registered(cfg: RunConfig) -> None:
    """Check the names that point into registries: ``search.activation`` and
    ``metaqnn.activations`` (:data:`genomes.registry.ACTIVATIONS`) and
    ``evolution.operator_weights`` (:data:`operators.REGISTRY`).

    Another project may register its own entries, so the names are checked
    against the registries as they are when the run starts, not at load (which
    would import torch).

    Raises
    ------
    ConfigError
        Naming the key and listing the registered names.
    """
    import operators
    from genomes.registry import ACTIVATIONS

    acts = ", ".join(sorted(ACTIVATIONS))
    act = cfg.search.activation
    _require(act in ACTIVATIONS, "search.activation", f"one of {acts}", act)
    for i, act in enumerate(cfg.metaqnn.activations):
        _require(act in ACTIVATIONS, f"metaqnn.activations[{i}]", f"one of {acts}", act)
    unknown = sorted(set(cfg.evolution.operator_weights) - set(operators.REGISTRY))
    _require(
        not unknown,
        "evolution.operator_weights",
        f"operators among {', '.join(sorted(operators.REGISTRY))}",
        unknown,
    )


MOVED_TO_SEARCH = {
    "size_objective": "size_objective",
    "seed_activation": "activation",
    "max_params": "max_params",
    "max_hidden_nodes": "max_hidden_nodes",
    "max_units": "max_units",
    "champion_tolerance": "champion_tolerance",
}
"""Keys of ``[evolution]`` in older run files that now live in ``[search]``."""


def _prepare(data: dict[str, Any]) -> dict[str, Any]:
    """Older run files' keys moved to where they live now; keys that must not be set
    in ``[assess]`` named with where they belong."""
    data = dict(data)
    if isinstance(data.get("evolution"), dict):  # older run files and archives
        evolution, search = dict(data["evolution"]), dict(data.get("search") or {})
        for old, new in MOVED_TO_SEARCH.items():
            if old in evolution:
                if new in search:
                    raise ConfigError(f"evolution.{old}: set it once, as search.{new}")
                search[new] = evolution.pop(old)
        data["evolution"], data["search"] = evolution, search
    assess = data.get("assess")
    if isinstance(assess, dict):
        for key in ("env", "env_kwargs"):
            if key in assess:
                raise ConfigError(
                    f"Unknown key {key!r} in [assess]; set the top-level {key!r} instead"
                )
        if "size_objective" in assess:  # it was accepted there once, and never read
            raise ConfigError(
                "Unknown key 'size_objective' in [assess]; "
                "the size the search minimises is [search] size_objective"
            )
    return data

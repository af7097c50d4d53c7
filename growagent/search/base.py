"""The seam every search strategy sits on: candidates, judgements, context, the protocol.

A strategy is an object with an explicit, JSON-serialisable state, in the
style of evosax's ``init / ask / tell``::

    state = strategy.init()
    while not strategy.done(state):
        candidates, state = strategy.ask(state)
        state = strategy.tell(state, evaluator.judge(candidates))
    strategy.result(state)

It knows nothing of executors, SQLite or the teacher: it proposes genomes,
is told how they did, and keeps whatever it needs in its state (a dict of
plain data: the driver checkpoints it after every ``tell``, so a run resumes
exactly where it stopped). Three keys of the state are shared by all:

``generation``
    The generation the last candidates belonged to (the archive's
    ``generation`` column and the report's x axis).
``closed``
    True when the last ``tell`` finished that generation; the driver then
    records it (population, front, statistics).
``population``
    The genome ids the strategy holds now (what the record shows).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np
from deap import base, creator, tools

import genomes
import operators
from genomes import Genome
from growagent.mapping import ConfigError
from growagent.predictor.screen import Prediction

State = dict[str, Any]
"""A strategy's state: plain JSON data."""


@dataclass
class Candidate:
    """What a strategy asks the evaluator to judge.

    ``reevaluate=False``: train (distil) the genome and evaluate it; its
    lineage id must be new or already assessed (then the archived result is
    returned). ``reevaluate=True``: the genome was assessed before; judge it
    on block ``block`` of the common episode sequence too and pool.
    """

    genome: Genome
    generation: int
    reevaluate: bool = False
    block: int = 1
    """For a re-evaluation: which block of episodes (1 is the first after the search's
    own); a block already in the archive is reused, so asking twice costs nothing."""
    predicted: float | None = None
    """A screen's score made before assessment (recorded with it)."""

    @property
    def id(self) -> str:
        return str(self.genome.id)


@dataclass
class Judgement:
    """How a candidate did."""

    id: str
    ok: bool
    genome: Genome
    """The trained genome when ``ok`` (Lamarckian), else the candidate's."""
    ret: float = float("nan")
    """Mean return pooled over every block of episodes it was judged on."""
    se: float = float("nan")
    size: int = 0
    """The run's size objective (policy parameters or MACs)."""
    blocks: int = 0
    """Blocks of episodes pooled into ``ret``."""
    predicted: float | None = None
    error: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    """The assessment's extra figures (``distill_kl``, seconds, ...)."""

    @property
    def fitness(self) -> tuple[float, float]:
        """``(return, size)``: return up, size down."""
        return (self.ret, float(self.size))


@dataclass
class Context:
    """What a strategy may know of the run: the space, the seed and two services."""

    env: str
    spaces: tuple[dict[str, Any], dict[str, Any]]
    """Observation and action space descriptions (``genomes.spaces``)."""
    seed: int
    limits: operators.Limits
    activation: str
    size_objective: str
    load: Callable[[str], Genome]
    """The genome (trained, once judged) of an id the strategy was told about."""
    predict: Callable[[list[Genome], int], Prediction | None] = lambda gs, gen: None
    """Scores (and their uncertainty) of candidate genomes of generation ``gen`` from a
    predictor trained on earlier generations (None while there is no predictor or too
    little data)."""
    growth_loss: Callable[[int], Callable[[Any], Any]] | None = None
    """``growth_loss(n)``: the imitation loss on ``n`` recent states, as ``loss(module) ->
    scalar tensor`` (for strategies that grow a network by its gradient: firefly)."""

    def size_of(self, genome: Genome) -> int:
        return (
            genome.macs("policy") if self.size_objective == "macs" else genome.num_params("policy")
        )


class Strategy(Protocol):
    """The protocol of a search strategy (see the module docstring)."""

    name: ClassVar[str]

    def init(self) -> State: ...

    def ask(self, state: State) -> tuple[list[Candidate], State]: ...

    def tell(self, state: State, judgements: Sequence[Judgement]) -> State: ...

    def done(self, state: State) -> bool: ...

    def result(self, state: State) -> list[str]:
        """The ids the strategy offers as its answer (the run's front is the archive's)."""
        ...


# ------------------------------------------------------------------ helpers
def seed_genome(spec: str, ctx: Context, index: int, lineage_id: str | None = None) -> Genome:
    """A genome from a spec (``minimal``, ``mlp:W1,W2,...`` or a genome file), tagged.

    >>> ctx = Context("CartPole-v1", ({"type": "box", "shape": [4]}, {"type": "discrete", "n": 2}),
    ...               0, operators.Limits(), "tanh", "params", load=None)
    >>> seed_genome("mlp:4", ctx, 1).id, seed_genome("minimal", ctx, 0).num_params("policy")
    ('seed1', 10)
    """
    obs, act = ctx.spaces
    if spec == "minimal":
        g = genomes.minimal(obs, act, seed=index)
    elif spec.startswith("mlp:"):
        try:
            hidden = [int(w) for w in spec[4:].split(",") if w.strip()]
        except ValueError:
            raise ConfigError(f"seeds: expected mlp:W1,W2,... (got {spec!r})") from None
        g = genomes.mlp(obs, act, hidden=hidden, activation=ctx.activation, seed=index)
    else:
        g = genomes.load(spec)
    g.meta["lineage"] = {
        "id": lineage_id or f"seed{index}",
        "parents": [],
        "operator": "seed",
        "params": {"spec": spec},
    }
    g.meta["tags"]["env"] = ctx.env
    return g


def chain_genome(
    ctx: Context,
    layers: Sequence[tuple[int, str]],
    rng: np.random.Generator,
    operator: str,
) -> Genome:
    """An actor-critic MLP with hidden ``layers`` (width, activation), with a new lineage id."""
    obs, act = ctx.spaces
    g = genomes.mlp(
        obs,
        act,
        hidden=[w for w, _ in layers],
        activation=ctx.activation,
        seed=int(rng.integers(2**31)),
    )
    for i, (_, activation) in enumerate(layers):
        for trunk in ("h", "v"):
            g.graph.nodes[f"{trunk}{i}"]["activation"] = activation
    g.meta["lineage"] = {
        "id": rng.bytes(8).hex(),
        "parents": [],
        "operator": operator,
        "params": {"layers": [[w, a] for w, a in layers]},
    }
    g.meta["tags"]["env"] = ctx.env
    return g.validate()


def population_stats(fitness: Sequence[Sequence[float]]) -> dict[str, float]:
    """The record of a population's ``(return, size)`` values.

    >>> population_stats([(1.0, 10), (3.0, 30), (2.0, 20)])
    {'ret_max': 3.0, 'ret_median': 2.0, 'size_min': 10.0, 'size_median': 20.0}
    """
    rets = [float(f[0]) for f in fitness]
    sizes = [float(f[1]) for f in fitness]
    return {
        "ret_max": float(max(rets)),
        "ret_median": float(np.median(rets)),
        "size_min": float(min(sizes)),
        "size_median": float(np.median(sizes)),
    }


def rng_from(state: State) -> np.random.Generator:
    """The strategy's generator, restored from ``state["rng"]``."""
    rng = np.random.default_rng()
    rng.bit_generator.state = state["rng"]
    return rng


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """A generator's state as plain JSON data."""
    import json

    state: dict[str, Any] = json.loads(json.dumps(rng.bit_generator.state))
    return state


FITNESS_WEIGHTS = (1.0, -1.0)
"""``(return, size)``: return up, size down."""

if not hasattr(creator, "GrowFitness"):
    creator.create("GrowFitness", base.Fitness, weights=FITNESS_WEIGHTS)


class _Point:
    def __init__(self, gid: str, values: tuple[float, float]):
        self.id = gid
        self.fitness = creator.GrowFitness(values)


def nondominated(points: dict[str, tuple[float, float]]) -> list[str]:
    """Ids whose ``(return, size)`` no other point dominates, by size then return.

    DEAP's non-dominated sort; of points with equal values only the first id is kept.

    >>> nondominated({"a": (1.0, 5.0), "b": (2.0, 9.0), "c": (0.5, 9.0), "d": (1.0, 5.0)})
    ['a', 'b']
    """
    if not points:
        return []
    pts = [_Point(g, v) for g, v in sorted(points.items())]
    front = tools.sortNondominated(pts, len(pts), first_front_only=True)[0]
    out, seen = [], set()
    for p in sorted(front, key=lambda p: (p.fitness.values[1], -p.fitness.values[0], p.id)):
        if p.fitness.values not in seen:
            seen.add(p.fitness.values)
            out.append(p.id)
    return out

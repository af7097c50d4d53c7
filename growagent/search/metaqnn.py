"""``metaqnn``: tabular Q-learning over a layer grammar (Baker et al., 2017).

An architecture is a path through states. The state is the last layer:
``(depth, width, activation)``, starting at ``(0, 0, "input")``. The
actions from a state are the next hidden layer, one of ``widths x
activations`` (while ``depth < max_depth``), or ``terminate``. The agent
samples paths epsilon-greedily; the reward of a finished path is the
assessed return scaled to [0, 1] by the returns seen so far, minus
``size_weight * log(size) / log(max_params)``, given at the terminal step.
After every step it replays ``replay`` finished architectures drawn from its
memory and applies, along each path backwards::

    Q(s, a) <- (1 - lr) * Q(s, a) + lr * (r + discount * max_a' Q(s', a'))

with ``r`` the reward at the terminal transition and 0 elsewhere
(``lr = 0.01``, ``discount = 1`` and ``Q = 0.5`` at first, as in the paper).
Epsilon follows the paper's schedule (1500 architectures at 1.0, then 0.9
down to 0.1) scaled to the budget. An architecture drawn again is not
assessed again: its stored result is replayed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from growagent.config import RunConfig
from growagent.search.base import (
    Candidate,
    Context,
    Judgement,
    State,
    chain_genome,
    nondominated,
    population_stats,
    rng_from,
    rng_state,
)

START = "0|0|input"
TERMINATE = "terminate"


def state_key(depth: int, width: int, activation: str) -> str:
    """The Q-table key of a state."""
    return f"{depth}|{width}|{activation}"


def layer_action(width: int, activation: str) -> str:
    """The Q-table key of the action "add a hidden layer"."""
    return f"{width}|{activation}"


def epsilon_schedule(schedule: Sequence[Sequence[float]], total: int) -> list[float]:
    """Epsilon for each of ``total`` architectures: the ``[epsilon, share]`` pairs scaled.

    >>> epsilon_schedule([[1.0, 3], [0.5, 1]], 8)
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5]
    """
    weights = np.array([float(s[1]) for s in schedule])
    edges = np.round(np.cumsum(weights) / weights.sum() * total).astype(int)
    out, start = [], 0
    for (eps, _), end in zip(schedule, edges):
        out += [float(eps)] * (int(end) - start)
        start = int(end)
    return out


def transitions(layers: Sequence[Sequence[Any]]) -> list[tuple[str, str, str]]:
    """The ``(state, action, next state)`` steps of an architecture, terminate included.

    >>> transitions([[8, "tanh"]])
    [('0|0|input', '8|tanh', '1|8|tanh'), ('1|8|tanh', 'terminate', 'end')]
    """
    out, s = [], START
    for i, (w, a) in enumerate(layers):
        nxt = state_key(i + 1, int(w), str(a))
        out.append((s, layer_action(int(w), str(a)), nxt))
        s = nxt
    out.append((s, TERMINATE, "end"))
    return out


def q_update(
    q: dict[str, dict[str, float]],
    layers: Sequence[Sequence[Any]],
    reward: float,
    *,
    lr: float,
    discount: float,
    q_init: float,
    actions: Any,
) -> None:
    """One replayed architecture's Q-learning update, from the terminal step backwards.

    ``actions(state)`` lists the action keys of a state (for the max over the
    next state's values). ``q`` is updated in place.

    >>> q = {}
    >>> q_update(q, [], 1.0, lr=0.5, discount=1.0, q_init=0.5, actions=lambda s: ["terminate"])
    >>> q["0|0|input"]["terminate"]
    0.75
    """
    for s, a, nxt in reversed(transitions(layers)):
        row = q.setdefault(s, {})
        old = row.get(a, q_init)
        if nxt == "end":
            target = reward
        else:
            nrow = q.get(nxt, {})
            target = discount * max(nrow.get(b, q_init) for b in actions(nxt))
        row[a] = (1 - lr) * old + lr * target


class MetaQNN:
    """MetaQNN; the state holds the Q-table, the replay memory and the generator."""

    name: ClassVar[str] = "metaqnn"

    def __init__(self, cfg: RunConfig, ctx: Context):
        self.cfg = cfg.metaqnn
        self.ctx = ctx
        self.max_params = cfg.search.max_params
        self.acts = list(self.cfg.activations) or [ctx.activation]
        self.widths = [w for w in self.cfg.widths if w <= (ctx.limits.max_units or w)]
        depth_cap = max(0, (ctx.limits.max_hidden_nodes or 2 * self.cfg.max_depth) // 2)
        self.max_depth = min(self.cfg.max_depth, depth_cap)
        self.eps = epsilon_schedule(self.cfg.schedule, self.cfg.architectures)

    def actions(self, s: str) -> list[str]:
        """The actions of a state: the next layers (below the depth cap) and terminate."""
        depth = int(s.split("|")[0])
        layers = [layer_action(w, a) for w in self.widths for a in self.acts]
        return (layers if depth < self.max_depth else []) + [TERMINATE]

    def init(self) -> State:
        return {
            "generation": 0,
            "closed": True,
            "population": [],
            "q": {},
            "replay": [],
            "fitness": {},
            "asked": 0,
            "rng": rng_state(np.random.default_rng(self.ctx.seed)),
        }

    def done(self, state: State) -> bool:
        return int(state["asked"]) >= self.cfg.architectures

    def result(self, state: State) -> list[str]:
        return list(state["population"])

    def sample(
        self, q: dict[str, dict[str, float]], eps: float, rng: np.random.Generator
    ) -> list[list[Any]]:
        """One path, epsilon-greedy on ``q`` (ties broken at random)."""
        layers: list[list[Any]] = []
        s = START
        while True:
            acts = self.actions(s)
            if float(rng.random()) < eps:
                a = acts[int(rng.integers(len(acts)))]
            else:
                values = np.array([q.get(s, {}).get(b, self.cfg.q_init) for b in acts])
                best = np.flatnonzero(values == values.max())
                a = acts[int(best[int(rng.integers(len(best)))])]
            if a == TERMINATE:
                return layers
            w, act = a.split("|")
            layers.append([int(w), act])
            s = state_key(len(layers), int(w), act)

    def ask(self, state: State) -> tuple[list[Candidate], State]:
        rng = rng_from(state)
        gen = int(state["generation"]) + 1
        asked = int(state["asked"])
        n = min(self.cfg.batch, self.cfg.architectures - asked)
        known = {tuple(map(tuple, r["layers"])) for r in state["replay"]}
        batch: list[Candidate] = []
        repeats: list[list[Any]] = []
        for _ in range(50 * n):  # an architecture drawn again is replayed, not re-assessed
            if len(batch) == n:
                break
            eps = self.eps[min(asked + len(batch), len(self.eps) - 1)]
            layers = self.sample(state["q"], eps, rng)
            key = tuple(map(tuple, layers))
            if key in known:
                repeats.append(layers)
                continue
            known.add(key)
            g = chain_genome(self.ctx, [(w, a) for w, a in layers], rng, "metaqnn")
            if self.ctx.limits.violation(g) is not None:
                repeats.append(layers)  # outside the space: replayed with reward 0
                continue
            g.meta["lineage"]["params"]["epsilon"] = eps
            batch.append(Candidate(g, gen))
        # a space too small for the budget ends the search early
        spent = asked + n if len(batch) == n else self.cfg.architectures
        state = dict(state, generation=gen, closed=False, rng=rng_state(rng), asked=spent)
        state["pending_repeats"] = repeats
        return batch, state

    def reward(self, ret: float | None, size: int | None, returns: list[float]) -> float:
        """Return scaled to [0, 1] by the returns seen so far, minus the size term."""
        if ret is None or size is None:
            return 0.0
        lo, hi = min(returns), max(returns)
        scaled = 0.5 if hi <= lo else (ret - lo) / (hi - lo)
        return scaled - self.cfg.size_weight * math.log(max(size, 1)) / math.log(self.max_params)

    def tell(self, state: State, judgements: Sequence[Judgement]) -> State:
        rng = rng_from(state)
        replay = [dict(r) for r in state["replay"]]
        fitness = dict(state["fitness"])
        by_layers = {tuple(map(tuple, r["layers"])): r for r in replay}
        for j in judgements:
            layers = j.genome.meta["lineage"]["params"]["layers"]
            entry = {
                "layers": layers,
                "id": j.id,
                "ret": j.ret if j.ok else None,
                "size": j.size if j.ok else None,
            }
            replay.append(entry)
            by_layers[tuple(map(tuple, layers))] = entry
            if j.ok:
                fitness[j.id] = [j.ret, float(j.size)]
        for layers in state.get("pending_repeats", []):
            key = tuple(map(tuple, layers))
            entry = by_layers.get(key) or {"layers": layers, "id": None, "ret": None, "size": None}
            replay.append(dict(entry))
            by_layers[key] = entry
        q = {s: dict(row) for s, row in state["q"].items()}
        returns = [r["ret"] for r in replay if r["ret"] is not None]
        if replay and self.cfg.replay > 0:
            for i in rng.integers(len(replay), size=self.cfg.replay):
                r = replay[int(i)]
                q_update(
                    q,
                    r["layers"],
                    self.reward(r["ret"], r["size"], returns),
                    lr=self.cfg.learning_rate,
                    discount=self.cfg.discount,
                    q_init=self.cfg.q_init,
                    actions=self.actions,
                )
        front = nondominated({g: (f[0], f[1]) for g, f in fitness.items()})
        stats: dict[str, Any] = {
            "nevals": sum(j.ok for j in judgements),
            "epsilon": self.eps[min(int(state["asked"]), len(self.eps)) - 1],
        }
        if front:
            stats.update(population_stats([fitness[g] for g in front]))
        state = dict(
            state,
            closed=True,
            q=q,
            replay=replay,
            fitness=fitness,
            population=front,
            stats=stats,
            rng=rng_state(rng),
        )
        state.pop("pending_repeats", None)
        return state

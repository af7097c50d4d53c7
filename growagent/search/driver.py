"""The driver: build the evaluator and the strategy, then ask -> judge -> tell -> report.

:func:`growagent.runner.run` and :func:`growagent.runner.resume` check the
config and the run directory, then call :func:`drive`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from growagent.config import RunConfig
from growagent.search.base import Judgement, State, Strategy
from growagent.search.evaluator import Evaluator
from growagent.search.reporters import Reporter


def make_strategy(cfg: RunConfig, evaluator: Evaluator) -> Strategy:
    """The strategy ``[search] strategy`` names, with the run's context."""
    from growagent.search import STRATEGIES

    return STRATEGIES[cfg.search.strategy](cfg, evaluator.context())


def drive(
    strategy: Strategy,
    evaluator: Evaluator,
    reporters: Sequence[Reporter],
    last: dict[str, Any] | None = None,
) -> State:
    """Run ``strategy`` to its end, from scratch or after the checkpoint ``last``."""
    state, step = (strategy.init(), 0) if last is None else (last["state"], last["step"] + 1)

    def announce(judgement: Judgement) -> None:
        for r in reporters:
            r.judged(judgement)

    evaluator.on_judgement = announce
    for r in reporters:
        r.start_run(evaluator, strategy.name, None if last is None else last["step"])
    while not strategy.done(state):
        for r in reporters:
            r.start_step(step, state)
        candidates, state = strategy.ask(state)
        judgements = evaluator.judge(candidates)
        for r in reporters:
            r.after_evaluation(step, candidates, judgements)
        state = strategy.tell(state, judgements)
        record = generation_record(state, evaluator, reporters) if state["closed"] else None
        for r in reporters:
            r.end_step(step, state, record)
        step += 1
    return state


def generation_record(
    state: State, evaluator: Evaluator, reporters: Sequence[Reporter]
) -> dict[str, Any]:
    """A closed generation's record: population, the archive's front then, statistics."""
    gen = int(state["generation"])
    stats: dict[str, Any] = {"gen": gen, **state.get("stats", {})}
    for r in reporters:
        stats.update(r.generation_fields(gen))
    return {
        "generation": gen,
        "population": list(state["population"]),
        "pareto": [s.genome_id for s in evaluator.front(gen)],
        "stats": stats,
        "rng_state": state.get("rng", {}),
    }

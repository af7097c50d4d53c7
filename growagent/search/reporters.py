"""Reporters: what happens around the search loop, as named events.

In the style of neat-python's ``BaseReporter``: the driver calls every
reporter's hooks at fixed points and passes what they need (the step, the
generation, the judgements, the record); nothing is shared behind their
backs. Console output, progress bars, the predictor's quality and the
checkpoint are reporters; a user adds one by subclassing :class:`Reporter`
and passing it to :func:`growagent.runner.run` (``reporters=[...]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from growagent.search.base import Candidate, Judgement, State

if TYPE_CHECKING:
    from growagent.search.evaluator import Evaluator


class Reporter:
    """Hooks called by the driver; each does nothing by default."""

    def start_run(self, evaluator: Evaluator, strategy: str, resumed_at: int | None) -> None:
        """Before the first step (``resumed_at`` is the last checkpointed step on resume)."""

    def start_step(self, step: int, state: State) -> None:
        """Before a strategy's ``ask``."""

    def judged(self, judgement: Judgement) -> None:
        """As each candidate's judgement arrives."""

    def after_evaluation(
        self, step: int, candidates: Sequence[Candidate], judgements: Sequence[Judgement]
    ) -> None:
        """After the step's candidates are all judged, before ``tell``."""

    def generation_fields(self, generation: int) -> dict[str, Any]:
        """Extra fields for a closed generation's record (its ``stats``)."""
        return {}

    def end_step(self, step: int, state: State, record: dict[str, Any] | None) -> None:
        """After ``tell``; ``record`` is the generation's record when the step closed one."""

    def end_run(self, result: Any) -> None:
        """After the final front is known (``result`` is the :class:`RunResult`)."""


class Checkpoint(Reporter):
    """Writes every step's strategy state (and closed generations) to the archive."""

    def __init__(self, strategy: str):
        self.strategy = strategy
        self.archive: Any = None

    def start_run(self, evaluator: Evaluator, strategy: str, resumed_at: int | None) -> None:
        self.archive = evaluator.archive

    def end_step(self, step: int, state: State, record: dict[str, Any] | None) -> None:
        self.archive.checkpoint(step, self.strategy, state, record)


class Console(Reporter):
    """One line per closed generation."""

    def start_run(self, evaluator: Evaluator, strategy: str, resumed_at: int | None) -> None:
        if resumed_at is not None:
            print(f"resuming {strategy} after step {resumed_at}", flush=True)

    def end_step(self, step: int, state: State, record: dict[str, Any] | None) -> None:
        if record is None:
            return
        st = record["stats"]
        print(
            f"gen {record['generation']:3d}: best return {st['ret_max']:8.2f}  "
            f"smallest policy {int(st['size_min'])}  front size {len(record['pareto'])}",
            flush=True,
        )


class Progress(Reporter):
    """A progress bar over each step's candidates."""

    def __init__(self) -> None:
        self.bar: Any = None

    def start_step(self, step: int, state: State) -> None:
        self.step = step

    def after_evaluation(
        self, step: int, candidates: Sequence[Candidate], judgements: Sequence[Judgement]
    ) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def judged(self, judgement: Judgement) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(desc=f"step {self.step}", leave=False, unit="agent")
        self.bar.update(1)


class PredictorQuality(Reporter):
    """The screen's out-of-sample quality, per generation.

    Read from the archive at the end of each generation (so a resumed run
    records the same figures): ``pred_tau`` and ``pred_rho`` (Kendall tau and
    Spearman between the predictions, made before assessment, and the
    measured search returns) and ``pred_n`` when at least three of the
    generation's assessments carry a prediction; with ``predictor.baselines``
    also ``tau_<name>`` for each cheap baseline fitted on earlier generations
    (``tau_parent``, ``tau_size``, ``tau_ridge``, ``tau_forest``).
    """

    def start_run(self, evaluator: Evaluator, strategy: str, resumed_at: int | None) -> None:
        self.evaluator = evaluator
        self.archive = evaluator.archive

    def generation_fields(self, generation: int) -> dict[str, Any]:
        from growagent.predictor import kendall_tau, spearman

        out: dict[str, Any] = {}
        cfg = self.evaluator.cfg.predictor
        if cfg.enabled and cfg.baselines and generation > 0:
            out.update(
                {f"tau_{k}": v for k, v in self.evaluator.baseline_quality(generation).items()}
            )
        pairs = [
            (r["predicted"], r["return_mean"])
            for r in self.archive.assessments(generation)
            if r["status"] == "ok" and r["predicted"] is not None and r["return_mean"] is not None
        ]
        if len(pairs) < 3:
            return out
        pred, ret = [p for p, _ in pairs], [r for _, r in pairs]
        tau, rho = kendall_tau(pred, ret), spearman(pred, ret)
        out["pred_tau"] = None if np.isnan(tau) else round(tau, 4)
        out["pred_rho"] = None if np.isnan(rho) else round(rho, 4)
        out["pred_n"] = len(pairs)
        return out


def default_reporters(strategy: str, quiet: bool) -> list[Reporter]:
    """The checkpoint and the predictor's quality; console and progress unless ``quiet``."""
    out: list[Reporter] = [Checkpoint(strategy), PredictorQuality()]
    if not quiet:
        out += [Console(), Progress()]
    return out

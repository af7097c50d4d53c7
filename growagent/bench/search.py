"""Run (or resume) one search row under the wall-time cap, and read its figures back.

The row's directory is a normal run directory: ``growagent.run`` makes it,
``growagent.resume`` continues it after an interruption. The cap is a
reporter that stops the search after the step in which it passed (the
archive has checkpointed that step); the front found so far is then judged
on the held-out episodes as a finished run's would be.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import growagent
from growagent.archive import Archive
from growagent.bench.record import RowResult
from growagent.bench.rows import env_steps_bound
from growagent.runner import RunResult
from growagent.search.reporters import Reporter


class WallTimeReached(Exception):
    """The row's wall-time cap passed; the archive holds every finished step."""


class WallCap(Reporter):
    """Stop the search at the end of the first step that ends after ``deadline``."""

    def __init__(self, deadline: float):
        self.deadline = deadline

    def end_step(self, step: int, state: Any, record: dict[str, Any] | None) -> None:
        if time.perf_counter() >= self.deadline:
            raise WallTimeReached


def elapsed(run_dir: Path) -> float:
    """Seconds of search already in ``run_dir``'s archive: from the start of the first
    assessment to the end of the last one (0 for a run that assessed nothing)."""
    rows = _assessed(run_dir)
    if not rows:
        return 0.0
    start = min(r["created"] - (r["wall_time"] or 0.0) for r in rows)
    return float(max(r["created"] for r in rows) - start)


def _assessed(run_dir: Path) -> list[dict[str, Any]]:
    with Archive(run_dir / "archive.sqlite", readonly=True) as a:
        return list(a.assessments())


def run_search_row(
    env: str, row: str, seed: int, config: dict[str, Any], run_dir: Path, wall: float
) -> RowResult:
    """Run ``config`` in ``run_dir`` (resume it if it was started), at most ``wall``
    seconds of search, and return its record (not yet saved)."""
    resuming = (run_dir / "archive.sqlite").exists()
    spent = elapsed(run_dir) if resuming else 0.0
    t0 = time.perf_counter()
    cap = WallCap(t0 + max(0.0, wall - spent))
    stopped = False
    try:
        if resuming:
            result = growagent.resume(run_dir, quiet=True, reporters=[cap])
        else:
            result = growagent.run(config, out=run_dir, quiet=True, reporters=[cap])
    except WallTimeReached:
        stopped = True
        result = judge_front(run_dir)
    seconds = spent + time.perf_counter() - t0
    assessed = [r for r in _assessed(run_dir) if r["status"] == "ok"]
    start = min((r["created"] - (r["wall_time"] or 0.0) for r in assessed), default=0.0)
    curve = [
        (float(r["created"] - start), float(r["return_mean"]), int(r["policy_params"]))
        for r in sorted(assessed, key=lambda r: float(r["created"]))
    ]
    n = len(_assessed(run_dir))
    return RowResult(
        env=env,
        row=row,
        seed=seed,
        front=[(e.heldout, e.size) for e in result.pareto if e.heldout is not None],
        curve=curve,
        wall=seconds,
        assessments=n,
        env_steps_bound=env_steps_bound(config, n),
        note="stopped at the wall-time cap" if stopped else "",
        stopped_at_wall=stopped,
    )


def judge_front(run_dir: Path) -> RunResult:
    """Held-out judgement of the front of a run the wall-time cap stopped, written into
    the run directory as a finished run's is (``pareto.json``, ``champion.json``)."""
    from growagent.config import load_archived_config
    from growagent.executors import make_executor
    from growagent.runner import _result
    from growagent.search.evaluator import Evaluator

    with Archive(run_dir / "archive.sqlite", readonly=True) as a:
        cfg = load_archived_config(a.get_meta("config"))
    evaluator = Evaluator(cfg, run_dir, lambda msg: None)
    try:
        evaluator.start(make_executor(cfg.executor.kind, workers=cfg.executor.workers))
        result = _result(evaluator)
        evaluator.archive.set_meta("status", "stopped at the wall-time cap")
        return result
    finally:
        evaluator.close()
        evaluator.archive.close()

"""The rows of ``growagent bench``: what each one is, and the run config of a search row.

A *search row* is a normal growagent run (a strategy, or the default with one
component switched off); a *baseline* trains one fixed network (see
:mod:`growagent.bench.baselines`); a *peer* is another library, run in its own
environment. Rows the code cannot express through the run config are listed in
:data:`NOT_IMPLEMENTED` with the reason, and the table says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

DEFAULT_ROW = "evolution"
"""The default search: the row the baselines take their wall time and size from."""

STRATEGY_ROWS = ("evolution", "firefly", "metaqnn", "random")
ABLATION_ROWS = ("no-predictor", "no-distill", "noise-off", "reinit", "firefly-random")
BASELINE_ROWS = ("sb3-ppo", "ppo-small")
PEER_ROWS = ("agilerl",)
ROWS = (*STRATEGY_ROWS, *ABLATION_ROWS, *BASELINE_ROWS, *PEER_ROWS)
"""Every row name, in table order."""

NEEDS_DEFAULT = ("no-distill", "sb3-ppo", "ppo-small", "agilerl")
"""Rows that take a figure from the default row (its wall time, its assessments'
duration or its champion's size), so the default row runs first."""

NOT_IMPLEMENTED: dict[str, str] = {}
"""Rows of the issue that need new behaviour, not just config, and why."""

Kind = Literal["strategy", "ablation", "baseline", "peer"]


def kind_of(row: str) -> Kind:
    """Which kind of row ``row`` is."""
    if row in STRATEGY_ROWS:
        return "strategy"
    if row in ABLATION_ROWS:
        return "ablation"
    if row in BASELINE_ROWS:
        return "baseline"
    return "peer"


def is_search(row: str) -> bool:
    """Whether the row is a growagent run (a run directory with an archive)."""
    return kind_of(row) in ("strategy", "ablation") and row not in NOT_IMPLEMENTED


@dataclass(frozen=True)
class Judgement:
    """The judgement every search row shares (the default's, or a faster one for tests)."""

    distill_grad_steps: int | None = None
    """Override of ``[assess.distill] grad_steps`` (None: the default)."""
    distill_env_steps: int | None = None
    """Override of ``[assess.distill] env_steps`` and ``teacher_states`` (None: the defaults)."""
    executor: str = "process"
    """``[executor] kind``."""
    workers: int = 2
    """``[executor] workers``."""


def search_config(
    row: str,
    env: str,
    seed: int,
    budget: int,
    teacher: str,
    judgement: Judgement,
    finetune_steps: int = 0,
) -> dict[str, Any]:
    """The run config of a search row: every row gets the same space, the same judgement
    and about ``budget`` assessments; an ablation differs from the default in one key.

    Polishing is off: it would add assessments beyond the budget, the same for every row.
    """
    strategy = (
        row if row in STRATEGY_ROWS else "firefly" if row == "firefly-random" else DEFAULT_ROW
    )
    seeds = ["minimal", "mlp:4", "mlp:8", "mlp:16,16"] if budget >= 12 else ["minimal", "mlp:4"]
    offspring = max(1, min(8, budget - len(seeds)))
    generations = max(1, (budget - len(seeds)) // offspring)
    branches = 2
    prune = min(4, max(1, budget // 4))
    distill: dict[str, Any] = {}
    if judgement.distill_grad_steps is not None:
        distill["grad_steps"] = judgement.distill_grad_steps
        distill["check_every"] = max(1, min(200, judgement.distill_grad_steps // 2))
    if judgement.distill_env_steps is not None:
        distill["env_steps"] = judgement.distill_env_steps
        distill["teacher_states"] = judgement.distill_env_steps
    assess: dict[str, Any] = {"finetune_steps": 0, "distill": distill}
    config: dict[str, Any] = {
        "name": f"{row}-s{seed}",
        "env": env,
        "seed": seed,
        "heldout_episodes": 100,
        "teacher": {"path": teacher},
        "search": {
            "strategy": strategy,
            "max_params": 3000,
            "max_hidden_nodes": 4,
            "max_units": 32,
        },
        "evolution": {
            "generations": generations,
            "mu": min(8, len(seeds) + offspring),
            "offspring": offspring,
            "seeds": seeds,
        },
        "random": {"assessments": budget, "batch": min(4, budget)},
        "metaqnn": {
            "architectures": budget,
            "batch": min(4, budget),
            "widths": [1, 2, 4, 8, 16, 32],
        },
        "firefly": {
            "steps": max(1, (budget - 1 - prune) // branches),
            "branches": branches,
            "prune_steps": prune,
        },
        "assess": assess,
        "executor": {"kind": judgement.executor, "workers": judgement.workers},
        "polish": {"factor": 0},
    }
    if row == "no-predictor":
        config["predictor"] = {"enabled": False}
    elif row == "noise-off":
        config["evolution"]["reevaluate"] = False
    elif row == "reinit":
        config["evolution"]["inherit"] = "reinit"
    elif row == "firefly-random":  # an ablation of firefly, not of the default
        config["firefly"]["selection"] = "random"
    elif row == "no-distill":
        config["assess"] = {"distill": False, "finetune_steps": finetune_steps}
    return config


def env_steps_bound(config: dict[str, Any], assessments: int) -> int:
    """At most how many training env steps ``assessments`` assessments of ``config`` took
    (the distillation's student steps plus the PPO fine-tune; the shared teacher
    states and the evaluation episodes are not counted)."""
    from growagent.distill.a2d import DistillConfig

    assess = config["assess"]
    per = int(assess.get("finetune_steps", 0))
    if assess.get("distill") is not False:
        per += int(assess["distill"].get("env_steps", DistillConfig().env_steps))
    return per * assessments

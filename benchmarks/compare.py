"""Every row of issue 14 under one budget: ``growagent bench`` with this study's defaults.

The five tasks, three seeds, every row; each row's run is a run directory
under ``runs/.bench`` (finished rows are kept, started ones resumed) and the
tables and plots go into ``docs/benchmarks.md``. Any argument of
``growagent bench`` may be given to override them, e.g. a quick look:

    python benchmarks/compare.py --env CartPole-v1 --seeds 0 --budget 12 --wall 300
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)  # benchmarks/operators.py would shadow the operators package

from growagent.cli.main import main

TASKS = ["CartPole-v1", "Acrobot-v1", "LunarLander-v3", "Pendulum-v1", "Hopper-v5"]
DEFAULTS = ["--seeds", "0", "1", "2", "--budget", "36", "--wall", "1800"]


def arguments(given: list[str]) -> list[str]:
    """``growagent bench`` arguments: the study's defaults, then what was given."""
    tasks = [] if "--env" in given else [a for t in TASKS for a in ("--env", t)]
    return ["bench", *tasks, *DEFAULTS, *given]


if __name__ == "__main__":
    sys.exit(main(arguments(sys.argv[1:])))

"""growagent: search for small, strong deep-RL agents.

The search lives here (environments, PPO, distillation, evolution, archive,
executors, CLI); the genome representation is in :mod:`genomes` and the
mutation operators in :mod:`operators`. Those two install with networkx,
NumPy and torch alone; this package needs the ``search`` extra
(``pip install 'growagent[search]'``), and says so in one line without it.

    >>> import growagent
    >>> callable(growagent.run)
    True
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

SEARCH_STACK = (
    "gymnasium",
    "deap",
    "moocore",
    "torch_geometric",
    "matplotlib",
    "tqdm",
    "tomli_w",
    "scipy",
    "sklearn",
)
"""Modules the search needs beyond ``genomes``' networkx, NumPy and torch: the
``search`` extra (``pip install 'growagent[search]'``) installs them."""


def _check_search_stack() -> None:
    # find_spec only looks the modules up, so `import growagent` stays light
    missing = [name for name in SEARCH_STACK if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(
            f"growagent needs {', '.join(missing)} (the search stack): "
            "pip install 'growagent[search]'"
        )


_check_search_stack()

if TYPE_CHECKING:
    from growagent.runner import RunResult


def run(config: Any, **kwargs: Any) -> RunResult:
    """Run an evolution; see :func:`growagent.runner.run` (imported lazily)."""
    from growagent.runner import run as _run

    return _run(config, **kwargs)


def resume(run_dir: Any, **kwargs: Any) -> RunResult:
    """Resume a run; see :func:`growagent.runner.resume`."""
    from growagent.runner import resume as _resume

    return _resume(run_dir, **kwargs)


__all__ = ["__version__", "resume", "run"]

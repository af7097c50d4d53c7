"""growagent: search for small, strong deep-RL agents.

The search lives here (environments, PPO, distillation, evolution, archive,
executors, CLI); the genome representation is in :mod:`genomes` and the
mutation operators in :mod:`operators`.

    >>> import growagent
    >>> callable(growagent.run)
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

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

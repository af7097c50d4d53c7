"""Search strategies behind one seam (see :mod:`growagent.search.base`).

==============  =====================================================  ============
name            what it does                                           module
==============  =====================================================  ============
``evolution``   DEAP (mu + lambda), NSGA-II, predictor screen          evolution
``random``      chain MLPs drawn at random within the limits           random_search
``firefly``     firefly neural architecture descent on one network     firefly
``metaqnn``     tabular Q-learning over a layer grammar                metaqnn
==============  =====================================================  ============

A fifth strategy is a class with ``name``, ``init``, ``ask``, ``tell``,
``done`` and ``result`` (see :class:`~growagent.search.base.Strategy`), an
entry in :data:`STRATEGIES` and a config table.
"""

from collections.abc import Callable

from growagent.config import RunConfig
from growagent.search.base import Candidate, Context, Judgement, State, Strategy
from growagent.search.evolution import Evolution
from growagent.search.firefly import FireflyDescent
from growagent.search.metaqnn import MetaQNN
from growagent.search.random_search import RandomSearch

STRATEGIES: dict[str, Callable[[RunConfig, Context], Strategy]] = {
    "evolution": Evolution,
    "random": RandomSearch,
    "firefly": FireflyDescent,
    "metaqnn": MetaQNN,
}
"""Strategy name (``[search] strategy``) -> class taking ``(cfg, context)``."""

__all__ = [
    "STRATEGIES",
    "Candidate",
    "Context",
    "Evolution",
    "FireflyDescent",
    "Judgement",
    "MetaQNN",
    "RandomSearch",
    "State",
    "Strategy",
]

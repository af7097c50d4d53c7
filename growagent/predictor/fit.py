"""Fit a named model on samples and score candidates: the one call the search makes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from growagent.predictor.features import Sample, Scale, matrix
from growagent.predictor.models import MODELS, GINEnsemble

if TYPE_CHECKING:
    from growagent.config import PredictorConfig


def fit_predict(
    model: str,
    data: Sequence[tuple[Sequence[Sample], Scale]],
    candidates: Sequence[Sample],
    scale: Scale,
    *,
    seed: int = 0,
    pcfg: PredictorConfig | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores and uncertainties of ``candidates`` from ``model`` fitted on ``data``.

    ``data`` holds groups of assessed samples, each with the scale of its own
    archive (the run's own, then any warm-start archives): features and
    targets are standardised per group, the candidates by ``scale``.
    """
    xs, ys, graphs = [], [], []
    for samples, sc in data:
        if not samples:
            continue
        xs.append(matrix(samples, sc))
        ys.append((np.array([s.target for s in samples], dtype=float) - sc.centre) / sc.spread)
        graphs += [s.genome for s in samples]
    m = MODELS[model](seed)
    if isinstance(m, GINEnsemble) and pcfg is not None:
        m.epochs, m.hidden, m.members = pcfg.epochs, pcfg.hidden, pcfg.members
    m.fit(np.concatenate(xs), np.concatenate(ys), graphs)
    return m.predict(matrix(candidates, scale), [c.genome for c in candidates])

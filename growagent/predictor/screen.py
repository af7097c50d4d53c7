"""The screen: which of the candidate children are assessed.

Of ``k`` places, ``round(explore * k)`` go to exploration and the rest to
the best-predicted candidates. Exploration picks among the candidates left
over, either uniformly at random or those the predictor is least sure of
(``explore_by = "uncertainty"``), so the predictor keeps seeing children it
would not have chosen and keeps learning. New architectures come first in
both parts (``take_distinct``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from genomes import Genome


@dataclass
class Prediction:
    """A predictor's scores for candidates (higher is better) and its uncertainty."""

    scores: list[float]
    std: list[float]


def take_distinct(ranked: Sequence[Genome], k: int, seen: set[str]) -> list[Genome]:
    """The first ``k`` of ``ranked`` with new structural hashes, topped up with repeats.

    The chosen architectures are added to ``seen``.
    """
    chosen: list[Genome] = []
    hashes = set(seen)
    for g in ranked:
        h = g.structural_hash()
        if h not in hashes and len(chosen) < k:
            chosen.append(g)
            hashes.add(h)
    for g in ranked:
        if len(chosen) >= k:
            break
        if not any(g is c for c in chosen):
            chosen.append(g)
    seen.update(g.structural_hash() for g in chosen)
    return chosen


def screen(
    candidates: Sequence[Genome],
    prediction: Prediction | None,
    k: int,
    seen: set[str],
    rng: np.random.Generator,
    *,
    explore: float = 0.0,
    explore_by: str = "uncertainty",
) -> tuple[list[Genome], list[bool]]:
    """Choose ``k`` of ``candidates``; also whether each was an exploration pick.

    Without a prediction the first ``k`` distinct candidates are taken (in
    their order) and none counts as exploration.

    Examples
    --------
    >>> import genomes
    >>> gs = [genomes.mlp(3, 2, [w]) for w in (1, 2, 3, 4)]
    >>> p = Prediction(scores=[0.0, 3.0, 1.0, 2.0], std=[0.0, 0.0, 5.0, 0.0])
    >>> chosen, explored = screen(gs, p, 2, set(), np.random.default_rng(0), explore=0.5)
    >>> [g.units("h0") for g in chosen], explored
    ([2, 3], [False, True])
    """
    if prediction is None:
        return take_distinct(candidates, k, seen), [False] * min(k, len(candidates))
    scores = np.asarray(prediction.scores, dtype=float)
    order = np.argsort(-scores, kind="stable")
    n_explore = round(explore * k)
    best = take_distinct([candidates[i] for i in order], k - n_explore, seen)
    left = [i for i in order if not any(candidates[i] is g for g in best)]
    if explore_by == "uncertainty":
        std = np.asarray(prediction.std, dtype=float)
        left = sorted(left, key=lambda i: -std[i])
    elif explore_by == "random":
        left = [left[j] for j in rng.permutation(len(left))]
    else:
        raise ValueError(f"Unknown explore_by {explore_by!r} (expected 'uncertainty' or 'random')")
    extra = take_distinct([candidates[i] for i in left], n_explore, seen)
    return best + extra, [False] * len(best) + [True] * len(extra)

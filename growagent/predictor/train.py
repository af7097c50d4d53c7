"""Train the predictor online on the run's archive, and measure it.

The loss is a pairwise logistic ranking loss: for every pair of training
genomes whose returns differ, ``softplus(-(s_i - s_j))`` where ``i`` is the
better one. Only the order of predictions matters to screening, and ranking
losses are robust to the scale of returns (Wen et al., 2020; Dudziak et
al., 2020).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from genomes import Genome
from genomes.pyg import NUM_NODE_FEATURES
from growagent.predictor.model import GINPredictor


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b between two sequences (scipy's; NaN if either is constant).

    Examples
    --------
    >>> kendall_tau([1, 2, 3, 4], [10, 20, 30, 40])
    1.0
    >>> kendall_tau([1, 2, 3], [3, 2, 1])
    -1.0
    """
    from scipy.stats import kendalltau

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(x) != len(y):
        raise ValueError(f"Expected sequences of equal length (got {len(x)} and {len(y)})")
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(kendalltau(x, y).statistic)


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation (scipy's; NaN if either is constant).

    >>> spearman([1, 2, 3, 4], [1, 4, 9, 16])
    1.0
    """
    from scipy.stats import spearmanr

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(x) != len(y):
        raise ValueError(f"Expected sequences of equal length (got {len(x)} and {len(y)})")
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def ranking_loss(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean pairwise logistic loss over pairs with different targets.

    >>> s = torch.tensor([2.0, 0.0]); t = torch.tensor([1.0, 0.0])
    >>> bool(ranking_loss(s, t) < ranking_loss(-s, t))
    True
    """
    diff_t = targets[:, None] - targets[None, :]
    diff_s = scores[:, None] - scores[None, :]
    mask = diff_t > 0
    if not bool(mask.any()):
        return scores.sum() * 0.0
    return F.softplus(-diff_s[mask]).mean()


@dataclass
class Predictor:
    """A trained model with :meth:`score`."""

    model: GINPredictor

    def score(self, genomes_: Sequence[Genome]) -> np.ndarray:
        """Predicted scores (higher is better) for genomes."""
        from torch_geometric.data import Batch

        if not genomes_:
            return np.zeros(0)
        batch = Batch.from_data_list([g.to_pyg() for g in genomes_])
        self.model.eval()
        with torch.no_grad():
            scores: torch.Tensor = self.model(batch)
            return scores.double().numpy()


def train_predictor(
    genomes_: Sequence[Genome],
    returns: Sequence[float],
    *,
    epochs: int = 150,
    hidden: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
) -> Predictor:
    """Fit a :class:`GINPredictor` to rank ``genomes_`` by ``returns``.

    Full-batch Adam on the pairwise ranking loss; deterministic for a seed
    on one thread.

    Examples
    --------
    >>> import genomes
    >>> gs = [genomes.mlp(4, 2, [w]) for w in (1, 2, 4, 8, 16)]
    >>> p = train_predictor(gs, [10, 20, 40, 80, 160], epochs=100)  # doctest: +SKIP
    >>> kendall_tau(p.score(gs), [10, 20, 40, 80, 160]) > 0.5  # doctest: +SKIP
    True
    """
    from torch_geometric.data import Batch

    if len(genomes_) != len(returns):
        raise ValueError("Expected one return per genome")
    batch = Batch.from_data_list([g.to_pyg() for g in genomes_])
    model = train_gin(batch, np.asarray(returns), epochs=epochs, hidden=hidden, lr=lr, seed=seed)
    return Predictor(model)


def train_gin(
    batch: Any,
    targets: np.ndarray,
    *,
    extra: int = 0,
    epochs: int = 150,
    hidden: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
) -> GINPredictor:
    """Fit a :class:`GINPredictor` on a ``torch_geometric`` batch (``batch.flat`` when
    ``extra``) to rank graphs by ``targets``: full-batch Adam on the ranking loss."""
    torch.manual_seed(seed)
    model = GINPredictor(NUM_NODE_FEATURES, hidden=hidden, extra=extra)
    target = torch.tensor(np.asarray(targets, dtype=np.float64), dtype=torch.float32)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        opt.zero_grad()
        loss = ranking_loss(model(batch), target)
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
    return model

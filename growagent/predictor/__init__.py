"""GNN performance predictor: rank candidate children before training them.

A GIN over ``genome.to_pyg()`` graphs (:mod:`growagent.predictor.model`),
trained online on the run's archive with a pairwise ranking loss
(:mod:`growagent.predictor.train`). The search builds several times more
candidate children than it assesses and keeps the best-ranked ones; each
generation logs the Kendall tau between the predictions (made before
assessment) and the returns measured afterwards.
"""

from growagent.predictor.train import (
    Predictor,
    kendall_tau,
    ranking_loss,
    spearman,
    train_predictor,
)

__all__ = ["Predictor", "kendall_tau", "ranking_loss", "spearman", "train_predictor"]

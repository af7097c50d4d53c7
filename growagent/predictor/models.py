"""The predictor's models and its baselines, behind one interface.

Every model is fitted on earlier assessments and scores candidates before
they are assessed; ``predict`` returns a score per candidate (higher is
better; only the order matters) and an uncertainty (0 where the model has
none).

==============  ===========================================================
name            model
==============  ===========================================================
``parent``      the parent's measured return (baseline a)
``size``        the policy's size, larger first (baseline b)
``ridge``       scikit-learn's BayesianRidge on the flat features (baseline c)
``forest``      scikit-learn's ExtraTreesRegressor on the flat features;
                uncertainty is the spread of its trees (baseline c)
``gin``         an ensemble of GINs over ``genome.to_pyg()`` that also read
                the flat features (parent, operator, size change); uncertainty
                is the ensemble's spread (d)
``gin-arch``    the same GINs on the architecture alone (d, without the parent)
==============  ===========================================================

The flat features are :data:`growagent.predictor.features.FEATURES`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from genomes import Genome
from growagent.predictor.features import FEATURES


class Model(Protocol):
    def fit(self, x: np.ndarray, y: np.ndarray, graphs: Sequence[Genome]) -> None: ...

    def predict(self, x: np.ndarray, graphs: Sequence[Genome]) -> tuple[np.ndarray, np.ndarray]: ...


_COL = {name: i for i, name in enumerate(FEATURES)}


class ParentReturn:
    """Score = the parent's measured return (a seed: the archive's mean)."""

    def fit(self, x: np.ndarray, y: np.ndarray, graphs: Sequence[Genome]) -> None:
        pass

    def predict(self, x: np.ndarray, graphs: Sequence[Genome]) -> tuple[np.ndarray, np.ndarray]:
        return x[:, _COL["parent_return"]].copy(), np.zeros(len(x))


class Size:
    """Score = log policy parameters: the larger policy is predicted better."""

    def fit(self, x: np.ndarray, y: np.ndarray, graphs: Sequence[Genome]) -> None:
        pass

    def predict(self, x: np.ndarray, graphs: Sequence[Genome]) -> tuple[np.ndarray, np.ndarray]:
        return x[:, _COL["log_policy_params"]].copy(), np.zeros(len(x))


class Ridge:
    """Bayesian ridge regression on standardised flat features (scikit-learn)."""

    def __init__(self, seed: int = 0):
        from sklearn.linear_model import BayesianRidge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.model = make_pipeline(StandardScaler(), BayesianRidge())

    def fit(self, x: np.ndarray, y: np.ndarray, graphs: Sequence[Genome]) -> None:
        self.model.fit(x, y)

    def predict(self, x: np.ndarray, graphs: Sequence[Genome]) -> tuple[np.ndarray, np.ndarray]:
        mean, std = self.model.predict(x, return_std=True)
        return np.asarray(mean, dtype=float), np.asarray(std, dtype=float)


class Forest:
    """Extremely randomised trees on the flat features (scikit-learn)."""

    def __init__(self, seed: int = 0, trees: int = 100):
        from sklearn.ensemble import ExtraTreesRegressor

        self.model = ExtraTreesRegressor(
            n_estimators=trees, min_samples_leaf=2, random_state=seed, n_jobs=1
        )

    def fit(self, x: np.ndarray, y: np.ndarray, graphs: Sequence[Genome]) -> None:
        self.model.fit(x, y)

    def predict(self, x: np.ndarray, graphs: Sequence[Genome]) -> tuple[np.ndarray, np.ndarray]:
        per_tree = np.stack([t.predict(x) for t in self.model.estimators_])
        return per_tree.mean(axis=0), per_tree.std(axis=0)


class GINEnsemble:
    """``members`` GINs trained with the pairwise ranking loss from different seeds.

    Each member's scores are standardised by its scores on the training set
    before averaging, so the spread across members is comparable between
    candidates.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        flat: bool = True,
        members: int = 3,
        epochs: int = 150,
        hidden: int = 32,
    ):
        self.seed, self.flat, self.members = seed, flat, members
        self.epochs, self.hidden = epochs, hidden
        self.fitted: list[Any] = []
        self.x_mean = np.zeros(len(FEATURES))
        self.x_std = np.ones(len(FEATURES))

    def _batch(self, x: np.ndarray, graphs: Sequence[Genome]) -> Any:
        import torch
        from torch_geometric.data import Batch

        data = []
        z = (x - self.x_mean) / self.x_std
        for g, row in zip(graphs, z):
            d = g.to_pyg()
            d.node_names = None  # a list of str; not needed by the model
            if self.flat:
                d.flat = torch.tensor(row, dtype=torch.float32)[None, :]
            data.append(d)
        return Batch.from_data_list(data)

    def fit(self, x: np.ndarray, y: np.ndarray, graphs: Sequence[Genome]) -> None:
        from growagent.predictor.train import train_gin

        self.x_mean = x.mean(axis=0)
        self.x_std = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
        batch = self._batch(x, graphs)
        self.fitted = []
        for m in range(self.members):
            model = train_gin(
                batch,
                y,
                extra=len(FEATURES) if self.flat else 0,
                epochs=self.epochs,
                hidden=self.hidden,
                seed=self.seed + 7919 * m,
            )
            train_scores = _scores(model, batch)
            self.fitted.append((model, train_scores.mean(), train_scores.std() or 1.0))

    def predict(self, x: np.ndarray, graphs: Sequence[Genome]) -> tuple[np.ndarray, np.ndarray]:
        batch = self._batch(x, graphs)
        runs = np.stack([(_scores(m, batch) - mu) / sd for m, mu, sd in self.fitted])
        return runs.mean(axis=0), runs.std(axis=0)


def _scores(model: Any, batch: Any) -> np.ndarray:
    import torch

    model.eval()
    with torch.no_grad():
        return np.asarray(model(batch).double().numpy())


MODELS: dict[str, Callable[[int], Model]] = {
    "parent": lambda seed: ParentReturn(),
    "size": lambda seed: Size(),
    "ridge": Ridge,
    "forest": Forest,
    "gin": lambda seed: GINEnsemble(seed, flat=True),
    "gin-arch": lambda seed: GINEnsemble(seed, flat=False),
}
"""Every model by name; ``MODELS[name](seed)`` makes an unfitted one."""

BASELINES = ("parent", "size", "ridge", "forest")
"""The cheap models whose out-of-sample tau every run logs beside the predictor's."""

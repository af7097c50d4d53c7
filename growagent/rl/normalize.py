"""Running observation normalisation, stored in ``genome.meta["obs_norm"]``.

The normalised observation is ``clip((obs - mean) / sqrt(var + epsilon), -clip, clip)``,
the same formula as Stable-Baselines3's ``VecNormalize``, so its statistics
convert one to one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray


class RunningMeanStd:
    """Running observation statistics, with the clip and epsilon of the normalisation.

    The statistics are gymnasium's :class:`gymnasium.wrappers.utils.RunningMeanStd`
    (the parallel algorithm of Chan et al., initial count ``1e-4``); this class
    adds what the genome keeps with them (``clip``, ``epsilon``) and the
    conversion to and from ``genome.meta["obs_norm"]``.

    Parameters
    ----------
    shape : tuple of int
        Shape of one observation.
    clip : float
        Clip range of the normalised observation.
    epsilon : float
        Added to the variance before the square root.

    Examples
    --------
    >>> rms = RunningMeanStd((2,))
    >>> rms.update(np.array([[0.0, 1.0], [2.0, 3.0]]))
    >>> rms.mean.round(3).tolist(), round(rms.count, 3)
    ([1.0, 2.0], 2.0)
    >>> RunningMeanStd.from_meta(rms.to_meta()).mean.round(3).tolist()
    [1.0, 2.0]
    """

    def __init__(self, shape: tuple[int, ...], clip: float = 10.0, epsilon: float = 1e-8):
        from gymnasium.wrappers.utils import RunningMeanStd as Statistics

        self.stats = Statistics(epsilon=1e-4, shape=shape, dtype=np.float64)
        self.clip = float(clip)
        self.epsilon = float(epsilon)

    @property
    def mean(self) -> NDArray[np.float64]:
        return self.stats.mean

    @mean.setter
    def mean(self, value: NDArray[np.float64]) -> None:
        self.stats.mean = value

    @property
    def var(self) -> NDArray[np.float64]:
        return self.stats.var

    @var.setter
    def var(self, value: NDArray[np.float64]) -> None:
        self.stats.var = value

    @property
    def count(self) -> float:
        return float(self.stats.count)

    @count.setter
    def count(self, value: float) -> None:
        self.stats.count = value

    def update(self, batch: NDArray[Any]) -> None:
        """Fold a batch ``[n, *shape]`` into the statistics."""
        self.stats.update(np.asarray(batch, dtype=np.float64))

    def normalize(self, obs: NDArray[Any]) -> NDArray[np.float32]:
        """Normalise ``obs`` with the current statistics (float32)."""
        z = (np.asarray(obs, dtype=np.float64) - self.mean) / np.sqrt(self.var + self.epsilon)
        return np.clip(z, -self.clip, self.clip).astype(np.float32)

    def to_meta(self) -> dict[str, Any]:
        """The ``genome.meta["obs_norm"]`` dict (JSON-ready lists)."""
        return {
            "mean": self.mean.ravel().tolist(),
            "var": self.var.ravel().tolist(),
            "count": float(self.count),
            "clip": self.clip,
            "epsilon": self.epsilon,
        }

    @classmethod
    def from_meta(
        cls, meta: dict[str, Any], shape: tuple[int, ...] | None = None
    ) -> RunningMeanStd:
        """Rebuild from a ``genome.meta["obs_norm"]`` dict."""
        mean = np.asarray(meta["mean"], dtype=np.float64)
        var = np.asarray(meta["var"], dtype=np.float64)
        if mean.shape != var.shape:
            raise ValueError(
                f"obs_norm: expected mean and var of one shape (got {mean.shape}, {var.shape})"
            )
        shape = shape or mean.shape
        rms = cls(
            shape, clip=float(meta.get("clip", 10.0)), epsilon=float(meta.get("epsilon", 1e-8))
        )
        rms.mean = mean.reshape(shape).copy()
        rms.var = var.reshape(shape).copy()
        rms.count = float(meta.get("count", 1e-4))
        return rms


def normalize_obs(meta_obs_norm: dict[str, Any] | None, obs: ArrayLike) -> NDArray[np.float32]:
    """Normalise ``obs`` with frozen statistics from ``genome.meta["obs_norm"]``.

    ``None`` means no normalisation (the observation is only cast to float32).

    Examples
    --------
    >>> meta = {"mean": [1.0], "var": [4.0], "count": 10.0, "clip": 5.0, "epsilon": 0.0}
    >>> normalize_obs(meta, [[3.0], [100.0]]).tolist()
    [[1.0], [5.0]]
    >>> normalize_obs(None, [[3.0]]).dtype
    dtype('float32')
    """
    if meta_obs_norm is None:
        return np.asarray(obs, dtype=np.float32)
    mean = np.asarray(meta_obs_norm["mean"], dtype=np.float64)
    var = np.asarray(meta_obs_norm["var"], dtype=np.float64)
    clip = float(meta_obs_norm["clip"])
    z = (np.asarray(obs, dtype=np.float64) - mean) / np.sqrt(var + float(meta_obs_norm["epsilon"]))
    return np.clip(z, -clip, clip).astype(np.float32)

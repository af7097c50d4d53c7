"""Plain-dict descriptions of observation and action spaces.

A genome stores its spaces as JSON-friendly dicts so that the package never
imports gymnasium. Gymnasium spaces are recognised by duck typing.

    >>> describe_action_space(3)
    {'type': 'discrete', 'n': 3}
    >>> describe_observation_space(4)
    {'type': 'box', 'shape': [4]}
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

SpaceLike = Any
"""An int (size), a gymnasium ``Box``/``Discrete`` or a description dict."""


def describe_observation_space(space: SpaceLike) -> dict[str, Any]:
    """Describe an observation space (a flattened Box) as a dict.

    Parameters
    ----------
    space : int, gymnasium Box or dict
        An int is a flat vector of that size.

    Returns
    -------
    dict
        ``{"type": "box", "shape": [...]}`` plus ``low``/``high`` when known.

    Raises
    ------
    TypeError
        If the space is not a Box-like space.
    """
    if isinstance(space, dict):
        if space.get("type") != "box":
            raise TypeError(f"Expected a box observation space (got {space!r})")
        return dict(space)
    if isinstance(space, (int, np.integer)):
        return {"type": "box", "shape": [int(space)]}
    if hasattr(space, "low") and hasattr(space, "shape") and space.shape is not None:
        return _box(space)
    raise TypeError(
        f"Expected a Box observation space or an int (got {type(space).__name__}: {space!r})"
    )


def describe_action_space(space: SpaceLike) -> dict[str, Any]:
    """Describe a Discrete or Box action space as a dict.

    Parameters
    ----------
    space : int, gymnasium Discrete/Box or dict
        An int is a discrete space with that many actions.

    Returns
    -------
    dict
        ``{"type": "discrete", "n": n}`` or ``{"type": "box", "shape": [...],
        "low": [...], "high": [...]}``.

    Raises
    ------
    TypeError
        For any other space.

    Examples
    --------
    >>> describe_action_space({"type": "box", "shape": [2], "low": [-1, -1], "high": [1, 1]})["shape"]
    [2]
    """
    if isinstance(space, dict):
        if space.get("type") not in ("discrete", "box"):
            raise TypeError(f"Expected a discrete or box action space (got {space!r})")
        return dict(space)
    if isinstance(space, (int, np.integer)):
        return {"type": "discrete", "n": int(space)}
    if hasattr(space, "n") and not hasattr(space, "nvec"):
        start = int(getattr(space, "start", 0))
        desc: dict[str, Any] = {"type": "discrete", "n": int(space.n)}
        if start:
            desc["start"] = start
        return desc
    if hasattr(space, "low") and hasattr(space, "shape") and space.shape is not None:
        return _box(space)
    raise TypeError(
        f"Expected a Discrete or Box action space or an int (got {type(space).__name__}: {space!r})"
    )


def _box(space: Any) -> dict[str, Any]:
    """A Box description; bounds are kept only when all are finite (JSON has no inf)."""
    desc: dict[str, Any] = {"type": "box", "shape": [int(s) for s in space.shape]}
    low = np.asarray(space.low, dtype=np.float64).ravel()
    high = np.asarray(space.high, dtype=np.float64).ravel()
    if np.isfinite(low).all() and np.isfinite(high).all():
        desc["low"], desc["high"] = low.tolist(), high.tolist()
    return desc


def flat_size(desc: dict[str, Any]) -> int:
    """Number of scalars in a box description, or actions in a discrete one.

    >>> flat_size({"type": "box", "shape": [3, 2]})
    6
    >>> flat_size({"type": "discrete", "n": 4})
    4
    """
    if desc["type"] == "discrete":
        return int(desc["n"])
    return math.prod(int(s) for s in desc["shape"])

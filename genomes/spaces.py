"""Plain-dict descriptions of observation and action spaces.

A genome stores its spaces as JSON-friendly dicts so that the package never
imports gymnasium. Gymnasium spaces are recognised by duck typing.

    >>> describe_action_space(3)
    {'type': 'discrete', 'n': 3}
    >>> describe_observation_space(4)
    {'type': 'box', 'shape': [4]}

A shape may be given as an int, a tuple or a list, also inside a dict; it
is stored as a list of ints (so a description reads the same after a JSON
round trip):

    >>> describe_observation_space((2, 3))
    {'type': 'box', 'shape': [2, 3]}
    >>> describe_action_space({"type": "box", "shape": 2, "low": (-1, -1), "high": (1, 1)})
    {'type': 'box', 'shape': [2], 'low': [-1, -1], 'high': [1, 1]}
"""

from __future__ import annotations

import math
from typing import Any, TypeGuard

import numpy as np

SpaceLike = Any
"""An int (size), a shape tuple, a gymnasium ``Box``/``Discrete`` or a description dict."""


def _is_int(x: Any) -> TypeGuard[int | np.integer[Any]]:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def normalise(desc: Any) -> Any:
    """A copy of a space description with JSON-friendly values, else ``desc`` unchanged.

    ``shape`` given as an int or a tuple becomes a list of ints, NumPy
    integers become ints and ``low``/``high`` given as tuples or arrays
    become flat lists. Anything else is left for ``Genome.validate`` to
    report.

    >>> normalise({"type": "box", "shape": (3,)})
    {'type': 'box', 'shape': [3]}
    >>> normalise({"type": "discrete", "n": np.int64(4)})
    {'type': 'discrete', 'n': 4}
    """
    if not isinstance(desc, dict):
        return desc
    out = dict(desc)
    shape = out.get("shape")
    if _is_int(shape):
        out["shape"] = [int(shape)]
    elif isinstance(shape, (tuple, list)) and all(_is_int(s) for s in shape):
        out["shape"] = [int(s) for s in shape]
    for key in ("n", "start"):
        value = out.get(key)
        if _is_int(value):
            out[key] = int(value)
    for key in ("low", "high"):
        value = out.get(key)
        if isinstance(value, (tuple, np.ndarray)):
            out[key] = np.asarray(value).ravel().tolist()
    return out


def _shape(space: Any) -> list[int] | None:
    """``space`` as a shape (an int or a tuple of ints), or ``None``."""
    if _is_int(space):
        return [int(space)]
    if isinstance(space, tuple) and space and all(_is_int(s) for s in space):
        return [int(s) for s in space]
    return None


def describe_observation_space(space: SpaceLike) -> dict[str, Any]:
    """Describe an observation space (a flattened Box) as a dict.

    Parameters
    ----------
    space : int, tuple of int, gymnasium Box or dict
        An int is a flat vector of that size, a tuple a shape.

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
        return dict(normalise(space))
    shape = _shape(space)
    if shape is not None:
        return {"type": "box", "shape": shape}
    if hasattr(space, "low") and hasattr(space, "shape") and space.shape is not None:
        return _box(space)
    raise TypeError(
        f"Expected a Box observation space, an int or a shape tuple (got {type(space).__name__}: {space!r})"
    )


def describe_action_space(space: SpaceLike) -> dict[str, Any]:
    """Describe a Discrete or Box action space as a dict.

    Parameters
    ----------
    space : int, tuple of int, gymnasium Discrete/Box or dict
        An int is a discrete space with that many actions; a tuple is the
        shape of an unbounded Box.

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
        return dict(normalise(space))
    if _is_int(space):
        return {"type": "discrete", "n": int(space)}
    if _shape(space) is not None:
        return {"type": "box", "shape": _shape(space)}
    if hasattr(space, "n") and not hasattr(space, "nvec"):
        start = int(getattr(space, "start", 0))
        desc: dict[str, Any] = {"type": "discrete", "n": int(space.n)}
        if start:
            desc["start"] = start
        return desc
    if hasattr(space, "low") and hasattr(space, "shape") and space.shape is not None:
        return _box(space)
    raise TypeError(
        f"Expected a Discrete or Box action space, an int or a shape tuple (got {type(space).__name__}: {space!r})"
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

"""Argument checks shared by the operators.

The rule: an argument that is wrong on *every* genome (a wrong type, a
negative count or index, an unknown mode or criterion, ``eps < 0``) is the
caller's mistake and raises :class:`ValueError` naming the argument. A
well-formed site that *this* genome does not offer raises
:class:`operators.NotApplicable` (see :func:`operators.base.not_a_site`).

    >>> check_int("widen", "units", 0, minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: widen: expected units to be an int >= 1 (got 0)
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

import numpy as np


def check_rng(what: str, rng: Any) -> np.random.Generator:
    """``rng`` if it is a :class:`numpy.random.Generator`."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"{what}: expected rng to be a numpy.random.Generator (got {type(rng).__name__})"
        )
    return rng


def check_int(what: str, name: str, value: Any, *, minimum: int) -> int:
    """``value`` as an ``int`` if it is an integer (not a bool) ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < minimum:
        raise ValueError(f"{what}: expected {name} to be an int >= {minimum} (got {value!r})")
    return int(value)


def check_float(what: str, name: str, value: Any, *, minimum: float | None = None) -> float:
    """``value`` as a ``float`` if it is a finite real number (``>= minimum`` when given)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok and not math.isfinite(float(value)):
        ok = False
    if ok and minimum is not None and float(value) < minimum:
        ok = False
    if not ok:
        bound = "" if minimum is None else f" >= {minimum:g}"
        raise ValueError(f"{what}: expected {name} to be a finite number{bound} (got {value!r})")
    return float(value)


def check_choice(what: str, name: str, value: Any, choices: Collection[str]) -> str:
    """``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{what}: expected {name} in {sorted(choices)} (got {value!r})")
    return value


def check_name(what: str, name: str, value: Any) -> str:
    """``value`` if it is a node name (a ``str``)."""
    if not isinstance(value, str):
        raise ValueError(f"{what}: expected {name} to be a node name (got {value!r})")
    return value


def check_pair(what: str, names: tuple[str, str], a: Any, b: Any) -> None:
    """Raise unless both of a pair of keywords are given or neither is."""
    if (a is None) != (b is None):
        raise ValueError(
            f"{what}: expected both {names[0]} and {names[1]} or neither "
            f"(got {names[0]}={a!r}, {names[1]}={b!r})"
        )


def check_bool(what: str, name: str, value: Any) -> bool:
    """``value`` if it is a ``bool``."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{what}: expected {name} to be True or False (got {value!r})")
    return bool(value)

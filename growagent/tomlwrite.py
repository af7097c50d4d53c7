"""A small TOML writer for resolved configs (tables, strings, numbers, lists).

>>> print(dumps({"name": "x", "evolution": {"mu": 4, "seeds": ["minimal"]}}))
name = "x"
<BLANKLINE>
[evolution]
mu = 4
seeds = ["minimal"]
<BLANKLINE>
"""

from __future__ import annotations

import json
from typing import Any


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"Cannot write {type(v).__name__} to TOML")


def dumps(data: dict[str, Any], prefix: str = "") -> str:
    """TOML text for a nested dict; ``None`` values are left out."""
    lines = []
    tables = []
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, dict) and value and not _is_inline(value):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {_value(value)}")
    out = "\n".join(lines) + ("\n" if lines else "")
    for key, value in tables:
        name = f"{prefix}.{key}" if prefix else key
        out += f"\n[{name}]\n" + dumps(value, name)
    return out


def _is_inline(value: dict[str, Any]) -> bool:
    """Operator-weight style maps (all numbers) are written inline."""
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value.values())

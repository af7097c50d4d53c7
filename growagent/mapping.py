"""Turn TOML tables and dicts into config dataclasses, strictly.

Unknown keys are rejected with the list of valid ones and values are
type-checked, so a typo in a run file is one clear line, not a silent default.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Demo:
    ...     steps: int = 10
    ...     rate: float = 0.1
    >>> from_mapping(Demo, {"steps": 5})
    Demo(steps=5, rate=0.1)
    >>> from_mapping(Demo, {"stpes": 5})
    Traceback (most recent call last):
    ...
    growagent.mapping.ConfigError: Unknown key 'stpes' in config; valid keys: rate, steps
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or mapping is malformed (unknown key, wrong type)."""


def _check(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is False and type(None) in args and bool not in args:
            return None  # TOML has no null: `false` stands for None (RunConfig.to_toml)
        tables = [a for a in args if dataclasses.is_dataclass(a)]
        if isinstance(value, Mapping) and len(tables) == 1:
            return _check(value, tables[0], where)  # its own error names the bad key
        errors = []
        for option in args:
            try:
                return _check(value, option, where)
            except ConfigError as exc:
                errors.append(str(exc))
        names = " or ".join(getattr(a, "__name__", str(a)) for a in args)
        raise ConfigError(f"{where}: expected {names} (got {type(value).__name__} {value!r})")
    if hint is type(None):
        if value is not None:
            raise ConfigError(f"{where}: expected nothing (got {value!r})")
        return None
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if isinstance(value, hint):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a table (got {type(value).__name__})")
        return from_mapping(hint, value, where)
    if origin in (list, tuple) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list (got {type(value).__name__} {value!r})")
        inner = args[0] if args else Any
        items = [_check(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if (origin or hint) is tuple else items
    if origin is dict or hint is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a table (got {type(value).__name__})")
        inner = args[1] if len(args) == 2 else Any
        return {str(k): _check(v, inner, f"{where}.{k}") for k, v in value.items()}
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: expected one of {list(args)} (got {value!r})")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number (got {type(value).__name__} {value!r})")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(
                f"{where}: expected an integer (got {type(value).__name__} {value!r})"
            )
        return value
    if hint in (str, bool):
        if not isinstance(value, hint):
            raise ConfigError(
                f"{where}: expected {hint.__name__} (got {type(value).__name__} {value!r})"
            )
        return value
    return value


def from_mapping(cls: type[T], data: Mapping[str, Any], where: str = "") -> T:
    """Build dataclass ``cls`` from ``data``, rejecting unknown keys and wrong types.

    Parameters
    ----------
    cls : dataclass type
    data : mapping
        Keys are field names; nested dataclass fields take nested tables.
    where : str
        Dotted path of this table, for error messages.

    Raises
    ------
    ConfigError
        Naming the key and, for an unknown key, listing the valid ones.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or 'config'}: expected a table (got {type(data).__name__})")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    for key in data:
        if key not in fields:
            place = f"[{where}]" if where else "config"
            raise ConfigError(
                f"Unknown key {key!r} in {place}; valid keys: {', '.join(sorted(fields))}"
            )
    kwargs = {
        key: _check(value, hints[key], f"{where}.{key}" if where else key)
        for key, value in data.items()
    }
    return cls(**kwargs)


def to_mapping(obj: Any) -> Any:
    """A dataclass (nested) as plain dicts and lists, ready for TOML or JSON."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_mapping(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_mapping(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_mapping(v) for k, v in obj.items()}
    return obj

"""The one serialiser of the config tables: dataclasses to and from plain dicts.

Every config dataclass (the run file's tables in :mod:`growagent.config`, the
assessment's in :mod:`growagent.task_config`) is read and written here.
Unknown keys are rejected with the list of valid ones and values are
type-checked, so a typo in a run file is one clear line, not a silent default.
Each table checks its own ranges in ``__post_init__`` with :func:`require`;
every problem is a :class:`ConfigError`.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Demo(Table):
    ...     steps: int = 10
    ...     rate: float = 0.1
    ...     def __post_init__(self) -> None:
    ...         require(self.steps >= 1, "demo.steps", "a positive integer", self.steps)
    >>> Demo.from_dict({"steps": 5})
    Demo(steps=5, rate=0.1)
    >>> Demo.from_dict({"steps": 5}).to_dict()
    {'steps': 5, 'rate': 0.1}
    >>> Demo.from_dict({"stpes": 5})
    Traceback (most recent call last):
    ...
    growagent.mapping.ConfigError: Unknown key 'stpes' in config; valid keys: rate, steps
    >>> from_mapping(Demo, {"steps": 0}, "search.demo")
    Traceback (most recent call last):
    ...
    growagent.mapping.ConfigError: search.demo.steps: expected a positive integer (got 0)
"""

from __future__ import annotations

import collections.abc
import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, Self, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or mapping is malformed (unknown key, wrong type, value out of range).

    ``key`` is the dotted key at fault when one is (``ppo.num_envs``).
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


def require(ok: bool, key: str, what: str, value: Any) -> None:
    """Raise ``ConfigError("key: expected what (got value)")`` unless ``ok``.

    ``key`` is the table's name in a run file and the field (``distill.lr``);
    :func:`from_mapping` replaces the table's name by where it was read
    (``assess.distill.lr``).
    """
    if not ok:
        raise ConfigError(f"{key}: expected {what} (got {value!r})", key=key)


def _rekeyed(exc: ConfigError, where: str) -> ConfigError:
    """``exc`` of a table's own check with the table's name replaced by ``where``
    (``ppo.gamma`` read at ``assess.ppo`` becomes ``assess.ppo.gamma``)."""
    if exc.key is None or not where or "." not in exc.key:
        return exc
    key = f"{where}.{exc.key.partition('.')[2]}"
    if key == exc.key or not str(exc).startswith(exc.key):
        return exc
    return ConfigError(f"{key}{str(exc)[len(exc.key) :]}", key=key)


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
        for option in args:
            try:
                return _check(value, option, where)
            except ConfigError:
                pass
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
    if origin is collections.abc.Callable:
        if not callable(value):
            raise ConfigError(f"{where}: expected a callable (got {type(value).__name__})")
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
        Naming the key and, for an unknown key, listing the valid ones; a range
        check of the table's ``__post_init__`` names the key as read (``where``).
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
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise _rekeyed(exc, where) from None


def to_mapping(obj: Any) -> Any:
    """A dataclass (nested) as plain dicts and lists, ready for TOML or JSON."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_mapping(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_mapping(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_mapping(v) for k, v in obj.items()}
    return obj


class Table:
    """Base of a config dataclass: :meth:`from_dict` and :meth:`to_dict` through
    :func:`from_mapping` and :func:`to_mapping`."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "") -> Self:
        """Build from a dict (:meth:`to_dict`'s output, a TOML table); see :func:`from_mapping`."""
        return from_mapping(cls, data, where)

    def to_dict(self) -> dict[str, Any]:
        """The table as plain data (JSON- and TOML-ready but for ``None``)."""
        data: dict[str, Any] = to_mapping(self)
        return data

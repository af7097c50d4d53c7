from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest
import tomli_w

from growagent.mapping import ConfigError, Table, from_mapping, require, to_mapping


@dataclass
class Inner:
    width: int = 4
    kind: Literal["a", "b"] = "a"


@dataclass
class Outer:
    name: str = "x"
    rate: float = 0.5
    widths: list[int] = field(default_factory=list)
    inner: Inner = field(default_factory=Inner)
    weights: dict[str, float] = field(default_factory=dict)


def test_nested_tables_and_int_to_float():
    cfg = from_mapping(Outer, {"rate": 1, "inner": {"width": 8}, "weights": {"widen": 2}})
    assert cfg.rate == 1.0 and isinstance(cfg.rate, float)
    assert cfg.inner.width == 8
    assert cfg.weights == {"widen": 2.0}


@pytest.mark.parametrize(
    "data, message",
    [
        (
            {"nmae": "y"},
            "Unknown key 'nmae' in config; valid keys: inner, name, rate, weights, widths",
        ),
        ({"inner": {"widht": 3}}, "Unknown key 'widht' in [inner]; valid keys: kind, width"),
        ({"rate": "fast"}, "rate: expected a number"),
        ({"widths": [1, "2"]}, "widths[1]: expected an integer"),
        ({"inner": {"kind": "c"}}, "inner.kind: expected one of ['a', 'b']"),
        ({"inner": 3}, "inner: expected a table"),
        ({"rate": True}, "rate: expected a number"),
    ],
)
def test_bad_config_gives_one_clear_message(data, message):
    with pytest.raises(ConfigError) as info:
        from_mapping(Outer, data)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_toml_round_trip():
    import tomllib

    cfg = from_mapping(Outer, {"widths": [1, 2], "inner": {"kind": "b"}, "weights": {"w": 1.5}})
    assert from_mapping(Outer, tomllib.loads(tomli_w.dumps(to_mapping(cfg)))) == cfg


@dataclass
class Ranged(Table):
    steps: int = 1

    def __post_init__(self):
        require(self.steps >= 1, "ranged.steps", "a positive integer", self.steps)


@dataclass
class Holder:
    ranged: Ranged = field(default_factory=Ranged)
    other: Ranged = field(default_factory=Ranged)


def test_a_range_check_names_the_key_where_the_table_was_read():
    with pytest.raises(
        ConfigError, match=r"^ranged\.steps: expected a positive integer \(got 0\)$"
    ):
        Ranged(steps=0)
    with pytest.raises(ConfigError, match=r"^ranged\.steps: expected"):
        from_mapping(Holder, {"ranged": {"steps": 0}})
    with pytest.raises(ConfigError, match=r"^other\.steps: expected") as info:
        from_mapping(Holder, {"other": {"steps": 0}})
    assert info.value.key == "other.steps"
    with pytest.raises(ConfigError, match=r"^run\.other\.steps: expected"):
        from_mapping(Holder, {"other": {"steps": -2}}, "run")


def test_table_methods_round_trip_and_reject_unknown_keys():
    assert Ranged.from_dict(Ranged(steps=3).to_dict()) == Ranged(steps=3)
    with pytest.raises(ConfigError, match="Unknown key 'stpes' in config; valid keys: steps"):
        Ranged.from_dict({"stpes": 3})
    assert issubclass(ConfigError, ValueError)  # callers that catch ValueError keep working


@dataclass
class WithFactory:
    env: str | Callable[..., Any] = "x"


def test_a_callable_field_takes_a_callable_or_its_name_and_nothing_else():
    assert from_mapping(WithFactory, {"env": print}).env is print
    assert from_mapping(WithFactory, {"env": "m:f"}).env == "m:f"
    with pytest.raises(ConfigError, match="env: expected str or Callable"):
        from_mapping(WithFactory, {"env": 3})

from dataclasses import dataclass, field
from typing import Literal

import pytest
import tomli_w

from growagent.mapping import ConfigError, from_mapping, to_mapping


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

"""The resolved config written as TOML (``config.toml``) reads back to an equal config."""

import dataclasses
import tomllib

import pytest

from growagent.config import load_config


def _with_assess(cfg, **changes):
    return dataclasses.replace(cfg, assess=dataclasses.replace(cfg.assess, **changes))


def _configs():
    base = load_config("runs/cartpole.toml")
    ppo = dataclasses.replace(base.assess.ppo, target_kl=0.02)
    distill = dataclasses.replace(base.assess.distill, max_seconds=30.0)
    return {
        "demo": base,
        "threads None": _with_assess(base, threads=None),
        "distill off": _with_assess(base, distill=None, finetune_steps=500),
        "num_envs set": _with_assess(base, num_envs=3, ppo=ppo, distill=distill),
        "firefly target": dataclasses.replace(
            base, firefly=dataclasses.replace(base.firefly, target=450.0)
        ),
    }


@pytest.mark.parametrize("name", list(_configs()))
def test_config_round_trips_through_toml(name, tmp_path):
    cfg = _configs()[name]
    path = tmp_path / "config.toml"
    path.write_text(cfg.to_toml(), encoding="utf-8")
    assert load_config(path) == cfg


def test_none_is_kept_where_the_default_is_not_none(tmp_path):
    cfg = _with_assess(load_config("runs/cartpole.toml"), threads=None)
    path = tmp_path / "config.toml"
    path.write_text(cfg.to_toml(), encoding="utf-8")
    assert load_config(path).assess.threads is None  # was reloaded as the default, 1
    assert tomllib.loads(cfg.to_toml())["assess"]["threads"] is False


def test_none_defaults_are_left_out():
    data = tomllib.loads(load_config("runs/cartpole.toml").to_toml())
    assert "target" not in data["firefly"]
    assert "num_envs" not in data["assess"]
    assert "target_kl" not in data["assess"]["ppo"]

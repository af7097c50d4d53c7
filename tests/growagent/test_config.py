"""The run config: the shipped files load, every table checks its keys, types and ranges
with one error type, the resolved config (``config.toml``) reads back to an equal
config, and loading needs no torch."""

import dataclasses
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from growagent.config import (
    ConfigError,
    RunConfig,
    check_registered,
    load_archived_config,
    load_config,
)
from growagent.task_config import DistillConfig, PPOConfig, TaskConfig

REPO = Path(__file__).resolve().parents[2]
RUNS = REPO / "runs"


def _with_assess(cfg, **changes):
    return dataclasses.replace(cfg, assess=dataclasses.replace(cfg.assess, **changes))


def _configs():
    base = load_config(RUNS / "cartpole.toml")
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
    cfg = _with_assess(load_config(RUNS / "cartpole.toml"), threads=None)
    path = tmp_path / "config.toml"
    path.write_text(cfg.to_toml(), encoding="utf-8")
    assert load_config(path).assess.threads is None  # was reloaded as the default, 1
    assert tomllib.loads(cfg.to_toml())["assess"]["threads"] is False


def test_none_defaults_are_left_out():
    data = tomllib.loads(load_config(RUNS / "cartpole.toml").to_toml())
    assert "target" not in data["firefly"]
    assert "num_envs" not in data["assess"]
    assert "target_kl" not in data["assess"]["ppo"]


def test_loading_a_config_imports_neither_torch_nor_the_search_stack():
    code = """
import sys
from pathlib import Path
from growagent.config import load_archived_config, load_config
for path in sorted(Path("runs").glob("*.toml")):
    cfg = load_config(path)
    cfg.to_toml()
    assert load_config(cfg.to_dict()) == cfg
    load_archived_config(cfg.to_dict())
    cfg.teacher.ppo_config(cfg.env)
heavy = ("torch", "gymnasium", "deap", "torch_geometric", "genomes", "operators")
print(sorted(m for m in heavy if m in sys.modules))
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    "data, message",
    [
        ({"assess": {"ppo": {"gamma": 2}}}, "assess.ppo.gamma: expected a finite number >= 0"),
        ({"teacher": {"ppo": {"gamma": 2}}}, "teacher.ppo.gamma: expected a finite number >= 0"),
        ({"assess": {"distill": {"lr": 0}}}, "assess.distill.lr: expected a finite number > 0"),
        ({"assess": {"eval_episodes": 0}}, "assess.eval_episodes: expected a positive integer"),
        ({"assess": {"distill": {"env_steps": 0, "teacher_states": 0}}}, "no states"),
    ],
)
def test_every_table_checks_its_own_ranges_with_one_error_type(data, message):
    with pytest.raises(ConfigError) as info:
        load_config(data)
    assert message in str(info.value)


def test_the_assessment_tables_raise_config_errors_when_built_directly():
    with pytest.raises(ConfigError, match=r"^ppo\.num_envs: expected a positive integer"):
        PPOConfig(num_envs=0)
    with pytest.raises(ConfigError, match=r"^distill\.env_steps: expected a multiple of"):
        DistillConfig(env_steps=10, num_envs=4)
    with pytest.raises(ConfigError, match=r"^assess\.threads: expected a positive integer"):
        TaskConfig(threads=0)
    assert PPOConfig.from_dict(PPOConfig(target_kl=0.02).to_dict()) == PPOConfig(target_kl=0.02)


def test_assess_size_objective_is_refused_with_where_the_size_objective_lives(tmp_path):
    # [assess] size_objective used to be accepted and never read: the search
    # minimised [search] size_objective whatever it said
    path = tmp_path / "old.toml"
    path.write_text('[assess]\nsize_objective = "macs"\n', encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"old\.toml: .*'size_objective' in \[assess\].*\[search\]"
    ):
        load_config(path)
    assert load_config({"search": {"size_objective": "macs"}}).search.size_objective == "macs"


def test_a_run_archived_with_assess_size_objective_still_reads(tmp_path):
    import growagent
    from growagent.archive import Archive

    cfg = load_config(
        {"name": "old", "env": "evil:Signal-v0", "search": {"size_objective": "macs"}}
    )
    old = cfg.to_dict()
    old["assess"]["size_objective"] = "params"  # what every archive of the older version holds
    assert load_archived_config(old) == cfg
    (tmp_path / "old").mkdir()
    with Archive(tmp_path / "old" / "archive.sqlite") as a:
        a.set_meta("config", old)
    # resume reads the config, then stops at the env it would not import unasked
    with pytest.raises(ConfigError, match="imports the module 'evil'"):
        growagent.resume(tmp_path / "old", quiet=True)


@pytest.mark.parametrize(
    "data, needle",
    [
        ({"evolution": {"operator_weights": {"widenx": 1}}}, "widenx"),
        ({"search": {"activation": "tanhh"}}, "search.activation"),
        ({"metaqnn": {"activations": ["relu", "bogus"]}}, r"metaqnn.activations\[1\]"),
    ],
)
def test_registry_names_are_checked_when_the_run_starts(tmp_path, data, needle):
    import growagent

    check_registered(load_config({}))
    cfg = load_config(data)  # registries may still gain entries: not checked at load
    with pytest.raises(ConfigError, match=needle):
        check_registered(cfg)
    with pytest.raises(ConfigError, match=needle):
        growagent.run(data, out=tmp_path / "r", quiet=True)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("path", sorted(RUNS.glob("*.toml")), ids=lambda p: p.name)
def test_shipped_run_configs_load(path):
    cfg = load_config(path)
    assert isinstance(cfg, RunConfig)
    assert cfg.assess.env == cfg.env


def test_config_saved_with_the_run_reloads_identically():
    cfg = load_config(RUNS / "cartpole.toml")
    assert load_config(cfg.to_dict()) == cfg


def test_wrong_types_are_rejected_with_the_key_named():
    with pytest.raises(ConfigError, match=r"evolution\.mu: expected an integer"):
        load_config({"evolution": {"mu": "eight"}})
    with pytest.raises(ConfigError, match="kind: expected one of"):
        load_config({"executor": {"kind": "threads"}})


@pytest.mark.parametrize(
    "data, needle",
    [
        ({"evolution": {"champion_tolerance": -1}}, "champion_tolerance"),
        ({"evolution": {"tournsize": 0}}, "tournsize"),
        ({"evolution": {"seeds": []}}, "seeds"),
        ({"seed": -1}, "seed"),
        ({"predictor": {"hidden": 0}}, "predictor.hidden"),
        ({"assess": {"threads": 0}}, "assess.threads"),
        ({"executor": {"workers": -1}}, "executor.workers"),
        ({"executor": {"timeout": 0}}, "executor.timeout"),
    ],
)
def test_out_of_range_values_are_rejected_before_the_run(data, needle):
    with pytest.raises(ConfigError, match=needle):
        load_config(data)


def test_nested_assess_tables_are_checked_and_distillation_can_be_turned_off():
    with pytest.raises(ConfigError, match=r"Unknown key 'stepz' in \[assess\.distill\]"):
        load_config({"assess": {"distill": {"stepz": 3}}})
    with pytest.raises(ConfigError, match=r"assess\.ppo\.num_envs: expected an integer"):
        load_config({"assess": {"ppo": {"num_envs": "eight"}}})
    cfg = load_config({"assess": {"distill": False, "finetune_steps": 4096}})
    assert cfg.assess.distill is None
    assert load_config(cfg.to_dict()) == cfg  # the saved config (TOML has no null) reloads


def test_polish_settings_are_checked():
    with pytest.raises(ConfigError, match=r"polish\.factor"):
        load_config({"polish": {"factor": -1}})
    with pytest.raises(ConfigError, match=r"polish\.episodes"):
        load_config({"polish": {"episodes": 0}})
    assert load_config({"polish": {"factor": 0}}).polish.factor == 0


def test_teacher_ppo_settings_override_the_zoo_preset_and_are_checked():
    cfg = load_config({"env": "CartPole-v1", "teacher": {"ppo": {"learning_rate": 1e-3}}})
    ppo = cfg.teacher.ppo_config(cfg.env)
    assert ppo.learning_rate == 1e-3 and ppo.num_steps == 32  # the rest is CartPole's preset
    with pytest.raises(ConfigError, match=r"Unknown key 'lr' in \[teacher\.ppo\]"):
        load_config({"teacher": {"ppo": {"lr": 1e-3}}})
    with pytest.raises(ConfigError, match=r"teacher\.vecnormalize"):
        load_config({"teacher": {"path": "t.json", "vecnormalize": "vn.pkl"}})
    with pytest.raises(ConfigError, match=r"teacher\.min_return"):
        load_config({"teacher": {"min_return": float("nan")}})
    assert load_config(cfg.to_dict()) == cfg


def test_task_config_round_trip_and_unknown_keys():
    task = TaskConfig(env="Acrobot-v1", distill=None, finetune_steps=10)
    assert TaskConfig.from_dict(task.to_dict()) == task
    with pytest.raises(ConfigError, match="Unknown key 'bogus'"):
        TaskConfig.from_dict({**task.to_dict(), "bogus": 1})


def _doc_toml_blocks():
    for path in sorted((REPO / "docs").glob("*.md")):
        blocks = re.findall(r"```toml\n(.*?)```", path.read_text(encoding="utf-8"), re.S)
        yield from (pytest.param(text, id=f"{path.name}#{i}") for i, text in enumerate(blocks))


@pytest.mark.parametrize("text", list(_doc_toml_blocks()))
def test_run_configs_shown_in_the_docs_load(text):
    assert isinstance(load_config(tomllib.loads(text)), RunConfig)

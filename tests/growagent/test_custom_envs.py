"""A user's own environment, in a file of their own, through every way of naming it.

The env (``custom_envs.py``, copied into a temporary "project" directory as
``my_envs.py``) runs with the process executor by ``module:EnvId``, by a factory
passed from a launching script, and by ``module:factory`` with ``env_kwargs``. A
module named by a data file (a genome's tags, an archived config) is never imported.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import genomes
import growagent
from growagent.archive import Archive
from growagent.config import load_config
from growagent.mapping import ConfigError
from growagent.rl.envs import EnvRef, make_vec_env

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def tiny(name, **extra):
    """A run small enough for a few seconds of work on the Signal env."""
    return {
        "name": name,
        "seed": 0,
        "heldout_episodes": 4,
        "teacher": {"steps": 2048, "hidden": [16]},
        "evolution": {"generations": 1, "mu": 2, "offspring": 2, "seeds": ["minimal", "mlp:4"]},
        "assess": {
            "eval_episodes": 4,
            "distill": {
                "env_steps": 256,
                "teacher_states": 512,
                "probe_states": 128,
                "grad_steps": 100,
            },
        },
        "polish": {"factor": 0},
        "predictor": {"enabled": False},
        "executor": {"kind": "process", "workers": 2, "timeout": 120.0},
        **extra,
    }


def toml(data):
    import tomli_w

    return tomli_w.dumps(data)


@pytest.fixture
def project(tmp_path):
    """A user's project directory holding their env module ``my_envs.py``."""
    shutil.copy(HERE / "custom_envs.py", tmp_path / "my_envs.py")
    return tmp_path


def user_cli(*args, cwd):
    """``growagent ...`` as the console script runs it: the current directory is not on
    sys.path (``-P``) and PYTHONPATH names only the checkout, not the user's project."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-P", "-m", "growagent.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


def one_line(proc, code, *needles):
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def archived(run_dir):
    with Archive(Path(run_dir) / "archive.sqlite", readonly=True) as a:
        return a.get_meta("config"), a.get_meta("status")


# ------------------------------------------------------------------- module:EnvId
@pytest.mark.slow
def test_module_env_id_runs_on_worker_processes_from_the_cli(project):
    cfg = tiny("sig", heldout_episodes=0)
    (project / "run.toml").write_text('env = "my_envs:Signal-v0"\n' + toml(cfg))
    proc = user_cli("run", "run.toml", "--out", "r", "--quiet", cwd=project)
    assert proc.returncode == 0, proc.stderr
    config, status = archived(project / "r")
    assert config["env"] == "my_envs:Signal-v0" and status == "finished"
    # the user names the module (a genome file's tag is never imported): no PYTHONPATH needed
    ok = user_cli("eval", "r", "--env", "my_envs:Signal-v0", "-n", "4", cwd=project)
    assert ok.returncode == 0 and "my_envs:Signal-v0: mean return" in ok.stdout, ok.stderr
    # resume imports the archived module once the user names it (refusals: trust tests below)
    again = user_cli("resume", "r", "--env", "my_envs:Signal-v0", "--quiet", cwd=project)
    assert again.returncode == 0, again.stderr
    assert "champion" in again.stdout


# --------------------------------------------------------------- factory, Python
LAUNCH = """\
import json
import sys

import growagent
from growagent.mapping import ConfigError
from my_envs import Signal


def make_env(**kwargs):
    return Signal(**kwargs)


if __name__ == "__main__":
    config = json.loads(sys.argv[1])
    result = growagent.run(config, env=make_env, out="r", quiet=True)
    print("champion", result.champion.id, result.champion.genome.units("input"))
    # a lambda cannot reach the workers: one ConfigError, before anything is written
    try:
        growagent.run(config, env=lambda: Signal(), out="never", quiet=True)
    except ConfigError as exc:
        print("lambda:", exc)
"""


@pytest.mark.slow
def test_factory_from_a_launching_script_runs_on_worker_processes(project):
    (project / "launch.py").write_text(LAUNCH)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    config = json.dumps(tiny("fac", env_kwargs={"length": 8}))
    proc = subprocess.run(
        [sys.executable, "launch.py", config],
        capture_output=True,
        text=True,
        cwd=project,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "champion" in proc.stdout, proc.stdout
    assert "lambda: env: a lambda cannot reach worker processes" in proc.stdout, proc.stdout
    assert not (project / "never").exists()
    config, status = archived(project / "r")
    assert config["env"] == "__main__:make_env" and status == "finished"
    assert config["env_kwargs"] == {"length": 8}
    # the archived `__main__` factory cannot be resumed from the command line
    one_line(user_cli("resume", "r", cwd=project), 2, "growagent.resume(run_dir, env=make_env)")


def test_a_lambda_or_nested_factory_is_refused_in_one_line(tmp_path):
    def local(**kwargs):
        return None

    for env in (lambda: None, local):
        with pytest.raises(ConfigError, match=r"cannot reach worker processes.*module level"):
            growagent.run(tiny("x"), env=env, out=tmp_path / "x", quiet=True)
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------- env_kwargs
@pytest.mark.slow
def test_env_kwargs_reach_every_worker_and_eval(project, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(project))
    monkeypatch.chdir(project)
    cfg = tiny("kw", env="my_envs:make_signal", env_kwargs={"obs_dim": 3, "length": 6})
    cfg_path = project / "kw.toml"
    cfg_path.write_text(toml(cfg))
    assert load_config(cfg_path).env_kwargs == {"obs_dim": 3, "length": 6}
    result = growagent.run(cfg_path, out=project / "kw", quiet=True)
    # obs_dim = 3 reached the workers: every assessment succeeded on 3 observations
    with Archive(result.archive, readonly=True) as a:
        rows = list(a.assessments())
        assert rows and all(r["status"] == "ok" for r in rows), [r["error"] for r in rows]
        teacher = a.genome("teacher")
    assert teacher.units(teacher.input_node) == 3
    assert result.champion.genome.units(result.champion.genome.input_node) == 3
    assert result.heldout is not None and result.heldout["mean"] <= 6  # 6-step episodes
    assert result.champion.genome.meta["tags"]["env_kwargs"] == {"obs_dim": 3, "length": 6}
    config, _ = archived(result.run_dir)
    assert config["env_kwargs"] == {"obs_dim": 3, "length": 6}
    assert "env_kwargs" not in config["assess"]
    # `growagent eval` rebuilds the env with the champion's kwargs (obs_dim 3 fits it)
    from growagent.cli.main import main

    capsys.readouterr()
    code = main(["eval", str(result.run_dir), "--env", "my_envs:make_signal", "-n", "3"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert 'my_envs:make_signal {"length": 6, "obs_dim": 3}: mean return' in out.out
    # and says so in one line when told other kwargs that do not fit the genome
    code = main(["eval", str(result.run_dir), "--env", "my_envs:make_signal", "--env-kwargs", "{}"])
    assert code == 2 and "does not fit" in capsys.readouterr().err


def test_kwargs_build_the_same_env_in_one_process_and_in_a_vector():
    env = EnvRef("tests.growagent.custom_envs:make_signal", {"obs_dim": 5})
    assert env().observation_space.shape == (5,)
    venv = make_vec_env(env, num_envs=2, seed=0)
    assert venv.single_observation_space.shape == (5,)
    venv.close()
    by_id = make_vec_env(EnvRef("CartPole-v1", {"sutton_barto_reward": True}), 2, seed=0)
    assert by_id.envs[0].unwrapped._sutton_barto_reward  # sync, not CartPole's native vector
    by_id.close()


def test_env_kwargs_in_assess_is_refused():
    with pytest.raises(ConfigError, match="'env_kwargs' in \\[assess\\]"):
        load_config({"assess": {"env_kwargs": {"a": 1}}})
    with pytest.raises(ConfigError, match="env_kwargs"):
        load_config({"env_kwargs": 3})


# ------------------------------------------------------------------ trust model
EVIL = """\
from pathlib import Path

Path(__file__).with_name("IMPORTED").write_text("ran")
"""


def test_a_module_beside_a_genome_file_is_never_imported(tmp_path):
    (tmp_path / "evil.py").write_text(EVIL)
    g = genomes.minimal(4, 2)
    g.meta["tags"]["env"] = "evil:CartPole-v1"
    genomes.save(g, tmp_path / "g.json")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))

    def growagent_here(*args):  # `python -m` from the genome's directory: it is on sys.path
        return subprocess.run(
            [sys.executable, "-m", "growagent.cli.main", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=120,
        )

    one_line(growagent_here("eval", "g.json"), 2, "--env evil:CartPole-v1", "never runs code")
    assert growagent_here("show", "g.json").returncode == 0
    assert not (tmp_path / "IMPORTED").exists()


def test_resume_imports_an_archived_env_module_only_when_named(tmp_path):
    (tmp_path / "evil.py").write_text(EVIL)
    run_dir = tmp_path / "copied-run"
    run_dir.mkdir()
    cfg = load_config({"env": "evil:Signal-v0", "name": "copied"})
    with Archive(run_dir / "archive.sqlite") as a:
        a.set_meta("config", cfg.to_dict())
    with pytest.raises(ConfigError, match="--env evil:Signal-v0"):
        growagent.resume(run_dir, quiet=True)
    with pytest.raises(ConfigError, match="is not the run's env"):
        growagent.resume(run_dir, env="other:Signal-v0", quiet=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-m", "growagent.cli.main", "resume", "copied-run"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    one_line(proc, 2, "may come from anyone", "--env evil:Signal-v0")
    assert not (tmp_path / "IMPORTED").exists()

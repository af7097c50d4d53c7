"""What a run may write, and when: nothing outside its directory, nothing before its
config is known good, one process at a time (issue 15, items 3, 4, 7, 8)."""

import fcntl
import sqlite3

import pytest

import genomes
from tests.growagent.helpers import TINY, cli, one_line_error


def _write(tmp_path, text, name="c.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["../victim", "/tmp/victim", "a/b", ".."])
def test_a_run_name_cannot_lead_outside_the_out_directory(tmp_path, name):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "config.toml").write_text("mine", encoding="utf-8")
    out = tmp_path / "out"
    cfg = _write(tmp_path, f'name = "{name}"\nenv = "CartPole-v1"\nout = "{out}"\n')
    one_line_error(cli("run", cfg), "name: expected a plain name")
    assert (victim / "config.toml").read_text(encoding="utf-8") == "mine"
    assert not out.exists()


def test_out_may_not_be_a_directory_holding_other_files(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "champion.json").write_text("my own file", encoding="utf-8")
    cfg = _write(tmp_path, 'env = "CartPole-v1"\n')
    one_line_error(cli("run", cfg, "--out", mine), "holds files that are not a run's")
    assert sorted(p.name for p in mine.iterdir()) == ["champion.json"]
    assert (mine / "champion.json").read_text(encoding="utf-8") == "my own file"


BAD = {
    "activation": '[search]\nactivation = "swish2"\n',
    "zero-width seed": '[evolution]\nseeds = ["mlp:0"]\n',
    "eval seed": "[assess]\neval_seed = -1\n",
    "seed file": '[evolution]\nseeds = ["{garbage}"]\n',
    "teacher dir": '[teacher]\npath = "{directory}"\n',
    "env steps": "[assess.distill]\nenv_steps = -8\n",
    "temperature": "[assess.distill]\ntemperature = -1.0\n",
    "max seconds": "[assess.distill]\nmax_seconds = nan\n",
    "learning rate": "[assess.ppo]\nlearning_rate = nan\n",
    "gamma": "[assess.ppo]\ngamma = 1.5\n",
    "minibatches": "[assess.ppo]\nnum_minibatches = 0\n",
    "num envs": "[assess]\nnum_envs = 0\n",
    "batch size": "[assess.distill]\nbatch_size = 0\n",
    "offspring": "[evolution]\noffspring = 1000000000\n",
    "teacher ppo": "[teacher.ppo]\nlr = 0.1\n",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_config_is_refused_before_anything_is_written(tmp_path, case):
    garbage = _write(tmp_path, "{not json", "seed.json")
    text = 'env = "CartPole-v1"\n' + BAD[case].format(garbage=garbage, directory=tmp_path)
    out = tmp_path / "run"
    one_line_error(cli("run", _write(tmp_path, text), "--out", out))
    assert not out.exists()


@pytest.mark.slow
def test_one_process_at_a_time_and_an_interrupted_start_is_handled(tmp_path, teacher_file):
    cfg = _write(tmp_path, TINY.format(teacher=teacher_file, generations=1, seed=0))
    run = tmp_path / "run"
    run.mkdir()  # an earlier start killed before its archive was renamed into place
    (run / "archive.sqlite.new").write_bytes(b"half-written")
    cli("run", cfg, "--out", run, "--quiet", check=True)
    assert not (run / "archive.sqlite.new").exists()
    # killed after the archive was made but before config.toml was written
    (run / "config.toml").unlink()
    db = sqlite3.connect(run / "archive.sqlite")
    with db:
        db.execute("DELETE FROM meta WHERE key = 'status'")
    db.close()
    cli("resume", run, "--quiet", check=True)
    assert "[evolution]" in (run / "config.toml").read_text(encoding="utf-8")
    # another process holds the run: a second one gets one line and changes nothing
    before = (run / "archive.sqlite").read_bytes()
    with open(run / ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lock.write("4242")
        lock.flush()
        proc = cli("resume", run, "--quiet")
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "in use by another growagent process" in lines[0], proc.stderr
    assert (run / "archive.sqlite").read_bytes() == before
    assert genomes.load(run / "champion.json").num_params("policy") > 0

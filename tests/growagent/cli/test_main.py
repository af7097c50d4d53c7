"""The command line, run in subprocesses as a user would."""

import json
import os
import sqlite3
import subprocess
import sys
import time

import pytest

import genomes
from tests.growagent.helpers import REPO, cli, one_line_error, rows, write_config


def test_show_and_export_a_genome(tmp_path):
    g = genomes.mlp(4, 2, hidden=[8])
    path = genomes.save(g, tmp_path / "g.json")
    out = cli("show", path, "--png", tmp_path / "g.png", check=True).stdout
    assert "h0" in out and "total: " in out and str(g.num_params()) in out
    assert (tmp_path / "g.png").stat().st_size > 1000
    cli("export", path, "--format", "torchscript", "--out", tmp_path / "p.pt", check=True)
    import torch

    policy = torch.jit.load(str(tmp_path / "p.pt"))
    obs = torch.randn(6, 4)
    expected = g.compile()(obs)[0].argmax(dim=1)
    assert torch.equal(policy(obs), expected)


def test_export_of_a_run_writes_inside_the_run(tmp_path):
    run = tmp_path / "run"
    genomes.save(genomes.mlp(4, 2, hidden=[8]), run / "champion.json")
    out = cli("export", run, check=True).stdout
    target = run / "export" / "champion.pt"
    assert target.stat().st_size > 0
    assert f"exported: {target}" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # nothing beside the run


def test_short_flags(tmp_path):
    g = genomes.mlp(4, 2, hidden=[8])
    path = genomes.save(g, tmp_path / "g.json")
    cli("export", path, "-f", "onnx", "-o", tmp_path / "p.onnx", check=True)
    assert (tmp_path / "p.onnx").stat().st_size > 0
    out = cli("eval", path, "--env", "CartPole-v1", "-n", "2", "-s", "7", check=True).stdout
    assert "over 2 episodes (episode seeds drawn from --seed 7)" in out


@pytest.mark.parametrize(
    "content, needle",
    [
        ("{not json", "Not valid JSON"),
        ('{"format": "growagent.genome", "format_version": 99}', "format_version"),
        ("", "Not valid JSON"),
    ],
)
def test_malformed_genome_file_is_one_line(tmp_path, content, needle):
    path = tmp_path / "bad.json"
    path.write_text(content)
    one_line_error(cli("show", path), "bad.json", needle)


def test_missing_file_is_one_line(tmp_path):
    one_line_error(cli("show", tmp_path / "nope.json"), "nope.json")


def test_unknown_config_key_and_bad_toml_are_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('env = "CartPole-v1"\n[evolution]\ngeneratoins = 3\n')
    one_line_error(
        cli("run", bad, "--out", tmp_path / "r"), "generatoins", "valid keys", "generations"
    )
    broken = tmp_path / "broken.toml"
    broken.write_text("env = \n")
    one_line_error(cli("run", broken, "--out", tmp_path / "r"), "not valid TOML")
    typo = tmp_path / "typo.toml"
    typo.write_text('env = "CartPole-v1"\n[assess]\nfinetune_stepz = 3\n')
    one_line_error(cli("run", typo, "--out", tmp_path / "r"), "finetune_stepz")


def test_unknown_environment_is_one_line(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('env = "NoSuchEnv-v9"\n')
    one_line_error(cli("run", cfg, "--out", tmp_path / "r"), "NoSuchEnv")
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_tiny_run_end_to_end(tmp_path, teacher_file):
    cfg = write_config(tmp_path, teacher_file)
    proc = cli("run", cfg, "--out", tmp_path / "run", "--quiet", check=True)
    assert "Pareto front" in proc.stdout and "champion" in proc.stdout
    run = tmp_path / "run"
    for name in ["archive.sqlite", "config.toml", "champion.json", "pareto.json", "teacher.json"]:
        assert (run / name).exists(), name
    for name in ["index.html", "returns.png", "pareto.png", "lineage.png", "champion.png"]:
        assert (run / "report" / name).stat().st_size > 0, name
    db = sqlite3.connect(run / "archive.sqlite")
    assert db.execute("SELECT count(*) FROM generations").fetchone()[0] == 3
    searched = "SELECT count(*) FROM assessments WHERE genome_id NOT LIKE '%.polished'"
    assert db.execute(searched).fetchone()[0] == 2 + 2 * 3
    assert (
        db.execute("SELECT count(*) FROM assessments WHERE return_std IS NULL").fetchone()[0] == 0
    )
    # the predictor screened generation 2's candidates (4 assessed genomes before it)
    predicted = db.execute(
        "SELECT generation, predicted FROM assessments WHERE generation = 2"
    ).fetchall()
    assert predicted and all(p is not None for _, p in predicted)
    stats = json.loads(
        db.execute("SELECT stats FROM generations WHERE generation = 2").fetchone()[0]
    )
    assert "pred_tau" in stats and stats["pred_n"] == 3
    front = json.loads((run / "pareto.json").read_text())
    assert front and all(p["return"] > 100 for p in front)  # distilled agents balance the pole
    out = cli("eval", run, "--episodes", "3", check=True).stdout
    assert "mean return" in out
    # running again into the same directory is refused, nothing is overwritten
    one_line_error(cli("run", cfg, "--out", run), "resume")


def _archive_content(path):
    db = sqlite3.connect(path)
    return {
        "genomes": db.execute(
            "SELECT id, parent_id, operator, operator_params, structural_hash, params, "
            "policy_params, policy_macs, generation, body FROM genomes ORDER BY id"
        ).fetchall(),
        "assessments": db.execute(
            "SELECT genome_id, generation, seed, status, error, return_mean, return_std, "
            "policy_params, policy_macs FROM assessments ORDER BY genome_id"
        ).fetchall(),
        "generations": db.execute(
            "SELECT generation, population, pareto, stats, rng_state FROM generations ORDER BY generation"
        ).fetchall(),
    }


@pytest.mark.slow
@pytest.mark.parametrize("checkpoints", [1, 2], ids=["after-gen0", "after-gen1"])
def test_killed_and_resumed_run_matches_uninterrupted_run(tmp_path, teacher_file, checkpoints):
    cfg = write_config(tmp_path, teacher_file, generations=3, seed=5)
    cli("run", cfg, "--out", tmp_path / "whole", "--quiet", check=True)

    killed = tmp_path / "killed"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "growagent.cli.main",
            "run",
            str(cfg),
            "--out",
            str(killed),
            "--quiet",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while time.time() < deadline:  # kill -9 once generation 1 is checkpointed
        if rows(killed / "archive.sqlite", "generations") >= checkpoints:
            break
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    assert not (killed / "pareto.json").exists(), "the run finished before it could be killed"
    cli("resume", killed, "--quiet", check=True)
    assert _archive_content(killed / "archive.sqlite") == _archive_content(
        tmp_path / "whole" / "archive.sqlite"
    )
    assert (killed / "pareto.json").read_text() == (tmp_path / "whole" / "pareto.json").read_text()


@pytest.mark.parametrize(
    "env_id, needle",
    [("NaNReward-v0", "Non-finite reward"), ("Crashing-v0", "simulator exploded")],
)
def test_misbehaving_environment_is_one_line_and_keeps_the_run(tmp_path, env_id, needle):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(
        f'env = "tests.growagent.bad_envs:{env_id}"\n[teacher]\nsteps = 1024\n'
        '[executor]\nkind = "serial"\n'
    )
    proc = cli("run", cfg, "--out", tmp_path / "r", "--quiet")
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in proc.stderr
    assert (tmp_path / "r" / "archive.sqlite").exists()  # what was started is kept
    debug = cli("--debug", "run", cfg, "--out", tmp_path / "r2", "--quiet")
    assert "Traceback" in debug.stderr


def test_an_environment_calling_sys_exit_is_one_line_not_a_silent_exit(tmp_path):
    cfg = tmp_path / "exiting.toml"
    cfg.write_text(
        'env = "tests.growagent.bad_envs:Exiting-v0"\n[teacher]\nsteps = 1024\n'
        '[executor]\nkind = "serial"\n'
    )
    env = "tests.growagent.bad_envs:Exiting-v0"
    for args in (("run", cfg, "--out", tmp_path / "r"), ("resume", tmp_path / "r", "--env", env)):
        proc = cli(*args, "--quiet")
        assert proc.returncode == 1, (proc.returncode, proc.stderr)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "sys.exit(3)" in lines[0], proc.stderr


@pytest.mark.slow
def test_tasks_that_time_out_are_recorded_as_failed(tmp_path, teacher_file):
    cfg = write_config(tmp_path, teacher_file)
    text = (
        cfg.read_text()
        .replace(  # assessments of several seconds against half a second
            'kind = "serial"', 'kind = "process"\nworkers = 1\ntimeout = 0.5\nretries = 0'
        )
        .replace("grad_steps = 300", "grad_steps = 30000")
    )
    cfg.write_text(text)
    proc = cli("run", cfg, "--out", tmp_path / "r", "--quiet")
    assert proc.returncode == 1, proc.stderr
    assert "seed population failed" in proc.stderr and "timed out after 0.5 s" in proc.stderr
    db = sqlite3.connect(tmp_path / "r" / "archive.sqlite")
    rows = db.execute("SELECT status, attempts, error FROM assessments").fetchall()
    assert rows and all(r[0] == "failed" and r[1] == 1 and "timed out" in r[2] for r in rows)


def test_report_of_a_missing_run_creates_nothing(tmp_path):
    one_line_error(cli("report", tmp_path / "nope"), "no archive here")
    assert not (tmp_path / "nope").exists()


def test_a_teacher_no_better_than_random_stops_the_run_in_one_line(tmp_path):
    # an untrained linear policy on Acrobot never swings up: -500, like a random policy
    teacher = genomes.save(genomes.minimal(6, 3, seed=0), tmp_path / "teacher.json")
    cfg = tmp_path / "bad.toml"
    cfg.write_text(
        f'name = "bad"\nenv = "Acrobot-v1"\n[teacher]\npath = "{teacher}"\n'
        '[assess]\neval_episodes = 3\n[executor]\nkind = "serial"\n',
        encoding="utf-8",
    )
    for args in (("run", cfg, "--out", tmp_path / "run"), ("resume", tmp_path / "run")):
        proc = cli(*args, "--quiet")
        assert proc.returncode == 1, proc.stderr
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert "not clearly better than a random policy" in lines[0], lines[0]
    db = sqlite3.connect(tmp_path / "run" / "archive.sqlite")
    assert db.execute("SELECT count(*) FROM assessments").fetchone()[0] == 0
    check = json.loads(
        db.execute("SELECT value FROM meta WHERE key = 'teacher_check'").fetchone()[0]
    )
    assert "random policy" in check["error"]

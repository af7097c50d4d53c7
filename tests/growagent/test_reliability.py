"""The reliability harness: a process-executor run SIGKILLed at random moments, and one
whose workers are killed again and again (docs/reliability.md).

Both use the real CLI in subprocesses, the real process executor and real
CartPole assessments with tiny budgets.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.growagent.helpers import REPO, TINY, cli, content, rows

KILLS = 10


def _config(tmp_path, teacher_file, name="harness"):
    text = TINY.format(teacher=teacher_file, generations=3, seed=11)
    text = text.replace('kind = "serial"', 'kind = "process"\nworkers = 2')
    text += "\n[polish]\nfactor = 2\nepisodes = 4\n"
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _start(*args):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, "-m", "growagent.cli.main", *map(str, args), "--quiet"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _integrity(path):
    """What must hold in any archive, killed or not."""
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    orphans = db.execute(
        "SELECT count(*) FROM assessments WHERE genome_id NOT IN (SELECT id FROM genomes)"
    ).fetchone()[0]
    assert orphans == 0
    steps = [s for (s,) in db.execute("SELECT step FROM steps ORDER BY step")]
    assert steps == list(range(len(steps)))
    for (population,) in db.execute("SELECT population FROM generations"):
        for gid in json.loads(population):
            row = db.execute("SELECT status FROM assessments WHERE genome_id = ?", (gid,))
            assert row.fetchone() is not None, f"{gid} is in a population but not assessed"


@pytest.mark.slow
def test_a_run_killed_at_ten_random_moments_resumes_to_the_uninterrupted_result(
    tmp_path, teacher_file
):
    cfg = _config(tmp_path, teacher_file)
    cli("run", cfg, "--out", tmp_path / "whole", "--quiet", check=True)
    killed, rng, kills, attempts = tmp_path / "killed", np.random.default_rng(2026), 0, 0
    while kills < KILLS and attempts < 3 * KILLS:  # kills with a run under way count
        attempts += 1
        started = (killed / "archive.sqlite").exists()
        proc = _start("resume", killed) if started else _start("run", cfg, "--out", killed)
        time.sleep(rng.uniform(1.0, 12.0))
        if proc.poll() is not None:  # it finished (or failed) before this kill
            assert proc.returncode == 0, proc.stderr.read()
            break
        proc.send_signal(signal.SIGKILL)  # the main process only: its workers must follow
        proc.wait()
        if (killed / "archive.sqlite").exists():
            kills += 1
            _integrity(killed / "archive.sqlite")
    assert kills >= KILLS, f"the run finished after {kills} kills: make it longer"
    last = "resume" if (killed / "archive.sqlite").exists() else "run"
    cli(
        *(("resume", killed) if last == "resume" else ("run", cfg, "--out", killed)),
        "--quiet",
        check=True,
    )
    _integrity(killed / "archive.sqlite")
    assert content(killed / "archive.sqlite") == content(tmp_path / "whole" / "archive.sqlite")
    assert (killed / "pareto.json").read_text() == (tmp_path / "whole" / "pareto.json").read_text()


@pytest.mark.slow
def test_a_run_whose_workers_are_killed_again_and_again_finishes(tmp_path, teacher_file):
    import psutil

    cfg = _config(tmp_path, teacher_file, "workers")
    proc = _start("run", cfg, "--out", tmp_path / "run")
    main, killed_workers = psutil.Process(proc.pid), 0
    deadline = time.monotonic() + 600
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(2.0)
        try:
            workers = main.children()
        except psutil.NoSuchProcess:
            break
        if workers and killed_workers < 8:
            workers[0].kill()
            killed_workers += 1
    assert proc.poll() is not None, "the run hung"
    assert proc.returncode == 0, proc.stderr.read()
    assert killed_workers >= 3
    db = sqlite3.connect(tmp_path / "run" / "archive.sqlite")
    assert db.execute("SELECT value FROM meta WHERE key = 'status'").fetchone()[0] == '"finished"'
    statuses = dict(db.execute("SELECT status, count(*) FROM assessments GROUP BY status"))
    assert statuses.get("ok", 0) >= 2 + 3 * 3 - statuses.get("failed", 0)
    _integrity(tmp_path / "run" / "archive.sqlite")


@pytest.mark.slow
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_ctrl_c_and_sigterm_stop_a_run_with_one_line_and_it_resumes(tmp_path, teacher_file, how):
    cfg = _config(tmp_path, teacher_file, how)
    run = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "growagent.cli.main", "run", str(cfg), "--out", str(run), "-q"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal would make it
        # and Ctrl-C handled as in a terminal, even if this test process ignores SIGINT
        # (a child inherits an ignored signal; Python then installs no KeyboardInterrupt)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if rows(run / "archive.sqlite", "assessments") >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be stopped"
    if how == "ctrl-c":  # the terminal sends SIGINT to the whole group: workers too
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == (130 if how == "ctrl-c" else 143), err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "archive keeps every finished result" in lines[0], err
    cli("resume", run, "--quiet", check=True)
    _integrity(run / "archive.sqlite")

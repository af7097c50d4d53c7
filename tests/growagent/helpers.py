"""Shared by the tests that run searches: the CLI in a subprocess, a tiny CartPole run
config, and what a resumed run must reproduce. (The CartPole teacher they use is
the ``teacher_file`` fixture of ``conftest.py``.)"""

import contextlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def cli(*args, cwd=None, timeout=600, check=False):
    """``growagent ARGS`` in a subprocess (one torch thread); ``check``: it must succeed."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-m", "growagent.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        env=env,
        timeout=timeout,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def one_line_error(proc, *needles):
    """The CLI failed with exit code 2 and one line ``growagent: error: ...`` naming each needle."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("growagent: error:")
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in proc.stderr


TINY = """
name = "tiny"
env = "CartPole-v1"
seed = {seed}

[teacher]
path = "{teacher}"

[evolution]
generations = {generations}
mu = 3
offspring = 3
seeds = ["minimal", "mlp:4"]

[assess]
eval_episodes = 4

[assess.distill]
env_steps = 512
teacher_states = 1024
probe_states = 256
grad_steps = 300

[predictor]
min_samples = 4
screen_factor = 2
epochs = 30

[executor]
kind = "serial"
"""


def write_config(tmp_path, teacher_file, generations=2, seed=0):
    """:data:`TINY` with this teacher, written to a file."""
    path = tmp_path / f"tiny-{generations}-{seed}.toml"
    path.write_text(TINY.format(teacher=teacher_file, generations=generations, seed=seed))
    return path


def rows(path, table):
    """Rows of ``table`` in the archive at ``path`` as a run writes it; 0 while there is none.

    Opened read-only: a plain ``sqlite3.connect`` would create an empty file, and a
    run that finds one where its archive goes refuses to start."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.Error:
        return 0


def content(path):
    """Everything a resumed run must reproduce (timestamps and wall times aside)."""
    db = sqlite3.connect(path)
    q = {
        "genomes": "SELECT id, parent_id, operator, operator_params, structural_hash, params, "
        "policy_params, policy_macs, generation, body FROM genomes ORDER BY id",
        "assessments": "SELECT genome_id, generation, seed, status, error, return_mean, "
        "return_std, policy_params, policy_macs, predicted FROM assessments ORDER BY genome_id",
        "evaluations": "SELECT genome_id, kind, seed, episodes, return_mean, return_std "
        "FROM evaluations ORDER BY genome_id, kind, seed",
        "generations": "SELECT generation, population, pareto, stats, rng_state FROM generations "
        "ORDER BY generation",
        "steps": "SELECT step, generation, strategy, state FROM steps ORDER BY step",
    }
    return {k: db.execute(v).fetchall() for k, v in q.items()}

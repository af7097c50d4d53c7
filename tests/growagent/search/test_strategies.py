"""Every strategy on the seam: a tiny CartPole search end to end, killed and resumed,
and each strategy's own promise (Q-learning, epsilon schedule, distinct draws, descent)."""

import itertools
import json
import os
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

import genomes
import operators
from growagent.config import MetaQNNConfig, load_config
from growagent.search.base import Context
from growagent.search.metaqnn import MetaQNN, epsilon_schedule, q_update, transitions
from growagent.search.random_search import RandomSearch
from tests.growagent.helpers import REPO, cli, content, rows

TINY = """
name = "tiny"
env = "CartPole-v1"
seed = 3
heldout_episodes = 10

[teacher]
path = "{teacher}"

[search]
strategy = "{strategy}"
max_hidden_nodes = 4
max_units = 16

[random]
assessments = 6
batch = 2

[metaqnn]
architectures = 6
batch = 2
widths = [1, 2, 4, 8]

[firefly]
steps = 2
branches = 2
prune_steps = 1

[assess]
eval_episodes = 4

[assess.distill]
env_steps = 512
teacher_states = 1024
probe_states = 256
grad_steps = 300

[executor]
kind = "serial"
"""

STRATEGIES = ["random", "metaqnn", "firefly"]


def write_config(tmp_path, teacher_file, strategy):
    path = tmp_path / f"{strategy}.toml"
    path.write_text(TINY.format(teacher=teacher_file, strategy=strategy))
    return path


@pytest.fixture(scope="module")
def whole(tmp_path_factory, teacher_file):
    """One uninterrupted tiny run per strategy (made on first use)."""
    made = {}

    def get(strategy):
        if strategy not in made:
            tmp = tmp_path_factory.mktemp(strategy)
            cfg = write_config(tmp, teacher_file, strategy)
            cli("run", cfg, "--out", tmp / "whole", "--quiet", check=True)
            made[strategy] = (cfg, tmp / "whole")
        return made[strategy]

    return get


@pytest.mark.slow
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_each_strategy_runs_end_to_end_and_writes_a_valid_archive(whole, strategy):
    _, run = whole(strategy)
    front = json.loads((run / "pareto.json").read_text())
    assert front and all(p["heldout"] > 100 for p in front)  # distilled agents balance the pole
    db = sqlite3.connect(run / "archive.sqlite")
    ok = "SELECT count(*) FROM assessments WHERE status = 'ok' AND genome_id NOT LIKE '%.polished'"
    n = db.execute(ok).fetchone()[0]
    expected = {"random": 6, "metaqnn": 6, "firefly": 1 + 2 * 2 + 1}[strategy]
    assert n == expected
    steps = db.execute("SELECT strategy FROM steps").fetchall()
    assert steps and {s for (s,) in steps} == {strategy}
    out = cli("show", run, check=True).stdout
    assert "total: " in out
    cli("export", run, "--out", run / "p.pt", check=True)
    assert (run / "p.pt").stat().st_size > 0


@pytest.mark.slow
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("after", [1, 2], ids=["after-step0", "after-step1"])
def test_each_strategy_resumes_after_a_kill_to_the_uninterrupted_result(
    tmp_path, whole, strategy, after
):
    cfg, full = whole(strategy)
    killed = tmp_path / "killed"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "growagent.cli.main", "run", str(cfg), "--out", str(killed), "-q"]
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:  # kill -9 once `after` steps are in
        if rows(killed / "archive.sqlite", "steps") >= after:
            break
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    assert not (killed / "pareto.json").exists(), "the run finished before it could be killed"
    cli("resume", killed, "--quiet", check=True)
    assert content(killed / "archive.sqlite") == content(full / "archive.sqlite")
    assert (killed / "pareto.json").read_text() == (full / "pareto.json").read_text()


def test_metaqnn_q_table_follows_the_q_learning_update_on_hand_made_rewards():
    acts = lambda s: ["8|tanh", "terminate"] if s.startswith("0|") else ["terminate"]  # noqa: E731
    q = {}
    kw = dict(lr=0.1, discount=1.0, q_init=0.5, actions=acts)
    q_update(q, [[8, "tanh"]], 1.0, **kw)
    # backwards along the path: terminal first (reward), then the layer (max over next state)
    assert q["1|8|tanh"]["terminate"] == pytest.approx(0.9 * 0.5 + 0.1 * 1.0)
    assert q["0|0|input"]["8|tanh"] == pytest.approx(0.9 * 0.5 + 0.1 * 0.55)
    q_update(q, [], 0.0, **kw)  # the empty (linear) architecture ends at once
    assert q["0|0|input"]["terminate"] == pytest.approx(0.9 * 0.5)
    q_update(q, [[8, "tanh"]], 1.0, **dict(kw, discount=0.5))
    t = 0.9 * 0.55 + 0.1 * 1.0
    assert q["1|8|tanh"]["terminate"] == pytest.approx(t)
    assert q["0|0|input"]["8|tanh"] == pytest.approx(0.9 * 0.505 + 0.1 * 0.5 * t)
    assert transitions([[4, "relu"], [2, "tanh"]])[1] == ("1|4|relu", "2|tanh", "2|2|tanh")


def test_metaqnn_epsilon_schedule_matches_the_configured_one():
    paper = MetaQNNConfig().schedule
    eps = epsilon_schedule(paper, 2700)  # the paper's own budget gives its own counts
    counts = [eps.count(e) for e, _ in paper]
    assert counts == [int(n) for _, n in paper]
    small = epsilon_schedule(paper, 27)  # scaled to a budget of 27: 15 at 1.0, then down
    assert len(small) == 27 and small.count(1.0) == 15 and small[-1] == 0.1
    assert all(a >= b for a, b in itertools.pairwise(small))


def _context(limits, seed=0):
    spaces = ({"type": "box", "shape": [4]}, {"type": "discrete", "n": 2})
    return Context("CartPole-v1", spaces, seed, limits, "tanh", "params", load=None)


def test_random_search_draws_distinct_architectures_within_the_limits():
    limits = operators.Limits(max_params=400, max_hidden_nodes=4, max_units=16)
    cfg = load_config({"random": {"assessments": 30, "batch": 10}})
    strategy = RandomSearch(cfg, _context(limits))
    state, drawn = strategy.init(), []
    while not strategy.done(state):
        cands, state = strategy.ask(state)
        drawn += [c.genome for c in cands]
        state = strategy.tell(state, [])
    assert len(drawn) == 30
    assert all(limits.violation(g) is None for g in drawn)
    assert len({g.structural_hash() for g in drawn}) == 30
    assert len({len(g.hidden_nodes) for g in drawn}) >= 2  # depths vary
    assert len({g.id for g in drawn}) == 30


def test_metaqnn_samples_within_the_grammar():
    cfg = load_config({"metaqnn": {"architectures": 20, "batch": 20, "widths": [2, 4]}})
    limits = operators.Limits(max_params=5000, max_hidden_nodes=4, max_units=16)
    strategy = MetaQNN(cfg, _context(limits))
    cands, _state = strategy.ask(strategy.init())
    assert 1 <= len(cands) <= 20
    for c in cands:
        layers = c.genome.meta["lineage"]["params"]["layers"]
        assert len(layers) <= 2 and all(w in (2, 4) for w, _ in layers)  # depth cap: 4 nodes / 2
        assert c.genome.meta["lineage"]["params"]["epsilon"] == 1.0
    assert len({c.genome.structural_hash() for c in cands}) == len(cands)


@pytest.mark.slow
def test_firefly_descent_lowers_the_distillation_loss_step_by_step(whole):
    _, run = whole("firefly")
    db = sqlite3.connect(run / "archive.sqlite")
    state = json.loads(db.execute("SELECT state FROM steps ORDER BY step DESC").fetchone()[0])
    fitness = state["fitness"]
    grown = [g for g in state["path"] if fitness[g][2] is not None]
    losses = [fitness[g][2] for g in grown[: 1 + state["grown"]]]
    assert len(losses) >= 2, "no growth step was kept"
    assert all(b < a for a, b in itertools.pairwise(losses))  # each kept step lowers it
    ops = [
        db.execute("SELECT operator FROM genomes WHERE id = ?", (g,)).fetchone()[0]
        for g in state["path"][1:]
    ]
    assert "firefly_grow" in ops


@pytest.mark.slow
def test_a_firefly_growth_step_lowers_the_loss_before_any_training(tmp_path, teacher_file):
    from growagent.search.evaluator import Evaluator
    from growagent.search.firefly import FireflyDescent

    cfg = load_config({"env": "CartPole-v1", "teacher": {"path": str(teacher_file)}, "seed": 1})
    ev = Evaluator(cfg, tmp_path, say=lambda m: None)
    ev.get_teacher()
    strategy = FireflyDescent(cfg, ev.context())
    parent = genomes.mlp(4, 2, hidden=[4], seed=0)
    rng = np.random.default_rng(0)
    before = strategy.measure(parent)
    child = strategy.grow(parent, rng)
    assert child is not None and child.num_params() > parent.num_params()
    assert strategy.measure(child) < before
    ev.archive.close()

"""Noise-aware selection: re-evaluation on fresh common episodes and the held-out front."""

import random

import numpy as np
import pytest
from deap import tools

import genomes
from growagent.archive import Archive, pool
from growagent.config import load_config
from growagent.executors import make_executor
from growagent.rl import evaluate
from growagent.search import Candidate
from growagent.search.evaluator import Evaluator
from growagent.search.evolution import GenomeIndividual


def balancer(gain: float) -> genomes.Genome:
    """A linear CartPole controller: push towards the side the pole falls to."""
    g = genomes.minimal(4, 2)
    g.graph.edges["input", "policy"]["weight"] = gain * np.array(
        [[0, 0, -1.0, -1.0], [0, 0, 1.0, 1.0]]
    )
    return g


def assessed(session, genome, gid, returns, size_gen=1):
    """Commit an assessment whose search episodes gave ``returns``; return the individual."""
    genome.meta["lineage"]["id"] = gid
    session.archive.add_genome(genome, generation=size_gen)
    session.archive.add_assessment(
        gid,
        size_gen,
        0,
        {
            "status": "ok",
            "return_mean": float(np.mean(returns)),
            "return_std": float(np.std(returns)),
            "policy_params": genome.num_params("policy"),
            "policy_macs": genome.macs("policy"),
        },
    )
    session.archive.add_evaluation(gid, "search", session.task.eval_seed, returns, size_gen)
    return individual(session, gid)


def individual(session, gid):
    """A DEAP individual carrying the archive's pooled fitness of ``gid``."""
    ind = GenomeIndividual(session.archive.genome(gid))
    score = session.archive.score(gid)
    ind.fitness.values = (score.ret, float(score.params))
    return ind


def reevaluate(session, gids, generation, block=1):
    cands = [
        Candidate(session.archive.genome(g), generation, reevaluate=True, block=block) for g in gids
    ]
    return {j.id: j for j in session.judge(cands)}


def test_a_genome_lucky_in_the_search_is_demoted_on_re_evaluation(tmp_path):
    cfg = load_config({"env": "CartPole-v1", "assess": {"eval_episodes": 8}})
    session = Evaluator(cfg, tmp_path)
    session.executor = make_executor("serial")
    # Same size. "lucky" is a poor controller whose search episodes happened
    # to go well (recorded as 500 each); "steady" is a good one, recorded as it is.
    lucky_g, steady_g = genomes.minimal(4, 2, seed=3), balancer(1.0)
    seeds = session.block_seed(1)
    true_lucky = evaluate(lucky_g, "CartPole-v1", episodes=8, seed=seeds).mean
    true_steady = evaluate(steady_g, "CartPole-v1", episodes=8, seed=seeds).mean
    assert true_lucky < 100 < true_steady  # the construction holds
    steady_search = evaluate(steady_g, "CartPole-v1", episodes=8, seed=cfg.assess.eval_seed)
    lucky = assessed(session, lucky_g, "lucky", [500.0] * 8)
    steady = assessed(session, steady_g, "steady", steady_search.returns)
    random.seed(0)
    assert tools.selNSGA2([lucky, steady], 1) == [lucky]  # the search alone keeps the lucky one

    judged = reevaluate(session, ["lucky", "steady"], generation=1)
    rows = session.archive.evaluations("lucky")
    assert [r["kind"] for r in rows] == ["search", "reeval"]
    assert rows[1]["seed"] == cfg.assess.eval_seed + 8  # the next block of common episodes
    assert judged["lucky"].ret == pytest.approx((500.0 + true_lucky) / 2)
    assert judged["lucky"].blocks == 2
    lucky, steady = individual(session, "lucky"), individual(session, "steady")
    assert lucky.fitness.values[0] == judged["lucky"].ret  # what the archive pools, too
    random.seed(0)
    assert tools.selNSGA2([lucky, steady], 1) == [steady]
    # asked again, the same block is not evaluated twice; a third block is the next seeds
    assert reevaluate(session, ["lucky"], generation=1)["lucky"].ret == judged["lucky"].ret
    n_before = len(session.archive.evaluations("lucky"))
    reevaluate(session, ["lucky"], generation=2, block=2)
    rows = session.archive.evaluations("lucky")
    assert n_before == 2 and len(rows) == 3 and rows[2]["seed"] == cfg.assess.eval_seed + 16

    # the held-out front is judged on unseen episodes and stored
    held = session.heldout(["lucky", "steady"])
    assert held["steady"][0] > 100 > held["lucky"][0]
    stored = session.archive.evaluations("steady", ("heldout",))
    assert stored[0]["seed"] == cfg.heldout_seed and stored[0]["episodes"] == cfg.heldout_episodes
    assert session.heldout(["steady"]) == {"steady": held["steady"]}  # reused, not redone
    session.executor.close()
    session.archive.close()


def test_pooled_return_and_a_v1_archive_is_migrated(tmp_path):
    import sqlite3

    path = tmp_path / "archive.sqlite"
    Archive(path).close()
    db = sqlite3.connect(path)
    db.execute("DROP TABLE evaluations")
    db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with Archive(path, readonly=True) as a:  # read as it is
        assert a.evaluations() == []
    with Archive(path) as a:  # opened for writing: upgraded in place
        assert a.get_meta("schema_version") == "3"
        g = genomes.minimal(4, 2)
        g.meta["lineage"]["id"] = "g"
        a.add_genome(g)
        a.add_evaluation("g", "search", 0, [1.0, 3.0])
        a.add_evaluation("g", "reeval", 2, [5.0, 7.0])
        a.add_evaluation("g", "heldout", 9, [100.0])
        mean, se, n = a.pooled_return("g")
        assert (mean, n) == (4.0, 4)
        assert se == pytest.approx(np.std([1, 3, 5, 7]) / 2)
        assert pool(a.evaluations("g", ("heldout",)))[0] == 100.0

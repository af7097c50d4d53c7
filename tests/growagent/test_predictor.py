import math

import numpy as np
import pytest
import torch

import genomes
from genomes.testing import random_genome
from growagent.predictor import kendall_tau, ranking_loss, train_predictor


def test_kendall_tau_matches_hand_counts():
    # pairs: (1,2) c, (1,3) c, (2,3) d -> (2 - 1) / 3
    assert kendall_tau([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)
    assert math.isnan(kendall_tau([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ValueError):
        kendall_tau([1, 2], [1])


def test_ranking_loss_prefers_the_right_order_and_ignores_ties():
    t = torch.tensor([3.0, 2.0, 1.0])
    good, bad = torch.tensor([3.0, 2.0, 1.0]), torch.tensor([1.0, 2.0, 3.0])
    assert ranking_loss(good, t) < ranking_loss(bad, t)
    assert ranking_loss(good, torch.ones(3)).item() == 0.0


def _target(g, rng):
    # depends on node-level features (how many hidden nodes are relu, how many
    # skip edges), which the graph-level size features do not carry
    relu = sum(1 for n in g.hidden_nodes if g.graph.nodes[n]["activation"] == "relu")
    return 50.0 * relu + 10.0 * g.graph.number_of_edges() + rng.normal() * 5.0


@pytest.mark.slow
def test_predictor_generalises_to_unseen_genomes():
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    gs = [random_genome(rng, obs_dim=4, n_actions=2, continuous=False) for _ in range(150)]
    ys = [_target(g, rng) for g in gs]
    predictor = train_predictor(gs[:100], ys[:100], epochs=200, seed=0)
    tau = kendall_tau(predictor.score(gs[100:]), ys[100:])
    size_only = kendall_tau([g.num_params() for g in gs[100:]], ys[100:])
    assert tau > 0.5 and tau > size_only + 0.05, (
        tau,
        size_only,
    )  # it uses the graph, not just size
    # and it is deterministic for a seed
    again = train_predictor(gs[:100], ys[:100], epochs=200, seed=0)
    np.testing.assert_array_equal(predictor.score(gs[100:]), again.score(gs[100:]))


def test_predictor_scores_any_genome_kind():
    gs = [
        genomes.minimal(3, 2),
        genomes.mlp(
            {"type": "box", "shape": [3]},
            {"type": "box", "shape": [1], "low": [-1], "high": [1]},
            hidden=[4],
        ),
    ]
    p = train_predictor(gs, [1.0, 2.0], epochs=5)
    assert p.score(gs).shape == (2,)
    assert p.score([]).shape == (0,)


def test_train_predictor_docstring_example():
    # train_predictor's docstring example, skipped as a doctest because it trains
    gs = [genomes.mlp(4, 2, [w]) for w in (1, 2, 4, 8, 16)]
    p = train_predictor(gs, [10, 20, 40, 80, 160], epochs=100)
    assert kendall_tau(p.score(gs), [10, 20, 40, 80, 160]) > 0.5


# ------------------------------------------------ features, models and the screen
def _lineage(g, gid, parent=None, operator=None):
    g.meta["lineage"] = {
        "id": gid,
        "parents": [parent] if parent else [],
        "operator": operator,
        "params": {},
    }
    return g


def _renamed(g, mapping):
    import networkx as nx

    from genomes import Genome

    return Genome(nx.relabel_nodes(g.graph, mapping), meta=g.meta)


def test_the_encoding_and_every_model_ignore_node_names():
    from growagent.predictor.features import Sample, Scale, matrix
    from growagent.predictor.models import MODELS

    rng = np.random.default_rng(1)
    gs = [random_genome(rng, obs_dim=4, n_actions=2, continuous=False) for _ in range(30)]
    samples = [Sample(g, 1, operator="widen", parent_return=float(i)) for i, g in enumerate(gs)]
    ys = np.array([g.num_params() + 3.0 * len(g.hidden_nodes) for g in gs], dtype=float)
    probe = next(g for g in gs if len(g.hidden_nodes) >= 2)
    hidden = sorted(probe.hidden_nodes)
    # reversed names change the order in which ties are broken by name
    renamed = _renamed(probe, dict(zip(hidden, [f"z{i}" for i in reversed(range(len(hidden)))])))
    assert sorted(renamed.hidden_nodes) != hidden
    a, b = probe.to_pyg(), renamed.to_pyg()
    rows = lambda x: sorted(map(tuple, x.tolist()))  # noqa: E731
    assert rows(a.x) == rows(b.x) and a.edge_index.shape == b.edge_index.shape
    one = [Sample(probe, 1, operator="widen", parent_return=3.0)]
    two = [Sample(renamed, 1, operator="widen", parent_return=3.0)]
    np.testing.assert_array_equal(matrix(one, Scale()), matrix(two, Scale()))
    for name, make in MODELS.items():
        model = make(0)
        model.fit(matrix(samples, Scale()), ys, gs)
        p1, _ = model.predict(matrix(one, Scale()), [probe])
        p2, _ = model.predict(matrix(two, Scale()), [renamed])
        np.testing.assert_allclose(p1, p2, rtol=1e-5, atol=1e-5, err_msg=name)


def _synthetic_archive(path, rng, generations=4, per_generation=40):
    """An archive whose children's return is a known function of their parent's return,
    the operator and the policy's size: parent / 2 + 30 log2(policy params) - 60 [prune]."""
    import operators
    from growagent.archive import Archive

    def truth(parent_ret, child, op):
        size = math.log2(child.num_params("policy"))
        return 0.5 * parent_ret + 30.0 * size - 60.0 * (op == "prune_units")

    a = Archive(path)
    pool = []
    for i in range(8):
        g = _lineage(random_genome(rng, obs_dim=4, n_actions=2, continuous=False), f"s{i}")
        ret = float(rng.uniform(-100, 100))
        pool.append((g, ret))
        a.add_genome(g, generation=0)
        a.add_assessment(g.id, 0, 0, {"status": "ok", "return_mean": ret, "return_std": 1.0})
        a.add_evaluation(g.id, "search", 0, [ret - 1, ret + 1], 0)
    for gen in range(1, generations + 1):
        made = []
        while len(made) < per_generation:
            parent, pret = pool[int(rng.integers(len(pool)))]
            op = ["widen", "add_layer", "prune_units"][int(rng.integers(3))]
            try:
                child = operators.mutate(parent, rng, weights={op: 1.0})
            except operators.NotApplicable:
                continue
            child = _lineage(child, f"g{gen}c{len(made)}", parent.id, op)
            ret = truth(pret, child, op) + float(rng.normal(0, 2.0))
            a.add_genome(child, generation=gen)
            a.add_assessment(
                child.id, gen, 0, {"status": "ok", "return_mean": ret, "return_std": 1.0}
            )
            a.add_evaluation(child.id, "search", 0, [ret - 1, ret + 1], gen)
            made.append((child, ret))
        pool += made
    return a


@pytest.mark.parametrize("model", ["forest", "ridge"])
def test_a_known_function_of_parent_return_and_architecture_is_learned(tmp_path, model):
    from growagent.predictor.features import ArchiveView
    from growagent.predictor.fit import fit_predict

    archive = _synthetic_archive(tmp_path / "a.sqlite", np.random.default_rng(7))
    view = ArchiveView(archive)
    last = 4
    train, scale = view.samples(before=last), view.scale(before=last)
    test = [s for s in view.samples() if s.generation == last]
    truth = [s.target for s in test]
    # features describe the child as it was before assessment: its parent's return
    assert all(s.parent_return is not None and s.operator for s in test)
    mean, std = fit_predict(model, [(train, scale)], test, scale, seed=0)
    tau = kendall_tau(mean, truth)
    parent_only, _ = fit_predict("parent", [(train, scale)], test, scale)
    assert tau > 0.8, tau
    assert tau > kendall_tau(parent_only, truth) + 0.1
    assert std.shape == mean.shape and np.all(std >= 0)


@pytest.mark.slow
def test_the_gin_with_parent_features_learns_the_known_function(tmp_path):
    from growagent.predictor.features import ArchiveView
    from growagent.predictor.fit import fit_predict

    torch.set_num_threads(1)
    archive = _synthetic_archive(tmp_path / "a.sqlite", np.random.default_rng(7))
    view = ArchiveView(archive)
    train, scale = view.samples(before=4), view.scale(before=4)
    test = [s for s in view.samples() if s.generation == 4]
    truth = [s.target for s in test]
    with_parent, _ = fit_predict("gin", [(train, scale)], test, scale, seed=0)
    arch_only, _ = fit_predict("gin-arch", [(train, scale)], test, scale, seed=0)
    assert kendall_tau(with_parent, truth) > 0.8
    assert kendall_tau(with_parent, truth) > kendall_tau(arch_only, truth) + 0.1


def test_a_warm_start_from_another_archive_helps_a_run_with_little_data(tmp_path):
    from growagent.predictor.features import ArchiveView
    from growagent.predictor.fit import fit_predict

    other = ArchiveView(_synthetic_archive(tmp_path / "o.sqlite", np.random.default_rng(1)))
    own = ArchiveView(_synthetic_archive(tmp_path / "a.sqlite", np.random.default_rng(2), 1))
    # the first children of a run: only the seeds (no parents, no operators) to learn from
    train, scale = own.samples(before=1), own.scale(before=1)
    test = [s for s in own.samples() if s.generation == 1]
    truth = [s.target for s in test]
    cold, _ = fit_predict("forest", [(train, scale)], test, scale)
    warm, _ = fit_predict("forest", [(train, scale), (other.samples(), other.scale())], test, scale)
    assert kendall_tau(warm, truth) > kendall_tau(cold, truth) + 0.1


@pytest.mark.parametrize("explore_by", ["uncertainty", "random"])
@pytest.mark.parametrize("explore", [0.0, 0.25, 0.5, 1.0])
def test_the_screen_honours_the_exploration_share(explore, explore_by):
    from growagent.predictor.screen import Prediction, screen

    rng = np.random.default_rng(3)
    gs = [genomes.mlp(3, 2, [w]) for w in range(1, 25)]
    scores = rng.normal(size=24)
    std = rng.uniform(size=24)
    chosen, explored = screen(
        gs,
        Prediction(list(scores), list(std)),
        8,
        set(),
        np.random.default_rng(0),
        explore=explore,
        explore_by=explore_by,
    )
    k_explore = round(8 * explore)
    assert len(chosen) == 8 and sum(explored) == k_explore
    assert len({g.structural_hash() for g in chosen}) == 8
    index = {id(g): i for i, g in enumerate(gs)}
    best = [index[id(g)] for g, e in zip(chosen, explored) if not e]
    extra = [index[id(g)] for g, e in zip(chosen, explored) if e]
    assert best == list(np.argsort(-scores)[: 8 - k_explore])  # the top-ranked
    rest = [i for i in np.argsort(-scores) if i not in best]
    if explore_by == "uncertainty":
        assert extra == sorted(rest, key=lambda i: -std[i])[:k_explore]
    else:
        assert set(extra) <= set(rest)
    if explore_by == "random" and 0 < k_explore < len(rest):
        picks = {
            tuple(
                index[id(g)]
                for g, e in zip(
                    *screen(
                        gs,
                        Prediction(list(scores), list(std)),
                        8,
                        set(),
                        np.random.default_rng(seed),
                        explore=explore,
                        explore_by="random",
                    )
                )
                if e
            )
            for seed in range(6)
        }
        assert len(picks) > 1  # random picks depend on the strategy's generator


def test_without_a_prediction_the_screen_keeps_the_candidates_order():
    from growagent.predictor.screen import screen

    gs = [genomes.mlp(3, 2, [w]) for w in (1, 2, 3, 4)]
    chosen, explored = screen(gs, None, 2, set(), np.random.default_rng(0), explore=0.5)
    assert chosen == gs[:2] and explored == [False, False]


# --------------------------------------------------------- in a real run
def _screened_config(teacher_file):
    return {
        "name": "screened",
        "env": "CartPole-v1",
        "seed": 5,
        "heldout_episodes": 4,
        "teacher": {"path": str(teacher_file)},
        "evolution": {"generations": 3, "mu": 3, "offspring": 4, "seeds": ["minimal", "mlp:4"]},
        # a judgement short enough that children differ (CartPole's best all score 500)
        "assess": {
            "eval_episodes": 4,
            "distill": {
                "env_steps": 256,
                "teacher_states": 512,
                "probe_states": 128,
                "grad_steps": 60,
            },
        },
        "predictor": {"min_samples": 4, "screen_factor": 3, "explore": 0.25},
        "executor": {"kind": "serial"},
        "polish": {"factor": 0},
    }


def _content(path):
    import sqlite3

    db = sqlite3.connect(path)
    q = {
        "genomes": "SELECT id, parent_id, operator, body FROM genomes ORDER BY id",
        "assessments": "SELECT genome_id, generation, status, return_mean, predicted "
        "FROM assessments ORDER BY genome_id",
        "evaluations": "SELECT genome_id, kind, seed, return_mean FROM evaluations "
        "ORDER BY genome_id, kind, seed",
        "generations": "SELECT generation, population, stats FROM generations ORDER BY generation",
        "steps": "SELECT step, state FROM steps ORDER BY step",
    }
    return {k: db.execute(v).fetchall() for k, v in q.items()}


@pytest.mark.slow
def test_a_screened_run_logs_its_quality_and_resumes_exactly(tmp_path, teacher_file):
    import json
    import shutil
    import sqlite3

    import growagent

    whole = growagent.run(_screened_config(teacher_file), out=tmp_path / "whole", quiet=True)
    db = sqlite3.connect(whole.archive)
    screened = db.execute(
        "SELECT count(*) FROM assessments WHERE generation >= 2 AND predicted IS NOT NULL"
    ).fetchone()[0]
    assert screened >= 4  # the predictor chose generations 2 and 3
    stats = json.loads(
        db.execute("SELECT stats FROM generations WHERE generation = 3").fetchone()[0]
    )
    assert stats["screen_ratio"] > 1 and stats["explore_share"] == pytest.approx(0.25)
    assert {"pred_tau", "pred_rho", "tau_parent", "tau_size", "tau_forest"} <= set(stats)
    db.close()
    # as if killed during generation 3: its rows never written
    cut = tmp_path / "cut"
    shutil.copytree(tmp_path / "whole", cut)
    for name in ("pareto.json", "champion.json"):
        (cut / name).unlink()
    db = sqlite3.connect(cut / "archive.sqlite")
    with db:
        late = "SELECT genome_id FROM assessments WHERE generation >= 3"
        db.execute(f"DELETE FROM evaluations WHERE generation >= 3 OR genome_id IN ({late})")
        db.execute(f"DELETE FROM genomes WHERE id IN ({late})")
        db.execute("DELETE FROM assessments WHERE generation >= 3")
        db.execute("DELETE FROM generations WHERE generation >= 3")
        db.execute("DELETE FROM steps WHERE generation >= 3")
        db.execute("DELETE FROM meta WHERE key IN ('status', 'champion', 'search_front')")
    assert db.execute("SELECT max(generation) FROM assessments").fetchone()[0] == 2
    db.close()
    growagent.resume(cut, quiet=True)
    assert _content(cut / "archive.sqlite") == _content(whole.archive)
    assert (cut / "pareto.json").read_text() == (tmp_path / "whole" / "pareto.json").read_text()

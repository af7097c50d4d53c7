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

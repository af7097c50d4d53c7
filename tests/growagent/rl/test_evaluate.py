import numpy as np
import pytest

import genomes
from growagent.rl import evaluate, genome_spaces


def test_evaluation_is_reproducible_and_seed_dependent():
    g = genomes.mlp(4, 2, hidden=[8], seed=1)
    a = evaluate(g, "CartPole-v1", episodes=5, seed=0)
    b = evaluate(g, "CartPole-v1", episodes=5, seed=0)
    c = evaluate(g, "CartPole-v1", episodes=5, seed=1)
    assert a == b
    assert a.returns != c.returns
    assert len(a.returns) == len(a.lengths) == 5
    assert a.mean == pytest.approx(np.mean(a.returns))
    # CartPole pays 1 per step
    assert a.returns == [float(n) for n in a.lengths]


def test_stochastic_mode_samples_and_box_actions_are_clipped():
    obs, act = genome_spaces("Pendulum-v1")
    g = genomes.minimal(obs, act)
    g.graph.nodes["policy"]["bias"] = np.array([100.0])  # mean far beyond the bound 2
    det = evaluate(g, "Pendulum-v1", episodes=2, seed=0)
    sto = evaluate(g, "Pendulum-v1", episodes=2, seed=0, deterministic=False)
    assert all(n == 200 for n in det.lengths)
    assert np.isfinite(det.mean) and np.isfinite(sto.mean)


def test_obs_norm_from_meta_is_applied():
    # A hand-made linear controller: push right when the pole falls right.
    g = genomes.minimal(4, 2)
    g.graph.edges["input", "policy"]["weight"] = np.array([[0, 0, -1.0, -1.0], [0, 0, 1.0, 1.0]])
    plain = evaluate(g, "CartPole-v1", episodes=4, seed=0)
    # Statistics that shift the angle by a whole radian make it always push one way.
    g.meta["obs_norm"] = {
        "mean": [0, 0, 1.0, 0],
        "var": [1.0] * 4,
        "count": 1.0,
        "clip": 5.0,
        "epsilon": 1e-8,
    }
    normed = evaluate(g, "CartPole-v1", episodes=4, seed=0)
    assert plain.mean > 100
    assert normed.mean < 20

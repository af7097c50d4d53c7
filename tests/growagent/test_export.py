import numpy as np
import pytest
import torch

import genomes
from growagent.export import DeployedPolicy, export_policy, render_episode


def _box_genome():
    act = {"type": "box", "shape": [2], "low": [-1.0, -2.0], "high": [1.0, 2.0]}
    g = genomes.mlp(3, act, hidden=[8], seed=2)
    # big head weights so that some means fall outside the bounds
    g.graph.edges["h0", "policy"]["weight"] = g.graph.edges["h0", "policy"]["weight"] * 400
    g.meta["obs_norm"] = {
        "mean": [1.0, -1.0, 0.5],
        "var": [4.0, 0.25, 1.0],
        "count": 10.0,
        "clip": 5.0,
        "epsilon": 1e-8,
    }
    return g.validate()


def _reference_actions(genome, obs):
    norm = genome.meta["obs_norm"]
    x = obs
    if norm is not None:
        x = (obs - np.array(norm["mean"])) / np.sqrt(np.array(norm["var"]) + norm["epsilon"])
        x = np.clip(x, -norm["clip"], norm["clip"])
    out, _ = genomes.compile_genome(genome, dtype=torch.float64)(torch.tensor(x))
    out = out.detach().numpy()
    if genome.is_continuous:
        space = genome.action_space
        return np.clip(out, space["low"], space["high"])
    return out.argmax(axis=1)


@pytest.mark.parametrize("kind", ["discrete", "box"])
def test_deployed_policy_normalises_and_acts(kind):
    g = genomes.mlp(4, 3, hidden=[8], seed=1) if kind == "discrete" else _box_genome()
    obs = np.random.default_rng(0).normal(size=(64, g.units("input"))) * 3
    got = DeployedPolicy(g)(torch.tensor(obs, dtype=torch.float32)).numpy()
    ref = _reference_actions(g, obs)
    if kind == "discrete":
        assert (got == ref).mean() > 0.95  # float32 vs float64 ties aside
    else:
        np.testing.assert_allclose(got, ref, atol=1e-3)
        assert (np.abs(got) >= np.array([1.0, 2.0]) - 1e-6).any()  # clipping happened


@pytest.mark.parametrize("kind", ["discrete", "box"])
def test_torchscript_and_onnx_exports_match(tmp_path, kind):
    g = genomes.mlp(4, 3, hidden=[8], seed=1) if kind == "discrete" else _box_genome()
    obs = torch.tensor(
        np.random.default_rng(1).normal(size=(16, g.units("input"))), dtype=torch.float32
    )
    expected = DeployedPolicy(g)(obs).numpy()
    script = torch.jit.load(str(export_policy(g, tmp_path / "p.pt", fmt="torchscript")))
    np.testing.assert_array_equal(script(obs).numpy(), expected)
    onnx = pytest.importorskip("onnx")
    from onnx.reference import ReferenceEvaluator

    path = export_policy(g, tmp_path / "p.onnx", fmt="onnx")
    onnx.checker.check_model(onnx.load(str(path)))
    (got,) = ReferenceEvaluator(str(path)).run(None, {"obs": obs.numpy()})
    if kind == "discrete":
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="torchscript"):
        export_policy(genomes.minimal(4, 2), tmp_path / "x", fmt="tflite")


def test_render_episode_writes_a_gif(tmp_path):
    path = render_episode(genomes.minimal(4, 2), "CartPole-v1", tmp_path / "ep.gif", max_steps=20)
    from PIL import Image

    with Image.open(path) as im:
        assert im.n_frames > 1


def test_discrete_start_offset_is_exported():
    g = genomes.mlp(4, {"type": "discrete", "n": 3, "start": -1}, hidden=[4], seed=0)
    obs = torch.randn(8, 4)
    argmax = g.compile()(obs)[0].argmax(dim=1)
    assert torch.equal(DeployedPolicy(g)(obs), argmax - 1)

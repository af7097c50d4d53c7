import base64
import contextlib
import io
import json
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

sb3 = pytest.importorskip("stable_baselines3")

import genomes  # noqa: E402
from genomes import GenomeError  # noqa: E402
from growagent.distill import load_teacher  # noqa: E402
from growagent.distill.sb3 import SB3ConversionError, from_sb3  # noqa: E402
from growagent.rl import evaluate  # noqa: E402
from growagent.rl.normalize import normalize_obs  # noqa: E402

RELIABILITY_MD = Path(__file__).parents[3] / "docs" / "reliability.md"


class Evil:
    """Unpickling this creates ``marker``: proof that a payload ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _ours(genome, obs):
    module = genome.compile(torch.float64)
    x = torch.from_numpy(normalize_obs(genome.meta["obs_norm"], obs).astype(np.float64))
    with torch.no_grad():
        out, value = module(x)
    return out.numpy(), value.numpy()


def _train(algo, env, tmp_path, **policy_kwargs):
    torch.set_num_threads(1)
    cls = getattr(sb3, algo)
    kwargs = {"n_steps": 64, "batch_size": 64, "n_epochs": 1} if algo == "PPO" else {"n_steps": 8}
    model = cls(
        "MlpPolicy", env, seed=0, device="cpu", policy_kwargs=policy_kwargs or None, **kwargs
    )
    model.learn(128)
    path = tmp_path / "model.zip"
    model.save(path)
    return model, path


def _rewrite(src, dst, **members):
    """Copy the zip ``src`` to ``dst``, replacing members (``None`` drops one)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            if name not in members:
                zout.writestr(name, zin.read(name))
        for name, content in members.items():
            if content is not None:
                zout.writestr(name, content)
    return dst


def _data(path):
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("data"))


@pytest.fixture(scope="module")
def ppo_cartpole(tmp_path_factory):
    return _train("PPO", "CartPole-v1", tmp_path_factory.mktemp("ppo"))


CASES = [
    ("PPO", "CartPole-v1", {}),  # SB3 defaults: Tanh, pi=vf=[64, 64]
    ("A2C", "Pendulum-v1", {}),
    ("PPO", "Pendulum-v1", {"net_arch": {"pi": [32], "vf": [16, 8]}, "activation_fn": "ReLU"}),
    ("A2C", "CartPole-v1", {"net_arch": [16], "share_features_extractor": False}),
    ("PPO", "CartPole-v1", {"net_arch": {"pi": [], "vf": [8]}, "activation_fn": "ELU"}),
]


@pytest.mark.parametrize(("algo", "env_id", "policy_kwargs"), CASES)
def test_sb3_zip_teacher_acts_like_sb3_predict(tmp_path, algo, env_id, policy_kwargs):
    if "activation_fn" in policy_kwargs:
        policy_kwargs = {
            **policy_kwargs,
            "activation_fn": getattr(torch.nn, policy_kwargs["activation_fn"]),
        }
    model, path = _train(algo, env_id, tmp_path, **policy_kwargs)
    genome = load_teacher(path)

    env = model.get_env()
    obs = np.stack([env.observation_space.sample() for _ in range(64)])
    expected, _ = model.predict(obs, deterministic=True)
    values = model.policy.predict_values(torch.as_tensor(obs)).detach().numpy().ravel()
    out, ours_values = _ours(genome, obs)
    if genome.is_continuous:
        low, high = env.action_space.low, env.action_space.high
        assert np.allclose(np.clip(out, low, high), expected, atol=1e-5)
        assert np.allclose(
            genome.graph.nodes["policy"]["log_std"], model.policy.log_std.detach().numpy()
        )
    else:
        assert np.array_equal(out.argmax(-1), expected)
    assert np.allclose(ours_values, values, atol=1e-4)
    # the same genome, spaces and bounds included, as converting the live model
    assert genomes.dumps(genome) == genomes.dumps(from_sb3(model))
    assert genome.meta["tags"]["source"] == f"sb3:{algo}"


def test_sb3_zip_teacher_plays_its_env(ppo_cartpole):
    _, path = ppo_cartpole
    assert np.isfinite(evaluate(load_teacher(path), "CartPole-v1", episodes=2).mean)


def test_pickle_payload_in_data_never_runs(tmp_path, ppo_cartpole):
    _, path = ppo_cartpole
    marker = tmp_path / "pwned"
    payload = base64.b64encode(pickle.dumps(Evil(marker))).decode()
    data = _data(path)
    data["observation_space"][":serialized:"] = payload
    data["policy_class"][":serialized:"] = payload
    data["evil"] = {":type:": "<class 'Evil'>", ":serialized:": payload}
    evil = _rewrite(path, tmp_path / "evil.zip", data=json.dumps(data))

    with contextlib.suppress(Exception):  # SB3's own loader runs the payload ...
        sb3.PPO.load(evil, device="cpu")
    assert marker.exists()
    marker.unlink()
    genome = load_teacher(evil)  # ... this reader never decodes it
    assert not marker.exists()
    assert genomes.dumps(genome) == genomes.dumps(load_teacher(path))


def test_pickle_payload_where_a_needed_field_should_be_is_refused(tmp_path, ppo_cartpole):
    _, path = ppo_cartpole
    marker = tmp_path / "pwned"
    payload = base64.b64encode(pickle.dumps(Evil(marker))).decode()
    for key in ("observation_space", "action_space", "policy_class", "policy_kwargs"):
        data = _data(path)
        data[key] = {":type:": "<class 'gymnasium.spaces.box.Box'>", ":serialized:": payload}
        evil = _rewrite(path, tmp_path / f"{key}.zip", data=json.dumps(data))
        with pytest.raises(SB3ConversionError, match=f"{key}.*only a pickle"):
            load_teacher(evil)
    assert not marker.exists()


def test_pickle_payload_in_policy_pth_is_refused(tmp_path, ppo_cartpole):
    model, path = ppo_cartpole
    marker = tmp_path / "pwned"
    buf = tmp_path / "policy.pth"
    torch.save({**model.policy.state_dict(), "evil": Evil(marker)}, buf)
    torch.load(buf, weights_only=False)  # a full unpickler runs the payload ...
    assert marker.exists()
    marker.unlink()
    evil = _rewrite(path, tmp_path / "evil.zip", **{"policy.pth": buf.read_bytes()})
    with pytest.raises(SB3ConversionError, match=r"policy.pth.*not a plain state dict") as info:
        load_teacher(evil)  # ... torch's weights-only one refuses it
    assert "\n" not in str(info.value)
    assert not marker.exists()


def _mutate(path, tmp_path, name):
    """A malformed or unsupported variant of a real PPO CartPole zip."""
    data = _data(path)
    with zipfile.ZipFile(path) as z:
        pth = z.read("policy.pth")
    state = torch.load(io.BytesIO(pth), weights_only=True)
    out = tmp_path / f"{name}.zip"

    def with_state(s):
        buf = tmp_path / "s.pth"
        torch.save(s, buf)
        return _rewrite(path, out, **{"policy.pth": buf.read_bytes()})

    def with_data(d):
        return _rewrite(path, out, data=json.dumps(d))

    if name == "not a zip":
        out.write_bytes(b"PK\x03\x04 this is not a zip")
        return out
    if name in ("data", "policy.pth", "_stable_baselines3_version"):
        return _rewrite(path, out, **{name: None})
    if name == "data not JSON":
        return _rewrite(path, out, data=b"{not json")
    if name == "policy.pth garbage":
        return _rewrite(path, out, **{"policy.pth": b"\x00" * 100})
    if name == "extractor weights":
        return with_state({**state, "features_extractor.cnn.0.weight": torch.zeros(2, 2)})
    if name == "shared layers":
        return with_state({**state, "mlp_extractor.shared_net.0.weight": torch.zeros(2, 2)})
    if name == "missing head":
        return with_state({k: v for k, v in state.items() if not k.startswith("value_net")})
    if name == "NaN weight":
        return with_state({**state, "action_net.bias": torch.full((2,), float("nan"))})
    if name == "wrong obs shape":
        data["observation_space"]["_shape"] = [5]
        data["observation_space"]["low"] = data["observation_space"]["high"] = "[0 0 0 0 0]"
        return with_data(data)
    if name == "gSDE":
        data["use_sde"] = True
        return with_data(data)
    if name == "activation":
        data["policy_kwargs"] = {"activation_fn": "<class 'torch.nn.modules.activation.PReLU'>"}
        return with_data(data)
    if name == "CnnPolicy":
        cls = data["policy_class"]  # as SB3 writes ActorCriticCnnPolicy: its own __init__ only
        data["policy_class"] = {k: cls[k] for k in (":type:", ":serialized:", "__module__")}
        data["policy_class"]["__init__"] = "<function ActorCriticCnnPolicy.__init__ at 0x1>"
        return with_data(data)
    if name == "net_arch":
        data["policy_kwargs"] = {"net_arch": [32, 32]}
        return with_data(data)
    if name == "abbreviated bounds":
        data["observation_space"]["low"] = "[-4.8 ... -inf]"
        return with_data(data)
    if name == "DQN":
        return with_data({k: v for k, v in data.items() if k not in ("clip_range", "n_steps")})
    raise AssertionError(name)


BAD = [
    ("not a zip", "not a zip file"),
    ("data", "no 'data' inside"),
    ("policy.pth", "no 'policy.pth' inside"),
    ("_stable_baselines3_version", "not a Stable-Baselines3 model zip"),
    ("data not JSON", "'data' is not JSON"),
    ("policy.pth garbage", "not a plain state dict"),
    ("extractor weights", "features extractor"),
    ("shared layers", "shared_net"),
    ("missing head", r"missing \['value_net.bias', 'value_net.weight'\]"),
    ("NaN weight", "action_net.bias holds NaN"),
    ("wrong obs shape", "mlp_extractor.policy_net.0 to map 5 inputs"),
    ("gSDE", "gSDE"),
    ("activation", "PReLU.*not supported"),
    ("CnnPolicy", "ActorCriticCnnPolicy; only MlpPolicy"),
    ("net_arch", r"net_arch\['pi'\] is \[32, 32\]"),
    ("abbreviated bounds", "observation_space.*low: expected 4 numbers"),
    ("DQN", "not a PPO or A2C model"),
]


@pytest.mark.parametrize(("name", "message"), BAD)
def test_malformed_or_unsupported_zip_is_one_genome_error(tmp_path, ppo_cartpole, name, message):
    _, path = ppo_cartpole
    bad = _mutate(path, tmp_path, name)
    with pytest.raises(GenomeError, match=message) as info:  # the CLI's exit 2
        load_teacher(bad)
    assert isinstance(info.value, SB3ConversionError)
    assert str(bad) in str(info.value) and "\n" not in str(info.value)


def test_gsde_model_is_refused(tmp_path):
    _, path = _train("PPO", "Pendulum-v1", tmp_path, log_std_init=-1.0)  # a plain one loads
    load_teacher(path)
    model = sb3.PPO(
        "MlpPolicy", "Pendulum-v1", use_sde=True, n_steps=64, batch_size=64, device="cpu"
    )
    model.save(tmp_path / "sde.zip")
    with pytest.raises(SB3ConversionError, match="gSDE"):
        load_teacher(tmp_path / "sde.zip")


def _export_snippet():
    """The documented VecNormalize export, as the user would run it."""
    text = RELIABILITY_MD.read_text()
    block = text.split("## SB3 teachers", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    return block


def test_vecnormalize_exported_as_documented_becomes_obs_norm(tmp_path):
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    venv = VecNormalize(make_vec_env("CartPole-v1", n_envs=2, seed=0))
    model = sb3.PPO("MlpPolicy", venv, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(256)
    model.save(tmp_path / "m.zip")
    venv.save(str(tmp_path / "vecnormalize.pkl"))
    subprocess.run([sys.executable, "-c", _export_snippet()], cwd=tmp_path, check=True)
    genome = load_teacher(tmp_path / "m.zip", vecnormalize=tmp_path / "vecnormalize.json")

    obs = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    expected, _ = model.predict(venv.normalize_obs(obs), deterministic=True)
    out, _ = _ours(genome, obs)
    assert np.allclose(genome.meta["obs_norm"]["mean"], venv.obs_rms.mean)
    assert genome.meta["obs_norm"]["clip"] == venv.clip_obs
    assert np.array_equal(out.argmax(-1), expected)
    assert genomes.dumps(genome) == genomes.dumps(from_sb3(model, venv))


def test_vecnormalize_pickle_is_refused_unread(tmp_path, ppo_cartpole):
    _, path = ppo_cartpole
    marker = tmp_path / "pwned"
    for name in ("vecnormalize.pkl", "stats"):  # by suffix or by content
        (tmp_path / name).write_bytes(pickle.dumps(Evil(marker)))
        with pytest.raises(SB3ConversionError, match=r"a pickle .*export its statistics to JSON"):
            load_teacher(path, vecnormalize=tmp_path / name)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("stats", "message"),
    [
        ({"mean": [0.0] * 4, "var": [1.0] * 4}, "missing"),
        (
            {"mean": [0.0] * 3, "var": [1.0] * 3, "count": 1, "clip_obs": 10, "epsilon": 1e-8},
            "statistics for 4 observations",
        ),
        ({"obs_rms": {}}, "expected an object with keys"),
        (
            {"mean": [0.0] * 4, "var": [-1.0] * 4, "count": 1, "clip_obs": 10, "epsilon": 1e-8},
            "var >= 0",
        ),
    ],
)
def test_malformed_vecnormalize_json_is_one_error(tmp_path, ppo_cartpole, stats, message):
    _, path = ppo_cartpole
    (tmp_path / "vn.json").write_text(json.dumps(stats))
    with pytest.raises(SB3ConversionError, match=message):
        load_teacher(path, vecnormalize=tmp_path / "vn.json")


def test_vecnormalize_with_norm_obs_off_adds_no_obs_norm(tmp_path, ppo_cartpole):
    _, path = ppo_cartpole
    stats = {"mean": [0.0] * 4, "var": [1.0] * 4, "count": 1, "clip_obs": 10, "epsilon": 1e-8}
    (tmp_path / "vn.json").write_text(json.dumps({**stats, "norm_obs": False}))
    assert load_teacher(path, vecnormalize=tmp_path / "vn.json").meta["obs_norm"] is None


def test_reader_needs_no_stable_baselines3(ppo_cartpole):
    """Reading a zip imports nothing from SB3 (so nothing of it can unpickle)."""
    _, path = ppo_cartpole
    code = (
        "import sys; from growagent.distill import load_teacher; "
        f"load_teacher({str(path)!r}); "
        "print(sorted(m for m in sys.modules if re.match('stable_baselines3|cloudpickle', m)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import re; " + code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"

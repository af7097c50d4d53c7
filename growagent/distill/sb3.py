"""Read a Stable-Baselines3 PPO/A2C ``.zip`` as a teacher genome, running no code from it.

SB3's own loader (``PPO.load``) unpickles parts of the zip, so a zip can run
any code it likes when loaded that way. This reader never unpickles: it opens
the zip with :mod:`zipfile` and reads three members.

``_stable_baselines3_version``
    Plain text; it must be there (it marks an SB3 zip).
``data``
    JSON. SB3 writes each value JSON cannot hold as a base64 pickle under
    ``":serialized:"`` and, beside it, a plain-JSON mirror of the object's
    attributes. Only the mirror is read, never a ``":serialized:"`` value: the
    policy class (``policy_class``: SB3's ``ActorCriticPolicy``, i.e.
    ``MlpPolicy``), ``use_sde``, ``policy_kwargs`` (``activation_fn`` as the
    text ``"<class 'torch.nn.modules.activation.ReLU'>"``, ``net_arch`` as a
    cross-check) and the spaces (a ``Box``'s ``_shape``, ``dtype`` and its
    ``low``/``high`` as NumPy prints them, a ``Discrete``'s ``n``/``start``).
    A field needed here that exists only as a pickle is refused.
``policy.pth``
    The policy's state dict, read with ``torch.load(weights_only=True)``:
    torch's restricted unpickler builds tensors and plain containers and
    refuses anything else, so a ``__reduce__`` payload is an error, not a call.

The architecture comes from the state dict: ``mlp_extractor.policy_net`` and
``mlp_extractor.value_net`` (separate actor and critic trunks; SB3 >= 1.8 has
no shared layers, and an old zip's ``shared_net`` is refused), each a chain of
``Linear`` layers at indices 0, 2, 4, ... with one activation after each, then
the ``action_net`` / ``value_net`` heads and ``log_std`` for Box actions. The
widths are the tensors' shapes, checked against the spaces. The activation
holds no weights, so it is read from ``policy_kwargs["activation_fn"]``; when
``policy_kwargs`` names none it is SB3's default for actor-critic MLP
policies, ``Tanh``. Not supported (one-line :class:`SB3ConversionError`):
gSDE, squashed outputs, a features extractor other than ``FlattenExtractor``
(any parameters under ``features_extractor``), non-Box observations,
non-Discrete/Box actions, other policy classes.

Space bounds are NumPy's printed text, parsed as numbers in the space's dtype:
exact for round bounds (CartPole, Pendulum, ...), within 5e-9 otherwise; an
array too long to be printed in full (``...``) is refused.

``VecNormalize`` statistics are a pickle in SB3 (``VecNormalize.save``) and
are not read. Give ``vecnormalize`` a JSON file instead (``mean``, ``var``,
``count``, ``clip_obs``, ``epsilon``, ``norm_obs``), written in your own SB3
environment from a file you trust: the three-line export is in
``docs/reliability.md`` ("SB3 teachers"), and a test runs it as printed there.

A pickle given there is refused in one line. The statistics become
``meta["obs_norm"]`` (reward normalisation does not affect acting).
:func:`from_sb3` converts a live SB3 model object (no file involved).
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from genomes import Genome, GenomeError
from genomes.spaces import describe_action_space, describe_observation_space

MAX_DATA_BYTES = 64 * 2**20
"""Largest ``data`` member read (SB3's are a few kB)."""
MAX_POLICY_BYTES = 2**30
"""Largest ``policy.pth`` member read."""
MAX_VECNORMALIZE_BYTES = 64 * 2**20
"""Largest VecNormalize JSON file read."""

_ACTIVATIONS = {
    "Tanh": "tanh",
    "ReLU": "relu",
    "ELU": "elu",
    "GELU": "gelu",
    "SiLU": "silu",
    "Sigmoid": "sigmoid",
}
_DEFAULT_ACTIVATION = "Tanh"  # ActorCriticPolicy's activation_fn default
_VECNORMALIZE_KEYS = ("mean", "var", "count", "clip_obs", "epsilon", "norm_obs")
_SPACE_TYPE = re.compile(r"<class 'gym(?:nasium)?\.spaces\.(box\.Box|discrete\.Discrete)'>")
_CLASS_TEXT = re.compile(r"<class '([\w.]+)'>")


class SB3ConversionError(GenomeError, ValueError):
    """An SB3 file this reader refuses: malformed, unsupported or a pickle."""


# ---------------------------------------------------------------- the genome
def _trunk(state: dict[str, np.ndarray], prefix: str, where: str) -> list[str]:
    """The keys ``prefix.{0,2,4,...}`` of one MlpExtractor trunk, in order."""
    pattern = re.compile(re.escape(prefix) + r"\.(\d+)\.(weight|bias)")
    found: dict[int, set[str]] = {}
    for key in state:
        m = pattern.fullmatch(key)
        if m:
            found.setdefault(int(m.group(1)), set()).add(m.group(2))
    indices = sorted(found)
    if indices != list(range(0, 2 * len(indices), 2)) or any(
        v != {"weight", "bias"} for v in found.values()
    ):
        raise SB3ConversionError(
            f"{where}: expected {prefix} to be Linear layers (weight and bias) at indices "
            f"0, 2, 4, ... each followed by one activation (got {sorted(found.items())})"
        )
    return [f"{prefix}.{i}" for i in indices]


def _build(
    state: dict[str, np.ndarray],
    obs: dict[str, Any],
    act: dict[str, Any],
    activation: str,
    *,
    source: str,
    obs_norm: dict[str, Any] | None,
    where: str,
) -> Genome:
    """A genome computing the policy and value of an MlpPolicy state dict."""
    if "mlp_extractor.shared_net.0.weight" in state:
        raise SB3ConversionError(f"{where}: shared layers (SB3 < 1.8 shared_net) are not supported")
    extractor = sorted(k for k in state if "features_extractor" in k)
    if extractor:
        raise SB3ConversionError(
            f"{where}: a features extractor with parameters ({extractor[0]}) is not supported"
        )
    actor = _trunk(state, "mlp_extractor.policy_net", where)
    critic = _trunk(state, "mlp_extractor.value_net", where)
    heads = ["action_net", "value_net"]
    expected = {f"{p}.{s}" for p in actor + critic + heads for s in ("weight", "bias")}
    if act["type"] == "box":
        expected.add("log_std")
    if set(state) != expected:
        missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
        raise SB3ConversionError(
            f"{where}: not an MlpPolicy state dict (missing {missing}, unexpected {extra})"
        )
    for key, value in state.items():
        if not np.isfinite(value).all():
            raise SB3ConversionError(f"{where}: {key} holds NaN or infinite values")
    n_obs = math.prod(int(s) for s in obs["shape"])
    n_out = int(act["n"]) if act["type"] == "discrete" else math.prod(act["shape"])

    g = Genome(meta={"observation_space": obs, "action_space": act})
    g.add_node("input", kind="input", units=n_obs)

    def chain(prefix: str, layers: list[str]) -> tuple[str, int]:
        prev, width = "input", n_obs
        for i, layer in enumerate(layers):
            w, b = state[f"{layer}.weight"], state[f"{layer}.bias"]
            if w.ndim != 2 or w.shape[1] != width or b.shape != (w.shape[0],):
                raise SB3ConversionError(
                    f"{where}: expected {layer} to map {width} inputs (weight {list(w.shape)}, "
                    f"bias {list(b.shape)})"
                )
            name = f"{prefix}{i}"
            g.add_node(name, kind="hidden", units=w.shape[0], activation=activation, bias=b)
            g.add_edge(prev, name, w)
            prev, width = name, w.shape[0]
        return prev, width

    (a_last, a_width), (v_last, v_width) = chain("h", actor), chain("v", critic)
    for head, width, units in (("action_net", a_width, n_out), ("value_net", v_width, 1)):
        w, b = state[f"{head}.weight"], state[f"{head}.bias"]
        if w.shape != (units, width) or b.shape != (units,):
            raise SB3ConversionError(
                f"{where}: expected {head}.weight of shape {[units, width]} for "
                f"{act if head == 'action_net' else 'the value'} (got {list(w.shape)})"
            )
    log_std = state.get("log_std")
    if log_std is not None and log_std.shape != (n_out,):
        raise SB3ConversionError(
            f"{where}: expected log_std of shape {[n_out]} (got {list(log_std.shape)}; "
            "a 2-D log_std is gSDE, which is not supported)"
        )
    g.add_node(
        "policy",
        kind="policy",
        units=n_out,
        activation="identity",
        bias=state["action_net.bias"],
        log_std=log_std,
    )
    g.add_node("value", kind="value", units=1, activation="identity", bias=state["value_net.bias"])
    g.add_edge(a_last, "policy", state["action_net.weight"])
    g.add_edge(v_last, "value", state["value_net.weight"])
    if obs_norm is not None:
        if len(obs_norm["mean"]) != n_obs:
            raise SB3ConversionError(
                f"{where}: expected VecNormalize statistics for {n_obs} observations "
                f"(got {len(obs_norm['mean'])})"
            )
        g.meta["obs_norm"] = obs_norm
    g.meta["tags"]["role"] = "teacher"
    g.meta["tags"]["source"] = source
    try:
        return g.validate()
    except GenomeError as exc:
        raise SB3ConversionError(f"{where}: {exc}") from None


def from_sb3(model: Any, vec_normalize: Any = None) -> Genome:
    """A genome computing exactly a live SB3 model's policy and value (no file read).

    Parameters
    ----------
    model : stable_baselines3 PPO or A2C
        A model with an ``ActorCriticPolicy`` (``MlpPolicy``).
    vec_normalize : stable_baselines3 VecNormalize, optional
        Its observation statistics go to ``meta["obs_norm"]``.

    Raises
    ------
    SB3ConversionError
        For unsupported policies (gSDE, custom extractors, other activations).
    """
    policy = model.policy
    where = f"{type(model).__name__} model"
    if getattr(policy, "use_sde", False):
        raise SB3ConversionError(f"{where}: gSDE policies are not supported")
    extractor = type(policy.features_extractor).__name__
    if extractor != "FlattenExtractor":
        raise SB3ConversionError(f"{where}: unsupported features extractor {extractor}")
    activation = _ACTIVATIONS.get(policy.activation_fn.__name__)
    if activation is None:
        raise SB3ConversionError(f"{where}: unsupported activation {policy.activation_fn.__name__}")
    state = {k: v.detach().cpu().double().numpy() for k, v in policy.state_dict().items()}
    norm = None
    if vec_normalize is not None and getattr(vec_normalize, "norm_obs", False):
        rms = vec_normalize.obs_rms
        norm = _obs_norm(
            {
                "mean": np.asarray(rms.mean).tolist(),
                "var": np.asarray(rms.var).tolist(),
                "count": float(rms.count),
                "clip_obs": float(vec_normalize.clip_obs),
                "epsilon": float(vec_normalize.epsilon),
            },
            where,
        )
    return _build(
        state,
        describe_observation_space(policy.observation_space),
        describe_action_space(policy.action_space),
        activation,
        source=f"sb3:{type(model).__name__}",
        obs_norm=norm,
        where=where,
    )


# ------------------------------------------------------------ reading the zip
def _member(zf: zipfile.ZipFile, name: str, limit: int, where: str) -> bytes:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise SB3ConversionError(
            f"{where}: no {name!r} inside: not a Stable-Baselines3 model zip"
        ) from None
    if info.file_size > limit:
        raise SB3ConversionError(
            f"{where}: {name!r} is {info.file_size} bytes, more than the {limit} read"
        )
    try:
        return zf.read(info)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError) as exc:
        raise SB3ConversionError(f"{where}: cannot read {name!r} ({exc})") from None
    except RuntimeError as exc:  # encrypted member
        raise SB3ConversionError(f"{where}: cannot read {name!r} ({exc})") from None


def _state_dict(raw: bytes, where: str) -> dict[str, np.ndarray]:
    import torch

    try:
        state = torch.load(io.BytesIO(raw), weights_only=True, map_location="cpu")
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SB3ConversionError(
            f"{where}: 'policy.pth' is not a plain state dict of tensors ({first})"
        ) from None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) and v.is_floating_point()
        for k, v in state.items()
    ):
        raise SB3ConversionError(f"{where}: 'policy.pth' is not a state dict of float tensors")
    return {k: v.detach().double().numpy() for k, v in state.items()}


def _mirror(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """The plain-JSON mirror of a serialised object in ``data`` (never the pickle)."""
    value = data.get(key)
    if isinstance(value, dict) and ":serialized:" not in value:
        return value  # stored as plain JSON
    if not isinstance(value, dict) or set(value) <= {":type:", ":serialized:"}:
        raise SB3ConversionError(
            f"{where}: data[{key!r}] is missing or only a pickle, which is never loaded"
        )
    return value


def _int(value: Any, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,18}", value.strip()):
        return int(value)
    raise SB3ConversionError(f"{where}: expected an integer (got {value!r:.60})")


def _numbers(text: Any, size: int, dtype: str, where: str) -> np.ndarray:
    """A NumPy-printed array (``"[-1. -1. -8.]"``) as ``size`` numbers of ``dtype``."""
    if not isinstance(text, str):
        raise SB3ConversionError(f"{where}: expected NumPy's printed array (got {text!r:.60})")
    tokens = text.replace("[", " ").replace("]", " ").split()
    try:
        values = [float(t) for t in tokens]
    except ValueError:
        raise SB3ConversionError(
            f"{where}: expected {size} numbers printed in full (got {text!r:.60})"
        ) from None
    if len(values) != size or any(math.isnan(v) for v in values):
        raise SB3ConversionError(f"{where}: expected {size} numbers (got {text!r:.60})")
    return np.asarray(values, dtype=np.float64).astype(dtype)


def _space(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """A space description (as :mod:`genomes.spaces` writes it) from its JSON mirror."""
    mirror = _mirror(data, key, where)
    here = f"{where}: data[{key!r}]"
    m = _SPACE_TYPE.fullmatch(str(mirror.get(":type:")))
    if m is None:
        raise SB3ConversionError(
            f"{here}: expected a Box or Discrete space (got {mirror.get(':type:')!r:.80})"
        )
    if m.group(1) == "discrete.Discrete":
        start = _int(mirror.get("start", 0), f"{here}.start")
        desc: dict[str, Any] = {"type": "discrete", "n": _int(mirror.get("n"), f"{here}.n")}
        if desc["n"] < 1:
            raise SB3ConversionError(f"{here}.n: expected a positive integer (got {desc['n']})")
        if start:
            desc["start"] = start
        return desc
    shape = mirror.get("_shape")
    if not (isinstance(shape, list) and shape and all(_int(s, here) >= 1 for s in shape)):
        raise SB3ConversionError(f"{here}._shape: expected positive sizes (got {shape!r:.60})")
    dtype = mirror.get("dtype")
    if dtype not in ("float16", "float32", "float64"):
        raise SB3ConversionError(f"{here}.dtype: expected a float dtype (got {dtype!r:.40})")
    size = math.prod(shape)
    low = _numbers(mirror.get("low"), size, dtype, f"{here}.low").astype(np.float64)
    high = _numbers(mirror.get("high"), size, dtype, f"{here}.high").astype(np.float64)
    if (low > high).any():
        raise SB3ConversionError(f"{here}: expected low <= high")
    desc = {"type": "box", "shape": [int(s) for s in shape]}
    if np.isfinite(low).all() and np.isfinite(high).all():
        desc["low"], desc["high"] = low.tolist(), high.tolist()
    return desc


def _check_policy(data: dict[str, Any], where: str) -> str:
    """Check the policy is SB3's MlpPolicy; its activation's name."""
    cls = _mirror(data, "policy_class", where)
    owners = {
        m.group(1)
        for v in cls.values()
        if isinstance(v, str)
        for m in [re.match(r"<function (\w+)\.", v)]
        if m
    }
    if cls.get("__module__") != "stable_baselines3.common.policies" or owners != {
        "ActorCriticPolicy"
    }:
        name = ", ".join(sorted(owners)) or "unknown"
        raise SB3ConversionError(
            f"{where}: the policy is {name}; only MlpPolicy (ActorCriticPolicy) is supported"
        )
    if data.get("use_sde", False) is not False:
        raise SB3ConversionError(f"{where}: gSDE policies are not supported")
    kwargs = data.get("policy_kwargs", {})
    kwargs = {} if kwargs is None else _mirror(data, "policy_kwargs", where)
    if kwargs.get("squash_output", False) is not False or kwargs.get("use_sde", False):
        raise SB3ConversionError(f"{where}: squashed (gSDE) outputs are not supported")
    extractor = kwargs.get("features_extractor_class")
    if extractor is not None and not str(extractor).endswith(".FlattenExtractor'>"):
        raise SB3ConversionError(
            f"{where}: features extractor {extractor!r:.80} is not supported (only Flatten)"
        )
    text = kwargs.get("activation_fn")
    if text is None:
        return _DEFAULT_ACTIVATION
    m = _CLASS_TEXT.fullmatch(str(text))
    name = m.group(1).rpartition(".")[2] if m else ""
    if not (m and m.group(1).startswith("torch.nn.") and name in _ACTIVATIONS):
        raise SB3ConversionError(
            f"{where}: activation {text!r:.80} is not supported (one of {sorted(_ACTIVATIONS)})"
        )
    return name


def _check_net_arch(data: dict[str, Any], genome: Genome, where: str) -> None:
    """Cross-check ``policy_kwargs["net_arch"]`` (when plain JSON) with the weights."""
    kwargs = data.get("policy_kwargs") or {}
    arch = kwargs.get("net_arch") if isinstance(kwargs, dict) else None
    if isinstance(arch, list) and all(isinstance(w, int) for w in arch):
        arch = {"pi": arch, "vf": arch}
    if not (isinstance(arch, dict) and set(arch) == {"pi", "vf"}):
        return
    for key, prefix in (("pi", "h"), ("vf", "v")):
        got = [genome.units(n) for n in genome.graph.nodes if re.fullmatch(prefix + r"\d+", n)]
        if arch[key] != got:
            raise SB3ConversionError(
                f"{where}: policy_kwargs net_arch[{key!r}] is {arch[key]} but the weights "
                f"have layers {got}"
            )


def _algorithm(data: dict[str, Any], where: str) -> str:
    if "clip_range" in data and "n_epochs" in data:
        return "PPO"
    if "n_steps" in data and "gae_lambda" in data and "cg_max_steps" not in data:
        return "A2C"
    raise SB3ConversionError(f"{where}: not a PPO or A2C model (no on-policy settings in data)")


def _obs_norm(stats: Any, where: str) -> dict[str, Any] | None:
    """``meta["obs_norm"]`` from exported VecNormalize statistics (None: norm_obs off)."""
    if not isinstance(stats, dict) or not set(stats) <= set(_VECNORMALIZE_KEYS):
        got = sorted(stats) if isinstance(stats, dict) else type(stats).__name__
        raise SB3ConversionError(
            f"{where}: expected an object with keys {list(_VECNORMALIZE_KEYS)} (got {got})"
        )
    missing = [k for k in _VECNORMALIZE_KEYS[:5] if k not in stats]
    if missing:
        raise SB3ConversionError(f"{where}: missing {missing}")
    if stats.get("norm_obs", True) is False:
        return None
    out: dict[str, Any] = {}
    for key in ("mean", "var"):
        v = stats[key]
        if not (
            isinstance(v, list)
            and v
            and all(isinstance(x, (int, float)) and math.isfinite(x) for x in v)
        ):
            raise SB3ConversionError(f"{where}: {key}: expected a list of finite numbers")
        out[key] = [float(x) for x in v]
    if len(out["mean"]) != len(out["var"]) or min(out["var"]) < 0:
        raise SB3ConversionError(f"{where}: expected mean and var of equal length, var >= 0")
    for key, name in (("count", "count"), ("clip_obs", "clip"), ("epsilon", "epsilon")):
        v = stats[key]
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
            raise SB3ConversionError(
                f"{where}: {key}: expected a finite number >= 0 (got {v!r:.40})"
            )
        out[name] = float(v)
    return out


def read_vecnormalize(path: str | Path) -> dict[str, Any] | None:
    """Exported VecNormalize statistics (JSON, see the module docstring) as ``obs_norm``.

    Raises
    ------
    SB3ConversionError
        For a pickle (``VecNormalize.save``'s file) or malformed statistics.
    """
    path = Path(path)
    where = f"teacher.vecnormalize {path}"
    with open(path, "rb") as f:
        raw = f.read(MAX_VECNORMALIZE_BYTES + 1)
    if raw[:1] == b"\x80" or path.suffix in (".pkl", ".pickle"):
        raise SB3ConversionError(
            f"{where}: a pickle (VecNormalize.save), which is never loaded; export its "
            "statistics to JSON in your SB3 environment (docs/reliability.md, 'SB3 teachers')"
        )
    if len(raw) > MAX_VECNORMALIZE_BYTES:
        raise SB3ConversionError(f"{where}: more than {MAX_VECNORMALIZE_BYTES} bytes")
    try:
        stats = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise SB3ConversionError(f"{where}: not JSON ({exc})") from None
    return _obs_norm(stats, where)


def load_sb3_zip(path: str | Path, vecnormalize: str | Path | None = None) -> Genome:
    """Load an SB3 PPO or A2C ``.zip`` (and optional VecNormalize JSON) as a genome.

    Runs no code from either file (see the module docstring for what is read).

    Raises
    ------
    SB3ConversionError
        If the file is not an SB3 PPO/A2C MlpPolicy zip, is malformed, needs
        unpickling to be read, or ``vecnormalize`` is a pickle.
    """
    where = str(path)
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise SB3ConversionError(f"{where}: not a zip file (an SB3 model zip expected)") from None
    with zf:
        version = _member(zf, "_stable_baselines3_version", 64, where).decode("ascii", "replace")
        if not re.fullmatch(r"\d+\.\d+\S*", version.strip()):
            raise SB3ConversionError(f"{where}: unreadable SB3 version {version!r:.40}")
        try:
            data = json.loads(_member(zf, "data", MAX_DATA_BYTES, where))
        except (ValueError, RecursionError) as exc:
            raise SB3ConversionError(f"{where}: 'data' is not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise SB3ConversionError(f"{where}: 'data' is not a JSON object")
        state = _state_dict(_member(zf, "policy.pth", MAX_POLICY_BYTES, where), where)
    algo = _algorithm(data, where)
    activation = _ACTIVATIONS[_check_policy(data, where)]
    obs = _space(data, "observation_space", where)
    if obs["type"] != "box":
        raise SB3ConversionError(f"{where}: only Box observation spaces are supported")
    act = _space(data, "action_space", where)
    norm = None if vecnormalize is None else read_vecnormalize(vecnormalize)
    genome = _build(state, obs, act, activation, source=f"sb3:{algo}", obs_norm=norm, where=where)
    _check_net_arch(data, genome, where)
    return genome

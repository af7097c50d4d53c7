"""Export a genome's policy as a standalone TorchScript or ONNX model.

The exported model maps a batch of raw observations to actions: observation
normalisation (the statistics stored in the genome), the policy part of the
network only, then argmax (Discrete) or the mean clipped to the bounds (Box).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from genomes import Genome


class DeployedPolicy(nn.Module):
    """``forward(obs [batch, obs_dim]) -> actions``; self-contained.

    Examples
    --------
    >>> import genomes, torch
    >>> p = DeployedPolicy(genomes.minimal(4, 2))
    >>> p(torch.zeros(3, 4)).shape
    torch.Size([3])
    """

    # buffers, registered in __init__
    mean: torch.Tensor
    inv_std: torch.Tensor
    low: torch.Tensor
    high: torch.Tensor

    def __init__(self, genome: Genome):
        super().__init__()
        self.net = genome.compile(torch.float32, part="policy").requires_grad_(False)
        n = genome.units(genome.input_node)
        norm = genome.meta.get("obs_norm")
        mean = np.zeros(n) if norm is None else np.asarray(norm["mean"], dtype=np.float64)
        var = np.ones(n) if norm is None else np.asarray(norm["var"], dtype=np.float64)
        eps = 0.0 if norm is None else float(norm.get("epsilon", 1e-8))
        clip = 1e30 if norm is None else float(norm.get("clip", 10.0))
        self.register_buffer("mean", torch.tensor(mean.ravel(), dtype=torch.float32))
        self.register_buffer(
            "inv_std", torch.tensor(1.0 / np.sqrt(var.ravel() + eps), dtype=torch.float32)
        )
        self.clip = clip
        self.discrete = not genome.is_continuous
        space = genome.action_space
        self.start = int(space.get("start", 0))  # Discrete(n, start=...)
        low = np.asarray(space.get("low", [-np.inf]), dtype=np.float64)
        high = np.asarray(space.get("high", [np.inf]), dtype=np.float64)
        self.register_buffer("low", torch.tensor(np.maximum(low, -1e30), dtype=torch.float32))
        self.register_buffer("high", torch.tensor(np.minimum(high, 1e30), dtype=torch.float32))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Actions for a batch of raw observations."""
        x = obs.reshape(obs.shape[0], -1).float()
        x = torch.clamp((x - self.mean) * self.inv_std, -self.clip, self.clip)
        out, _ = self.net(x)
        if self.discrete:
            return torch.argmax(out, dim=1) + self.start
        return torch.maximum(torch.minimum(out, self.high), self.low)


def export_policy(genome: Genome, path: str | Path, fmt: str = "torchscript") -> Path:
    """Write the deployed policy to ``path`` as ``"torchscript"`` or ``"onnx"``.

    Load a TorchScript export with ``torch.jit.load(path)``; it needs neither
    growagent nor the genome file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    policy = DeployedPolicy(genome).eval()
    example = torch.zeros(1, genome.units(genome.input_node))
    if fmt == "torchscript":
        with torch.no_grad():
            traced = torch.jit.trace(policy, example)
        traced.save(str(path))
    elif fmt == "onnx":
        try:
            import onnx  # noqa: F401
        except ImportError:
            raise RuntimeError("ONNX export needs onnx: pip install 'growagent[onnx]'") from None
        torch.onnx.export(
            policy,
            (example,),
            str(path),
            input_names=["obs"],
            output_names=["action"],
            dynamic_axes={"obs": {0: "batch"}, "action": {0: "batch"}},
            dynamo=False,
        )
    else:
        raise ValueError(f"Expected format 'torchscript' or 'onnx' (got {fmt!r})")
    return path


def render_episode(
    genome: Genome, env_id: str, path: str | Path, seed: int = 0, max_steps: int = 1000
) -> Path:
    """Play one deterministic episode and save its frames as a GIF."""
    import os

    import gymnasium as gym
    from PIL import Image

    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # no screen needed for rgb_array

    policy = DeployedPolicy(genome).eval()
    try:
        env = gym.make(env_id, render_mode="rgb_array")
    except Exception as exc:
        raise RuntimeError(f"{env_id} cannot render frames here ({exc})") from None
    obs, _ = env.reset(seed=seed)
    frames = []
    for _ in range(max_steps):
        frame = env.render()
        assert isinstance(frame, np.ndarray)  # render_mode="rgb_array"
        frames.append(Image.fromarray(frame))
        with torch.no_grad():
            action = policy(torch.as_tensor(np.asarray(obs, dtype=np.float32)[None]))[0].numpy()
        obs, _, terminated, truncated, _ = env.step(action if not policy.discrete else int(action))
        if terminated or truncated:
            break
    env.close()
    path = Path(path)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=33, loop=0)
    return path

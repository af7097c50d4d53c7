"""A user's own environment, as a user would write it in a file of their own.

``Signal`` shows a sign in its first observation; the agent earns +1 for the
action that matches it (1 for positive) and -1 otherwise, so a random policy
scores about 0 and a trained one ``length``. It learns in a few thousand PPO
steps. ``obs_dim`` changes the observation space, so a process that built the
env without the run's ``env_kwargs`` fails loudly.

The tests copy this file into a temporary directory as ``my_envs.py`` and use
it there: by ``env = "my_envs:Signal-v0"`` (importing the module registers the
id), by ``env = "my_envs:make_signal"`` (a module-level factory), or by passing
``make_signal`` from a launching script.
"""

from __future__ import annotations

import gymnasium
import numpy as np
from gymnasium import spaces


class Signal(gymnasium.Env):
    """Match the sign of the first observation; ``length`` steps per episode."""

    def __init__(self, length: int = 20, obs_dim: int = 2):
        self.length = int(length)
        self.observation_space = spaces.Box(-1.0, 1.0, (int(obs_dim),), dtype=np.float32)
        self.action_space = spaces.Discrete(2)

    def _obs(self) -> np.ndarray:
        obs = self.np_random.uniform(-1.0, 1.0, self.observation_space.shape).astype(np.float32)
        obs[0] = self.sign
        return obs

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        self.sign = float(self.np_random.choice([-1.0, 1.0]))
        return self._obs(), {}

    def step(self, action):
        reward = 1.0 if int(action) == int(self.sign > 0) else -1.0
        self.t += 1
        self.sign = float(self.np_random.choice([-1.0, 1.0]))
        return self._obs(), reward, False, self.t >= self.length, {}


def make_signal(**kwargs) -> gymnasium.Env:
    """The env factory: ``Signal(**kwargs)``."""
    return Signal(**kwargs)


gymnasium.register("Signal-v0", entry_point=Signal)

"""Misbehaving environments, registered under ids for subprocess CLI tests.

Use them as ``env = "tests.growagent.bad_envs:NaNReward-v0"`` (gymnasium
imports the module named before the colon, which registers the ids).
"""

from __future__ import annotations

import gymnasium
import numpy as np
from gymnasium import spaces


class NaNRewardEnv(gymnasium.Env):
    """Balanced observations, but every reward after the third step is NaN."""

    observation_space = spaces.Box(-1.0, 1.0, (3,))
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(3, dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        reward = float("nan") if self.t > 3 else 1.0
        return np.zeros(3, dtype=np.float32), reward, False, self.t >= 50, {}


class CrashingEnv(NaNRewardEnv):
    """Raises inside step."""

    def step(self, action):
        raise RuntimeError("simulator exploded")


class ExitingEnv(NaNRewardEnv):
    """Calls sys.exit(3) inside step (a simulator that quits on an error)."""

    def step(self, action):
        import sys

        sys.exit(3)


gymnasium.register("NaNReward-v0", entry_point=NaNRewardEnv)
gymnasium.register("Exiting-v0", entry_point=ExitingEnv)
gymnasium.register("Crashing-v0", entry_point=CrashingEnv)

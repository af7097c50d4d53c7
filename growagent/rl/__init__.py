"""Reinforcement learning for one genome: environments, PPO and evaluation."""

from growagent.rl.envs import UnsupportedEnvError, env_spaces, genome_spaces, make_vec_env
from growagent.rl.evaluate import EvalResult, evaluate
from growagent.rl.normalize import RunningMeanStd, normalize_obs
from growagent.rl.ppo import NonFiniteTrainingError, PPOConfig, TrainLog, train_ppo, zoo_config

__all__ = [
    "EvalResult",
    "NonFiniteTrainingError",
    "PPOConfig",
    "RunningMeanStd",
    "TrainLog",
    "UnsupportedEnvError",
    "env_spaces",
    "evaluate",
    "genome_spaces",
    "make_vec_env",
    "normalize_obs",
    "train_ppo",
    "zoo_config",
]

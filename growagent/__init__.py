"""growagent: search for small, strong deep-RL agents.

The search lives here (environments, PPO, distillation, evolution, predictor,
archive, CLI); the genome representation is in :mod:`genomes` and the
mutation operators in :mod:`operators`.
"""

__version__ = "0.1.0"

"""Teachers and actor-critic distillation (Auto-Agent-Distiller)."""

from growagent.distill.a2d import DistillConfig, DistillLog, distill
from growagent.distill.losses import gaussian_kl, kl_divergence_with_logits, value_mse
from growagent.distill.teacher import get_teacher, load_teacher, train_teacher

__all__ = [
    "DistillConfig",
    "DistillLog",
    "distill",
    "gaussian_kl",
    "get_teacher",
    "kl_divergence_with_logits",
    "load_teacher",
    "train_teacher",
    "value_mse",
]

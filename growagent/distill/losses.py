"""Distillation losses: tiny pure functions on batches of network outputs."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def kl_divergence_with_logits(
    teacher_logits: torch.Tensor, student_logits: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """Mean over the batch of KL(teacher || student) between categorical distributions.

    Both distributions are ``softmax(logits / temperature)``.

    Examples
    --------
    >>> t = torch.tensor([[2.0, 0.0]])
    >>> float(kl_divergence_with_logits(t, t))
    0.0
    >>> float(kl_divergence_with_logits(t, torch.zeros(1, 2))) > 0
    True
    """
    t_logp = F.log_softmax(teacher_logits / temperature, dim=-1)
    s_logp = F.log_softmax(student_logits / temperature, dim=-1)
    return (t_logp.exp() * (t_logp - s_logp)).sum(-1).mean()


def gaussian_kl(
    teacher_mean: torch.Tensor,
    teacher_log_std: torch.Tensor,
    student_mean: torch.Tensor,
    student_log_std: torch.Tensor,
) -> torch.Tensor:
    """Mean over the batch of KL(teacher || student) between diagonal Gaussians.

    Summed over action dimensions; ``log_std`` tensors broadcast against the means.

    Examples
    --------
    >>> m, s = torch.zeros(3, 2), torch.zeros(2)
    >>> float(gaussian_kl(m, s, m, s))
    0.0
    >>> round(float(gaussian_kl(m, s, m + 1.0, s)), 4)
    1.0
    """
    var_t = (2 * teacher_log_std).exp()
    var_s = (2 * student_log_std).exp()
    kl = (
        student_log_std
        - teacher_log_std
        + (var_t + (teacher_mean - student_mean) ** 2) / (2 * var_s)
        - 0.5
    )
    return kl.sum(-1).mean()


def value_mse(teacher_value: torch.Tensor, student_value: torch.Tensor) -> torch.Tensor:
    """Mean squared error between teacher and student values.

    Examples
    --------
    >>> float(value_mse(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 0.0])))
    2.0
    """
    return F.mse_loss(student_value, teacher_value)


def kl_with_logits_numpy(
    teacher_logits: np.ndarray, student_logits: np.ndarray, temperature: float = 1.0
) -> tuple[float, np.ndarray]:
    """:func:`kl_divergence_with_logits` and its gradient with respect to the student logits.

    With ``q = softmax(s / T)`` and ``p = softmax(t / T)`` the gradient of the
    batch mean is ``(q - p) / (T * batch)``.

    Examples
    --------
    >>> t, s = np.array([[2.0, 0.0]]), np.zeros((1, 2))
    >>> kl, grad = kl_with_logits_numpy(t, s)
    >>> round(kl, 4) == round(float(kl_divergence_with_logits(torch.tensor(t), torch.tensor(s))), 4)
    True
    >>> grad.round(3).tolist()
    [[-0.381, 0.381]]
    """
    t_logp = _log_softmax(teacher_logits / temperature)
    s_logp = _log_softmax(student_logits / temperature)
    p = np.exp(t_logp)
    batch = teacher_logits.shape[0]
    kl = float((p * (t_logp - s_logp)).sum() / batch)
    return kl, (np.exp(s_logp) - p) / (temperature * batch)


def value_mse_numpy(
    teacher_value: np.ndarray, student_value: np.ndarray
) -> tuple[float, np.ndarray]:
    """:func:`value_mse` and its gradient with respect to the student values.

    Examples
    --------
    >>> mse, grad = value_mse_numpy(np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    >>> mse, grad.tolist()
    (2.0, [0.0, -2.0])
    """
    diff = student_value - teacher_value
    return float((diff * diff).mean()), diff * (2.0 / diff.shape[0])


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    out: np.ndarray = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return out

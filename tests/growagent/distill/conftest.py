import pytest
import torch

from growagent.distill import train_teacher


@pytest.fixture(scope="session")
def cartpole_teacher():
    """A CartPole teacher trained once for the session (about 5 s on one core)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train_teacher("CartPole-v1", total_steps=30_000, seed=0)
    finally:
        torch.set_num_threads(old)

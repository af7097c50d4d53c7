"""Shared fixtures: seeded random genomes (operators.testing.random_genome)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genomes import Genome
from operators.testing import random_genome

N_GENOMES = 200
N_DROPPED = 60


@pytest.fixture(scope="session")
def random_genomes() -> list[Genome]:
    """200 random valid genomes covering skips, multi-input nodes, both head kinds."""
    torch.set_num_threads(1)
    return [random_genome(np.random.default_rng(seed)) for seed in range(N_GENOMES)]


@pytest.fixture(scope="session")
def dropped_genomes() -> list[Genome]:
    """60 random genomes that no longer read some of their input features."""
    torch.set_num_threads(1)
    out = [random_genome(np.random.default_rng(10_000 + seed), dropped=0.5) for seed in range(200)]
    return [g for g in out if g.dropped_inputs][:N_DROPPED]

"""Shared fixtures: seeded random genomes (operators.testing.random_genome)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genomes import Genome
from operators.testing import random_genome

N_GENOMES = 200


@pytest.fixture(scope="session")
def random_genomes() -> list[Genome]:
    """200 random valid genomes covering skips, multi-input nodes, both head kinds."""
    torch.set_num_threads(1)
    return [random_genome(np.random.default_rng(seed)) for seed in range(N_GENOMES)]

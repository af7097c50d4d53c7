"""Test-wide settings: one torch thread (the machine has 2 shared cores; more
threads oversubscribe them and make small-network training ~20x slower)."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

torch.set_num_threads(1)

"""firefly_grow: gradient-chosen candidates beat randomly chosen ones on a distillation task."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import genomes
from genomes import Genome
from operators import firefly_grow
from operators.base import output_change


def _task(seed: int) -> tuple[Genome, object]:
    """A 4-unit student regressing a fixed random 32x32 teacher's outputs, pre-trained."""
    torch.manual_seed(seed)
    teacher = genomes.mlp(6, 3, hidden=[32, 32], activation="tanh", seed=100 + seed, shared=True)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 6, generator=gen)
    with torch.no_grad():
        y, v = teacher.compile()(x)
        y = 100 * y  # undo the 0.01 policy-head gain so both outputs matter

    def loss_fn(m: torch.nn.Module) -> torch.Tensor:
        p, val = m(x)
        return ((p - y) ** 2).mean() + ((val - v) ** 2).mean()

    student = genomes.mlp(6, 3, hidden=[4], activation="tanh", seed=seed, shared=True)
    student = student.with_weights_from(_train(student, loss_fn, 600, 1e-2))
    return student, loss_fn


def _train(g: Genome, loss_fn, steps: int, lr: float) -> genomes.GenomeModule:  # type: ignore[no-untyped-def]
    m = g.compile()
    opt = torch.optim.Adam(m.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(m).backward()
        opt.step()
    return m


def _loss(g: Genome, loss_fn) -> float:  # type: ignore[no-untyped-def]
    with torch.no_grad():
        return float(loss_fn(g.compile()))


@pytest.mark.slow
def test_firefly_choice_beats_random_choice_after_fine_tune() -> None:
    torch.set_num_threads(1)
    ratios: dict[str, list[float]] = {"score": [], "random": []}
    for seed in range(6):
        student, loss_fn = _task(seed)
        base = _loss(student, loss_fn)
        for selection in ratios:
            child = firefly_grow(
                student,
                loss_fn,
                rng=np.random.default_rng(seed),
                k=2,
                new_per_node=8,
                selection=selection,
            )
            tuned = child.with_weights_from(_train(child, loss_fn, 30, 1e-3))
            ratios[selection].append(_loss(tuned, loss_fn) / base)
    firefly, random = np.mean(ratios["score"]), np.mean(ratios["random"])
    # loss drop after the same short fine-tune: firefly's at least 1.5x random's
    assert 1 - firefly > 1.5 * (1 - random), ratios
    assert sum(f < r for f, r in zip(ratios["score"], ratios["random"])) >= 5


def test_firefly_step_lowers_the_loss_before_any_training() -> None:
    student, loss_fn = _task(0)
    child = firefly_grow(
        student, loss_fn, rng=np.random.default_rng(0), k=3, eps=1e-3, split_eps=1e-2
    )
    assert _loss(child, loss_fn) < _loss(student, loss_fn)
    assert child.meta["lineage"]["params"]["predicted_decrease"] > 0
    assert child.num_params() > student.num_params()


def test_firefly_default_k_and_small_change() -> None:
    g = genomes.mlp(4, 2, hidden=[10, 10], activation="relu", shared=True)
    x = torch.randn(64, 4)

    def loss_fn(m: torch.nn.Module) -> torch.Tensor:
        p, val = m(x)
        return (p**2).mean() + ((val - 1) ** 2).mean()

    child = firefly_grow(g, loss_fn, rng=np.random.default_rng(0), eps=1e-4)
    chosen = child.meta["lineage"]["params"]["chosen"]
    assert 0 < len(chosen) <= 7  # round(0.35 * 20)
    assert all(c["kind"] != "split" for c in chosen)  # relu has no curvature: no split scores
    assert output_change(g, child, x.double().numpy())["max_abs"] < 1e-2

"""Fixtures shared by the growagent tests."""

import pytest

import genomes


@pytest.fixture(scope="session")
def teacher_file(tmp_path_factory):
    """A CartPole teacher (PPO, 16384 steps, seed 0) saved as a genome file, trained once
    per test process for every test that runs a tiny CartPole search."""
    from growagent.distill.teacher import train_teacher

    teacher = train_teacher("CartPole-v1", total_steps=16_384, seed=0)
    return genomes.save(teacher, tmp_path_factory.mktemp("teacher") / "teacher.json")

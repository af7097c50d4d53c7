import numpy as np
import pytest
import torch

import genomes
from growagent.distill import DistillConfig, distill, get_teacher, load_teacher
from growagent.rl import evaluate, genome_spaces


@pytest.mark.slow
# A linear student cannot match a 64x64 teacher everywhere: its KL falls by
# about 4x (0.27 of the start with three different teachers), a hidden
# layer's by over 100x.
@pytest.mark.parametrize(("hidden", "kl_drop"), [((), 0.4), ((8,), 0.05)])
def test_distillation_lowers_kl_and_raises_return(cartpole_teacher, hidden, kl_drop):
    torch.set_num_threads(1)
    obs, act = genome_spaces("CartPole-v1")
    student = genomes.mlp(obs, act, hidden=list(hidden), seed=1)
    before = evaluate(student, "CartPole-v1", episodes=10, seed=500).mean
    trained, log = distill(student, cartpole_teacher, "CartPole-v1", config=DistillConfig(), seed=0)
    after = evaluate(trained, "CartPole-v1", episodes=10, seed=500).mean
    assert log.kl[-1] < kl_drop * log.kl[0]
    assert log.value_mse[-1] < log.value_mse[0]
    assert after > max(400.0, before + 200.0)
    assert trained.meta["obs_norm"] == cartpole_teacher.meta["obs_norm"]
    assert trained.num_params("policy") == student.num_params("policy")


def test_distill_rejects_mismatched_action_spaces():
    with pytest.raises(ValueError, match="action space"):
        distill(genomes.minimal(4, 3), genomes.minimal(4, 2), "CartPole-v1")


def test_distill_on_box_actions_runs_and_copies_log_std_shape():
    obs, act = genome_spaces("Pendulum-v1")
    teacher = genomes.mlp(obs, act, hidden=[8], seed=3)
    teacher.graph.nodes["policy"]["log_std"] = np.array([-1.0])
    cfg = DistillConfig(
        env_steps=1024,
        teacher_states=1024,
        probe_states=256,
        grad_steps=200,
        num_envs=4,
        rollout_steps=64,
    )
    trained, log = distill(genomes.minimal(obs, act), teacher, "Pendulum-v1", config=cfg)
    assert log.kl[-1] < log.kl[0]
    # the student's log_std moves towards the teacher's -1
    assert trained.graph.nodes["policy"]["log_std"][0] < 0


def test_get_teacher_trains_once_and_load_teacher_reads_json(tmp_path):
    a = get_teacher("CartPole-v1", cache_dir=tmp_path, total_steps=256, hidden=(4,))
    files = list(tmp_path.glob("teacher-CartPole-v1-*.json"))
    assert len(files) == 1
    mtime = files[0].stat().st_mtime_ns
    b = get_teacher("CartPole-v1", cache_dir=tmp_path, total_steps=256, hidden=(4,))
    assert files[0].stat().st_mtime_ns == mtime
    assert genomes.dumps(a) == genomes.dumps(b) == genomes.dumps(load_teacher(files[0]))
    get_teacher("CartPole-v1", cache_dir=tmp_path, total_steps=256, hidden=(4,), seed=1)
    assert len(list(tmp_path.glob("*.json"))) == 2


def test_distill_docstring_example():
    # distill's docstring example, skipped as a doctest because it trains
    teacher = genomes.mlp(4, 2, hidden=[8])
    cfg = DistillConfig(env_steps=512, teacher_states=512, probe_states=128, grad_steps=40)
    s, log = distill(genomes.minimal(4, 2), teacher, "CartPole-v1", config=cfg)
    assert (log.env_steps, log.grad_steps, log.teacher_env_steps) == (512, 40, 640)
    assert s.num_params("policy") == genomes.minimal(4, 2).num_params("policy")

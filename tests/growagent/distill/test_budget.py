"""Distillation's budget, its two minibatch steps and the shared teacher-state cache."""

import os

import numpy as np
import pytest

import genomes
from growagent.distill import DistillConfig, distill
from growagent.distill import states as states_mod
from growagent.distill.states import TeacherStates, states_key, teacher_states


def small(**kw):
    base = dict(
        env_steps=640,
        teacher_states=512,
        probe_states=128,
        grad_steps=70,
        num_envs=4,
        rollout_steps=32,
        check_every=20,
        min_improvement=0.0,
    )
    return DistillConfig(**{**base, **kw})


@pytest.mark.parametrize("env_steps", [0, 128, 640, 644])
def test_env_and_gradient_steps_are_honoured_exactly(env_steps):
    teacher = genomes.mlp(4, 2, hidden=[8], seed=2)
    cfg = small(env_steps=env_steps)
    _, log = distill(genomes.minimal(4, 2), teacher, "CartPole-v1", config=cfg, seed=0)
    assert log.env_steps == env_steps  # 644 = 5 rounds of 128 and one of 4
    assert log.grad_steps == 70
    assert log.teacher_env_steps == 640  # 512 + 128 collected here, no cache given
    assert log.checks == [0, 20, 40, 60, 70] and len(log.kl) == 5
    assert not log.stopped_early


def test_budget_is_checked_and_early_stop_spends_less():
    with pytest.raises(ValueError, match="multiple of num_envs"):
        small(env_steps=642)
    with pytest.raises(ValueError, match="no states"):
        small(env_steps=0, teacher_states=0)
    teacher = genomes.mlp(4, 2, hidden=[8], seed=2)
    # a patience of 1 with a 50% improvement threshold stops at the second probe
    cfg = small(grad_steps=2000, env_steps=2048, min_improvement=0.5, patience=1)
    _, log = distill(genomes.minimal(4, 2), teacher, "CartPole-v1", config=cfg, seed=0)
    assert log.stopped_early
    assert log.grad_steps < 2000 and log.env_steps < 2048
    assert log.checks[-1] == log.grad_steps


def test_numpy_step_gives_the_weights_autograd_gives(cartpole_teacher):
    student = genomes.mlp(4, 2, hidden=[6, 5], seed=3)
    student.add_edge("input", "policy")  # a zero-weight skip: a node with two sources
    out = {}
    for backend in ("numpy", "torch"):
        trained, log = distill(
            student, cartpole_teacher, "CartPole-v1", config=small(backend=backend), seed=4
        )
        assert log.backend == backend
        out[backend] = (trained, log)
    (a, la), (b, lb) = out["numpy"], out["torch"]
    for u, v in a.graph.edges:
        np.testing.assert_allclose(
            a.graph.edges[u, v]["weight"], b.graph.edges[u, v]["weight"], atol=1e-5
        )
    for n in a.graph.nodes:
        if n != a.input_node:
            np.testing.assert_allclose(
                a.graph.nodes[n]["bias"], b.graph.nodes[n]["bias"], atol=1e-5
            )
    np.testing.assert_allclose(la.kl, lb.kl, rtol=1e-4, atol=1e-7)
    assert la.kl[-1] < 0.5 * la.kl[0]  # and it learns


def test_auto_backend_falls_back_to_autograd_where_numpy_cannot_run():
    teacher = genomes.mlp(4, 2, hidden=[4], seed=0)
    gelu = genomes.mlp(4, 2, hidden=[4], activation="gelu", seed=1)
    _, log = distill(gelu, teacher, "CartPole-v1", config=small(grad_steps=5), seed=0)
    assert log.backend == "torch"
    with pytest.raises(ValueError, match="gelu"):
        distill(gelu, teacher, "CartPole-v1", config=small(backend="numpy"), seed=0)


def test_teacher_state_cache_is_reused_and_invalidated_by_a_new_teacher(tmp_path):
    t1 = genomes.mlp(4, 2, hidden=[4], seed=0)
    a = teacher_states(t1, "CartPole-v1", 96, seed=0, num_envs=4, cache_dir=tmp_path)
    (path,) = tmp_path.glob("teacher-states-*.npz")
    mtime = path.stat().st_mtime_ns
    states_mod._MEMORY.clear()  # a new process: read from the file, not collected again
    b = teacher_states(t1, "CartPole-v1", 96, seed=0, num_envs=4, cache_dir=tmp_path)
    assert path.stat().st_mtime_ns == mtime
    assert np.array_equal(a.obs, b.obs) and np.array_equal(a.policy, b.policy)
    # another teacher (same architecture, other weights) gets its own states
    t2 = genomes.mlp(4, 2, hidden=[4], seed=1)
    c = teacher_states(t2, "CartPole-v1", 96, seed=0, num_envs=4, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("teacher-states-*.npz"))) == 2
    assert c.key != a.key and not np.array_equal(c.policy, a.policy)
    # a file whose content does not match its name is collected again, not trusted
    states_mod._MEMORY.clear()
    TeacherStates(c.obs, c.policy, c.value, c.key).save(path)
    d = teacher_states(t1, "CartPole-v1", 96, seed=0, num_envs=4, cache_dir=tmp_path)
    assert d.key == a.key and np.array_equal(d.policy, a.policy)
    assert states_key(t1, "CartPole-v1", 96, 0, 4) == a.key


def test_a_malformed_states_file_is_refused_without_running_code(tmp_path):
    bad = tmp_path / "x.npz"
    np.savez(bad, obs=np.array([object()], dtype=object))  # needs pickle to load
    with pytest.raises(ValueError, match="not a teacher-states file"):
        TeacherStates.load(bad)
    os.unlink(bad)
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a teacher-states file"):
        TeacherStates.load(bad)


def test_scaled_value_error_lets_a_shared_trunk_match_the_policy(cartpole_teacher):
    """A critic spread over hundreds of return points (as on LunarLander) swamps the
    policy KL in a shared trunk unless its error is counted in units of that spread."""
    from growagent.distill.states import collect_teacher_states

    st = collect_teacher_states(cartpole_teacher, "CartPole-v1", 1152, seed=0, num_envs=4)
    # A teacher value with a wide spread that a small trunk cannot fit exactly.
    wide = 100.0 * np.sin(3.0 * st.obs[:, 2] / st.obs[:, 2].std()) + 50.0 * st.obs[:, 1]
    st = TeacherStates(st.obs, st.policy, wide.astype(np.float32))
    kl, mse = {}, {}
    for shared in (True, False):
        student = genomes.mlp(4, 2, hidden=[8], activation="relu", shared=shared, seed=0)
        for scale in (False, True):
            cfg = small(scale_value=scale, env_steps=0, teacher_states=1024, grad_steps=600)
            _, log = distill(student, cartpole_teacher, "CartPole-v1", config=cfg, states=st)
            kl[shared, scale] = log.kl[-1]
            mse[shared, scale] = (log.value_mse[0], log.value_mse[-1])
    assert kl[True, True] < 0.5 * kl[True, False]  # the shared trunk now serves the policy
    first, last = mse[False, True]
    assert last < 0.95 * first  # a critic of its own still learns with the scaled error

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces

import genomes
from growagent.assess import Assessment, TaskConfig, assess, assess_bytes, make_payload
from growagent.distill import DistillConfig
from growagent.rl import PPOConfig


class NaNObsEnv(gymnasium.Env):
    observation_space = spaces.Box(-1.0, 1.0, (3,))
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(3, dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        obs = np.full(3, np.nan if self.t > 3 else 0.0, dtype=np.float32)
        return obs, 1.0, False, self.t >= 20, {}


class RaisingEnv(NaNObsEnv):
    def step(self, action):
        raise RuntimeError("simulator exploded")


def _task(env, **kw):
    return TaskConfig(
        env=env,
        distill=None,
        finetune_steps=256,
        ppo=PPOConfig(num_envs=2, num_steps=64),
        eval_episodes=2,
        **kw,
    )


@pytest.mark.parametrize(
    ("env", "reason"), [(NaNObsEnv, "Non-finite observation"), (RaisingEnv, "simulator exploded")]
)
def test_bad_env_gives_failed_assessment_not_exception(env, reason):
    result = assess(genomes.minimal(3, 2), _task(env), seed=0)
    assert result.status == "failed"
    assert reason in result.error
    assert result.genome is None
    # it also survives evaluation-only tasks
    result = assess(genomes.minimal(3, 2), _task(env, num_envs=1), seed=0)
    assert result.status == "failed"


def test_invalid_genome_and_mismatched_env_fail_cleanly():
    g = genomes.minimal(4, 2)
    g.graph.nodes["policy"]["bias"] = np.array([np.nan, 0.0])
    assert "NonFiniteError" in assess(g, _task("CartPole-v1"), seed=0).error
    assert "input has 3 units" in assess(genomes.minimal(3, 2), _task("CartPole-v1"), seed=0).error


def test_ok_assessment_round_trips_through_json_and_bytes():
    teacher = genomes.mlp(4, 2, hidden=[8], seed=5)
    teacher.meta["obs_norm"] = {
        "mean": [0.0] * 4,
        "var": [1.0] * 4,
        "count": 10.0,
        "clip": 10.0,
        "epsilon": 1e-8,
    }
    task = TaskConfig(
        env="CartPole-v1",
        distill=DistillConfig(
            env_steps=512,
            teacher_states=512,
            probe_states=128,
            grad_steps=100,
            num_envs=4,
            rollout_steps=32,
        ),
        finetune_steps=256,
        ppo=PPOConfig(num_envs=4, num_steps=32),
        eval_episodes=3,
    )
    genome = genomes.mlp(4, 2, hidden=[4])
    direct = assess(genome, task, seed=1, teacher=teacher)
    assert direct.status == "ok", direct.error
    assert set(direct.objectives) == {"return", "params", "macs"}
    assert direct.objectives["params"] == genome.num_params("policy")
    assert direct.genome.meta["obs_norm"] is not None
    assert direct.info["distill_env_steps"] == 512
    assert direct.info["distill_grad_steps"] == 100
    again = Assessment.from_json(direct.to_json())
    assert again.objectives == direct.objectives
    assert genomes.dumps(again.genome) == genomes.dumps(direct.genome)
    via_bytes = Assessment.from_json(
        assess_bytes(make_payload(genome, task, seed=1, teacher=teacher))
    )
    assert via_bytes.objectives == direct.objectives  # deterministic for a seed
    assert genomes.dumps(via_bytes.genome) == genomes.dumps(direct.genome)


def test_malformed_payload_fails_cleanly():
    out = Assessment.from_json(assess_bytes(b"not json"))
    assert out.status == "failed" and out.error.startswith("Bad payload")

"""growagent.distill.teacher: training a teacher."""

from growagent.distill import train_teacher


def test_train_teacher_docstring_example():
    # train_teacher's docstring example, skipped as a doctest because it trains
    t = train_teacher("CartPole-v1", total_steps=1024, hidden=(8,))
    assert t.meta["tags"]["role"] == "teacher"
    assert t.meta["obs_norm"] is not None  # CartPole's zoo preset normalises observations

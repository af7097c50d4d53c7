"""The Python API of runs: growagent.run and resume, executors in a real search
(the config itself: test_config.py)."""

import numpy as np
import pytest

import genomes
import growagent
from growagent.archive import Archive
from growagent.mapping import ConfigError


def _tiny(teacher_file, **executor):
    return {
        "name": "api",
        "env": "CartPole-v1",
        "seed": 3,
        "heldout_episodes": 5,
        "teacher": {"path": str(teacher_file)},
        "evolution": {"generations": 1, "mu": 2, "offspring": 2, "seeds": ["minimal", "mlp:4"]},
        "assess": {
            "eval_episodes": 4,
            "distill": {
                "env_steps": 512,
                "teacher_states": 1024,
                "probe_states": 256,
                "grad_steps": 300,
            },
        },
        "executor": executor,
    }


@pytest.mark.slow
def test_run_from_python_returns_pareto_and_champion(tmp_path, teacher_file):
    result = growagent.run(_tiny(teacher_file, kind="serial"), out=tmp_path / "r", quiet=True)
    assert result.run_dir == tmp_path / "r"
    assert result.champion.id in {e.id for e in result.pareto}
    sizes = [e.size for e in result.pareto]
    assert sizes == sorted(sizes)
    rets = [e.ret for e in result.pareto]
    assert rets == sorted(rets)  # along the front, bigger agents must do better
    assert result.heldout is not None and result.heldout["episodes"] == 5
    # the champion carries its trained weights: unseen episodes agree with the search
    assert result.heldout["mean"] >= 0.5 * result.champion.ret
    with Archive(result.archive, readonly=True) as a:
        assert a.get_meta("status") == "finished"
        assert a.get_meta("champion") == result.champion.id
        stored = a.genome(result.champion.id)
        seed0 = a.genome("seed0")
    # Lamarckian inheritance: the archive holds the trained weights, not the seed's initial ones
    initial = genomes.minimal(4, 2, seed=0)
    assert not np.array_equal(
        seed0.graph.edges["input", "policy"]["weight"],
        initial.graph.edges["input", "policy"]["weight"],
    )
    assert genomes.dumps(stored) == genomes.dumps(result.champion.genome)


@pytest.mark.slow
def test_a_generation_runs_on_a_local_ray_instance(tmp_path, teacher_file):
    ray = pytest.importorskip("ray")
    try:
        result = growagent.run(
            _tiny(teacher_file, kind="ray", workers=2, timeout=300.0),
            out=tmp_path / "ray",
            quiet=True,
        )
    finally:
        ray.shutdown()
    with Archive(result.archive, readonly=True) as a:
        rows = list(a.assessments())
        gens = a.generations()
    assert len(gens) == 2
    searched = [r for r in rows if not r["genome_id"].endswith(".polished")]
    assert len(searched) == 4 and all(r["status"] == "ok" for r in rows)
    assert max(r["return_mean"] for r in rows) > 100


def _polished_run(teacher_file, out, **polish):
    cfg = dict(_tiny(teacher_file, kind="serial"), polish=polish)
    return growagent.run(cfg, out=out, quiet=True)


@pytest.mark.slow
def test_the_front_is_polished_and_judged_on_episodes_no_selection_saw(tmp_path, teacher_file):
    result = _polished_run(teacher_file, tmp_path / "r", factor=3, episodes=6, seed=777_000)
    with Archive(result.archive, readonly=True) as a:
        searched = a.get_meta("search_front")["ids"]
        polished = a.get_meta("polished")
        assert sorted(polished) == sorted(g + ".polished" for g in searched)
        last = a.last_generation()["generation"]
        for gid in polished:
            parent = gid.removesuffix(".polished")
            g, p = a.genome(gid), a.genome(parent)
            assert g.meta["lineage"]["parents"] == [parent]
            assert g.meta["lineage"]["operator"] == "polish"
            assert g.structural_hash() == p.structural_hash()  # same architecture,
            assert genomes.dumps(g) != genomes.dumps(p)  # trained further
            assert a.assessment(gid)["generation"] == last + 1
            rows = a.evaluations(gid)
            # its return is measured on the polish episodes only, not on the search's
            assert [
                (r["kind"], r["seed"], r["episodes"]) for r in rows if r["kind"] != "heldout"
            ] == [("search", 777_000, 6)]
            assert a.score(gid).ret == pytest.approx(rows[0]["return_mean"])
    # the run's answer is made of polished agents only, non-dominated among themselves
    assert result.pareto and all(e.id in polished for e in result.pareto)
    assert result.champion.id in polished


@pytest.mark.slow
def test_a_run_stopped_while_polishing_resumes_to_the_same_answer(tmp_path, teacher_file):
    import sqlite3

    result = _polished_run(teacher_file, tmp_path / "r", factor=2, episodes=4)
    run = result.run_dir
    before = (run / "pareto.json").read_text()
    gid = result.champion.id
    stored = genomes.dumps(result.champion.genome)
    db = sqlite3.connect(run / "archive.sqlite")  # as if killed before this agent was polished
    with db:
        db.execute("DELETE FROM evaluations WHERE genome_id = ?", (gid,))
        db.execute("DELETE FROM assessments WHERE genome_id = ?", (gid,))
        db.execute("DELETE FROM genomes WHERE id = ?", (gid,))
        db.execute("DELETE FROM meta WHERE key IN ('polished', 'champion', 'status')")
    db.close()
    (run / "pareto.json").unlink()
    again = growagent.resume(run, quiet=True)
    assert (run / "pareto.json").read_text() == before
    assert again.champion.id == gid and genomes.dumps(again.champion.genome) == stored


@pytest.mark.slow
def test_an_assessment_lost_with_its_worker_is_run_again_on_resume(tmp_path, teacher_file):
    import sqlite3

    cfg = dict(_tiny(teacher_file, kind="serial"), polish={"factor": 0})
    result = growagent.run(cfg, out=tmp_path / "r", quiet=True)
    run = result.run_dir
    with Archive(result.archive, readonly=True) as a:
        before = a.assessment("seed0")
        trained = genomes.dumps(a.genome("seed0"))
    assert before["status"] == "ok"
    # as a run killed while its seeds were judged, one of them lost with its worker
    db = sqlite3.connect(run / "archive.sqlite")
    with db:
        db.execute("DELETE FROM steps")
        db.execute("DELETE FROM generations")
        db.execute(
            "UPDATE assessments SET status = 'failed', error = 'worker died (killed by signal 9)',"
            " return_mean = NULL, return_std = NULL WHERE genome_id = 'seed0'"
        )
        db.execute("DELETE FROM evaluations WHERE genome_id = 'seed0'")
        db.execute("DELETE FROM meta WHERE key = 'status'")
    db.close()
    growagent.resume(run, quiet=True)
    with Archive(result.archive, readonly=True) as a:
        after = a.assessment("seed0")
        assert after["status"] == "ok" and after["return_mean"] == before["return_mean"]
        assert genomes.dumps(a.genome("seed0")) == trained


def test_a_strategy_override_from_python_is_checked_before_anything_is_written(tmp_path):
    with pytest.raises(ConfigError, match="strategy: expected one of evolution"):
        growagent.run({"env": "CartPole-v1"}, strategy="bogus", out=tmp_path / "r", quiet=True)
    assert not (tmp_path / "r").exists()

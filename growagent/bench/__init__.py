"""``growagent bench``: rows (strategies, ablations, baselines, a peer) under one budget.

For each task a teacher is trained once (``OUT/teachers``) and shared by every
row through ``[teacher] path``. Each search row of each seed is a normal run
directory ``OUT/ENV/ROW-sSEED``; a row whose ``row.json`` is there is done
and is not run again, a started one is resumed. The baselines train for the
wall time the default row took on the same seed. The task's section of the
doc (table, command, plots) is then rewritten from the rows' records.

Figures per row and seed: best held-out return of the front (100 unseen
episodes), policy parameters of the smallest agent within 5% of the
teacher's held-out return, hypervolume of the held-out front, wall time,
assessments and environment steps (see :mod:`growagent.bench.doc`).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

import genomes
from growagent.bench import baselines, rows
from growagent.bench.doc import TaskInfo, plots, section, write_section
from growagent.bench.record import RECORD, RowResult
from growagent.bench.rows import DEFAULT_ROW, NEEDS_DEFAULT, NOT_IMPLEMENTED, ROWS, Judgement
from growagent.bench.search import run_search_row

__all__ = ["ROWS", "BenchSpec", "bench"]


@dataclass
class BenchSpec:
    """What ``growagent bench`` compares, and where it writes."""

    envs: list[str]
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    budget: int = 36
    """Assessments per search row."""
    wall: float = 1800.0
    """Wall-time cap of each search row, in seconds."""
    rows: list[str] = field(default_factory=lambda: list(ROWS))
    out: Path = Path("runs/.bench")
    doc: Path = Path("docs/benchmarks.md")
    teacher_steps: int = 100_000
    judgement: Judgement = field(default_factory=Judgement)

    def __post_init__(self) -> None:
        unknown = [r for r in self.rows if r not in ROWS]
        if unknown:
            raise ValueError(f"rows: expected names among {', '.join(ROWS)} (got {unknown})")
        if self.budget < 2:
            raise ValueError(f"budget: expected at least 2 assessments (got {self.budget})")
        if self.wall <= 0:
            raise ValueError(f"wall: expected a positive number of seconds (got {self.wall})")
        if not self.envs or not self.seeds:
            raise ValueError("expected at least one env and one seed")

    def order(self) -> list[str]:
        """The rows in running order: the default first when another row needs it."""
        wanted = list(dict.fromkeys(self.rows))
        if any(r in NEEDS_DEFAULT for r in wanted) and DEFAULT_ROW not in wanted:
            wanted.insert(0, DEFAULT_ROW)
        return sorted(wanted, key=lambda r: (r != DEFAULT_ROW, ROWS.index(r)))

    def command(self, env: str) -> str:
        """The command line that reproduces ``env``'s section."""
        j = self.judgement
        parts = ["growagent", "bench", "--env", env, "--seeds", *map(str, self.seeds)]
        parts += ["--budget", str(self.budget), "--wall", f"{self.wall:g}"]
        parts += ["--rows", *self.rows, "--out", str(self.out), "--doc", str(self.doc)]
        parts += ["--teacher-steps", str(self.teacher_steps)]
        if j.distill_grad_steps is not None:
            parts += ["--distill-grad-steps", str(j.distill_grad_steps)]
        if j.distill_env_steps is not None:
            parts += ["--distill-env-steps", str(j.distill_env_steps)]
        parts += ["--executor", j.executor, "--workers", str(j.workers)]
        return shlex.join(parts)


def bench(spec: BenchSpec, say: Callable[[str], None] = print) -> dict[str, list[RowResult]]:
    """Run every row of every task and seed (skipping finished ones), rewrite the doc's
    sections; returns the records per task."""
    out: dict[str, list[RowResult]] = {}
    for env in spec.envs:
        task, teacher = _teacher(env, spec, say)
        results: list[RowResult] = []
        for seed in spec.seeds:
            done: dict[str, RowResult] = {}
            for row in spec.order():
                result = _row(env, row, seed, spec, teacher, done, say)
                done[row] = result
                results.append(result)
                say(f"bench {env} seed {seed} {row}: {result.note or result.status}")
        shown = spec.order()
        pngs = plots(task, shown, results, spec.doc.parent)
        body = section(task, shown, results, spec.seeds, pngs, spec.doc.parent)
        write_section(spec.doc, env, body)
        say(body)
        out[env] = results
    return out


def _teacher(env: str, spec: BenchSpec, say: Callable[[str], None]) -> tuple[TaskInfo, str]:
    """The task's teacher (trained once, cached) and its held-out figures."""
    from growagent.distill import get_teacher
    from growagent.rl.evaluate import evaluate_random
    from growagent.rl.ppo import zoo_config

    where = spec.out / "teachers"
    path = where / f"{env}.json"
    facts = where / f"{env}.heldout.json"
    if not path.exists():
        say(f"bench {env}: training the teacher ({spec.teacher_steps} steps)")
        teacher = get_teacher(
            env, cache_dir=where, total_steps=spec.teacher_steps, config=zoo_config(env)
        )
        genomes.save(teacher, path)
    if not facts.exists():
        teacher = genomes.load(path)
        rand = evaluate_random(
            env, episodes=baselines.HELDOUT_EPISODES, seed=baselines.HELDOUT_SEED
        )
        data = {
            "heldout": baselines.heldout(teacher, env),
            "params": teacher.num_params("policy"),
            "random": rand.mean,
        }
        facts.write_text(json.dumps(data), encoding="utf-8")
    data = json.loads(facts.read_text(encoding="utf-8"))
    info = TaskInfo(env, data["heldout"], data["params"], data["random"], spec.command(env))
    return info, str(path)


def _row(
    env: str,
    row: str,
    seed: int,
    spec: BenchSpec,
    teacher: str,
    done: dict[str, RowResult],
    say: Callable[[str], None],
) -> RowResult:
    """One row of one seed: its record if it finished before, else run it now."""
    directory = spec.out / env / f"{row}-s{seed}"
    if (directory / RECORD).exists():
        return RowResult.load(directory / RECORD)
    if row in NOT_IMPLEMENTED:
        return RowResult(env, row, seed, status="not implemented", note=NOT_IMPLEMENTED[row])
    default = done.get(DEFAULT_ROW)
    if row in NEEDS_DEFAULT and (default is None or default.status != "ok"):
        return RowResult(env, row, seed, status="failed", note="the default row did not finish")
    say(f"bench {env} seed {seed} {row}: running in {directory}")
    threads = torch.get_num_threads()
    try:
        result = _run(env, row, seed, spec, teacher, directory, default)
    except Exception as exc:  # one broken row must not lose the others
        first = (str(exc).strip().splitlines() or [""])[0]
        return RowResult(env, row, seed, status="failed", note=f"{type(exc).__name__}: {first}")
    finally:
        torch.set_num_threads(threads)
    if result.status == "ok":  # anything else is tried again next time
        result.save(directory)
    return result


def _run(
    env: str,
    row: str,
    seed: int,
    spec: BenchSpec,
    teacher: str,
    directory: Path,
    default: RowResult | None,
) -> RowResult:
    """Run the row (``default`` is the default row's record of this seed, when needed)."""
    if rows.is_search(row):
        finetune, note = 0, ""
        if row == "no-distill":
            assert default is not None
            per = _mean_assessment_seconds(spec.out / env / f"{DEFAULT_ROW}-s{seed}")
            rate = baselines.ppo_rate(env, seed)
            finetune = baselines.finetune_steps_for(per, rate)
            note = f"PPO fitness, finetune_steps={finetune} (~{per:.1f} s per assessment)"
        config = rows.search_config(
            row, env, seed, spec.budget, teacher, spec.judgement, finetune_steps=finetune
        )
        result = run_search_row(env, row, seed, config, directory, spec.wall)
        result.note = "; ".join(n for n in (note, result.note) if n)
        return result
    assert default is not None and row in NEEDS_DEFAULT
    if row == "sb3-ppo":
        return baselines.sb3_ppo(env, seed, default.wall)
    if row == "ppo-small":
        champion = genomes.load(spec.out / env / f"{DEFAULT_ROW}-s{seed}" / "champion.json")
        return baselines.ppo_small(env, seed, default.wall, champion)
    return baselines.agilerl(env, seed, default.wall, directory)


def _mean_assessment_seconds(run_dir: Path) -> float:
    """Mean wall time of one assessment of a run."""
    from growagent.archive import Archive

    with Archive(run_dir / "archive.sqlite", readonly=True) as a:
        times = [float(r["wall_time"]) for r in a.assessments() if r["wall_time"] is not None]
    return sum(times) / max(1, len(times))

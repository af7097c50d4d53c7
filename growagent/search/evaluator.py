"""The evaluator every strategy uses: teacher, payloads, executor, archive.

:class:`Evaluator` owns what a judgement needs and a strategy must not know:
the teacher (trained or loaded once per run), the payloads sent to workers
(:func:`growagent.assess.make_payload`), the executor, and the archive
commit of every result. It takes :class:`~growagent.search.base.Candidate`
genomes and returns :class:`~growagent.search.base.Judgement` s, with the
fitness taken from the returned assessment.
"""

from __future__ import annotations

import dataclasses
import json
import math
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import genomes
import operators
from genomes import Genome
from growagent.archive import Archive, Score, block, pool
from growagent.assess import Assessment, TaskConfig, make_payload
from growagent.config import RunConfig
from growagent.executors import Executor
from growagent.predictor.features import POLISHED, ArchiveView, Sample, Scale
from growagent.predictor.screen import Prediction
from growagent.rl.envs import EnvRef
from growagent.search.base import Candidate, Context, Judgement, nondominated

TASK_FN = "growagent.assess:assess_bytes"
"""The executor task: JSON payload in, :class:`Assessment` JSON out."""
EVAL_FN = "growagent.assess:evaluate_bytes"
"""The executor task that only evaluates (re-evaluations and the held-out front)."""


def assessment_seed(run_seed: int, genome_id: str) -> int:
    """The training seed of one genome: fixed by the run seed and the genome's id."""
    return (run_seed * 1_000_003 + zlib.crc32(genome_id.encode())) % (2**31)


LOST = ("worker died", "timed out")
"""How the executors' own failures begin: the worker was lost, not the genome judged."""


def lost(row: dict[str, Any]) -> bool:
    """Whether an archived assessment failed because its worker was lost (it is run
    again, on resume, rather than reused)."""
    return row["status"] == "failed" and str(row["error"] or "").startswith(LOST)


def limits_of(cfg: RunConfig) -> operators.Limits:
    s = cfg.search
    return operators.Limits(
        max_params=s.max_params, max_hidden_nodes=s.max_hidden_nodes, max_units=s.max_units
    )


class Evaluator:
    """Judges candidates for a strategy and records everything in the run's archive.

    Parameters
    ----------
    cfg : RunConfig
    run_dir : Path
    say : callable
        Where one-line messages go (the console reporter, or nowhere).
    """

    def __init__(self, cfg: RunConfig, run_dir: Path, say: Callable[[str], None] = print):
        self.cfg = cfg
        self.run_dir = run_dir
        self.say = say
        self.archive = Archive(run_dir / "archive.sqlite")
        self.archive_view = ArchiveView(self.archive)
        """The archive as the predictor reads it (genomes loaded once)."""
        self._warm: list[tuple[list[Sample], Scale]] | None = None
        self.task: TaskConfig = cfg.assess
        self.env = EnvRef(cfg.env, cfg.env_kwargs)
        """The run's env with its kwargs, as every process builds it."""
        self.executor: Executor | None = None
        self.teacher: Genome | None = None
        self.teacher_dict: dict[str, Any] | None = None
        self.on_judgement: Callable[[Judgement], None] = lambda j: None
        """Called once per finished candidate (progress reporters)."""

    def start(self, executor: Executor) -> None:
        """Take the executor, check its workers can run the env, get the teacher ready."""
        self.executor = executor
        self.check_workers()
        self.get_teacher()

    def check_workers(self) -> None:
        """Play one episode of the env with a linear policy on a worker, before the
        teacher is trained: a worker that cannot import the launching script or make
        the env fails here in one line, not after minutes of teacher training.

        Raises
        ------
        WorkerStartError
            A worker died while starting (an unguarded launching script).
        RuntimeError
            A worker cannot make or step the env (the worker's error, one line).
        """
        from growagent.executors import START_SECONDS, SerialExecutor

        if self.executor is None or isinstance(self.executor, SerialExecutor):
            return  # the serial executor runs here: the env was made already
        obs, act = self.context().spaces
        payload = self.eval_payload(genomes.minimal(obs, act), 1, self.task.eval_seed)
        limit = max(START_SECONDS, self.cfg.executor.timeout)  # a check, not a judged task
        for result in self.executor.run(EVAL_FN, [payload], timeout=limit):
            res = json.loads(result.output) if result.output is not None else None
            if res is not None and res["status"] == "ok":
                return
            error = str(result.error if res is None else res["error"]).strip()
            last = error.splitlines()[-1] if error else "no output"
            hint = ""
            if "NameNotFound" in error or "not found in gymnasium registry" in error:
                hint = (
                    " (an env registered by gym.register in the launching script is not seen"
                    " by worker processes: register it in a module and set env = 'module:EnvId';"
                    " see docs/environments.md)"
                )
            raise RuntimeError(f"worker processes cannot run {self.cfg.env}: {last}{hint}")

    def close(self) -> None:
        if self.executor is not None:
            self.executor.close()
            self.executor = None

    def context(self) -> Context:
        """What strategies may know of this run."""
        from growagent.rl.envs import genome_spaces

        s = self.cfg.search
        return Context(
            env=self.cfg.env,
            spaces=genome_spaces(self.env),
            seed=self.cfg.seed,
            limits=limits_of(self.cfg),
            activation=s.activation,
            size_objective=s.size_objective,
            load=self.archive.genome,
            predict=self.predict if self.cfg.predictor.enabled else (lambda gs, gen: None),
            growth_loss=self.growth_loss if self.task.distill is not None else None,
        )

    def size_of(self, g: Genome) -> int:
        if self.cfg.search.size_objective == "macs":
            return g.macs("policy")
        return g.num_params("policy")

    # --------------------------------------------------------------- teacher
    def get_teacher(self) -> Genome:
        """The run's teacher (cached as ``teacher.json``), checked against its floor.

        Raises
        ------
        TeacherError
            When the teacher is no better than a random policy (or below
            ``teacher.min_return``); a resumed run raises it again.
        """
        from growagent.distill.teacher import TeacherError, check_teacher, get_teacher, load_teacher

        cfg = self.cfg
        cached = self.run_dir / "teacher.json"
        if cached.exists():
            teacher = genomes.load(cached)
        elif cfg.teacher.path:
            teacher = load_teacher(cfg.teacher.path, vecnormalize=cfg.teacher.vecnormalize or None)
        else:
            self.say(f"training the teacher: PPO {cfg.teacher.steps} steps on {cfg.env}")
            teacher = get_teacher(
                self.env,
                cache_dir=self.run_dir / "cache",
                total_steps=cfg.teacher.steps,
                seed=cfg.seed,
                hidden=tuple(cfg.teacher.hidden),
                config=cfg.teacher.ppo_config(cfg.env),
            )
        teacher.meta["lineage"] = {
            "id": "teacher",
            "parents": [],
            "operator": "teacher",
            "params": {},
        }
        teacher.meta["tags"]["env"] = cfg.env
        if cfg.env_kwargs:
            teacher.meta["tags"]["env_kwargs"] = dict(cfg.env_kwargs)
        genomes.save(teacher, cached)
        self.archive.add_genome(teacher, generation=None)
        check = self.archive.get_meta("teacher_check")
        if check is None:
            from growagent.rl.evaluate import evaluate

            ev = evaluate(
                teacher, self.env, episodes=self.task.eval_episodes, seed=self.task.eval_seed
            )
            self.archive.set_meta("teacher_return", ev.mean)
            try:
                check = check_teacher(
                    ev.returns,
                    self.env,
                    seed=self.task.eval_seed,
                    min_return=cfg.teacher.min_return,
                )
            except TeacherError as exc:
                check = {"error": str(exc)}
            self.archive.set_meta("teacher_check", check)
            if "error" not in check:
                self.say(
                    f"teacher: return {ev.mean:.1f}, {teacher.num_params('policy')} policy "
                    f"parameters (floor {check['floor']:.1f})"
                )
        if "error" in check:
            raise TeacherError(check["error"])
        self.teacher = teacher
        self.teacher_dict = genomes.to_dict(teacher)
        self._teacher_states()
        return teacher

    @property
    def cache_dir(self) -> Path:
        """Where the run keeps what its workers share (the teacher states)."""
        return (self.run_dir / "cache").resolve()

    def _teacher_states(self) -> Any:
        """The teacher's states, collected once before any worker needs them."""
        d = self.task.distill
        if d is None or self.teacher is None:
            return None
        from growagent.distill.states import teacher_states

        return teacher_states(
            self.teacher,
            self.env,
            d.teacher_states + d.probe_states,
            seed=d.teacher_seed,
            num_envs=d.num_envs,
            cache_dir=self.cache_dir,
        )

    def growth_loss(self, n: int) -> Callable[[Any], Any]:
        """The distillation loss to the teacher on its newest ``n`` states, as
        ``loss(module) -> scalar tensor`` (what firefly growth lowers)."""
        import torch

        from growagent.distill.a2d import distill_loss, value_weight

        states = self._teacher_states()
        d = self.task.distill
        assert states is not None and d is not None and self.teacher is not None
        x = torch.as_tensor(states.obs[-n:], dtype=torch.float32)
        t_out = torch.as_tensor(states.policy[-n:], dtype=torch.float32)
        t_val = torch.as_tensor(states.value[-n:], dtype=torch.float32)
        t_log_std: torch.Tensor | None = self.teacher.compile().log_std
        continuous = self.teacher.action_space.get("type") == "box"
        if t_log_std is not None:
            t_log_std = t_log_std.detach()
        w = value_weight(d, states.value)

        def loss(module: Any) -> Any:
            return distill_loss(module, continuous, d, x, t_out, t_log_std, t_val, w)[0]

        return loss

    # ----------------------------------------------------------------- judge
    def judge(self, candidates: Sequence[Candidate]) -> list[Judgement]:
        """Judge candidates (assessments first, then re-evaluations), in their order.

        A candidate already judged before an interruption gets the archived
        result; nothing is assessed twice.
        """
        out: dict[int, Judgement] = {}
        fresh = [(i, c) for i, c in enumerate(candidates) if not c.reevaluate]
        again = [(i, c) for i, c in enumerate(candidates) if c.reevaluate]
        out.update(self._assess(fresh))
        out.update(self._reevaluate(again))
        return [out[i] for i in range(len(candidates))]

    def _judgement(self, gid: str, genome: Genome, score: Score | None, **extra: Any) -> Judgement:
        if score is None:
            return Judgement(gid, False, genome, **extra)
        return Judgement(
            gid,
            True,
            genome,
            ret=score.ret,
            se=score.se,
            size=score.size(self.cfg.search.size_objective),
            blocks=score.blocks,
            predicted=score.predicted,
            **extra,
        )

    def _assess(
        self, todo: list[tuple[int, Candidate]], task: TaskConfig | None = None
    ) -> dict[int, Judgement]:
        task = task or self.task
        out: dict[int, Judgement] = {}
        run: list[tuple[int, Candidate]] = []
        for i, c in todo:
            row = self.archive.assessment(c.id)
            if row is None or lost(row):
                run.append((i, c))
            else:  # finished before an interruption: reuse it
                score = self.archive.score(c.id)
                genome = self.archive.genome(c.id)
                out[i] = self._judgement(c.id, genome, score, error=row["error"])
                self.on_judgement(out[i])
        if not run:
            return out
        assert self.executor is not None
        payloads = [
            make_payload(
                c.genome,
                task,
                seed=assessment_seed(self.cfg.seed, c.id),
                teacher=self.teacher,
                cache_dir=self.cache_dir,
            )
            for _, c in run
        ]
        for result in self.executor.run(TASK_FN, payloads):
            i, c = run[result.index]
            if result.output is not None:
                a = Assessment.from_json(result.output.decode())
            else:
                a = Assessment("failed", error=str(result.error))
            out[i] = self._commit(c, a, result.attempts, task.eval_seed)
            self.on_judgement(out[i])
        return out

    def _commit(self, c: Candidate, a: Assessment, attempts: int, eval_seed: int) -> Judgement:
        """Record one assessment (genome, row, search episodes); its judgement."""
        trained = a.genome if a.status == "ok" and a.genome is not None else c.genome
        trained.meta["lineage"] = c.genome.meta["lineage"]
        if self.cfg.env_kwargs:  # `growagent eval` rebuilds the env with them
            trained.meta["tags"]["env_kwargs"] = dict(self.cfg.env_kwargs)
        self.archive.add_genome(trained, generation=c.generation, replace=True)
        row: dict[str, Any] = {
            "status": a.status,
            "error": a.error,
            "return_mean": a.objectives.get("return"),
            "return_std": None if math.isnan(a.eval_std) else a.eval_std,
            "policy_params": trained.num_params("policy"),
            "policy_macs": trained.macs("policy"),
            "attempts": attempts,
            "wall_time": a.wall_time,
            "predicted": c.predicted,
        }
        seed = assessment_seed(self.cfg.seed, c.id)
        self.archive.add_assessment(c.id, c.generation, seed, row)
        ok = a.status == "ok" and row["return_mean"] is not None
        if not ok:
            return Judgement(
                c.id, False, trained, predicted=c.predicted, error=a.error, info=a.info
            )
        blocks = []
        if "eval_returns" in a.info:
            returns = a.info["eval_returns"]
            self.archive.add_evaluation(c.id, "search", eval_seed, returns, c.generation)
            blocks.append(block(returns))
        pooled = pool(blocks)
        ret, se = (float(row["return_mean"]), float("nan")) if pooled is None else pooled[:2]
        return Judgement(
            c.id,
            True,
            trained,
            ret=ret,
            se=se,
            size=self.size_of(trained),
            blocks=len(blocks),
            predicted=c.predicted,
            info=a.info,
        )

    # ----------------------------------------------------------- re-evaluate
    def block_seed(self, block_index: int) -> int:
        """First episode seed of evaluation block ``block_index`` (0 is the search's own)."""
        return self.task.eval_seed + block_index * self.task.eval_episodes

    def _reevaluate(self, todo: list[tuple[int, Candidate]]) -> dict[int, Judgement]:
        """Block ``c.block`` of the common episode sequence for each candidate (reused if done).

        A child that scored high on the search's episodes by luck scores
        lower on new ones, and its pooled return falls before selection keeps
        it (the winner's curse). A failed evaluation keeps the old estimate.
        """
        out: dict[int, Judgement] = {}
        run: list[tuple[int, Candidate, int, list[dict[str, Any]]]] = []
        for i, c in todo:
            rows = self.archive.evaluations(c.id, ("search", "reeval"))
            score = self.archive.score(c.id)
            if score is None:
                out[i] = self._judgement(c.id, c.genome, None)
                continue
            seed = self.block_seed(c.block)
            if any(r["kind"] == "reeval" and r["seed"] == seed for r in rows):
                out[i] = self._judgement(c.id, c.genome, score)
            else:
                run.append((i, c, seed, rows))
                out[i] = self._judgement(c.id, c.genome, score)
        if not run:
            return out
        assert self.executor is not None
        payloads = [self.eval_payload(c.genome, self.task.eval_episodes, s) for _, c, s, _ in run]
        for result in self.executor.run(EVAL_FN, payloads):
            i, c, seed, rows = run[result.index]
            res = json.loads(result.output) if result.output is not None else None
            if res is None or res["status"] != "ok":
                continue
            self.archive.add_evaluation(c.id, "reeval", seed, res["returns"], c.generation)
            pooled = pool([*rows, block(res["returns"])])
            assert pooled is not None
            j = out[i]
            j.ret, j.se, j.blocks = pooled[0], pooled[1], len(rows) + 1
        return out

    def eval_payload(self, genome: Genome, episodes: int, seed: int) -> bytes:
        return json.dumps(
            {
                "genome": genomes.to_dict(genome),
                "env": self.cfg.env,
                "env_kwargs": self.cfg.env_kwargs,
                "episodes": episodes,
                "seed": seed,
            }
        ).encode()

    # ---------------------------------------------------------------- polish
    def polish(self) -> list[str] | None:
        """Distil the search's front longer and judge it on fresh episodes (see
        :class:`~growagent.config.PolishConfig`); the polished agents' ids.

        None when polishing is off or there is no distillation. The front it
        starts from is recorded (``search_front``, with the search's last step)
        before the first polished agent, so a resumed run polishes the same
        agents; polished agents already in the archive are reused.
        """
        p, d = self.cfg.polish, self.task.distill
        if p.factor < 1 or d is None or self.teacher is None:
            return None
        step = self.archive.last_step()
        key = None if step is None else int(step["step"])
        recorded = self.archive.get_meta("search_front")
        if recorded is not None and recorded["step"] == key:
            front = list(recorded["ids"])
        else:  # a new run, or one extended since it was last polished
            front = [s.genome_id for s in self.front()]
            self.archive.set_meta("search_front", {"step": key, "ids": front})
        task = dataclasses.replace(
            self.task,
            distill=dataclasses.replace(
                d,
                env_steps=d.env_steps * p.factor,
                grad_steps=d.grad_steps * p.factor,
                min_improvement=0.0,
            ),
            eval_episodes=p.episodes,
            eval_seed=p.seed,
        )
        last = self.archive.last_generation()  # recorded one past the search's generations
        generation = 0 if last is None else int(last["generation"]) + 1
        candidates = []
        for gid in front:
            g = self.archive.genome(gid).copy()
            g.meta["lineage"] = {
                "id": gid + POLISHED,
                "parents": [gid],
                "operator": "polish",
                "params": {"factor": p.factor},
            }
            candidates.append(Candidate(g, generation))
        self.say(
            f"polishing the front: {len(candidates)} agents, {p.factor}x the distillation, "
            f"{p.episodes} fresh episodes each"
        )
        judged = self._assess(list(enumerate(candidates)), task)
        ids = [j.id for j in judged.values() if j.ok]
        self.archive.set_meta("polished", sorted(ids))
        return sorted(ids)

    # -------------------------------------------------------------- held out
    def _heldout_rows(self, gid: str) -> list[dict[str, Any]]:
        rows = self.archive.evaluations(gid, ("heldout",))
        return [r for r in rows if r["seed"] == self.cfg.heldout_seed]

    def heldout(self, genome_ids: list[str]) -> dict[str, tuple[float, float]]:
        """Held-out mean and standard error of each genome, on ``heldout_episodes`` unseen episodes.

        Evaluations already in the archive are reused; new ones are committed.
        """
        cfg = self.cfg
        out: dict[str, tuple[float, float]] = {}
        todo = []
        for gid in genome_ids:
            rows = self._heldout_rows(gid)
            if rows and rows[0]["episodes"] == cfg.heldout_episodes:
                p = pool(rows)
                assert p is not None
                out[gid] = (p[0], p[1])
            else:
                todo.append(gid)
        if todo:
            assert self.executor is not None
            payloads = [
                self.eval_payload(self.archive.genome(g), cfg.heldout_episodes, cfg.heldout_seed)
                for g in todo
            ]
            for result in self.executor.run(EVAL_FN, payloads):
                gid = todo[result.index]
                res = json.loads(result.output) if result.output is not None else None
                if res is None or res["status"] != "ok":
                    continue
                self.archive.add_evaluation(gid, "heldout", cfg.heldout_seed, res["returns"])
                pooled = pool([block(res["returns"])])
                assert pooled is not None  # one block
                out[gid] = pooled[:2]
        return out

    # ------------------------------------------------------------ predictor
    def predict(self, candidates: list[Genome], generation: int) -> Prediction | None:
        """Scores from a predictor trained on assessments of generations before ``generation``.

        Only earlier generations are used, so a resumed run trains exactly the
        same predictor. None while there are fewer than ``predictor.min_samples``
        assessments of the run itself.
        """
        from growagent.predictor.fit import fit_predict

        pcfg = self.cfg.predictor
        own = self.archive_view.samples(before=generation)
        if len(own) < pcfg.min_samples or len({s.target for s in own}) < 2:
            return None
        mean, std = fit_predict(
            pcfg.model,
            [(own, self.archive_view.scale(before=generation)), *self.warm_start_data()],
            self.archive_view.candidates(candidates, generation),
            self.archive_view.scale(before=generation),
            seed=self.cfg.seed + generation,
            pcfg=pcfg,
        )
        return Prediction([float(x) for x in mean], [float(x) for x in std])

    def warm_start_data(self) -> list[tuple[list[Sample], Scale]]:
        """Every assessment of the ``predictor.warm_start`` archives, each with its own scale."""
        if self._warm is None:
            self._warm = []
            for path in self.cfg.predictor.warm_start:
                with Archive(path, readonly=True) as other:
                    view = ArchiveView(other)
                    self._warm.append((view.samples(), view.scale()))
        return self._warm

    def baseline_quality(self, generation: int) -> dict[str, float | None]:
        """Out-of-sample Kendall tau of each cheap baseline on ``generation``'s assessed children.

        Each baseline is fitted on earlier generations only (as the predictor
        was) and scored on the children assessed in ``generation``.
        """
        from growagent.predictor.fit import fit_predict
        from growagent.predictor.models import BASELINES
        from growagent.predictor.train import kendall_tau

        pcfg = self.cfg.predictor
        train = self.archive_view.samples(before=generation)
        test = [
            s
            for s in self.archive_view.samples(before=generation + 1)
            if s.generation == generation
        ]
        if len(train) < pcfg.min_samples or len(test) < 3:
            return {}
        scale = self.archive_view.scale(before=generation)
        out: dict[str, float | None] = {}
        for name in BASELINES:
            mean, _ = fit_predict(
                name,
                [(train, scale), *self.warm_start_data()],
                test,
                scale,
                seed=self.cfg.seed + generation,
                pcfg=pcfg,
            )
            tau = kendall_tau(list(mean), [float(s.target or 0.0) for s in test])
            out[name] = None if math.isnan(tau) else round(tau, 4)
        return out

    # ---------------------------------------------------------------- front
    def front(self, generation: int | None = None) -> list[Score]:
        """Non-dominated assessed agents of the archive (up to ``generation``) on pooled returns.

        Built from the archive, so re-evaluations made after a genome entered
        the front count. Sorted by size then return; of agents with equal
        return and size only the first id is kept.
        """
        objective = self.cfg.search.size_objective
        scores = {
            s.genome_id: s
            for s in self.archive.scores(generation)
            if not s.genome_id.endswith(POLISHED)
        }
        ids = nondominated({g: (s.ret, float(s.size(objective))) for g, s in scores.items()})
        return [scores[g] for g in ids]

    def final_front(self) -> list[Score]:
        """The run's answer: the non-dominated polished agents, or :meth:`front` unpolished."""
        polished = self.archive.get_meta("polished")
        if not polished:
            return self.front()
        objective = self.cfg.search.size_objective
        scores = {s.genome_id: s for s in self.archive.scores() if s.genome_id in set(polished)}
        ids = nondominated({g: (s.ret, float(s.size(objective))) for g, s in scores.items()})
        return [scores[g] for g in ids]

"""How well does the search's cheap fitness predict what a genome is worth?

The search deploys the distilled weights (Lamarckian), so the *truth* for a
genome is the held-out return of that same genome after a long distillation,
not PPO from scratch. For each architecture (linear to 64x64, with skip
connections and shared trunks; each built once with initialisation seed 0):

- **truth**: :func:`growagent.distill.distill` with ``--truth-scale`` times
  the default env steps and gradient steps and no early stop, from the same
  shared teacher states, for ``--truth-seeds`` seeds; the held-out return is
  the mean deterministic return on ``--heldout-episodes`` episodes from seed
  ``--heldout-seed`` (disjoint from the search's 32 episodes from 10000);
- **A, the default assessment**: :func:`growagent.assess.assess` with
  ``TaskConfig(env=ENV)`` for ``--proxy-seeds`` seeds (seeds 100, 101, ...);
  its value is the search's return. Its wall and CPU time per child are
  recorded, and the genome it produced is also held out, for the absolute
  accuracy ``|held-out(A) - truth| / |truth|``;
- **B, the KL proxy**: minus the final probe KL of the same runs (free);
- **C, short PPO from scratch**: rl-zoo PPO with observation normalisation,
  for the CPU time A takes on average per child (``--ppo-steps`` fixes the
  env steps instead), evaluated on the search's 32 episodes.

For each proxy: Kendall's tau-b against the truth (``scipy.stats.kendalltau``,
with its p-value) and the spread (std across seeds, averaged over
architectures); for the truth: its own self-consistency (tau of seed 0
against seed 1) and its seed spread.

Jobs run on ``--workers`` processes with one torch and one BLAS thread each; the teacher
states are built once in the parent (``CACHE/states``) before they start.
The env's section is written into ``--out`` between markers
``<!-- fidelity:ENV start -->`` / ``<!-- fidelity:ENV end -->`` (an existing
section for the env is replaced, else it is appended, so text outside the
markers survives), and the raw results into ``--json``.

    python benchmarks/fitness_fidelity.py --env Pendulum-v1 --cache /work/exp/cache
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import multiprocessing as mp
import os
import shlex
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.stats
import torch

import genomes
from genomes import Genome
from growagent.assess import TaskConfig, assess
from growagent.distill import DistillConfig, distill, get_teacher
from growagent.distill.states import teacher_states
from growagent.rl import evaluate, genome_spaces, train_ppo, zoo_config


@dataclass(frozen=True)
class Arch:
    """One architecture of the study: a ``genomes.mlp`` plus zero-weight skip edges."""

    name: str
    hidden: tuple[int, ...]
    activation: str = "tanh"
    shared: bool = False
    skips: tuple[tuple[str, str], ...] = ()

    def build(self, env: str) -> Genome:
        """The genome (initialisation seed 0), each skip a zero-weight edge.

        That is what the search's ``operators.add_skip`` adds; the package is not
        imported because ``benchmarks/operators.py`` shadows it when this runs as a script.
        """
        obs, act = genome_spaces(env)
        g = genomes.mlp(obs, act, self.hidden, self.activation, self.shared, seed=0)
        if self.skips:
            g = g.copy()
            for u, v in self.skips:
                g.add_edge(u, v)  # zero weight
        return g.validate()


ARCHS: list[Arch] = [
    Arch("linear", ()),
    Arch("1 tanh", (1,)),
    Arch("2 tanh", (2,)),
    Arch("2 relu", (2,), "relu"),
    Arch("4 tanh", (4,)),
    Arch("4 sigmoid", (4,), "sigmoid"),
    Arch("2x2 tanh", (2, 2)),
    Arch("8 tanh", (8,)),
    Arch("8 relu shared", (8,), "relu", shared=True),
    Arch("4x4 tanh", (4, 4)),
    Arch("4x4 tanh + skip in>pi", (4, 4), skips=(("input", "policy"),)),
    Arch("16 tanh", (16,)),
    Arch("8x8 relu", (8, 8), "relu"),
    Arch("8x8 tanh + skips in>pi h0>pi", (8, 8), skips=(("input", "policy"), ("h0", "policy"))),
    Arch("32 tanh", (32,)),
    Arch("16x16 tanh", (16, 16)),
    Arch("32x32 tanh shared", (32, 32), shared=True),
    Arch("64x64 tanh", (64, 64)),
]

TEACHER_STEPS = {"LunarLander-v3": 1_000_000, "Pendulum-v1": 200_000}
"""Default teacher PPO budget per env (the keys of the cached teachers)."""

SEARCH_EPISODES = TaskConfig().eval_episodes
SEARCH_SEED = TaskConfig().eval_seed
PROXY_SEED0 = 100
"""Proxy runs use seeds 100, 101, ...; the truth uses 0, 1, ..."""

PROXIES = {
    "search": "A: default assessment (search return)",
    "kl": "B: KL proxy (minus A's final probe KL)",
    "ppo": "C: short PPO from scratch",
    "heldout": "A's genomes held out (diagnostic)",
}


# ----------------------------------------------------------------- workers

_W: dict[str, Any] = {}
"""Per-process state set by :func:`_init_worker`: env, teacher, states directory."""


def _init_worker(env: str, teacher_text: str, states_dir: str) -> None:
    torch.set_num_threads(1)
    _W.update(env=env, teacher=genomes.loads(teacher_text), states_dir=states_dir)
    _W["states"] = _states(_W["teacher"], env, states_dir)  # read the file once, here


def _states(teacher: Genome, env: str, states_dir: str) -> Any:
    cfg = DistillConfig()
    return teacher_states(
        teacher,
        env,
        cfg.teacher_states + cfg.probe_states,
        seed=cfg.teacher_seed,
        num_envs=cfg.num_envs,
        cache_dir=states_dir,
    )


def _heldout(g: Genome, job: dict[str, Any]) -> float:
    ev = evaluate(g, _W["env"], episodes=job["heldout_episodes"], seed=job["heldout_seed"])
    return float(ev.mean)


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run one unit of the study in a worker and return its figures.

    ``job["kind"]`` is ``teacher`` (held-out and search return of the
    teacher), ``truth`` (long distillation), ``proxy`` (the default
    assessment) or ``ppo`` (short PPO from scratch); ``arch`` indexes
    :data:`ARCHS` and ``seed`` is the training seed. A failure is reported
    in ``error``, never raised.
    """
    env, kind, seed = _W["env"], job["kind"], job["seed"]
    out: dict[str, Any] = dict(kind=kind, arch=job["arch"], seed=seed)
    c0, t0 = time.process_time(), time.perf_counter()
    try:
        if kind == "teacher":
            out["heldout"] = _heldout(_W["teacher"], job)
            ev = evaluate(_W["teacher"], env, episodes=SEARCH_EPISODES, seed=SEARCH_SEED)
            out["search"] = float(ev.mean)
        elif kind == "truth":
            base = DistillConfig()
            cfg = dataclasses.replace(
                base,
                env_steps=job["truth_scale"] * base.env_steps,
                grad_steps=job["truth_scale"] * base.grad_steps,
                min_improvement=0.0,
            )
            g = ARCHS[job["arch"]].build(env)
            trained, log = distill(
                g, _W["teacher"], env, config=cfg, seed=seed, states=_W["states"]
            )
            out.update(kl=log.kl[-1], env_steps=log.env_steps, grad_steps=log.grad_steps)
            out["distill_s"] = log.wall_time
            out["truth"] = _heldout(trained, job)
        elif kind == "proxy":
            g = ARCHS[job["arch"]].build(env)
            task = TaskConfig(env=env)
            a = assess(g, task, seed=seed, teacher=_W["teacher"], cache_dir=_W["states_dir"])
            out.update(wall=a.wall_time, cpu=time.process_time() - c0)
            if a.status != "ok" or a.genome is None:
                raise RuntimeError(a.error)
            out.update(search=a.objectives["return"], kl=a.info["distill_kl"])
            out.update(stderr=a.info["eval_stderr"], grad_steps=a.info["distill_grad_steps"])
            out.update(env_steps=a.info["distill_env_steps"])
            out["heldout"] = _heldout(a.genome, job)
        elif kind == "ppo":
            g = ARCHS[job["arch"]].build(env)
            trained, steps, cpu = _short_ppo(g, env, seed, job["ppo_steps"], job["ppo_seconds"])
            out.update(steps=steps, train_cpu=cpu)
            ev = evaluate(trained, env, episodes=SEARCH_EPISODES, seed=SEARCH_SEED)
            out["ppo"] = float(ev.mean)
        else:
            raise ValueError(f"run_job: unknown kind {kind!r}")
    except Exception as exc:  # one failed job must not sink the study
        out["error"] = f"{type(exc).__name__}: {exc}"
    out["job_cpu"], out["job_wall"] = time.process_time() - c0, time.perf_counter() - t0
    return out


def _short_ppo(
    g: Genome, env: str, seed: int, steps: int, seconds: float
) -> tuple[Genome, int, float]:
    """PPO for ``steps`` env steps, or (``steps == 0``) for about ``seconds`` of CPU time.

    With a time budget, training stops before an update that would overrun it
    (predicted from the mean update so far); the first update always runs.
    """
    cfg = zoo_config(env, normalize_obs=True)
    c0 = time.process_time()
    if steps > 0:
        trained, log = train_ppo(g, env, total_steps=steps, config=cfg, seed=seed)
        return trained, log.total_steps, time.process_time() - c0
    n = 0

    def keep_going(_: dict[str, float]) -> bool:
        nonlocal n
        n += 1
        used = time.process_time() - c0
        return used + used / n <= seconds

    trained, log = train_ppo(g, env, total_steps=10**12, config=cfg, seed=seed, callback=keep_going)
    return trained, log.total_steps, time.process_time() - c0


# ----------------------------------------------------------------- analysis


def kendall(x: Iterable[float], y: Iterable[float]) -> tuple[float, float, int]:
    """Kendall's tau-b, its p-value (scipy) and the number of pairs, skipping non-finite pairs.

    >>> kendall([1, 2, 3, float("nan")], [1, 2, 3, 4])[::2]
    (1.0, 3)
    """
    pairs = [(a, b) for a, b in zip(x, y, strict=True) if math.isfinite(a) and math.isfinite(b)]
    if len(pairs) < 2:
        return math.nan, math.nan, len(pairs)
    res = scipy.stats.kendalltau([a for a, _ in pairs], [b for _, b in pairs])
    return float(res.statistic), float(res.pvalue), len(pairs)


def _mean(v: list[float]) -> float:
    v = [x for x in v if math.isfinite(x)]
    return float(np.mean(v)) if v else math.nan


def _std(v: list[float]) -> float:
    v = [x for x in v if math.isfinite(x)]
    return float(np.std(v)) if len(v) > 1 else math.nan


def _rows(results: list[dict[str, Any]], archs: list[int], env: str) -> list[dict[str, Any]]:
    """One row per architecture: each figure as a list over seeds (NaN for failed jobs)."""
    rows = []
    for a in archs:
        mine = sorted((r for r in results if r["arch"] == a), key=lambda r: r["seed"])

        def col(kind: str, key: str, mine: list[dict[str, Any]] = mine) -> list[float]:
            return [float(r.get(key, math.nan)) for r in mine if r["kind"] == kind]

        rows.append(
            dict(
                name=ARCHS[a].name,
                params=ARCHS[a].build(env).num_params("policy"),
                truth=col("truth", "truth"),
                truth_kl=col("truth", "kl"),
                search=col("proxy", "search"),
                heldout=col("proxy", "heldout"),
                kl=[-k for k in col("proxy", "kl")],
                wall=col("proxy", "wall"),
                cpu=col("proxy", "cpu"),
                ppo=col("ppo", "ppo"),
                ppo_steps=col("ppo", "steps"),
                ppo_cpu=col("ppo", "train_cpu"),
            )
        )
    return rows


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    truth = [_mean(r["truth"]) for r in rows]
    s: dict[str, Any] = {"proxies": {}}
    for key in PROXIES:
        tau, p, n = kendall([_mean(r[key]) for r in rows], truth)
        spread = _mean([_std(r[key]) for r in rows])
        s["proxies"][key] = dict(tau=tau, p=p, n=n, spread=spread)
    k = min(len(r["truth"]) for r in rows)
    if k >= 2:
        tau, p, n = kendall([r["truth"][0] for r in rows], [r["truth"][1] for r in rows])
        pair_taus = [
            kendall([r["truth"][i] for r in rows], [r["truth"][j] for r in rows])[0]
            for i in range(k)
            for j in range(i + 1, k)
        ]
        s["self"] = dict(tau=tau, p=p, n=n, mean_pairwise_tau=_mean(pair_taus))
    else:
        s["self"] = dict(tau=math.nan, p=math.nan, n=0, mean_pairwise_tau=math.nan)
    s["truth_spread"] = _mean([_std(r["truth"]) for r in rows])
    held = [_mean(r["heldout"]) for r in rows]
    s["abs_err_pct"] = _mean([100 * abs(h - t) / abs(t) for h, t in zip(held, truth, strict=True)])
    s["max_abs_err_pct"] = max(
        (100 * abs(h - t) / abs(t) for h, t in zip(held, truth, strict=True)), default=math.nan
    )
    s["ratio"] = _mean([h / t for h, t in zip(held, truth, strict=True)])
    s["gap"] = _mean([h - t for h, t in zip(held, truth, strict=True)])
    walls = [w for r in rows for w in r["wall"] if math.isfinite(w)]
    s["wall_mean"], s["wall_max"] = _mean(walls), max(walls, default=math.nan)
    s["cpu_mean"] = _mean([c for r in rows for c in r["cpu"]])
    s["ppo_steps"] = _mean([x for r in rows for x in r["ppo_steps"]])
    s["ppo_cpu"] = _mean([x for r in rows for x in r["ppo_cpu"]])
    return s


# ----------------------------------------------------------------- main


def main() -> None:
    """Command-line entry point (see the module docstring)."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--env", default="LunarLander-v3")
    ap.add_argument("--archs", default="", help="comma-separated architecture names (all)")
    ap.add_argument("--cache", default="runs/.bench-cache", help="teachers; states in CACHE/states")
    ap.add_argument("--teacher-steps", type=int, default=None, help="(per-env default)")
    ap.add_argument("--truth-scale", type=int, default=10, help="x default env and grad steps")
    ap.add_argument("--truth-seeds", type=int, default=2)
    ap.add_argument("--proxy-seeds", type=int, default=2)
    ap.add_argument("--heldout-episodes", type=int, default=100)
    ap.add_argument("--heldout-seed", type=int, default=777)
    ap.add_argument("--ppo-steps", type=int, default=0, help="0: A's mean CPU time per child")
    ap.add_argument("--workers", type=int, default=2, help="processes (one torch thread each)")
    ap.add_argument("--out", default="docs/fidelity.md")
    ap.add_argument("--json", default=None, help="(runs/.bench-cache/fidelity-ENV.json)")
    args = ap.parse_args()
    if args.heldout_seed < SEARCH_SEED + SEARCH_EPISODES and (
        args.heldout_seed + args.heldout_episodes > SEARCH_SEED
    ):
        ap.error(f"held-out episodes overlap the search's {SEARCH_SEED}..+{SEARCH_EPISODES}")
    env = args.env
    ppo_cfg = zoo_config(env, normalize_obs=True)
    if args.ppo_steps == 0 and (ppo_cfg.anneal_lr or ppo_cfg.anneal_clip):
        ap.error(f"{env}'s zoo PPO anneals over its budget: give --ppo-steps")
    names = [n.strip() for n in args.archs.split(",") if n.strip()]
    unknown = sorted(set(names) - {a.name for a in ARCHS})
    if unknown:
        ap.error(f"unknown --archs {unknown} (valid: {[a.name for a in ARCHS]})")
    archs = [i for i, a in enumerate(ARCHS) if not names or a.name in names]
    command = "python benchmarks/fitness_fidelity.py " + shlex.join(sys.argv[1:])
    torch.set_num_threads(1)
    t_all = time.perf_counter()

    # The teacher and its shared states, once, before the workers start.
    steps = args.teacher_steps or TEACHER_STEPS.get(env, 100_000)
    teacher = get_teacher(env, cache_dir=args.cache, total_steps=steps, config=zoo_config(env))
    states_dir = str(Path(args.cache) / "states")
    _states(teacher, env, states_dir)
    print(f"teacher and states ready ({time.perf_counter() - t_all:.0f} s)", flush=True)

    common = dict(heldout_episodes=args.heldout_episodes, heldout_seed=args.heldout_seed)
    big_first = sorted(archs, key=lambda a: -ARCHS[a].build(env).num_params())
    proxy_seeds = [PROXY_SEED0 + s for s in range(args.proxy_seeds)]
    results: list[dict[str, Any]] = []
    init = (env, genomes.dumps(teacher), states_dir)
    # One BLAS thread per worker too (NumPy's OpenBLAS would otherwise use every core),
    # as growagent's executors do; spawned workers read it when they import NumPy.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with mp.get_context("spawn").Pool(args.workers, _init_worker, init) as pool:
        # Phase 1: the default assessment (its CPU time is C's budget) and the teacher.
        jobs = [dict(common, kind="teacher", arch=-1, seed=0)]
        jobs += [dict(common, kind="proxy", arch=a, seed=s) for a in big_first for s in proxy_seeds]
        _run(pool, jobs, results, t_all)
        cpu = _mean([r["cpu"] for r in results if r["kind"] == "proxy" and "cpu" in r])
        ppo_seconds = cpu if math.isfinite(cpu) else 5.0
        # Phase 2: the truth (the longest jobs) and short PPO.
        jobs = [
            dict(common, kind="truth", arch=a, seed=s, truth_scale=args.truth_scale)
            for a in big_first
            for s in range(args.truth_seeds)
        ]
        jobs += [
            dict(
                common,
                kind="ppo",
                arch=a,
                seed=s,
                ppo_steps=args.ppo_steps,
                ppo_seconds=ppo_seconds,
            )
            for a in big_first
            for s in proxy_seeds
        ]
        _run(pool, jobs, results, t_all)

    teacher_row = next(r for r in results if r["kind"] == "teacher")
    rows = _rows([r for r in results if r["kind"] != "teacher"], archs, env)
    summary = _summary(rows)
    t_held = float(teacher_row.get("heldout", math.nan))
    summary["abs_err_pct_teacher"] = _mean(
        [100 * abs(_mean(r["heldout"]) - _mean(r["truth"])) / abs(t_held) for r in rows]
    )
    total = time.perf_counter() - t_all
    meta = dict(
        command=command,
        date=datetime.datetime.now().isoformat(timespec="minutes"),
        total_s=total,
        teacher_steps=steps,
        teacher=teacher_row,
        ppo_seconds=ppo_seconds if args.ppo_steps == 0 else None,
        truth_config=dict(
            env_steps=args.truth_scale * DistillConfig().env_steps,
            grad_steps=args.truth_scale * DistillConfig().grad_steps,
        ),
    )
    section = _section(args, meta, rows, summary)
    print("\n" + section, flush=True)
    json_path = Path(args.json or f"runs/.bench-cache/fidelity-{env}.json")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    blob = dict(args=vars(args), **meta, summary=summary, rows=rows, results=results)
    json_path.write_text(json.dumps(_finite(blob), indent=1, allow_nan=False))
    print(f"wrote {json_path}")
    _write_section(Path(args.out), env, section)


def _finite(obj: Any) -> Any:
    """``obj`` with NumPy numbers as Python ones and NaN/inf as None (strict JSON).

    >>> _finite({"a": [1.0, float("nan")], "b": np.float64(2)})
    {'a': [1.0, None], 'b': 2.0}
    """
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _run(pool: Any, jobs: list[dict[str, Any]], results: list[dict[str, Any]], t0: float) -> None:
    n0 = len(results)
    for r in pool.imap_unordered(run_job, jobs):
        results.append(r)
        name = "teacher" if r["arch"] < 0 else ARCHS[r["arch"]].name
        keys = ("truth", "search", "heldout", "kl", "ppo", "wall", "steps")
        vals = " ".join(f"{k} {r[k]:.3g}" for k in keys if k in r)
        err = f" ERROR {r['error']}" if "error" in r else ""
        print(
            f"[{len(results) - n0}/{len(jobs)} {time.perf_counter() - t0:6.0f}s] {r['kind']:7s}"
            f" {name:28s} seed {r['seed']:3d} {vals} (cpu {r['job_cpu']:.1f}s){err}",
            flush=True,
        )


# ----------------------------------------------------------------- report


def _f(x: float, digits: int = 1, kind: str = "f") -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.{digits}{kind}}"


def _ms(v: list[float], digits: int = 1, kind: str = "f") -> str:
    s = _std(v)
    mean = _f(_mean(v), digits, kind)
    return mean + ("" if not math.isfinite(s) else f" ± {_f(s, digits, kind)}")


def _section(args: Any, meta: dict[str, Any], rows: list[dict[str, Any]], s: dict[str, Any]) -> str:
    p, t = s["proxies"], meta["teacher"]
    n_ep, seed = args.heldout_episodes, args.heldout_seed
    if args.ppo_steps:
        ppo_budget = f"{args.ppo_steps} env steps"
    else:
        ppo_budget = f"{meta['ppo_seconds']:.2f} s CPU (A's mean per child)"
    lines = [
        f"## {args.env}",
        "",
        f"Produced on {meta['date']} by `{meta['command']}` ({args.workers} processes, one torch"
        f" and BLAS thread each, on a 2-core machine shared with other jobs; total"
        f" {meta['total_s'] / 60:.1f} min wall time).",
        "",
        f"- Teacher: 64x64 tanh, PPO for {meta['teacher_steps']} steps; held-out return"
        f" {_f(t.get('heldout', math.nan))} ({n_ep} episodes from seed {seed}), search return"
        f" {_f(t.get('search', math.nan))} ({SEARCH_EPISODES} episodes from {SEARCH_SEED}).",
        f"- Truth: distillation for {meta['truth_config']['env_steps']} env steps and"
        f" {meta['truth_config']['grad_steps']} gradient steps ({args.truth_scale}x the"
        f" defaults, no early stop), held-out return on {n_ep} episodes from seed {seed};"
        f" mean ± std over {args.truth_seeds} seeds. Self-consistency (seed 0 vs seed 1):"
        f" tau {_f(s['self']['tau'], 3)} (p = {_f(s['self']['p'], 4)}); mean seed spread"
        f" {_f(s['truth_spread'], 2)}.",
        f"- A: `assess(genome, TaskConfig(env={args.env!r}))` (distillation at the defaults,"
        f" search return on {SEARCH_EPISODES} episodes), seeds {PROXY_SEED0} to"
        f" {PROXY_SEED0 + args.proxy_seeds - 1} (the truth's: 0 to {args.truth_seeds - 1});"
        " its genome is"
        f" also held out like the truth. B: minus the final probe KL of the same runs."
        f" C: rl-zoo PPO (+ obs normalisation) from scratch for {ppo_budget}; on average"
        f" {_f(s['ppo_steps'], 0)} env steps and {_f(s['ppo_cpu'], 2)} s CPU, search return.",
        f"- Absolute accuracy of A (mean over {len(rows)} architectures of"
        f" |held-out(A) - truth| / |truth|): **{_f(s['abs_err_pct'], 2)}%** (max"
        f" {_f(s['max_abs_err_pct'], 1)}%); mean held-out(A) / truth {_f(s['ratio'], 3)};"
        f" mean held-out(A) - truth {_f(s['gap'], 2)} return points; mean |held-out(A) - truth|"
        f" as a share of the teacher's |held-out return|: {_f(s['abs_err_pct_teacher'], 2)}%.",
        f"- Time per child of A: {_f(s['wall_mean'], 2)} s wall on average, max"
        f" {_f(s['wall_max'], 2)} s; {_f(s['cpu_mean'], 2)} s CPU on average.",
        "- Kendall tau-b and its p-value from `scipy.stats.kendalltau`; spread is the std across"
        " seeds, averaged over architectures, in the proxy's own units.",
        "",
        "| proxy | Kendall tau-b vs truth | p | mean spread across seeds |",
        "| --- | --- | --- | --- |",
    ]
    for key, label in PROXIES.items():
        q = p[key]
        spread = _f(q["spread"], 3, "g")
        lines.append(f"| {label} | {_f(q['tau'], 3)} | {_f(q['p'], 4)} | {spread} |")
    lines += [
        "",
        "| architecture | policy params | truth | A search return | A held-out | B: -KL"
        " | C: PPO | truth KL |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['params']} | {_ms(r['truth'])} | {_ms(r['search'])}"
            f" | {_ms(r['heldout'])} | {_ms(r['kl'], 3, 'g')} | {_ms(r['ppo'])}"
            f" | {_f(_mean(r['truth_kl']), 3, 'g')} |"
        )
    return "\n".join(lines) + "\n"


def _write_section(path: Path, env: str, section: str) -> None:
    start, end = f"<!-- fidelity:{env} start -->", f"<!-- fidelity:{env} end -->"
    block = f"{start}\n{section}{end}\n"
    text = path.read_text() if path.exists() else "# Fitness fidelity\n\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote the {env} section of {path}")


if __name__ == "__main__":
    main()

"""Does the predictor earn its keep? Real runs with and without screening, several seeds.

For each task a PPO teacher is trained once (cached), then the default
evolution searches with seeds 0..n-1, once with the predictor screening
``screen_factor`` times more candidates than it assesses and once without
(the same number of assessments). Then, from the archives:

- per generation, the out-of-sample Kendall tau of every model (the
  predictor's candidates and the baselines: the parent's return, size alone,
  ridge and extra trees on the flat features, the GIN with and without the
  parent features), each fitted on generations < g and scored on the children
  of generation g. The unscreened runs give the clean figure (their children
  were not chosen by any model);
- per run, the hypervolume of the front of every agent assessed so far
  against the assessments spent (one reference point per task);
- transfer: the tau at the first screened generations with and without the
  other task's archives as a warm start.

    python benchmarks/predictor.py --envs LunarLander-v3 Acrobot-v1 --seeds 0 1 2 \\
        --doc docs/predictor.md

Run directories are kept under ``--out``; a finished run is not run again
(delete its directory to redo it), so an interrupted benchmark resumes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)  # benchmarks/operators.py would shadow the operators package

import numpy as np

import genomes
import growagent
from growagent.archive import Archive
from growagent.distill import get_teacher
from growagent.predictor import kendall_tau, spearman
from growagent.predictor.features import ArchiveView, Sample, Scale
from growagent.predictor.fit import fit_predict
from growagent.report import hypervolumes
from growagent.rl.ppo import zoo_config

MODELS = ["parent", "size", "ridge", "forest", "gin", "gin-arch"]
TEACHER_STEPS = {"LunarLander-v3": 1_000_000, "Acrobot-v1": 200_000}
SETTINGS = {
    # the shipped runs/lunarlander.toml judgement, and the same for Acrobot
    "LunarLander-v3": {
        "assess": {
            "finetune_steps": 0,
            "eval_episodes": 32,
            "distill": {
                "env_steps": 8192,
                "teacher_states": 8192,
                "grad_steps": 3000,
                "min_improvement": 0.02,
            },
        },
        "max_params": 6000,
        "max_units": 64,
    },
    "Acrobot-v1": {
        "assess": {"finetune_steps": 0, "eval_episodes": 32},
        "max_params": 3000,
        "max_units": 32,
    },
}


def config(env: str, seed: int, screen: bool, teacher: str, generations: int) -> dict:
    """One run's config: the default evolution, screened or not, same assessments."""
    s = SETTINGS.get(env, {"assess": {"finetune_steps": 0}, "max_params": 3000, "max_units": 32})
    return {
        "name": f"{env}-{seed}-{'screen' if screen else 'plain'}",
        "env": env,
        "seed": seed,
        "heldout_episodes": 20,
        "teacher": {"path": teacher},
        "search": {
            "strategy": "evolution",
            "max_params": s["max_params"],
            "max_hidden_nodes": 4,
            "max_units": s["max_units"],
        },
        "evolution": {
            "generations": generations,
            "mu": 8,
            "offspring": 8,
            "seeds": ["minimal", "mlp:4", "mlp:8", "mlp:16"],
        },
        "assess": s["assess"],
        "predictor": {"enabled": screen},
        "executor": {"kind": "process", "workers": 2},
        "polish": {"factor": 0},
    }


def run_all(args: argparse.Namespace) -> dict[str, list[Path]]:
    """Every run (skipping finished ones); run directories by task."""
    out = Path(args.out)
    dirs: dict[str, list[Path]] = {}
    for env in args.envs:
        teacher = get_teacher(
            env,
            cache_dir=out / "teachers",
            total_steps=TEACHER_STEPS.get(env, 200_000),
            config=zoo_config(env),
        )
        tpath = genomes.save(teacher, out / "teachers" / f"{env}.json")
        for seed in args.seeds:
            for screen in (False, True):
                run_dir = out / f"{env}-{seed}-{'screen' if screen else 'plain'}"
                dirs.setdefault(env, []).append(run_dir)
                if (run_dir / "pareto.json").exists():
                    continue
                shutil.rmtree(run_dir, ignore_errors=True)
                t0 = time.perf_counter()
                growagent.run(
                    config(env, seed, screen, str(tpath), args.generations),
                    out=run_dir,
                    quiet=True,
                )
                print(f"{run_dir.name}: {time.perf_counter() - t0:.0f} s", flush=True)
    return dirs


# ------------------------------------------------------------------ analysis
def oos_taus(
    view: ArchiveView,
    warm: list[tuple[list[Sample], Scale]],
    min_samples: int,
    models: list[str],
) -> dict[int, dict[str, tuple[float, float]]]:
    """Per generation g: each model's (tau, spearman) on g's children, fitted on < g."""
    out: dict[int, dict[str, tuple[float, float]]] = {}
    every = view.samples()
    for g in sorted({s.generation for s in every}):
        train = [s for s in every if s.generation < g]
        test = [s for s in every if s.generation == g]
        if len(test) < 3 or (len(train) < min_samples and not warm):
            continue
        scale = view.scale(before=g) if train else warm[0][1]
        truth = [float(s.target or 0.0) for s in test]
        row = {}
        for m in models:
            data = ([(train, scale)] if train else []) + warm
            mean, _ = fit_predict(m, data, test, scale, seed=g)
            row[m] = (kendall_tau(list(mean), truth), spearman(list(mean), truth))
        out[g] = row
    return out


def hv_curve(archive: Archive, ref: tuple[float, float]) -> list[tuple[int, float]]:
    """(assessments spent, hypervolume) after each generation."""
    scores = [s for s in archive.scores() if not s.genome_id.endswith(".polished")]
    volumes = hypervolumes(scores, "params", ref)
    counts = {}
    for g in volumes:
        counts[g] = sum(1 for s in scores if s.generation <= g)
    return [(counts[g], volumes[g]) for g in sorted(volumes)]


def nanmean(xs: list[float]) -> float:
    a = np.asarray([x for x in xs if x is not None], dtype=float)
    a = a[np.isfinite(a)]
    return float(a.mean()) if a.size else float("nan")


def analyse(dirs: dict[str, list[Path]], args: argparse.Namespace) -> dict:
    result: dict = {"tasks": {}}
    views = {
        env: {d: ArchiveView(Archive(d / "archive.sqlite", readonly=True)) for d in ds}
        for env, ds in dirs.items()
    }
    for env, ds in dirs.items():
        task: dict = {"runs": {}}
        scores = [
            s
            for d in ds
            for s in Archive(d / "archive.sqlite", readonly=True).scores()
            if not s.genome_id.endswith(".polished")
        ]
        # the worst seed genome (generation 0) of the task's runs: a child far below every
        # seed adds nothing to a front, and would only stretch the volume's scale
        worst = min(s.ret for s in scores if s.generation == 0)
        ref = (-worst, 1.1 * max(s.size("params") for s in scores))
        task["reference"] = {"return": worst, "params": ref[1]}
        for d in ds:
            view = views[env][d]
            screen = d.name.endswith("screen")
            # out of sample on the unscreened runs only: a screened run's children were
            # chosen by a model, so every model would be judged on a restricted range
            if screen:
                taus = {}
            elif args.taus_from:  # reuse the out-of-sample figures of an earlier analysis
                earlier = json.loads(Path(args.taus_from).read_text())
                oos = earlier["tasks"][env]["runs"][d.name]["oos"]
                taus = {int(g): {m: tuple(v) for m, v in row.items()} for g, row in oos.items()}
            else:
                taus = oos_taus(view, [], args.min_samples, args.models)
            own = [
                (s.extra["predicted"], s.target)
                for s in view.samples()
                if s.extra.get("predicted") is not None
            ]
            screened_taus: dict[int, float] = {}
            for g in sorted({s.generation for s in view.samples()}):
                pairs = [
                    (s.extra["predicted"], s.target)
                    for s in view.samples()
                    if s.generation == g and s.extra.get("predicted") is not None
                ]
                if len(pairs) >= 3:
                    screened_taus[g] = kendall_tau([p for p, _ in pairs], [t for _, t in pairs])
            task["runs"][d.name] = {
                "screen": screen,
                "oos": {g: {m: list(v) for m, v in row.items()} for g, row in taus.items()},
                "in_run_tau": screened_taus,
                "predicted": len(own),
                "hv": hv_curve(Archive(d / "archive.sqlite", readonly=True), ref),
            }
            print(f"{d.name}: analysed", flush=True)
        # transfer: the other tasks' archives as a warm start, at the earliest generations
        others = [
            (v.samples(), v.scale()) for e, vs in views.items() if e != env for v in vs.values()
        ]
        if others:
            cold, warm = [], []
            for d in ds:
                if d.name.endswith("screen"):
                    continue
                view = views[env][d]
                for g in (1, 2):
                    test = [s for s in view.samples() if s.generation == g]
                    train = [s for s in view.samples() if s.generation < g]
                    if len(test) < 3:
                        continue
                    truth = [float(s.target or 0.0) for s in test]
                    scale = view.scale(before=g)
                    m = args.transfer_model
                    c, _ = fit_predict(m, [(train, scale)], test, scale, seed=g)
                    w, _ = fit_predict(m, [(train, scale), *others], test, scale, seed=g)
                    cold.append(kendall_tau(list(c), truth))
                    warm.append(kendall_tau(list(w), truth))
            task["transfer"] = {"model": args.transfer_model, "cold": cold, "warm": warm}
        result["tasks"][env] = task
    return result


def markdown(result: dict, args: argparse.Namespace) -> str:
    cmd = (
        f"python benchmarks/predictor.py --envs {' '.join(args.envs)} "
        f"--seeds {' '.join(map(str, args.seeds))} --generations {args.generations} "
        "--doc docs/predictor.md"
    )
    lines = [
        f"Produced on {time.strftime('%Y-%m-%d %H:%M')} by `{cmd}` (2-core machine, process "
        f"executor with 2 workers, one run at a time; warm-up: {args.min_samples} assessed "
        "genomes before the first prediction).",
        "",
    ]
    for env, task in result["tasks"].items():
        runs = task["runs"]
        lines += [f"### {env}", ""]
        lines += [
            "Out-of-sample Kendall tau (Spearman in brackets), mean over the generations after "
            "warm-up, per seed; unscreened runs (children not chosen by any model):",
            "",
            "| model | " + " | ".join(n for n, r in runs.items() if not r["screen"]) + " | mean |",
            "| --- | " + " | ".join("---" for r in runs.values() if not r["screen"]) + " | --- |",
        ]
        for m in args.models:
            cells, means = [], []
            for r in runs.values():
                if r["screen"]:
                    continue
                t = nanmean([row[m][0] for row in r["oos"].values() if m in row])
                rho = nanmean([row[m][1] for row in r["oos"].values() if m in row])
                cells.append(f"{t:.2f} ({rho:.2f})")
                means.append(t)
            lines.append(f"| {m} | " + " | ".join(cells) + f" | {nanmean(means):.2f} |")
        lines += [
            "",
            "Per generation (mean over the unscreened seeds):",
            "",
            "| generation | " + " | ".join(args.models) + " |",
            "| --- | " + " | ".join("---" for _ in args.models) + " |",
        ]
        gens = sorted({int(g) for r in runs.values() if not r["screen"] for g in r["oos"]})
        for g in gens:
            cells = []
            for m in args.models:
                vals = [
                    r["oos"][g][m][0]
                    for r in runs.values()
                    if not r["screen"] and g in r["oos"] and m in r["oos"][g]
                ]
                cells.append(f"{nanmean(vals):.2f}")
            lines.append(f"| {g} | " + " | ".join(cells) + " |")
        screened = [r for r in runs.values() if r["screen"]]
        lines += [
            "",
            "Screened runs: the predictor's own tau on the children it chose (a restricted "
            "range: only the best-ranked and the exploration picks were assessed), mean per "
            "seed: "
            + ", ".join(f"{nanmean(list(r['in_run_tau'].values())):.2f}" for r in screened)
            + ".",
            "",
            f"Hypervolume of the front of all agents assessed so far (reference point: return "
            f"{task['reference']['return']:.1f}, the worst seed genome's, and "
            f"{task['reference']['params']:.0f} policy parameters; higher is better), after "
            "each generation:",
            "",
        ]
        lines += hv_table(runs)
        if "transfer" in task:
            t = task["transfer"]
            lines += [
                "",
                f"Transfer ({t['model']}, generations 1-2 of the unscreened runs): tau trained "
                f"on this run alone {nanmean(t['cold']):.2f}, with the other task's archives as "
                f"a warm start {nanmean(t['warm']):.2f} (n = {len(t['cold'])}).",
            ]
        lines.append("")
    return "\n".join(lines)


def hv_table(runs: dict) -> list[str]:
    names = list(runs)
    rows = [
        "| assessments | " + " | ".join(names) + " |",
        "| --- | " + " | ".join("---" for _ in names) + " |",
    ]
    steps = sorted({n for r in runs.values() for n, _ in r["hv"]})
    for n in steps:
        cells = []
        for r in runs.values():
            v = dict((a, h) for a, h in r["hv"]).get(n)
            cells.append("" if v is None else f"{v:.4g}")
        rows.append(f"| {n} | " + " | ".join(cells) + " |")
    # assessments each screened run needed to reach its unscreened twin's final volume
    rows.append("")
    for name, r in runs.items():
        if not r["screen"]:
            continue
        twin = runs.get(name.replace("-screen", "-plain"))
        if twin is None or not twin["hv"]:
            continue
        target = twin["hv"][-1][1]
        reached = next((a for a, h in r["hv"] if h >= target), None)
        spent = twin["hv"][-1][0]
        rows.append(
            f"- {name}: reached the unscreened run's final volume ({target:.4g}, after {spent} "
            f"assessments) "
            + (f"after {reached} assessments." if reached is not None else "never.")
        )
    return rows


def write_section(path: Path, text: str) -> None:
    start, end = "<!-- predictor results -->", "<!-- predictor results end -->"
    doc = path.read_text() if path.exists() else f"{start}\n{end}\n"
    head = doc.split(start)[0]
    tail = doc.split(end, 1)[1] if end in doc else "\n"
    path.write_text(f"{head}{start}\n{text}{end}{tail}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--envs", nargs="+", default=["LunarLander-v3", "Acrobot-v1"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--generations", type=int, default=8)
    p.add_argument("--models", nargs="+", default=MODELS)
    p.add_argument("--min-samples", type=int, default=12)
    p.add_argument("--transfer-model", default="forest")
    p.add_argument("--out", default="runs/.bench-predictor")
    p.add_argument("--analyse-only", action="store_true", help="use the runs already in --out")
    p.add_argument("--json", help="also write the figures here")
    p.add_argument("--taus-from", help="take the out-of-sample taus from this earlier --json")
    p.add_argument("--doc", help="write the tables into this Markdown file (docs/predictor.md)")
    args = p.parse_args()
    if args.analyse_only:
        out = Path(args.out)
        dirs = {
            env: [
                out / f"{env}-{s}-{k}"
                for s in args.seeds
                for k in ("plain", "screen")
                if (out / f"{env}-{s}-{k}" / "archive.sqlite").exists()
            ]
            for env in args.envs
        }
    else:
        dirs = run_all(args)
    result = analyse(dirs, args)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    text = markdown(result, args)
    print(text)
    if args.doc:
        write_section(Path(args.doc), text)


if __name__ == "__main__":
    main()

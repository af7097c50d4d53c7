"""The ``growagent`` command line.

Subcommands: ``run``, ``resume``, ``show``, ``eval``, ``report``, ``export``, ``bench``.
Bad input (missing file, malformed genome or config, unknown key, unknown
environment) prints one line naming the problem and exits with code 2; any
other failure (an environment that crashes or returns NaN while the teacher
trains, a run with no assessable genome) prints one line and exits with 1.
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import numpy as np

if TYPE_CHECKING:
    from growagent.rl.envs import EnvRef

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1


def _printable(text: str, limit: int = 500) -> str:
    """``text`` with control characters escaped (a corrupt file's bytes never reach the
    terminal raw), cut to ``limit`` characters."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return _printable(text.splitlines()[0]) if text else type(exc).__name__


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors follow the CLI's contract: one line, exit 2."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("growagent").strip()
        where = f"{command}: " if command else ""
        self.exit(
            EXIT_BAD_INPUT,
            f"growagent: error: {where}{_printable(message)} (see {self.prog} --help)\n",
        )


def _int_in(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer in ``[low, high]``."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer (got {text!r:.40})") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"expected an integer from {low} to {high} (got {text:.40})"
            )
        return value

    return convert


SEED = _int_in(0, 2**32 - 1)
"""A seed on the command line: 0 to 2**32 - 1 (episode seeds count up from it)."""


class UserError(Exception):
    """An error in what the user gave us; printed as one line."""


def _bad_input_types() -> tuple[type[BaseException], ...]:
    from gymnasium.error import Error as GymError

    from genomes import GenomeError
    from growagent.archive import ArchiveError
    from growagent.mapping import ConfigError
    from growagent.rl.envs import UnsupportedEnvError

    return (
        UserError,
        GymError,
        UnsupportedEnvError,
        GenomeError,
        ConfigError,
        ArchiveError,
        FileNotFoundError,
        FileExistsError,
        IsADirectoryError,
        NotADirectoryError,
        PermissionError,
    )


def _print_front(result: object) -> None:
    from growagent.runner import RunResult

    assert isinstance(result, RunResult)

    def pm(mean: float | None, se: float | None) -> str:
        if mean is None:
            return f"{'-':>16}"
        return f"{mean:8.2f} +- {se:5.2f}" if se is not None and se == se else f"{mean:16.2f}"

    print("\nPareto front (return up, policy size down; +- is the standard error):")
    print(f"  {'id':<20} {'search return':>16} {'held-out return':>16} {'size':>7}")
    for e in result.pareto:
        mark = "  <- champion" if e.id == result.champion.id else ""
        print(f"  {e.id:<20} {pm(e.ret, e.se)} {pm(e.heldout, e.heldout_se)} {e.size:7d}{mark}")
    if result.teacher_heldout is not None:
        t = result.teacher_heldout
        print(f"\nteacher: held-out return {t['mean']:.2f} +- {t['se']:.2f}")
    elif result.teacher_return is not None:
        print(f"\nteacher: return {result.teacher_return:.2f}")
    c = result.champion
    print(f"champion: {c.id}, {c.size} policy parameters, search return {c.ret:.2f}")
    if result.heldout is not None:
        h = result.heldout
        print(
            f"champion held-out: mean return {h['mean']:.2f} +- {h['se']:.2f} "
            f"over {int(h['episodes'])} unseen episodes"
        )
    print(f"\nchampion: {result.run_dir / 'champion.json'}")
    print(f"report:   {result.run_dir / 'report' / 'index.html'}")


def _user_modules_importable() -> None:
    """Let an env reference the user typed (in a config, or ``--env``) name a module in
    the current directory, as ``python -m`` does (appended, so installed packages win).
    Never called for a reference read from a data file (see docs/reliability.md)."""
    cwd = os.getcwd()
    if "" not in sys.path and cwd not in sys.path:
        sys.path.append(cwd)


def cmd_run(args: argparse.Namespace) -> int:
    from growagent.report import write_report
    from growagent.runner import run

    _user_modules_importable()  # the config is the user's own
    result = run(
        args.config,
        out=args.out,
        executor=args.executor,
        workers=args.workers,
        seed=args.seed,
        strategy=args.strategy,
        quiet=args.quiet,
    )
    write_report(result.run_dir)
    _print_front(result)
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from growagent.report import write_report
    from growagent.runner import resume

    if args.env:
        _user_modules_importable()
    result = resume(
        args.run_dir,
        env=args.env,
        executor=args.executor,
        workers=args.workers,
        generations=args.generations,
        quiet=args.quiet,
    )
    write_report(result.run_dir)
    _print_front(result)
    return 0


def _load_genome_or_run(path: str) -> object:
    import genomes

    p = Path(path)
    if p.is_dir():
        champion = p / "champion.json"
        if not champion.exists():
            raise UserError(f"{p}: no champion.json here (is the run finished?)")
        return genomes.load(champion)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    return genomes.load(p)


def cmd_show(args: argparse.Namespace) -> int:
    genome = _load_genome_or_run(args.genome)
    from genomes import Genome

    assert isinstance(genome, Genome)
    print(genome.summary())
    lineage = genome.meta["lineage"]
    print(f"structural hash: {genome.structural_hash()}")
    print(
        f"lineage: id={lineage.get('id')} parents={lineage.get('parents')} op={lineage.get('operator')}"
    )
    if args.png:
        if Path(args.png).suffix.lower() not in (".png", ".svg"):
            raise UserError(f"--png: expected a .png or .svg path (got {args.png})")
        print(f"picture: {genome.draw(args.png)}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from genomes import Genome
    from growagent.rl.evaluate import evaluate

    genome = _load_genome_or_run(args.genome)
    assert isinstance(genome, Genome)
    env = _eval_env(args, genome.meta.get("tags", {}))
    if args.episodes < 1:
        raise UserError(f"--episodes: expected a positive integer (got {args.episodes})")
    if args.render_video and Path(args.render_video).suffix.lower() != ".gif":
        raise UserError(f"--render-video: expected a .gif path (got {args.render_video})")
    from growagent.rl.envs import genome_spaces

    obs, act = genome_spaces(env)
    n_obs, n_act = genome.units(genome.input_node), genome.units(genome.policy_node)
    want_act = act["n"] if act["type"] == "discrete" else int(np.prod(act["shape"]))
    if (n_obs, n_act, genome.is_continuous) != (
        int(np.prod(obs["shape"])),
        want_act,
        act["type"] == "box",
    ):
        raise UserError(
            f"{args.genome} does not fit {env}: the genome takes {n_obs} observations and gives "
            f"{n_act} {'continuous' if genome.is_continuous else 'discrete'} actions"
        )
    result = evaluate(genome, env, episodes=args.episodes, seed=args.seed, deterministic=True)
    print(
        f"{env}: mean return {result.mean:.2f} +- {result.std:.2f} over {args.episodes} episodes "
        f"(episode seeds drawn from --seed {args.seed}); policy parameters "
        f"{genome.num_params('policy')}"
    )
    if args.render_video:
        from growagent.export import render_episode

        print(f"video: {render_episode(genome, env.ref, args.render_video, seed=args.seed)}")
    return 0


def _eval_env(args: argparse.Namespace, tags: dict[str, object]) -> EnvRef:
    """The env ``eval`` plays: ``--env``, or the genome's tag when it is a plain gymnasium
    id (a genome file is data: a module it names is never imported), with ``--env-kwargs``
    or else the genome's ``env_kwargs`` tag when the env is the tagged one."""
    import json

    from growagent.rl.envs import EnvRef

    env = args.env
    tagged = tags.get("env")
    if not env:
        if not tagged or not isinstance(tagged, str):
            raise UserError("No environment: pass --env ID (the genome does not name one)")
        if ":" in tagged:
            raise UserError(
                f"{args.genome} names the env {tagged!r}, which would import a Python module; "
                f"a genome file never runs code: pass --env {tagged} if you trust that module"
            )
        env = tagged
    else:
        _user_modules_importable()
    if args.env_kwargs is not None:
        try:
            kwargs = json.loads(args.env_kwargs)
        except ValueError as exc:
            raise UserError(f"--env-kwargs: expected a JSON object ({exc})") from None
    else:
        kwargs = tags.get("env_kwargs") if env == tagged else None
    if kwargs is not None and not isinstance(kwargs, dict):
        raise UserError(f"env_kwargs: expected a JSON object (got {kwargs!r})")
    return EnvRef(env, kwargs or {})


def cmd_report(args: argparse.Namespace) -> int:
    from growagent.report import write_report

    print(f"report: {write_report(Path(args.run_dir))}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from genomes import Genome
    from growagent.export import export_policy

    genome = _load_genome_or_run(args.genome)
    assert isinstance(genome, Genome)
    suffix = ".pt" if args.format == "torchscript" else ".onnx"
    source = Path(args.genome)
    # a run's champion goes inside the run (RUN_DIR/export/), a genome file's beside it
    default = (
        source / "export" / f"champion{suffix}" if source.is_dir() else source.with_suffix(suffix)
    )
    out = args.out or str(default)
    if Path(out).is_dir():
        raise UserError(f"--out: {out} is a directory; expected a file path")
    print(f"exported: {export_policy(genome, out, fmt=args.format)}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from growagent.bench import BenchSpec, bench
    from growagent.bench.rows import Judgement

    try:
        spec = BenchSpec(
            envs=args.env,
            seeds=args.seeds,
            budget=args.budget,
            wall=args.wall,
            rows=args.rows,
            out=Path(args.out),
            doc=Path(args.doc),
            teacher_steps=args.teacher_steps,
            judgement=Judgement(
                distill_grad_steps=args.distill_grad_steps,
                distill_env_steps=args.distill_env_steps,
                executor=args.executor,
                workers=args.workers,
            ),
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None
    results = bench(spec)
    print(f"bench: wrote {spec.doc}")
    failed = [
        f"{x.env} {x.row} s{x.seed}" for xs in results.values() for x in xs if x.status == "failed"
    ]
    if failed:
        print(
            f"growagent: error: rows failed ({', '.join(failed)}); see the table", file=sys.stderr
        )
        return EXIT_FAILED
    return 0


def _bench_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    from growagent.bench.rows import ROWS

    b = sub.add_parser(
        "bench",
        help="compare strategies, ablations, baselines and peers under one budget",
        description="Run every row on every task and seed (finished rows are kept, "
        "started ones resumed) and write one table per task, with plots, into --doc.",
    )
    b.add_argument("--env", action="append", required=True, help="a task (repeatable)")
    b.add_argument("--seeds", nargs="+", type=SEED, default=[0, 1, 2])
    b.add_argument(
        "--budget", type=_int_in(2, 1_000_000), default=36, help="assessments per search row"
    )
    b.add_argument(
        "--wall", type=float, default=1800.0, help="wall-time cap of a search row, seconds"
    )
    b.add_argument(
        "--rows",
        nargs="+",
        choices=ROWS,
        default=list(ROWS),
        metavar="ROW",
        help=f"rows among: {', '.join(ROWS)} (default: all)",
    )
    b.add_argument("--out", default="runs/.bench", help="where the rows' run directories go")
    b.add_argument("--doc", default="docs/benchmarks.md", help="the Markdown doc to write")
    b.add_argument("--teacher-steps", type=_int_in(1, 10**9), default=100_000)
    b.add_argument(
        "--distill-grad-steps",
        type=_int_in(1, 10**9),
        help="override the judgement's gradient steps",
    )
    b.add_argument(
        "--distill-env-steps", type=_int_in(8, 10**9), help="override the judgement's env steps"
    )
    b.add_argument("--executor", choices=["serial", "process", "ray"], default="process")
    b.add_argument("-w", "--workers", type=_int_in(0, 4096), default=2)
    b.set_defaults(func=cmd_bench)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``growagent`` command."""
    p = _Parser(prog="growagent", description=__doc__.splitlines()[0])
    p.add_argument("--debug", action="store_true", help="show tracebacks instead of one line")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="launch a search from a TOML config")
    r.add_argument("config", help="run config (TOML), e.g. runs/cartpole.toml")
    r.add_argument("-o", "--out", help="run directory (default: <out>/<name> from the config)")
    r.add_argument(
        "-w", "--workers", type=_int_in(0, 4096), help="parallel workers (default: one per core)"
    )
    r.add_argument("--executor", choices=["serial", "process", "ray"])
    r.add_argument("-s", "--seed", type=SEED, help="override the config's master seed")
    r.add_argument(
        "--strategy",
        choices=["evolution", "random", "firefly", "metaqnn"],
        help="override [search] strategy",
    )
    r.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    r.set_defaults(func=cmd_run)

    s = sub.add_parser("resume", help="continue a run from its archive")
    s.add_argument("run_dir")
    s.add_argument("-w", "--workers", type=_int_in(0, 4096))
    s.add_argument("--executor", choices=["serial", "process", "ray"])
    s.add_argument(
        "-g",
        "--generations",
        type=_int_in(0, 1_000_000),
        help="raise the total number of generations",
    )
    s.add_argument(
        "--env",
        help="confirm the run's env when it names a Python module ('module:EnvId'): "
        "the archive is data and is never trusted to import code by itself",
    )
    s.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    s.set_defaults(func=cmd_resume)

    w = sub.add_parser("show", help="summary (and picture) of a genome or a run's champion")
    w.add_argument("genome", help="genome JSON file or run directory")
    w.add_argument("--png", help="also draw the graph to this PNG/SVG path")
    w.set_defaults(func=cmd_show)

    e = sub.add_parser("eval", help="evaluate a genome on an environment")
    e.add_argument("genome", help="genome JSON file or run directory")
    e.add_argument(
        "--env",
        help="gymnasium id, 'module:EnvId' or 'module:factory' (default: the genome's "
        "env if it is a plain gymnasium id)",
    )
    e.add_argument(
        "--env-kwargs",
        help="""the env's keyword arguments as JSON, e.g. '{"length": 10}' """
        "(default: those stored in the genome, for its own env)",
    )
    e.add_argument("-n", "--episodes", type=_int_in(1, 1_000_000), default=20)
    e.add_argument("-s", "--seed", type=SEED, default=10_000, help="first episode seed")
    e.add_argument("--render-video", help="write one episode as a GIF here")
    e.set_defaults(func=cmd_eval)

    o = sub.add_parser("report", help="write plots and index.html for a run")
    o.add_argument("run_dir")
    o.set_defaults(func=cmd_report)

    x = sub.add_parser("export", help="export a standalone policy (obs -> action)")
    x.add_argument("genome", help="genome JSON file or run directory")
    x.add_argument("-f", "--format", choices=["torchscript", "onnx"], default="torchscript")
    x.add_argument(
        "-o",
        "--out",
        help="output file (default: RUN_DIR/export/champion.pt for a run, "
        "beside a genome file otherwise)",
    )
    x.set_defaults(func=cmd_export)
    _bench_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``growagent`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    func: Callable[[argparse.Namespace], int] = args.func
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _terminated)
    try:
        return func(args)
    except KeyboardInterrupt:
        print("growagent: interrupted; the archive keeps every finished result", file=sys.stderr)
        return 130
    except Terminated:
        print(
            "growagent: stopped by SIGTERM; the archive keeps every finished result",
            file=sys.stderr,
        )
        return 143
    except SystemExit as exc:  # an env (or a teacher's env) calling sys.exit in this process
        if args.debug:
            raise
        print(
            f"growagent: error: something in this process called sys.exit({exc.code!r}) "
            "(an environment?); finished results are kept (--debug shows the traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except _bad_input_types() as exc:
        if args.debug:
            raise
        print(f"growagent: error: {_first_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:  # a failing environment, a broken run: one line, not a traceback
        if args.debug:
            raise
        kept = (
            "finished results are kept in the run's archive; "
            if args.command
            in (
                "run",
                "resume",
                "bench",
            )
            else ""
        )
        print(
            f"growagent: error: {type(exc).__name__}: {_first_line(exc)} "
            f"({kept}--debug shows the traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    finally:
        signal.signal(signal.SIGTERM, previous)


class Terminated(BaseException):
    """SIGTERM arrived: unwind like Ctrl-C (executors close their workers), then say so."""


def _terminated(signum: int, frame: object) -> None:
    raise Terminated


if __name__ == "__main__":
    sys.exit(main())

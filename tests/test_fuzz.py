"""Fuzz the error contract (issue 15, item 6): hostile genome files, configs, run
directories and argument lists each get one line ``growagent: error: ...`` and
exit 2 (bad input) or 1 (a run failure), never a traceback, within a time and a
memory limit.

Cases are generated from real inputs (a tiny real CartPole run made once per
module) with a seeded generator, so every run tests the same cases. Most run
in-process through ``growagent.cli.main.main`` under ``signal.alarm`` and an
address-space limit (RLIMIT_AS); a sample runs as real subprocesses to check
the contract end to end. Exit 0 is accepted only where the mutated input is
still valid (a genome file that ``genomes.load`` reads). The report's PNG
rendering is stubbed in-process (it alone takes 1.5 s a case); the subprocess
sample renders for real.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import genomes

REPO = Path(__file__).resolve().parents[1]
SEED = 15
CASE_SECONDS = 20
SAMPLE = 6  # cases also run as subprocesses (each pays ~4 s of imports)
MEMORY_HEADROOM = 1536 * 2**20  # address space a case may add to the process
MISSING_TEACHER = "/nonexistent/teacher.json"


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny real CartPole run (teacher, one generation) and a few genome files."""
    import growagent
    from growagent.distill.teacher import train_teacher

    base = tmp_path_factory.mktemp("fuzz")
    teacher = genomes.save(
        train_teacher("CartPole-v1", total_steps=16_384, seed=1), base / "t.json"
    )
    cfg = {
        "name": "fuzz",
        "env": "CartPole-v1",
        "seed": 3,
        "heldout_episodes": 5,
        "teacher": {"path": str(teacher)},
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
        "executor": {"kind": "serial"},
    }
    run = base / "run"
    growagent.run(cfg, out=run, quiet=True)
    db = sqlite3.connect(run / "archive.sqlite")  # one file: no WAL beside it to keep in step
    db.execute("PRAGMA journal_mode=DELETE")
    db.close()
    box = genomes.mlp(3, {"type": "box", "shape": [2], "low": [-2, -1], "high": [2, 1]}, hidden=[4])
    return {
        "base": base,
        "run": run,
        "teacher": teacher,
        "champion": run / "champion.json",
        "box": genomes.save(box, base / "box.json"),
        "plain": genomes.save(genomes.minimal(4, 2), base / "minimal.json"),
    }


# ------------------------------------------------------------- mutations
GARBAGE = [
    None,
    True,
    -1,
    0,
    10**30,
    -(10**30),
    1e308,
    "x",
    "",
    "\x1b[2J\x07",
    [],
    {},
    [1, "a", None],
    {"type": "box"},
    "CartPole-v1",
]


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _set(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return obj


def mutate_tree(rng: random.Random, data: Any) -> str:
    """JSON text of ``data`` with one structural mutation."""
    data = json.loads(json.dumps(data))
    path = rng.choice(_paths(data)[1:])
    kind = rng.randrange(6)
    if kind == 0:
        value = rng.choice(GARBAGE)
        data = _set(data, path, value)
    elif kind == 1:  # delete a key / an element
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        del parent[path[-1]]
    elif kind == 2:  # deep nesting, spliced in as text (json.dumps itself would recurse)
        depth = rng.choice([33, 200, 999, 1500, 5000])
        data = _set(data, path, "@DEEP@")
        return json.dumps(data).replace('"@DEEP@"', "[" * depth + "1" + "]" * depth)
    elif kind == 3:  # NaN / infinity
        data = _set(data, path, rng.choice([float("nan"), float("inf"), -float("inf")]))
    elif kind == 4:  # huge numbers
        data = _set(data, path, rng.choice([10**400, 2**64, 1e300, -(2**63)]))
    else:  # swap with another node's value
        other = rng.choice(_paths(data)[1:])
        try:
            value = data
            for key in other:
                value = value[key]
            data = _set(data, path, json.loads(json.dumps(value)))
        except (KeyError, IndexError, TypeError):
            data = _set(data, path, None)
    if kind == 4 and rng.random() < 0.5:
        return json.dumps(data).replace(str(10**400), "9" * 5000)
    return json.dumps(data)  # NaN and Infinity written as JSON does not allow


def mutate_bytes(rng: random.Random, raw: bytes) -> bytes:
    """``raw`` with bit flips, a truncation, or garbage spliced in."""
    data = bytearray(raw)
    kind = rng.randrange(3)
    if kind == 0:
        for _ in range(rng.randint(1, 16)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
    elif kind == 1:
        data = data[: rng.randrange(len(data))]
    else:
        i = rng.randrange(len(data))
        data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    return bytes(data)


# ----------------------------------------------------------------- cases
def genome_cases(rng: random.Random, real: dict[str, Path], tmp: Path, n: int) -> list[Any]:
    sources = [real[k] for k in ("teacher", "champion", "box", "plain")]
    cases = []
    for i in range(n):
        src = rng.choice(sources)
        raw = src.read_bytes()
        text = (
            mutate_bytes(rng, raw)
            if rng.random() < 0.4
            else mutate_tree(rng, json.loads(raw)).encode()
        )
        path = tmp / f"g{i}.json"
        path.write_bytes(text)
        command = rng.choices(["show", "export", "eval"], weights=[6, 2, 2])[0]
        argv = {
            "show": ["show", str(path)],
            "export": ["export", str(path), "--out", str(tmp / f"g{i}.pt")],
            "eval": ["eval", str(path), "--env", "CartPole-v1", "-n", "1"],
        }[command]
        cases.append(("genome", argv, path))
    fifo = tmp / "fifo.json"
    os.mkfifo(fifo)
    big = tmp / "big.json"
    with big.open("wb") as f:
        f.truncate(65 * 2**20)  # sparse
    loop = tmp / "loop.json"
    loop.symlink_to(loop)
    (tmp / "empty.json").write_bytes(b"")
    for special in [fifo, "/dev/zero", "/dev/null", big, loop, tmp / "empty.json", tmp]:
        for command in ("show", "export", "eval"):
            extra = {"export": ["--out", str(tmp / "x.pt")], "eval": ["--env", "CartPole-v1"]}
            cases.append(("genome", [command, str(special), *extra.get(command, [])], None))
    return cases


def config_cases(rng: random.Random, real: dict[str, Path], tmp: Path, n: int) -> list[Any]:
    import tomllib

    import tomli_w

    from growagent.config import load_config

    base = tomllib.loads((real["run"] / "config.toml").read_text())
    base["teacher"]["path"] = MISSING_TEACHER
    cases: list[Any] = []
    i = 0
    while len(cases) < n:
        i += 1
        path = tmp / f"c{i}.toml"
        if rng.random() < 0.3:
            text = mutate_bytes(rng, tomli_w.dumps(base).encode())
        else:
            data = json.loads(json.dumps(base))
            target = rng.choice(_paths(data)[1:])
            kind = rng.randrange(3)
            if kind == 0:  # a wrong type (TOML has no null)
                _set(data, target, rng.choice([v for v in GARBAGE if v is not None]))
            elif kind == 1 and isinstance(_get(data, target[:-1]), dict):  # an unknown key
                _set(data, (*target[:-1], "no_such_key"), 1)
            else:  # out of range
                _set(data, target, rng.choice([-5, 0, 10**12, 1e300, -1e-9]))
            try:
                text = tomli_w.dumps(data).encode()
            except (TypeError, ValueError):
                continue
        path.write_bytes(text)
        try:  # a config that loads must not start a search: its teacher is missing
            cfg = load_config(path)
        except Exception:  # ConfigError, or whatever the CLI must turn into one line
            pass
        else:
            if cfg.teacher.path != MISSING_TEACHER:
                continue
        cases.append(("config", ["run", str(path), "--out", str(tmp / f"r{i}"), "-q"], None))
    return cases


def _get(obj: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        obj = obj[key]
    return obj


BAD_CELLS = [
    None,
    "",
    "{not json",
    "\x1b[31m\x00garbage",
    b"\xff\xfe\x00",
    -1,
    2**62,
    1e308,
    "[1, 2]",
    '{"a": 1}',
    '"seed0"',
    "[" * 3000,
    "null",
    '{"mean": "x", "se": 1, "episodes": 5}',
]


def run_cases(rng: random.Random, real: dict[str, Path], tmp: Path, n: int) -> list[Any]:
    src = real["run"]
    db = sqlite3.connect(src / "archive.sqlite")
    rows = {
        table: [r[0] for r in db.execute(f"SELECT rowid FROM {table}")]
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
    }
    columns = {t: [c[1] for c in db.execute(f"PRAGMA table_info({t})")] for t in rows}
    db.close()
    cases = []
    for i in range(n):
        run = tmp / f"run{i}"
        shutil.copytree(src, run, ignore=shutil.ignore_patterns("report"))
        archive = run / "archive.sqlite"
        kind = rng.choices(["cell", "cycle", "bytes", "file"], weights=[12, 1, 4, 3])[0]
        if kind == "cell":
            table = rng.choice([t for t in rows if rows[t]])
            col = rng.choice(columns[table])
            rowid = rng.choice(rows[table])
            db = sqlite3.connect(archive)
            value = rng.choice(BAD_CELLS)
            with contextlib.suppress(sqlite3.DatabaseError), db:
                db.execute(f"UPDATE {table} SET {col} = ? WHERE rowid = ?", (value, rowid))
            db.close()
        elif kind == "cycle":  # parent links that loop, in rows and in genome bodies
            db = sqlite3.connect(archive)
            ids = [r[0] for r in db.execute("SELECT id FROM genomes WHERE id != 'teacher'")]
            with db:
                for a, b in zip(ids, ids[1:] + ids[:1], strict=True):
                    body = json.loads(
                        db.execute("SELECT body FROM genomes WHERE id = ?", (a,)).fetchone()[0]
                    )
                    body["meta"]["lineage"]["parents"] = [b]
                    db.execute(
                        "UPDATE genomes SET parent_id = ?, body = ? WHERE id = ?",
                        (b, json.dumps(body), a),
                    )
            db.close()
        elif kind == "bytes":
            archive.write_bytes(mutate_bytes(rng, archive.read_bytes()))
        else:
            victim = run / rng.choice(["archive.sqlite", "champion.json", "config.toml"])
            if rng.random() < 0.5:
                victim.unlink()
            else:
                victim.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randint(0, 300))))
        command = rng.choices(["report", "show", "eval", "export", "resume"], [10, 2, 2, 2, 1])[0]
        argv = {
            "report": ["report", str(run)],
            "show": ["show", str(run)],
            "eval": ["eval", str(run), "-n", "1"],
            "export": ["export", str(run)],
            "resume": ["resume", str(run), "-q"],
        }[command]
        cases.append(("run", argv, None))
    return cases


def argv_cases(rng: random.Random, real: dict[str, Path], tmp: Path, n: int) -> list[Any]:
    bad_config = tmp / "bad.toml"
    bad_config.write_text(f'env = "NoSuchEnv-v9"\n[teacher]\npath = "{MISSING_TEACHER}"\n')
    values = [
        "-1",
        "0",
        "1",
        str(2**70),
        "1e3",
        "x",
        "",
        "nosuchmodule:X",
        "NoSuchEnv-v0",
        "gymnasium:NoSuch",
        str(tmp),
        str(tmp / "missing.json"),
        str(real["plain"]),
        str(bad_config),
        "\x1b[2J",
    ]
    flags = {
        "run": ["--out", "--workers", "--executor", "--seed", "--strategy"],
        "resume": ["--workers", "--executor", "--generations"],
        "show": ["--png"],
        "eval": ["--env", "--episodes", "--seed", "--render-video"],
        "report": [],
        "export": ["--format", "--out"],
    }
    cases = []
    for _ in range(n):
        command = rng.choice([*flags, "bogus"])
        argv = [command]
        positional = {
            "run": [str(bad_config), str(tmp / "missing.toml"), str(tmp)],
            "resume": [str(tmp), str(tmp / "nope")],
        }.get(command, [str(real["plain"]), str(tmp / "missing.json"), str(tmp)])
        if command in ("show", "eval", "export") and rng.random() < 0.5:
            positional = [str(real["plain"])]
        if rng.random() < 0.9:
            argv.append(rng.choice(positional))
        for flag in rng.sample(flags.get(command, ["--x"]), k=min(2, len(flags.get(command, [])))):
            argv += [flag, rng.choice(values)]
        if rng.random() < 0.15:
            argv.append(rng.choice(["--nope", "-z", "extra"]))
        if command == "eval" and "--env" not in argv:
            argv += ["--env", rng.choice(["NoSuchEnv-v0", "nosuchmodule:X", "CartPole-v1"])]
        if command == "eval" and "--episodes" not in argv:
            argv += ["--episodes", "1"]
        if command == "export" and "--out" not in argv:
            argv += ["--out", str(tmp / "fuzz-export.pt")]
        if command == "show" and "--png" in argv:
            argv[argv.index("--png") + 1] = rng.choice([str(tmp), str(tmp / "x.gif"), "\x1b"])
        cases.append(("argv", argv, None))
    return cases


# ----------------------------------------------------------------- running
class CaseTimeout(BaseException):
    """A case ran past its time limit (BaseException: the CLI cannot swallow it)."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise CaseTimeout


def run_in_process(argv: list[str]) -> tuple[int, str, float]:
    from growagent.cli.main import main

    err, out = io.StringIO(), io.StringIO()
    start = time.monotonic()
    signal.alarm(CASE_SECONDS)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        signal.alarm(0)
    return code, err.getvalue(), time.monotonic() - start


def check(kind: str, argv: list[str], path: Path | None, code: int, stderr: str) -> str | None:
    """None if the outcome keeps the contract, else what is wrong."""
    if "Traceback" in stderr:
        return "traceback"
    lines = [line for line in stderr.splitlines() if line.strip()]
    if code == 0:
        if argv[0] in ("run", "resume") and kind != "run":
            return "a search started"
        if kind == "genome" and path is not None:
            try:
                genomes.load(path)
            except genomes.GenomeError as exc:
                return f"exit 0 on an invalid genome file ({exc})"
        return None if not lines else f"exit 0 with stderr {lines!r}"
    if code not in (1, 2):
        return f"exit {code}"
    if len(lines) != 1:
        return f"{len(lines)} stderr lines"
    if not lines[0].startswith("growagent: error: ") or not lines[0].isprintable():
        return f"bad line {lines[0]!r:.200}"
    return None


def _address_space() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmSize")


@pytest.mark.slow
def test_fuzz_the_error_contract(
    real: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import growagent.report

    t0 = time.monotonic()
    rng = random.Random(SEED)
    for name in "gcra":
        (tmp_path / name).mkdir()
    cases = [
        *genome_cases(rng, real, tmp_path / "g", 420),
        *config_cases(rng, real, tmp_path / "c", 200),
        *run_cases(rng, real, tmp_path / "r", 200),
        *argv_cases(rng, real, tmp_path / "a", 200),
    ]
    assert len(cases) >= 1000
    monkeypatch.setattr(growagent.report, "_save", lambda fig, path: None)
    monkeypatch.chdir(tmp_path)
    old_handler = signal.signal(signal.SIGALRM, _on_alarm)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (_address_space() + MEMORY_HEADROOM, hard))
    failures, slowest, exits = [], (0.0, []), {0: 0, 1: 0, 2: 0}
    try:
        for kind, argv, path in cases:
            try:
                code, stderr, seconds = run_in_process(argv)
            except CaseTimeout:
                failures.append((argv, f"over {CASE_SECONDS} s"))
                continue
            except MemoryError:
                failures.append((argv, "MemoryError escaped"))
                continue
            problem = check(kind, argv, path, code, stderr)
            if problem:
                failures.append((argv, problem))
            exits[code] = exits.get(code, 0) + 1
            if code == 1:
                print("exit 1:", argv, stderr.strip()[:300])
            slowest = max(slowest, (seconds, argv))
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        signal.signal(signal.SIGALRM, old_handler)
    t1 = time.monotonic()
    print(
        f"\n{len(cases)} cases in {t1 - t0:.0f} s, exit codes {exits}, slowest {slowest[0]:.1f} s: {slowest[1]}"
    )
    assert not failures, f"{len(failures)} cases break the contract:\n" + "\n".join(
        f"{argv!r:.200}: {problem}" for argv, problem in failures[:30]
    )

    # end to end: a sample through real subprocesses renders and exits as the user sees it
    sample = random.Random(SEED + 1).sample([c for c in cases if c[1][0] != "resume"], SAMPLE)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))

    def run_one(case: Any) -> tuple[Any, subprocess.CompletedProcess[str]]:
        proc = subprocess.run(
            [sys.executable, "-m", "growagent.cli.main", *case[1]],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )
        return case, proc

    with ThreadPoolExecutor(2) as pool:
        for (kind, argv, path), proc in pool.map(run_one, sample):
            problem = check(kind, argv, path, proc.returncode, proc.stderr)
            assert problem is None, (argv, problem, proc.stderr)
    print(f"subprocess sample: {time.monotonic() - t1:.0f} s")


# ------------------------------------------- the examples, one by one
def _one_line(argv: list[str], code: int = 2) -> str:
    got, stderr, _ = run_in_process(argv)
    assert check("argv", argv, None, got, stderr) is None, stderr
    assert got == code, stderr
    return stderr.strip()


def test_out_of_range_arguments_are_one_line(tmp_path: Path) -> None:
    g = genomes.save(genomes.minimal(4, 2), tmp_path / "g.json")
    line = _one_line(["eval", str(g), "--env", "CartPole-v1", "--seed", str(2**70)])
    assert "--seed" in line  # before: exit 1, "ValueError: Overflow when unpacking long long"
    assert "--episodes" in _one_line(["eval", str(g), "--env", "CartPole-v1", "-n", "-3"])
    assert "--workers" in _one_line(["resume", str(tmp_path), "-w", "-3"])
    assert "required" in _one_line(["show"])  # before: a usage block and the error, 2 lines


def test_export_into_a_directory_is_one_line(tmp_path: Path) -> None:
    g = genomes.save(genomes.minimal(4, 2), tmp_path / "g.json")
    assert "is a directory" in _one_line(["export", str(g), "--out", str(tmp_path)])


def test_render_video_needs_a_gif_path(tmp_path: Path) -> None:
    g = genomes.save(genomes.minimal(4, 2), tmp_path / "g.json")
    argv = ["eval", str(g), "--env", "CartPole-v1", "-n", "1", "--render-video", str(tmp_path)]
    assert ".gif" in _one_line(argv)  # before: exit 1, "ValueError: unknown file extension"


def test_show_on_a_fifo_or_a_device_is_one_line(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    for path in (tmp_path / "fifo", Path("/dev/zero")):  # before: hangs / fills memory
        assert "regular file" in _one_line(["show", str(path)])


def test_corrupt_bytes_never_reach_the_terminal(tmp_path: Path) -> None:
    path = tmp_path / "\x1b[2Jg.json"
    path.write_text("{}")
    line = _one_line(["show", str(path)])
    assert "\x1b" not in line and "\\x1b" in line

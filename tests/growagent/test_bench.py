"""``growagent bench``: every requested row runs and the doc gets one table line per row."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from growagent.bench import BenchSpec, baselines
from growagent.bench.doc import hypervolume, write_section
from growagent.bench.record import RECORD, RowResult
from growagent.cli.main import build_parser

REPO = Path(__file__).resolve().parents[2]
ROWS = ["evolution", "noise-off", "ppo-small", "reinit"]


def bench(*args, timeout=600):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "growagent.cli.main", "bench", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=timeout,
    )


def table_lines(doc: Path, env: str) -> list[str]:
    text = doc.read_text()
    body = text.split(f"<!-- bench {env} -->", 1)[1].split(f"<!-- bench {env} end -->", 1)[0]
    return [line for line in body.splitlines() if line.startswith("|")]


@pytest.mark.slow
def test_bench_runs_every_row_and_writes_one_table_line_per_row(tmp_path):
    doc, out = tmp_path / "docs" / "benchmarks.md", tmp_path / "out"
    doc.parent.mkdir()
    doc.write_text("# Benchmarks\n\nkept above\n")
    args = ["--env", "CartPole-v1", "--seeds", "0", "--budget", "3", "--wall", "60"]
    args += ["--rows", *ROWS, "--out", out, "--doc", doc, "--teacher-steps", "4096"]
    args += ["--distill-grad-steps", "50", "--distill-env-steps", "512", "--executor", "serial"]
    proc = bench(*args)
    assert proc.returncode == 0, proc.stderr

    lines = table_lines(doc, "CartPole-v1")
    header, rule, rows = lines[0], lines[1], lines[2:]
    width = header.count("|")
    assert width == 9 and all(line.count("|") == width for line in lines)
    assert set(rule.replace("|", "").split()) == {"---"}
    # the default row runs first; every requested row has exactly one line, in table order
    assert [line.split("|")[1].strip() for line in rows] == [
        "evolution",
        "noise-off",
        "reinit",
        "ppo-small",
    ]
    for row in ("evolution", "noise-off", "reinit"):
        run_dir = out / "CartPole-v1" / f"{row}-s0"
        assert (run_dir / "archive.sqlite").is_file() and (run_dir / "pareto.json").is_file()
    for row in ("evolution", "noise-off", "reinit", "ppo-small"):
        record = RowResult.load(out / "CartPole-v1" / f"{row}-s0" / RECORD)
        assert record.status == "ok" and record.front and record.wall > 0
        line = next(line for line in rows if line.split("|")[1].strip() == row)
        assert line.split("|")[2].strip() not in ("", "-")  # a best held-out return
    assert "kept above" in doc.read_text()
    assert "growagent bench --env CartPole-v1" in doc.read_text()
    assert (doc.parent / "bench-CartPole-v1-fronts.png").stat().st_size > 0
    assert (doc.parent / "bench-CartPole-v1-hypervolume.png").stat().st_size > 0

    # finished rows are not run again: the second call only rewrites the section
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob(RECORD)}
    proc = bench(*args)
    assert proc.returncode == 0, proc.stderr
    assert {p: p.stat().st_mtime_ns for p in out.rglob(RECORD)} == stamps
    assert doc.read_text().count("<!-- bench CartPole-v1 -->") == 1


def test_bad_row_is_one_line_error(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["bench", "--env", "CartPole-v1", "--rows", "nope"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("growagent: error: bench:") and "nope" in err[0]


def test_spec_runs_the_default_first_when_a_row_needs_it():
    spec = BenchSpec(envs=["CartPole-v1"], rows=["sb3-ppo", "random"])
    assert spec.order() == ["evolution", "random", "sb3-ppo"]
    with pytest.raises(ValueError, match="budget"):
        BenchSpec(envs=["CartPole-v1"], budget=1)


def test_write_section_replaces_only_its_own_markers(tmp_path):
    doc = tmp_path / "b.md"
    write_section(doc, "A-v1", "first\n")
    write_section(doc, "B-v1", "other\n")
    write_section(doc, "A-v1", "second\n")
    text = doc.read_text()
    assert "second" in text and "first" not in text and "other" in text
    assert text.index("<!-- bench A-v1 -->") < text.index("<!-- bench B-v1 -->")


def test_hypervolume_of_a_known_front():
    # (return, size) against reference (0, 10): boxes 2x(10-2) + (4-2)x(10-6) = 16 + 8
    assert hypervolume([(2.0, 2), (4.0, 6), (1.0, 8)], (0.0, 10.0)) == pytest.approx(24.0)
    assert hypervolume([(-1.0, 2)], (0.0, 10.0)) == 0.0


def test_agilerl_row_without_its_venv_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(baselines, "PEERS", tmp_path)
    result = baselines.agilerl("CartPole-v1", 0, 1.0, tmp_path / "row")
    assert result.status == "not installed"
    assert "benchmarks/peers/agilerl/README.md" in result.note

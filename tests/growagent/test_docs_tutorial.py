"""Every command of docs/tutorial.md, run for real so the doc cannot drift.

The doc's commands run as written, with the working directory a temporary
directory holding ``runs/cartpole.toml``: the demo config with only its
budgets (documented knobs) made tiny and a small teacher trained once for the
module. Blocks run in document order, each once; a test for a later block
first runs the blocks before it. Section 2's Python launch is run as a script
by tests/growagent/test_tutorial.py and is not repeated here.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomli_w

import genomes

from .test_tutorial import tutorial_script

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "tutorial.md"
RUN = Path("runs") / "cartpole-demo"


@dataclass(frozen=True)
class Block:
    section: str
    lang: str
    code: str


def doc_blocks() -> list[Block]:
    """The doc's fenced blocks, each with the title of its section."""
    blocks, section = [], ""
    fence = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
    text = DOC.read_text(encoding="utf-8")
    for match in re.finditer(r"^## ([^\n]*)$|" + fence.pattern, text, re.S | re.M):
        if match.group(1) is not None:
            section = match.group(1)
        else:
            blocks.append(Block(section, match.group(2), match.group(3)))
    return blocks


def runnable() -> list[Block]:
    """The ``bash`` and ``python`` blocks this module runs (all but section 2's launch)."""
    return [
        b for b in doc_blocks() if b.lang in ("bash", "python") and not b.section.startswith("2.")
    ]


def test_every_bash_and_python_block_is_run_here_or_in_test_tutorial():
    blocks = [b for b in doc_blocks() if b.lang in ("bash", "python")]
    skipped = [b for b in blocks if b not in runnable()]
    assert [b.code for b in skipped] == [tutorial_script()]
    assert set(CHECKS) == {i for i, _ in enumerate(runnable())}
    # no block in a language this module would silently ignore
    assert {b.lang for b in doc_blocks()} <= {"bash", "python", "text"}


def tiny_demo_config(teacher: Path) -> dict:
    """runs/cartpole.toml with its budgets made tiny (same name, env and tables)."""
    cfg = tomllib.loads((REPO / "runs" / "cartpole.toml").read_text(encoding="utf-8"))
    cfg["heldout_episodes"] = 5
    cfg["teacher"] = {"path": str(teacher)}
    cfg["evolution"].update(generations=1, mu=2, offspring=2, seeds=["minimal", "mlp:4"])
    cfg["assess"]["eval_episodes"] = 4
    cfg["assess"]["distill"].update(
        env_steps=512, teacher_states=1024, probe_states=256, grad_steps=300
    )
    cfg["executor"] = {"kind": "serial"}
    return cfg


class Tutorial:
    """A temporary directory in which the doc's blocks have run, in order, once each."""

    def __init__(self, root: Path):
        self.root = root
        self.results: dict[int, object] = {}
        bin_dir = root.parent / "bin"  # `growagent` on PATH, as after `source .venv/bin/activate`
        bin_dir.mkdir()
        shim = bin_dir / "growagent"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m growagent.cli.main "$@"\n')
        shim.chmod(0o755)
        self.env = dict(
            os.environ,
            OMP_NUM_THREADS="1",
            PYTHONPATH=str(REPO),
            PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        )

    def sh(self, code: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", "-e", "-c", code],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    def upto(self, index: int):
        """Run blocks 0..index not yet run; the result of block ``index``."""
        for i, block in enumerate(runnable()[: index + 1]):
            if i not in self.results:
                self.results[i] = self._run(block)
        return self.results[index]

    def _run(self, block: Block):
        if block.lang == "bash":
            return self.sh(block.code)
        namespace: dict = {"__name__": "__main__"}
        cwd = os.getcwd()
        os.chdir(self.root)
        try:
            exec(compile(block.code, f"{DOC.name} ({block.section})", "exec"), namespace)
        except Exception as exc:  # reported by that block's own test
            return exc
        finally:
            os.chdir(cwd)
        return namespace


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory, teacher_file) -> Tutorial:
    root = tmp_path_factory.mktemp("tutorial") / "work"
    (root / "runs").mkdir(parents=True)
    (root / "runs" / "cartpole.toml").write_text(tomli_w.dumps(tiny_demo_config(teacher_file)))
    return Tutorial(root)


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def namespace(result) -> dict:
    if isinstance(result, Exception):
        raise result
    return result


# One check per runnable block, in document order: what the doc says it does.


def check_run(t: Tutorial, proc) -> None:  # growagent run runs/cartpole.toml
    out = ok(proc)
    assert "Pareto front" in out and "champion" in out
    for name in [
        "archive.sqlite",
        "config.toml",
        "champion.json",
        "pareto.json",
        "report/index.html",
        "teacher.json",
    ]:
        assert (t.root / RUN / name).stat().st_size > 0, name


def check_resume(t: Tutorial, proc) -> None:  # growagent resume runs/cartpole-demo
    assert "Pareto front" in ok(proc)
    # the comment's --generations extends the finished run by one generation
    before = generations(t)
    ok(t.sh(f"growagent resume {RUN} --generations 2 --quiet"))
    assert generations(t) == before + 1


def generations(t: Tutorial) -> int:
    with sqlite3.connect(t.root / RUN / "archive.sqlite") as db:
        return db.execute("SELECT count(*) FROM generations").fetchone()[0]


def check_show_eval(t: Tutorial, proc) -> None:  # growagent show / growagent eval
    out = ok(proc)
    assert "total: " in out  # show's summary of the champion
    assert (t.root / "champion.png").stat().st_size > 1000
    assert "over 20 episodes" in out


def check_inspect(t: Tutorial, ns) -> None:  # genomes.load, summary, draw, to_pyg, compile
    ns = namespace(ns)
    assert isinstance(ns["g"], genomes.Genome)
    assert (t.root / "champion.svg").stat().st_size > 0
    assert type(ns["data"]).__name__ == "Data"
    logits, value = ns["module"](__import__("torch").zeros(1, 4))
    assert logits.shape == (1, 2) and value.shape[0] == 1
    assert ns["g"].meta["lineage"] is not None


def check_sqlite(t: Tutorial, proc) -> None:  # sqlite3 ... FROM assessments
    rows = [line.split("|") for line in ok(proc).splitlines()]
    assert 1 <= len(rows) <= 10 and all(len(r) == 4 for r in rows)


def check_pandas(t: Tutorial, ns) -> None:  # pd.read_sql, Archive(...).genome
    ns = namespace(ns)
    assert len(ns["df"]) > 0
    assert isinstance(ns["best"], genomes.Genome)


def check_export(t: Tutorial, proc) -> None:  # growagent export ... torchscript / onnx
    ok(proc)
    assert (t.root / "champion.pt").stat().st_size > 0
    assert (t.root / "champion.onnx").stat().st_size > 0


def check_policy(t: Tutorial, ns) -> None:  # torch.jit.load("champion.pt")
    action = namespace(ns)["action"]
    assert action.shape == (1,) and int(action) in (0, 1)


CHECKS = dict(
    enumerate(
        [
            check_run,
            check_resume,
            check_show_eval,
            check_inspect,
            check_sqlite,
            check_pandas,
            check_export,
            check_policy,
        ]
    )
)


@pytest.mark.slow
@pytest.mark.parametrize(
    "index", range(len(runnable())), ids=[" ".join(b.code.split()[:4]) for b in runnable()]
)
def test_tutorial_block(tutorial, index):
    if runnable()[index].code.startswith("sqlite3") and shutil.which("sqlite3") is None:
        pytest.skip("the sqlite3 command-line shell is not installed")
    CHECKS[index](tutorial, tutorial.upto(index))


@pytest.mark.slow
def test_a_wrong_key_is_the_one_line_the_doc_shows(tutorial):
    text = DOC.read_text(encoding="utf-8")
    shown = re.search(r"```text\n\$ (.*?)\n(.*?)\n```", text, re.S)
    command, expected = shown.group(1), shown.group(2)
    assert command == "growagent run bad.toml"
    bad = tomllib.loads((tutorial.root / "runs" / "cartpole.toml").read_text())
    bad["evolution"]["generatoins"] = 3
    (tutorial.root / "bad.toml").write_text(tomli_w.dumps(bad))
    proc = tutorial.sh(command)
    assert proc.returncode == 2
    pattern = ".*".join(map(re.escape, expected.split("...")))
    assert re.fullmatch(pattern, proc.stderr.strip()), proc.stderr


def test_the_run_options_the_doc_lists_are_the_cli_s():
    from growagent.cli.main import build_parser

    text = " ".join(DOC.read_text(encoding="utf-8").split())
    listed = re.search(r"Options: (.*?)\.", text).group(1)
    run = build_parser()._subparsers._group_actions[0].choices["run"]
    flags = {flag: action for action in run._actions for flag in action.option_strings}
    for flag, values in re.findall(r"`(--?\w+)(?: ([\w|]+))?`", listed):
        assert flag in flags, flag
        if values and "|" in values:
            assert set(values.split("|")) == set(flags[flag].choices), flag

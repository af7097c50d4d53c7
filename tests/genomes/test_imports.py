"""Importing the reusable packages stays light: ``import genomes`` and ``import operators``
pull in no search stack, no torch_geometric and no matplotlib.

Each check runs in a fresh interpreter (this one has long since imported
everything) and reads that interpreter's ``sys.modules``. An import that fails
fails the check; the last cases show that a heavy import is reported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("deap", "gymnasium", "matplotlib", "ray", "stable_baselines3", "torch_geometric")

CHECK = """
import json, sys
{statement}
loaded = {{name.split(".")[0] for name in sys.modules}}
print(json.dumps(sorted(loaded & set({heavy!r}))))
"""


def heavy_modules_after(statement: str) -> list[str]:
    """The heavy top-level packages in ``sys.modules`` after ``statement``, in a fresh interpreter."""
    proc = subprocess.run(
        [sys.executable, "-c", CHECK.format(statement=statement, heavy=HEAVY)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        timeout=120,
    )
    assert proc.returncode == 0, f"{statement!r} failed:\n{proc.stderr}"
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.parametrize(
    "statement",
    [
        "import genomes, genomes.testing",
        "import operators, operators.testing",
    ],
)
def test_import_is_light(statement: str) -> None:
    assert heavy_modules_after(statement) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    "statement, heavy",
    [
        ("import operators, growagent.rl.envs", "gymnasium"),  # the RL side pulls gymnasium
        ("import genomes, genomes.pyg, torch_geometric.data", "torch_geometric"),
    ],
)
def test_the_check_reports_a_heavy_import(statement: str, heavy: str) -> None:
    assert heavy in heavy_modules_after(statement)


def test_the_check_fails_when_the_import_fails() -> None:
    with pytest.raises(AssertionError, match="ModuleNotFoundError"):
        heavy_modules_after("import operators_that_do_not_exist")

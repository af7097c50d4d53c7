"""Packaging: light base dependencies, extras, and one-line errors for missing ones.

A missing package is simulated in a fresh interpreter by putting ``None`` in
``sys.modules`` under its name, which is how Python's import system blocks a
module: ``import`` raises ModuleNotFoundError and ``importlib.util.find_spec``
returns None, as for a package that is not installed.
"""

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import growagent

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _names(requirements):
    return {Requirement(r).name for r in requirements}


def test_base_install_is_networkx_numpy_torch():
    assert _names(PROJECT["dependencies"]) == {"networkx", "numpy", "torch"}
    (torch,) = [Requirement(r) for r in PROJECT["dependencies"] if r.startswith("torch")]
    assert torch.specifier.contains("2.13.0")  # the CPU build on disk


def test_search_extra_installs_what_growagent_checks_for():
    extras = PROJECT["optional-dependencies"]
    module = {"scikit-learn": "sklearn"}  # distributions whose module has another name
    search = {module.get(name, name.replace("-", "_")) for name in _names(extras["search"])}
    assert search == set(growagent.SEARCH_STACK)
    assert _names(extras["plot"]) == {"matplotlib"}
    assert _names(extras["pyg"]) == {"torch-geometric"}


def run_without(blocked, code):
    """Run ``code`` in a fresh interpreter in which the modules ``blocked`` are missing."""
    block = "".join(f"sys.modules[{name!r}] = None\n" for name in blocked)
    proc = subprocess.run(
        [sys.executable, "-c", f"import sys\n{block}{code}"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    return proc


LIGHT = """
import json
import numpy as np
import genomes, operators

g = genomes.mlp(4, 2, hidden=[8])
child = operators.REGISTRY["widen"].fn(g, rng=np.random.default_rng(0))
out = {"grew": child.num_params() > g.num_params()}
for name, call in [("to_pyg", lambda: genomes.to_pyg(g)), ("draw", lambda: g.draw("g.png"))]:
    try:
        call()
    except ImportError as exc:
        out[name] = [type(exc).__name__, str(exc)]
try:
    import growagent
except ImportError as exc:
    out["growagent"] = [type(exc).__name__, str(exc)]
print(json.dumps(out))
"""


def test_genomes_and_operators_work_without_the_search_stack():
    proc = run_without(growagent.SEARCH_STACK, LIGHT)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["grew"]
    assert out["to_pyg"] == [
        "ImportError",
        "genomes.to_pyg needs torch_geometric: pip install 'growagent[pyg]'",
    ]
    assert out["draw"] == [
        "ImportError",
        "genomes.draw needs matplotlib: pip install 'growagent[plot]'",
    ]
    assert out["growagent"] == [
        "ImportError",
        "growagent needs gymnasium, deap, moocore, torch_geometric, matplotlib, tqdm, tomli_w, "
        "scipy, sklearn (the search stack): pip install 'growagent[search]'",
    ]


@pytest.mark.parametrize("missing", ["gymnasium", "deap"])
def test_cli_without_the_search_stack_names_the_extra(missing):
    proc = run_without(
        [missing],
        "import runpy\nsys.argv = ['growagent', '--help']\n"
        "runpy.run_module('growagent.cli.main', run_name='__main__')",
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"ImportError: growagent needs {missing} (the search stack): "
        "pip install 'growagent[search]'"
    )


def test_a_broken_optional_package_is_not_reported_as_missing():
    # torch_geometric is installed but one of its own imports fails: the real error shows
    proc = run_without(
        ["torch_geometric.data"],
        "import genomes\ngenomes.to_pyg(genomes.mlp(4, 2))",
    )
    assert proc.returncode == 1
    assert "growagent[pyg]" not in proc.stderr
    assert "ModuleNotFoundError" in proc.stderr

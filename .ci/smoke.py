"""Smoke test of an installed growagent wheel, run by ``make wheel-smoke``.

Run it with the clean venv's python from a directory outside the checkout:

    python .ci/smoke.py base     # after `pip install growagent-*.whl`
    python .ci/smoke.py search   # after `pip install 'growagent-*.whl[search]'`

``base`` checks that genomes and operators work with networkx, NumPy and torch
alone and that the optional parts name their extra in one line; ``search``
imports every module, runs a two-generation CartPole search with a tiny
budget through the installed ``growagent`` command, and exports the champion.
Not collected by pytest (it lives outside ``tests/`` and the packages).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
SITE = Path(sysconfig.get_paths()["purelib"]).resolve()
GROWAGENT = Path(sys.executable).parent / "growagent"

TINY = """
name = "smoke"
env = "CartPole-v1"
seed = 0
heldout_episodes = 5

[teacher]
steps = 16384

[evolution]
generations = 2
mu = 3
offspring = 3
seeds = ["minimal", "mlp:4"]

[assess]
eval_episodes = 4

[assess.distill]
env_steps = 512
teacher_states = 1024
probe_states = 256
grad_steps = 300

[predictor]
min_samples = 4
screen_factor = 2
epochs = 30

[executor]
kind = "process"
workers = 2
"""


def installed(package: str) -> object:
    """Import ``package`` and check that it comes from the venv, not the checkout."""
    module = importlib.import_module(package)
    where = Path(module.__file__ or "").resolve()
    assert SITE in where.parents, f"{package} imported from {where}, not from {SITE}"
    assert CHECKOUT not in where.parents, f"{package} imported from the checkout"
    return module


def import_all(package: str) -> int:
    """Import ``package`` and every submodule; returns how many."""
    root = installed(package)
    names = [package] + [
        m.name
        for m in pkgutil.walk_packages(root.__path__, prefix=f"{package}.")  # type: ignore[attr-defined]
    ]
    for name in names:
        importlib.import_module(name)
    return len(names)


def expect_import_error(call, message: str) -> None:
    try:
        call()
    except ImportError as exc:
        assert str(exc) == message, str(exc)
    else:
        raise AssertionError(f"expected ImportError: {message}")


def base() -> None:
    import numpy as np

    for name in ("gymnasium", "deap", "torch_geometric", "matplotlib", "tqdm"):
        assert importlib.util.find_spec(name) is None, f"{name} came with the base install"
    n = import_all("genomes") + import_all("operators")
    import genomes
    import operators

    g = genomes.mlp(4, 2, hidden=[8])
    child = operators.REGISTRY["widen"].fn(g, rng=np.random.default_rng(0))
    back = genomes.load(genomes.save(child, Path("child.json")))
    assert back.structural_hash() == child.structural_hash()
    expect_import_error(
        lambda: genomes.to_pyg(g),
        "genomes.to_pyg needs torch_geometric: pip install 'growagent[pyg]'",
    )
    try:
        importlib.import_module("growagent")
    except ImportError as exc:
        assert "pip install 'growagent[search]'" in str(exc), str(exc)
    else:
        raise AssertionError("import growagent worked without the search stack")
    proc = subprocess.run([GROWAGENT, "--help"], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "pip install 'growagent[search]'" in proc.stderr.splitlines()[-1], proc.stderr
    print(f"base install: {n} modules of genomes and operators import; extras named")


def cli(*args: object) -> str:
    proc = subprocess.run([GROWAGENT, *map(str, args)], capture_output=True, text=True)
    assert proc.returncode == 0, f"growagent {' '.join(map(str, args))}:\n{proc.stderr}"
    return proc.stdout


def search() -> None:
    n = sum(import_all(p) for p in ("genomes", "operators", "growagent"))
    print(f"search install: {n} modules import")
    Path("tiny.toml").write_text(TINY, encoding="utf-8")
    start = time.perf_counter()
    out = cli("run", "tiny.toml", "-o", "run", "-q")
    assert "Pareto front" in out and "champion" in out, out
    for name in ("archive.sqlite", "config.toml", "champion.json", "report/index.html"):
        assert Path("run", name).stat().st_size > 0, name
    print(f"two-generation CartPole search: {time.perf_counter() - start:.0f} s")
    out = cli("export", "run")
    target = Path("run", "export", "champion.pt")
    assert f"exported: {target}" in out, out

    import gymnasium
    import torch

    policy = torch.jit.load(str(target))
    obs, _ = gymnasium.make("CartPole-v1").reset(seed=0)
    action = policy(torch.as_tensor(obs, dtype=torch.float32)[None])
    assert action.shape == (1,) and int(action[0]) in (0, 1), action
    print(f"exported champion: {target} acts on CartPole")


if __name__ == "__main__":
    {"base": base, "search": search}[sys.argv[1]]()

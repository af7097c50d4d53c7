"""Importing the reusable packages stays light (no search stack, no torch_geometric)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

HEAVY = ("deap", "gymnasium", "torch_geometric", "matplotlib", "ray", "stable_baselines3")


def loaded_after(statement: str) -> list[str]:
    code = f"import sys\n{statement}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    mods = set(out.stdout.split())
    return [m for m in HEAVY if m in mods]


def test_import_genomes_is_light() -> None:
    assert loaded_after("import genomes, genomes.testing") == []


def test_import_operators_is_light() -> None:
    if importlib.util.find_spec("operators") is None:
        return
    statement = "import genomes\ntry:\n    import operators\nexcept ImportError:\n    pass"
    assert loaded_after(statement) == []

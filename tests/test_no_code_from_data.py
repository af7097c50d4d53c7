"""No code in the package runs code hidden in, or named by, a data file.

Every ``.py`` file in ``genomes/``, ``operators/`` and ``growagent/`` is parsed
with :mod:`ast`. A finding is a call that unpickles (``pickle``, ``shelve``,
``marshal``, ``torch.load`` without ``weights_only=True``, ``numpy.load`` with
``allow_pickle=True``, ``torch.jit.load``, SB3's loaders), evaluates
(``eval``, ``exec``, ``compile``, ``yaml.load`` without a safe loader), or
imports a module by a name computed at run time (``__import__``,
``importlib.import_module``, ``runpy``, loading a module from a file path),
or an import of ``cloudpickle``, ``dill``, ``joblib``, ``stable_baselines3``
or ``sb3_contrib`` (their loaders unpickle). Imports by name are allowed only
at the call sites listed in ``ALLOWED`` (one per file), each with the reason
its name comes from code or from a config the user wrote, never a data file.

Not covered: ``multiprocessing`` unpickling what the package's own workers
send over their pipes (process-internal, never a file).
"""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("genomes", "operators", "growagent")

ALLOWED: dict[tuple[str, str], str] = {
    # (file, call): why its name never comes from a data file; one call site each
    ("growagent/executors.py", "importlib.import_module"): (
        "resolve(): the executor imports its task function from a 'module:function' in code"
    ),
    ("growagent/rl/envs.py", "importlib.import_module"): (
        "the env module of a 'module:EnvId' in a config the user wrote (trusted input); "
        "keeping genome files and archives from reaching it is issue 15 item 2's other half"
    ),
    ("genomes/_optional.py", "importlib.import_module"): (
        "require(): an optional dependency (matplotlib, torch_geometric) named in code"
    ),
    ("growagent/__init__.py", "importlib.util.find_spec"): (
        "_check_search_stack(): looks up, without importing, the modules listed in SEARCH_STACK"
    ),
    **{
        ("growagent/bench/baselines.py", module): (
            "the sb3-ppo row of growagent bench trains a fresh SB3 model and never loads one"
        )
        for module in (
            "stable_baselines3",
            "stable_baselines3.common.callbacks",
            "stable_baselines3.common.env_util",
        )
    },
}

_IMPORT_BY_NAME = {
    "builtins.__import__",
    "importlib.__import__",
    "importlib.import_module",
    "importlib.util.find_spec",
    "importlib.util.spec_from_file_location",
    "importlib.util.module_from_spec",
    "importlib.machinery.SourceFileLoader",
    "importlib.machinery.SourcelessFileLoader",
    "runpy.run_path",
    "runpy.run_module",
    "imp.load_source",
    "imp.load_module",
}
_ALWAYS = {
    "builtins.eval": "eval",
    "builtins.exec": "exec",
    "builtins.compile": "compile (code from text)",
    "marshal.load": "marshal",
    "marshal.loads": "marshal",
    "shelve.open": "shelve unpickles",
    "torch.jit.load": "TorchScript runs the loaded program",
    "torch.package.PackageImporter": "torch.package unpickles",
    "pandas.read_pickle": "unpickles",
    "yaml.unsafe_load": "unsafe YAML",
    "yaml.full_load": "FullLoader constructs Python objects",
}
_PICKLE_MODULES = ("pickle", "_pickle", "cPickle", "pickle5")
_BANNED_IMPORTS = ("cloudpickle", "dill", "joblib", "stable_baselines3", "sb3_contrib")


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_const(node: ast.expr | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


class _Scanner(ast.NodeVisitor):
    def __init__(self, tree: ast.Module):
        self.aliases: dict[str, str] = {}
        self.local: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname:
                        self.aliases[a.asname] = a.name
                    else:
                        self.aliases[a.name.split(".")[0]] = a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    self.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.local.add(node.name)
        self.scope: list[str] = []
        self.findings: list[tuple[int, str, str, str]] = []  # line, scope, name, why

    def qualify(self, dotted: str) -> str:
        head, _, rest = dotted.partition(".")
        if head in self.aliases:
            head = self.aliases[head]
        elif not rest and head in dir(builtins) and head not in self.local:
            head = f"builtins.{head}"
        return f"{head}.{rest}" if rest else head

    def add(self, node: ast.AST, name: str, why: str) -> None:
        self.findings.append((node.lineno, ".".join(self.scope), name, why))

    def _scoped(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scoped

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            if a.name.split(".")[0] in _BANNED_IMPORTS:
                self.add(node, a.name, "imports a library whose loaders unpickle")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and not node.level and node.module.split(".")[0] in _BANNED_IMPORTS:
            self.add(node, node.module, "imports a library whose loaders unpickle")

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        dotted = _dotted(node.func)
        if dotted is None:
            return
        name = self.qualify(dotted)
        module, _, attr = name.rpartition(".")
        if name in _ALWAYS:
            self.add(node, name, _ALWAYS[name])
        elif name in _IMPORT_BY_NAME:
            self.add(node, name, "imports a module by a run-time name")
        elif module in _PICKLE_MODULES and attr in ("load", "loads", "Unpickler"):
            self.add(node, name, "unpickles")
        elif name in ("torch.load", "torch.serialization.load"):
            if not _is_const(_keyword(node, "weights_only"), True):
                self.add(node, name, "torch.load without weights_only=True unpickles")
        elif name == "numpy.load":
            if not (
                _keyword(node, "allow_pickle") is None
                or _is_const(_keyword(node, "allow_pickle"), False)
            ):
                self.add(node, name, "numpy.load with allow_pickle")
        elif name == "yaml.load":
            loader = _keyword(node, "Loader")
            if loader is None and len(node.args) > 1:
                loader = node.args[1]
            text = _dotted(loader) if loader is not None else None
            if not (text and text.rpartition(".")[2] in ("SafeLoader", "CSafeLoader")):
                self.add(node, name, "yaml.load without SafeLoader")


def scan(source: str) -> list[tuple[int, str, str, str]]:
    """The findings in one module's source: (line, enclosing scope, call, why)."""
    tree = ast.parse(source)
    scanner = _Scanner(tree)
    scanner.visit(tree)
    return scanner.findings


def _package_files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_no_package_code_unpickles_evals_or_imports_by_name():
    sites: dict[tuple[str, str], list[str]] = {key: [] for key in ALLOWED}
    bad = []
    for path in _package_files():
        rel = path.relative_to(ROOT).as_posix()
        for line, scope, name, why in scan(path.read_text()):
            where = f"{rel}:{line} in {scope or '<module>'}: {name} ({why})"
            (sites[(rel, name)] if (rel, name) in ALLOWED else bad).append(where)
    bad += [w for found in sites.values() if len(found) > 1 for w in found]
    assert not bad, "code from data (or a second call at an allowed site):\n" + "\n".join(bad)
    stale = [key for key, found in sites.items() if not found]
    assert not stale, f"stale ALLOWED entries: {stale}"


def test_the_scan_covers_every_package():
    files = {p.relative_to(ROOT).parts[0] for p in _package_files()}
    assert files == set(PACKAGES)
    assert len(_package_files()) > 50


@pytest.mark.parametrize(
    "source",
    [
        "import pickle\npickle.loads(b)",
        "import pickle as p\np.load(f)",
        "from pickle import Unpickler\nUnpickler(f).load()",
        "from pickle import loads as l\nl(b)",
        "import cloudpickle",
        "import dill.source",
        "from stable_baselines3 import PPO\nPPO.load(path)",
        "from sb3_contrib import RecurrentPPO",
        "import torch\ntorch.load(f)",
        "import torch\ntorch.load(f, weights_only=False)",
        "import torch\ntorch.jit.load(f)",
        "import numpy as np\nnp.load(f, allow_pickle=True)",
        "eval(text)",
        "exec(text)",
        "compile(text, 'f', 'exec')",
        "import marshal\nmarshal.loads(b)",
        "import yaml\nyaml.load(s)",
        "import yaml\nyaml.load(s, Loader=yaml.Loader)",
        "__import__(name)",
        "import importlib\nimportlib.import_module(name)",
        "from importlib import import_module\nimport_module(name)",
        "import importlib.util\nimportlib.util.spec_from_file_location('m', p)",
        "import runpy\nrunpy.run_path(p)",
        "def f():\n    import shelve\n    shelve.open(p)",
    ],
)
def test_scan_finds(source):
    assert scan(source), source


@pytest.mark.parametrize(
    "source",
    [
        "import torch\ntorch.load(f, weights_only=True, map_location='cpu')",
        "import numpy as np\nnp.load(f)\nnp.load(f, allow_pickle=False)",
        "import yaml\nyaml.load(s, Loader=yaml.SafeLoader)\nyaml.safe_load(s)",
        "import json\njson.loads(s)",
        "genome.compile()\nmodule.eval()\nself.ctx.load(gid)",
        "def eval(x):\n    return x\neval(1)",
    ],
)
def test_scan_passes(source):
    assert scan(source) == [], source

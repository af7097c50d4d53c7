"""One-line errors for the optional dependencies of :mod:`genomes`.

``genomes`` needs networkx, NumPy and torch only; ``draw`` needs matplotlib
(``pip install 'growagent[plot]'``) and ``to_pyg`` torch_geometric
(``pip install 'growagent[pyg]'``), imported when called.
"""

from __future__ import annotations

import importlib


def require(module: str, *, feature: str, extra: str) -> None:
    """Import ``module``, or raise an ImportError naming the extra that installs it.

    >>> require("networkx", feature="genomes", extra="plot")
    >>> require("no_such_module_xyz", feature="genomes.thing", extra="thing")
    Traceback (most recent call last):
    ...
    ImportError: genomes.thing needs no_such_module_xyz: pip install 'growagent[thing]'
    """
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise  # the package is there but one of its own imports is missing
        raise ImportError(f"{feature} needs {module}: pip install 'growagent[{extra}]'") from None

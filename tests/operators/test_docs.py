"""docs/operators.md: its ```python blocks run, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import operators

DOC = Path(__file__).resolve().parents[2] / "docs" / "operators.md"


def python_blocks(text: str) -> list[str]:
    """The code of every block fenced as ```python (```text blocks are not run)."""
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.S | re.M)


def test_the_operators_page_examples_run() -> None:
    blocks = python_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 2
    namespace: dict[str, object] = {"__name__": "docs_operators"}
    registered = dict(operators.REGISTRY)
    try:
        for i, code in enumerate(blocks):
            exec(compile(code, f"{DOC.name} python block {i}", "exec"), namespace)
    finally:  # a block may register an operator: other tests draw from REGISTRY
        operators.REGISTRY.clear()
        operators.REGISTRY.update(registered)
    assert "swap_units" in namespace  # the worked example ran

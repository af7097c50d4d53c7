"""The ``growagent`` command line (placeholder until the evolution issue lands)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``growagent`` command."""
    print("growagent: no commands yet", file=sys.stderr)
    return 2

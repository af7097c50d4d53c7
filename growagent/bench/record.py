"""What one row of one seed leaves behind: ``row.json`` in its directory.

A row whose ``row.json`` exists is finished and is not run again; the table
is computed from these records, so it can be rewritten without running anything.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

RECORD = "row.json"
"""The record's file name inside the row's directory."""


@dataclass
class RowResult:
    """One row's outcome on one task and seed."""

    env: str
    row: str
    seed: int
    status: Literal["ok", "failed", "not implemented", "not installed"] = "ok"
    note: str = ""
    """Why it did not run, or what the figures mean for this row."""
    front: list[tuple[float, int]] = field(default_factory=list)
    """The held-out front: ``(held-out return, policy parameters)`` per agent."""
    curve: list[tuple[float, float, int]] = field(default_factory=list)
    """``(seconds, return, policy parameters)`` of each assessed agent in the order
    they finished (search returns, not held-out): the hypervolume-against-time plot."""
    wall: float = float("nan")
    """Wall seconds of the row (teacher excluded: it is shared)."""
    assessments: int | None = None
    """Assessments made (None: the row does not assess)."""
    env_steps: int | None = None
    """Training env steps, when counted."""
    env_steps_bound: int | None = None
    """An upper bound of the training env steps, when only that is known."""
    stopped_at_wall: bool = False
    """The wall-time cap stopped the search before its budget was spent."""

    @property
    def best(self) -> float | None:
        """Best held-out return of the front."""
        return max((r for r, _ in self.front), default=None)

    def smallest_within(self, target: float, tolerance: float = 0.05) -> int | None:
        """Parameters of the smallest agent whose held-out return is within ``tolerance``
        (relative) of ``target``; None if none is."""
        floor = target - tolerance * abs(target)
        return min((s for r, s in self.front if r >= floor), default=None)

    def save(self, directory: Path) -> Path:
        """Write ``directory/row.json``."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / RECORD
        data = dataclasses.asdict(self)
        data["wall"] = None if self.wall != self.wall else self.wall
        path.write_text(json.dumps(data, indent=1), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> RowResult:
        """Read a ``row.json``."""
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        data["front"] = [(float(r), int(s)) for r, s in data.get("front", [])]
        data["curve"] = [(float(t), float(r), int(s)) for t, r, s in data.get("curve", [])]
        data["wall"] = float("nan") if data.get("wall") is None else float(data["wall"])
        return cls(**data)

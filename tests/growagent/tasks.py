"""Byte-in, byte-out tasks used by the executor tests (importable by workers)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def upper(payload: bytes) -> bytes:
    """Upper-case the payload."""
    return payload.upper()


def fail(payload: bytes) -> bytes:
    """Always raise."""
    raise ValueError(f"bad payload {payload!r}")


def die_once(payload: bytes) -> bytes:
    """Kill the worker process the first time (marker file in the payload path)."""
    marker = Path(payload.decode())
    if not marker.exists():
        marker.write_text("died")
        os._exit(3)
    return b"survived"


def sleep_once(payload: bytes) -> bytes:
    """Hang the first time (longer than the test timeout), then answer."""
    marker = Path(payload.decode())
    if not marker.exists():
        marker.write_text("slept")
        time.sleep(60)
    return b"woke"


def sleep_for(payload: bytes) -> bytes:
    """Sleep ``float(payload)`` seconds, then answer with this worker's pid."""
    time.sleep(float(payload.decode()))
    return str(os.getpid()).encode()

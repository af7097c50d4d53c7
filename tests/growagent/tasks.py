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


def call_exit(payload: bytes) -> bytes:
    """Call sys.exit with the payload as the code (as a badly written env might)."""
    import sys

    sys.exit(int(payload.decode()))


def leak(payload: bytes) -> bytes:
    """Hold ever more memory (a leaking env): 16 MiB more every 20 ms, up to the payload's
    MiB, then answer."""
    held = []
    for _ in range(int(payload.decode()) // 16):
        held.append(bytearray(16 * 2**20))
        time.sleep(0.02)
    return b"%d" % len(held)


def spin(payload: bytes) -> bytes:
    """Loop in Python for ``float(payload)`` seconds (a hung env that never sleeps)."""
    end = time.monotonic() + float(payload.decode())
    while time.monotonic() < end:
        pass
    return b"spun"

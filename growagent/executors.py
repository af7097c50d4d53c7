"""Executors: run byte-in, byte-out tasks serially, in local processes or on Ray.

A task is a function named by its import path (``"module:function"``) applied
to a ``bytes`` payload; it returns ``bytes``. Nothing DEAP-specific is ever
pickled. Results are yielded as they complete, so the caller can commit each
one to the archive at once. A task that raises, times out or whose worker
dies is retried (once by default), then reported as failed; the run goes on.

    >>> ex = SerialExecutor()
    >>> [r.output for r in ex.run("growagent.executors:echo", [b"a", b"b"])]
    [b'a', b'b']
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any


@dataclass
class TaskResult:
    """The outcome of one task.

    Attributes
    ----------
    index : int
        Position of the payload in the submitted list.
    output : bytes or None
        The function's return value; None when the task failed.
    error : str or None
        Why the last attempt failed (exception, timeout, worker died).
    attempts : int
        How many times the task was started.
    """

    index: int
    output: bytes | None
    error: str | None
    attempts: int


def echo(payload: bytes) -> bytes:
    """Return the payload (a task for tests and examples)."""
    return payload


def resolve(path: str) -> Callable[[bytes], bytes]:
    """Import ``"module:function"`` and return the function."""
    module, _, name = path.partition(":")
    fn: Callable[[bytes], bytes] = getattr(importlib.import_module(module), name)
    return fn


class SerialExecutor:
    """Run tasks one after another in this process (no timeouts)."""

    def __init__(self, retries: int = 1):
        self.retries = retries
        self.workers = 1

    def run(self, fn: str, payloads: list[bytes]) -> Iterator[TaskResult]:
        """Yield a :class:`TaskResult` per payload, in order."""
        func = resolve(fn)
        for i, payload in enumerate(payloads):
            error = None
            for attempt in range(1, self.retries + 2):
                try:
                    yield TaskResult(i, func(payload), None, attempt)
                    break
                except Exception:
                    error = traceback.format_exc(limit=3)
            else:
                yield TaskResult(i, None, error, self.retries + 1)

    def close(self) -> None:
        """Nothing to release."""


def _worker(conn: Connection) -> None:
    """Worker loop: say ("ready", None) once started, then receive (fn, payload) and
    send ("ok", bytes) or ("error", text)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    conn.send(("ready", None))  # a task's clock starts here, not at the slow spawn
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        fn, payload = msg
        try:
            conn.send(("ok", resolve(fn)(payload)))
        except Exception:
            conn.send(("error", traceback.format_exc(limit=3)))


START_SECONDS = 120.0
"""How long a new worker may take to start (import torch and the launching script)
before it counts as hung; its task's own clock starts when it is ready."""


class WorkerStartError(RuntimeError):
    """A worker process died before it could take a task (nothing to retry)."""


START_HINT = (
    "worker processes import the script that launched the run: put the launch under "
    '`if __name__ == "__main__":` (the worker\'s own error is printed above)'
)


class _Slot:
    def __init__(self, ctx: Any):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child,), daemon=True)
        self.proc.start()
        child.close()
        self.task: int | None = None
        self.started = 0.0
        self.ready = False
        """Set once the worker said ("ready", None): it got past importing the launcher."""

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join(5)
        self.conn.close()


def _death(slot: _Slot) -> str:
    """Why a worker is gone, with its exit code (read after it has been reaped)."""
    slot.proc.join(1.0)
    code = slot.proc.exitcode
    if code is not None and code < 0:
        return f"worker died (killed by signal {-code})"
    return f"worker died (exit code {code})"


class ProcessExecutor:
    """Run tasks on ``workers`` local processes (spawned once, reused).

    Parameters
    ----------
    workers : int
        Number of processes; 0 means one per core.
    timeout : float
        Seconds a task may run before its worker is killed and the task retried.
    retries : int
        Extra attempts for a task that raised, timed out or lost its worker.
    """

    def __init__(self, workers: int = 0, timeout: float = 600.0, retries: int = 1):
        if workers < 0:
            raise ValueError(f"Expected workers >= 0 (got {workers})")
        self.workers = workers or os.cpu_count() or 1
        self.timeout = timeout
        self.retries = retries
        self._ctx = mp.get_context("spawn")
        self._slots: list[_Slot] = []

    def _ensure(self) -> None:
        # A dead slot still holding a task stays until run() has collected or
        # re-queued that task (dropping it with the slot would lose the task and
        # leave run() waiting for it forever).
        self._slots = [s for s in self._slots if s.proc.is_alive() or s.task is not None]
        while len(self._slots) < self.workers:
            self._slots.append(_Slot(self._ctx))

    def run(self, fn: str, payloads: list[bytes]) -> Iterator[TaskResult]:
        """Yield a :class:`TaskResult` per payload as tasks complete."""
        queue = list(range(len(payloads)))
        attempts = [0] * len(payloads)
        errors: list[str | None] = [None] * len(payloads)
        remaining = len(payloads)
        startup = max(self.timeout, START_SECONDS)  # a spawn is slow on a loaded machine
        while remaining:
            self._ensure()
            for slot in self._slots:
                if slot.task is None and queue:
                    i = queue.pop(0)
                    attempts[i] += 1
                    slot.task, slot.started = i, time.monotonic()
                    slot.conn.send((fn, payloads[i]))
            busy = [s for s in self._slots if s.task is not None]
            ready = wait([s.conn for s in busy] + [s.proc.sentinel for s in busy], timeout=1.0)
            now = time.monotonic()
            for slot in busy:
                i = slot.task
                assert i is not None
                outcome: tuple[str, Any] | None = None
                if slot.conn in ready or slot.conn.poll():
                    try:
                        outcome = slot.conn.recv()
                    except (EOFError, OSError):
                        outcome = ("died", _death(slot))
                elif slot.proc.sentinel in ready or not slot.proc.is_alive():
                    outcome = ("died", _death(slot))
                elif now - slot.started > (self.timeout if slot.ready else startup):
                    outcome = ("died", f"timed out after {self.timeout:g} s")
                if outcome is None:
                    continue
                if outcome[0] == "ready":  # the worker has started: time the task from now
                    slot.started, slot.ready = now, True
                    continue
                slot.task = None
                kind, value = outcome
                if kind == "died":
                    slot.kill()
                    if not slot.ready and value.startswith("worker died (exit code"):
                        # it never ran a line of ours: no retry can help
                        self.close()
                        raise WorkerStartError(
                            f"a worker process could not start ({value[len('worker died (') : -1]}): "
                            + START_HINT
                        )
                if kind == "ok":
                    remaining -= 1
                    yield TaskResult(i, value, None, attempts[i])
                    continue
                errors[i] = str(value)
                if attempts[i] <= self.retries:
                    queue.insert(0, i)
                else:
                    remaining -= 1
                    yield TaskResult(i, None, errors[i], attempts[i])

    def close(self) -> None:
        """Stop the worker processes."""
        for slot in self._slots:
            try:
                slot.conn.send(None)
            except OSError:
                pass
            slot.proc.join(2)
            if slot.proc.is_alive():
                slot.kill()
        self._slots = []


def _ray_call(fn: str, payload: bytes) -> bytes:
    import torch

    torch.set_num_threads(1)
    return resolve(fn)(payload)


class RayExecutor:
    """Run tasks on a Ray cluster (``pip install growagent[ray]``).

    Parameters
    ----------
    address : str
        Cluster address; empty starts a local Ray instance.
    workers : int
        Tasks in flight at once (0: the cluster's CPU count).
    timeout, retries : as for :class:`ProcessExecutor`.
    """

    def __init__(
        self, address: str = "", workers: int = 0, timeout: float = 600.0, retries: int = 1
    ):
        try:
            import ray
        except ImportError:
            raise RuntimeError("The Ray executor needs Ray: pip install 'growagent[ray]'") from None
        self._ray = ray
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address:
                kwargs["address"] = address
            else:
                kwargs["num_cpus"] = workers or os.cpu_count() or 1
            ray.init(**kwargs)
        self.workers = workers or int(ray.cluster_resources().get("CPU", 1))
        self.timeout = timeout
        self.retries = retries
        self._remote = ray.remote(num_cpus=1, max_retries=0)(_ray_call)

    def run(self, fn: str, payloads: list[bytes]) -> Iterator[TaskResult]:
        """Yield a :class:`TaskResult` per payload as tasks complete."""
        ray = self._ray
        queue = list(range(len(payloads)))
        attempts = [0] * len(payloads)
        inflight: dict[Any, tuple[int, float]] = {}
        while queue or inflight:
            while queue and len(inflight) < self.workers:
                i = queue.pop(0)
                attempts[i] += 1
                inflight[self._remote.remote(fn, payloads[i])] = (i, time.monotonic())
            done, _ = ray.wait(list(inflight), num_returns=1, timeout=1.0)
            now = time.monotonic()
            for ref in list(inflight):
                i, started = inflight[ref]
                error = None
                if ref in done:
                    del inflight[ref]
                    try:
                        yield TaskResult(i, ray.get(ref), None, attempts[i])
                        continue
                    except Exception as exc:
                        error = f"{type(exc).__name__}: {str(exc)[-400:]}"
                elif now - started > self.timeout:
                    del inflight[ref]
                    ray.cancel(ref, force=True)
                    error = f"timed out after {self.timeout:g} s"
                else:
                    continue
                if attempts[i] <= self.retries:
                    queue.insert(0, i)
                else:
                    yield TaskResult(i, None, error, attempts[i])

    def close(self) -> None:
        """Leave the cluster running (it may be shared); a local one ends with the process."""


Executor = SerialExecutor | ProcessExecutor | RayExecutor


def make_executor(
    kind: str, workers: int = 0, timeout: float = 600.0, retries: int = 1, address: str = ""
) -> Executor:
    """Build an executor by name: ``"serial"``, ``"process"`` or ``"ray"``."""
    if workers < 0 or timeout <= 0 or retries < 0:
        raise ValueError(
            f"Expected workers >= 0, timeout > 0 and retries >= 0 "
            f"(got workers={workers}, timeout={timeout}, retries={retries})"
        )
    if kind == "serial":
        return SerialExecutor(retries=retries)
    if kind == "process":
        return ProcessExecutor(workers=workers, timeout=timeout, retries=retries)
    if kind == "ray":
        return RayExecutor(address=address, workers=workers, timeout=timeout, retries=retries)
    raise ValueError(f"Expected executor 'serial', 'process' or 'ray' (got {kind!r})")

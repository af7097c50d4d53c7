"""Executors: run byte-in, byte-out tasks serially, in local processes or on Ray.

A task is a function named by its import path (``"module:function"``) applied
to a ``bytes`` payload; it returns ``bytes``. Nothing DEAP-specific is ever
pickled. Results are yielded as they complete, so the caller can commit each
one to the archive at once. A task that raises, times out or whose worker
dies is retried (once by default), then reported as failed; the run goes on.

Containment (see ``docs/reliability.md``): a task may run at most
``timeout`` seconds, and, once three tasks of the same function have
finished, at most ``adaptive`` times their median (never under
``min_timeout``); a process worker whose memory (resident set) passes
``memory_mb`` is killed; a worker is replaced after ``max_tasks`` tasks; a
worker dies with the process that started it; ``sys.exit`` inside a task is
a failed task, not the end of the run.

    >>> ex = SerialExecutor()
    >>> [r.output for r in ex.run("growagent.executors:echo", [b"a", b"b"])]
    [b'a', b'b']
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing as mp
import os
import signal
import statistics
import sys
import threading
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


class TaskTimeout(Exception):
    """Raised inside a serial task that ran past its time limit."""


@contextlib.contextmanager
def _alarm(seconds: float | None) -> Iterator[None]:
    """Raise :class:`TaskTimeout` in this thread after ``seconds`` (POSIX main thread
    only; a hang inside C code that never returns to Python cannot be interrupted)."""
    usable = (
        seconds is not None
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def ring(signum: int, frame: Any) -> None:
        raise TaskTimeout(f"timed out after {seconds:g} s")

    old = signal.signal(signal.SIGALRM, ring)
    start = time.monotonic()
    outer = signal.setitimer(signal.ITIMER_REAL, float(seconds))  # type: ignore[arg-type]
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if outer[0] > 0:  # someone else's alarm was pending: give it back what is left
            left = outer[0] - (time.monotonic() - start)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3))


def _exit_message(exc: SystemExit) -> str:
    return f"the task called sys.exit({exc.code!r})"


class Timer:
    """Time limits per task function: ``timeout``, or ``adaptive`` times the median
    duration of its finished tasks (at least ``min_timeout``) once there are three."""

    def __init__(self, timeout: float | None, adaptive: float, min_timeout: float):
        self.timeout, self.adaptive, self.min_timeout = timeout, adaptive, min_timeout
        self.durations: dict[str, list[float]] = {}

    def limit(self, fn: str) -> float | None:
        done = self.durations.get(fn, [])
        if self.adaptive <= 0 or len(done) < 3:
            return self.timeout
        learned = max(self.min_timeout, self.adaptive * statistics.median(done))
        return learned if self.timeout is None else min(self.timeout, learned)

    def record(self, fn: str, seconds: float) -> None:
        self.durations.setdefault(fn, []).append(seconds)


class SerialExecutor:
    """Run tasks one after another in this process.

    ``timeout`` (None: none) is enforced with ``SIGALRM`` in the main thread:
    a task stuck in Python code is stopped; one stuck inside C code is not
    (use the process executor for untrusted environments).
    """

    def __init__(
        self,
        retries: int = 1,
        timeout: float | None = None,
        adaptive: float = 0.0,
        min_timeout: float = 60.0,
    ):
        self.retries = retries
        self.workers = 1
        self.timer = Timer(timeout, adaptive, min_timeout)

    def run(
        self, fn: str, payloads: list[bytes], timeout: float | None = None
    ) -> Iterator[TaskResult]:
        """Yield a :class:`TaskResult` per payload, in order (``timeout``: this call's
        own limit, instead of the executor's)."""
        func = resolve(fn)
        for i, payload in enumerate(payloads):
            error = None
            for attempt in range(1, self.retries + 2):
                start = time.monotonic()
                try:
                    with _alarm(timeout or self.timer.limit(fn)):
                        output = func(payload)
                except TaskTimeout as exc:
                    error = str(exc)
                    continue
                except SystemExit as exc:  # an env calling sys.exit must not end the run
                    error = _exit_message(exc)
                    continue
                except Exception:
                    error = traceback.format_exc(limit=3)
                    continue
                self.timer.record(fn, time.monotonic() - start)
                yield TaskResult(i, output, None, attempt)
                break
            else:
                yield TaskResult(i, None, error, self.retries + 1)

    def close(self) -> None:
        """Nothing to release."""


def _die_with_parent() -> None:
    """End this worker when the process that started it dies (even by SIGKILL):
    the kernel's parent-death signal on Linux, and a watching thread everywhere."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _worker(conn: Connection) -> None:
    """Worker loop: say ("ready", None) once started, then receive (fn, payload) and
    send ("ok", bytes) or ("error", text)."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    try:
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
                reply: tuple[str, Any] = ("ok", resolve(fn)(payload))
            except SystemExit as exc:
                reply = ("error", _exit_message(exc))
            except Exception:
                reply = ("error", traceback.format_exc(limit=3))
            conn.send(reply)
    except (BrokenPipeError, ConnectionResetError):  # the main process is gone: end quietly
        return


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
        self.done = 0
        """Tasks this worker has finished."""

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join(5)
        self.conn.close()

    def rss_mb(self) -> float:
        """The worker's resident memory in MiB (0 where /proc cannot tell)."""
        try:
            with open(f"/proc/{self.proc.pid}/statm", encoding="ascii") as f:
                pages = int(f.read().split()[1])
        except (OSError, ValueError, IndexError):
            return 0.0
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _death(slot: _Slot) -> str:
    """Why a worker is gone, with its exit code (read after it has been reaped)."""
    slot.proc.join(1.0)
    code = slot.proc.exitcode
    if code is not None and code < 0:
        return f"worker died (killed by signal {-code})"
    return f"worker died (exit code {code})"


def default_memory_mb(workers: int) -> int:
    """A worker's share of this machine's memory: all of it over ``workers + 1``
    (the main process keeps a share), at least 1 GiB."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    except (ValueError, OSError, AttributeError):
        return 8192
    return max(1024, int(total / (workers + 1)))


class ProcessExecutor:
    """Run tasks on ``workers`` local processes (spawned, then reused).

    Parameters
    ----------
    workers : int
        Number of processes; 0 means one per core.
    timeout : float
        Seconds a task may run before its worker is killed and the task retried.
    retries : int
        Extra attempts for a task that raised, timed out or lost its worker.
    adaptive : float
        Once three tasks of a function have finished, a task of it may run only
        this many times their median duration (at least ``min_timeout``, at most
        ``timeout``); 0 keeps ``timeout`` alone.
    min_timeout : float
        The least time limit ``adaptive`` may set.
    memory_mb : int
        A worker whose resident memory passes this is killed (its task fails
        as ``worker died (memory ...)``); 0: :func:`default_memory_mb`.
    max_tasks : int
        A worker is replaced after this many tasks (a slow leak cannot grow forever).
    """

    def __init__(
        self,
        workers: int = 0,
        timeout: float = 600.0,
        retries: int = 1,
        *,
        adaptive: float = 0.0,
        min_timeout: float = 60.0,
        memory_mb: int = 0,
        max_tasks: int = 200,
    ):
        if workers < 0:
            raise ValueError(f"Expected workers >= 0 (got {workers})")
        self.workers = workers or os.cpu_count() or 1
        self.timeout = timeout
        self.retries = retries
        self.timer = Timer(timeout, adaptive, min_timeout)
        self.memory_mb = memory_mb or default_memory_mb(self.workers)
        self.max_tasks = max_tasks
        self._ctx = mp.get_context("spawn")
        self._slots: list[_Slot] = []

    def _ensure(self) -> None:
        # A dead slot still holding a task stays until run() has collected or
        # re-queued that task (dropping it with the slot would lose the task and
        # leave run() waiting for it forever).
        for s in self._slots:
            if s.task is None and s.done >= self.max_tasks and s.proc.is_alive():
                with contextlib.suppress(OSError):
                    s.conn.send(None)  # retire it: a fresh worker takes its place
                s.proc.join(5)
                if s.proc.is_alive():
                    s.kill()
        self._slots = [s for s in self._slots if s.proc.is_alive() or s.task is not None]
        while len(self._slots) < self.workers:
            self._slots.append(_Slot(self._ctx))

    def _check(self, slot: _Slot, now: float, limit: float | None, startup: float) -> str | None:
        """Why a busy worker that has not answered must be stopped now, if it must."""
        if not slot.ready:
            return (
                f"timed out after {startup:g} s while starting"
                if now - slot.started > startup
                else None
            )
        if limit is not None and now - slot.started > limit:
            return f"timed out after {limit:g} s"
        rss = slot.rss_mb()
        if rss > self.memory_mb:
            return f"worker died (memory: {rss:.0f} MiB over the {self.memory_mb} MiB limit)"
        return None

    def run(
        self, fn: str, payloads: list[bytes], timeout: float | None = None
    ) -> Iterator[TaskResult]:
        """Yield a :class:`TaskResult` per payload as tasks complete (``timeout``: this
        call's own limit, instead of the executor's)."""
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
            limit = timeout or self.timer.limit(fn)
            for slot in busy:
                assert slot.task is not None
                i = slot.task
                outcome: tuple[str, Any] | None = None
                if slot.conn in ready or slot.conn.poll():
                    try:
                        outcome = slot.conn.recv()
                    except (EOFError, OSError):
                        outcome = ("died", _death(slot))
                elif slot.proc.sentinel in ready or not slot.proc.is_alive():
                    outcome = ("died", _death(slot))
                else:
                    reason = self._check(slot, now, limit, startup)
                    if reason is not None:
                        outcome = ("died", reason)
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
                else:
                    slot.done += 1
                if kind == "ok":
                    self.timer.record(fn, now - slot.started)
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

    def run(
        self, fn: str, payloads: list[bytes], timeout: float | None = None
    ) -> Iterator[TaskResult]:
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
                elif now - started > (timeout or self.timeout):
                    del inflight[ref]
                    ray.cancel(ref, force=True)
                    error = f"timed out after {timeout or self.timeout:g} s"
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
    kind: str,
    workers: int = 0,
    timeout: float = 600.0,
    retries: int = 1,
    address: str = "",
    *,
    adaptive: float = 0.0,
    min_timeout: float = 60.0,
    memory_mb: int = 0,
    max_tasks: int = 200,
) -> Executor:
    """Build an executor by name: ``"serial"``, ``"process"`` or ``"ray"``.

    ``adaptive`` and ``min_timeout`` shape the time limit of the serial and process
    executors, ``memory_mb`` and ``max_tasks`` the process workers (see
    :class:`ProcessExecutor`).
    """
    if workers < 0 or timeout <= 0 or retries < 0:
        raise ValueError(
            f"Expected workers >= 0, timeout > 0 and retries >= 0 "
            f"(got workers={workers}, timeout={timeout}, retries={retries})"
        )
    if kind == "serial":
        return SerialExecutor(
            retries=retries, timeout=timeout, adaptive=adaptive, min_timeout=min_timeout
        )
    if kind == "process":
        return ProcessExecutor(
            workers=workers,
            timeout=timeout,
            retries=retries,
            adaptive=adaptive,
            min_timeout=min_timeout,
            memory_mb=memory_mb,
            max_tasks=max_tasks,
        )
    if kind == "ray":
        return RayExecutor(address=address, workers=workers, timeout=timeout, retries=retries)
    raise ValueError(f"Expected executor 'serial', 'process' or 'ray' (got {kind!r})")

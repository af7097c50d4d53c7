import os
import time
from pathlib import Path

import pytest

from growagent.executors import ProcessExecutor, SerialExecutor, make_executor


def _by_index(results):
    return {r.index: r for r in results}


def test_serial_runs_in_order_and_reports_failures():
    ex = SerialExecutor(retries=1)
    out = list(ex.run("tests.growagent.tasks:upper", [b"a", b"b"]))
    assert [r.output for r in out] == [b"A", b"B"]
    failed = list(ex.run("tests.growagent.tasks:fail", [b"x"]))
    assert failed[0].output is None
    assert failed[0].attempts == 2
    assert "bad payload" in failed[0].error


@pytest.mark.slow
def test_process_executor_retries_dead_worker_and_timeout(tmp_path):
    ex = ProcessExecutor(workers=2, timeout=4.0, retries=1)
    try:
        ok = _by_index(ex.run("tests.growagent.tasks:upper", [b"x", b"y", b"z"]))
        assert {i: r.output for i, r in ok.items()} == {0: b"X", 1: b"Y", 2: b"Z"}
        died = _by_index(ex.run("tests.growagent.tasks:die_once", [str(tmp_path / "m1").encode()]))
        assert died[0].output == b"survived"
        assert died[0].attempts == 2
        slow = _by_index(
            ex.run("tests.growagent.tasks:sleep_once", [str(tmp_path / "m2").encode()])
        )
        assert slow[0].output == b"woke"
        assert slow[0].attempts == 2
        failed = _by_index(ex.run("tests.growagent.tasks:fail", [b"q", b"r"]))
        assert all(r.output is None and r.attempts == 2 for r in failed.values())
        # the pool still works after all that
        again = _by_index(ex.run("tests.growagent.tasks:upper", [b"k"]))
        assert again[0].output == b"K"
    finally:
        ex.close()


def test_make_executor_rejects_unknown_kind():
    with pytest.raises(ValueError, match="serial"):
        make_executor("threads")


@pytest.mark.slow
def test_ray_executor_runs_tasks_on_local_cluster():
    ray = pytest.importorskip("ray")
    from growagent.executors import RayExecutor

    ex = RayExecutor(workers=2, timeout=600.0)  # worker start-up counts; slow when loaded
    try:
        out = _by_index(ex.run("tests.growagent.tasks:upper", [b"a", b"b", b"c"]))
        assert {i: r.output for i, r in out.items()} == {0: b"A", 1: b"B", 2: b"C"}
        failed = _by_index(ex.run("tests.growagent.tasks:fail", [b"q"]))
        assert failed[0].output is None and failed[0].attempts == 2
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_a_worker_killed_while_the_caller_handles_a_result_does_not_hang_the_run():
    """Issue 15 (1): the dead slot's task was dropped with it, so the run waited forever."""
    import os
    import signal

    def hung(*_):
        raise TimeoutError("the process executor hung after a worker died")

    ex = ProcessExecutor(workers=2, timeout=60.0, retries=1)
    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(90)  # a hang fails the test instead of blocking the suite
    try:
        ex._ensure()
        pids = {s.proc.pid for s in ex._slots}
        got = []
        for r in ex.run("tests.growagent.tasks:sleep_for", [b"8", b"0.5"]):
            got.append(r)
            if len(got) == 1:  # the short task is back; the long one's worker dies now
                (other,) = pids - {int(r.output)}
                os.kill(other, signal.SIGKILL)
                time.sleep(1.0)
        by = _by_index(got)
        assert set(by) == {0, 1}
        assert by[1].output is not None and by[0].output is not None
        assert by[0].attempts == 2  # the killed task was run again
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        ex.close()


def test_serial_executor_enforces_its_timeout_and_survives_sys_exit():
    from growagent.executors import SerialExecutor

    ex = SerialExecutor(retries=0, timeout=1.0)
    hung = _by_index(ex.run("tests.growagent.tasks:spin", [b"60"]))
    assert hung[0].output is None and hung[0].error == "timed out after 1 s"
    out = _by_index(ex.run("tests.growagent.tasks:call_exit", [b"3"]))
    assert out[0].output is None and out[0].error == "the task called sys.exit(3)"
    assert _by_index(ex.run("tests.growagent.tasks:upper", [b"a"]))[0].output == b"A"


def test_a_learned_time_limit_stops_a_hung_task_long_before_the_configured_one():
    ex = ProcessExecutor(workers=1, timeout=600.0, retries=0, adaptive=5.0, min_timeout=2.0)
    try:
        quick = _by_index(ex.run("tests.growagent.tasks:sleep_for", [b"0.05"] * 3))
        assert all(r.output for r in quick.values())
        hung = _by_index(ex.run("tests.growagent.tasks:sleep_for", [b"300"]))
        assert hung[0].error == "timed out after 2 s"
    finally:
        ex.close()


def test_process_workers_contain_sys_exit_memory_leaks_and_are_recycled():
    ex = ProcessExecutor(workers=1, timeout=120.0, retries=0, memory_mb=400, max_tasks=2)
    try:
        out = _by_index(ex.run("tests.growagent.tasks:call_exit", [b"3"]))
        assert out[0].error == "the task called sys.exit(3)"
        leaked = _by_index(ex.run("tests.growagent.tasks:leak", [b"4000"]))
        assert leaked[0].output is None
        assert leaked[0].error.startswith("worker died (memory:"), leaked[0].error
        assert "400 MiB limit" in leaked[0].error
        pids = [r.output for r in ex.run("tests.growagent.tasks:sleep_for", [b"0"] * 5)]
        assert len(set(pids)) == 3  # a fresh worker after every two tasks
    finally:
        ex.close()


WATCHED = """
import sys, time
sys.path.insert(0, {repo!r})
from growagent.executors import ProcessExecutor
ex = ProcessExecutor(workers=1, timeout=600.0)
for r in ex.run("tests.growagent.tasks:sleep_for", [b"0"]):
    print(r.output.decode(), flush=True)
for r in ex.run("tests.growagent.tasks:sleep_for", [b"600"]):
    pass
"""


def test_workers_end_with_a_main_process_killed_by_sigkill_and_ignore_ctrl_c(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    repo = str(Path(__file__).resolve().parents[2])
    proc = subprocess.Popen(
        [sys.executable, "-c", WATCHED.format(repo=repo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=repo,
    )
    try:
        worker = int(proc.stdout.readline())
        time.sleep(1.0)  # the worker is now inside the 600-s task
        os.kill(worker, signal.SIGINT)  # Ctrl-C reaches the whole process group
        time.sleep(0.5)
        os.kill(worker, 0)  # still alive: the main process decides what Ctrl-C means
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(worker, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.kill(worker, signal.SIGKILL)
            raise AssertionError("the worker outlived its SIGKILLed main process")
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()

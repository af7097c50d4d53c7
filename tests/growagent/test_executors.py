import time

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

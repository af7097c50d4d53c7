"""docs/tutorial.md's Python launch, saved as a script exactly as written, as a user would."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def tutorial_script() -> str:
    text = (REPO / "docs" / "tutorial.md").read_text(encoding="utf-8")
    section = text[text.index("## 2. Launch a run from Python") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def _python(script: Path, timeout: float) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, script.name],
        cwd=script.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
def test_the_tutorial_python_block_runs_to_the_end_as_a_script(tmp_path):
    script = tmp_path / "my_search.py"
    script.write_text(tutorial_script(), encoding="utf-8")
    proc = _python(script, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "runs" / "my-cartpole"
    assert (run / "champion.json").exists() and (run / "pareto.json").exists()
    assert str(run.relative_to(tmp_path)) in proc.stdout


@pytest.mark.slow
def test_without_the_main_guard_the_run_stops_before_the_teacher_with_the_reason(tmp_path):
    source = tutorial_script()
    guard = 'if __name__ == "__main__":\n    main()\n'
    assert guard in source
    script = tmp_path / "unguarded.py"
    script.write_text(source.replace(guard, "main()\n"), encoding="utf-8")
    proc = _python(script, timeout=300)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert "a worker process could not start" in last and "__main__" in last, proc.stderr
    assert "training the teacher" not in proc.stdout  # it stopped before minutes of training
    assert not list((tmp_path / "runs" / "my-cartpole").glob("teacher.json"))

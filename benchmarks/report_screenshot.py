"""Build a run's report and photograph its ``index.html`` in headless Chromium.

    python benchmarks/report_screenshot.py RUN_DIR OUT.png [--height 2400]

The report is written into ``RUN_DIR/report/`` (copy a run you must not touch
first). Chromium comes from the system packages (Debian: ``apt-get install
chromium``, at ``/usr/bin/chromium``); it runs with a fresh, throw-away
profile and no network services.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)  # benchmarks/operators.py would shadow the operators package

CHROMIUM = "/usr/bin/chromium"


def screenshot(index: Path, out: Path, *, width: int = 1280, height: int = 2400) -> Path:
    """Photograph the page ``index`` to the PNG ``out`` with headless Chromium."""
    browser = shutil.which("chromium") or CHROMIUM
    if not Path(browser).exists():
        raise FileNotFoundError(f"Expected Chromium at {CHROMIUM} (got none on PATH either)")
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--screenshot={out}",
                f"--window-size={width},{height}",
                index.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    if not out.exists():
        raise RuntimeError(f"Chromium exited without writing {out}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=2400)
    args = parser.parse_args(argv)

    from growagent.report import write_report

    index = write_report(args.run_dir)
    print(screenshot(index, args.out, width=args.width, height=args.height))
    return 0


if __name__ == "__main__":
    sys.exit(main())

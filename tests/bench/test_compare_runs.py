"""The benchmark command still runs end to end (a small form; its numbers are not checked here:
speed is measured by hand with bench/compare.py, not by timed tests).

It starts s3front and the content-addressing no-op (the most code of the no-ops), runs every workload of the small, large and multipart
phases twice, verifying every GET's bytes (a mismatch raises, the target is reported FAILED),
and prints the table. Bench code that nothing runs rots; this keeps the command a user is told
to run working.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_compare_small_form_runs_and_reports_every_workload() -> None:
    args = [
        sys.executable,
        str(ROOT / "bench" / "compare.py"),
        "--only",
        "s3front-sqlite,noop-cas",
    ]
    args += ["--no-cassandra", "--phases", "small,large,multipart", "--rounds", "2"]
    args += ["--small-n", "200", "--large-n", "8", "--mp-mib", "16", "--workers", "2"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=240, cwd=ROOT)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "FAILED" not in out and "skipped" not in out, out
    assert out.count("round ") == 2, out
    for row in ("PUT 4KiB", "GET 4KiB", "HEAD 4KiB", "LIST 100", "DELETE 4KiB", "PUT 1MiB"):
        for target in ("s3front-sqlite", "noop-cas"):
            assert any(line.startswith(row) and target in line for line in out.splitlines()), (
                f"{row} {target} missing:\n{out}"
            )
    for row in ("MPU 16MiB", "MPU GET 16MiB"):
        assert sum(line.startswith(row + " ") for line in out.splitlines()) == 2, out
    assert "range of rounds" in out and "Every GET verified" in out

"""bench/compare.py's PUT latency phase runs and prints its table (a small form on SQLite; the
numbers are not checked: speed is measured by hand, not by timed tests). The Cassandra
before/after pair it exists for (`--only s3front-cassandra,s3front-cassandra-nagle`) differs only
by the store URL's `tcp_nodelay=0`, whose effect tests/cassandra/test_connections.py checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_compare_latency_phase_reports_p50_p99_per_size_and_concurrency() -> None:
    args = [sys.executable, str(ROOT / "bench" / "compare.py"), "--only", "s3front-sqlite"]
    args += ["--no-cassandra", "--phases", "latency", "--lat-n", "20", "--workers", "1"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=240, cwd=ROOT)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "FAILED" not in out and "skipped" not in out, out
    assert "| target | size | 1 client p50 | p99 | 16 clients p50 | p99 |" in out, out
    for size in ("4 KiB", "64 KiB", "256 KiB"):
        rows = [line for line in out.splitlines() if line.startswith(f"| s3front-sqlite | {size} ")]
        assert len(rows) == 1, out
        assert len([float(v) for v in rows[0].strip("| ").split(" | ")[2:]]) == 4, rows

"""bench/peer_promises.py runs end to end against s3front, and reads strace's summary right.

What it reports for s3front is checked too: a body that does not match its signed SHA-256 is
refused with XAmzContentSHA256Mismatch, and (where strace is installed) every 1 MiB PUT makes
one fsync, every 8 MiB part eight (one per block file, before the block's rename).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from peer_promises import parse_strace_counts  # noqa: E402

# What `strace -f -c -e trace=... -o FILE` wrote for MinIO's 20 PUTs (2026-12-05).
STRACE_SUMMARY = """\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 53.61    0.002368          29        80           write
 22.78    0.001006          50        20           fdatasync
 19.63    0.000867          10        81        41 openat
  3.98    0.000176           2        80        40 renameat
------ ----------- ----------- --------- --------- ----------------
100.00    0.004417          16       261        81 total
"""


def test_parse_strace_counts_reads_calls_per_syscall() -> None:
    counts = parse_strace_counts(STRACE_SUMMARY)
    assert counts == {"write": 80, "fdatasync": 20, "openat": 81, "renameat": 80}
    assert parse_strace_counts("") == {}


def test_peer_promises_reports_what_s3front_checks_and_syncs() -> None:
    args = [sys.executable, str(ROOT / "bench" / "peer_promises.py"), "--only", "s3front-sqlite"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    (line,) = [ln for ln in done.stdout.splitlines() if ln.startswith("s3front-sqlite")]
    assert "HTTP 400 XAmzContentSHA256Mismatch" in line, line
    if shutil.which("strace") is None:
        assert line.count("no strace") == 2, line
    else:
        assert "per 1 MiB PUT: fsync 1 " in line and line.endswith("per 8 MiB part: fsync 8"), line

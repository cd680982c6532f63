"""s3front.memory: with the malloc thresholds set, MiB-sized buffers freed after a burst are
reused instead of going back to the kernel and faulting in again (glibc only)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

# In a fresh interpreter: page faults per burst of eight fresh 1 MiB bytes objects.
_PROBE = """
import os, resource, sys
from s3front.memory import keep_freed_memory
if sys.argv[1] == "tuned":
    assert keep_freed_memory()
piece = os.urandom(1 << 16)
def burst():
    return [piece * 16 for _ in range(8)]
burst()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    burst()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 50)
"""


def faults_per_burst(mode: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True
    )
    return float(done.stdout)


@pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc",
    reason="s3front.memory tunes glibc's malloc; with another C library it does nothing by design",
)
def test_freed_blocks_are_reused_without_page_faults() -> None:
    default, tuned = faults_per_burst("default"), faults_per_burst("tuned")
    # glibc's defaults give each burst's 8 MiB back and fault in ~2,000 pages again.
    assert default > 1000, default
    assert tuned < default / 20, (tuned, default)


# Eight threads allocating at once, then glibc's own count of arenas (malloc_stats, on stderr).
_ARENA_PROBE = """
import ctypes, sys, threading
from s3front.memory import keep_freed_memory
if sys.argv[1] == "tuned":
    assert keep_freed_memory()
barrier = threading.Barrier(8)
held = []
def work():
    barrier.wait()
    for _ in range(200):
        held.append(bytearray(300_000))  # malloc'd by this thread (too large for pymalloc)
        held.pop()
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
ctypes.CDLL(None).malloc_stats()
"""


def arenas(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _ARENA_PROBE, mode], capture_output=True, text=True, check=True
    )
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


@pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc",
    reason="s3front.memory tunes glibc's malloc; with another C library it does nothing by design",
)
def test_threads_share_at_most_two_arenas() -> None:
    # Each arena keeps up to TRIM_THRESHOLD of freed memory: capping them caps the peak RSS.
    assert arenas("plain") > 2  # what glibc does by default: the probe can tell
    assert 1 <= arenas("tuned") <= 2

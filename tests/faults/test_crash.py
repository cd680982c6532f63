"""Crash campaign, bounded form: SIGKILL a busy server over and over, restart it on the same
store, and check that every key holds a version that could be the latest acknowledged one --
byte for byte, never a mix -- then that `s3front gc --grace 0` frees only garbage.

The workload and the checker are in `tests/lib/s3front_faults_crashkit.py`; `bench/crash.py` runs the long form.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import s3front_faults_crashkit as ck


def _check(result: ck.Result, kills: int) -> None:
    print(result.summary())
    assert result.kills == kills
    assert result.checks == kills + 1
    assert not result.violations, "\n".join(result.violations[:20])
    # After every restart, once ready, the server served again (generations 1..kills ran the
    # workload; the last two only serve the final checks around GC).
    gens = result.acked_per_generation
    assert all(gens.get(g, 0) > 0 for g in range(1, kills + 1)), gens
    counts = result.counts
    # The kills must have landed on a busy server, and the workload must have got through.
    for kind in ("put-small", "put-large", "copy", "delete"):
        assert counts.get(f"acked_{kind}", 0) > 0, counts
    assert counts["failed"] > 0, f"no operation was ever cut by a kill: {counts}"
    # Overwrites and deletes of block-backed objects leave garbage; GC must find some of it,
    # and a second pass right after must find none.
    assert result.gc.freed_blocks > 0, result.gc.output
    assert result.gc_again.freed_blocks == 0, result.gc_again.output
    assert result.gc_again.freed_manifests == 0, result.gc_again.output


def test_crash_campaign_sqlite(tmp_path: Path) -> None:
    result = ck.campaign(tmp_path / "srv", kills=8, min_run=0.8, max_run=3.0)
    _check(result, 8)


@pytest.mark.cassandra
def test_crash_campaign_cassandra(tmp_path: Path, cassandra_url: str) -> None:
    result = ck.campaign(
        tmp_path / "srv",
        store_url=cassandra_url,
        kills=6,
        min_run=1.0,
        max_run=3.5,
        ready_timeout=60,
    )
    _check(result, 6)

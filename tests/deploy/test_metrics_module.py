"""s3front.metrics: values land in the module's own registry and in the exposition document."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from s3front import metrics


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    value = metrics.REGISTRY.get_sample_value(name, labels or {})
    return 0.0 if value is None else value


def test_observe_request_counts_status_latency_and_bytes() -> None:
    labels = {"op": "PutObject", "status": "200"}
    before = sample("s3front_requests_total", labels)
    before_in = sample("s3front_received_bytes_total", {"op": "PutObject"})
    before_n = sample("s3front_request_duration_seconds_count", {"op": "PutObject"})
    before_fast = sample(
        "s3front_request_duration_seconds_bucket", {"op": "PutObject", "le": "0.05"}
    )
    metrics.observe_request("PutObject", 200, 0.02, bytes_in=1000, bytes_out=0)
    metrics.observe_request("PutObject", 200, 3.0, bytes_in=24, bytes_out=0)
    assert sample("s3front_requests_total", labels) == before + 2
    assert sample("s3front_received_bytes_total", {"op": "PutObject"}) == before_in + 1024
    assert sample("s3front_request_duration_seconds_count", {"op": "PutObject"}) == before_n + 2
    # Only the 20 ms request falls in the 50 ms bucket.
    assert (
        sample("s3front_request_duration_seconds_bucket", {"op": "PutObject", "le": "0.05"})
        == before_fast + 1
    )


def test_unusual_statuses_fold_into_their_class() -> None:
    before = sample("s3front_requests_total", {"op": "GetObject", "status": "4xx"})
    metrics.observe_request("GetObject", 418, 0.001, bytes_in=0, bytes_out=55)
    assert sample("s3front_requests_total", {"op": "GetObject", "status": "4xx"}) == before + 1
    assert (
        metrics.REGISTRY.get_sample_value(
            "s3front_requests_total", {"op": "GetObject", "status": "418"}
        )
        is None
    )


def test_time_store_records_ok_and_error_outcomes() -> None:
    ok = {"backend": "sqlite", "op": "get_object", "outcome": "ok"}
    err = {**ok, "outcome": "error"}
    before_ok = sample("s3front_store_operation_duration_seconds_count", ok)
    before_err = sample("s3front_store_operation_duration_seconds_count", err)

    async def run() -> None:
        async with metrics.time_store("sqlite", "get_object"):
            await asyncio.sleep(0)
        with pytest.raises(KeyError):
            async with metrics.time_store("sqlite", "get_object"):
                raise KeyError("gone")

    asyncio.run(run())
    assert sample("s3front_store_operation_duration_seconds_count", ok) == before_ok + 1
    assert sample("s3front_store_operation_duration_seconds_count", err) == before_err + 1


def test_timed_store_decorator_keeps_the_result_and_names_the_op() -> None:
    labels = {"backend": "cassandra", "op": "put_block", "outcome": "ok"}
    before = sample("s3front_store_operation_duration_seconds_count", labels)

    @metrics.timed_store("cassandra")
    async def put_block(data: bytes) -> int:
        return len(data)

    assert asyncio.run(put_block(b"abc")) == 3
    assert put_block.__name__ == "put_block"
    assert sample("s3front_store_operation_duration_seconds_count", labels) == before + 1


def test_gauges_and_exposition_document() -> None:
    metrics.set_gc_result(freed_blocks=7, freed_bytes=7 * 1024, finished_at=1_700_000_000.0)
    metrics.set_dedup(logical_bytes=3000, stored_bytes=1000)
    body, content_type = metrics.metrics_response()
    assert content_type.startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    values = {f.name: f.samples[0].value for f in families.values() if f.type == "gauge"}
    assert values["s3front_gc_freed_blocks"] == 7
    assert values["s3front_gc_freed_bytes"] == 7 * 1024
    assert values["s3front_gc_last_run_timestamp_seconds"] == 1_700_000_000.0
    assert values["s3front_logical_bytes"] == 3000
    assert values["s3front_stored_bytes"] == 1000
    # A dedicated registry: s3front's own series and this process's, nothing that the default
    # registry would add (python_gc_*, platform info of whatever imported prometheus-client).
    assert all(name.startswith(("s3front_", "process_")) for name in families)
    assert "process_resident_memory_bytes" in families and "s3front_build_info" in families


def test_histogram_buckets_are_cumulative_and_inclusive() -> None:
    """`le` buckets count observations <= the bound (Prometheus' rule), +Inf counts all."""
    op = {"op": "HeadBucket"}

    def bucket(le: str) -> float:
        return sample("s3front_request_duration_seconds_bucket", {**op, "le": le})

    before = {le: bucket(le) for le in ("0.01", "0.05", "300.0", "+Inf")}
    before_sum = sample("s3front_request_duration_seconds_sum", op)
    for seconds in (0.01, 0.05, 0.0500001, 301.0):
        metrics.observe_request("HeadBucket", 200, seconds, bytes_in=0, bytes_out=0)
    assert bucket("0.01") == before["0.01"] + 1  # exactly on the bound counts
    assert bucket("0.05") == before["0.05"] + 2
    assert bucket("300.0") == before["300.0"] + 3
    assert bucket("+Inf") == before["+Inf"] + 4
    assert sample("s3front_request_duration_seconds_count", op) == bucket("+Inf")
    assert sample("s3front_request_duration_seconds_sum", op) == pytest.approx(
        before_sum + 0.01 + 0.05 + 0.0500001 + 301.0
    )


def test_worker_snapshots_merge_counters_of_all_and_gauges_of_live_workers(
    tmp_path: Path,
) -> None:
    """`serve --workers N`: the scraped worker sums every snapshot's counters and histograms
    (a worker that exited keeps its counts: counters never go backwards) but only live
    workers' in-flight requests and process metrics."""
    metrics.observe_request("ListBuckets", 200, 0.002, bytes_in=0, bytes_out=10)
    mine = sample("s3front_requests_total", {"op": "ListBuckets", "status": "200"})
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    live_pid = os.getppid()  # alive while this test runs
    for pid, in_flight in ((int(dead.stdout), 7), (live_pid, 2)):
        snap = {
            "pid": pid,
            "written": 0,
            "counters": {"s3front_requests": [[["ListBuckets", "200"], 5.0]]},
            "histograms": {
                "s3front_request_duration_seconds": [
                    [["ListBuckets"], [1.0] + [0.0] * 14 + [0.004]]
                ]
            },
            "in_flight": in_flight,
            "gauges": dict(metrics.GAUGES),
            "process": {"process_resident_memory_bytes": 1000.0, "process_max_fds": 1.0},
        }
        (tmp_path / f"{pid}.json").write_text(json.dumps(snap))
    fams = {f.name: f for f in metrics._merged_families(tmp_path)}
    requests = {tuple(s.labels.values()): s.value for s in fams["s3front_requests"].samples}
    assert requests["ListBuckets", "200"] == mine + 10  # this process, the dead one, the live one
    assert fams["s3front_worker_processes"].samples[0].value == 2  # this process and live_pid
    in_flight = fams["s3front_requests_in_flight"].samples[0].value
    assert in_flight == metrics.IN_FLIGHT.value + 2  # the dead worker's 7 are not in flight
    rss = fams["process_resident_memory_bytes"].samples[0].value
    assert rss > 1000 and rss == pytest.approx(1000 + _own_rss(), rel=0.5)
    assert fams["process_max_fds"].samples[0].value >= 1
    count = [
        s.value
        for s in fams["s3front_request_duration_seconds"].samples
        if s.name.endswith("_count") and s.labels["op"] == "ListBuckets"
    ]
    own = sample("s3front_request_duration_seconds_count", {"op": "ListBuckets"})
    assert count == [own + 2]
    # The scraped worker's own snapshot was written for the merge.
    assert (tmp_path / f"{os.getpid()}.json").exists()


def _own_rss() -> float:
    return sample("process_resident_memory_bytes")

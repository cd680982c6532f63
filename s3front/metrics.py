"""Prometheus metrics for the server, served at `/-/metrics`.

Every metric lives in one module-level `REGISTRY`, not prometheus-client's global default
registry (which collects whatever imported it, pytest included); a dedicated registry lets
tests read exact values.

What is measured:
  - S3 requests by operation and HTTP status, their latency by operation, bytes in and out
    (body bytes: a HEAD sends none, whatever its Content-Length says);
  - requests in flight, and requests refused before an S3 handler ran, by reason;
  - store operations' latency by backend and operation (`time_store(...)`, for the store layer);
  - on Cassandra, the CQL requests sent, by table and kind;
  - the garbage collector's and deduplication's state as gauges the GC job sets;
  - the process (CPU, memory, file descriptors, start time) and `s3front_build_info`.

Label values stay bounded: operation names come from the routing table, statuses and reasons
from fixed sets, never from bucket names or keys (which would grow the series without limit).

With `serve --workers N` each worker process counts its own requests. So that one scrape (which
lands on any one worker) reports all of them, every worker writes a snapshot of its values to a
directory the parent made (`S3FRONT_METRICS_DIR`) once a second and at each scrape; the worker
that answers a scrape sums the snapshots. Counters of a worker that exited stay counted (they
must not go backwards); gauges (in flight, process memory) count live workers only. The hot
path is unchanged: snapshots are taken by a background thread, not per request.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import threading
import time
from bisect import bisect_left
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, suppress
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from s3front import __version__

REGISTRY = CollectorRegistry(auto_describe=True)

# S3 latency spans small-object metadata reads (ms) to multi-GiB uploads (minutes).
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
# One store call is one Cassandra/SQLite round trip or a small batch of them.
_STORE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5)


class _Counters:
    """Counters by label values, kept as plain floats and read by `_Collector` at scrape time.

    prometheus-client's `Counter.inc` and `Histogram.observe` take a lock and check the metric's
    state on every call: 3.3 us per request for the four request series and a store timing,
    against ~1.5 us here. Every update happens on the event loop's thread (request handling and
    the store's timing proxy), so no lock is needed; a scrape reads each value whole.
    """

    def __init__(self, name: str, doc: str, labels: tuple[str, ...]) -> None:
        self.name, self.doc, self.labels = name, doc, labels
        self.values: dict[tuple[str, ...], float] = {}

    def inc(self, key: tuple[str, ...], amount: float = 1.0) -> None:
        self.values[key] = self.values.get(key, 0.0) + amount

    def family(self, values: dict[tuple[str, ...], float] | None = None) -> CounterMetricFamily:
        fam = CounterMetricFamily(self.name, self.doc, labels=self.labels)
        for key, value in sorted((self.values if values is None else values).items()):
            fam.add_metric(list(key), value)
        return fam


class _Histograms:
    """Histograms by label values: per series a count per bucket (not yet cumulative), then the
    +Inf bucket and the sum; the exposition's cumulative `le` buckets are summed at scrape time."""

    def __init__(
        self, name: str, doc: str, labels: tuple[str, ...], buckets: tuple[float, ...]
    ) -> None:
        self.name, self.doc, self.labels = name, doc, labels
        self.bounds = buckets
        self.les: list[str] = [
            floatToGoString(b)  # type: ignore[no-untyped-call]  # the library's own `le` text
            for b in (*buckets, float("inf"))
        ]
        self.series: dict[tuple[str, ...], list[float]] = {}

    def observe(self, key: tuple[str, ...], value: float) -> None:
        row = self.series.get(key)
        if row is None:
            row = self.series[key] = [0.0] * (len(self.bounds) + 2)
        row[bisect_left(self.bounds, value)] += 1  # `le` is inclusive: bisect_left
        row[-1] += value

    def family(
        self, series: dict[tuple[str, ...], list[float]] | None = None
    ) -> HistogramMetricFamily:
        fam = HistogramMetricFamily(self.name, self.doc, labels=self.labels)
        for key, row in sorted((self.series if series is None else series).items()):
            running, buckets = 0.0, []
            for le, n in zip(self.les, row[:-1], strict=True):
                running += n
                buckets.append((le, running))
            fam.add_metric(list(key), buckets, row[-1])
        return fam


REQUESTS = _Counters(
    "s3front_requests", "S3 requests handled, by operation and HTTP status.", ("op", "status")
)
REQUEST_SECONDS = _Histograms(
    "s3front_request_duration_seconds",
    "Time from request line to response, by operation.",
    ("op",),
    _REQUEST_BUCKETS,
)
BYTES_IN = _Counters(
    "s3front_received_bytes", "Request body bytes received, by operation.", ("op",)
)
BYTES_OUT = _Counters("s3front_sent_bytes", "Response body bytes sent, by operation.", ("op",))
STORE_SECONDS = _Histograms(
    "s3front_store_operation_duration_seconds",
    "Latency of store calls, by backend and operation; outcome is ok or error.",
    ("backend", "op", "outcome"),
    _STORE_BUCKETS,
)


REJECTED = _Counters(
    "s3front_rejected_requests",
    "Requests refused before an S3 handler ran, by reason: concurrency_limit (503 SlowDown over"
    " limit_concurrency), header_too_large, header_timeout, body_timeout (400 RequestTimeout).",
    ("reason",),
)
REJECT_REASONS = ("concurrency_limit", "header_too_large", "header_timeout", "body_timeout")
for _reason in REJECT_REASONS:  # every series exists from the start, so rate() sees the first
    REJECTED.values[(_reason,)] = 0.0

ACCESS_LOG_RECORDS = _Counters(
    "s3front_server_access_log_records",
    "Server access log records (bucket logging) by outcome: delivered, dropped_buffer_full,"
    " dropped_target_invalid, dropped_error.",
    ("outcome",),
)
ACCESS_LOG_OUTCOMES = (
    "delivered",
    "dropped_buffer_full",
    "dropped_target_invalid",
    "dropped_error",
)
for _outcome in ACCESS_LOG_OUTCOMES:
    ACCESS_LOG_RECORDS.values[(_outcome,)] = 0.0

# Kept by s3front.store.cassandra.session, per statement sent (bench/RESULTS.md has the count per
# S3 operation, which tests/cassandra/test_statement_counts.py pins).
CQL_STATEMENTS = _Counters(
    "s3front_cql_statements",
    "CQL requests sent to Cassandra, by table and kind (read, write, lwt, batch, next_page).",
    ("table", "kind"),
)

COUNTERS = (REQUESTS, BYTES_IN, BYTES_OUT, REJECTED, ACCESS_LOG_RECORDS, CQL_STATEMENTS)
HISTOGRAMS = (REQUEST_SECONDS, STORE_SECONDS)


class _InFlight:
    """S3 requests being handled now (incremented and decremented by the app, per request)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


IN_FLIGHT = _InFlight()

# Set by the GC job; the last values win (in a merged scrape: the worker whose GC ran last).
_GAUGE_DOCS = {
    "s3front_gc_freed_blocks": "Blocks freed by the last garbage-collection run.",
    "s3front_gc_freed_bytes": "Bytes freed by the last garbage-collection run.",
    "s3front_gc_last_run_timestamp_seconds": "Unix time at which the last garbage-collection"
    " run finished.",
    "s3front_logical_bytes": "Sum of object sizes as clients see them.",
    "s3front_stored_bytes": "Bytes of distinct data blocks actually stored.",
}
GAUGES: dict[str, float] = dict.fromkeys(_GAUGE_DOCS, 0.0)

_PROCESS = ProcessCollector(registry=None)
# How each process sample of several live workers adds up.
_PROCESS_MERGE: dict[str, Callable[[list[float]], float]] = {
    "process_start_time_seconds": min,
    "process_max_fds": max,
}


def _process_samples() -> dict[str, float]:
    return {s.name: s.value for fam in _PROCESS.collect() for s in fam.samples}


def _process_families(samples: dict[str, float] | None) -> Iterator[Metric]:
    """This process's own metrics (None), or samples added up over the live workers."""
    if samples is None:
        yield from _PROCESS.collect()
        return
    docs = {s.name: fam.documentation for fam in _PROCESS.collect() for s in fam.samples}
    for name, value in sorted(samples.items()):
        doc = docs.get(name, name)
        if name.endswith("_total"):
            yield CounterMetricFamily(name.removesuffix("_total"), doc, value=value)
        else:
            yield GaugeMetricFamily(name, doc, value)


def _build_info() -> GaugeMetricFamily:
    fam = GaugeMetricFamily(
        "s3front_build_info",
        "Always 1: the running s3front's version and Python.",
        labels=("version", "python", "implementation"),
    )
    fam.add_metric([__version__, platform.python_version(), sys.implementation.name], 1)
    return fam


# `serve --workers N`: see the module docstring and `share_with_workers`.
METRICS_DIR_ENV = "S3FRONT_METRICS_DIR"
_SNAPSHOT_SECONDS = 1.0
_shared_dir: Path | None = None
_snapshot_lock = threading.Lock()


class _Collector(Collector):
    def collect(self) -> Iterator[Metric]:
        if _shared_dir is not None:
            yield from _merged_families(_shared_dir)
            return
        for counter in COUNTERS:
            yield counter.family()
        for histogram in HISTOGRAMS:
            yield histogram.family()
        yield GaugeMetricFamily(
            "s3front_requests_in_flight", "S3 requests being handled now.", IN_FLIGHT.value
        )
        for name, value in GAUGES.items():
            yield GaugeMetricFamily(name, _GAUGE_DOCS[name], value)
        yield _build_info()
        yield from _process_families(None)


REGISTRY.register(_Collector())


# -- several worker processes (`serve --workers N`) ---------------------------------------------


def share_with_workers(directory: str) -> None:
    """Make this process one of several whose metrics a scrape reports together: snapshots go
    to `directory` every second (a daemon thread) and at each scrape."""
    global _shared_dir
    shared = _shared_dir = Path(directory)
    _write_snapshot(shared)

    def loop() -> None:
        while True:
            time.sleep(_SNAPSHOT_SECONDS)
            with suppress(OSError):  # a full disk must not end the worker
                _write_snapshot(shared)

    threading.Thread(target=loop, name="s3front-metrics", daemon=True).start()


def _snapshot() -> dict[str, Any]:
    # Copies first (each one atomic under the GIL), while the event loop keeps counting.
    counters = {c.name: list(dict(c.values).items()) for c in COUNTERS}
    histograms = {h.name: [(k, list(r)) for k, r in dict(h.series).items()] for h in HISTOGRAMS}
    return {
        "pid": os.getpid(),
        "written": time.time(),
        "counters": counters,
        "histograms": histograms,
        "in_flight": IN_FLIGHT.value,
        "gauges": dict(GAUGES),
        "process": _process_samples(),
    }


def _write_snapshot(directory: Path) -> None:
    with _snapshot_lock:
        path = directory / f"{os.getpid()}.json"
        tmp = directory / f".{os.getpid()}.tmp"
        tmp.write_text(json.dumps(_snapshot()))
        os.replace(tmp, path)  # a reader sees the old snapshot or the new one, never half


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _merged_families(directory: Path) -> Iterator[Metric]:
    with suppress(OSError):
        _write_snapshot(directory)
    snapshots = []
    for path in sorted(directory.glob("*.json")):
        with suppress(OSError, ValueError):
            snapshots.append(json.loads(path.read_text()))
    live = [s for s in snapshots if s.get("pid") == os.getpid() or _alive(int(s.get("pid", 0)))]
    for counter in COUNTERS:
        values: dict[tuple[str, ...], float] = {}
        for snap in snapshots:
            for key, value in snap["counters"].get(counter.name, []):
                values[tuple(key)] = values.get(tuple(key), 0.0) + value
        yield counter.family(values)
    for histogram in HISTOGRAMS:
        series: dict[tuple[str, ...], list[float]] = {}
        for snap in snapshots:
            for key, row in histogram_rows(snap, histogram.name, len(histogram.bounds) + 2):
                total = series.setdefault(key, [0.0] * len(row))
                for i, n in enumerate(row):
                    total[i] += n
        yield histogram.family(series)
    yield GaugeMetricFamily(
        "s3front_requests_in_flight",
        "S3 requests being handled now.",
        sum(s["in_flight"] for s in live),
    )
    yield GaugeMetricFamily(
        "s3front_worker_processes", "Worker processes whose metrics this scrape sums.", len(live)
    )
    latest = max(snapshots, key=lambda s: s["gauges"]["s3front_gc_last_run_timestamp_seconds"])
    for name in GAUGES:
        yield GaugeMetricFamily(name, _GAUGE_DOCS[name], latest["gauges"].get(name, 0.0))
    yield _build_info()
    merged: dict[str, float] = {}
    for name in live[0]["process"] if live else ():
        values_ = [s["process"][name] for s in live if name in s["process"]]
        merged[name] = _PROCESS_MERGE.get(name, sum)(values_)
    yield from _process_families(merged)


def histogram_rows(
    snap: dict[str, Any], name: str, width: int
) -> Iterator[tuple[tuple[str, ...], list[float]]]:
    for key, row in snap["histograms"].get(name, []):
        if len(row) == width:  # a snapshot of another version's buckets is left out
            yield tuple(key), row


# Statuses outside this set are folded into their class ("2xx", "4xx", ...) so a misbehaving
# handler cannot mint new label values.
_KNOWN_STATUSES = frozenset(
    {200, 204, 206, 301, 304, 307, 400, 403, 404, 405, 409, 411, 412, 416, 500, 501, 503}
)
_STATUS_LABELS = {status: str(status) for status in _KNOWN_STATUSES}


def access_log_records(outcome: str, count: int = 1) -> None:
    """Count server access log records delivered or dropped (`s3front.access_log_delivery`)."""
    ACCESS_LOG_RECORDS.inc((outcome,), count)


def reject(reason: str) -> None:
    """Count a request refused before an S3 handler ran (`reason`: one of REJECT_REASONS)."""
    REJECTED.inc((reason,))


def observe_request(op: str, status: int, seconds: float, bytes_in: int, bytes_out: int) -> None:
    """Record one finished S3 request (`op` is the routing table's operation name, or "")."""
    op = op or "unknown"
    REQUESTS.inc((op, _STATUS_LABELS.get(status) or f"{status // 100}xx"))
    REQUEST_SECONDS.observe((op,), max(seconds, 0.0))
    if bytes_in > 0:
        BYTES_IN.inc((op,), bytes_in)
    if bytes_out > 0:
        BYTES_OUT.inc((op,), bytes_out)


@asynccontextmanager
async def time_store(backend: str, op: str) -> AsyncIterator[None]:
    """Time the enclosed store call: `async with time_store("cassandra", "get_object"): ...`.

    An exception is recorded with outcome "error" and re-raised unchanged.
    """
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    finally:
        STORE_SECONDS.observe((backend, op, outcome), time.perf_counter() - started)


P = ParamSpec("P")
R = TypeVar("R")


def timed_store(
    backend: str, op: str | None = None
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Coroutine[Any, Any, R]]]:
    """Decorator form of `time_store` for async store methods; `op` defaults to the name."""

    def wrap(fn: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        name = op or fn.__name__

        @wraps(fn)
        async def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            async with time_store(backend, name):
                return await fn(*args, **kwargs)

        return timed

    return wrap


def set_gc_result(freed_blocks: int, freed_bytes: int, finished_at: float | None = None) -> None:
    """Publish the outcome of a garbage-collection run."""
    GAUGES["s3front_gc_freed_blocks"] = float(freed_blocks)
    GAUGES["s3front_gc_freed_bytes"] = float(freed_bytes)
    GAUGES["s3front_gc_last_run_timestamp_seconds"] = (
        time.time() if finished_at is None else finished_at
    )


def set_dedup(logical_bytes: int, stored_bytes: int) -> None:
    """Publish logical (client-visible) versus stored (distinct block) bytes."""
    GAUGES["s3front_logical_bytes"] = float(logical_bytes)
    GAUGES["s3front_stored_bytes"] = float(stored_bytes)


def metrics_response() -> tuple[bytes, str]:
    """The exposition document and its content type, for the `/-/metrics` route."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST

"""Prometheus metrics for the server, served at `/-/metrics`.

Every metric lives in one module-level `REGISTRY`, not prometheus-client's global default
registry: the default one also collects process and platform metrics of whatever imported it
(pytest included), and a dedicated registry lets tests read exact values and lets the lead
choose later what else to expose.

What is measured:
  - S3 requests by operation and HTTP status, their latency by operation, bytes in and out;
  - store operations' latency by backend and operation (`time_store(...)`, for the store layer);
  - the garbage collector's and deduplication's state as gauges the GC job sets.

Label values stay bounded: operation names come from the routing table and statuses from a
fixed set, never from bucket names or keys (which would grow the series without limit).
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

REGISTRY = CollectorRegistry(auto_describe=True)

# S3 latency spans small-object metadata reads (ms) to multi-GiB uploads (minutes).
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
# One store call is one Cassandra/SQLite round trip or a small batch of them.
_STORE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5)

REQUESTS = Counter(
    "s3front_requests",
    "S3 requests handled, by operation and HTTP status.",
    ["op", "status"],
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "s3front_request_duration_seconds",
    "Time from request line to response, by operation.",
    ["op"],
    buckets=_REQUEST_BUCKETS,
    registry=REGISTRY,
)
BYTES_IN = Counter(
    "s3front_received_bytes",
    "Request body bytes received, by operation.",
    ["op"],
    registry=REGISTRY,
)
BYTES_OUT = Counter(
    "s3front_sent_bytes", "Response body bytes sent, by operation.", ["op"], registry=REGISTRY
)
STORE_SECONDS = Histogram(
    "s3front_store_operation_duration_seconds",
    "Latency of store calls, by backend and operation; outcome is ok or error.",
    ["backend", "op", "outcome"],
    buckets=_STORE_BUCKETS,
    registry=REGISTRY,
)

GC_FREED_BLOCKS = Gauge(
    "s3front_gc_freed_blocks", "Blocks freed by the last garbage-collection run.", registry=REGISTRY
)
GC_FREED_BYTES = Gauge(
    "s3front_gc_freed_bytes", "Bytes freed by the last garbage-collection run.", registry=REGISTRY
)
GC_LAST_RUN = Gauge(
    "s3front_gc_last_run_timestamp_seconds",
    "Unix time at which the last garbage-collection run finished.",
    registry=REGISTRY,
)
LOGICAL_BYTES = Gauge(
    "s3front_logical_bytes", "Sum of object sizes as clients see them.", registry=REGISTRY
)
STORED_BYTES = Gauge(
    "s3front_stored_bytes", "Bytes of distinct data blocks actually stored.", registry=REGISTRY
)

# Statuses outside this set are folded into their class ("2xx", "4xx", ...) so a misbehaving
# handler cannot mint new label values.
_KNOWN_STATUSES = frozenset(
    {200, 204, 206, 301, 304, 307, 400, 403, 404, 405, 409, 411, 412, 416, 500, 501, 503}
)


def _status_label(status: int) -> str:
    return str(status) if status in _KNOWN_STATUSES else f"{status // 100}xx"


@functools.lru_cache(maxsize=4096)  # bounded anyway: ops come from a table, statuses from a set
def _request_series(op: str, status: int) -> tuple[Counter, Histogram, Counter, Counter]:
    # `labels()` hashes and looks the series up under a lock; per request, that was a
    # noticeable share of a small GET. The series objects themselves never change.
    return (
        REQUESTS.labels(op=op, status=_status_label(status)),
        REQUEST_SECONDS.labels(op=op),
        BYTES_IN.labels(op=op),
        BYTES_OUT.labels(op=op),
    )


def observe_request(op: str, status: int, seconds: float, bytes_in: int, bytes_out: int) -> None:
    """Record one finished S3 request (`op` is the routing table's operation name, or "")."""
    requests, latency, received, sent = _request_series(op or "unknown", status)
    requests.inc()
    latency.observe(max(seconds, 0.0))
    if bytes_in > 0:
        received.inc(bytes_in)
    if bytes_out > 0:
        sent.inc(bytes_out)


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
        STORE_SECONDS.labels(backend=backend, op=op, outcome=outcome).observe(
            time.perf_counter() - started
        )


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
    GC_FREED_BLOCKS.set(freed_blocks)
    GC_FREED_BYTES.set(freed_bytes)
    GC_LAST_RUN.set(time.time() if finished_at is None else finished_at)


def set_dedup(logical_bytes: int, stored_bytes: int) -> None:
    """Publish logical (client-visible) versus stored (distinct block) bytes."""
    LOGICAL_BYTES.set(logical_bytes)
    STORED_BYTES.set(stored_bytes)


def metrics_response() -> tuple[bytes, str]:
    """The exposition document and its content type, for the `/-/metrics` route."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST

"""The /-/ service endpoints of a running server: health, readiness, Prometheus metrics, and the
structured access log. They live outside the S3 namespace: a bucket named "metrics" is a bucket."""

from __future__ import annotations

import json
import re
from typing import Any


def _metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of `name` whose labels include `labels` (0 if absent)."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        body = line[len(name) + 1 : line.index("}")]
        found = dict(re.findall(r'(\w+)="([^"]*)"', body))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_health_ready_and_metrics(server: Any, s3: Any, bucket: str) -> None:
    assert server.raw("GET", "/-/healthz", sign=False).status == 200
    assert server.raw("GET", "/-/readyz", sign=False).status == 200
    before = server.raw("GET", "/-/metrics", sign=False).body.decode()
    s3.put_object(Bucket=bucket, Key="m", Body=b"x" * 1000)
    assert s3.get_object(Bucket=bucket, Key="m")["Body"].read() == b"x" * 1000
    after_resp = server.raw("GET", "/-/metrics", sign=False)
    assert after_resp.status == 200
    assert after_resp.headers["content-type"].startswith("text/plain")
    after = after_resp.body.decode()
    for op in ("PutObject", "GetObject"):
        assert (
            _metric(after, "s3front_requests_total", op=op, status="200")
            >= _metric(before, "s3front_requests_total", op=op, status="200") + 1
        )
    assert _metric(after, "s3front_received_bytes_total", op="PutObject") >= 1000
    assert _metric(after, "s3front_sent_bytes_total", op="GetObject") >= 1000
    # Store latency comes from the timing proxy around the backend.
    assert _metric(after, "s3front_store_operation_duration_seconds_count", op="put_object") >= 1
    assert _metric(after, "s3front_request_duration_seconds_count", op="PutObject") >= 1


def test_a_bucket_named_metrics_is_a_bucket(server: Any, s3: Any) -> None:
    import uuid

    # "metrics" itself is global on a shared store: use the name when free, else a variant.
    name = (
        "metrics"
        if "metrics" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        else f"metrics-{uuid.uuid4().hex[:8]}"
    )
    s3.create_bucket(Bucket=name)
    try:
        s3.put_object(Bucket=name, Key="healthz", Body=b"data")
        assert s3.get_object(Bucket=name, Key="healthz")["Body"].read() == b"data"
        assert server.raw("GET", "/-/metrics", sign=False).body.startswith(b"# HELP")
    finally:
        s3.delete_object(Bucket=name, Key="healthz")
        s3.delete_bucket(Bucket=name)


def test_access_log_is_json_lines(server: Any, s3: Any, bucket: str) -> None:
    mark = server.log_mark()
    s3.put_object(Bucket=bucket, Key="logged", Body=b"abc")
    entries = [
        e
        for e in server.access_log(mark)
        if e.get("op") == "PutObject" and e.get("key") == "logged"
    ]
    assert entries, server.log_since(mark)
    entry = entries[-1]
    for field in (
        "time",
        "request_id",
        "tenant",
        "op",
        "bucket",
        "key",
        "status",
        "bytes_in",
        "duration_ms",
    ):
        assert field in entry, json.dumps(entry)
    assert entry["status"] == 200 and entry["bucket"] == bucket and entry["bytes_in"] >= 3
    # Secrets never reach the log.
    assert server.secret_key not in server.log_text()

"""What an operator reads (issue 18, item 3): the access log is JSON Lines with the fields the
README lists, and the metrics have requests in flight, refusals by reason, process metrics,
build info, HEAD without body bytes, and one scrape covering every `--workers` process."""

from __future__ import annotations

import http.client
import json
import re
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import s3front_e2e_support as sup
from botocore.config import Config
from botocore.exceptions import ClientError

from s3front import __version__

FIELDS = {
    "time",
    "request_id",
    "client",
    "access_key",
    "tenant",
    "op",
    "method",
    "bucket",
    "key",
    "status",
    "error",
    "bytes_in",
    "bytes_out",
    "duration_ms",
}


def metric(text: str, name: str, **labels: str) -> float | None:
    """The sum of the samples of `name` whose labels include `labels`; None if there is none."""
    total = None
    for line in text.splitlines():
        if not (line.startswith(name + "{") or line.startswith(name + " ")):
            continue
        found: dict[str, str] = {}
        if "{" in line:
            found = dict(re.findall(r'(\w+)="([^"]*)"', line[line.index("{") : line.index("}")]))
        if all(found.get(k) == v for k, v in labels.items()):
            total = (total or 0.0) + float(line.rsplit(" ", 1)[1])
    return total


def scrape(server: Any) -> str:
    resp = server.raw("GET", "/-/metrics", sign=False)
    assert resp.status == 200
    text: str = resp.body.decode()
    return text


def test_access_log_is_json_lines_with_every_field(server: Any, s3: Any, bucket: str) -> None:
    mark = server.log_mark()
    s3.put_object(Bucket=bucket, Key="dir/ünï €.txt", Body=b"x" * 1234)
    assert s3.get_object(Bucket=bucket, Key="dir/ünï €.txt")["Body"].read() == b"x" * 1234
    s3.head_object(Bucket=bucket, Key="dir/ünï €.txt")
    with pytest.raises(ClientError):
        s3.get_object(Bucket=bucket, Key="missing")
    forged = server.raw("GET", f"/{bucket}/missing", secret_key="not-the-secret")
    assert forged.status == 403
    time.sleep(0.2)  # the lines are written before the responses; let the file catch up

    text = server.log_since(mark)
    entries = []
    for line in text.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)  # the whole line: no prefix, nothing after the object
            assert isinstance(entry, dict) and set(entry) == FIELDS, line
            entries.append(entry)
        else:
            assert "s3front.access" not in line, line  # no access entries in any other form
    mine = {(e["op"], e["key"]): e for e in entries if e["bucket"] == bucket}

    put = mine["PutObject", "dir/ünï €.txt"]
    assert put["status"] == 200 and put["error"] == "" and put["bytes_in"] == 1234
    assert put["method"] == "PUT" and put["client"] == "127.0.0.1"
    assert put["access_key"] == server.access_key
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", put["time"])
    assert put["duration_ms"] >= 0 and put["request_id"]
    get = mine["GetObject", "dir/ünï €.txt"]
    assert get["bytes_out"] == 1234 and get["bytes_in"] == 0
    head = mine["HeadObject", "dir/ünï €.txt"]
    assert head["status"] == 200 and head["bytes_out"] == 0  # HEAD sends no body
    missing = [e for e in entries if e["key"] == "missing" and e["bucket"] == bucket]
    assert {(e["status"], e["error"]) for e in missing} == {
        (404, "NoSuchKey"),
        (403, "SignatureDoesNotMatch"),
    }
    # The forged request names no key it did not prove; no secret or signature is ever logged.
    assert [e["access_key"] for e in missing if e["status"] == 403] == [""]
    assert (
        server.secret_key not in text and "Signature=" not in text and "not-the-secret" not in text
    )


def test_head_counts_no_body_bytes(server: Any, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="sized", Body=b"y" * 5000)
    before = metric(scrape(server), "s3front_sent_bytes_total", op="HeadObject") or 0.0
    for _ in range(3):
        assert s3.head_object(Bucket=bucket, Key="sized")["ContentLength"] == 5000
    assert (metric(scrape(server), "s3front_sent_bytes_total", op="HeadObject") or 0.0) == before


def test_in_flight_rejected_process_and_build_info(server: Any, bucket: str) -> None:
    text = scrape(server)
    assert metric(text, "s3front_build_info", version=__version__) == 1
    assert (metric(text, "process_resident_memory_bytes") or 0) > 1e6
    assert (metric(text, "process_cpu_seconds_total") or 0) > 0
    assert (metric(text, "process_open_fds") or 0) > 0
    for reason in ("concurrency_limit", "header_too_large", "header_timeout", "body_timeout"):
        assert metric(text, "s3front_rejected_requests_total", reason=reason) is not None
    assert metric(text, "s3front_requests_in_flight") is not None

    # A request whose head is larger than max_header_bytes: refused, and counted.
    too_large = metric(text, "s3front_rejected_requests_total", reason="header_too_large") or 0
    sock = sup.open_raw_socket(server)
    try:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\nx-big: " + b"a" * 40_000 + b"\r\n\r\n")
        assert b" 400 " in sup.read_http_response(sock).split(b"\r\n", 1)[0]
    finally:
        sock.close()
    after = metric(scrape(server), "s3front_rejected_requests_total", reason="header_too_large")
    assert after == too_large + 1

    # A PUT whose body has not all arrived is in flight until the client goes away. The server
    # is shared across modules: a stalled body another test left behind is in flight until the
    # server's body_idle_timeout (30 s) ends it, so first wait for none (scrapes never count).
    deadline = time.monotonic() + 60
    while (idle := metric(scrape(server), "s3front_requests_in_flight")) != 0:
        assert time.monotonic() < deadline, f"{idle} requests stayed in flight for a minute"
        time.sleep(0.2)
    path = f"/{bucket}/slow"
    headers = {"host": f"127.0.0.1:{server.port}", "content-length": "100"}
    signed = sup.sign_v4(
        "PUT", path, "", headers, "UNSIGNED-PAYLOAD", server.access_key, server.secret_key
    )
    head = "".join(f"{k}: {v}\r\n" for k, v in signed.headers.items())
    sock = sup.open_raw_socket(server)
    try:
        sock.sendall(f"PUT {path} HTTP/1.1\r\n{head}\r\n".encode() + b"z" * 10)
        deadline = time.monotonic() + 20
        while (now := metric(scrape(server), "s3front_requests_in_flight")) != 1:
            assert time.monotonic() < deadline, f"the stalled PUT never showed as in flight: {now}"
            time.sleep(0.05)
    finally:
        sock.close()
    deadline = time.monotonic() + 20
    while metric(scrape(server), "s3front_requests_in_flight") != 0:
        assert time.monotonic() < deadline, "the abandoned PUT stayed in flight"
        time.sleep(0.05)


def test_one_scrape_covers_every_worker(tmp_path: Path) -> None:
    srv = sup.start_server(tmp_path, extra_args=["--workers", "2"], ready_timeout=60)
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=srv.endpoint,
            aws_access_key_id=srv.access_key,
            aws_secret_access_key=srv.secret_key,
            region_name=sup.REGION,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )
        s3.create_bucket(Bucket="workers")
        sent = 40
        for i in range(sent):  # a new connection each time: the kernel spreads them
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
            try:
                conn.request("GET", f"/workers/k{i}")  # anonymous: 403 AccessDenied
                assert conn.getresponse().read()
            finally:
                conn.close()
        time.sleep(2.5)  # every worker's snapshot (written each second) now has them all
        for _ in range(6):  # scrapes land on either worker; each reports the sum
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
            try:
                conn.request("GET", "/-/metrics")
                text = conn.getresponse().read().decode()
            finally:
                conn.close()
            assert metric(text, "s3front_worker_processes") == 2
            assert metric(text, "s3front_requests_total", op="GetObject") == sent
            assert (metric(text, "process_resident_memory_bytes") or 0) > 2e6
            assert metric(text, "s3front_build_info", version=__version__) == 1
    finally:
        sup.stop_server(srv)

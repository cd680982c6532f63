"""Bucket logging (issue 19 item 9): Put/GetBucketLogging with boto3, and server access logs
delivered into the target bucket in AWS's format.

AWS documents the log format at https://docs.aws.amazon.com/AmazonS3/latest/userguide/LogFormat.html
and the configuration at https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketLogging.html;
the line regex below is the one AWS's Athena guide builds its table from, with the quoted fields
allowed to hold backslash escapes. The `server` fixture runs with
S3FRONT_ACCESS_LOG_FLUSH_SECONDS=1, so delivery is waited for with a bounded poll.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
import s3front_e2e_support as sup

_Q = r'"((?:[^"\\]|\\.)*)"'
LINE = re.compile(
    r"^(?P<owner>\S+) (?P<bucket>\S+) \[(?P<time>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000)\] "
    r"(?P<ip>\S+) (?P<requester>\S+) (?P<request_id>\S+) (?P<operation>\S+) (?P<key>\S+) "
    rf"{_Q.replace('(', '(?P<uri>', 1)} (?P<status>\d{{3}}) (?P<error>\S+) (?P<sent>\S+) "
    r"(?P<size>\S+) (?P<total>\S+) (?P<turnaround>\S+) "
    rf"{_Q.replace('(', '(?P<referer>', 1)} {_Q.replace('(', '(?P<agent>', 1)} "
    r"(?P<version>\S+) (?P<host_id>\S+) (?P<sigv>\S+) (?P<cipher>\S+) (?P<auth>\S+) "
    r"(?P<host>\S+) (?P<tls>\S+) (?P<ap_arn>\S+) (?P<acl_required>\S+)$"
)
SIMPLE_KEY = re.compile(r"^access/\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9A-F]{16}$")


def _code(exc: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> tuple[int, str]:
    resp = exc.value.response
    return resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Code"]


def _enable(s3: Any, source: str, target: str, prefix: str = "access/", **extra: Any) -> None:
    s3.put_bucket_logging(
        Bucket=source,
        BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": target, "TargetPrefix": prefix, **extra}
        },
    )


@pytest.fixture
def buckets(s3: Any) -> Iterator[tuple[str, str]]:
    """(source, target), emptied and removed afterwards."""
    names = (sup.unique_bucket("src"), sup.unique_bucket("logs"))
    for name in names:
        s3.create_bucket(Bucket=name)
    yield names
    s3.put_bucket_logging(Bucket=names[0], BucketLoggingStatus={})
    for name in names:
        _empty_and_delete(s3, name)


def _empty_and_delete(s3: Any, name: str) -> None:
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                s3.delete_object(Bucket=name, Key=obj["Key"])
        s3.delete_bucket(Bucket=name)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
        pass


def _keys_cli(server: Any, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3FRONT_", "AWS_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "s3front", "keys", *args, "--store", server.store_url],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def other_tenant(server: Any) -> Any:
    """A boto3 client of a second tenant."""
    out = _keys_cli(server, "create", "--tenant", f"logother-{uuid.uuid4().hex[:6]}")
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return server.client(
        access_key=fields["access key"].strip(), secret_key=fields["secret key"].strip()
    )


def _log_lines(s3: Any, target: str, prefix: str) -> tuple[list[str], list[str]]:
    keys: list[str] = []
    lines: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=target, Prefix=prefix):
        for obj in page.get("Contents", []):
            keys.append(obj["Key"])
            body = s3.get_object(Bucket=target, Key=obj["Key"])["Body"].read().decode()
            lines += body.splitlines()
    return keys, lines


def _wait_for(
    s3: Any, target: str, prefix: str, request_ids: set[str]
) -> tuple[list[str], dict[str, re.Match[str]]]:
    """Poll (bounded) until every request id has a record; the keys and parsed records."""
    deadline = time.monotonic() + 60
    while True:
        keys, lines = _log_lines(s3, target, prefix)
        records: dict[str, re.Match[str]] = {}
        for line in lines:
            m = LINE.match(line)
            assert m is not None, f"not in AWS's access log format: {line!r}"
            records[m["request_id"]] = m
        if request_ids <= set(records) or time.monotonic() > deadline:
            missing = request_ids - set(records)
            assert not missing, f"no record for {missing} in {lines}"
            return keys, records
        time.sleep(0.5)


def _rid(resp: dict[str, Any]) -> str:
    return str(resp["ResponseMetadata"]["RequestId"])


# --- configuration -----------------------------------------------------------------------------


def test_put_get_bucket_logging_round_trip(s3: Any, buckets: tuple[str, str]) -> None:
    source, target = buckets
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=source)
    _enable(s3, source, target, "logs/")
    got = s3.get_bucket_logging(Bucket=source)["LoggingEnabled"]
    assert got["TargetBucket"] == target
    assert got["TargetPrefix"] == "logs/"
    assert "SimplePrefix" in got["TargetObjectKeyFormat"]
    _enable(
        s3,
        source,
        target,
        "p/",
        TargetObjectKeyFormat={"PartitionedPrefix": {"PartitionDateSource": "EventTime"}},
    )
    got = s3.get_bucket_logging(Bucket=source)["LoggingEnabled"]
    assert got["TargetObjectKeyFormat"] == {
        "PartitionedPrefix": {"PartitionDateSource": "EventTime"}
    }
    # Disabling is an empty BucketLoggingStatus.
    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus={})
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=source)


def test_put_bucket_logging_refusals(
    server: Any, s3: Any, buckets: tuple[str, str], other_tenant: Any
) -> None:
    source, target = buckets
    # A target that does not exist.
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        _enable(s3, source, sup.unique_bucket("nolog"))
    assert _code(exc) == (400, "InvalidTargetBucketForLogging")
    # Nor one that no bucket could be called (answered without a store lookup).
    for name in ("", "Not_A_Bucket", "x" * 5000):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            _enable(s3, source, name)
        assert _code(exc) == (400, "InvalidTargetBucketForLogging"), name
    # Another tenant's bucket is no target: it would fill (and bill) a bucket the owner of the
    # source does not own.
    theirs = sup.unique_bucket("theirs")
    other_tenant.create_bucket(Bucket=theirs)
    try:
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            _enable(s3, source, theirs)
        assert _code(exc) == (400, "InvalidTargetBucketForLogging")
        # Nor may the other tenant point its bucket's logs at ours.
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            _enable(other_tenant, theirs, target)
        assert _code(exc) == (400, "InvalidTargetBucketForLogging")
    finally:
        other_tenant.delete_bucket(Bucket=theirs)
    # Only the owner sets a bucket's logging status.
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        _enable(other_tenant, source, target)
    assert _code(exc) == (403, "AccessDenied")
    # TargetGrants are not implemented: refused, not stored and ignored.
    grant = {
        "Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
        "Permission": "READ",
    }
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        _enable(s3, source, target, TargetGrants=[grant])
    assert _code(exc) == (501, "NotImplemented")
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=source)


@pytest.mark.parametrize(
    "body",
    [
        b"<BucketLoggingStatus><LoggingEnabled>",
        b"<Other/>",
        # TargetPrefix is required by AWS's schema.
        b"<BucketLoggingStatus><LoggingEnabled><TargetBucket>x</TargetBucket>"
        b"</LoggingEnabled></BucketLoggingStatus>",
        b"<BucketLoggingStatus><LoggingEnabled><TargetBucket>x</TargetBucket>"
        b"<TargetPrefix/><TargetObjectKeyFormat><PartitionedPrefix><PartitionDateSource>"
        b"Tomorrow</PartitionDateSource></PartitionedPrefix></TargetObjectKeyFormat>"
        b"</LoggingEnabled></BucketLoggingStatus>",
    ],
)
def test_put_bucket_logging_malformed_xml(server: Any, s3: Any, body: bytes) -> None:
    name = sup.unique_bucket("mx")
    s3.create_bucket(Bucket=name)
    try:
        resp = server.raw("PUT", f"/{name}", query="logging", body=body)
        assert (resp.status, resp.error_code) == (400, "MalformedXML"), resp
    finally:
        s3.delete_bucket(Bucket=name)


def test_object_lock_bucket_is_no_log_target(s3: Any, buckets: tuple[str, str]) -> None:
    """AWS: "S3 buckets with Object Lock can't be used as destination buckets for server access
    logs" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html)."""
    source, _ = buckets
    locked = sup.unique_bucket("locked")
    s3.create_bucket(Bucket=locked, ObjectLockEnabledForBucket=True)
    try:
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            _enable(s3, source, locked)
        assert _code(exc) == (400, "InvalidTargetBucketForLogging")
    finally:
        s3.delete_bucket(Bucket=locked)


# --- delivery ----------------------------------------------------------------------------------


def test_access_log_records_are_delivered_in_aws_format(
    server: Any, s3: Any, buckets: tuple[str, str]
) -> None:
    source, target = buckets
    _enable(s3, source, target)
    owner = s3.get_bucket_acl(Bucket=source)["Owner"]["ID"]
    body = b"hello world"
    put = s3.put_object(Bucket=source, Key="dir/a b.txt", Body=body)
    get = s3.get_object(Bucket=source, Key="dir/a b.txt")
    assert get["Body"].read() == body
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.get_object(Bucket=source, Key="missing")
    missing = exc.value.response["ResponseMetadata"]["RequestId"]
    listing = s3.list_objects_v2(Bucket=source)
    presigned: dict[str, str] = {}  # signature version -> request id
    urls: list[str] = []
    for version, signer in (("SigV4", "s3v4"), ("SigV2", "s3")):
        url = server.client(signature_version=signer).generate_presigned_url(
            "get_object", Params={"Bucket": source, "Key": "dir/a b.txt"}, ExpiresIn=300
        )
        urls.append(url)
        with urllib.request.urlopen(url, context=server.ssl_context(), timeout=30) as resp:
            assert resp.read() == body
            presigned[version] = resp.headers["x-amz-request-id"]

    wanted = {_rid(put), _rid(get), missing, _rid(listing), *presigned.values()}
    keys, records = _wait_for(s3, target, "access/", wanted)
    for key in keys:
        assert SIMPLE_KEY.match(key), key
        head = s3.head_object(Bucket=target, Key=key)
        assert head["ContentType"] == "text/plain"

    for rec in records.values():
        assert rec["owner"] == owner
        assert rec["bucket"] == source
        assert rec["ip"] == "127.0.0.1"
        assert rec["ap_arn"] == "-"
        assert rec["total"].isdigit()
    p = records[_rid(put)]
    assert (p["operation"], p["key"], p["status"], p["error"]) == (
        "REST.PUT.OBJECT",
        "dir/a%20b.txt",
        "200",
        "-",
    )
    assert p["uri"].startswith(f"PUT /{source}/dir/a%20b.txt")
    assert p["uri"].endswith(" HTTP/1.1")
    assert p["size"] == str(len(body))
    assert (p["requester"], p["sigv"], p["auth"]) == (owner, "SigV4", "AuthHeader")
    assert p["agent"].startswith("Boto3/")
    assert p["host"].startswith("127.0.0.1:")
    g = records[_rid(get)]
    assert (g["operation"], g["status"], g["sent"], g["size"]) == (
        "REST.GET.OBJECT",
        "200",
        str(len(body)),
        str(len(body)),
    )
    m = records[missing]
    assert (m["operation"], m["key"], m["status"], m["error"]) == (
        "REST.GET.OBJECT",
        "missing",
        "404",
        "NoSuchKey",
    )
    assert m["sent"] != "-" and int(m["sent"]) > 0  # the error document
    lst = records[_rid(listing)]
    assert (lst["operation"], lst["key"], lst["status"]) == ("REST.GET.BUCKET", "-", "200")
    for version, rid in presigned.items():
        q = records[rid]
        assert (q["operation"], q["sigv"], q["auth"]) == ("REST.GET.OBJECT", version, "QueryString")
        # Never a signature: the presigned URI keeps its other parameters, not the signature.
        assert "Signature" not in q["uri"], q["uri"]
        assert ("X-Amz-Credential=" if version == "SigV4" else "AWSAccessKeyId=") in q["uri"]
    _, lines = _log_lines(s3, target, "access/")
    for url in urls:
        signature = re.split(r"Signature=", url)[1].split("&")[0]
        assert all(signature not in line for line in lines)
    assert all(server.secret_key not in line for line in lines)


def test_anonymous_and_failed_requests_are_logged(
    server: Any, s3: Any, buckets: tuple[str, str]
) -> None:
    source, target = buckets
    _enable(s3, source, target)
    anon = server.raw("GET", f"/{source}/secret", sign=False)
    assert anon.status == 403
    bad = server.client(secret_key="wrong" * 8)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        bad.head_bucket(Bucket=source)
    bad_id = exc.value.response["ResponseMetadata"]["RequestId"]
    _, records = _wait_for(s3, target, "access/", {anon.request_id, bad_id})
    a = records[anon.request_id]
    assert (a["requester"], a["sigv"], a["auth"], a["status"], a["error"]) == (
        "-",
        "-",
        "-",
        "403",
        "AccessDenied",
    )
    b = records[bad_id]
    assert (b["operation"], b["requester"], b["status"]) == ("REST.HEAD.BUCKET", "-", "403")


def test_partitioned_prefix_keys(s3: Any, buckets: tuple[str, str]) -> None:
    source, target = buckets
    _enable(
        s3,
        source,
        target,
        "part/",
        TargetObjectKeyFormat={"PartitionedPrefix": {"PartitionDateSource": "DeliveryTime"}},
    )
    owner = s3.get_bucket_acl(Bucket=source)["Owner"]["ID"]
    put = s3.put_object(Bucket=source, Key="k", Body=b"x")
    keys, records = _wait_for(s3, target, "part/", {_rid(put)})
    region = s3.get_bucket_location(Bucket=source)["LocationConstraint"] or "us-east-1"
    pattern = re.compile(
        rf"^part/{owner}/{region}/{source}/\d{{4}}/\d{{2}}/\d{{2}}/"
        r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9A-F]{16}$"
    )
    assert keys and all(pattern.match(k) for k in keys), keys
    assert records[_rid(put)]["operation"] == "REST.PUT.OBJECT"


def test_no_records_after_logging_is_disabled(s3: Any, buckets: tuple[str, str]) -> None:
    source, target = buckets
    _enable(s3, source, target)
    first = s3.put_object(Bucket=source, Key="a", Body=b"1")
    _wait_for(s3, target, "access/", {_rid(first)})
    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus={})
    later = s3.put_object(Bucket=source, Key="b", Body=b"2")
    time.sleep(3)  # three delivery ticks
    _, lines = _log_lines(s3, target, "access/")
    assert all(_rid(later) not in line for line in lines)


@pytest.mark.variants("sqlite")
def test_records_held_at_shutdown_are_delivered(
    server: Any, tmp_path: Path, tls_material: Any
) -> None:
    """A graceful shutdown delivers what the buffers hold: a server with an hour-long flush
    interval is stopped right after the requests, and the log object is there at the next start."""
    workdir = tmp_path / "srv"
    hourly = {"S3FRONT_ACCESS_LOG_FLUSH_SECONDS": "3600"}
    kwargs: dict[str, Any] = {
        "scheme": server.scheme,
        "tls": tls_material if server.scheme == "https" else None,
        "variant": server.variant,
        "env_extra": hourly,
    }
    first = sup.start_server(workdir, **kwargs)
    try:
        s3 = first.client()
        source, target = sup.unique_bucket("src"), sup.unique_bucket("logs")
        s3.create_bucket(Bucket=source)
        s3.create_bucket(Bucket=target)
        _enable(s3, source, target)
        put = s3.put_object(Bucket=source, Key="k", Body=b"x")
        time.sleep(1)
        assert s3.list_objects_v2(Bucket=target).get("KeyCount") == 0  # held, not delivered
        s3.close()
    finally:
        sup.stop_server(first)
    # uvicorn re-raises SIGTERM once it has drained (tests/e2e/test_graceful_shutdown.py).
    assert first.proc.returncode in (0, -signal.SIGTERM)
    second = sup.start_server(workdir, **kwargs)
    try:
        s3 = second.client()
        _, lines = _log_lines(s3, target, "access/")
        s3.close()
        assert any(_rid(put) in line for line in lines), lines
    finally:
        sup.stop_server(second)


def test_aws_cli_put_get_bucket_logging_and_the_delivered_log(
    server: Any, s3: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    """`aws s3api put-bucket-logging` / `get-bucket-logging` as the AWS CLI documents them, and
    an `aws s3 cp` upload found in the delivered log."""
    source, target = buckets
    env = sup.client_env(tmp_path, server)

    def aws(*args: str) -> str:
        return sup.run(sup.aws_cmd(server, *args), env=env, cwd=tmp_path, timeout=120).stdout

    status = json.dumps({"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": "cli/"}})
    aws("s3api", "put-bucket-logging", "--bucket", source, "--bucket-logging-status", status)
    got = json.loads(aws("s3api", "get-bucket-logging", "--bucket", source))
    assert got["LoggingEnabled"]["TargetBucket"] == target
    assert got["LoggingEnabled"]["TargetPrefix"] == "cli/"
    (tmp_path / "up.txt").write_bytes(b"from the cli\n")
    aws("s3", "cp", str(tmp_path / "up.txt"), f"s3://{source}/cli-upload.txt")
    deadline = time.monotonic() + 60
    while True:
        _, lines = _log_lines(s3, target, "cli/")
        puts = [m for m in map(LINE.match, lines) if m and m["key"] == "cli-upload.txt"]
        if puts or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert puts, lines
    assert (puts[0]["operation"], puts[0]["status"]) == ("REST.PUT.OBJECT", "200")
    assert puts[0]["agent"].startswith("aws-cli/")

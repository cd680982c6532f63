"""Three s3front servers on one keyspace of a 3-node cluster: what one writes, the others see.

Every test drives the servers with real boto3 clients (no retries) and checks answers across
servers: read-after-write, CreateBucket and conditional-PUT races, versioning, multipart with
parts on different servers, copy, DeleteObjects, and keys made on one server used on another.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import s3front_e2e_support as sup
from botocore.exceptions import ClientError
from conftest import Keyspace, s3


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _barrier_all(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run fn(0..n-1) in n threads released together; returns results or exceptions."""
    barrier = threading.Barrier(n)

    def run(i: int) -> Any:
        barrier.wait()
        try:
            return fn(i)
        except Exception as exc:  # the test inspects what each one got
            return exc

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_schema_jobs_at_once_leave_one_correct_schema(keyspace: Keyspace) -> None:
    for result in keyspace.schema_results:
        assert result.returncode == 0, result.stdout + result.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3FRONT_", "AWS_"))}
    status = subprocess.run(
        [sys.executable, "-m", "s3front", "schema", "status", "--store", keyspace.url],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert status.returncode == 0, status.stdout + status.stderr
    from cassandra.cluster import Cluster as DriverCluster

    driver = DriverCluster(["127.0.0.2"], port=9042)
    try:
        session = driver.connect()
        row = session.execute(
            "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = %s",
            (keyspace.name,),
        ).one()
        assert row.replication["class"].endswith("NetworkTopologyStrategy")
        assert row.replication["datacenter1"] == "3"
        # All nodes agree on one schema version (no disagreement left by the racing jobs).
        local = session.execute("SELECT schema_version FROM system.local").one().schema_version
        peers = {
            r.schema_version for r in session.execute("SELECT schema_version FROM system.peers")
        }
        assert peers == {local}
    finally:
        driver.shutdown()


def test_read_after_write_across_servers(servers: list[sup.Server]) -> None:
    clients = [s3(s) for s in servers]
    bucket = sup.unique_bucket("raw")
    clients[0].create_bucket(Bucket=bucket)
    for round_ in range(5):
        writer = clients[round_ % 3]
        readers = [c for c in clients if c is not writer]
        key = f"k/{round_}"
        body = os.urandom(1000 + round_ * 70_000)
        etag = writer.put_object(Bucket=bucket, Key=key, Body=body)["ETag"]

        def read(
            i: int, key: str = key, readers: list[Any] = readers
        ) -> tuple[bytes, str, str, list[str]]:
            c = readers[i % 2]
            got = c.get_object(Bucket=bucket, Key=key)
            head = c.head_object(Bucket=bucket, Key=key)
            listed = c.list_objects_v2(Bucket=bucket, Prefix="k/")
            return (
                got["Body"].read(),
                got["ETag"],
                head["ETag"],
                [o["Key"] for o in listed.get("Contents", [])],
            )

        for result in _barrier_all(4, read):
            assert not isinstance(result, Exception), result
            data, get_etag, head_etag, keys = result
            assert data == body and get_etag == etag == head_etag
            assert key in keys


def _tenant_clients(keyspace: Keyspace, servers: list[sup.Server]) -> list[Any]:
    """A new tenant (its key made with the CLI against the store) and a client per server."""
    import boto3
    from botocore.config import Config

    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3FRONT_", "AWS_"))}
    done = subprocess.run(
        [sys.executable, "-m", "s3front", "keys", "create", "--tenant",
         f"racer-{os.urandom(4).hex()}", "--store", keyspace.url],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    fields = dict(line.split(":", 1) for line in done.stdout.splitlines() if ":" in line)
    access, secret = fields["access key"].strip(), fields["secret key"].strip()
    return [
        boto3.session.Session().client(
            "s3",
            endpoint_url=srv.endpoint,
            aws_access_key_id=access,
            aws_secret_access_key=secret,
            region_name=srv.region,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )
        for srv in servers
    ]


def test_create_bucket_race_across_servers(keyspace: Keyspace, servers: list[sup.Server]) -> None:
    """Two tenants race for one name through all three servers: one tenant gets the bucket.

    The loser's attempts are 409 BucketAlreadyExists. The winner's other attempts may answer
    200, because re-creating your own bucket in us-east-1 does (AWS CreateBucket), or 409
    BucketAlreadyOwnedByYou when they lost the insert: either way one bucket, one owner."""
    root = [s3(s) for s in servers]
    other = _tenant_clients(keyspace, servers)
    tenants = (root, other)
    # Give the servers' key caches time to see the new key (documented: 5 s).
    time.sleep(6)
    for _ in range(3):
        bucket = sup.unique_bucket("race")
        results = _barrier_all(6, lambda i, b=bucket: tenants[i % 2][i % 3].create_bucket(Bucket=b))
        won = {i % 2 for i, r in enumerate(results) if not isinstance(r, Exception)}
        assert len(won) == 1, results
        winner = won.pop()
        for i, r in enumerate(results):
            if isinstance(r, Exception):
                assert isinstance(r, ClientError), r
                expected = "BucketAlreadyOwnedByYou" if i % 2 == winner else "BucketAlreadyExists"
                assert _code(r) == expected, (i, r)
        owners = {c.get_bucket_acl(Bucket=bucket)["Owner"]["ID"] for c in tenants[winner]}
        assert len(owners) == 1
        for c in tenants[1 - winner]:
            with pytest.raises(ClientError):
                c.put_object(Bucket=bucket, Key="not-mine", Body=b"x")


def test_conditional_put_race_across_servers(servers: list[sup.Server]) -> None:
    clients = [s3(s) for s in servers]
    bucket = sup.unique_bucket("cond")
    clients[0].create_bucket(Bucket=bucket)
    for round_ in range(3):
        key = f"once-{round_}"
        bodies = [f"writer {i} {os.urandom(8).hex()}".encode() for i in range(6)]
        results = _barrier_all(
            6,
            lambda i, k=key, bodies=bodies: clients[i % 3].put_object(
                Bucket=bucket, Key=k, Body=bodies[i], IfNoneMatch="*"
            ),
        )
        winners = [i for i, r in enumerate(results) if not isinstance(r, Exception)]
        assert len(winners) == 1, results
        for r in results:
            if isinstance(r, Exception):
                assert isinstance(r, ClientError), r
                assert _code(r) in ("PreconditionFailed", "ConditionalRequestConflict"), r
        for c in clients:
            got = c.get_object(Bucket=bucket, Key=key)
            assert got["Body"].read() == bodies[winners[0]]
            assert got["ETag"] == results[winners[0]]["ETag"]


def test_versioning_across_servers(servers: list[sup.Server]) -> None:
    a, b, c = (s3(s) for s in servers)
    bucket = sup.unique_bucket("ver")
    a.create_bucket(Bucket=bucket)
    b.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    time.sleep(1.5)  # bucket_cache_seconds (1 s): the other servers see the change after it
    v1 = a.put_object(Bucket=bucket, Key="doc", Body=b"one")["VersionId"]
    v2 = b.put_object(Bucket=bucket, Key="doc", Body=b"two")["VersionId"]
    assert v1 and v2 and v1 != v2
    assert c.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"two"
    assert c.get_object(Bucket=bucket, Key="doc", VersionId=v1)["Body"].read() == b"one"
    marker = c.delete_object(Bucket=bucket, Key="doc")
    assert marker.get("DeleteMarker") is True
    with pytest.raises(ClientError) as err:
        a.get_object(Bucket=bucket, Key="doc")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    versions = b.list_object_versions(Bucket=bucket)
    assert sorted(v["VersionId"] for v in versions["Versions"]) == sorted([v1, v2])
    assert [m["VersionId"] for m in versions["DeleteMarkers"]] == [marker["VersionId"]]


def test_multipart_parts_on_different_servers(servers: list[sup.Server]) -> None:
    clients = [s3(s) for s in servers]
    bucket = sup.unique_bucket("mpu")
    clients[0].create_bucket(Bucket=bucket)
    upload = clients[0].create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    parts_data = [os.urandom(5 * 1024 * 1024) for _ in range(3)] + [os.urandom(12345)]
    parts = []
    for n, data in enumerate(parts_data, start=1):
        etag = clients[n % 2].upload_part(
            Bucket=bucket, Key="big", UploadId=upload, PartNumber=n, Body=data
        )["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})
    listed = clients[2].list_parts(Bucket=bucket, Key="big", UploadId=upload)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2, 3, 4]
    done = clients[2].complete_multipart_upload(
        Bucket=bucket, Key="big", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    md5s = b"".join(hashlib.md5(d).digest() for d in parts_data)
    assert done["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-4"'
    whole = b"".join(parts_data)
    for c in clients:
        got = c.get_object(Bucket=bucket, Key="big")
        assert got["ETag"] == done["ETag"]
        assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(whole).digest()


def test_copy_and_delete_objects_across_servers(servers: list[sup.Server]) -> None:
    a, b, c = (s3(s) for s in servers)
    bucket = sup.unique_bucket("cp")
    a.create_bucket(Bucket=bucket)
    body = os.urandom(200_000)
    etag = a.put_object(Bucket=bucket, Key="src", Body=body)["ETag"]
    b.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    got = c.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == body and got["ETag"] == etag
    for i in range(10):
        a.put_object(Bucket=bucket, Key=f"many/{i}", Body=b"x" * i)
    deleted = b.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": f"many/{i}"} for i in range(10)]}
    )
    assert len(deleted["Deleted"]) == 10 and not deleted.get("Errors")
    assert c.list_objects_v2(Bucket=bucket, Prefix="many/")["KeyCount"] == 0
    assert a.get_object(Bucket=bucket, Key="src")["Body"].read() == body


def test_tenant_key_made_once_works_on_every_server_and_revocation_reaches_all(
    keyspace: Keyspace, servers: list[sup.Server]
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3FRONT_", "AWS_"))}

    def keys(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "s3front", "keys", *args, "--store", keyspace.url],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    out = keys("create", "--tenant", f"tenant-{os.urandom(4).hex()}")
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    access, secret = fields["access key"].strip(), fields["secret key"].strip()
    as_root = [s3(s) for s in servers]  # the suite's root key; the tenant's clients below
    import boto3
    from botocore.config import Config

    def tenant_client(server: sup.Server) -> Any:
        return boto3.session.Session().client(
            "s3", endpoint_url=server.endpoint, aws_access_key_id=access,
            aws_secret_access_key=secret, region_name=server.region,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )  # fmt: skip

    tenants = [tenant_client(s) for s in servers]
    bucket = sup.unique_bucket("tenant")
    tenants[0].create_bucket(Bucket=bucket)
    tenants[1].put_object(Bucket=bucket, Key="k", Body=b"tenant data")
    assert tenants[2].get_object(Bucket=bucket, Key="k")["Body"].read() == b"tenant data"
    # The root tenant does not own the tenant's bucket (on any server).
    with pytest.raises(ClientError) as err:
        as_root[2].get_object(Bucket=bucket, Key="k")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    keys("revoke", access)
    time.sleep(5 + 2)  # the documented key cache time, plus slack
    for c in tenants:
        with pytest.raises(ClientError) as err:
            c.list_objects_v2(Bucket=bucket)
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

"""End to end: a real server on the embedded store, filled by boto3 as users would; stopped;
`s3front migrate` (a subprocess) into a keyspace of this test's own; a server on Cassandra.

The two servers are then asked the same questions by the same clients -- every bucket's
configuration, every object version and delete marker with its bytes, ETag, metadata, tags,
ACL, lock state and checksums, the uploads in progress with their parts, each tenant's
buckets -- and must answer the same. The upload in progress is completed on Cassandra, and a
GC pass with no grace there frees nothing. The first migration is interrupted (the test hook,
as abrupt as a kill) and resumed; a last run writes nothing and verifies the same.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from migrate_sources import tree_state
from s3front_e2e_support import Server, start_server, stop_server

from s3front.migrate.copier import EXIT_AFTER_CODE, EXIT_AFTER_ENV

pytestmark = pytest.mark.cassandra

MiB = 1024 * 1024


def _env(master: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3FRONT_", "AWS_"))}
    env["S3FRONT_MASTER_KEY"] = master
    return env


def _s3front(master: str, *args: str, extra: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "s3front", *args],
        capture_output=True,
        text=True,
        env={**_env(master), **(extra or {})},
        timeout=240,
        check=False,
    )


def _create_key(master: str, store: str, tenant: str) -> tuple[str, str]:
    cp = _s3front(master, "keys", "create", "--tenant", tenant, "--store", store)
    assert cp.returncode == 0, cp.stderr
    access = re.search(r"access key:\s+(\S+)", cp.stdout)
    secret = re.search(r"secret key:\s+(\S+)", cp.stdout)
    assert access and secret
    return access[1], secret[1]


def _clean(doc: Any) -> Any:
    if isinstance(doc, dict):
        doc.pop("ResponseMetadata", None)
        doc.pop("Body", None)
    return doc


def _ask(call: Any, **kwargs: Any) -> Any:
    """The answer, or the error code: both servers must give the same either way."""
    try:
        return _clean(call(**kwargs))
    except ClientError as e:
        return ("error", e.response["Error"]["Code"])


_BUCKET_CONFIGS = (
    "get_bucket_acl", "get_bucket_policy", "get_bucket_cors", "get_bucket_versioning",
    "get_bucket_lifecycle_configuration", "get_bucket_encryption", "get_bucket_tagging",
    "get_object_lock_configuration", "get_bucket_ownership_controls", "get_public_access_block",
    "get_bucket_location",
)  # fmt: skip


def describe(s3: Any, bucket: str) -> dict[str, Any]:
    """Everything a client can ask about a bucket and what is in it."""
    out: dict[str, Any] = {c: _ask(getattr(s3, c), Bucket=bucket) for c in _BUCKET_CONFIGS}
    versions = s3.list_object_versions(Bucket=bucket)
    out["versions"] = [_clean(v) for v in versions.get("Versions", [])]
    out["markers"] = [_clean(m) for m in versions.get("DeleteMarkers", [])]
    for v in versions.get("Versions", []):
        ident = dict(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
        got = s3.get_object(**ident, ChecksumMode="ENABLED")
        body = got["Body"].read()
        out[f"{v['Key']}@{v['VersionId']}"] = {
            "sha256": hashlib.sha256(body).hexdigest(),
            "get": _clean(got),
            "tags": _ask(s3.get_object_tagging, **ident),
            "acl": _ask(s3.get_object_acl, **ident),
            "retention": _ask(s3.get_object_retention, **ident),
            "hold": _ask(s3.get_object_legal_hold, **ident),
            "attributes": _ask(
                s3.get_object_attributes,
                **ident,
                ObjectAttributes=["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"],
            ),
        }
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    out["uploads"] = [_clean(u) for u in uploads]
    for u in uploads:
        parts = s3.list_parts(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"])
        out[f"parts {u['UploadId']}"] = _clean(parts)
    return out


def _populate(srv: Server, alice: Any, bob: Any, tag: str) -> dict[str, Any]:
    """Buckets of two tenants with configurations, objects of every shape; what the test needs
    later (bucket names, the upload in progress and its parts' bytes)."""
    plain, versioned, locked = f"mig-plain-{tag}", f"mig-ver-{tag}", f"mig-lock-{tag}"
    alice.create_bucket(Bucket=plain)
    alice.put_bucket_cors(
        Bucket=plain,
        CORSConfiguration={
            "CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["https://x.example"]}]
        },
    )
    alice.put_bucket_policy(
        Bucket=plain,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:DeleteObject",
                        "Resource": f"arn:aws:s3:::{plain}/keep/*",
                    }
                ],
            }
        ),
    )
    alice.put_bucket_tagging(Bucket=plain, Tagging={"TagSet": [{"Key": "team", "Value": "a"}]})
    alice.put_bucket_lifecycle_configuration(
        Bucket=plain,
        LifecycleConfiguration={
            "Rules": [
                {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
                 "Expiration": {"Days": 30}}
            ]
        },
    )  # fmt: skip
    alice.put_public_access_block(
        Bucket=plain,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": False,
            "BlockPublicPolicy": False, "RestrictPublicBuckets": False,
        },
    )  # fmt: skip
    alice.put_object(
        Bucket=plain, Key="small.txt", Body=b"hello migration", ContentType="text/plain",
        Metadata={"colour": "blue"}, Tagging="k=v", ChecksumAlgorithm="SHA256",
    )  # fmt: skip
    alice.put_object(Bucket=plain, Key="3mib.bin", Body=os.urandom(3 * MiB + 17))
    alice.put_object(
        Bucket=plain, Key="sse.bin", Body=os.urandom(MiB + 5), ServerSideEncryption="AES256"
    )
    alice.put_object(Bucket=plain, Key="sse-small", Body=b"sealed", ServerSideEncryption="AES256")
    alice.put_object(Bucket=plain, Key="unicodé/日本/\U0001f600", Body=b"keys")
    alice.put_object(Bucket=plain, Key="empty", Body=b"")
    # A completed multipart object, with checksums per part.
    mp = alice.create_multipart_upload(Bucket=plain, Key="multi.bin", ChecksumAlgorithm="CRC32")
    done = []
    for n, size in ((1, 5 * MiB), (2, MiB + 3)):
        r = alice.upload_part(
            Bucket=plain, Key="multi.bin", UploadId=mp["UploadId"], PartNumber=n,
            Body=os.urandom(size), ChecksumAlgorithm="CRC32",
        )  # fmt: skip
        done.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
    alice.complete_multipart_upload(
        Bucket=plain, Key="multi.bin", UploadId=mp["UploadId"], MultipartUpload={"Parts": done}
    )
    alice.copy_object(
        Bucket=plain, Key="multi-copy.bin", CopySource={"Bucket": plain, "Key": "multi.bin"}
    )

    # Bob: a versioned bucket with default encryption, versions and delete markers, an upload
    # in progress; and an object-lock bucket.
    bob.create_bucket(Bucket=versioned)
    bob.put_bucket_versioning(Bucket=versioned, VersioningConfiguration={"Status": "Enabled"})
    bob.put_bucket_ownership_controls(
        Bucket=versioned, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    bob.put_bucket_encryption(
        Bucket=versioned,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    for i in range(3):
        bob.put_object(Bucket=versioned, Key="doc", Body=os.urandom(40_000 * (i + 1)))
    bob.delete_object(Bucket=versioned, Key="doc")
    bob.put_object(Bucket=versioned, Key="gone", Body=b"x")
    bob.delete_object(Bucket=versioned, Key="gone")
    parts = [os.urandom(5 * MiB), os.urandom(MiB)]
    up = bob.create_multipart_upload(Bucket=versioned, Key="in-progress", Metadata={"m": "1"})
    for n, body in enumerate(parts, start=1):
        bob.upload_part(
            Bucket=versioned, Key="in-progress", UploadId=up["UploadId"], PartNumber=n, Body=body
        )
    bob.create_bucket(Bucket=locked, ObjectLockEnabledForBucket=True)
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    bob.put_object(
        Bucket=locked, Key="held", Body=b"on hold", ObjectLockLegalHoldStatus="ON",
        ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until,
    )  # fmt: skip
    bob.put_object(Bucket=locked, Key="acl", Body=b"acl", ACL="bucket-owner-full-control")
    return {
        "buckets": {"alice": [plain], "bob": [versioned, locked]},
        "upload": (versioned, "in-progress", up["UploadId"], parts),
    }


def _migrate(master: str, src: str, dst: str, extra: dict[str, str] | None = None) -> Any:
    return _s3front(master, "migrate", "--from", src, "--to", dst, "--sample", "1000", extra=extra)


def _answers_are_not_empty(described: dict[str, dict[str, Any]], made: dict[str, Any]) -> None:
    """The comparison compared something: configurations, versions, markers, encrypted and
    locked objects and the upload in progress are all there in the answers."""
    plain = described[made["buckets"]["alice"][0]]
    versioned, locked = (described[n] for n in made["buckets"]["bob"])
    for config in ("get_bucket_cors", "get_bucket_policy", "get_bucket_tagging",
                   "get_bucket_lifecycle_configuration", "get_public_access_block"):  # fmt: skip
        assert not isinstance(plain[config], tuple), (config, plain[config])
    for config in ("get_bucket_encryption", "get_bucket_ownership_controls"):
        assert not isinstance(versioned[config], tuple), (config, versioned[config])
    assert versioned["get_bucket_versioning"]["Status"] == "Enabled"
    assert len(plain["versions"]) == 8 and len(versioned["versions"]) == 4
    assert len(versioned["markers"]) == 2 and len(versioned["uploads"]) == 1
    sse = next(v for k, v in plain.items() if k.startswith("sse.bin@"))
    assert sse["get"]["ServerSideEncryption"] == "AES256"
    small = next(v for k, v in plain.items() if k.startswith("small.txt@"))
    assert small["get"]["Metadata"] == {"colour": "blue"} and small["tags"]["TagSet"]
    assert small["get"]["ChecksumSHA256"]
    held = next(v for k, v in locked.items() if k.startswith("held@"))
    assert held["hold"]["LegalHold"]["Status"] == "ON"
    assert held["retention"]["Retention"]["Mode"] == "GOVERNANCE"


def test_migrate_sqlite_server_to_cassandra(tmp_path: Path, fresh_keyspace: str) -> None:
    master = secrets.token_hex(32)
    tag = secrets.token_hex(4)
    env = {"S3FRONT_MASTER_KEY": master}
    sq_dir = tmp_path / "sqlite"
    srv = start_server(sq_dir, env_extra=env)
    servers = [srv]
    try:
        store = srv.store_url
        alice_key, bob_key = _create_key(master, store, "alice"), _create_key(master, store, "bob")
        clients = {
            "alice": lambda s: s.client(access_key=alice_key[0], secret_key=alice_key[1]),
            "bob": lambda s: s.client(access_key=bob_key[0], secret_key=bob_key[1]),
            "root": lambda s: s.client(),
        }
        made = _populate(srv, clients["alice"](srv), clients["bob"](srv), tag)
        stop_server(srv)
        servers.remove(srv)

        source_dir = Path(store[len("sqlite://") :])
        before = tree_state(source_dir)
        # Interrupted after 25 writes to the target (a kill would do the same: no cleanup).
        cut = _migrate(master, store, fresh_keyspace, {EXIT_AFTER_ENV: "25"})
        assert cut.returncode == EXIT_AFTER_CODE, cut.stdout + cut.stderr
        first = _migrate(master, store, fresh_keyspace)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "verification: OK" in first.stdout
        assert re.search(r"^tenants +3 +3 ", first.stdout, re.M), first.stdout  # root, alice, bob
        again = _migrate(master, store, fresh_keyspace)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "written by this run: 0 blocks (0 bytes), 0 manifest pages" in again.stdout
        assert first.stdout.splitlines()[-1] == again.stdout.splitlines()[-1]
        for out in (first, again):  # no secret in any output
            for secret in (alice_key[1], bob_key[1], master):
                assert secret not in out.stdout + out.stderr
        assert tree_state(source_dir) == before  # the source untouched, to the byte

        cas = start_server(tmp_path / "cassandra", store_url=fresh_keyspace, env_extra=env)
        servers.append(cas)
        sq = start_server(sq_dir, env_extra=env)  # the source served again, to compare with
        servers.append(sq)
        described: dict[str, dict[str, Any]] = {}
        for tenant, names in made["buckets"].items():
            for who in (tenant, "root"):
                want = clients[who](sq).list_buckets()["Buckets"]
                assert clients[who](cas).list_buckets()["Buckets"] == want
            for name in names:
                expected = describe(clients[tenant](sq), name)
                assert describe(clients[tenant](cas), name) == expected, name
                described[name] = expected
        _answers_are_not_empty(described, made)

        # The upload in progress completes on Cassandra, and its object is the parts' bytes.
        bucket, key, upload_id, parts = made["upload"]
        bob_cas = clients["bob"](cas)
        listed = bob_cas.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)["Parts"]
        bob_cas.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in listed]},
        )  # fmt: skip
        got = bob_cas.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == b"".join(parts) and got["Metadata"] == {"m": "1"}

        # GC on the target with no grace frees none of it.
        gc = _s3front(master, "gc", "--grace", "0", "--store", fresh_keyspace)
        assert gc.returncode == 0, gc.stderr
        assert re.search(r"freed 0/\d+ blocks", gc.stdout), gc.stdout
        for tenant, names in made["buckets"].items():
            for name in names:
                if name != bucket:  # that one has the completed upload now
                    assert describe(clients[tenant](cas), name) == describe(
                        clients[tenant](sq), name
                    )
    finally:
        for s in servers:
            stop_server(s)

"""Tenants: keys from the CLI, and the isolation matrix.

The matrix takes every operation in `routing.ROUTES`, builds one concrete request for it, and
sends it as the bucket's owner, as a second tenant, anonymously and with a revoked key, each
against a private bucket. The owner must get past access control (whatever S3 answer the
request itself earns); everyone else gets exactly the denial S3 gives: AccessDenied for the
other tenant and the anonymous caller, InvalidAccessKeyId for the revoked key (not on the
preflight, which is unauthenticated).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import s3front_e2e_support as sup
from s3front_e2e_support import TenantKey as Key
from s3front_e2e_support import create_key, keys_cli

from s3front.api import HANDLERS
from s3front.keys import tenant_id
from s3front.routing import ROUTES
from s3front.support import REFUSED_OPS


@pytest.fixture(scope="module")
def alice(server: Any) -> Key:
    return create_key(server, f"alice-{uuid.uuid4().hex[:6]}")


@pytest.fixture(scope="module")
def revoked(server: Any) -> Key:
    key = create_key(server, f"mallory-{uuid.uuid4().hex[:6]}")
    # Revoked before its first use, so no cached lookup can keep it alive.
    keys_cli(server, "revoke", key.access_key)
    return key


# -- CLI --------------------------------------------------------------------------------------


def test_keys_create_list_rotate_revoke(server: Any) -> None:
    name = f"carol-{uuid.uuid4().hex[:6]}"
    first = create_key(server, name)
    second = create_key(server, name)
    assert first.tenant == second.tenant == tenant_id(name)
    assert len(first.tenant) == 64 and first.access_key != second.access_key
    listing = keys_cli(server, "list")
    assert first.access_key in listing and second.access_key in listing
    assert first.secret_key not in listing and second.secret_key not in listing

    s3 = server.client(access_key=first.access_key, secret_key=first.secret_key)
    bucket = sup.unique_bucket()
    s3.create_bucket(Bucket=bucket)
    owner = s3.list_buckets()["Owner"]
    assert owner == {"ID": first.tenant, "DisplayName": name}
    # Both keys of the tenant see the same buckets.
    s3b = server.client(access_key=second.access_key, secret_key=second.secret_key)
    assert bucket in [b["Name"] for b in s3b.list_buckets()["Buckets"]]

    out = keys_cli(server, "rotate", second.access_key)
    new_ak = out.split("access key:")[1].split()[0]
    new_sk = out.split("secret key:")[1].split()[0]
    assert new_ak != second.access_key and second.secret_key not in out
    rotated = server.client(access_key=new_ak, secret_key=new_sk)
    assert bucket in [b["Name"] for b in rotated.list_buckets()["Buckets"]]
    lines = {ln.split("\t")[0]: ln.split("\t") for ln in keys_cli(server, "list").splitlines()}
    assert lines[second.access_key][3] == "revoked" and lines[new_ak][3] == "active"
    assert lines[new_ak][1] == first.tenant
    s3.delete_bucket(Bucket=bucket)


def test_other_tenant_cannot_see_buckets(server: Any, alice: Key) -> None:
    s3 = server.client()
    bucket = sup.unique_bucket()
    s3.create_bucket(Bucket=bucket)
    try:
        other = server.client(access_key=alice.access_key, secret_key=alice.secret_key)
        names = [b["Name"] for b in other.list_buckets()["Buckets"]]
        assert bucket not in names
        assert other.list_buckets()["Owner"]["ID"] == alice.tenant
    finally:
        s3.delete_bucket(Bucket=bucket)


# -- the matrix ---------------------------------------------------------------------------------

OBJ = "obj"
CORS_XML = (
    b"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin>"
    b"<AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>"
)
TAGGING_XML = b"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>"
EMPTY_XML = b'<?xml version="1.0" encoding="UTF-8"?><X/>'


@dataclass
class State:
    bucket: str
    upload_id: str
    part_etag: str


LOCK_XML = (
    b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>"
    b"</ObjectLockConfiguration>"
)
HOLD_XML = b"<LegalHold><Status>ON</Status></LegalHold>"


@dataclass(frozen=True)
class Req:
    method: str
    path: str
    query: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


def _policy_doc(bucket: str) -> bytes:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/never-*",
                }
            ],
        }
    ).encode()


def _form(bucket: str, key: Key | None) -> tuple[tuple[tuple[str, str], ...], bytes]:
    """A multipart/form-data POST body, V2-signed by `key` (anonymous without one)."""
    fields = {"key": "posted"}
    if key is not None:
        expiration = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        policy = base64.b64encode(
            json.dumps(
                {"expiration": expiration, "conditions": [{"bucket": bucket}, {"key": "posted"}]}
            ).encode()
        ).decode()
        signature = base64.b64encode(
            hmac.new(key.secret_key.encode(), policy.encode(), hashlib.sha1).digest()
        ).decode()
        fields.update(AWSAccessKeyId=key.access_key, policy=policy, signature=signature)
    boundary = "----s3front" + uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{n}"\r\n\r\n{v}\r\n'.encode()
        for n, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\nposted body\r\n--{boundary}--\r\n".encode()
    )
    return (("content-type", f"multipart/form-data; boundary={boundary}"),), b"".join(parts)


def _delete_xml() -> tuple[tuple[tuple[str, str], ...], bytes]:
    body = f"<Delete><Object><Key>{OBJ}</Key></Object></Delete>".encode()
    return (("content-md5", sup.content_md5(body)),), body


def build(op: str, st: State, actor: Key | None) -> Req:
    """One concrete request per operation of the route table."""
    b, o = f"/{st.bucket}", f"/{st.bucket}/{OBJ}"
    up = f"uploadId={st.upload_id}"
    complete = (
        f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{st.part_etag}</ETag>"
        "</Part></CompleteMultipartUpload>"
    ).encode()
    copy = (("x-amz-copy-source", f"/{st.bucket}/{OBJ}"),)
    table: dict[str, Callable[[], Req]] = {
        "ListBuckets": lambda: Req("GET", "/"),
        "Options": lambda: Req(
            "OPTIONS",
            b,
            headers=(("origin", "https://example.com"), ("access-control-request-method", "GET")),
        ),
        "CreateBucket": lambda: Req("PUT", f"/{sup.unique_bucket('mx')}"),
        "DeleteBucket": lambda: Req("DELETE", b),
        "HeadBucket": lambda: Req("HEAD", b),
        "GetBucketLocation": lambda: Req("GET", b, "location"),
        "ListObjects": lambda: Req("GET", b),
        "ListObjectsV2": lambda: Req("GET", b, "list-type=2"),
        "ListObjectVersions": lambda: Req("GET", b, "versions"),
        "ListMultipartUploads": lambda: Req("GET", b, "uploads"),
        "GetBucketAcl": lambda: Req("GET", b, "acl"),
        "PutBucketAcl": lambda: Req("PUT", b, "acl", (("x-amz-acl", "private"),)),
        "GetBucketCors": lambda: Req("GET", b, "cors"),
        "PutBucketCors": lambda: Req("PUT", b, "cors", body=CORS_XML),
        "DeleteBucketCors": lambda: Req("DELETE", b, "cors"),
        "GetBucketPolicy": lambda: Req("GET", b, "policy"),
        "PutBucketPolicy": lambda: Req("PUT", b, "policy", body=_policy_doc(st.bucket)),
        "DeleteBucketPolicy": lambda: Req("DELETE", b, "policy"),
        "GetBucketPolicyStatus": lambda: Req("GET", b, "policyStatus"),
        "GetBucketVersioning": lambda: Req("GET", b, "versioning"),
        "PutBucketVersioning": lambda: Req(
            "PUT",
            b,
            "versioning",
            body=b"<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>",
        ),
        "GetBucketTagging": lambda: Req("GET", b, "tagging"),
        "PutBucketTagging": lambda: Req("PUT", b, "tagging", body=TAGGING_XML),
        "DeleteBucketTagging": lambda: Req("DELETE", b, "tagging"),
        "GetBucketLifecycleConfiguration": lambda: Req("GET", b, "lifecycle"),
        "PutBucketLifecycleConfiguration": lambda: Req("PUT", b, "lifecycle", body=EMPTY_XML),
        "DeleteBucketLifecycle": lambda: Req("DELETE", b, "lifecycle"),
        "GetBucketWebsite": lambda: Req("GET", b, "website"),
        "PutBucketWebsite": lambda: Req("PUT", b, "website", body=EMPTY_XML),
        "DeleteBucketWebsite": lambda: Req("DELETE", b, "website"),
        "GetBucketLogging": lambda: Req("GET", b, "logging"),
        "PutBucketLogging": lambda: Req("PUT", b, "logging", body=EMPTY_XML),
        "GetBucketNotificationConfiguration": lambda: Req("GET", b, "notification"),
        "PutBucketNotificationConfiguration": lambda: Req("PUT", b, "notification", body=EMPTY_XML),
        "GetBucketEncryption": lambda: Req("GET", b, "encryption"),
        "PutBucketEncryption": lambda: Req("PUT", b, "encryption", body=EMPTY_XML),
        "DeleteBucketEncryption": lambda: Req("DELETE", b, "encryption"),
        "GetObjectLockConfiguration": lambda: Req("GET", b, "object-lock"),
        "PutObjectLockConfiguration": lambda: Req("PUT", b, "object-lock", body=LOCK_XML),
        "GetObjectRetention": lambda: Req("GET", o, "retention"),
        "PutObjectRetention": lambda: Req("PUT", o, "retention", body=b"<Retention/>"),
        "GetObjectLegalHold": lambda: Req("GET", o, "legal-hold"),
        "PutObjectLegalHold": lambda: Req("PUT", o, "legal-hold", body=HOLD_XML),
        "GetBucketOwnershipControls": lambda: Req("GET", b, "ownershipControls"),
        "GetPublicAccessBlock": lambda: Req("GET", b, "publicAccessBlock"),
        "PutPublicAccessBlock": lambda: Req(
            "PUT",
            b,
            "publicAccessBlock",
            body=b"<PublicAccessBlockConfiguration><BlockPublicAcls>false</BlockPublicAcls>"
            b"</PublicAccessBlockConfiguration>",
        ),
        "DeletePublicAccessBlock": lambda: Req("DELETE", b, "publicAccessBlock"),
        "PutBucketOwnershipControls": lambda: Req(
            "PUT",
            b,
            "ownershipControls",
            body=b"<OwnershipControls><Rule><ObjectOwnership>ObjectWriter</ObjectOwnership>"
            b"</Rule></OwnershipControls>",
        ),
        "DeleteBucketOwnershipControls": lambda: Req("DELETE", b, "ownershipControls"),
        "GetBucketReplication": lambda: Req("GET", b, "replication"),
        "GetBucketAccelerateConfiguration": lambda: Req("GET", b, "accelerate"),
        "GetBucketRequestPayment": lambda: Req("GET", b, "requestPayment"),
        "DeleteObjects": lambda: Req("POST", b, "delete", *_delete_xml()),
        "PostObject": lambda: Req("POST", b, "", *_form(st.bucket, actor)),
        "PutObject": lambda: Req("PUT", o, body=b"new body"),
        "CopyObject": lambda: Req("PUT", f"{b}/copied", headers=copy),
        "GetObject": lambda: Req("GET", o),
        "HeadObject": lambda: Req("HEAD", o),
        "DeleteObject": lambda: Req("DELETE", o),
        "GetObjectAcl": lambda: Req("GET", o, "acl"),
        "PutObjectAcl": lambda: Req("PUT", o, "acl", (("x-amz-acl", "private"),)),
        "GetObjectTagging": lambda: Req("GET", o, "tagging"),
        "PutObjectTagging": lambda: Req("PUT", o, "tagging", body=TAGGING_XML),
        "DeleteObjectTagging": lambda: Req("DELETE", o, "tagging"),
        "GetObjectAttributes": lambda: Req(
            "GET", o, "attributes", (("x-amz-object-attributes", "ETag"),)
        ),
        "CreateMultipartUpload": lambda: Req("POST", o, "uploads"),
        "UploadPart": lambda: Req("PUT", o, f"partNumber=2&{up}", body=b"part two"),
        "UploadPartCopy": lambda: Req("PUT", o, f"partNumber=2&{up}", copy),
        "CompleteMultipartUpload": lambda: Req("POST", o, up, body=complete),
        "AbortMultipartUpload": lambda: Req("DELETE", o, up),
        "ListParts": lambda: Req("GET", o, up),
        "RestoreObject": lambda: Req("POST", o, "restore", body=b"<RestoreRequest/>"),
    }
    assert set(table) == set(ROUTES), set(ROUTES) ^ set(table)
    return table[op]()


def _setup(s3: Any) -> State:
    bucket = sup.unique_bucket("mx")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=OBJ, Body=b"secret body")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=OBJ)["UploadId"]
    etag = s3.upload_part(
        Bucket=bucket, Key=OBJ, UploadId=upload_id, PartNumber=1, Body=b"part one"
    )["ETag"]
    return State(bucket, upload_id, etag)


def _send(server: Any, req: Req, key: Key | None) -> sup.RawResponse:
    resp: sup.RawResponse = server.raw(
        req.method,
        req.path,
        query=req.query,
        headers=dict(req.headers),
        body=req.body,
        sign=key is not None,
        access_key=key.access_key if key else None,
        secret_key=key.secret_key if key else None,
    )
    return resp


def _code(resp: sup.RawResponse) -> str:
    # HEAD errors carry no body: the code is in a header.
    code: str = resp.error_code or resp.headers.get("x-amz-error-code", "")
    return code


DENIALS = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
# Preflights carry no credentials; with no CORS rules S3 answers 403 CORSResponse to anyone.
PREFLIGHT_DENIED = (403, "CORSResponse")


@pytest.fixture(scope="module")
def shared_state(server: Any) -> State:
    """The private bucket that non-owners attack; denied requests leave it as it was."""
    s3 = server.client()
    return _setup(s3)


@pytest.mark.parametrize("op", sorted(ROUTES))
def test_isolation_matrix(
    server: Any, op: str, alice: Key, revoked: Key, shared_state: State
) -> None:
    s3 = server.client()
    owner = Key(server.access_key, server.secret_key, tenant_id("root"))
    implemented = op in HANDLERS and op not in REFUSED_OPS
    fresh = _setup(s3)  # the owner may change or delete things: a bucket of its own
    outcomes: dict[str, tuple[int, str]] = {}

    resp = _send(server, build(op, fresh, owner), owner)
    outcomes["owner"] = (resp.status, _code(resp))
    for name, key in (("other", alice), ("anonymous", None), ("revoked", revoked)):
        resp = _send(server, build(op, shared_state, key), key)
        outcomes[name] = (resp.status, _code(resp))

    status, code = outcomes["owner"]
    if op == "Options":
        assert outcomes["owner"] == PREFLIGHT_DENIED
        assert outcomes["other"] == outcomes["anonymous"] == PREFLIGHT_DENIED
        # A preflight is unauthenticated (issue 19): credentials on it, even revoked ones,
        # are not looked at.
        assert outcomes["revoked"] == PREFLIGHT_DENIED
    elif not implemented:
        assert (status, code) == (501, "NotImplemented"), outcomes
        assert outcomes["other"] == outcomes["anonymous"] == (501, "NotImplemented"), outcomes
    else:
        assert code not in DENIALS and status < 500, outcomes
        if op in ("CreateBucket", "ListBuckets"):
            # Any tenant may create buckets and list its own; anonymous callers may not.
            assert outcomes["other"][0] == 200, outcomes
        else:
            assert outcomes["other"] == (403, "AccessDenied"), outcomes
        assert outcomes["anonymous"] == (403, "AccessDenied"), outcomes
    if op != "Options":
        assert outcomes["revoked"] == (403, "InvalidAccessKeyId"), outcomes

    # Nothing the others sent changed the shared bucket.
    got = s3.get_object(Bucket=shared_state.bucket, Key=OBJ)["Body"].read()
    assert got == b"secret body"
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=shared_state.bucket)["Contents"]]
    assert listed == [OBJ]


# -- secrets at rest -----------------------------------------------------------------------------


def test_master_key_seals_secrets_and_is_required(tmp_path: Any) -> None:
    workdir = tmp_path / "sealed"
    master = {
        "S3FRONT_MASTER_KEY": "12066eb327070c9d6a8366f25a662b51ccc5347a90f913c58ac29d63fcea514c"
    }
    srv = sup.start_server(workdir, env_extra=master)
    try:
        s3 = srv.client()
        bucket = sup.unique_bucket()
        s3.create_bucket(Bucket=bucket)
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [bucket]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("S3FRONT_", "AWS_"))}
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "s3front",
                "keys",
                "create",
                "--tenant",
                "dave",
                "--store",
                srv.store_url,
            ],
            capture_output=True,
            text=True,
            env={**env, **master},
            timeout=60,
            check=True,
        ).stdout
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        dave = srv.client(
            access_key=fields["access key"].strip(), secret_key=fields["secret key"].strip()
        )
        assert dave.list_buckets()["Buckets"] == []
        # Neither secret is stored in the clear.
        data = b"".join(p.read_bytes() for p in (workdir / "data").rglob("*") if p.is_file())
        assert sup.SECRET_KEY.encode() not in data
        assert fields["secret key"].strip().encode() not in data
        listing = subprocess.run(
            [sys.executable, "-m", "s3front", "keys", "list", "--store", srv.store_url],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        ).stdout
        assert fields["access key"].strip() in listing and "sealed" not in listing
    finally:
        sup.stop_server(srv)
        log = srv.log_text()
        assert sup.SECRET_KEY not in log and master["S3FRONT_MASTER_KEY"] not in log

    for env_extra, message in (
        ({}, "no master key is configured"),
        (
            {
                "S3FRONT_MASTER_KEY": "56f9ade1df195d1b40b2170826d37623362cf0d9428c3272567fae2eaf21dc47"
            },
            "not the key it was sealed with",
        ),
    ):
        with pytest.raises(sup.ServerStartError) as info:
            sup.start_server(workdir, env_extra=env_extra, ready_timeout=20)
        assert message in str(info.value)
        assert master["S3FRONT_MASTER_KEY"] not in str(info.value) and sup.SECRET_KEY not in str(
            info.value
        )

"""Server-side encryption end to end (issue 15, item 1): SSE-S3 (AES256) and SSE-C on a real
server with a master key, on SQLite and Cassandra (each variant its own store: a master key
must not reseal the session's shared keyspace), driven by boto3.

On main every SSE request answered 200 and stored the plaintext; a GET of an SSE-C object
without the key returned the plaintext.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import s3front_e2e_support as sup
from botocore.exceptions import ClientError
from s3front_keyspaces import own_keyspace

MASTER = "3f1c9a07d2b84e6a5c0f1e2d3b4a59687766554433221100ffeeddccbbaa9988"
KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))
MARKER = b"S3FRONT-PLAINTEXT-MARKER-" + b"0123456789abcdef" * 2

_VARIANTS = [
    pytest.param(("http", "sqlite"), id="http-sqlite"),
    pytest.param(("https", "sqlite"), id="https-sqlite"),
    pytest.param(("http", "cassandra"), id="http-cassandra", marks=pytest.mark.cassandra),
    pytest.param(("https", "cassandra"), id="https-cassandra", marks=pytest.mark.cassandra),
]


def _own_keyspace(request: pytest.FixtureRequest) -> Iterator[str]:
    with own_keyspace(request.getfixturevalue("cassandra_url"), "s3e") as url:
        yield url


@pytest.fixture(scope="module", params=_VARIANTS)
def sse_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tls_material: Any
) -> Iterator[Any]:
    scheme, backend = request.param
    variant = f"{scheme}-{backend}"
    workdir = tmp_path_factory.mktemp(f"sse-{variant}")
    keyspace = _own_keyspace(request) if backend == "cassandra" else None
    store_url = next(keyspace) if keyspace is not None else None
    srv = sup.start_server(
        workdir,
        scheme=scheme,
        store_url=store_url,
        tls=tls_material if scheme == "https" else None,
        variant=variant,
        ready_timeout=60 if backend == "cassandra" else 30,
        env_extra={"S3FRONT_MASTER_KEY": MASTER},
    )
    try:
        # The key ring: the default key (alias aws/s3) and one named key.
        kms_cli(srv, "create-key", "--alias", "aws/s3")
        out = kms_cli(srv, "create-key", "--alias", "app")
        srv.kms_app = out.split("key id:")[1].split()[0]
        yield srv
    finally:
        sup.stop_server(srv)
        if keyspace is not None:
            next(keyspace, None)


def kms_cli(srv: Any, *args: str, master: str = MASTER, extra: dict[str, str] | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3FRONT_", "AWS_"))}
    env.update(S3FRONT_MASTER_KEY=master, **(extra or {}))
    cmd = [sys.executable, "-m", "s3front", "kms", *args, "--store", srv.store_url]
    return sup.run(cmd, env=env, timeout=120).stdout


@pytest.fixture
def s3(sse_server: Any) -> Iterator[Any]:
    client = sse_server.client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    name = sup.unique_bucket("sse")
    s3.create_bucket(Bucket=name)
    yield name
    _empty_and_delete(s3, name)


def _empty_and_delete(s3: Any, name: str) -> None:
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                s3.delete_object(Bucket=name, Key=obj["Key"])
        for up in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
        s3.delete_bucket(Bucket=name)
    except ClientError:
        pass


def ssec(key: bytes = KEY_A, prefix: str = "SSECustomer") -> dict[str, str]:
    """boto3 parameters for an SSE-C key (boto3 adds the key's MD5 itself)."""
    return {f"{prefix}Algorithm": "AES256", f"{prefix}Key": key}  # type: ignore[dict-item]


def code_of(call: Callable[[], Any]) -> tuple[int, str]:
    with pytest.raises(ClientError) as info:
        call()
    err = info.value.response
    return int(err["ResponseMetadata"]["HTTPStatusCode"]), str(err["Error"].get("Code", ""))


def raw(
    server: Any, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> sup.RawResponse:
    """A SigV4-signed request through http.client (headers exactly as given)."""
    h = {"host": f"127.0.0.1:{server.port}", **headers}
    signed = sup.sign_v4(
        method, path, "", h, hashlib.sha256(body).hexdigest(), server.access_key, server.secret_key
    )
    return sup.send_raw(
        server.scheme, server.port, method, path, signed.headers, body,
        ssl_context=server.ssl_context(),
    )  # fmt: skip


def body_of(resp: dict[str, Any]) -> bytes:
    data: bytes = resp["Body"].read()
    return data


SIZES = [0, 100, 5000, 3 * 1024 * 1024 + 17]  # empty, inline, inline-ish, three blocks + a bit


# -- SSE-S3 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_sse_s3_put_get_head_range(s3: Any, bucket: str, size: int) -> None:
    data = os.urandom(size)
    put = s3.put_object(Bucket=bucket, Key="k", Body=data, ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    # AWS: an SSE-S3 single PUT's ETag is still the MD5 of the plaintext.
    assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["ServerSideEncryption"] == "AES256"
    assert body_of(got) == data
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentLength"] == size
    if size > 10:
        for lo, hi in [(1, 9), (size - 5, size - 1), (size // 2, size // 2 + 1024 * 1024)]:
            hi = min(hi, size - 1)
            part = s3.get_object(Bucket=bucket, Key="k", Range=f"bytes={lo}-{hi}")
            assert body_of(part) == data[lo : hi + 1]


def test_sse_s3_bucket_key_enabled_is_echoed(s3: Any, bucket: str) -> None:
    put = s3.put_object(
        Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="AES256", BucketKeyEnabled=True
    )
    assert put["BucketKeyEnabled"] is True
    assert s3.head_object(Bucket=bucket, Key="k")["BucketKeyEnabled"] is True


def test_unencrypted_object_has_no_sse_headers(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"plain")
    assert "ServerSideEncryption" not in s3.head_object(Bucket=bucket, Key="k")


# -- SSE-C ----------------------------------------------------------------------------------------


@pytest.mark.variants("https")  # SSE-C keys only over HTTPS
@pytest.mark.parametrize("size", SIZES)
def test_ssec_put_get_head_range(sse_server: Any, s3: Any, bucket: str, size: int) -> None:
    data = os.urandom(size)
    put = s3.put_object(Bucket=bucket, Key="k", Body=data, **ssec())
    md5_a = base64.b64encode(hashlib.md5(KEY_A).digest()).decode()
    assert put["SSECustomerAlgorithm"] == "AES256"
    assert put["SSECustomerKeyMD5"] == md5_a
    # AWS: an SSE-C object's ETag is not the MD5 of its data.
    assert put["ETag"] != f'"{hashlib.md5(data).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="k", **ssec())
    assert body_of(got) == data
    assert got["SSECustomerKeyMD5"] == md5_a
    assert got["ETag"] == put["ETag"]
    head = s3.head_object(Bucket=bucket, Key="k", **ssec())
    assert head["ContentLength"] == size and head["SSECustomerAlgorithm"] == "AES256"
    if size > 10:
        lo, hi = size // 3, min(size - 1, size // 3 + 1024 * 1024 + 3)
        part = s3.get_object(Bucket=bucket, Key="k", Range=f"bytes={lo}-{hi}", **ssec())
        assert body_of(part) == data[lo : hi + 1]
    # Without the key: 400; with another key: 403 -- never the plaintext.
    assert code_of(lambda: s3.get_object(Bucket=bucket, Key="k")) == (400, "InvalidRequest")
    assert code_of(lambda: s3.head_object(Bucket=bucket, Key="k"))[0] == 400
    assert code_of(lambda: s3.get_object(Bucket=bucket, Key="k", **ssec(KEY_B))) == (
        403,
        "AccessDenied",
    )
    assert code_of(lambda: s3.head_object(Bucket=bucket, Key="k", **ssec(KEY_B)))[0] == 403


@pytest.mark.variants("https")  # SSE-C keys only over HTTPS
def test_ssec_key_on_unencrypted_object_is_refused(sse_server: Any, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    assert code_of(lambda: s3.get_object(Bucket=bucket, Key="plain", **ssec())) == (
        400,
        "InvalidRequest",
    )


@pytest.mark.variants("http")
def test_ssec_refused_over_http(sse_server: Any, bucket: str) -> None:
    key = base64.b64encode(KEY_A).decode()
    md5 = base64.b64encode(hashlib.md5(KEY_A).digest()).decode()
    resp = raw(
        sse_server,
        "PUT",
        f"/{bucket}/k",
        {
            "x-amz-server-side-encryption-customer-algorithm": "AES256",
            "x-amz-server-side-encryption-customer-key": key,
            "x-amz-server-side-encryption-customer-key-MD5": md5,
        },
        b"secret",
    )
    assert resp.status == 400 and sup.error_code(resp.body) == "InvalidRequest"
    assert key.encode() not in resp.body


# -- bad input: the AWS error, nothing stored ----------------------------------------------------

_C = "x-amz-server-side-encryption-customer-"


def _ssec_headers(key: bytes, md5_of: bytes | None = None, alg: str = "AES256") -> dict[str, str]:
    md5 = hashlib.md5(key if md5_of is None else md5_of).digest()
    return {
        _C + "algorithm": alg,
        _C + "key": base64.b64encode(key).decode(),
        _C + "key-MD5": base64.b64encode(md5).decode(),
    }


BAD_INPUT = [
    ("ssec-key-31-bytes", True, _ssec_headers(bytes(31)), 400, "InvalidArgument"),
    ("ssec-key-33-bytes", True, _ssec_headers(bytes(33)), 400, "InvalidArgument"),
    ("ssec-md5-mismatch", True, _ssec_headers(KEY_A, md5_of=KEY_B), 400, "InvalidArgument"),
    (
        "ssec-bad-algorithm",
        True,
        _ssec_headers(KEY_A, alg="AES128"),
        400,
        "InvalidEncryptionAlgorithmError",
    ),
    (
        "ssec-no-md5",
        True,
        {_C + "algorithm": "AES256", _C + "key": base64.b64encode(KEY_A).decode()},
        400,
        "InvalidArgument",
    ),
    (
        "ssec-plus-sse-s3",
        True,
        {**_ssec_headers(KEY_A), "x-amz-server-side-encryption": "AES256"},
        400,
        "InvalidArgument",
    ),
    ("sse-unknown", False, {"x-amz-server-side-encryption": "AES512"}, 400, "InvalidArgument"),
    (
        "sse-kms-unknown-key",
        False,
        {
            "x-amz-server-side-encryption": "aws:kms",
            "x-amz-server-side-encryption-aws-kms-key-id": "0b5b7e51-0000-4000-8000-000000000000",
        },
        400,
        "KMS.NotFoundException",
    ),
    (
        "sse-kms-unknown-alias",
        False,
        {
            "x-amz-server-side-encryption": "aws:kms",
            "x-amz-server-side-encryption-aws-kms-key-id": "alias/nope",
        },
        400,
        "KMS.NotFoundException",
    ),
    (
        "sse-kms-dsse",
        False,
        {"x-amz-server-side-encryption": "aws:kms:dsse"},
        501,
        "NotImplemented",
    ),
    (
        "sse-kms-context",
        False,
        {"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-context": "e30="},
        501,
        "NotImplemented",
    ),
    (
        "kms-key-without-kms",
        False,
        {
            "x-amz-server-side-encryption": "AES256",
            "x-amz-server-side-encryption-aws-kms-key-id": "k1",
        },
        400,
        "InvalidArgument",
    ),
]


@pytest.mark.parametrize(
    ("name", "tls_only", "headers", "status", "code"),
    [
        pytest.param(*b, id=b[0], marks=[pytest.mark.variants("https")] if b[1] else [])
        for b in BAD_INPUT
    ],
)
def test_bad_sse_input(
    sse_server: Any,
    s3: Any,
    bucket: str,
    name: str,
    tls_only: bool,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    resp = raw(sse_server, "PUT", f"/{bucket}/bad", headers, MARKER)
    assert (resp.status, sup.error_code(resp.body)) == (status, code), resp.body
    for name, value in headers.items():
        if name.endswith("-key"):  # a customer key is never echoed
            assert value.encode() not in resp.body
    assert code_of(lambda: s3.head_object(Bucket=bucket, Key="bad")) == (404, "404")


# -- nothing in the clear on disk ----------------------------------------------------------------


@pytest.mark.variants("sqlite")  # reads the SQLite data directory
def test_plaintext_not_on_disk(sse_server: Any, s3: Any, bucket: str) -> None:
    """A recognisable plaintext written with SSE-S3 and SSE-C (small: inline; large: blocks) is
    nowhere in the SQLite data directory (database, WAL, block files)."""
    big = MARKER * (2 * 1024 * 1024 // len(MARKER) + 3)
    s3.put_object(Bucket=bucket, Key="s3-small", Body=MARKER, ServerSideEncryption="AES256")
    s3.put_object(Bucket=bucket, Key="s3-big", Body=big, ServerSideEncryption="AES256")
    written = ["s3-small", "s3-big"]
    if sse_server.scheme == "https":
        s3.put_object(Bucket=bucket, Key="c-small", Body=MARKER, **ssec())
        s3.put_object(Bucket=bucket, Key="c-big", Body=big, **ssec())
        written += ["c-small", "c-big"]
    for key in written:
        extra = ssec() if key.startswith("c-") else {}
        assert body_of(s3.get_object(Bucket=bucket, Key=key, **extra))[: len(MARKER)] == MARKER
    # The control: the same bytes unencrypted ARE found (so the scan can see them).
    s3.put_object(Bucket=bucket, Key="control", Body=b"CONTROL-" + MARKER)
    found = _scan(Path(sse_server.workdir) / "data", MARKER)
    assert found == ["CONTROL"], found
    # The customer key is never stored (nor its MD5), and no key reaches the log.
    key_forms = [KEY_A, base64.b64encode(KEY_A), base64.b64encode(hashlib.md5(KEY_A).digest())]
    for form in key_forms:
        assert _scan(Path(sse_server.workdir) / "data", form) == []
    log = sse_server.log_text()
    assert MASTER not in log
    assert all(form.decode("latin-1") not in log for form in key_forms[1:])


def _scan(root: Path, needle: bytes) -> list[str]:
    """Which kinds of occurrence of `needle` the files under `root` hold: "CONTROL" for the
    control object, "PLAIN" for anything else."""
    kinds: set[str] = set()
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        at = data.find(needle)
        while at >= 0:
            kinds.add("CONTROL" if data[max(0, at - 8) : at] == b"CONTROL-" else "PLAIN")
            at = data.find(needle, at + 1)
    return sorted(kinds)


# -- multipart -----------------------------------------------------------------------------------

PART = 5 * 1024 * 1024


def _multipart(s3: Any, bucket: str, key: str, parts: list[bytes], create: dict[str, Any],
               each: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)
    done = []
    for n, data in enumerate(parts, start=1):
        r = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=up["UploadId"], PartNumber=n, Body=data, **each
        )
        done.append({"PartNumber": n, "ETag": r["ETag"]})
    out: dict[str, Any] = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=up["UploadId"], MultipartUpload={"Parts": done}
    )
    out["create"] = up
    return out


def test_multipart_sse_s3(s3: Any, bucket: str) -> None:
    parts = [os.urandom(PART), os.urandom(PART), os.urandom(1234)]
    done = _multipart(s3, bucket, "mp", parts, {"ServerSideEncryption": "AES256"}, {})
    assert done["create"]["ServerSideEncryption"] == "AES256"
    assert done["ServerSideEncryption"] == "AES256"
    whole = b"".join(parts)
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["ServerSideEncryption"] == "AES256" and body_of(got) == whole
    lo, hi = PART - 100, PART + 100  # across the part boundary
    assert (
        body_of(s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={lo}-{hi}"))
        == whole[lo : hi + 1]
    )


def test_part_number_get_of_sse_objects(sse_server: Any, s3: Any, bucket: str) -> None:
    """GET ?partNumber=N decrypts through the same reader as a ranged GET (issue 19 item 4)."""
    parts = [os.urandom(PART), os.urandom(1234)]
    _multipart(s3, bucket, "mp", parts, {"ServerSideEncryption": "AES256"}, {})
    for n, data in enumerate(parts, start=1):
        got = s3.get_object(Bucket=bucket, Key="mp", PartNumber=n)
        assert got["PartsCount"] == 2 and body_of(got) == data
    s3.put_object(Bucket=bucket, Key="one", Body=b"sealed", ServerSideEncryption="AES256")
    assert body_of(s3.get_object(Bucket=bucket, Key="one", PartNumber=1)) == b"sealed"


@pytest.mark.variants("https")  # SSE-C keys only over HTTPS
def test_multipart_ssec(sse_server: Any, s3: Any, bucket: str) -> None:
    parts = [os.urandom(PART), os.urandom(777)]
    done = _multipart(s3, bucket, "mp", parts, ssec(), ssec())
    assert done["create"]["SSECustomerAlgorithm"] == "AES256"
    whole = b"".join(parts)
    assert body_of(s3.get_object(Bucket=bucket, Key="mp", **ssec())) == whole
    lo, hi = PART - 10, PART + 10
    ranged = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={lo}-{hi}", **ssec())
    assert body_of(ranged) == whole[lo : hi + 1]
    assert code_of(lambda: s3.get_object(Bucket=bucket, Key="mp"))[0] == 400
    # Every part needs the upload's key: none -> 400, another -> 403.
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp2", **ssec())
    uid = up["UploadId"]
    common = {"Bucket": bucket, "Key": "mp2", "UploadId": uid, "PartNumber": 1, "Body": b"x"}
    assert code_of(lambda: s3.upload_part(**common)) == (400, "InvalidRequest")
    assert code_of(lambda: s3.upload_part(**common, **ssec(KEY_B))) == (403, "AccessDenied")
    s3.abort_multipart_upload(Bucket=bucket, Key="mp2", UploadId=uid)


@pytest.mark.variants("https")  # SSE-C keys only over HTTPS
def test_upload_part_copy_between_keys(sse_server: Any, s3: Any, bucket: str) -> None:
    src = os.urandom(PART + 99)
    s3.put_object(Bucket=bucket, Key="src", Body=src, **ssec())
    up = s3.create_multipart_upload(Bucket=bucket, Key="dst", ServerSideEncryption="AES256")
    uid = up["UploadId"]
    r = s3.upload_part_copy(
        Bucket=bucket, Key="dst", UploadId=uid, PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "src"}, CopySourceRange=f"bytes=0-{PART - 1}",
        **ssec(prefix="CopySourceSSECustomer"),
    )  # fmt: skip
    r2 = s3.upload_part_copy(
        Bucket=bucket, Key="dst", UploadId=uid, PartNumber=2,
        CopySource={"Bucket": bucket, "Key": "src"}, CopySourceRange=f"bytes={PART}-{PART + 98}",
        **ssec(prefix="CopySourceSSECustomer"),
    )  # fmt: skip
    parts = [{"PartNumber": 1, "ETag": r["CopyPartResult"]["ETag"]},
             {"PartNumber": 2, "ETag": r2["CopyPartResult"]["ETag"]}]  # fmt: skip
    s3.complete_multipart_upload(
        Bucket=bucket, Key="dst", UploadId=uid, MultipartUpload={"Parts": parts}
    )
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["ServerSideEncryption"] == "AES256" and body_of(got) == src
    # Without the source's key the part copy is refused.
    up = s3.create_multipart_upload(Bucket=bucket, Key="dst2")
    assert code_of(
        lambda: s3.upload_part_copy(
            Bucket=bucket,
            Key="dst2",
            UploadId=up["UploadId"],
            PartNumber=1,
            CopySource={"Bucket": bucket, "Key": "src"},
        )
    ) == (400, "InvalidRequest")
    s3.abort_multipart_upload(Bucket=bucket, Key="dst2", UploadId=up["UploadId"])


# -- copy ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [100, 2 * 1024 * 1024 + 5])
def test_copy_between_modes(sse_server: Any, s3: Any, bucket: str, size: int) -> None:
    tls = sse_server.scheme == "https"
    data = os.urandom(size)
    s3.put_object(Bucket=bucket, Key="plain", Body=data)
    src = {"Bucket": bucket, "Key": "plain"}
    # plain -> SSE-S3 -> SSE-S3 -> plain
    r = s3.copy_object(Bucket=bucket, Key="s3", CopySource=src, ServerSideEncryption="AES256")
    assert r["ServerSideEncryption"] == "AES256"
    r = s3.copy_object(Bucket=bucket, Key="s3b", CopySource={"Bucket": bucket, "Key": "s3"},
                       ServerSideEncryption="AES256")  # fmt: skip
    assert r["ServerSideEncryption"] == "AES256"
    s3.copy_object(Bucket=bucket, Key="plain2", CopySource={"Bucket": bucket, "Key": "s3b"})
    for key in ("s3", "s3b"):
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["ServerSideEncryption"] == "AES256" and body_of(got) == data
    got = s3.get_object(Bucket=bucket, Key="plain2")
    assert "ServerSideEncryption" not in got and body_of(got) == data
    # self-copy that only adds encryption is allowed (how an object gets encrypted in place)
    s3.copy_object(Bucket=bucket, Key="plain", CopySource=src, ServerSideEncryption="AES256")
    assert s3.head_object(Bucket=bucket, Key="plain")["ServerSideEncryption"] == "AES256"
    if not tls:
        return
    # SSE-S3 -> SSE-C(A) -> SSE-C(B) -> plain
    s3.copy_object(Bucket=bucket, Key="ca", CopySource={"Bucket": bucket, "Key": "s3"}, **ssec())
    cp = ssec(prefix="CopySourceSSECustomer")
    s3.copy_object(Bucket=bucket, Key="cb", CopySource={"Bucket": bucket, "Key": "ca"},
                   **cp, **ssec(KEY_B))  # fmt: skip
    s3.copy_object(Bucket=bucket, Key="back", CopySource={"Bucket": bucket, "Key": "cb"},
                   **ssec(KEY_B, prefix="CopySourceSSECustomer"))  # fmt: skip
    assert body_of(s3.get_object(Bucket=bucket, Key="ca", **ssec())) == data
    assert body_of(s3.get_object(Bucket=bucket, Key="cb", **ssec(KEY_B))) == data
    assert body_of(s3.get_object(Bucket=bucket, Key="back")) == data
    # an SSE-C source without its key, or with another: refused, nothing written
    ca = {"Bucket": bucket, "Key": "ca"}
    assert code_of(lambda: s3.copy_object(Bucket=bucket, Key="x", CopySource=ca)) == (
        400,
        "InvalidRequest",
    )
    wrong = ssec(KEY_B, prefix="CopySourceSSECustomer")
    assert code_of(lambda: s3.copy_object(Bucket=bucket, Key="x", CopySource=ca, **wrong))[0] == 403
    assert code_of(lambda: s3.head_object(Bucket=bucket, Key="x"))[0] == 404


# -- bucket default encryption -------------------------------------------------------------------


def _default(bucket_key: bool = False, alg: str = "AES256") -> dict[str, Any]:
    return {
        "Rules": [
            {
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": alg},
                "BucketKeyEnabled": bucket_key,
            }
        ]
    }


def test_bucket_default_encryption(s3: Any, bucket: str) -> None:
    assert code_of(lambda: s3.get_bucket_encryption(Bucket=bucket)) == (
        404,
        "ServerSideEncryptionConfigurationNotFoundError",
    )
    s3.put_bucket_encryption(
        Bucket=bucket, ServerSideEncryptionConfiguration=_default(bucket_key=True)
    )
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert rule["BucketKeyEnabled"] is True
    # PUT, copy and multipart without headers get the default
    r = s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
    assert r["ServerSideEncryption"] == "AES256" and r["BucketKeyEnabled"] is True
    s3.copy_object(Bucket=bucket, Key="k2", CopySource={"Bucket": bucket, "Key": "k"})
    assert s3.head_object(Bucket=bucket, Key="k2")["ServerSideEncryption"] == "AES256"
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")
    assert up["ServerSideEncryption"] == "AES256"
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"])
    assert body_of(s3.get_object(Bucket=bucket, Key="k2")) == b"hello"
    s3.delete_bucket_encryption(Bucket=bucket)
    assert code_of(lambda: s3.get_bucket_encryption(Bucket=bucket))[0] == 404
    assert "ServerSideEncryption" not in s3.put_object(Bucket=bucket, Key="k3", Body=b"x")


@pytest.mark.parametrize(
    ("config", "status", "code"),
    [
        (_default(alg="aws:kms:dsse"), 501, "NotImplemented"),
        (_default(alg="AES512"), 400, "InvalidArgument"),
    ],
)
def test_bucket_default_encryption_refused(
    s3: Any, bucket: str, config: dict[str, Any], status: int, code: str
) -> None:
    put = lambda: s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=config)  # noqa: E731
    assert code_of(put) == (status, code)
    assert code_of(lambda: s3.get_bucket_encryption(Bucket=bucket))[0] == 404


# -- GetObjectAttributes, POST -------------------------------------------------------------------


def test_get_object_attributes(sse_server: Any, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"abc", ServerSideEncryption="AES256")
    attrs = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ObjectSize"])
    assert attrs["ObjectSize"] == 3
    assert attrs["ResponseMetadata"]["HTTPHeaders"]["x-amz-server-side-encryption"] == "AES256"
    if sse_server.scheme != "https":
        return
    s3.put_object(Bucket=bucket, Key="c", Body=b"abcd", **ssec())
    wanted = ["ObjectSize", "ETag"]
    get = s3.get_object_attributes
    assert code_of(lambda: get(Bucket=bucket, Key="c", ObjectAttributes=wanted))[0] == 400
    # botocore does not encode the key for this operation: give it as sent on the wire.
    wire = {
        "SSECustomerAlgorithm": "AES256",
        "SSECustomerKey": base64.b64encode(KEY_A).decode(),
        "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(KEY_A).digest()).decode(),
    }
    assert get(Bucket=bucket, Key="c", ObjectAttributes=wanted, **wire)["ObjectSize"] == 4


def test_post_upload_with_encryption_field(sse_server: Any, s3: Any, bucket: str) -> None:
    import requests

    post = s3.generate_presigned_post(
        bucket, "posted", Fields={"x-amz-server-side-encryption": "AES256"},
        Conditions=[{"x-amz-server-side-encryption": "AES256"}],
    )  # fmt: skip
    resp = requests.post(
        post["url"], data=post["fields"], files={"file": ("f", MARKER)}, verify=sse_server.verify,
        timeout=30,
    )  # fmt: skip
    assert resp.status_code in (200, 204), resp.text
    got = s3.get_object(Bucket=bucket, Key="posted")
    assert got["ServerSideEncryption"] == "AES256" and body_of(got) == MARKER


# -- no master key --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keyless_server(tmp_path_factory: pytest.TempPathFactory, tls_material: Any) -> Iterator[Any]:
    srv = sup.start_server(
        tmp_path_factory.mktemp("sse-keyless"), scheme="https", tls=tls_material,
        variant="https-sqlite",
    )  # fmt: skip
    try:
        yield srv
    finally:
        sup.stop_server(srv)


def test_no_master_key(keyless_server: Any) -> None:
    """SSE-S3 without a master key: a clear 400, nothing stored; SSE-C still works."""
    s3 = keyless_server.client()
    try:
        name = sup.unique_bucket("ssek")
        s3.create_bucket(Bucket=name)
        put = lambda: s3.put_object(  # noqa: E731
            Bucket=name, Key="k", Body=b"x", ServerSideEncryption="AES256"
        )
        assert code_of(put) == (400, "InvalidRequest")
        put_kms = lambda: s3.put_object(  # noqa: E731
            Bucket=name, Key="k", Body=b"x", ServerSideEncryption="aws:kms"
        )
        assert code_of(put_kms) == (400, "InvalidRequest")
        assert code_of(lambda: s3.head_object(Bucket=name, Key="k"))[0] == 404
        enc = lambda: s3.put_bucket_encryption(  # noqa: E731
            Bucket=name, ServerSideEncryptionConfiguration=_default()
        )
        assert code_of(enc) == (400, "InvalidRequest")
        s3.put_object(Bucket=name, Key="c", Body=b"secret", **ssec())
        assert body_of(s3.get_object(Bucket=name, Key="c", **ssec())) == b"secret"
        s3.delete_object(Bucket=name, Key="c")
        s3.delete_bucket(Bucket=name)
    finally:
        s3.close()


# -- SSE-KMS (s3front's own key ring) ------------------------------------------------------------


def test_sse_kms_put_get_copy_multipart(sse_server: Any, s3: Any, bucket: str) -> None:
    app = sse_server.kms_app
    data = os.urandom(2 * 1024 * 1024 + 3)
    for name, key_id in [("by-id", app), ("by-alias", "alias/app"), ("default", None)]:
        extra = {"SSEKMSKeyId": key_id} if key_id else {}
        put = s3.put_object(
            Bucket=bucket, Key=name, Body=data, ServerSideEncryption="aws:kms", **extra
        )
        assert put["ServerSideEncryption"] == "aws:kms"
        if key_id:
            assert put["SSEKMSKeyId"].endswith(f":key/{app}")
        # AWS: an SSE-KMS object's ETag is not the MD5 of its data.
        assert put["ETag"] != f'"{hashlib.md5(data).hexdigest()}"'
        got = s3.get_object(Bucket=bucket, Key=name)
        assert got["ServerSideEncryption"] == "aws:kms" and body_of(got) == data
        assert got["SSEKMSKeyId"] == put["SSEKMSKeyId"]
        rng = s3.get_object(Bucket=bucket, Key=name, Range="bytes=1048570-1048580")
        assert body_of(rng) == data[1048570:1048581]
    # KMS -> SSE-S3 and back
    s3.copy_object(Bucket=bucket, Key="to-s3", CopySource={"Bucket": bucket, "Key": "by-id"},
                   ServerSideEncryption="AES256")  # fmt: skip
    s3.copy_object(Bucket=bucket, Key="to-kms", CopySource={"Bucket": bucket, "Key": "to-s3"},
                   ServerSideEncryption="aws:kms", SSEKMSKeyId="alias/app")  # fmt: skip
    assert body_of(s3.get_object(Bucket=bucket, Key="to-s3")) == data
    assert body_of(s3.get_object(Bucket=bucket, Key="to-kms")) == data
    done = _multipart(
        s3, bucket, "mp", [data * 3, b"tail"],
        {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": app}, {},
    )  # fmt: skip
    assert done["create"]["SSEKMSKeyId"].endswith(app)
    assert done["SSEKMSKeyId"] == done["create"]["SSEKMSKeyId"]
    assert body_of(s3.get_object(Bucket=bucket, Key="mp")) == data * 3 + b"tail"
    # bucket default with a KMS key
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": "alias/app",
                    }
                }
            ]
        },
    )
    r = s3.put_object(Bucket=bucket, Key="dflt", Body=b"x")
    assert r["ServerSideEncryption"] == "aws:kms" and r["SSEKMSKeyId"].endswith(app)
    bad = {
        "Rules": [
            {
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": "alias/missing",
                }
            }
        ]
    }
    put_bad = lambda: s3.put_bucket_encryption(  # noqa: E731
        Bucket=bucket, ServerSideEncryptionConfiguration=bad
    )
    assert code_of(put_bad) == (400, "KMS.NotFoundException")


def test_kms_cli_list_and_rotate(sse_server: Any, s3: Any, bucket: str) -> None:
    app = sse_server.kms_app
    s3.put_object(
        Bucket=bucket, Key="before", Body=b"old", ServerSideEncryption="aws:kms", SSEKMSKeyId=app
    )
    listing = kms_cli(sse_server, "list")
    assert app in listing and "alias/app" in listing and "alias/aws/s3" in listing
    kms_cli(sse_server, "rotate", "alias/app")
    assert f"{app}\talias/app\t2\t" in kms_cli(sse_server, "list")
    assert body_of(s3.get_object(Bucket=bucket, Key="before")) == b"old"
    s3.put_object(
        Bucket=bucket, Key="after", Body=b"new", ServerSideEncryption="aws:kms", SSEKMSKeyId=app
    )
    assert body_of(s3.get_object(Bucket=bucket, Key="after")) == b"new"
    # The key ring is not a list of access keys, and key material is never printed.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3FRONT_", "AWS_"))}
    env["S3FRONT_MASTER_KEY"] = MASTER
    keys = sup.run(
        [sys.executable, "-m", "s3front", "keys", "list", "--store", sse_server.store_url],
        env=env,
    ).stdout
    assert "kms:" not in keys and app not in keys
    # Nor can `keys revoke` / `keys rotate` reach a KMS key's record (which would make every
    # object sealed under it unreadable): "no such access key", exit 1.
    for verb in ("revoke", "rotate"):
        cp = sup.run(
            [sys.executable, "-m", "s3front", "keys", verb, f"kms:{app}",
             "--store", sse_server.store_url],
            env=env, check=False,
        )  # fmt: skip
        assert cp.returncode == 1 and "no such access key" in cp.stderr, cp
    assert body_of(s3.get_object(Bucket=bucket, Key="after")) == b"new"
    assert body_of(s3.get_object(Bucket=bucket, Key="before")) == b"old"


def test_kms_cli_refuses_without_master_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3FRONT_", "AWS_"))}
    cp = sup.run(
        [sys.executable, "-m", "s3front", "kms", "create-key", "--store",
         f"sqlite://{tmp_path / 'd'}"],
        env=env, check=False,
    )  # fmt: skip
    assert cp.returncode == 2 and "S3FRONT_MASTER_KEY" in cp.stderr


# -- master-key rotation -------------------------------------------------------------------------

NEW_MASTER = "a1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff00"


def test_rotate_master_rewraps_without_rewriting_data(tmp_path: Path, tls_material: Any) -> None:
    """SSE-S3 objects (inline, blocks, versions), an open SSE-S3 upload, a KMS object and the
    access keys all work under the new master key after `kms rotate-master`; no block changes;
    a second run finds nothing left to do."""

    def start(master: str) -> Any:
        return sup.start_server(
            tmp_path / "srv", scheme="https", tls=tls_material, variant="https-sqlite",
            env_extra={"S3FRONT_MASTER_KEY": master},
        )  # fmt: skip

    srv = start(MASTER)
    big = os.urandom(3 * 1024 * 1024 + 1)
    try:
        kms_cli(srv, "create-key", "--alias", "aws/s3")
        s3 = srv.client()
        s3.create_bucket(Bucket="rot")
        s3.put_bucket_versioning(Bucket="rot", VersioningConfiguration={"Status": "Enabled"})
        s3.put_object(Bucket="rot", Key="small", Body=b"v1", ServerSideEncryption="AES256")
        s3.put_object(Bucket="rot", Key="small", Body=b"v2", ServerSideEncryption="AES256")
        s3.put_object(Bucket="rot", Key="big", Body=big, ServerSideEncryption="AES256")
        s3.put_object(Bucket="rot", Key="kms", Body=b"k", ServerSideEncryption="aws:kms")
        up = s3.create_multipart_upload(Bucket="rot", Key="mp", ServerSideEncryption="AES256")
        p1 = s3.upload_part(Bucket="rot", Key="mp", UploadId=up["UploadId"], PartNumber=1,
                            Body=big + big)  # fmt: skip
        s3.close()
    finally:
        sup.stop_server(srv)
    data_dir = tmp_path / "srv" / "data"
    before = {p: p.read_bytes() for p in data_dir.rglob("*") if p.is_file() and "block" in str(p)}
    out = kms_cli(srv, "rotate-master", "--new-key-env", "NEW_KEY", extra={"NEW_KEY": NEW_MASTER})
    assert "re-wrapped 3 object data key(s) and 1 upload data key(s)" in out, out
    assert NEW_MASTER not in out and MASTER not in out
    after = {p: p.read_bytes() for p in data_dir.rglob("*") if p.is_file() and "block" in str(p)}
    assert len(before) >= 5 and before == after  # no block file rewritten or added
    # The old key no longer starts the server (secrets are sealed by the new one).
    again = kms_cli(srv, "rotate-master", "--new-key-env", "NEW_KEY", extra={"NEW_KEY": NEW_MASTER})
    assert "re-wrapped 0 object data key(s) and 0 upload data key(s) (4 already done" in again
    srv = start(NEW_MASTER)
    try:
        s3 = srv.client()
        versions = s3.list_object_versions(Bucket="rot", Prefix="small")["Versions"]
        bodies = sorted(
            body_of(s3.get_object(Bucket="rot", Key="small", VersionId=v["VersionId"]))
            for v in versions
        )
        assert bodies == [b"v1", b"v2"]
        assert body_of(s3.get_object(Bucket="rot", Key="big")) == big
        assert body_of(s3.get_object(Bucket="rot", Key="kms")) == b"k"
        p2 = s3.upload_part(Bucket="rot", Key="mp", UploadId=up["UploadId"], PartNumber=2,
                            Body=b"end")  # fmt: skip
        s3.complete_multipart_upload(
            Bucket="rot", Key="mp", UploadId=up["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1["ETag"]},
                                       {"PartNumber": 2, "ETag": p2["ETag"]}]},
        )  # fmt: skip
        assert body_of(s3.get_object(Bucket="rot", Key="mp")) == big + big + b"end"
        s3.close()
    finally:
        sup.stop_server(srv)


# -- real command-line clients -------------------------------------------------------------------


def test_s3cmd_server_side_encryption(
    sse_server: Any, s3: Any, bucket: str, tmp_path: Path
) -> None:
    """s3cmd --server-side-encryption: its data really is encrypted (SSE-S3), and comes back."""
    env = sup.client_env(tmp_path, sse_server)
    cfg = sup.s3cmd_config(tmp_path / "s3cfg", sse_server, v2=False)
    src = tmp_path / "f.bin"
    data = os.urandom(20 * 1024 * 1024 + 5)  # multipart for s3cmd (15 MiB chunks)
    src.write_bytes(data)
    small = tmp_path / "s.txt"
    small.write_bytes(MARKER)
    for f in (src, small):
        sup.run(sup.s3cmd_cmd(cfg, "put", "--server-side-encryption", str(f), f"s3://{bucket}/"),
                env=env, timeout=240)  # fmt: skip
    for name in ("f.bin", "s.txt"):
        assert s3.head_object(Bucket=bucket, Key=name)["ServerSideEncryption"] == "AES256"
    out = tmp_path / "back.bin"
    sup.run(sup.s3cmd_cmd(cfg, "get", f"s3://{bucket}/f.bin", str(out)), env=env, timeout=240)
    assert out.read_bytes() == data


def test_awscli_sse_and_sse_c(sse_server: Any, s3: Any, bucket: str, tmp_path: Path) -> None:
    env = sup.client_env(tmp_path, sse_server)
    src = tmp_path / "f.bin"
    data = os.urandom(9 * 1024 * 1024 + 1)  # multipart for the CLI (8 MiB threshold)
    src.write_bytes(data)

    def aws(*args: str) -> str:
        return sup.run(sup.aws_cmd(sse_server, *args), env=env, timeout=240).stdout

    aws("s3", "cp", str(src), f"s3://{bucket}/sse", "--sse", "AES256")
    assert s3.head_object(Bucket=bucket, Key="sse")["ServerSideEncryption"] == "AES256"
    aws("s3", "cp", str(src), f"s3://{bucket}/kms", "--sse", "aws:kms", "--sse-kms-key-id",
        sse_server.kms_app)  # fmt: skip
    assert s3.head_object(Bucket=bucket, Key="kms")["ServerSideEncryption"] == "aws:kms"
    back = tmp_path / "back.bin"
    aws("s3", "cp", f"s3://{bucket}/kms", str(back))
    assert back.read_bytes() == data
    if sse_server.scheme != "https":
        return
    key = "k" * 32  # the CLI takes the raw key as text
    aws("s3", "cp", str(src), f"s3://{bucket}/ssec", "--sse-c", "AES256", "--sse-c-key", key)
    back.unlink()
    aws("s3", "cp", f"s3://{bucket}/ssec", str(back), "--sse-c", "AES256", "--sse-c-key", key)
    assert back.read_bytes() == data
    assert code_of(lambda: s3.get_object(Bucket=bucket, Key="ssec"))[0] == 400
    raw_key = key.encode()
    got = s3.get_object(Bucket=bucket, Key="ssec", **ssec(raw_key))
    assert body_of(got) == data


@pytest.mark.variants("https")  # SSE-C keys only over HTTPS
def test_post_upload_with_ssec_fields(sse_server: Any, s3: Any, bucket: str) -> None:
    import requests

    fields = {
        _C + "algorithm": "AES256",
        _C + "key": base64.b64encode(KEY_A).decode(),
        _C + "key-MD5": base64.b64encode(hashlib.md5(KEY_A).digest()).decode(),
    }
    post = s3.generate_presigned_post(
        bucket, "posted-c", Fields=fields, Conditions=[{k: v} for k, v in fields.items()]
    )
    resp = requests.post(
        post["url"], data=post["fields"], files={"file": ("f", MARKER)}, verify=sse_server.verify,
        timeout=30,
    )  # fmt: skip
    assert resp.status_code in (200, 204), resp.text
    assert code_of(lambda: s3.get_object(Bucket=bucket, Key="posted-c"))[0] == 400
    assert body_of(s3.get_object(Bucket=bucket, Key="posted-c", **ssec())) == MARKER


def test_copy_of_encrypted_multipart_object(sse_server: Any, s3: Any, bucket: str) -> None:
    parts = [os.urandom(PART), os.urandom(PART + 3)]
    whole = b"".join(parts)
    _multipart(s3, bucket, "mp", parts, {"ServerSideEncryption": "AES256"}, {})
    src = {"Bucket": bucket, "Key": "mp"}
    s3.copy_object(Bucket=bucket, Key="same", CopySource=src, ServerSideEncryption="AES256")
    s3.copy_object(Bucket=bucket, Key="plain", CopySource=src)
    assert body_of(s3.get_object(Bucket=bucket, Key="same")) == whole
    assert body_of(s3.get_object(Bucket=bucket, Key="plain")) == whole
    lo, hi = PART - 7, PART + 7
    got = s3.get_object(Bucket=bucket, Key="same", Range=f"bytes={lo}-{hi}")
    assert body_of(got) == whole[lo : hi + 1]
    if sse_server.scheme == "https":
        s3.copy_object(Bucket=bucket, Key="c", CopySource=src, **ssec())
        assert body_of(s3.get_object(Bucket=bucket, Key="c", **ssec())) == whole

"""CORS configuration, preflights and response headers; browser POST uploads built by boto3."""

from __future__ import annotations

import base64
import json
import ssl
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import botocore.exceptions
import httpx
import pytest
import s3front_e2e_support as sup


def _verify(server: Any) -> ssl.SSLContext | bool:
    """httpx wants an SSLContext (a CA path is deprecated)."""
    context: ssl.SSLContext | None = server.ssl_context()
    return context if context is not None else True


RULES = {
    "CORSRules": [
        {
            "ID": "app",
            "AllowedOrigins": ["https://*.example.com"],
            "AllowedMethods": ["GET", "PUT"],
            "AllowedHeaders": ["x-amz-*", "content-type"],
            "ExposeHeaders": ["ETag", "x-amz-request-id"],
            "MaxAgeSeconds": 600,
        },
        {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},
    ]
}


@pytest.fixture
def own_bucket(s3: Any) -> Iterator[str]:
    name = sup.unique_bucket()
    s3.create_bucket(Bucket=name)
    yield name
    for obj in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=obj["Key"])
    s3.delete_bucket(Bucket=name)


def preflight(server: Any, path: str, origin: str, method: str, headers: str = "") -> Any:
    h = {"origin": origin, "access-control-request-method": method}
    if headers:
        h["access-control-request-headers"] = headers
    return server.raw("OPTIONS", path, headers=h, sign=False)


def test_cors_configuration_round_trip(s3: Any, own_bucket: str) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.get_bucket_cors(Bucket=own_bucket)
    assert info.value.response["Error"]["Code"] == "NoSuchCORSConfiguration"
    s3.put_bucket_cors(Bucket=own_bucket, CORSConfiguration=RULES)
    got = s3.get_bucket_cors(Bucket=own_bucket)["CORSRules"]
    assert got[0] == {
        "ID": "app",
        "AllowedHeaders": ["x-amz-*", "content-type"],
        "AllowedMethods": ["GET", "PUT"],
        "AllowedOrigins": ["https://*.example.com"],
        "ExposeHeaders": ["ETag", "x-amz-request-id"],
        "MaxAgeSeconds": 600,
    }
    assert got[1] == {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}
    bad = {"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]}
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.put_bucket_cors(Bucket=own_bucket, CORSConfiguration=bad)
    assert info.value.response["Error"]["Code"] == "InvalidRequest"
    s3.delete_bucket_cors(Bucket=own_bucket)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.get_bucket_cors(Bucket=own_bucket)
    assert info.value.response["Error"]["Code"] == "NoSuchCORSConfiguration"


def test_preflight_and_actual_request_headers(server: Any, s3: Any, own_bucket: str) -> None:
    s3.put_object(Bucket=own_bucket, Key="k", Body=b"v")
    path = f"/{own_bucket}/k"
    assert preflight(server, path, "https://app.example.com", "PUT").status == 403
    s3.put_bucket_cors(Bucket=own_bucket, CORSConfiguration=RULES)

    ok = preflight(server, path, "https://app.example.com", "PUT", "Content-Type, X-Amz-Date")
    assert ok.status == 200, ok
    assert ok.headers["access-control-allow-origin"] == "https://app.example.com"
    assert ok.headers["access-control-allow-methods"] == "GET, PUT"
    assert ok.headers["access-control-allow-headers"] == "content-type, x-amz-date"
    assert ok.headers["access-control-max-age"] == "600"
    assert "Origin" in ok.headers["vary"]

    any_origin = preflight(server, path, "https://elsewhere.org", "GET")
    assert any_origin.status == 200 and any_origin.headers["access-control-allow-origin"] == "*"
    for origin, method, hdrs in (
        ("https://elsewhere.org", "PUT", ""),  # only the first rule allows PUT
        ("https://app.example.com", "DELETE", ""),
        ("https://app.example.com", "PUT", "authorization-x"),  # header not allowed
        ("http://app.example.com", "PUT", ""),  # scheme differs
    ):
        denied = preflight(server, path, origin, method, hdrs)
        assert (denied.status, denied.error_code) == (403, "CORSResponse"), (origin, method)

    got = server.raw("GET", path, headers={"origin": "https://app.example.com"})
    assert got.status == 200 and got.body == b"v"
    assert got.headers["access-control-allow-origin"] == "https://app.example.com"
    assert got.headers["access-control-expose-headers"] == "ETag, x-amz-request-id"
    assert "Origin" in got.headers["vary"]
    # No Origin, no CORS headers; a method no rule allows, none either.
    plain = server.raw("GET", path)
    assert not any(h.startswith("access-control-") for h in plain.headers)
    deleted = server.raw("DELETE", f"/{own_bucket}/nothing", headers={"origin": "https://x.org"})
    assert deleted.status == 204
    assert "access-control-allow-origin" not in deleted.headers


def test_preflight_for_missing_bucket(server: Any) -> None:
    for path in (f"/{sup.unique_bucket()}/k", "/"):
        resp = preflight(server, path, "https://a.example.com", "GET")
        assert (resp.status, resp.error_code) == (403, "CORSResponse"), resp


# -- browser POST uploads ------------------------------------------------------------------------


def _post(server: Any, post: dict[str, Any], content: bytes, filename: str = "photo.jpg") -> Any:
    return httpx.post(
        post["url"],
        data=post["fields"],
        files={"file": (filename, content, "image/jpeg")},
        verify=_verify(server),
        follow_redirects=False,
        timeout=60,
    )


@pytest.mark.parametrize("sig", ["s3v4", "s3"], ids=["v4", "v2"])
def test_post_upload_with_presigned_post(server: Any, own_bucket: str, sig: str) -> None:
    s3 = server.client(signature_version=sig)
    data = b"\xff\xd8" + uuid.uuid4().bytes * 4000
    post = s3.generate_presigned_post(
        own_bucket,
        "uploads/${filename}",
        Fields={"success_action_status": "201", "x-amz-meta-origin": "browser"},
        Conditions=[
            ["starts-with", "$key", "uploads/"],
            {"success_action_status": "201"},
            {"x-amz-meta-origin": "browser"},
            ["content-length-range", 1, 1_000_000],
        ],
        ExpiresIn=300,
    )
    assert ("x-amz-signature" in post["fields"]) == (sig == "s3v4")
    resp = _post(server, post, data)
    assert resp.status_code == 201, resp.text
    assert b"<Key>uploads/photo.jpg</Key>" in resp.content
    assert resp.headers["etag"].strip('"') in resp.text
    got = s3.get_object(Bucket=own_bucket, Key="uploads/photo.jpg")
    assert got["Body"].read() == data
    assert got["Metadata"] == {"origin": "browser"}
    assert got["ContentType"] == "image/jpeg"


def test_post_upload_policy_enforced(server: Any, s3: Any, own_bucket: str) -> None:
    post = s3.generate_presigned_post(
        own_bucket,
        "small.bin",
        Conditions=[["content-length-range", 10, 100]],
        ExpiresIn=300,
    )
    assert _post(server, post, b"x" * 50).status_code == 204
    too_big = _post(server, post, b"x" * 5000)
    assert too_big.status_code == 400 and b"<Code>EntityTooLarge</Code>" in too_big.content
    too_small = _post(server, post, b"x")
    assert too_small.status_code == 400 and b"<Code>EntityTooSmall</Code>" in too_small.content
    assert s3.get_object(Bucket=own_bucket, Key="small.bin")["ContentLength"] == 50

    # A field the policy does not cover, and a changed key.
    extra = dict(post, fields={**post["fields"], "acl": "public-read"})
    resp = _post(server, extra, b"x" * 50)
    assert resp.status_code == 403 and b"Extra input fields: acl" in resp.content
    moved = dict(post, fields={**post["fields"], "key": "elsewhere.bin"})
    resp = _post(server, moved, b"x" * 50)
    assert resp.status_code == 403 and b"Policy Condition failed" in resp.content
    # A tampered policy no longer matches its signature.
    doc = json.loads(base64.b64decode(post["fields"]["policy"]))
    doc["conditions"].append(["starts-with", "$key", ""])
    forged = dict(
        post,
        fields={**post["fields"], "policy": base64.b64encode(json.dumps(doc).encode()).decode()},
    )
    resp = _post(server, forged, b"x" * 50)
    assert resp.status_code == 403 and b"SignatureDoesNotMatch" in resp.content

    expired = s3.generate_presigned_post(own_bucket, "late.bin", ExpiresIn=-10)
    resp = _post(server, expired, b"late")
    assert resp.status_code == 403
    assert b"Invalid according to Policy: Policy expired." in resp.content
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket=own_bucket, Key="late.bin")


def test_post_upload_redirect_and_acl(server: Any, s3: Any, own_bucket: str) -> None:
    post = s3.generate_presigned_post(
        own_bucket,
        "pub.txt",
        Fields={"acl": "public-read", "success_action_redirect": "https://app.example.com/done"},
        Conditions=[
            {"acl": "public-read"},
            {"success_action_redirect": "https://app.example.com/done"},
        ],
        ExpiresIn=300,
    )
    resp = _post(server, post, b"public text", filename="x.txt")
    assert resp.status_code == 303, resp.text
    target = urlsplit(resp.headers["location"])
    assert target.netloc == "app.example.com" and target.path == "/done"
    query = parse_qs(target.query)
    assert query["bucket"] == [own_bucket] and query["key"] == ["pub.txt"]
    anon = server.raw("GET", f"/{own_bucket}/pub.txt", sign=False)
    assert anon.status == 200 and anon.body == b"public text"


def test_post_upload_needs_write_access(server: Any, s3: Any, own_bucket: str) -> None:
    # An unsigned form is an anonymous write: denied on a private bucket.
    resp = httpx.post(
        f"{server.endpoint}/{own_bucket}",
        data={"key": "anon.txt"},
        files={"file": ("a.txt", b"anon", "text/plain")},
        verify=_verify(server),
    )
    assert resp.status_code == 403 and b"<Code>AccessDenied</Code>" in resp.content
    s3.put_bucket_acl(Bucket=own_bucket, ACL="public-read-write")
    resp = httpx.post(
        f"{server.endpoint}/{own_bucket}",
        data={"key": "anon.txt"},
        files={"file": ("a.txt", b"anon", "text/plain")},
        verify=_verify(server),
    )
    assert resp.status_code == 204, resp.text
    assert s3.get_object(Bucket=own_bucket, Key="anon.txt")["Body"].read() == b"anon"
    # Not a form at all.
    resp = httpx.post(f"{server.endpoint}/{own_bucket}", content=b"x", verify=_verify(server))
    assert resp.status_code == 400 and b"MalformedPOSTRequest" in resp.content

"""ACLs, bucket policies and presigned URLs across tenants, with boto3, s3cmd and plain HTTP."""

from __future__ import annotations

import json
import ssl
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
import s3front_e2e_support as sup
from s3front_e2e_support import TenantKey as Key
from s3front_e2e_support import create_key, keys_cli


def _verify(server: Any) -> ssl.SSLContext | bool:
    """httpx wants an SSLContext (a CA path is deprecated)."""
    context: ssl.SSLContext | None = server.ssl_context()
    return context if context is not None else True


ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


@pytest.fixture(scope="module")
def bob(server: Any) -> Key:
    return create_key(server, f"bob-{uuid.uuid4().hex[:6]}")


@pytest.fixture
def bob_s3(server: Any, bob: Key) -> Any:
    return server.client(access_key=bob.access_key, secret_key=bob.secret_key)


@pytest.fixture
def private_bucket(s3: Any) -> Iterator[str]:
    name = sup.unique_bucket()
    s3.create_bucket(Bucket=name)
    yield name
    s3.delete_bucket_policy(Bucket=name)
    for obj in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=obj["Key"])
    s3.delete_bucket(Bucket=name)


def anonymous_get(server: Any, path: str) -> sup.RawResponse:
    resp: sup.RawResponse = server.raw("GET", path, sign=False)
    return resp


def _denied(call: Any, code: str = "AccessDenied") -> None:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call()
    assert info.value.response["Error"]["Code"] == code


# -- ACLs ---------------------------------------------------------------------------------------


def test_public_read_object_is_readable_anonymously(
    server: Any, s3: Any, private_bucket: str, bob_s3: Any
) -> None:
    s3.put_object(Bucket=private_bucket, Key="pub.txt", Body=b"hello world")
    s3.put_object(Bucket=private_bucket, Key="priv.txt", Body=b"private")
    assert anonymous_get(server, f"/{private_bucket}/pub.txt").status == 403
    s3.put_object_acl(Bucket=private_bucket, Key="pub.txt", ACL="public-read")

    resp = anonymous_get(server, f"/{private_bucket}/pub.txt")
    assert resp.status == 200 and resp.body == b"hello world"
    # A plain HTTP client with no S3 knowledge at all.
    ctx = server.ssl_context()
    with urllib.request.urlopen(f"{server.endpoint}/{private_bucket}/pub.txt", context=ctx) as r:
        assert r.read() == b"hello world"
    assert bob_s3.get_object(Bucket=private_bucket, Key="pub.txt")["Body"].read() == b"hello world"
    # Only that object: its neighbour, the listing and writes stay private.
    assert anonymous_get(server, f"/{private_bucket}/priv.txt").error_code == "AccessDenied"
    assert anonymous_get(server, f"/{private_bucket}").error_code == "AccessDenied"
    _denied(lambda: bob_s3.get_object(Bucket=private_bucket, Key="priv.txt"))
    _denied(lambda: bob_s3.put_object(Bucket=private_bucket, Key="pub.txt", Body=b"x"))
    _denied(lambda: bob_s3.put_object_acl(Bucket=private_bucket, Key="pub.txt", ACL="private"))
    # A key that does not exist is denied just the same: nothing is revealed.
    assert anonymous_get(server, f"/{private_bucket}/missing").error_code == "AccessDenied"

    acl = s3.get_object_acl(Bucket=private_bucket, Key="pub.txt")
    grants = {
        (g["Grantee"].get("URI") or g["Grantee"].get("ID"), g["Permission"]) for g in acl["Grants"]
    }
    owner_id = s3.list_buckets()["Owner"]["ID"]
    assert grants == {(owner_id, "FULL_CONTROL"), (ALL_USERS, "READ")}
    assert acl["Owner"]["ID"] == owner_id and len(owner_id) == 64

    s3.put_object_acl(Bucket=private_bucket, Key="pub.txt", ACL="private")
    assert anonymous_get(server, f"/{private_bucket}/pub.txt").status == 403


def test_bucket_canned_acls(server: Any, s3: Any, bob_s3: Any) -> None:
    name = sup.unique_bucket()
    s3.create_bucket(Bucket=name, ACL="public-read")
    try:
        s3.put_object(Bucket=name, Key="k", Body=b"v")
        listed = anonymous_get(server, f"/{name}")
        assert listed.status == 200 and b"<Key>k</Key>" in listed.body
        assert [o["Key"] for o in bob_s3.list_objects_v2(Bucket=name)["Contents"]] == ["k"]
        # Listing is public; the object itself is still private.
        assert anonymous_get(server, f"/{name}/k").status == 403
        _denied(lambda: bob_s3.put_object(Bucket=name, Key="bob", Body=b"x"))
        _denied(lambda: bob_s3.put_bucket_acl(Bucket=name, ACL="public-read-write"))

        s3.put_bucket_acl(Bucket=name, ACL="authenticated-read")
        assert anonymous_get(server, f"/{name}").status == 403
        assert bob_s3.list_objects_v2(Bucket=name)["KeyCount"] == 1

        s3.put_bucket_acl(Bucket=name, ACL="public-read-write")
        bob_s3.put_object(Bucket=name, Key="bob", Body=b"from bob")
        bob_s3.delete_object(Bucket=name, Key="k")
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"]] == ["bob"]

        s3.put_bucket_acl(Bucket=name, ACL="private")
        _denied(lambda: bob_s3.list_objects_v2(Bucket=name))
        assert anonymous_get(server, f"/{name}").status == 403
        _denied(lambda: s3.put_bucket_acl(Bucket=name, ACL="no-such-acl"), "InvalidArgument")
    finally:
        for obj in s3.list_objects_v2(Bucket=name).get("Contents", []):
            s3.delete_object(Bucket=name, Key=obj["Key"])
        s3.delete_bucket(Bucket=name)


def test_grant_headers_and_acl_document(
    s3: Any, private_bucket: str, bob: Key, bob_s3: Any
) -> None:
    s3.put_object(Bucket=private_bucket, Key="k", Body=b"v")
    _denied(lambda: bob_s3.list_objects_v2(Bucket=private_bucket))
    s3.put_bucket_acl(Bucket=private_bucket, GrantRead=f'id="{bob.tenant}"')
    assert bob_s3.list_objects_v2(Bucket=private_bucket)["KeyCount"] == 1
    _denied(lambda: bob_s3.get_bucket_acl(Bucket=private_bucket))
    _denied(lambda: bob_s3.put_object(Bucket=private_bucket, Key="x", Body=b"x"))

    acl = s3.get_bucket_acl(Bucket=private_bucket)
    # Bob carries his real display name (his tenant's name), not his canonical id (issue 19).
    [bob_grant] = [g for g in acl["Grants"] if g["Grantee"].get("ID") == bob.tenant]
    assert bob_grant["Permission"] == "READ" and bob_grant["Grantee"]["Type"] == "CanonicalUser"
    assert bob_grant["Grantee"]["DisplayName"].startswith("bob-")

    # The XML body form, as s3cmd and the SDKs send it: give bob WRITE and READ_ACP.
    policy = {
        "Owner": acl["Owner"],
        "Grants": [
            {
                "Grantee": {"ID": acl["Owner"]["ID"], "Type": "CanonicalUser"},
                "Permission": "FULL_CONTROL",
            },
            {"Grantee": {"ID": bob.tenant, "Type": "CanonicalUser"}, "Permission": "WRITE"},
            {"Grantee": {"ID": bob.tenant, "Type": "CanonicalUser"}, "Permission": "READ_ACP"},
        ],
    }
    s3.put_bucket_acl(Bucket=private_bucket, AccessControlPolicy=policy)
    bob_s3.put_object(Bucket=private_bucket, Key="from-bob", Body=b"b")
    assert len(bob_s3.get_bucket_acl(Bucket=private_bucket)["Grants"]) == 3
    _denied(lambda: bob_s3.list_objects_v2(Bucket=private_bucket))
    # Bob owns what he wrote; the bucket owner keeps full control over it too.
    assert s3.get_object(Bucket=private_bucket, Key="from-bob")["Body"].read() == b"b"
    assert bob_s3.get_object_acl(Bucket=private_bucket, Key="from-bob")["Owner"]["ID"] == bob.tenant

    s3.put_object_acl(Bucket=private_bucket, Key="k", GrantFullControl=f'id="{bob.tenant}"')
    assert bob_s3.get_object(Bucket=private_bucket, Key="k")["Body"].read() == b"v"
    _denied(
        lambda: s3.put_bucket_acl(
            Bucket=private_bucket, ACL="private", GrantRead=f'id="{bob.tenant}"'
        ),
        "InvalidRequest",
    )


@pytest.mark.parametrize("sig", ["v4", "v2"])
def test_s3cmd_setacl_public_and_cp(
    server: Any, s3: Any, private_bucket: str, tmp_path: Path, sig: str
) -> None:
    cfg = sup.s3cmd_config(tmp_path / "s3cfg", server, v2=(sig == "v2"))
    env = sup.client_env(tmp_path, server)
    src = tmp_path / "f.txt"
    src.write_bytes(b"s3cmd body")
    sup.run(sup.s3cmd_cmd(cfg, "put", str(src), f"s3://{private_bucket}/a.txt"), env=env)
    # s3cmd cp sends PUT ?acl after the copy.
    sup.run(
        sup.s3cmd_cmd(cfg, "cp", f"s3://{private_bucket}/a.txt", f"s3://{private_bucket}/b.txt"),
        env=env,
    )
    assert anonymous_get(server, f"/{private_bucket}/b.txt").status == 403
    sup.run(sup.s3cmd_cmd(cfg, "setacl", "--acl-public", f"s3://{private_bucket}/b.txt"), env=env)
    resp = anonymous_get(server, f"/{private_bucket}/b.txt")
    assert resp.status == 200 and resp.body == b"s3cmd body"
    assert anonymous_get(server, f"/{private_bucket}/a.txt").status == 403
    info = sup.run(sup.s3cmd_cmd(cfg, "info", f"s3://{private_bucket}/b.txt"), env=env).stdout
    assert "*anon*: READ" in info
    sup.run(sup.s3cmd_cmd(cfg, "setacl", "--acl-private", f"s3://{private_bucket}/b.txt"), env=env)
    assert anonymous_get(server, f"/{private_bucket}/b.txt").status == 403


# -- bucket policy -------------------------------------------------------------------------------


def _statement(
    effect: str, principal: Any, action: Any, resource: Any, **extra: Any
) -> dict[str, Any]:
    return {
        "Effect": effect,
        "Principal": principal,
        "Action": action,
        "Resource": resource,
        **extra,
    }


def _put_policy(s3: Any, bucket: str, *statements: dict[str, Any]) -> None:
    s3.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    )


def test_policy_allow_and_deny_prefixes(
    server: Any, s3: Any, private_bucket: str, bob: Key, bob_s3: Any
) -> None:
    for key in ("shared/a", "shared/secret/b", "other/c", "locked/d"):
        s3.put_object(Bucket=private_bucket, Key=key, Body=key.encode())
    arn = f"arn:aws:s3:::{private_bucket}"
    _put_policy(
        s3,
        private_bucket,
        _statement(
            "Allow", {"AWS": [f"arn:aws:iam::{bob.tenant}:root"]}, "s3:Get*", f"{arn}/shared/*"
        ),
        _statement("Deny", {"AWS": bob.tenant}, "s3:*", f"{arn}/shared/secret/*"),
        _statement(
            "Allow",
            {"AWS": bob.tenant},
            "s3:ListBucket",
            arn,
            Condition={"StringLike": {"s3:prefix": ["shared/*"]}},
        ),
        _statement("Deny", "*", "s3:GetObject", f"{arn}/locked/*"),
    )
    assert bob_s3.get_object(Bucket=private_bucket, Key="shared/a")["Body"].read() == b"shared/a"
    _denied(lambda: bob_s3.get_object(Bucket=private_bucket, Key="shared/secret/b"))
    _denied(lambda: bob_s3.get_object(Bucket=private_bucket, Key="other/c"))
    _denied(lambda: bob_s3.put_object(Bucket=private_bucket, Key="shared/new", Body=b"x"))
    listed = bob_s3.list_objects_v2(Bucket=private_bucket, Prefix="shared/")
    assert [o["Key"] for o in listed["Contents"]] == ["shared/a", "shared/secret/b"]
    _denied(lambda: bob_s3.list_objects_v2(Bucket=private_bucket))
    _denied(lambda: bob_s3.list_objects_v2(Bucket=private_bucket, Prefix="other/"))
    # An explicit Deny binds the owner too ...
    assert s3.get_object(Bucket=private_bucket, Key="shared/secret/b")["Body"].read()
    _denied(lambda: s3.get_object(Bucket=private_bucket, Key="locked/d"))
    assert anonymous_get(server, f"/{private_bucket}/shared/a").status == 403
    # ... but never locks the owner out of the policy itself, which only the owner may touch.
    _denied(lambda: bob_s3.get_bucket_policy(Bucket=private_bucket))
    _denied(lambda: bob_s3.delete_bucket_policy(Bucket=private_bucket))
    got = json.loads(s3.get_bucket_policy(Bucket=private_bucket)["Policy"])
    assert len(got["Statement"]) == 4
    s3.delete_bucket_policy(Bucket=private_bucket)
    assert s3.get_object(Bucket=private_bucket, Key="locked/d")["Body"].read() == b"locked/d"
    _denied(lambda: bob_s3.get_object(Bucket=private_bucket, Key="shared/a"))
    _denied(lambda: s3.get_bucket_policy(Bucket=private_bucket), "NoSuchBucketPolicy")


def test_policy_anonymous_and_source_ip(server: Any, s3: Any, private_bucket: str) -> None:
    s3.put_object(Bucket=private_bucket, Key="site/index.html", Body=b"<html/>")
    arn = f"arn:aws:s3:::{private_bucket}"
    _put_policy(
        s3,
        private_bucket,
        _statement(
            "Allow",
            "*",
            ["s3:GetObject"],
            f"{arn}/site/*",
            Condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}},
        ),
    )
    resp = anonymous_get(server, f"/{private_bucket}/site/index.html")
    assert resp.status == 200 and resp.body == b"<html/>"
    _put_policy(
        s3,
        private_bucket,
        _statement(
            "Allow",
            "*",
            "s3:GetObject",
            f"{arn}/site/*",
            Condition={"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}},
        ),
    )
    assert anonymous_get(server, f"/{private_bucket}/site/index.html").status == 403
    _put_policy(
        s3,
        private_bucket,
        _statement(
            "Deny",
            "*",
            "s3:*",
            f"{arn}/*",
            Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        ),
    )
    _denied(lambda: s3.get_object(Bucket=private_bucket, Key="site/index.html"))
    _denied(lambda: s3.put_object(Bucket=private_bucket, Key="site/x", Body=b"x"))


@pytest.mark.parametrize(
    "policy",
    [
        "not json",
        "{",
        json.dumps({"Statement": []}),
        json.dumps(
            {
                "Statement": [
                    {
                        "Effect": "Maybe",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": "arn:aws:s3:::B/*",
                    }
                ]
            }
        ),
        json.dumps(
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": "arn:aws:s3:::other-bucket/*",
                    }
                ]
            }
        ),
        json.dumps(
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "ec2:*",
                        "Resource": "arn:aws:s3:::B/*",
                    }
                ]
            }
        ),
        json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*"}]}),
        json.dumps(
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "NotPrincipal": "*",
                        "Action": "s3:*",
                        "Resource": "arn:aws:s3:::B/*",
                    }
                ]
            }
        ),
        json.dumps(
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": "arn:aws:s3:::B/*",
                        "Condition": {"IpAddress": {"aws:SourceIp": "not-an-ip"}},
                    }
                ]
            }
        ),
    ],
)
def test_malformed_policy(s3: Any, private_bucket: str, policy: str) -> None:
    _denied(
        lambda: s3.put_bucket_policy(
            Bucket=private_bucket, Policy=policy.replace("B/", f"{private_bucket}/")
        ),
        "MalformedPolicy",
    )
    _denied(lambda: s3.get_bucket_policy(Bucket=private_bucket), "NoSuchBucketPolicy")


def test_policy_is_owner_only(s3: Any, private_bucket: str, bob_s3: Any) -> None:
    doc = json.dumps(
        {"Statement": _statement("Allow", "*", "s3:GetObject", f"arn:aws:s3:::{private_bucket}/*")}
    )
    _denied(lambda: bob_s3.put_bucket_policy(Bucket=private_bucket, Policy=doc))
    s3.put_bucket_policy(Bucket=private_bucket, Policy=doc)  # a single statement object
    assert json.loads(s3.get_bucket_policy(Bucket=private_bucket)["Policy"]) == json.loads(doc)
    # Public read by policy: bob and anonymous read, but the policy stays the owner's.
    s3.put_object(Bucket=private_bucket, Key="k", Body=b"v")
    assert bob_s3.get_object(Bucket=private_bucket, Key="k")["Body"].read() == b"v"
    _denied(lambda: bob_s3.get_bucket_policy(Bucket=private_bucket))
    assert s3.get_bucket_policy_status(Bucket=private_bucket)["PolicyStatus"]["IsPublic"] is True


# -- presigned URLs ------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", ["s3", "s3v4"], ids=["v2", "v4"])
def test_presigned_urls_honour_acls_expiry_and_revocation(
    server: Any, s3: Any, private_bucket: str, sig: str
) -> None:
    import httpx

    s3.put_object(Bucket=private_bucket, Key="k", Body=b"presigned")
    verify = _verify(server)
    owner = server.client(signature_version=sig)
    url = owner.generate_presigned_url(
        "get_object", Params={"Bucket": private_bucket, "Key": "k"}, ExpiresIn=60
    )
    assert ("X-Amz-Signature" in url) == (sig == "s3v4")
    assert httpx.get(url, verify=verify).content == b"presigned"

    expired = owner.generate_presigned_url(
        "get_object", Params={"Bucket": private_bucket, "Key": "k"}, ExpiresIn=1
    )
    time.sleep(2.1)
    resp = httpx.get(expired, verify=verify)
    assert resp.status_code == 403 and b"AccessDenied" in resp.content

    other = create_key(server, f"eve-{uuid.uuid4().hex[:6]}")
    eve = server.client(
        signature_version=sig, access_key=other.access_key, secret_key=other.secret_key
    )
    eve_url = eve.generate_presigned_url(
        "get_object", Params={"Bucket": private_bucket, "Key": "k"}
    )
    resp = httpx.get(eve_url, verify=verify)
    assert resp.status_code == 403 and b"<Code>AccessDenied</Code>" in resp.content

    # Revocation: the key's URL works, the key is revoked, the URL stops working. Another
    # process (the CLI) revokes it, so the server notices within its 5 s key cache.
    temp = create_key(server, "root")
    temp_client = server.client(
        signature_version=sig, access_key=temp.access_key, secret_key=temp.secret_key
    )
    temp_url = temp_client.generate_presigned_url(
        "get_object", Params={"Bucket": private_bucket, "Key": "k"}, ExpiresIn=300
    )
    assert httpx.get(temp_url, verify=verify).content == b"presigned"
    keys_cli(server, "revoke", temp.access_key)
    time.sleep(5.5)
    resp = httpx.get(temp_url, verify=verify)
    assert resp.status_code == 403 and b"<Code>InvalidAccessKeyId</Code>" in resp.content


# -- ACLs on the requests that create objects ----------------------------------------------------


def test_acl_headers_on_put_copy_and_multipart(
    server: Any, s3: Any, private_bucket: str, bob: Key, bob_s3: Any
) -> None:
    s3.put_object(Bucket=private_bucket, Key="put", Body=b"put body", ACL="public-read")
    assert anonymous_get(server, f"/{private_bucket}/put").body == b"put body"
    # A copy does not inherit the source's ACL; it gets the one it asks for.
    s3.copy_object(Bucket=private_bucket, Key="copy", CopySource=f"{private_bucket}/put")
    assert anonymous_get(server, f"/{private_bucket}/copy").status == 403
    s3.copy_object(
        Bucket=private_bucket,
        Key="copy-granted",
        CopySource=f"{private_bucket}/put",
        GrantRead=f'id="{bob.tenant}"',
    )
    assert (
        bob_s3.get_object(Bucket=private_bucket, Key="copy-granted")["Body"].read() == b"put body"
    )
    assert anonymous_get(server, f"/{private_bucket}/copy-granted").status == 403

    up = s3.create_multipart_upload(Bucket=private_bucket, Key="mp", ACL="public-read")
    part = s3.upload_part(
        Bucket=private_bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"mp body"
    )
    s3.complete_multipart_upload(
        Bucket=private_bucket,
        Key="mp",
        UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert anonymous_get(server, f"/{private_bucket}/mp").body == b"mp body"


def test_copy_source_needs_read_access(
    server: Any, s3: Any, private_bucket: str, bob_s3: Any
) -> None:
    s3.put_object(Bucket=private_bucket, Key="src", Body=b"source")
    theirs = sup.unique_bucket()
    bob_s3.create_bucket(Bucket=theirs)
    try:
        for key in ("src", "missing"):
            _denied(
                lambda key=key: bob_s3.copy_object(
                    Bucket=theirs, Key="stolen", CopySource=f"{private_bucket}/{key}"
                )
            )
        s3.put_object_acl(Bucket=private_bucket, Key="src", ACL="public-read")
        bob_s3.copy_object(Bucket=theirs, Key="copied", CopySource=f"{private_bucket}/src")
        got = bob_s3.get_object(Bucket=theirs, Key="copied")
        assert got["Body"].read() == b"source"
        # The copy belongs to its writer, in the writer's bucket.
        assert (
            bob_s3.get_object_acl(Bucket=theirs, Key="copied")["Owner"]["ID"]
            != (s3.list_buckets()["Owner"]["ID"])
        )
        _denied(lambda: s3.get_object(Bucket=theirs, Key="copied"))
    finally:
        for obj in bob_s3.list_objects_v2(Bucket=theirs).get("Contents", []):
            bob_s3.delete_object(Bucket=theirs, Key=obj["Key"])
        bob_s3.delete_bucket(Bucket=theirs)


def test_anonymous_writes_to_public_read_write_bucket(
    server: Any, s3: Any, private_bucket: str
) -> None:
    s3.put_bucket_acl(Bucket=private_bucket, ACL="public-read-write")
    put = server.raw("PUT", f"/{private_bucket}/anon", body=b"anonymous", sign=False)
    assert put.status == 200, put
    # Anonymous writes belong to the bucket's owner.
    acl = s3.get_object_acl(Bucket=private_bucket, Key="anon")
    assert acl["Owner"]["ID"] == s3.list_buckets()["Owner"]["ID"]
    assert s3.get_object(Bucket=private_bucket, Key="anon")["Body"].read() == b"anonymous"
    assert server.raw("DELETE", f"/{private_bucket}/anon", sign=False).status == 204


def test_delete_objects_is_authorised_per_key(
    s3: Any, private_bucket: str, bob: Key, bob_s3: Any
) -> None:
    for key in ("tmp/a", "tmp/b", "keep/c"):
        s3.put_object(Bucket=private_bucket, Key=key, Body=b"x")
    arn = f"arn:aws:s3:::{private_bucket}"
    _put_policy(
        s3,
        private_bucket,
        _statement("Allow", {"AWS": bob.tenant}, "s3:DeleteObject", f"{arn}/*"),
        _statement("Deny", {"AWS": bob.tenant}, "s3:DeleteObject", f"{arn}/keep/*"),
    )
    result = bob_s3.delete_objects(
        Bucket=private_bucket,
        Delete={"Objects": [{"Key": "tmp/a"}, {"Key": "keep/c"}, {"Key": "tmp/b"}]},
    )
    assert sorted(d["Key"] for d in result["Deleted"]) == ["tmp/a", "tmp/b"]
    assert [(e["Key"], e["Code"]) for e in result["Errors"]] == [("keep/c", "AccessDenied")]
    left = [o["Key"] for o in s3.list_objects_v2(Bucket=private_bucket)["Contents"]]
    assert left == ["keep/c"]

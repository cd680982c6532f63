"""Public access block and object ownership with boto3 against a real server.

Each of the four PublicAccessBlock flags is enforced (BlockPublicAcls refuses public ACLs,
IgnorePublicAcls makes existing ones grant nothing, BlockPublicPolicy refuses public policies,
RestrictPublicBuckets stops a public policy from granting anyone but the owner);
GetBucketPolicyStatus says whether the policy is public; ownership controls
(BucketOwnerEnforced, BucketOwnerPreferred, ObjectWriter) and x-amz-object-ownership on
CreateBucket. Refused requests store nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import s3front_e2e_support as sup
from botocore.exceptions import ClientError
from s3front_e2e_support import TenantKey as Key
from s3front_e2e_support import create_key as _create_key

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
BODY = b"owned body"


@pytest.fixture(scope="module")
def bob(server: Any) -> Key:
    return _create_key(server, f"bob-{uuid.uuid4().hex[:6]}")


@pytest.fixture
def owned(server: Any) -> Iterator[tuple[Any, str, str]]:
    """(boto3 client of the owner, a fresh bucket, the owner's canonical id)."""
    s3 = server.client()
    name = sup.unique_bucket("pab")
    s3.create_bucket(Bucket=name)
    owner = s3.get_bucket_acl(Bucket=name)["Owner"]["ID"]
    yield s3, name, owner


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    resp = exc.value.response
    return resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Code"]


def _pab(**flags: bool) -> dict[str, bool]:
    names = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    return {n: flags.get(n, False) for n in names}


def _public_read_policy(bucket: str, condition: dict[str, Any] | None = None) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _anonymous_get(server: Any, bucket: str, key: str) -> int:
    status: int = server.raw("GET", f"/{bucket}/{key}", sign=False).status
    return status


# --- PublicAccessBlock ------------------------------------------------------------------------


def test_public_access_block_round_trip(owned: tuple[Any, str, str]) -> None:
    s3, bucket, _ = owned
    with pytest.raises(ClientError) as exc:
        s3.get_public_access_block(Bucket=bucket)
    assert _error(exc) == (404, "NoSuchPublicAccessBlockConfiguration")
    conf = _pab(BlockPublicAcls=True, RestrictPublicBuckets=True)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=conf)
    got = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert got == conf
    s3.delete_public_access_block(Bucket=bucket)
    with pytest.raises(ClientError) as exc:
        s3.get_public_access_block(Bucket=bucket)
    assert _error(exc) == (404, "NoSuchPublicAccessBlockConfiguration")


@pytest.mark.parametrize(
    "body",
    [
        b"<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls>"
        b"</PublicAccessBlockConfiguration>",
        b"<PublicAccessBlockConfiguration><BlockEverything>true</BlockEverything>"
        b"</PublicAccessBlockConfiguration>",
        b"<Other/>",
        b"not xml",
    ],
)
def test_public_access_block_bad_input(
    server: Any, owned: tuple[Any, str, str], body: bytes
) -> None:
    s3, bucket, _ = owned
    resp = server.raw("PUT", f"/{bucket}", query="publicAccessBlock", body=body)
    assert (resp.status, resp.error_code) == (400, "MalformedXML"), resp
    with pytest.raises(ClientError) as exc:
        s3.get_public_access_block(Bucket=bucket)
    assert _error(exc) == (404, "NoSuchPublicAccessBlockConfiguration")


def test_block_public_acls(server: Any, owned: tuple[Any, str, str]) -> None:
    s3, bucket, _ = owned
    s3.put_object(Bucket=bucket, Key="k", Body=BODY)
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration=_pab(BlockPublicAcls=True)
    )
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert _error(exc) == (403, "AccessDenied")
    with pytest.raises(ClientError) as exc:
        s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")
    assert _error(exc) == (403, "AccessDenied")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="new", Body=BODY, ACL="public-read-write")
    assert _error(exc) == (403, "AccessDenied")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="new", Body=BODY, GrantRead=f'uri="{ALL_USERS}"')
    assert _error(exc) == (403, "AccessDenied")
    with pytest.raises(ClientError) as exc:
        s3.create_multipart_upload(Bucket=bucket, Key="new", ACL="authenticated-read")
    assert _error(exc) == (403, "AccessDenied")
    with pytest.raises(ClientError) as exc:
        s3.copy_object(
            Bucket=bucket, Key="new", CopySource={"Bucket": bucket, "Key": "k"}, ACL="public-read"
        )
    assert _error(exc) == (403, "AccessDenied")
    # Nothing was stored or changed.
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    grants = (
        s3.get_bucket_acl(Bucket=bucket)["Grants"]
        + s3.get_object_acl(Bucket=bucket, Key="k")["Grants"]
    )
    assert all(g["Grantee"].get("URI") != ALL_USERS for g in grants)
    assert _anonymous_get(server, bucket, "k") == 403
    # Private ACLs are still fine.
    s3.put_object(Bucket=bucket, Key="private", Body=BODY, ACL="private")
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="private")


def test_ignore_public_acls(server: Any, owned: tuple[Any, str, str]) -> None:
    s3, bucket, _ = owned
    s3.put_object(Bucket=bucket, Key="k", Body=BODY, ACL="public-read")
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert _anonymous_get(server, bucket, "k") == 200
    assert server.raw("GET", f"/{bucket}", sign=False).status == 200
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration=_pab(IgnorePublicAcls=True)
    )
    assert _anonymous_get(server, bucket, "k") == 403
    assert server.raw("GET", f"/{bucket}", sign=False).status == 403
    # The owner is unaffected, and lifting the flag restores what the ACLs say.
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == BODY
    s3.delete_public_access_block(Bucket=bucket)
    assert _anonymous_get(server, bucket, "k") == 200


def test_block_public_policy_and_policy_status(owned: tuple[Any, str, str]) -> None:
    s3, bucket, _ = owned
    s3.put_bucket_policy(Bucket=bucket, Policy=_public_read_policy(bucket))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    s3.delete_bucket_policy(Bucket=bucket)
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration=_pab(BlockPublicPolicy=True)
    )
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_policy(Bucket=bucket, Policy=_public_read_policy(bucket))
    assert _error(exc) == (403, "AccessDenied")
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_policy(Bucket=bucket)
    assert _error(exc) == (404, "NoSuchBucketPolicy")
    # A "*" limited to a fixed network is not public, and is accepted.
    limited = _public_read_policy(bucket, {"IpAddress": {"aws:SourceIp": "127.0.0.1/32"}})
    s3.put_bucket_policy(Bucket=bucket, Policy=limited)
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False


def test_restrict_public_buckets(server: Any, owned: tuple[Any, str, str], bob: Key) -> None:
    s3, bucket, _ = owned
    s3.put_object(Bucket=bucket, Key="k", Body=BODY)
    s3.put_bucket_policy(Bucket=bucket, Policy=_public_read_policy(bucket))
    other = server.client(access_key=bob.access_key, secret_key=bob.secret_key)
    assert _anonymous_get(server, bucket, "k") == 200
    assert other.get_object(Bucket=bucket, Key="k")["Body"].read() == BODY
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration=_pab(RestrictPublicBuckets=True)
    )
    assert _anonymous_get(server, bucket, "k") == 403
    with pytest.raises(ClientError) as exc:
        other.get_object(Bucket=bucket, Key="k")
    assert _error(exc) == (403, "AccessDenied")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == BODY
    # A policy that is not public still grants what it names.
    named = json.dumps(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": bob.tenant},
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ]
        }
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=named)
    assert other.get_object(Bucket=bucket, Key="k")["Body"].read() == BODY
    assert _anonymous_get(server, bucket, "k") == 403


# --- ownership controls -----------------------------------------------------------------------


def _controls(ownership: str) -> dict[str, Any]:
    return {"Rules": [{"ObjectOwnership": ownership}]}


def _ownership(s3: Any, bucket: str) -> str:
    rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    value: str = rules[0]["ObjectOwnership"]
    return value


def test_ownership_controls_round_trip(server: Any, owned: tuple[Any, str, str]) -> None:
    s3, bucket, _ = owned
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_ownership_controls(Bucket=bucket)
    assert _error(exc) == (404, "OwnershipControlsNotFoundError")
    for value in ("BucketOwnerPreferred", "ObjectWriter", "BucketOwnerEnforced"):
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=_controls(value))
        assert _ownership(s3, bucket) == value
    s3.delete_bucket_ownership_controls(Bucket=bucket)
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_ownership_controls(Bucket=bucket)
    assert _error(exc) == (404, "OwnershipControlsNotFoundError")


def _rules(*values: str) -> bytes:
    rules = "".join(f"<Rule><ObjectOwnership>{v}</ObjectOwnership></Rule>" for v in values)
    return f"<OwnershipControls>{rules}</OwnershipControls>".encode()


@pytest.mark.parametrize(
    "body",
    [
        _rules("Nobody"),
        _rules("bucketownerenforced"),
        _rules(),
        _rules("ObjectWriter", "BucketOwnerEnforced"),
        b"<OwnershipControls><Rule/></OwnershipControls>",
        b"<OwnershipControls><Rule><ObjectOwnership>ObjectWriter</ObjectOwnership>"
        b"<Extra>1</Extra></Rule></OwnershipControls>",
        b"<Other/>",
        b"",
    ],
)
def test_ownership_controls_bad_input(
    server: Any, owned: tuple[Any, str, str], body: bytes
) -> None:
    s3, bucket, _ = owned
    resp = server.raw("PUT", f"/{bucket}", query="ownershipControls", body=body)
    assert (resp.status, resp.error_code) == (400, "MalformedXML"), resp
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_ownership_controls(Bucket=bucket)
    assert _error(exc) == (404, "OwnershipControlsNotFoundError")


def test_bucket_owner_enforced(server: Any, owned: tuple[Any, str, str], bob: Key) -> None:
    s3, bucket, owner = owned
    s3.put_object(Bucket=bucket, Key="was-public", Body=BODY, ACL="public-read")
    assert _anonymous_get(server, bucket, "was-public") == 200
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls=_controls("BucketOwnerEnforced")
    )
    # Stored ACLs grant nothing any more.
    assert _anonymous_get(server, bucket, "was-public") == 403
    # ACL-setting requests are refused...
    for call in (
        lambda: s3.put_bucket_acl(Bucket=bucket, ACL="public-read"),
        lambda: s3.put_object_acl(Bucket=bucket, Key="was-public", ACL="public-read"),
        lambda: s3.put_object(Bucket=bucket, Key="new", Body=BODY, ACL="public-read"),
        lambda: s3.put_object(Bucket=bucket, Key="new", Body=BODY, GrantRead=f'id="{"c" * 64}"'),
        lambda: s3.create_multipart_upload(Bucket=bucket, Key="new", ACL="authenticated-read"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert _error(exc) == (400, "AccessControlListNotSupported")
    assert "new" not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    # ...except bucket-owner-full-control; reading ACLs still works and says the owner owns all.
    s3.put_object(Bucket=bucket, Key="bofc", Body=BODY, ACL="bucket-owner-full-control")
    s3.put_object_acl(Bucket=bucket, Key="was-public", ACL="bucket-owner-full-control")
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    acl = s3.get_object_acl(Bucket=bucket, Key="was-public")
    assert acl["Owner"]["ID"] == owner
    assert [g["Grantee"].get("ID") for g in acl["Grants"]] == [owner]
    # An object another tenant writes belongs to the bucket owner.
    policy = json.dumps(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": bob.tenant},
                    "Action": "s3:PutObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ]
        }
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    other = server.client(access_key=bob.access_key, secret_key=bob.secret_key)
    other.put_object(Bucket=bucket, Key="from-bob", Body=BODY)
    assert s3.get_object_acl(Bucket=bucket, Key="from-bob")["Owner"]["ID"] == owner
    listed = s3.list_objects_v2(Bucket=bucket, FetchOwner=True)["Contents"]
    assert {o["Key"]: o["Owner"]["ID"] for o in listed}["from-bob"] == owner
    # The writer gets nothing from having written it.
    with pytest.raises(ClientError) as exc:
        other.get_object(Bucket=bucket, Key="from-bob")
    assert _error(exc) == (403, "AccessDenied")


def test_enforced_refused_while_bucket_acl_is_public(owned: tuple[Any, str, str]) -> None:
    s3, bucket, _ = owned
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_ownership_controls(
            Bucket=bucket, OwnershipControls=_controls("BucketOwnerEnforced")
        )
    assert _error(exc) == (400, "InvalidBucketAclWithObjectOwnership")
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_ownership_controls(Bucket=bucket)
    assert _error(exc) == (404, "OwnershipControlsNotFoundError")


@pytest.mark.parametrize(
    ("ownership", "acl", "bucket_owns"),
    [
        ("BucketOwnerPreferred", "bucket-owner-full-control", True),
        ("BucketOwnerPreferred", None, False),
        ("ObjectWriter", "bucket-owner-full-control", False),
        ("ObjectWriter", None, False),
    ],
)
def test_who_owns_what_another_tenant_writes(
    server: Any,
    owned: tuple[Any, str, str],
    bob: Key,
    ownership: str,
    acl: str | None,
    bucket_owns: bool,
) -> None:
    s3, bucket, owner = owned
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=_controls(ownership))
    s3.put_bucket_acl(
        Bucket=bucket, GrantWrite=f'id="{bob.tenant}"', GrantFullControl=f'id="{owner}"'
    )
    other = server.client(access_key=bob.access_key, secret_key=bob.secret_key)
    extra = {"ACL": acl} if acl else {}
    other.put_object(Bucket=bucket, Key="k", Body=BODY, **extra)
    listed = s3.list_objects_v2(Bucket=bucket, FetchOwner=True)["Contents"][0]
    assert listed["Owner"]["ID"] == (owner if bucket_owns else bob.tenant)


def test_create_bucket_object_ownership(server: Any) -> None:
    s3 = server.client()
    name = sup.unique_bucket("own")
    s3.create_bucket(Bucket=name, ObjectOwnership="BucketOwnerEnforced")
    assert _ownership(s3, name) == "BucketOwnerEnforced"
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=name, Key="k", Body=BODY, ACL="public-read")
    assert _error(exc) == (400, "AccessControlListNotSupported")

    refused = sup.unique_bucket("own")
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=refused, ObjectOwnership="BucketOwnerEnforced", ACL="public-read")
    assert _error(exc) == (400, "InvalidBucketAclWithObjectOwnership")
    resp = server.raw("PUT", f"/{refused}", headers={"x-amz-object-ownership": "Everyone"})
    assert (resp.status, resp.error_code) == (400, "InvalidArgument"), resp
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert refused not in names
    assert server.raw("HEAD", f"/{refused}").status == 404

    preferred = sup.unique_bucket("own")
    s3.create_bucket(Bucket=preferred, ObjectOwnership="BucketOwnerPreferred", ACL="private")
    assert _ownership(s3, preferred) == "BucketOwnerPreferred"

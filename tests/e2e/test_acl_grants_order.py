"""Issue 19 item 1 with boto3 against a real server: ACL grants in the order S3 lists them,
other tenants by their real display names (ACLs, listings, uploads), and grants to a canonical
id or an e-mail address nobody has refused as S3 refuses them."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest
import s3front_e2e_support as sup
from conftest import empty_and_delete
from test_acl_policy import Key, create_key

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTH_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


@pytest.fixture(scope="module")
def carol(server: Any) -> tuple[Key, str]:
    name = f"carol-{uuid.uuid4().hex[:6]}"
    return create_key(server, name), name


@pytest.fixture
def carol_s3(server: Any, carol: tuple[Key, str]) -> Iterator[Any]:
    client = server.client(access_key=carol[0].access_key, secret_key=carol[0].secret_key)
    yield client
    client.close()


@pytest.fixture
def shared(s3: Any) -> Iterator[str]:
    """A bucket of the root tenant that every tenant may write to."""
    name = sup.unique_bucket("g")
    s3.create_bucket(Bucket=name, ACL="public-read-write")
    yield name
    empty_and_delete(s3, name)


def _grants(acl: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(grantee URI or ID, permission, display name) in the order the response lists them."""
    out = []
    for g in acl["Grants"]:
        grantee = g["Grantee"]
        out.append(
            (grantee.get("URI") or grantee["ID"], g["Permission"], grantee.get("DisplayName"))
        )
    return out


def _code(call: Any) -> tuple[int, str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call()
    resp = info.value.response
    return (
        resp["ResponseMetadata"]["HTTPStatusCode"],
        resp["Error"]["Code"],
        resp["Error"]["Message"],
    )


def test_canned_acls_list_group_grants_before_the_owner(s3: Any) -> None:
    """The canned ACL table (https://docs.aws.amazon.com/AmazonS3/latest/userguide/
    acl-overview.html#canned-acl) says who gets what but not in which order; ceph/s3-tests
    (test_bucket_acl_canned, _publicreadwrite, _authenticatedread), which is run against AWS,
    compares GetBucketAcl's grants in order: the group grants, then the owner's FULL_CONTROL."""
    owner = s3.list_buckets()["Owner"]
    me = (owner["ID"], "FULL_CONTROL", owner["DisplayName"])
    name = sup.unique_bucket("g")
    s3.create_bucket(Bucket=name, ACL="public-read")
    try:
        assert _grants(s3.get_bucket_acl(Bucket=name)) == [(ALL_USERS, "READ", None), me]
        s3.put_bucket_acl(Bucket=name, ACL="public-read-write")
        assert _grants(s3.get_bucket_acl(Bucket=name)) == [
            (ALL_USERS, "READ", None),
            (ALL_USERS, "WRITE", None),
            me,
        ]
        s3.put_bucket_acl(Bucket=name, ACL="authenticated-read")
        assert _grants(s3.get_bucket_acl(Bucket=name)) == [(AUTH_USERS, "READ", None), me]
        s3.put_bucket_acl(Bucket=name, ACL="private")
        assert _grants(s3.get_bucket_acl(Bucket=name)) == [me]
        s3.put_object(Bucket=name, Key="k", Body=b"v", ACL="public-read")
        assert _grants(s3.get_object_acl(Bucket=name, Key="k")) == [(ALL_USERS, "READ", None), me]
    finally:
        empty_and_delete(s3, name)


def test_other_tenants_carry_their_display_names(
    s3: Any, carol_s3: Any, carol: tuple[Key, str], shared: str
) -> None:
    """ceph/s3-tests test_object_acl_canned_bucketownerread expects the bucket owner's display
    name in the object writer's ACL; listings show object owners and initiators by name too."""
    key, name = carol
    owner = s3.list_buckets()["Owner"]
    carol_s3.put_object(Bucket=shared, Key="c", Body=b"from carol", ACL="bucket-owner-read")
    acl = carol_s3.get_object_acl(Bucket=shared, Key="c")
    assert acl["Owner"] == {"ID": key.tenant, "DisplayName": name}
    assert _grants(acl) == [
        (key.tenant, "FULL_CONTROL", name),
        (owner["ID"], "READ", owner["DisplayName"]),
    ]
    # The bucket owner sees carol by her name wherever she is an owner or a grantee.
    s3.put_bucket_acl(Bucket=shared, GrantRead=f"id={key.tenant}")
    assert (key.tenant, "READ", name) in _grants(s3.get_bucket_acl(Bucket=shared))
    assert s3.get_object_acl(Bucket=shared, Key="c")["Owner"]["DisplayName"] == name
    v2 = s3.list_objects_v2(Bucket=shared, FetchOwner=True)["Contents"]
    assert [o["Owner"] for o in v2] == [{"ID": key.tenant, "DisplayName": name}]
    v1 = s3.list_objects(Bucket=shared)["Contents"]
    assert [o["Owner"]["DisplayName"] for o in v1] == [name]
    versions = s3.list_object_versions(Bucket=shared)["Versions"]
    assert [v["Owner"]["DisplayName"] for v in versions] == [name]

    s3.put_bucket_acl(Bucket=shared, ACL="public-read-write")
    upload = carol_s3.create_multipart_upload(Bucket=shared, Key="mp")["UploadId"]
    try:
        [listed] = s3.list_multipart_uploads(Bucket=shared)["Uploads"]
        assert listed["Owner"] == {"ID": key.tenant, "DisplayName": name}
        assert listed["Initiator"]["DisplayName"] == name
        parts = carol_s3.list_parts(Bucket=shared, Key="mp", UploadId=upload)
        assert parts["Owner"]["DisplayName"] == name
    finally:
        carol_s3.abort_multipart_upload(Bucket=shared, Key="mp", UploadId=upload)


def test_grant_to_a_canonical_id_nobody_has_is_invalid_id(
    s3: Any, carol: tuple[Key, str], shared: str
) -> None:
    """AWS refuses a grant to an unknown canonical id with 400 InvalidArgument "Invalid id"
    (ceph/s3-tests test_bucket_acl_grant_nonexist_user; the PutBucketAcl page,
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketAcl.html, names the grantee by
    canonical id), in a header and in an AccessControlPolicy body alike; nothing is changed."""
    nobody = secrets.token_hex(32)
    s3.put_object(Bucket=shared, Key="k", Body=b"v")
    before_bucket = s3.get_bucket_acl(Bucket=shared)["Grants"]
    before_object = s3.get_object_acl(Bucket=shared, Key="k")["Grants"]
    calls = [
        lambda: s3.put_bucket_acl(Bucket=shared, GrantRead=f"id={nobody}"),
        lambda: s3.put_bucket_acl(Bucket=shared, GrantWrite=f'id="no-such-tenant-{nobody[:8]}"'),
        lambda: s3.put_object_acl(Bucket=shared, Key="k", GrantFullControl=f"id={nobody}"),
        lambda: s3.put_object(Bucket=shared, Key="new", Body=b"x", GrantRead=f"id={nobody}"),
        lambda: s3.create_multipart_upload(Bucket=shared, Key="new", GrantRead=f"id={nobody}"),
    ]
    owner = s3.get_bucket_acl(Bucket=shared)["Owner"]
    body = {
        "Owner": owner,
        "Grants": [
            {"Grantee": {"ID": owner["ID"], "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"ID": nobody, "Type": "CanonicalUser"}, "Permission": "READ"},
        ],
    }
    calls.append(lambda: s3.put_bucket_acl(Bucket=shared, AccessControlPolicy=body))
    calls.append(lambda: s3.put_object_acl(Bucket=shared, Key="k", AccessControlPolicy=body))
    for call in calls:
        assert _code(call) == (400, "InvalidArgument", "Invalid id")
    new_bucket = sup.unique_bucket("g")
    assert _code(lambda: s3.create_bucket(Bucket=new_bucket, GrantRead=f"id={nobody}"))[1] == (
        "InvalidArgument"
    )
    assert new_bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.get_bucket_acl(Bucket=shared)["Grants"] == before_bucket
    assert s3.get_object_acl(Bucket=shared, Key="k")["Grants"] == before_object
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=shared)["Contents"]] == ["k"]
    assert s3.list_multipart_uploads(Bucket=shared).get("Uploads", []) == []
    # A tenant that exists, by name or canonical id, is accepted.
    s3.put_bucket_acl(Bucket=shared, GrantRead=f"id={carol[0].tenant}")
    s3.put_bucket_acl(Bucket=shared, GrantRead=f'id="{carol[1]}"')


def test_grant_by_unresolvable_email_is_refused(s3: Any, shared: str) -> None:
    """AWS: 400 UnresolvableGrantByEmailAddress for an e-mail grantee it cannot resolve
    (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html)."""
    email = "nobody@example.invalid"
    header = _code(lambda: s3.put_bucket_acl(Bucket=shared, GrantRead=f'emailAddress="{email}"'))
    assert header[:2] == (400, "UnresolvableGrantByEmailAddress")
    owner = s3.get_bucket_acl(Bucket=shared)["Owner"]
    body = {
        "Owner": owner,
        "Grants": [
            {
                "Grantee": {"EmailAddress": email, "Type": "AmazonCustomerByEmail"},
                "Permission": "READ",
            }
        ],
    }
    in_body = _code(lambda: s3.put_bucket_acl(Bucket=shared, AccessControlPolicy=body))
    assert in_body[:2] == (400, "UnresolvableGrantByEmailAddress")

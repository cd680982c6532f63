"""ACL headers, CORS rule matching and the POST form reader / policy check, as pure functions."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from s3front import errors
from s3front.access import acl as acls
from s3front.access import cors, post_form
from s3front.keys import tenant_id
from s3front.request import S3Request
from s3front.xml import Grant

OWNER = tenant_id("owner")
ALICE = tenant_id("alice")


def req(**headers: str) -> S3Request:
    hdrs = {k.replace("_", "-"): v for k, v in headers.items()}
    return S3Request("PUT", "/b", "acl", (("acl", ""),), hdrs, "localhost", "http", "127.0.0.1")


def test_canned_acls() -> None:
    assert acls.canned("private", OWNER, OWNER).grants == (
        Grant("CanonicalUser", OWNER, "FULL_CONTROL"),
    )
    rw = acls.canned("public-read-write", OWNER, OWNER)
    assert {g.permission for g in rw.grants if g.grantee == acls.ALL_USERS} == {"READ", "WRITE"}
    bor = acls.canned("bucket-owner-read", ALICE, OWNER)
    assert Grant("CanonicalUser", OWNER, "READ") in bor.grants
    with pytest.raises(errors.InvalidArgument):
        acls.canned("world-writable", OWNER, OWNER)


def test_grant_headers() -> None:
    acl = acls.from_headers(
        req(
            x_amz_grant_read=f'id="{ALICE}", uri="{acls.ALL_USERS}"',
            x_amz_grant_write_acp="id=alice",
        ),
        OWNER,
        OWNER,
    )
    assert acl is not None and acl.owner == OWNER
    assert set(acl.grants) == {
        Grant("CanonicalUser", ALICE, "READ"),
        Grant("Group", acls.ALL_USERS, "READ"),
        Grant("CanonicalUser", ALICE, "WRITE_ACP"),  # a tenant name maps to its id
    }
    assert acls.grants_permission(acl, None, "READ")
    assert not acls.grants_permission(acl, None, "WRITE_ACP")
    assert acls.from_headers(req(), OWNER, OWNER) is None
    with pytest.raises(errors.InvalidRequest):
        acls.from_headers(req(x_amz_acl="private", x_amz_grant_read="id=a"), OWNER, OWNER)
    with pytest.raises(errors.InvalidArgument):
        acls.from_headers(req(x_amz_grant_read='uri="http://example.com/group"'), OWNER, OWNER)
    with pytest.raises(acls.UnresolvableGrantByEmailAddress):
        acls.from_headers(req(x_amz_grant_read='emailAddress="a@b.c"'), OWNER, OWNER)


def test_acl_round_trip_and_foreign_owner() -> None:
    acl = acls.canned("authenticated-read", OWNER, OWNER)
    assert acls.acl_of(acls.with_acl({}, acl), "ignored") == acl
    assert acls.acl_of({}, OWNER) == acls.private(OWNER)
    with pytest.raises(errors.AccessDenied):
        acls.from_policy(ALICE, [], OWNER)


def test_cors_matching() -> None:
    body = (
        b"<CORSConfiguration><CORSRule><AllowedOrigin>https://*.example.com</AllowedOrigin>"
        b"<AllowedMethod>PUT</AllowedMethod><AllowedHeader>x-amz-*</AllowedHeader>"
        b"<MaxAgeSeconds>30</MaxAgeSeconds></CORSRule>"
        b"<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
        b"</CORSRule></CORSConfiguration>"
    )
    rules = cors.parse_configuration(body)
    assert cors.rules_of({"cors": cors.dumps(rules)}) == rules
    put = cors.match(rules, "https://a.example.com", "PUT", ["x-amz-date"])
    assert put is rules[0] and put.max_age == 30
    assert cors.match(rules, "https://a.example.com", "PUT", ["authorization"]) is None
    assert cors.match(rules, "https://example.org", "PUT") is None
    assert cors.match(rules, "https://example.org", "GET") is rules[1]
    assert cors.allow_origin(rules[1], "https://example.org") == "*"
    for bad in (
        b"<CORSConfiguration/>",
        b"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>",
        b"<Other/>",
    ):
        with pytest.raises(errors.MalformedXML):
            cors.parse_configuration(bad)
    with pytest.raises(errors.InvalidRequest):
        cors.parse_configuration(
            b"<CORSConfiguration><CORSRule><AllowedOrigin>*.*</AllowedOrigin>"
            b"<AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>"
        )


def form(boundary: str, fields: dict[str, str], data: bytes) -> bytes:
    out = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    )
    return (
        out
        + (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a b.txt"\r\n'
            f"Content-Type: text/plain\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}\r\n".encode()
        + (
            f'Content-Disposition: form-data; name="after"\r\n\r\nignored\r\n--{boundary}--\r\n'
        ).encode()
    )


@pytest.mark.parametrize("piece", [1, 7, 4096])
def test_form_reader_streams_the_file(piece: int) -> None:
    data = bytes(range(256)) * 40 + b"\r\n--almost-a-boundary"
    body = form("XyZ", {"Key": "k/${filename}", "x-amz-meta-a": "1"}, data)
    reader = post_form.FormReader(post_form.boundary_of("multipart/form-data; boundary=XyZ"))
    got = b""
    for i in range(0, len(body), piece):
        reader.feed(body[i : i + piece])
        if reader.in_file:
            got += b"".join(reader.take_file_data())
    assert reader.file_done and got == data
    assert reader.fields == {"key": "k/${filename}", "x-amz-meta-a": "1"}
    assert reader.filename == "a b.txt" and reader.file_content_type == "text/plain"


def test_form_reader_refuses_huge_fields() -> None:
    reader = post_form.FormReader(b"B")
    with pytest.raises(errors.EntityTooLarge):
        reader.feed(form("B", {"x-ignore-pad": "p" * (post_form.MAX_FIELDS_BYTES + 1)}, b""))
    with pytest.raises(errors.MalformedPOSTRequest):
        post_form.boundary_of("application/x-www-form-urlencoded")


def policy(*conditions: object, expiration: str = "2099-01-01T00:00:00Z") -> dict[str, object]:
    doc = {"expiration": expiration, "conditions": list(conditions)}
    return post_form.decode_policy(base64.b64encode(json.dumps(doc).encode()).decode())


NOW = datetime(2030, 1, 1, tzinfo=UTC)


def test_post_policy_conditions() -> None:
    values = {"bucket": "b", "key": "up/a.txt", "content-type": "text/plain", "policy": "p"}
    doc = policy(
        {"bucket": "b"},
        ["starts-with", "$key", "up/"],
        ["eq", "$Content-Type", "text/plain"],
        ["content-length-range", 1, 10],
    )
    assert post_form.check_policy(doc, values, NOW) == post_form.PolicyResult(1, 10)
    with pytest.raises(errors.AccessDenied, match=r"Extra input fields: x-amz-meta-a"):
        post_form.check_policy(doc, {**values, "x-amz-meta-a": "1", "x-ignore-me": "2"}, NOW)
    with pytest.raises(errors.AccessDenied, match=r'\["starts-with", "\$key", "up/"\]'):
        post_form.check_policy(doc, {**values, "key": "down/a"}, NOW)
    with pytest.raises(errors.AccessDenied, match=r"Policy expired\."):
        post_form.check_policy(policy(expiration="2020-01-01T00:00:00.000Z"), values, NOW)
    with pytest.raises(errors.InvalidArgument):
        post_form.check_policy(policy(["matches", "$key", ".*"]), values, NOW)

"""Hostile input that would otherwise be stored and break later requests (issue 14, items 8-9).

A header value the server cannot send back (CR/LF, NUL, characters beyond Latin-1) must be
refused with 400 before anything is stored: once stored, every GET and HEAD of the object
would fail. Likewise a CORS configuration whose ExposeHeader cannot be sent would break every
browser request to the bucket, and malformed numbers in CORS or POST policy documents must be
a 400, not a 500. Each test also checks that what was stored before stays readable.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import s3front_e2e_support as sup


def _verify(server: Any) -> ssl.SSLContext | bool:
    context: ssl.SSLContext | None = server.ssl_context()
    return context if context is not None else True


@pytest.fixture
def own_bucket(s3: Any) -> Iterator[str]:
    """A bucket holding one good object, "keep", whose readability every test checks."""
    name = sup.unique_bucket()
    s3.create_bucket(Bucket=name)
    s3.put_object(
        Bucket=name, Key="keep", Body=b"kept bytes", ContentType="text/plain", Metadata={"a": "b"}
    )
    yield name
    for obj in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=obj["Key"])
    for up in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
    s3.delete_bucket(Bucket=name)


def assert_keep_readable(server: Any, bucket: str) -> None:
    got = server.raw("GET", f"/{bucket}/keep")
    assert got.status == 200 and got.body == b"kept bytes", got
    assert got.headers["x-amz-meta-a"] == "b"
    head = server.raw("HEAD", f"/{bucket}/keep")
    assert head.status == 200 and head.headers["content-type"] == "text/plain", head


def assert_absent(server: Any, bucket: str, key: str) -> None:
    head = server.raw("HEAD", f"/{bucket}/{key}")
    assert head.status == 404, head
    listed = server.raw("GET", f"/{bucket}", query="list-type=2")
    assert listed.status == 200 and key not in sup.find_text(listed.xml(), "Key"), listed


def _post_form(server: Any, post: dict[str, Any], content: bytes = b"form bytes") -> Any:
    return httpx.post(
        post["url"],
        data=post["fields"],
        files={"file": ("f.txt", content, "text/plain")},
        verify=_verify(server),
        follow_redirects=False,
        timeout=60,
    )


# -- item 8: POST form fields that become headers -------------------------------------------

HOSTILE_FIELDS = [
    ("content-type", "text/plain\r\nx-injected: 1"),
    ("content-type", "text/\u2603"),
    ("cache-control", "no-cache\x00"),
    ("content-disposition", 'attachment; filename="\U0001f600.txt"'),
    ("x-amz-meta-note", "line one\r\nline two"),
    ("x-amz-meta-note", "snow \u2603"),
    ("x-amz-meta-note", "bell\x07"),
    ("x-amz-meta-bad name", "v"),  # not a header name: could not be sent back
    ("success_action_redirect", "https://app.example.com/done\r\nset-cookie: x=1"),
    ("success_action_redirect", "https://app.example.com/\u2603"),
]


@pytest.mark.parametrize(
    ("field", "value"), HOSTILE_FIELDS, ids=[f"{f}-{i}" for i, (f, _) in enumerate(HOSTILE_FIELDS)]
)
def test_post_form_hostile_header_field_refused(
    server: Any, s3: Any, own_bucket: str, field: str, value: str
) -> None:
    post = s3.generate_presigned_post(
        own_bucket,
        "posted.txt",
        Fields={field: value},
        Conditions=[["starts-with", f"${field}", ""]],
        ExpiresIn=300,
    )
    resp = _post_form(server, post)
    assert resp.status_code == 400, (resp.status_code, resp.text)
    assert b"<Code>InvalidArgument</Code>" in resp.content, resp.text
    assert_absent(server, own_bucket, "posted.txt")
    assert_keep_readable(server, own_bucket)


def test_post_form_good_fields_still_stored(server: Any, s3: Any, own_bucket: str) -> None:
    """The check refuses only what cannot be sent: ordinary values, a tab, a redirect with a
    query, all pass and come back on GET."""
    fields = {
        "content-type": "text/plain; charset=utf-8",
        "x-amz-meta-note": "a\tb c",
        "success_action_redirect": "https://app.example.com/done?x=1",
    }
    post = s3.generate_presigned_post(
        own_bucket,
        "posted.txt",
        Fields=fields,
        Conditions=[["starts-with", f"${n}", ""] for n in fields],
        ExpiresIn=300,
    )
    resp = _post_form(server, post)
    assert resp.status_code == 303, resp.text
    assert resp.headers["location"].startswith("https://app.example.com/done?x=1&bucket=")
    got = server.raw("GET", f"/{own_bucket}/posted.txt")
    assert got.status == 200 and got.body == b"form bytes", got
    assert got.headers["content-type"] == "text/plain; charset=utf-8"
    assert got.headers["x-amz-meta-note"] == "a\tb c"


# -- item 8: the same values on PUT, CopyObject REPLACE and CreateMultipartUpload ------------------


def test_header_paths_refuse_control_characters_and_keep_latin1(
    server: Any, own_bucket: str
) -> None:
    """Raw request headers: the HTTP parser refuses control characters before s3front sees them
    (a regression guard: this passes on main too); raw non-ASCII bytes (obs-text) are stored
    and come back byte for byte on every path that stores headers."""
    bad = {"x-amz-meta-a": "a\x01b"}
    resp = server.raw("PUT", f"/{own_bucket}/bad", headers=bad, body=b"x")
    assert resp.status == 400, resp
    assert_absent(server, own_bucket, "bad")

    latin = "caf\xe9"  # sent as the single byte 0xE9, as a client that sends Latin-1 does
    put = server.raw("PUT", f"/{own_bucket}/put", headers={"x-amz-meta-a": latin}, body=b"p")
    assert put.status == 200, put
    copy = server.raw(
        "PUT",
        f"/{own_bucket}/copy",
        headers={
            "x-amz-copy-source": f"/{own_bucket}/keep",
            "x-amz-metadata-directive": "REPLACE",
            "x-amz-meta-a": latin,
        },
    )
    assert copy.status == 200, copy
    init = server.raw("POST", f"/{own_bucket}/mp", query="uploads", headers={"x-amz-meta-a": latin})
    assert init.status == 200, init
    upload_id = sup.find_text(init.xml(), "UploadId")[0]
    part = server.raw(
        "PUT", f"/{own_bucket}/mp", query=f"partNumber=1&uploadId={upload_id}", body=b"m"
    )
    assert part.status == 200, part
    done = server.raw(
        "POST",
        f"/{own_bucket}/mp",
        query=f"uploadId={upload_id}",
        body=(
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
            f"<ETag>{part.headers['etag']}</ETag></Part></CompleteMultipartUpload>"
        ).encode(),
    )
    assert done.status == 200, done
    for key in ("put", "copy", "mp"):
        for method in ("GET", "HEAD"):
            got = server.raw(method, f"/{own_bucket}/{key}")
            assert got.status == 200 and got.headers["x-amz-meta-a"] == latin, (key, got)
    assert_keep_readable(server, own_bucket)


# -- item 9: POST policy content-length-range ----------------------------------------------------

BAD_RANGES = [
    [0, float("inf")],
    [0, float("nan")],
    [-1, 10],
    [10, 5],
    [0, 1.5],
    ["--5", 10],
    [True, 10],
    [0, "9" * 5000],
    [0, 10**40],
    [None, 10],
]


@pytest.mark.parametrize("bounds", BAD_RANGES, ids=[str(i) for i in range(len(BAD_RANGES))])
def test_post_policy_bad_content_length_range(
    server: Any, s3: Any, own_bucket: str, bounds: list[Any]
) -> None:
    post = s3.generate_presigned_post(
        own_bucket,
        "ranged.txt",
        Conditions=[["content-length-range", *bounds]],
        ExpiresIn=300,
    )
    resp = _post_form(server, post)
    assert resp.status_code == 400, (resp.status_code, resp.text)
    assert b"<Code>InvalidPolicyDocument</Code>" in resp.content, resp.text
    assert_absent(server, own_bucket, "ranged.txt")
    assert_keep_readable(server, own_bucket)


def test_post_policy_length_range_forms_accepted(server: Any, s3: Any, own_bucket: str) -> None:
    """Integers as JSON numbers, as digit strings, or written as integral floats all work."""
    for bounds in ([0, 100], ["1", "100"], [1.0, 100.0]):
        post = s3.generate_presigned_post(
            own_bucket,
            "ranged.txt",
            Conditions=[["content-length-range", *bounds]],
            ExpiresIn=300,
        )
        resp = _post_form(server, post)
        assert resp.status_code == 204, (bounds, resp.text)
    big = _post_form(server, post, b"x" * 101)
    assert big.status_code == 400 and b"EntityTooLarge" in big.content


# -- item 9: CORS configuration ----------------------------------------------------------------

GOOD_CORS = (
    "<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example.com</AllowedOrigin>"
    "<AllowedMethod>GET</AllowedMethod><ExposeHeader>ETag</ExposeHeader>"
    "<MaxAgeSeconds>600</MaxAgeSeconds></CORSRule></CORSConfiguration>"
)


def _cors(rule: str) -> str:
    return f"<CORSConfiguration><CORSRule>{rule}</CORSRule></CORSConfiguration>"


_GET = "<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
HOSTILE_CORS = {
    "max-age-5000-digits": _cors(_GET + f"<MaxAgeSeconds>{'9' * 5000}</MaxAgeSeconds>"),
    "max-age-double-minus": _cors(_GET + "<MaxAgeSeconds>--5</MaxAgeSeconds>"),
    "max-age-negative": _cors(_GET + "<MaxAgeSeconds>-1</MaxAgeSeconds>"),
    "max-age-over-int32": _cors(_GET + "<MaxAgeSeconds>2147483648</MaxAgeSeconds>"),
    "max-age-unicode-digits": _cors(_GET + "<MaxAgeSeconds>\u0663</MaxAgeSeconds>"),
    "expose-crlf": _cors(_GET + "<ExposeHeader>ETag&#13;&#10;Set-Cookie: x=1</ExposeHeader>"),
    "expose-non-latin1": _cors(_GET + "<ExposeHeader>x-\u2603</ExposeHeader>"),
    "origin-lf": _cors(
        "<AllowedOrigin>https://a&#10;.example.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
    ),
    "header-tab": _cors(_GET + "<AllowedHeader>x-a&#9;b</AllowedHeader>"),
    "header-too-long": _cors(_GET + f"<AllowedHeader>{'*a' * 1000}</AllowedHeader>"),
}


def _put_cors(server: Any, bucket: str, doc: str) -> Any:
    body = doc.encode()
    return server.raw(
        "PUT",
        f"/{bucket}",
        query="cors",
        headers={"content-md5": sup.content_md5(body), "content-type": "application/xml"},
        body=body,
    )


@pytest.mark.parametrize("name", list(HOSTILE_CORS))
def test_hostile_cors_configuration_refused(server: Any, own_bucket: str, name: str) -> None:
    assert _put_cors(server, own_bucket, GOOD_CORS).status == 200
    before = server.raw("GET", f"/{own_bucket}", query="cors")
    assert before.status == 200, before

    resp = _put_cors(server, own_bucket, HOSTILE_CORS[name])
    assert (resp.status, resp.error_code) == (400, "MalformedXML"), resp

    # The configuration in force is unchanged and browsers are still served.
    after = server.raw("GET", f"/{own_bucket}", query="cors")
    assert after.status == 200 and after.body == before.body, after
    origin = {"origin": "https://app.example.com"}
    got = server.raw("GET", f"/{own_bucket}/keep", headers=origin)
    assert got.status == 200 and got.body == b"kept bytes", got
    assert got.headers["access-control-expose-headers"] == "ETag"
    preflight = server.raw(
        "OPTIONS",
        f"/{own_bucket}/keep",
        headers={**origin, "access-control-request-method": "GET"},
        sign=False,
    )
    assert preflight.status == 200 and preflight.headers["access-control-max-age"] == "600"
    assert_keep_readable(server, own_bucket)

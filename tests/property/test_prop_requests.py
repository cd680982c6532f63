"""Properties of the request-line and header parsers: query strings, routing, Range,
x-amz-copy-source(-range), bucket policies and browser POST forms.

Each parser returns a value that satisfies its contract or raises an S3 error for any input; an
exception of another type would be a 500 on the wire.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote_to_bytes

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from s3front import routing
from s3front.access import policy, post_form
from s3front.api.copy import parse_copy_range, parse_copy_source
from s3front.auth import sigv4
from s3front.errors import S3Error
from s3front.objects.ranges import parse_range
from s3front.request import S3Request, from_scope, parse_query

# Latin-1 text: what the ASGI server hands over for bytes on the wire.
WIRE = st.text(st.characters(max_codepoint=0xFF), max_size=80)
ANY_TEXT = st.text(max_size=60)
DIGITS = st.one_of(
    st.integers(0, 10**15).map(str),
    st.sampled_from(["", "0", "00000000000000000000000001", "1" * 5000, "٣", "²"]),
)


# -- query strings ------------------------------------------------------------------------------


@given(raw=WIRE)
@example(raw="%" * 5 + "&=&==&%zz%f&a=%ff%fe")
def test_parse_query_never_fails(raw: str) -> None:
    pairs = parse_query(raw)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in pairs)
    assert len(pairs) <= raw.count("&") + 1


PAIRS = st.lists(st.tuples(ANY_TEXT.filter(bool), ANY_TEXT), max_size=8)


def _encode(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


@given(pairs=PAIRS)
def test_query_round_trip(pairs: list[tuple[str, str]]) -> None:
    raw = _encode(pairs)
    assert list(parse_query(raw)) == pairs
    canonical = sigv4.canonical_query(raw)
    # Canonicalisation is idempotent, sorted, and decodes to the same pairs.
    assert sigv4.canonical_query(canonical) == canonical
    assert sorted(parse_query(canonical)) == sorted(pairs)


# Plain ASCII with and without the characters that need encoding: the fast paths (nothing to
# encode or decode) and the general ones must not be told apart by their results.
PATHISH = st.one_of(WIRE, st.text(st.sampled_from("abcXYZ019-_.~/%+ &é"), max_size=40))


@given(value=st.one_of(ANY_TEXT, PATHISH))
@example(value="plain-key_1.txt~")
@example(value="a b/c")
def test_uri_encode_is_rfc3986_unreserved_encoding(value: str) -> None:
    raw = value.encode("utf-8", "surrogatepass")
    assert sigv4.uri_encode(value) == quote(raw, safe="-_.~")
    assert sigv4.uri_encode(raw) == quote(raw, safe="-_.~")


@given(raw_path=PATHISH)
@example(raw_path="/bucket/plain/key.txt")
@example(raw_path="/bucket/test$file.text")
def test_canonical_uris_start_with_the_path_as_sent(raw_path: str) -> None:
    uris = sigv4.canonical_uris(raw_path)
    assert uris[0] == raw_path
    with contextlib.suppress(UnicodeDecodeError):
        decoded = unquote_to_bytes(raw_path).decode("utf-8")
        reencoded = "/".join(quote(s.encode(), safe="-_.~") for s in decoded.split("/"))
        assert uris == ([raw_path] if reencoded == raw_path else [raw_path, reencoded])


@given(raw=PATHISH)
@example(raw="plain/key.txt")
def test_path_decoding_fast_path_agrees(raw: str) -> None:
    try:
        decoded = routing._decode(raw, "object key")
    except S3Error:
        assert "%" in raw or not raw.isascii()
        return
    data = raw.encode("latin-1")
    assert decoded == unquote_to_bytes(data).decode("utf-8")


@given(raw=WIRE, plus=st.booleans())
def test_canonical_query_never_fails(raw: str, plus: bool) -> None:
    canonical = sigv4.canonical_query(raw, plus_is_space=plus)
    assert canonical.isascii()


# -- the SigV4 Authorization header ----------------------------------------------------------------

_AUTH_PART = st.one_of(
    st.sampled_from(["AKIDEXAMPLE", "20261202", "us-east-1", "s3", "aws4_request", "", "=", " "]),
    st.text(st.sampled_from("Aa0/-_=;, \t.é٣"), max_size=12),
)


def _usual(pattern: str) -> st.SearchStrategy[str]:
    return st.from_regex(pattern, fullmatch=True)


def _agree(header: str) -> None:
    def outcome(parse: Any) -> object:
        try:
            return parse(header, "20261202T000000Z")
        except S3Error as exc:
            return (type(exc), str(exc))

    assert outcome(sigv4.parse_authorization) == outcome(sigv4.parse_authorization_general)


@given(
    parts=st.tuples(
        _usual(r"[A-Za-z0-9]{1,20}"),
        _usual(r"[0-9]{8}"),
        _usual(r"[a-z0-9-]{1,12}"),
        _usual(r"[a-z0-9-]{1,5}"),
    ),
    signed=st.lists(_usual(r"[a-z0-9-]{1,12}"), min_size=1, max_size=5),
    signature=_usual(r"[0-9a-f]{64}"),
    spaces=st.tuples(st.sampled_from(["", " "]), st.sampled_from(["", " "])),
)
def test_authorization_usual_shape_reads_as_the_general_parser_reads_it(
    parts: tuple[str, str, str, str], signed: list[str], signature: str, spaces: tuple[str, str]
) -> None:
    """Headers of the shape SDKs send take the regex path; it must give the general parser's
    answer (also for what both refuse, such as an all-digit service name)."""
    header = (
        f"AWS4-HMAC-SHA256 Credential={'/'.join(parts)}/aws4_request,{spaces[0]}"
        f"SignedHeaders={';'.join(signed)},{spaces[1]}Signature={signature}"
    )
    assert sigv4._USUAL_AUTHORIZATION.fullmatch(header)
    _agree(header)


@given(
    parts=st.tuples(_AUTH_PART, _AUTH_PART, _AUTH_PART, _AUTH_PART),
    terminal=st.sampled_from(["aws4_request", "aws4_request/x", ""]),
    signed=st.lists(st.sampled_from(["host", "x-amz-date", "X-Amz-Date", "", " host", "a_b"])),
    signature=st.one_of(st.just("AB" * 32), st.text("0123456789abcdefg", max_size=66)),
    separators=st.tuples(st.sampled_from([",", ", ", " ,", ",  "]), st.sampled_from([",", ";"])),
)
def test_authorization_any_shape_reads_as_the_general_parser_reads_it(
    parts: tuple[str, str, str, str],
    terminal: str,
    signed: list[str],
    signature: str,
    separators: tuple[str, str],
) -> None:
    """Anything else: the regex path must leave it to the general parser, or agree with it."""
    header = (
        f"AWS4-HMAC-SHA256 Credential={'/'.join([*parts, terminal])}{separators[0]}"
        f"SignedHeaders={';'.join(signed)}{separators[1]}Signature={signature}"
    )
    _agree(header)


# -- routing ------------------------------------------------------------------------------------


def _request(method: str, path: str, query: str, headers: dict[str, str]) -> S3Request:
    return S3Request(
        method=method,
        raw_path=path,
        raw_query=query,
        query=parse_query(query),
        headers=headers,
        host=headers.get("host", ""),
        scheme="http",
        client_ip="127.0.0.1",
    )


PATHS = st.one_of(
    WIRE.map(lambda s: "/" + s),
    st.lists(
        st.sampled_from(["b", "..", ".", "", "%2F", "%ff", "%", "%e2%82", "k", "é"]), max_size=6
    ).map(lambda parts: "/" + "/".join(parts)),
    st.integers(1000, 1100).map(lambda n: "/b/" + "k" * n),
)
SUBRESOURCES = st.sampled_from(
    ["uploads", "uploadId=x", "partNumber=1", "acl", "tagging", "versioning", "versions",
     "delete", "list-type=2", "list-type=3", "policy", "cors", "x-id=PutObject", "location",
     "versionId=null", "select", "attributes", "website", "lifecycle", "foo"]
)  # fmt: skip


@given(
    method=st.sampled_from(["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "BREW"]),
    path=PATHS,
    query=st.lists(SUBRESOURCES, max_size=4).map("&".join),
    host=st.sampled_from(
        ["127.0.0.1:9000", "b.localhost", "localhost", "", ".localhost", "x.y.localhost:1"]
    ),
    copy=st.booleans(),
)
def test_resolve_endpoint_or_s3_error(
    method: str, path: str, query: str, host: str, copy: bool
) -> None:
    headers = {"host": host, **({"x-amz-copy-source": "b/k"} if copy else {})}
    req = _request(method, path, query, headers)
    try:
        ep = routing.resolve(req, ["localhost"])
    except S3Error:
        return
    assert ep.op
    if ep.key is not None:
        assert ep.bucket
        assert len(ep.key.encode()) <= routing.MAX_KEY_BYTES


@given(
    headers=st.lists(
        st.tuples(st.binary(min_size=1, max_size=20), st.binary(max_size=40)), max_size=6
    ),
    path=st.binary(max_size=60),
    query=st.binary(max_size=60),
)
def test_from_scope_accepts_any_bytes(
    headers: list[tuple[bytes, bytes]], path: bytes, query: bytes
) -> None:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "raw_path": b"/" + path,
        "query_string": query,
        "headers": headers,
        "client": ("127.0.0.1", 1),
    }
    req = from_scope(scope)
    assert req.raw_path.startswith("/")
    with contextlib.suppress(S3Error):
        routing.resolve(req, ["localhost"])


# -- Range --------------------------------------------------------------------------------------

RANGE_HEADERS = st.one_of(
    WIRE,
    st.tuples(DIGITS, DIGITS).map(lambda p: f"bytes={p[0]}-{p[1]}"),
    st.tuples(DIGITS, DIGITS, st.sampled_from([" ", ",", "bytes=0-1,", "items="])).map(
        lambda p: f"{p[2]}bytes={p[0]}-{p[1]}"
    ),
)
SIZES = st.one_of(st.integers(0, 100), st.integers(0, 6 * 1024**4))


@given(header=RANGE_HEADERS, size=SIZES)
def test_parse_range_within_object(header: str, size: int) -> None:
    try:
        result = parse_range(header, size)
    except S3Error as exc:
        assert exc.code == "InvalidRange"
        return
    if result is not None:
        start, end = result
        assert 0 <= start < end <= size


@given(size=st.integers(1, 10**12), data=st.data())
def test_parse_range_exact(size: int, data: st.DataObject) -> None:
    first = data.draw(st.integers(0, size - 1))
    last = data.draw(st.integers(first, size - 1))
    assert parse_range(f"bytes={first}-{last}", size) == (first, last + 1)
    suffix = data.draw(st.integers(1, 2 * size))
    assert parse_range(f"bytes=-{suffix}", size) == (max(size - suffix, 0), size)


@given(header=RANGE_HEADERS, size=SIZES)
def test_parse_copy_range_within_source(header: str, size: int) -> None:
    try:
        start, end = parse_copy_range(header, size)
    except S3Error as exc:
        assert exc.code in ("InvalidArgument", "InvalidRange")
        return
    assert 0 <= start < end <= size


# -- x-amz-copy-source --------------------------------------------------------------------------


@given(value=st.one_of(WIRE, ANY_TEXT))
@example(value="b/k?versionId=")
@example(value="/b/%ff%fe?versionId=%ff")
def test_parse_copy_source_never_fails_otherwise(value: str) -> None:
    try:
        bucket, key, version = parse_copy_source(value)
    except S3Error as exc:
        assert exc.code == "InvalidArgument"
        return
    assert bucket and key and version != ""


@given(
    bucket=st.from_regex(r"[a-z0-9][a-z0-9.-]{1,20}[a-z0-9]", fullmatch=True),
    # The header value is trimmed (HTTP does that too), so a key cannot start or end in space.
    key=ANY_TEXT.filter(lambda k: k != "" and k == k.strip()),
    version=st.one_of(st.none(), ANY_TEXT.filter(bool)),
    slash=st.booleans(),
)
def test_copy_source_round_trip(bucket: str, key: str, version: str | None, slash: bool) -> None:
    value = ("/" if slash else "") + f"{bucket}/{quote(key, safe='/')}"
    if version is not None:
        value += f"?versionId={quote(version, safe='')}"
    assert parse_copy_source(value) == (bucket, key, version)


# -- bucket policies ----------------------------------------------------------------------------

JSON_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=20),
    st.sampled_from(["*", "s3:GetObject", "s3:*", "arn:aws:s3:::b/*", "arn:aws:s3:::b",
                     "Allow", "Deny", "2012-10-17", "10.0.0.0/8", "::1/128", "aws:SourceIp",
                     "IpAddress", "StringLike", "Bool", "arn:aws:iam::x:root", "300.1.1.1/99"]),
)  # fmt: skip
POLICY_KEYS = st.sampled_from(
    ["Version", "Id", "Statement", "Sid", "Effect", "Principal", "Action", "Resource",
     "Condition", "AWS", "CanonicalUser", "IpAddress", "NotIpAddress", "StringEquals",
     "StringLike", "Bool", "aws:SourceIp", "s3:prefix", "aws:SecureTransport", "NotAction"]
)  # fmt: skip
JSON = st.recursive(
    JSON_LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(POLICY_KEYS, inner, max_size=5)
    ),
    max_leaves=25,
)


@given(doc=st.dictionaries(POLICY_KEYS, JSON, max_size=4), facts_ip=st.ip_addresses().map(str))
def test_policy_parse_and_evaluate(doc: dict[str, Any], facts_ip: str) -> None:
    try:
        parsed = policy.parse(json.dumps(doc), "b")
    except S3Error as exc:
        assert exc.code == "MalformedPolicy"
        return
    facts = policy.Facts(source_ip=facts_ip, secure=False, prefix="p")
    assert policy.evaluate(parsed, None, "s3:GetObject", "b/k", facts) in (True, False, None)


@given(text=st.one_of(ANY_TEXT, st.binary(max_size=80).map(lambda b: b.decode("latin-1"))))
@example(text="[" * 100_000)
@example(text='{"Statement": ' + "[" * 5000 + "]" * 5000 + "}")
def test_policy_text_only_malformed(text: str) -> None:
    with pytest.raises(S3Error) as info:
        parsed = policy.parse(text, "b")
        raise AssertionError(f"parsed garbage: {parsed}")  # pragma: no cover
    assert info.value.code == "MalformedPolicy"


# -- browser POST forms -------------------------------------------------------------------------


def form(fields: list[tuple[str, str]], file: bytes, boundary: str) -> bytes:
    out = bytearray()
    for name, value in fields:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    out += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    out += file + f"\r\n--{boundary}--\r\n".encode()
    return bytes(out)


FIELD_NAMES = st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True).filter(lambda n: n != "file")
BOUNDARY = st.from_regex(r"[A-Za-z0-9]{8,40}", fullmatch=True)


def read_form(reader: post_form.FormReader, body: bytes, cuts: list[int]) -> bytes:
    out = bytearray()
    points = sorted({c % (len(body) + 1) for c in cuts} | {0, len(body)})
    for a, b in itertools.pairwise(points):
        reader.feed(body[a:b])
        for piece in reader.take_file_data():
            out += piece
    return bytes(out)


@given(
    fields=st.dictionaries(FIELD_NAMES, st.text(max_size=40), max_size=5),
    file=st.binary(max_size=300),
    boundary=BOUNDARY,
    cuts=st.lists(st.integers(0, 5000), max_size=8),
)
def test_post_form_round_trip(
    fields: dict[str, str], file: bytes, boundary: str, cuts: list[int]
) -> None:
    body = form(list(fields.items()), file, boundary)
    reader = post_form.FormReader(boundary.encode())
    assert read_form(reader, body, cuts) == file
    assert reader.fields == fields
    assert reader.file_done


@given(
    body=st.binary(max_size=400),
    boundary=BOUNDARY,
    cuts=st.lists(st.integers(0, 5000), max_size=8),
    prefix=st.booleans(),
)
def test_post_form_garbage_only_s3_errors(
    body: bytes, boundary: str, cuts: list[int], prefix: bool
) -> None:
    if prefix:
        body = f"--{boundary}\r\n".encode() + body
    reader = post_form.FormReader(boundary.encode())
    with contextlib.suppress(S3Error):
        read_form(reader, body, cuts)


@given(content_type=WIRE)
def test_boundary_of(content_type: str) -> None:
    try:
        assert post_form.boundary_of(content_type)
    except S3Error as exc:
        assert exc.code == "MalformedPOSTRequest"


@given(doc=st.dictionaries(st.sampled_from(["expiration", "conditions", "x"]), JSON, max_size=3),
       values=st.dictionaries(FIELD_NAMES, st.text(max_size=10), max_size=4))  # fmt: skip
@example(doc={"expiration": "2999-01-01T00:00:00Z", "conditions": [["content-length-range", "1" * 5000, 1]]}, values={})  # fmt: skip
def test_post_policy_check_only_s3_errors(doc: dict[str, Any], values: dict[str, str]) -> None:
    with contextlib.suppress(S3Error):
        post_form.check_policy(doc, values, datetime.now(UTC))


@given(text=WIRE)
@example(text=base64.b64encode(b"[" * 10_000).decode())
def test_post_policy_decode_only_s3_errors(text: str) -> None:
    try:
        assert isinstance(post_form.decode_policy(text), dict)
    except S3Error as exc:
        assert exc.code == "InvalidArgument"

"""The server access log line (s3front.server_access_log): AWS's field order, quoting and dash
rules (https://docs.aws.amazon.com/AmazonS3/latest/userguide/LogFormat.html), and that no
signature reaches a line."""

from __future__ import annotations

import calendar
import re
import shlex
from dataclasses import replace

import pytest

from s3front.server_access_log import (
    FIELDS,
    AccessRecord,
    bare,
    encoded_key,
    format_line,
    log_object_key,
    log_time,
    operation_name,
    quoted,
    request_uri,
)

OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
WHEN = calendar.timegm((2019, 2, 6, 0, 0, 38))

BASE = AccessRecord(
    bucket_owner=OWNER,
    bucket="awsexamplebucket1",
    received=WHEN,
    remote_ip="192.0.2.3",
    requester=OWNER,
    request_id="3E57427F3EXAMPLE",
    operation="REST.GET.VERSIONING",
    key="",
    method="GET",
    raw_path="/awsexamplebucket1",
    raw_query="versioning",
    http_version="1.1",
    status=200,
    error_code="",
    bytes_sent=113,
    object_size=None,
    total_ms=7,
    turn_around_ms=None,
    referer="",
    user_agent="S3Console/0.4",
    version_id="",
    host_id="s9lzHYrFp76ZVxRcpX9",
    signature_version="SigV4",
    authentication_type="AuthHeader",
    host_header="awsexamplebucket1.s3.us-west-1.amazonaws.com",
)


def test_line_matches_the_aws_documentation_example() -> None:
    # The first record of AWS's example, with the fields s3front cannot know (cipher suite,
    # TLS version: uvicorn does not expose them) and has none of (access point) as "-".
    assert format_line(BASE) == (
        f"{OWNER} awsexamplebucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 {OWNER} "
        '3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /awsexamplebucket1?versioning HTTP/1.1" '
        '200 - 113 - 7 - "-" "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9 SigV4 - AuthHeader '
        "awsexamplebucket1.s3.us-west-1.amazonaws.com - - -"
    )


def test_every_field_is_present_and_the_line_splits_like_a_shell_word_list() -> None:
    rec = replace(BASE, user_agent='evil "agent" with spaces\\', referer="http://x/ y")
    words = shlex.split(format_line(rec).replace("[06/Feb/2019:00:00:38 +0000]", "TIME"))
    assert len(words) == len(FIELDS)  # the bracketed time is one field
    assert words[FIELDS.index("user_agent")] == 'evil "agent" with spaces\\'
    assert words[FIELDS.index("referer")] == "http://x/ y"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", '"-"'),
        ("curl/7.15.1", '"curl/7.15.1"'),
        ('a"b', '"a\\"b"'),
        ("a\\b", '"a\\\\b"'),
        ("tab\there", '"tab\\x09here"'),
        ("new\nline", '"new\\x0aline"'),
        ("é", '"\\xc3\\xa9"'),
    ],
)
def test_quoted_fields(value: str, expected: str) -> None:
    assert quoted(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "-"),
        ("example.com:9000", "example.com:9000"),
        ("a b", "a%20b"),
        ('a"b', "a%22b"),
        ("100%", "100%25"),
        ("x\ny", "x%0Ay"),
    ],
)
def test_bare_fields_never_split_the_line(value: str, expected: str) -> None:
    assert bare(value) == expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("", "-"),
        ("photos/2019/08/puppy.jpg", "photos/2019/08/puppy.jpg"),
        ("dir/a b.txt", "dir/a%20b.txt"),
        ("ü+&=?", "%C3%BC%2B%26%3D%3F"),
    ],
)
def test_key_is_url_encoded(key: str, expected: str) -> None:
    assert encoded_key(key) == expected


@pytest.mark.parametrize(
    ("op", "method", "has_key", "expected"),
    [
        ("GetObject", "GET", True, "REST.GET.OBJECT"),
        ("PutObject", "PUT", True, "REST.PUT.OBJECT"),
        ("HeadObject", "HEAD", True, "REST.HEAD.OBJECT"),
        ("DeleteObject", "DELETE", True, "REST.DELETE.OBJECT"),
        ("CopyObject", "PUT", True, "REST.COPY.OBJECT"),
        ("ListObjectsV2", "GET", False, "REST.GET.BUCKET"),
        ("GetBucketVersioning", "GET", False, "REST.GET.VERSIONING"),
        ("GetBucketLogging", "GET", False, "REST.GET.LOGGING_STATUS"),
        ("GetBucketPolicy", "GET", False, "REST.GET.BUCKETPOLICY"),
        ("UploadPart", "PUT", True, "REST.PUT.PART"),
        ("", "PUT", True, "REST.PUT.OBJECT"),  # failed before routing
        ("", "GET", False, "REST.GET.BUCKET"),
    ],
)
def test_operation_names(op: str, method: str, has_key: bool, expected: str) -> None:
    assert operation_name(op, method, has_key) == expected


def test_time_is_utc_with_english_months() -> None:
    assert log_time(calendar.timegm((2026, 12, 4, 8, 5, 9))) == "[04/Dec/2026:08:05:09 +0000]"


def test_dashes_for_zero_bytes_and_unknown_sizes() -> None:
    line = format_line(replace(BASE, bytes_sent=0, object_size=None, turn_around_ms=None))
    assert " 200 - - - 7 - " in line
    line = format_line(replace(BASE, bytes_sent=5, object_size=0, turn_around_ms=3))
    assert " 200 - 5 0 7 3 " in line


@pytest.mark.parametrize(
    "query",
    [
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20260101%2Fus-east-1%2Fs3"
        "%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60"
        "&X-Amz-SignedHeaders=host&X-Amz-Signature=deadbeefcafe",
        "AWSAccessKeyId=AK&Expires=1700000000&Signature=deadbeefcafe%3D",
        "x-amz-security-token=deadbeefcafe&versionId=3",
        # Encoded names are what the server decodes them to.
        "X-Amz-Signatur%65=deadbeefcafe&X-Amz-Algorithm=AWS4-HMAC-SHA256",
        "Signa%74ure=deadbeefcafe&AWSAccessKeyId=AK",
    ],
)
def test_signatures_and_tokens_never_reach_the_line(query: str) -> None:
    line = format_line(replace(BASE, raw_query=query))
    assert "deadbeefcafe" not in line
    assert "ignature=" not in line.lower() and "security-token" not in line.lower()
    uri = request_uri("GET", "/b/k", query, "1.1")
    assert uri.startswith("GET /b/k?") and uri.endswith(" HTTP/1.1")
    assert "deadbeefcafe" not in format_line(replace(BASE, referer=f"https://x/?{query}"))


def test_a_presigned_url_as_referer_loses_its_signature() -> None:
    ref = "https://h/b/k?X-Amz-Credential=AK&X-Amz-Signature=deadbeefcafe&a=1#frag"
    line = format_line(replace(BASE, referer=ref))
    assert "deadbeefcafe" not in line
    assert '"https://h/b/k?X-Amz-Credential=AK&a=1#frag"' in line
    assert '"http://x/page"' in format_line(replace(BASE, referer="http://x/page"))


def test_request_uri_keeps_the_path_as_sent() -> None:
    assert request_uri("PUT", "/b/a%20b", "", "1.1") == "PUT /b/a%20b HTTP/1.1"
    assert request_uri("GET", "/b", "versioning&x-id=1", "2") == "GET /b?versioning&x-id=1 HTTP/2"


def test_object_keys_of_both_formats() -> None:
    when = calendar.timegm((2026, 12, 4, 8, 5, 9))
    simple = log_object_key("logs/", delivered=when, unique="0123456789ABCDEF")
    assert simple == "logs/2026-12-04-08-05-09-0123456789ABCDEF"
    assert re.fullmatch(r"\d{4}(-\d{2}){5}-[0-9A-F]{16}", log_object_key("", delivered=when))
    event = calendar.timegm((2026, 12, 3, 23, 59, 59))
    part = log_object_key(
        "p/",
        delivered=when,
        partitioned=True,
        partition_time=event,
        source_owner=OWNER,
        source_region="us-east-1",
        source_bucket="src",
        unique="0123456789ABCDEF",
    )
    assert part == f"p/{OWNER}/us-east-1/src/2026/12/03/2026-12-04-08-05-09-0123456789ABCDEF"

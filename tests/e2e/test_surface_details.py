"""Small S3 surface details (issue 19 item 8) with boto3 and httpx against a real server:
ListBuckets pagination, Content-Encoding kept as sent, the POST `tagging` field and POST policy
and SigV2 date formats."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import ssl
import time
from collections.abc import Iterator
from email.utils import formatdate
from typing import Any

import botocore.exceptions
import httpx
import pytest
import s3front_e2e_support as sup


def _empty_and_delete(s3: Any, name: str) -> None:
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                s3.delete_object(Bucket=name, Key=obj["Key"])
        s3.delete_bucket(Bucket=name)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
        pass


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    name = sup.unique_bucket("s")
    s3.create_bucket(Bucket=name)
    yield name
    _empty_and_delete(s3, name)


@pytest.fixture
def five_buckets(s3: Any) -> Iterator[list[str]]:
    stem = sup.unique_bucket("lb")
    names = [f"{stem}-{i}" for i in range(5)]
    for name in names:
        s3.create_bucket(Bucket=name)
    yield names
    for name in names:
        _empty_and_delete(s3, name)


def test_list_buckets_pages_with_max_buckets_and_continuation_token(
    s3: Any, five_buckets: list[str]
) -> None:
    """ListBuckets' max-buckets / continuation-token / prefix
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html): pages of at most
    max-buckets, a ContinuationToken while more follow, none on the last page."""
    stem = five_buckets[0].rsplit("-", 1)[0]
    seen: list[str] = []
    kwargs: dict[str, Any] = {"MaxBuckets": 2, "Prefix": stem}
    pages = 0
    while True:
        page = s3.list_buckets(**kwargs)
        pages += 1
        names = [b["Name"] for b in page["Buckets"]]
        assert len(names) <= 2
        assert page["Prefix"] == stem
        assert all(b["BucketRegion"] == s3.meta.region_name for b in page["Buckets"])
        seen += names
        token = page.get("ContinuationToken")
        if token is None:
            break
        assert pages < 10
        kwargs["ContinuationToken"] = token
    assert seen == five_buckets
    assert pages == 3
    # The paginator follows the same tokens.
    paginated = [
        b["Name"]
        for p in s3.get_paginator("list_buckets").paginate(Prefix=stem, MaxBuckets=4)
        for b in p["Buckets"]
    ]
    assert paginated == five_buckets


def test_list_buckets_prefix_and_region_filter(s3: Any, five_buckets: list[str]) -> None:
    assert [b["Name"] for b in s3.list_buckets(Prefix=five_buckets[3])["Buckets"]] == [
        five_buckets[3]
    ]
    region = s3.meta.region_name
    in_region = [b["Name"] for b in s3.list_buckets(BucketRegion=region)["Buckets"]]
    assert set(five_buckets) <= set(in_region)
    assert s3.list_buckets(BucketRegion="ap-south-2")["Buckets"] == []
    # Without max-buckets every bucket comes back in one page, with no token.
    whole = s3.list_buckets()
    assert set(five_buckets) <= {b["Name"] for b in whole["Buckets"]}
    assert "ContinuationToken" not in whole


@pytest.mark.parametrize("value", ["0", "10001", "-1", "two", "%C2%B2"])
def test_list_buckets_bad_max_buckets_is_400(server: Any, value: str) -> None:
    resp = server.raw("GET", "/", query=f"max-buckets={value}")
    assert (resp.status, resp.error_code) == (400, "InvalidArgument"), resp


def test_list_buckets_bad_continuation_token_is_400(server: Any) -> None:
    resp = server.raw("GET", "/", query="continuation-token=%21%21%21")
    assert (resp.status, resp.error_code) == (400, "InvalidArgument"), resp


@pytest.mark.parametrize("value", ["gzip,  br", "GZIP", "identity ;q=1", "x-custom, gzip"])
def test_content_encoding_is_kept_byte_for_byte(s3: Any, bucket: str, value: str) -> None:
    s3.put_object(Bucket=bucket, Key="enc", Body=b"x", ContentEncoding=value)
    assert s3.head_object(Bucket=bucket, Key="enc")["ContentEncoding"] == value
    assert s3.get_object(Bucket=bucket, Key="enc")["ContentEncoding"] == value


def _verify(server: Any) -> ssl.SSLContext | bool:
    context: ssl.SSLContext | None = server.ssl_context()
    return context if context is not None else True


def test_post_tagging_field_tags_the_object(server: Any, s3: Any, bucket: str) -> None:
    """PostObject's `tagging` field is a Tagging document
    (https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html); the tags are kept
    in the order sent."""
    tagging = (
        "<Tagging><TagSet>"
        "<Tag><Key>zeta</Key><Value>1</Value></Tag>"
        "<Tag><Key>alpha</Key><Value>two words</Value></Tag>"
        "</TagSet></Tagging>"
    )
    post = s3.generate_presigned_post(
        bucket, "tagged", Fields={"tagging": tagging}, Conditions=[{"tagging": tagging}]
    )
    resp = httpx.post(
        post["url"],
        data=post["fields"],
        files={"file": ("f.txt", b"tagged body", "text/plain")},
        verify=_verify(server),
        timeout=60,
    )
    assert resp.status_code == 204, resp.text
    tags = s3.get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"]
    assert tags == [{"Key": "zeta", "Value": "1"}, {"Key": "alpha", "Value": "two words"}]
    assert s3.get_object(Bucket=bucket, Key="tagged")["TagCount"] == 2


def test_post_malformed_tagging_field_is_400_and_stores_nothing(
    server: Any, s3: Any, bucket: str
) -> None:
    tagging = "<Tagging><TagSet><Tag><Key>k</Key>"
    post = s3.generate_presigned_post(
        bucket, "badtags", Fields={"tagging": tagging}, Conditions=[{"tagging": tagging}]
    )
    resp = httpx.post(
        post["url"],
        data=post["fields"],
        files={"file": ("f.txt", b"x", "text/plain")},
        verify=_verify(server),
        timeout=60,
    )
    assert resp.status_code == 400, resp.text
    assert sup.error_code(resp.content) == "MalformedXML"
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket=bucket, Key="badtags")


def _v2_form(server: Any, bucket: str, expiration: str) -> httpx.Response:
    policy = base64.b64encode(
        json.dumps(
            {"expiration": expiration, "conditions": [{"bucket": bucket}, {"key": "dated"}]}
        ).encode()
    ).decode()
    signature = base64.b64encode(
        hmac.new(server.secret_key.encode(), policy.encode(), hashlib.sha1).digest()
    ).decode()
    fields = {
        "key": "dated",
        "AWSAccessKeyId": server.access_key,
        "policy": policy,
        "signature": signature,
    }
    return httpx.post(
        f"{server.endpoint}/{bucket}",
        data=fields,
        files={"file": ("f.txt", b"dated", "text/plain")},
        verify=_verify(server),
        timeout=60,
    )


def _in_an_hour() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=1)


@pytest.mark.parametrize(
    "spelling",
    ["%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.000Z", "%Y-%m-%dT%H:%M:%S.123456Z"],
    ids=["seconds", "millis", "micros"],
)
def test_post_policy_expiration_in_iso_8601_utc_is_accepted(
    server: Any, bucket: str, spelling: str
) -> None:
    resp = _v2_form(server, bucket, _in_an_hour().strftime(spelling))
    assert resp.status_code == 204, resp.text


@pytest.mark.parametrize(
    "render",
    [
        str,  # "2026-12-04 10:00:00+00:00", ceph s3-tests test_post_object_invalid_date_format
        lambda d: d.strftime("%Y-%m-%dT%H:%M:%S"),  # no zone
        lambda d: d.strftime("%Y-%m-%dT%H:%M:%S+00:00"),  # an offset, not Z
        lambda d: d.strftime("%Y-%m-%d"),
        lambda d: formatdate(d.timestamp(), usegmt=True),
        lambda d: d.strftime("%Y-%m-%dT25:%M:%SZ"),
    ],
    ids=["str-datetime", "no-zone", "offset", "date-only", "rfc1123", "hour-25"],
)
def test_post_policy_expiration_in_another_format_is_400(
    server: Any, s3: Any, bucket: str, render: Any
) -> None:
    resp = _v2_form(server, bucket, render(_in_an_hour()))
    assert resp.status_code == 400, resp.text
    assert sup.error_code(resp.content) == "InvalidArgument"
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket=bucket, Key="dated")


@pytest.mark.parametrize(
    "render",
    [
        lambda t: formatdate(t, usegmt=True),  # RFC 1123
        lambda t: formatdate(t, localtime=False),  # RFC 1123 with -0000
        lambda t: time.strftime("%A, %d-%b-%y %H:%M:%S GMT", time.gmtime(t)),  # RFC 850
        lambda t: time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(t)),  # asctime
    ],
    ids=["rfc1123", "rfc1123-zone", "rfc850", "asctime"],
)
def test_sigv2_accepts_every_http_date_format(server: Any, bucket: str, render: Any) -> None:
    """HTTP's three date formats (RFC 9110 section 5.6.7), as the Date a SigV2 request is
    signed with."""
    date = render(time.time())
    path = f"/{bucket}/v2-dated"
    text = f"PUT\n\n\n{date}\n{path}"
    sig = base64.b64encode(
        hmac.new(server.secret_key.encode(), text.encode(), hashlib.sha1).digest()
    ).decode()
    headers = {
        "host": f"127.0.0.1:{server.port}",
        "date": date,
        "authorization": f"AWS {server.access_key}:{sig}",
    }
    resp = sup.send_raw(
        server.scheme, server.port, "PUT", path, headers, b"v2", ssl_context=server.ssl_context()
    )
    assert resp.status == 200, resp


@pytest.mark.parametrize(
    ("method", "target", "header"),
    [
        ("GET", "obj", "x-amz-server-side-encryption"),
        ("HEAD", "obj", "x-amz-server-side-encryption"),
        ("GET", "", "x-amz-server-side-encryption"),  # ListObjects (s3cmd issue #276)
        ("GET", "obj", "x-amz-server-side-encryption-aws-kms-key-id"),
        ("DELETE", "obj", "x-amz-server-side-encryption"),
    ],
)
def test_sse_request_header_on_an_operation_without_it_is_400(
    server: Any, s3: Any, bucket: str, method: str, target: str, header: str
) -> None:
    """x-amz-server-side-encryption is a request header of PutObject, CopyObject and
    CreateMultipartUpload only; AWS answers it elsewhere with 400 InvalidArgument "... header is
    not supported for this operation" instead of ignoring it."""
    s3.put_object(Bucket=bucket, Key="obj", Body=b"kept")
    resp = server.raw(method, f"/{bucket}/{target}", headers={header: "AES256"})
    assert resp.status == 400, resp
    if method != "HEAD":
        assert resp.error_code == "InvalidArgument"
        assert b"not supported for this operation" in resp.body
    assert s3.get_object(Bucket=bucket, Key="obj")["Body"].read() == b"kept"
